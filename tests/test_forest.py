"""The compare chart says good news and bad news apart: a longer cycle time is a change for
the worse, more wins one for the better, whatever the sign; variants by their name."""

from __future__ import annotations

from typing import Any

from salesproc.charts import forest
from salesproc.experiments.compare import HEADLINE


def figures(changes: dict[str, tuple[float, bool]]) -> dict[str, Any]:
    return {h.key.metric: {"base": {"mean": 100.0},
                           "difference": {"mean": changes[h.key.metric][0],
                                          "low": changes[h.key.metric][0] - 1,
                                          "high": changes[h.key.metric][0] + 1},
                           "significant": changes[h.key.metric][1]} for h in HEADLINE}


def test_a_longer_cycle_is_worse_and_more_wins_better() -> None:
    changes = {h.key.metric: (0.0, False) for h in HEADLINE}
    changes.update(won=(3.0, True), cycle_mean=(10.9, True), revenue=(-5.0, True))
    data = {"settings": {"replications": 20},
            "base": {"label": "five-step", "name": "Five-step B2B", "time_unit": "day"},
            "variants": [{"label": "five-step-free-trial", "name": "Five-step with a trial",
                          "figures": figures(changes)},
                         {"label": "--set roles.se.headcount=3", "name": "Five-step B2B",
                          "figures": figures(changes)}]}
    chart = forest.chart(data)
    assert chart is not None
    verdicts = {(row[0], row[1]): row[4] for row in chart.table.rows}
    assert verdicts["Cycle time", "Five-step with a trial"] == "yes: worse"
    assert verdicts["Won deals", "Five-step with a trial"] == "yes: better"
    assert verdicts["Revenue", "Five-step with a trial"] == "yes: worse"
    assert verdicts["Lead-to-win rate", "Five-step with a trial"] == "no"
    # a --set change keeps the base's name: the change itself names it
    assert verdicts["Cycle time", "--set roles.se.headcount=3"] == "yes: worse"
    colours = {line.get_color() for ax in chart.figure.axes for line in ax.lines
               if line.get_xdata()[0] > 5}  # the cycle time's +10.9 days
    assert colours == {"#D55E00"}  # red: worse
