"""Measuring deal history: exports of a known simulated process, written as Salesforce
(UTF-8 and Windows-1252), HubSpot and a generic CSV, give the exact truth of the
simulation; and `salesproc measure` through the command line."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

import salesproc
from salesproc.core.layout import LAYOUT_VERSION
from salesproc.core.survival import kaplan_meier
from salesproc.experiments.export import deals_of, write_generic, write_hubspot, write_salesforce
from salesproc.experiments.results import Visit
from salesproc.history import read_history
from salesproc.measuring.measurement import Measurement, measure
from tests.conftest import CASES, ROOT, run

GROUND = CASES / "history" / "ground.yaml"
EXAMPLE = sorted(str(p) for p in (ROOT / "examples" / "five-step-salesforce").glob("*.csv"))
SECOND = 1 / 86400  # the exports keep times to the second; the process counts in days


@pytest.fixture(scope="module")
def truth() -> tuple[salesproc.Process, list[Visit]]:
    process = salesproc.load(GROUND)
    result = salesproc.simulate(process, events=True)
    assert result.events is not None
    return process, result.events


def exports(process: salesproc.Process, events: list[Visit], folder: Path
            ) -> dict[str, list[Path]]:
    deals = deals_of(events, process)
    sf = list(write_salesforce(deals, folder / "sf"))
    cp = list(write_salesforce(deals, folder / "cp1252", encoding="cp1252"))
    names = [s.name for s in process.stages.values()]
    return {"salesforce utf-8": sf, "salesforce windows-1252": cp,
            "salesforce history only": sf[1:],
            "hubspot": [write_hubspot(deals, folder / "hubspot.csv", names)],
            "generic": [write_generic(deals, folder / "changes.csv")]}


REASON = {"hubspot": "Closed Lost Reason", "generic": "reason"}  # ground.yaml: Loss_Reason__c


def reading(label: str, process: salesproc.Process) -> salesproc.Process:
    """The process with its crm: lost_reason naming this export's loss-reason column (a
    column the export lacks is an error, SP840)."""
    if label not in REASON:
        return process
    return salesproc.load(GROUND, [f"crm.lost_reason={REASON[label]}"])


def _seconds(t: float) -> float:
    return round(t * 86400) / 86400


def expected(events: list[Visit], cut: float = math.inf) -> dict[str, object]:
    """What measuring must find, straight from the simulation's own log."""
    seen = [v for v in events if v.entered <= cut]
    ends = {v.deal: v.outcome for v in seen if v.finished <= cut}
    won = sum(1 for v in seen if v.outcome == "won" and v.finished <= cut)
    lost = sum(1 for v in seen if v.outcome.startswith("lost") and v.finished <= cut)
    still = Counter(v.stage for v in seen if not v.finished <= cut)
    complete: dict[str, list[float]] = {}
    for v in seen:
        if v.finished <= cut:
            complete.setdefault(v.stage, []).append(_seconds(v.finished) - _seconds(v.entered))
    return {"deals": len({v.deal for v in seen}), "won": won, "lost": lost,
            "open": sum(still.values()), "visits": Counter(v.stage for v in seen),
            "still": still, "medians": {s: float(np.median(d)) for s, d in complete.items()},
            "ended": len(ends)}


def found(m: Measurement) -> dict[str, object]:
    o = m.overall
    return {"deals": o.deals, "won": o.won, "lost": o.lost, "open": o.open,
            "visits": Counter({t.stage: t.visits for t in o.times if t.visits}),
            "still": Counter({p.stage: p.deals for p in o.pipeline if p.deals}),
            "medians": {t.stage: t.median_complete for t in o.times
                        if not math.isnan(t.median_complete)}}


