"""`salesproc measure`: the real pipeline, measured from CRM exports."""

from __future__ import annotations

from typing import Any

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.cli.options import (
    CHARTS_OPTION,
    CRM_OPTION,
    FORMATS,
    HISTORY_ARGUMENT,
    Date,
    output_option,
)
from salesproc.cli.reading import history_failure, history_or_fail, history_paths, load_or_fail
from salesproc.cli.writing import (
    Target,
    draw_charts,
    emit,
    formatter,
    guard_charts,
    guard_targets,
    output_targets,
    save_charts,
)


@cli.command()
@HISTORY_ARGUMENT
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str),
              help="The process file whose crm: section maps the export onto its stages.")
@click.option("--as-of", "as_of", type=Date(), help="Measure the pipeline as it stood at "
              "the end of this day (default: the latest change in the export).")
@CRM_OPTION
@click.option("--buyer", help="Report on this buyer type's deals in full (the table and the HTML "
              "page; JSON and CSV always hold every buyer type).")
@click.option("--by", "by", metavar="FIELD", help="Break the deals down by a deal field "
              "that crm: fields: maps, or by owner: deals, open, won, lost, win rate (95% "
              "interval), median cycle and open pipeline for each value.")
@click.option("--suggest-mapping", is_flag=True, help="Print a crm: section for the process "
              "file from the export's stage names (in their usual order, with counts).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True)
@output_option()
@CHARTS_OPTION
def measure(history: tuple[str, ...], process_file: str, as_of: Any, crm: Any,
            buyer: str | None, by: str | None, suggest_mapping: bool, fmt: str,
            outputs: tuple[str, ...], charts_dir: str | None) -> None:
    """Measure the real pipeline from CRM exports: open deals by stage, flow, time in stage,
    win rates, loss reasons, and where the data and the process file disagree.

    HISTORY is Salesforce's OpportunityHistory.csv (with Opportunity.csv), a HubSpot deals
    export, a stage-change CSV (deal, stage, changed_at, ...), or salesproc's --events log;
    or a deal table without stage history (Opportunity.csv alone, a deals report): then
    what one row per deal allows (no time in stage, moves or where deals are lost).
    """
    from salesproc import api
    from salesproc.history import HistoryError
    from salesproc.history.suggest import suggest_mapping as suggest
    from salesproc.measuring.deal_measurement import DealMeasurement

    targets = output_targets(outputs, fmt, FORMATS)
    process = load_or_fail(process_file)
    # a suggested crm: section is YAML, and may go to a .yaml file of its own
    guard_targets([*process.files, *history], targets, reports=not suggest_mapping)
    if buyer is not None:
        from salesproc.experiments.experiment import check_buyer

        check_buyer(process, buyer)  # a usage error on --buyer, as in every command
    if suggest_mapping:
        try:
            found = suggest(history_paths(history), process, crm)
        except HistoryError as exc:
            raise history_failure(exc, "read") from None
        for output, _ in targets:  # a crm: section, whatever the file's name says
            emit(found, output)
        return
    guard_charts(charts_dir)
    if by is not None:
        _measure_by(process, by, history, crm, as_of, targets, charts_dir)
        return
    read = history_or_fail(history, process, crm, as_of, "measured")
    result = api.measure(read)
    if isinstance(result, DealMeasurement):
        _measure_deal_table(result, buyer, targets, charts_dir)
        return
    if buyer is not None and buyer not in result.buyers:
        raise Failure(f"no deal in the export is of buyer type '{buyer}'",
                      hint="check the crm: buyer_types rules in the process file")
    drawn = draw_charts("measurement", result, charts_dir)
    for output, fmt in targets:  # the page, like the table, can show one buyer type
        report = formatter(fmt).measurement
        emit(report(result, buyer) if fmt in ("table", "html") else report(result), output)
    save_charts(drawn, charts_dir)


def _measure_deal_table(result: Any, buyer: str | None, targets: list[Target],
                        charts_dir: str | None) -> None:
    """measure of a deal table (one row per deal, no stage history): what it allows."""
    if buyer is not None and buyer not in result.buyers:
        raise Failure(f"no deal in the export is of buyer type '{buyer}'",
                      hint="check the crm: buyer_types rules in the process file")
    for output, fmt in targets:
        report = formatter(fmt).deal_measurement
        emit(report(result, buyer) if fmt in ("table", "html") else report(result), output)
    if charts_dir is not None:
        echo(f"no charts written to {charts_dir}: a deal table has no charts yet", err=True)


def _measure_by(process: Any, by: str, history: tuple[str, ...], crm: Any, as_of: Any,
                targets: list[Target], charts_dir: str | None) -> None:
    """measure --by FIELD: the deals broken down by a field or by owner."""
    from salesproc import api
    from salesproc.measuring.breakdown import check_by

    check_by(process, by)  # a usage error before the export is read
    if any(fmt == "html" for _, fmt in targets) or charts_dir is not None:
        raise click.UsageError("--by writes a table, JSON or CSV (no HTML page or charts)")
    found = history_or_fail(history, process, crm, as_of, "measured")
    table = api.breakdown(found, by)
    for output, fmt in targets:
        emit(formatter(fmt).breakdown(table), output)
