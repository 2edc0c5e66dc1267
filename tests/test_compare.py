"""What-if comparisons: common random numbers, known effects, sweeps, and the commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesproc import check_text, load
from salesproc.core.stats import Estimate, significant
from salesproc.experiments.compare import HEADLINE, compare, parse_sweep, sweep_points
from salesproc.process.model import Process, Settings
from salesproc.sim.metrics import Key
from tests.conftest import ROOT, run

FIVE = ROOT / "processes" / "five-step.yaml"
TRIAL = ROOT / "processes" / "five-step-free-trial.yaml"
QUICK = Settings(horizon=200, warmup=40, replications=10, seed=3, workers=1)


def se(e: Estimate) -> float:
    return e.sem


def process(text: str) -> Process:
    result = check_text(text)
    assert result.process is not None, result.diagnostics
    return result.process


def test_a_process_compared_with_itself_differs_by_exactly_zero() -> None:
    five = load(FIVE)
    result = compare(("five", five), [("again", load(FIVE))], QUICK)
    for headline in HEADLINE:
        diff = result.difference(result.variants[0], headline.key)
        assert (diff.mean, diff.low, diff.high) == (0.0, 0.0, 0.0)
        assert not significant(diff)


def test_common_random_numbers_narrow_the_interval_at_least_threefold() -> None:
    base = load(FIVE)
    more_se = load(FIVE, ["roles.se.headcount=3"])
    paired = compare(("base", base), [("se3", more_se)], QUICK)
    independent = compare(("base", base), [("se3", more_se)], QUICK, independent=True)
    def narrowing(key: tuple[str, str]) -> float:
        wide = independent.difference(independent.variants[0], key).half_width
        return wide / paired.difference(paired.variants[0], key).half_width

    # routes and verdicts are drawn per deal: who wins is paired deal by deal
    for name in ("won", "revenue", "lead_to_win"):
        assert narrowing(("all", name)) >= 3, name
    # delays and work are drawn per stage in arrival order, so timing pairs less tightly
    assert narrowing(("all", "cycle_mean")) >= 1.5


BASE = """
salesproc: 1
name: Two steps
roles: {r: {title: R, headcount: 2}}
stages:
  - {id: work, name: Work, owner: r, work: {exponential: {mean: 0.5}}, next: {close: 1}}
  - {id: close, name: Close, owner: r, next: {won: 0.5}}
buyer_types: {b: {name: B, share: 1, value: 100}}
arrivals: {rate: 2}
"""


def variant_of_base(stage: str) -> Process:
    text = BASE.replace("next: {close: 1}}", "next: {extra: 1}}\n" + stage)
    return process(text)


SETTINGS = Settings(horizon=2000, warmup=100, replications=10, seed=11, workers=1)


def test_adding_a_pure_delay_stage_adds_its_mean_to_cycle_time() -> None:
    delayed = variant_of_base("  - {id: extra, name: Extra, owner: r, "
                              "delay: {lognormal: {mean: 4, sd: 3}}, next: {close: 1}}")
    result = compare(("base", process(BASE)), [("delay", delayed)], SETTINGS)
    diff = result.difference(result.variants[0], ("all", "cycle_mean"))
    assert abs(diff.mean - 4.0) <= 4 * se(diff), diff


def test_adding_a_stage_that_loses_20_percent_lowers_wins_by_20_percent() -> None:
    filtered = variant_of_base("  - {id: extra, name: Extra, owner: r, next: {close: 0.8}}")
    result = compare(("base", process(BASE)), [("filter", filtered)], SETTINGS)
    ratios = Estimate.of([v[Key("all", "", "won")] / b[Key("all", "", "won")] - 1 for b, v in
                          zip(result.base.result.replications,
                              result.variants[0].result.replications, strict=True)])
    assert abs(ratios.mean + 0.2) <= 4 * se(ratios), ratios
    assert significant(result.difference(result.variants[0], ("all", "won")))


def test_a_figure_a_run_lacks_counts_as_zero_in_the_difference_as_in_the_summary() -> None:
    """A queue nobody waits in is no figure of the run: it is 0 there, in the paired
    difference as in each side's estimate (as NaN, every pair would be dropped)."""
    staffed = process(BASE.replace("headcount: 2", "headcount: 500"))
    result = compare(("base", process(BASE)), [("staffed", staffed)], SETTINGS)
    key = Key("queue", "work", "r")
    variant = result.variants[0]
    assert all(key in f for f in result.base.result.replications)
    assert not any(key in f for f in variant.result.replications)
    diff = result.difference(variant, key)
    assert diff.n == SETTINGS.replications
    assert diff.mean == pytest.approx(-result.base.result.summary[key].mean)
    assert diff.mean < 0 and significant(diff)