def assert_same(got: dict[str, object], want: dict[str, object]) -> None:
    for key in ("deals", "won", "lost", "open", "visits", "still"):
        assert got[key] == want[key], key
    medians_got, medians_want = got["medians"], want["medians"]
    assert isinstance(medians_got, dict) and isinstance(medians_want, dict)
    assert medians_got.keys() == medians_want.keys()
    for stage, value in medians_want.items():
        assert medians_got[stage] == pytest.approx(value, abs=SECOND), stage


def test_every_export_of_a_simulated_history_measures_its_exact_truth(
        truth: tuple[salesproc.Process, list[Visit]], tmp_path: Path) -> None:
    process, events = truth
    want = expected(events)
    for label, files in exports(process, events, tmp_path).items():
        history = read_history(files, reading(label, process))
        assert [n for n in history.notes if n.code != "SP812"] == [], label
        assert_same(found(measure(history, simulate_file=False)), want)


def test_buyer_types_come_from_the_mapping_rules(
        truth: tuple[salesproc.Process, list[Visit]], tmp_path: Path) -> None:
    process, events = truth
    want = Counter(v.buyer_type for v in {v.deal: v for v in events}.values())
    for label, files in exports(process, events, tmp_path).items():
        if label == "salesforce history only":
            continue  # OpportunityHistory has no Segment__c column
        m = measure(read_history(files, reading(label, process)), simulate_file=False)
        assert {b: s.deals for b, s in m.buyers.items()} == dict(want), label


def test_an_as_of_date_measures_the_pipeline_as_it_stood_then(
        truth: tuple[salesproc.Process, list[Visit]], tmp_path: Path) -> None:
    process, events = truth
    cut_day = 60.0
    cut = dt.datetime.combine(process.start, dt.time()) + dt.timedelta(days=cut_day)
    files = exports(process, events, tmp_path)["salesforce utf-8"]
    history = read_history(files, process, as_of=cut)
    assert history.as_of == cut
    assert_same(found(measure(history, simulate_file=False)), expected(events, cut_day))


