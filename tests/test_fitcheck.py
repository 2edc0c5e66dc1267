"""The fit check (`calibrate --check`): like with like, a range that holds a history of
the process itself with the chance it states, and what to change where a figure lies
outside."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import salesproc
from salesproc.core.survival import kaplan_meier
from salesproc.history import History, read_history
from salesproc.prediction.calibration import Calibration, Fitted, calibrate, moved_on
from salesproc.prediction.fitcheck import FitCheck, check_fit, order_rank, simulated_histories
from salesproc.prediction.synthetic import PRESETS, SyntheticHistory, generate, write
from salesproc.report import text
from tests.conftest import CASES, run

TRUTH = CASES / "history" / "calibrate.yaml"  # three buyer types, a loop, an approval
WRONG = ["stages.review.delay={weibull: {mean: 12, sd: 3}}",  # the file says 4
         "buyer_types.large.stages.review.next={contract: 0.8, proposal: 0.1}"]  # 0.45, 0.4


def history_of(truth: salesproc.Process, per_month: float, days: float, seed: int,
               folder: Path) -> tuple[SyntheticHistory, History]:
    """A clean generated history of *truth*, exported as Salesforce does and read back
    against the file as written."""
    made = generate(truth, replace(PRESETS["clean"], per_month=per_month), seed=seed, days=days)
    files = sorted(str(p) for p in write(made, folder, "salesforce"))
    return made, read_history(files, salesproc.load(TRUTH), today=made.end.date())


def as_written(made: SyntheticHistory, history: History, share: float = 1.0) -> Calibration:
    """A 'calibration' that keeps every number of the file but the arrival rate (the
    truth's, times *share*): the file as written, simulated over the history's period."""
    assert made.process.arrivals is not None
    rate = made.process.arrivals.rate * share
    return Calibration(salesproc.load(TRUTH), made.start, made.end, len(history.deals),
                       [Fitted("arrivals.rate", rate, "new deals", 0, rate, rate, rate)])


def outside_bound(judged: int) -> int:
    """The binomial 99% point of the figures outside when each is outside with chance 5%."""
    return int(stats.binom.ppf(0.99, judged, 0.05))


def test_the_range_between_order_statistics_holds_one_more_draw_with_its_stated_chance(
        ) -> None:
    """R draws and one more of the same distribution: the last lies outside the range
    between the k-th smallest and k-th largest with chance 2k / (R + 1)."""
    rng = np.random.default_rng(1)
    for runs in (10, 39, 40, 79):
        k = order_rank(runs)
        draws = np.sort(rng.gamma(2.0, size=(4000, runs)), axis=1)
        extra = rng.gamma(2.0, size=4000)
        out = (extra < draws[:, k - 1]) | (extra > draws[:, -k])
        chance = 2 * k / (runs + 1)
        assert (runs < 39) or chance <= 0.05 + 1e-12
        half = 4 * math.sqrt(chance * (1 - chance) / 4000)
        assert abs(out.mean() - chance) <= half, runs
    assert order_rank(1) == 0 and order_rank(40) == 1 and order_rank(79) == 2


def test_the_restricted_mean_runs_to_the_time_asked_for() -> None:
    """Up to 2.5 days of stays of 1, 2 and 3 days: 1 + 2/3 + 1/2 · 1/3; past the largest
    time seen the curve stays flat (a visit still open at 4 days: half remain)."""
    curve = kaplan_meier(np.array([1.0, 2.0, 3.0]), np.array([True, True, True]))
    assert curve.restricted_mean(2.5)[0] == pytest.approx(1 + 2 / 3 + 0.5 / 3)
    assert curve.restricted_mean()[0] == pytest.approx(2.0)  # the plain mean
    open_one = kaplan_meier(np.array([1.0, 4.0]), np.array([True, False]))
    assert open_one.restricted_mean(6.0)[0] == pytest.approx(1 + 0.5 * 5)


def test_each_run_becomes_a_history_by_the_rule_a_crm_exports_does(tmp_path: Path) -> None:
    """A run made a history in memory holds the same visits as its event log written and
    read back as an export (`--crm events`)."""
    process = salesproc.load(TRUTH, ["simulation.horizon=40"])
    result = salesproc.simulate(process, events=True, replications=1, seed=2)
    (mine,) = simulated_histories(result, process)
    log = tmp_path / "events.csv"
    result.events_frame().to_csv(log, index=False)
    read = read_history([str(log)], process, format="events")

    def rows(h: History) -> list[tuple[int, int, int, int]]:
        v = h.visits
        left = np.where(np.isnat(v.left), 0, v.left.astype(np.int64))
        return sorted(zip(v.stage.tolist(), v.entered.astype(np.int64).tolist(),
                          left.tolist(), v.exit.tolist(), strict=True))

    assert len(mine.visits) > 300
    assert rows(mine) == rows(read)
    assert sorted(mine.deals.outcome.tolist()) == sorted(read.deals.outcome.tolist())


def test_a_history_of_the_file_itself_lies_outside_about_5_percent(tmp_path: Path) -> None:
    """Histories cut while many deals are open, checked against the process that made them:
    every figure is computed the same way on both sides, so the figures outside stay
    within the binomial 99% point for 5% of the figures judged."""
    outside = judged = 0
    for seed in (1, 2):
        made, history = history_of(salesproc.load(TRUTH), 90, 150, seed, tmp_path / str(seed))
        done = check_fit(history, as_written(made, history), replications=39, seed=seed)
        assert done.coverage == pytest.approx(38 / 40)  # 39 runs: the whole range
        outside += len(done.outside)
        judged += len(done.judged)
    print(f"{outside} of {judged} figures outside")
    assert judged >= 70
    assert outside <= outside_bound(judged)


def test_a_calibrated_history_lies_outside_no_more_than_5_percent(tmp_path: Path) -> None:
    """The known process's history, calibrated and checked: the figures outside stay
    within the binomial 99% point for 5% of the figures judged."""
    _, history = history_of(salesproc.load(TRUTH), 90, 150, 4, tmp_path)
    done = check_fit(history, calibrate(history), replications=39, seed=4)
    print(f"{len(done.outside)} of {len(done.judged)} outside: "
          + ", ".join(f"{c.scope} {c.figure}" for c in done.outside))
    assert len(done.judged) >= 35
    assert len(done.outside) <= outside_bound(len(done.judged))


@pytest.fixture(scope="module")
def wrong(tmp_path_factory: pytest.TempPathFactory) -> tuple[History, FitCheck]:
    """A history whose review stage takes 12 days and whose large deals go on from review
    80% of the time, checked against the file that says 4 days and 45%, at half the
    history's arrival rate."""
    folder = tmp_path_factory.mktemp("wrong")
    made, history = history_of(salesproc.load(TRUTH, WRONG), 90, 150, 3, folder)
    return history, check_fit(history, as_written(made, history, 0.5), replications=39,
                              seed=3)


def test_too_few_new_deals_names_the_rate_and_the_one_the_data_suggests(
        wrong: tuple[History, FitCheck]) -> None:
    """The suggested rate is the file's scaled by the history's count over the runs':
    within 4 Poisson standard errors of the truth's 90 deals a month (per day)."""
    history, done = wrong
    new = next(c for c in done.checks if c.figure == "new deals")
    assert new.outside and new.history > new.high
    assert new.setting == "arrivals.rate"
    truth = 90 * 12 / 365  # a day
    assert new.suggested == pytest.approx(truth, rel=4 / math.sqrt(len(history.deals)))
    assert "set arrivals.rate to about" in new.advice and new.advice.endswith("per day")


def test_a_stay_outside_names_its_delay_and_the_mean_the_data_suggests(
        wrong: tuple[History, FitCheck]) -> None:
    """The suggested delay is the history's mean stay before a move on less the team's
    minute of work: within 4 standard errors of the truth's 12 days (sd 3 over the
    review visits that moved on)."""
    history, done = wrong
    stay = next(c for c in done.checks if (c.scope, c.figure) == ("review",
                                                                  "days before moving on (mean)"))
    assert stay.outside and stay.history > stay.high
    assert stay.setting == "stages.review.delay"
    ((family, params),) = stay.suggested.items()
    visits = moved_on(history, history.visits.stage == list(history.process.stages).index(
        "review")).n
    assert family == "weibull" and params["sd"] == 3
    assert params["mean"] == pytest.approx(12.0, abs=4 * 3 / math.sqrt(visits))
    assert "set stages.review.delay to about" in stay.advice
    assert "the file's delay there averages 4 days" in stay.advice


def test_a_route_outside_names_the_buyer_types_next_and_the_shares_the_data_suggests(
        wrong: tuple[History, FitCheck]) -> None:
    _, done = wrong
    route = next(c for c in done.checks if (c.scope, c.figure) == (
        "review", "share of large deals leaving for contract"))
    assert route.outside and route.history > route.high
    assert route.setting == "buyer_types.large.stages.review.next"
    ended = int(route.advice.split("; ")[1].split(" ended")[0].replace(",", ""))
    assert ended >= 15
    assert route.suggested["contract"] == pytest.approx(0.8, abs=4 * math.sqrt(0.16 / ended))
    assert set(route.suggested) <= {"contract", "proposal"}


def test_the_text_and_json_say_what_to_change(wrong: tuple[History, FitCheck]) -> None:
    _, done = wrong
    shown = text.fit_check(done)
    assert "What to change:" in shown
    assert "review, days before moving on (mean): the history's deals stay" in shown
    assert "set buyer_types.large.stages.review.next to about {" in shown
    data = done.to_dict()
    json.dumps(data, allow_nan=False)
    rows = {(c["scope"], c["figure"]): c for c in data["checks"]}
    stay = rows["review", "days before moving on (mean)"]
    assert stay["outside"] and stay["setting"] == "stages.review.delay"
    assert stay["suggested"]["weibull"]["mean"] > 8
    inside = [c for c in data["checks"] if not c["outside"]]
    assert inside and all(c["advice"] is None and c["suggested"] is None for c in inside)
    assert data["outside"] == len(done.outside) and data["judged"] == len(done.judged)
    assert data["replications"] == 39 and data["coverage"] == pytest.approx(0.95)
    assert data["days"] == pytest.approx(150.0)


def test_calibrate_check_through_the_cli_says_what_to_change(tmp_path: Path) -> None:
    """A small team's history (60 deals in two months) whose review stage takes 12 days:
    too few review visits to fit a distribution, so the file's 4 days are only moved
    towards the data's by the weight of the evidence; the check says to set the delay to
    what the data suggests, in the terminal and in the JSON."""
    made = generate(salesproc.load(TRUTH, WRONG[:1]), replace(PRESETS["clean"], per_month=30),
                    seed=3, days=60)
    files = sorted(str(p) for p in write(made, tmp_path / "export", "salesforce"))
    out, report = tmp_path / "fitted.yaml", tmp_path / "check.json"
    result = run("calibrate", *files, "--process", str(TRUTH), "-o", str(out), "--check-json",
                 str(report), "-r", "39", "--seed", "2",
                 "--as-of", made.end.date().isoformat())
    assert result.exit_code == 0, result.output
    variant = out.read_text("utf-8")
    assert "days in review, blended with the file's" in variant
    assert "What to change:" in result.stdout
    assert "set stages.review.delay to about" in result.stdout
    data = json.loads(report.read_text("utf-8"))
    stay = next(c for c in data["checks"] if c["figure"] == "days before moving on (mean)"
                and c["scope"] == "review")
    assert stay["outside"] and stay["setting"] == "stages.review.delay"
    assert run("calibrate", *files, "--process", str(TRUTH), "-o", str(out), "--check-json",
               str(out)).exit_code != 0  # the JSON never lands on the variant
    refused = run("calibrate", *files, "--process", str(TRUTH), "--check-json", "-")
    assert refused.exit_code == 2 and "give a file" in refused.output