@pytest.mark.parametrize(("option", "values"), [
    ("roles.ae.headcount=2..5", ("2", "3", "4", "5")),
    ("roles.ae.headcount=2..10:4", ("2", "6", "10")),
    ("stages.demo.work=0.5..1.5:0.5", ("0.5", "1", "1.5")),
    ("stages.demo.work=0.5,1,2", ("0.5", "1", "2")),
    ("stages.demo.work={exponential: {mean: 2}}", ("{exponential: {mean: 2}}",)),
])
def test_parse_sweep(option: str, values: tuple[str, ...]) -> None:
    assert parse_sweep(option).values == values


@pytest.mark.parametrize("option", ["roles.ae.headcount", "roles.ae.headcount=5..2",
                                    "roles.ae.headcount=1..1000", "x=a..b"])
def test_bad_sweeps_are_usage_errors(option: str) -> None:
    result = run("sweep", str(FIVE), "--set", option, *FAST)
    assert result.exit_code == 2 and "Invalid value for --set: " in result.output


def test_two_settings_make_a_grid_three_do_not() -> None:
    from salesproc.core.errors import SalesprocError

    points = sweep_points([parse_sweep("a.b=1..2"), parse_sweep("c.d=3,4")])
    assert points == [("a.b=1", "c.d=3"), ("a.b=1", "c.d=4"), ("a.b=2", "c.d=3"),
                      ("a.b=2", "c.d=4")]
    with pytest.raises(SalesprocError):
        sweep_points([parse_sweep("a.b=1..2"), parse_sweep("c.d=3,4"), parse_sweep("e.f=1,2")])


# --- the commands --------------------------------------------------------------------------

FAST = ["-r", "4", "--horizon", "150", "--warmup", "30"]


def test_compare_command_leads_with_a_verdict() -> None:
    result = run("compare", str(FIVE), str(TRIAL), "--set", "roles.se.headcount=3", *FAST)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Compared with five-step: 4 paired replications")
    assert lines[2].startswith("worst–best case is the 10th to 90th percentile of the runs")
    assert lines[5].startswith("Verdict: five-step-free-trial: ")
    assert lines[7].startswith("Verdict: roles.se.headcount=3: ")
    assert "variant worst–best" in result.output
    assert "  Won deals" in result.output and "  Longest wait" in result.output


def test_a_change_of_thousands_is_written_with_its_separator() -> None:
    """A difference of 1,523.4 (more deals a year than a small funnel's whole) is shown,
    not a crash of reading '+1,523.4' back as a number; one that rounds to 0 has no sign."""
    from salesproc.core.stats import Estimate
    from salesproc.experiments.compare import change_text

    assert change_text(Estimate(1523.4, 1400.0, 1600.0, 4), "absolute", 10.0, "day") == \
        "+1,523.4 [+1,400.0, +1,600.0]"
    assert change_text(Estimate(-0.0001, -0.0002, 0.0, 4), "absolute", 10.0, "day") \
        .startswith("0.000 [")