def test_the_event_log_round_trips_through_measure(tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    result = run("simulate", str(GROUND), "-r", "1", "--events", str(log), "--format", "json")
    assert result.exit_code == 0, result.output
    process = salesproc.load(GROUND)
    truth = salesproc.simulate(process, events=True)
    assert truth.events is not None
    want = expected(truth.events)
    history = read_history(log, process)
    got = found(measure(history, simulate_file=False))
    for key in ("deals", "won", "lost", "open", "visits", "still"):
        assert got[key] == want[key], key


def test_a_stage_skipped_by_a_route_is_counted_as_skipped(
        truth: tuple[salesproc.Process, list[Visit]], tmp_path: Path) -> None:
    process, events = truth
    skips = sum(1 for v in events if v.stage == "meeting" and v.outcome == "negotiation")
    files = exports(process, events, tmp_path)["generic"]
    m = measure(read_history(files, reading("generic", process)), simulate_file=False)
    assert m.overall.skipped == {"offer": skips}
    assert m.buyers["mid"].skipped == {}
    assert m.disallowed == []  # every move the simulation made, the file allows


def test_kaplan_meier_matches_scipy_with_censored_data() -> None:
    from scipy import stats

    rng = np.random.default_rng(1)
    t, c = rng.exponential(2.0, 3000), rng.exponential(3.0, 3000)
    durations, observed = np.minimum(t, c), t <= c
    curve = kaplan_meier(durations, observed)
    reference = stats.ecdf(stats.CensoredData(uncensored=durations[observed],
                                              right=durations[~observed]))
    assert np.max(np.abs(reference.sf.evaluate(curve.times) - curve.survival)) < 1e-12
    naive = float(np.median(durations[observed]))  # dropping open deals: biased low
    assert naive < curve.quantile(0.5)


def test_measure_on_the_example_export_prints_the_answers() -> None:
    result = run("measure", *EXAMPLE, "--process", str(ROOT / "processes" / "five-step.yaml"))
    assert result.exit_code == 0, result.output
    for words in ("Open deals", "Lead-to-win", "Opportunity win", "Sales velocity",
                  "Pipeline now", "Time in stage", "Flow:", "Why deals were lost",
                  "By buyer type", "cohorts", "To close:"):
        assert words in result.stdout
    assert "note SP817" in result.stderr  # the example has deals without an amount


def test_measure_json_and_csv_hold_the_same_figures(tmp_path: Path) -> None:
    process = str(ROOT / "processes" / "five-step.yaml")
    out = run("measure", *EXAMPLE, "--process", process, "--format", "json")
    data = json.loads(out.stdout)
    assert data["layout"] == LAYOUT_VERSION and set(data["buyer_types"]) == {
        "single_decision_maker", "standard", "committee"}
    assert len(data["open_deals"]) == data["overall"]["open"]
    csv_out = run("measure", *EXAMPLE, "--process", process, "--format", "csv").stdout
    rows = [line.split(",") for line in csv_out.splitlines()[1:]]
    won = [r for r in rows if r[:2] == ["deals", "all"] and r[4] == "won"]
    assert float(won[0][5]) == data["overall"]["won"]
    assert sum(r[0] == "open_deal" for r in rows) == data["overall"]["open"]


def test_suggest_mapping_proposes_each_crm_stage_in_order() -> None:
    bare = CASES / "history" / "ground.yaml"
    out = run("measure", EXAMPLE[1], "--process", str(bare), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    proposed = yaml.safe_load(out.stdout)["crm"]["stages"]
    assert list(proposed)[:3] == ["Prospecting", "Qualification", "Needs Analysis"]
    assert proposed["Closed Won"] == "won" and proposed["Closed Lost"] == "lost"
    assert set(proposed.values()) <= {*salesproc.load(bare).stages, "won", "lost"}


def test_a_suggested_mapping_may_go_to_a_yaml_file_a_report_may_not(tmp_path: Path) -> None:
    bare = str(CASES / "history" / "ground.yaml")
    mapping = tmp_path / "mapping.yaml"
    out = run("measure", EXAMPLE[1], "--process", bare, "--suggest-mapping", "-o", str(mapping))
    assert out.exit_code == 0, out.output
    assert "Closed Won" in yaml.safe_load(mapping.read_text("utf-8"))["crm"]["stages"]
    refused = run("measure", *EXAMPLE, "--process", bare, "-o", str(tmp_path / "m.yaml"))
    assert refused.exit_code == 2 and "is named as a process file, not a report" in \
        refused.output


def test_measure_never_writes_over_its_inputs() -> None:
    result = run("measure", *EXAMPLE, "--process", str(ROOT / "processes" / "five-step.yaml"),
                 "-o", EXAMPLE[0])
    assert result.exit_code == 2
    assert "is an input of this command" in result.output


def test_a_bad_as_of_is_a_usage_error() -> None:
    result = run("measure", *EXAMPLE, "--process", str(ROOT / "processes" / "five-step.yaml"),
                 "--as-of", "last week")
    assert result.exit_code == 2
    assert "is not a date" in result.output


def test_the_example_export_is_what_its_script_writes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make", ROOT / "scripts" /
                                                  "make_example_export.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.write(tmp_path)
    for path in written:
        assert path.read_bytes() == (ROOT / "examples" / "five-step-salesforce" /
                                     path.name).read_bytes()


def test_won_flags_without_a_closing_history_row_still_count_as_won(
        truth: tuple[salesproc.Process, list[Visit]], tmp_path: Path) -> None:
    process, events = truth
    opp, hist = exports(process, events, tmp_path)["salesforce utf-8"]
    lines = hist.read_text("utf-8").splitlines(keepends=True)
    hist.write_text("".join(line for line in lines if '"Closed Won"' not in line), "utf-8")
    history = read_history([opp, hist], process)
    assert [n.code for n in history.notes if n.code != "SP812"] == ["SP816"]
    want = expected(events)
    m = measure(history, simulate_file=False)
    assert (m.overall.won, m.overall.lost, m.overall.open) == (want["won"], want["lost"],
                                                               want["open"])
    won = history.deals.outcome == 1
    assert not np.isnat(history.deals.closed[won]).any()
    # each won deal's last visit now ends when it closed, never before it began
    v = history.visits
    ends = v.exit == -1
    assert ends.sum() == want["won"] and (v.left[ends] >= v.entered[ends]).all()


def test_interval_of_a_mean_time_widens_only_when_months_hang_together() -> None:
    """Monthly batch means: 12 months of 100 visits. For independent times the variance
    ratio is chi-square(11)/11, below 2.9 but with chance 0.001; with a month effect as
    large as the visits' own spread it is about 1 + 100 = 101, above 25 but with chance
    0.001 (chi-square(11)/11 > 0.25)."""
    from salesproc.measuring.measurement import inflation

    rng = np.random.default_rng(5)
    entered = np.repeat(np.arange("2025-01", "2026-01", dtype="datetime64[M]"), 100)
    ended = np.ones(len(entered), dtype=bool)
    independent = rng.normal(10.0, 1.0, len(entered))
    assert 1.0 <= inflation(independent, ended, entered) < 2.9
    shifted = independent + np.repeat(rng.normal(0.0, 1.0, 12), 100)
    assert inflation(shifted, ended, entered) > 25


def test_a_time_in_stage_without_a_finished_visit_has_no_interval() -> None:
    """No visit, or none ended: the mean and both ends of its interval are unknown (the
    low end was 0, from max(0, NaN)), in a buyer type's stage off its path too."""
    from salesproc.measuring.measurement import mean_interval

    none = np.zeros(0)
    assert all(math.isnan(x) for x in mean_interval(none, none.astype(bool),
                                                     none.astype("datetime64[s]")))
    still = mean_interval(np.array([3.0, 5.0]), np.zeros(2, dtype=bool),
                          np.array(["2026-01-05", "2026-01-06"], dtype="datetime64[s]"))
    assert all(math.isnan(x) for x in still)
    history = read_history(EXAMPLE, salesproc.load(ROOT / "processes" / "five-step.yaml"))
    single = measure(history, simulate_file=False).to_dict()["buyer_types"][
        "single_decision_maker"]["time_in_stage"]
    demo = next(t for t in single if t["stage"] == "demo")  # not on its path
    assert demo["visits"] == 0
    assert demo["mean"] == {"mean": None, "low": None, "high": None, "n": 0}


def test_a_stage_whose_visits_are_all_open_is_not_outside_the_file() -> None:
    """No visit has ended: no interval, so the file's mean is not flagged outside it (it
    was: NaN compares as outside everything); one that has an interval still is."""
    from salesproc.core.stats import Estimate
    from salesproc.measuring.measurement import StageTime

    unknown = Estimate(math.nan, math.nan, math.nan, 3)
    assert not StageTime("call", 3, 3, math.nan, math.nan, unknown, math.nan, 3.4).outside
    known = Estimate(2.0, 1.5, 2.5, 30)
    assert StageTime("call", 30, 0, 2.0, 3.0, known, 2.0, 3.4).outside
    assert not StageTime("call", 30, 0, 2.0, 3.0, known, 2.0, 2.4).outside
    assert not StageTime("call", 30, 0, 2.0, 3.0, known, 2.0, None).outside


def test_cohorts_count_each_deal_once_per_stage_it_reached() -> None:
    process = salesproc.load(ROOT / "processes" / "five-step.yaml")
    history = read_history(EXAMPLE, process)
    m = measure(history, simulate_file=False)
    visits, deals = history.visits_frame(), history.deals_frame()
    month = deals.set_index("id")["created"].dt.strftime("%Y-%m")
    visits["month"] = visits["deal"].map(month)
    want = visits.drop_duplicates(["deal", "stage"]).groupby(["month", "stage"]).size()
    for cohort in m.overall.cohorts:
        assert cohort.created == int((month == cohort.month).sum())
        assert cohort.won + cohort.lost + cohort.open == cohort.created
        for stage, count in cohort.reached.items():
            assert count == int(want.get((cohort.month, stage), 0)), (cohort.month, stage)


def test_buyer_option_reports_one_buyer_type_in_full() -> None:
    process = str(ROOT / "processes" / "five-step.yaml")
    data = json.loads(run("measure", *EXAMPLE, "--process", process, "--format", "json").stdout)
    committee = data["buyer_types"]["committee"]
    out = run("measure", *EXAMPLE, "--process", process, "--buyer", "committee")
    assert out.exit_code == 0, out.output
    assert "buyer type committee" in out.stdout.splitlines()[0]
    assert f"{committee['deals']:,} deals created" in out.stdout
    assert f"Open deals         {committee['open']:,} worth" in out.stdout
    unknown = run("measure", *EXAMPLE, "--process", process, "--buyer", "partner")
    assert unknown.exit_code == 2 and "Invalid value for --buyer" in unknown.stderr
    assert "unknown buyer type 'partner'" in unknown.stderr


def test_the_measurement_is_a_dataframe_one_call_away() -> None:
    process = salesproc.load(ROOT / "processes" / "five-step.yaml")
    m = salesproc.measure(salesproc.read_history(EXAMPLE, process), simulate_file=False)
    frame = m.to_frame()
    won = frame[(frame.section == "deals") & (frame.scope == "all") & (frame.metric == "won")]
    assert won.value.tolist() == [m.overall.won]
    assert (frame.section == "open_deal").sum() == m.overall.open


def test_suggested_mapping_quotes_crm_names_yaml_would_misread(tmp_path: Path) -> None:
    export = tmp_path / "changes.csv"
    export.write_text('deal,stage,changed_at\nA,No,2025-01-02\nA,"Two\nlines",2025-01-03\n'
                      'A,"say ""hi"" \\\\",2025-01-04\nA,2024,2025-01-05\n', "utf-8")
    out = run("measure", str(export), "--process", str(GROUND), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    proposed = yaml.safe_load(out.stdout)["crm"]["stages"]
    assert set(proposed) == {"No", "Two\nlines", 'say "hi" \\\\', "2024"}


def test_an_open_deal_older_than_every_finished_stay_is_stale_without_a_p90(
        tmp_path: Path) -> None:
    """Three deals left qualification (after 5, 8 and 10 days) while twelve are still
    there: too few finished for a p90, yet the open deals older than 10 days are stale."""
    import pandas as pd

    start = dt.datetime(2025, 1, 6, 9)
    rows = []
    for k, stay in enumerate((5, 8, 10)):
        entered = start + dt.timedelta(days=k)
        rows += [(f"done{k}", "Prospecting", start), (f"done{k}", "Qualification", entered),
                 (f"done{k}", "Closed Won", entered + dt.timedelta(days=stay))]
    as_of = start + dt.timedelta(days=40)
    for k in range(12):
        rows += [(f"open{k}", "Prospecting", start),
                 (f"open{k}", "Qualification", as_of - dt.timedelta(days=3 * k + 1))]
    rows.append(("late", "Prospecting", as_of))
    frame = pd.DataFrame(rows, columns=["deal", "stage", "changed_at"]).assign(segment="SMB")
    frame.to_csv(tmp_path / "changes.csv", index=False)
    history = read_history(tmp_path / "changes.csv",
                           salesproc.load(CASES / "exports" / "process.yaml"))
    m = measure(history)
    qualification = next(t for t in m.overall.times if t.stage == "qualification")
    assert math.isnan(qualification.p90)  # the blind spot this rule closes
    ages = {r.id: r.age for r in m.open_deals.rows()}
    longest = max(5, 8, 10)
    want = {f"open{k}" for k in range(12) if 3 * k + 1 > longest}
    assert {r.id for r in m.open_deals.rows() if r.stale} == want
    assert all(ages[d] > longest for d in want) and len(want) == 8
    stage = next(p for p in m.overall.pipeline if p.stage == "qualification")
    assert stage.stale == len(want)


def test_one_ended_stay_is_no_interval_to_flag_the_file_by() -> None:
    """One visit has ended: the Kaplan–Meier mean's 'interval' is that stay alone, with no
    spread, so a file's mean beside it is not flagged as a difference; two stays give an
    interval, and a file far outside it is."""
    from salesproc.core.stats import Estimate
    from salesproc.measuring.measurement import StageTime, mean_interval

    entered = np.array(["2026-01-05T09:00"] * 2, dtype="datetime64[s]")
    mean, low, high = mean_interval(np.array([2.0]), np.array([True]), entered[:1])
    assert low == mean == high == 2.0  # what there was to flag by
    one = StageTime("call", 1, 0, 2.0, 2.0, Estimate(mean, low, high, 1), 2.0, 3.4)
    assert not one.outside
    mean, low, high = mean_interval(np.array([2.0, 3.0]), np.array([True, True]), entered)
    two = StageTime("call", 2, 0, 2.5, 3.0, Estimate(mean, low, high, 2), 2.5, 30.0)
    assert low < high and two.outside


@pytest.mark.fresh_runs  # the engine's own runs, not ones handed again
def test_a_file_simulated_again_with_the_same_settings_is_remembered() -> None:
    """measure's and calibrate's short simulations of a file: the same file loaded twice
    and the same settings give the one result remembered; a changed setting or other
    settings do not."""
    from salesproc.experiments.experiment import REMEMBERED, remembered, resolve_settings, simulate

    five = ROOT / "processes" / "five-step.yaml"
    process = salesproc.load(five)
    settings = resolve_settings(process, replications=2, workers=1)
    first = remembered(process, settings)
    assert remembered(salesproc.load(five), settings) is first
    assert first.to_dict() == simulate(process, settings).to_dict()
    changed = process.with_changes({"roles.se.headcount": 3})
    assert remembered(changed, settings) is not first
    assert remembered(process, resolve_settings(process, replications=3, workers=1)) \
        is not first
    for seed in range(REMEMBERED):  # the oldest is forgotten
        remembered(process, resolve_settings(process, replications=1, seed=seed, workers=1))
    assert remembered(process, settings) is not first


def test_open_deals_of_unknown_value_are_said_beside_the_pipelines_worth() -> None:
    """An open deal without a usable amount adds nothing to the pipeline's worth: the
    headline says how many such deals the figure leaves out (none said where none)."""
    from salesproc.history.table import OUTCOME_OPEN

    history = read_history(EXAMPLE, salesproc.load(ROOT / "processes" / "five-step.yaml"))
    d = history.deals
    unknown = int((np.isnan(d.value) & (d.outcome == OUTCOME_OPEN)).sum())
    assert unknown >= 1
    out = run("measure", *EXAMPLE, "--process", str(ROOT / "processes" / "five-step.yaml"))
    assert out.exit_code == 0, out.output
    assert f" ({unknown:,} of unknown value), " in out.stdout
    committee = run("measure", *EXAMPLE, "--process", str(ROOT / "processes" /
                                                           "five-step.yaml"),
                    "--buyer", "committee")
    mine = int((np.isnan(d.value) & (d.outcome == OUTCOME_OPEN) & (d.buyer == list(
        history.process.buyer_types).index("committee"))).sum())
    line = next(x for x in committee.stdout.splitlines() if x.startswith("  Open deals"))
    assert (f"({mine:,} of unknown value)" in line) == (mine > 0)