def test_compare_json_and_csv() -> None:
    data = json.loads(run("compare", str(FIVE), str(TRIAL), *FAST, "--format", "json").output)
    (variant,) = data["variants"]
    assert variant["label"] == "five-step-free-trial"
    won = variant["figures"]["won"]
    assert set(won) == {"base", "variant", "difference", "significant"}
    assert won["variant"]["worst"] <= won["variant"]["neutral"] <= won["variant"]["best"]
    assert won["difference"]["mean"] == pytest.approx(won["variant"]["mean"] -
                                                      won["base"]["mean"])
    csv_text = run("compare", str(FIVE), str(TRIAL), *FAST, "--format", "csv").output
    assert csv_text.splitlines()[0] == ("variant,metric,base,variant_mean,difference,low,"
                                        "high,significant,variant_worst,variant_neutral,"
                                        "variant_best")
    assert len(csv_text.splitlines()) == 1 + len(HEADLINE)


def test_compare_needs_a_variant() -> None:
    assert run("compare", str(FIVE)).exit_code == 2


def test_compare_unknown_set_path_is_located_and_kind() -> None:
    result = run("compare", str(FIVE), "--set", "roles.sse.headcount=3", *FAST)
    assert result.exit_code == 1
    assert "<command line>:1:1: error SP604 cannot set 'roles.sse.headcount'" in result.output
    assert "did you mean 'se'?" in result.output


def test_sweep_command_shows_the_marginal_gain(tmp_path: Path) -> None:
    result = run("sweep", str(FIVE), "--set", "roles.sdr.headcount=1..3", *FAST)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert rows[0].split()[0] == "roles.sdr.headcount"
    assert [r.split()[0] for r in rows[1:]] == ["1", "2", "3"]
    assert "won vs previous" in rows[0]
    assert "[" not in rows[1] and "[" in rows[2]  # the first row has nothing before it
    out = tmp_path / "sweep.json"
    assert run("sweep", str(FIVE), "--set", "roles.sdr.headcount=1..2", *FAST,
               "--format", "json", "-o", str(out)).exit_code == 0
    data = json.loads(out.read_text())
    assert [p["settings"] for p in data["points"]] == [{"roles.sdr.headcount": "1"},
                                                       {"roles.sdr.headcount": "2"}]
    assert data["points"][1]["won_vs_previous"]["significant"] is True


def test_sweep_wrong_type_is_located() -> None:
    result = run("sweep", str(FIVE), "--set", "roles.sdr.headcount=a,b", *FAST)
    assert result.exit_code == 1
    assert "<command line>:1:21: error SP104 expected a whole number" in result.output


def test_one_replication_judges_no_difference() -> None:
    result = run("compare", str(FIVE), "--set", "roles.se.headcount=3", "-r", "1",
                 "--horizon", "150", "--warmup", "30")
    assert result.exit_code == 0
    assert "no difference can be judged from one replication" in result.output
    assert "cannot be judged from 1 replication" in result.output
    assert not any(line.rstrip().endswith("*") for line in result.output.splitlines())
    data = json.loads(run("compare", str(FIVE), "--set", "roles.se.headcount=3", "-r", "1",
                          "--horizon", "150", "--warmup", "30", "--format", "json").output)
    assert not any(f["significant"] for f in data["variants"][0]["figures"].values())


def test_sweep_steps_hold_together_at_95_percent() -> None:
    from salesproc import load
    from salesproc.core.stats import t_quantile
    from salesproc.experiments.compare import marginal

    points = sweep_points([parse_sweep("roles.ae.headcount=2..6")])
    processes = [load(FIVE, p) for p in points]
    done = compare((points[0][0], processes[0]),
                   [(p[0], q) for p, q in zip(points[1:], processes[1:], strict=True)],
                   Settings(horizon=150, warmup=30, replications=4, seed=1, workers=2))
    step = marginal(done, 1, ("all", "won"))
    assert step is not None
    # four steps, so each interval is a 98.75% one: wider than a lone 95% interval
    assert step.confidence == pytest.approx(1 - 0.05 / 4)
    assert step.half_width == pytest.approx(t_quantile(3, 1 - 0.05 / 4) * step.sem)
    text = run("sweep", str(FIVE), "--set", "roles.ae.headcount=2..6", *FAST).output
    assert "the 4 intervals hold together at 95% (each at 98.75%, Bonferroni)" in text
