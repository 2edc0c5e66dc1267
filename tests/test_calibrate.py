"""Calibration against a known truth: a simulated process, exported as Salesforce writes
it, calibrated, and compared with the process that made it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import salesproc
from salesproc.experiments.export import deals_of, write_salesforce
from salesproc.history import History, read_history
from salesproc.prediction.calibration import (
    MIN_BLENDED,
    MIN_OBSERVATIONS,
    PRIOR_OBSERVATIONS,
    Calibration,
    calibrate,
    fit_distribution,
    moved_on,
    spec_mean,
)
from salesproc.prediction.fitcheck import check_fit
from salesproc.process import routing
from salesproc.process.model import Process
from tests.conftest import CASES, ROOT, run

TRUTH = CASES / "history" / "calibrate.yaml"


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Process, History, Calibration]:
    process = salesproc.load(TRUTH)
    result = salesproc.simulate(process, events=True)
    assert result.events is not None
    folder = tmp_path_factory.mktemp("export")
    files = write_salesforce(deals_of(result.events, process), folder)
    history = read_history(files, process)
    return process, history, calibrate(history)


def visible_shares(process: Process, buyer: str, stage: str) -> dict[str, float]:
    """The true share of visits leaving *stage* for each target, as a CRM sees them (a
    rejection back to the stage itself is no move)."""
    kind = process.buyer_types[buyer]
    shares: dict[str, float] = {}
    for e in routing.exits(kind.stages[stage], kind):
        shares[e.target] = shares.get(e.target, 0.0) + e.share
    shares.pop(stage, None)
    total = math.fsum(shares.values())
    return {t: s / total for t, s in shares.items()}


def test_route_shares_lie_inside_their_intervals(known: tuple[Process, History,
                                                               Calibration]) -> None:
    """At 95% each, at least 90% of the routes' intervals hold the truth."""
    process, _, cal = known
    inside = total = 0
    for f in cal.fitted:
        if not f.setting.endswith(".next"):
            continue
        _, buyer, _, stage, _ = f.setting.split(".")
        truth = visible_shares(process, buyer, stage)
        for share in f.shares:
            total += 1
            inside += share.low <= truth.get(share.target, 0.0) <= share.high
    print(f"route shares inside their 95% intervals: {inside} of {total}")
    assert total >= 20
    assert inside >= 0.9 * total


def test_arrival_rate_and_shares_are_recovered(known: tuple[Process, History,
                                                            Calibration]) -> None:
    process, _, cal = known
    fitted = {f.setting: f for f in cal.fitted}
    assert fitted["arrivals.rate"].estimate == pytest.approx(10.0, rel=0.05)
    for b, kind in process.buyer_types.items():  # within 4 standard errors of the truth
        share = fitted[f"buyer_types.{b}.share"]
        se = math.sqrt(kind.share * (1 - kind.share) / share.n)
        assert abs(share.estimate - kind.share) <= 4 * se


def test_time_in_stage_and_its_family_are_recovered(known: tuple[Process, History,
                                                                 Calibration]) -> None:
    """Mean time within 10% where a stage has 200 visits or more; the delay's own family
    chosen for at least 3 of the 4 stages built with distinct families."""
    process, _, cal = known
    fitted = {f.setting: f for f in cal.fitted}
    families = {"lead": "exponential", "discovery": "lognormal", "proposal": "gamma",
                "review": "weibull"}
    right = 0
    for sid, stage in process.stages.items():
        f = fitted.get(f"stages.{sid}.delay")
        if f is None or f.n < 200:
            continue
        truth = stage.delay.mean + stage.work.mean + (
            max(a.delay.mean + a.work.mean for a in stage.approvals) if stage.approvals else 0)
        assert f.estimate == pytest.approx(truth, rel=0.10), sid
        right += sid in families and next(iter(f.value)) == families[sid]
    assert right >= 3


def test_a_stage_with_a_handful_of_visits_blends_the_files_number_with_the_data(
        known: tuple[Process, History, Calibration]) -> None:
    """Escalation is reached by about one lead in a thousand: too few visits for a
    distribution, enough to move the file's delay towards what they say, by the weight of
    the evidence (the file counting as PRIOR_OBSERVATIONS visits)."""
    process, history, cal = known
    s = list(process.stages).index("escalation")
    on = moved_on(history, history.visits.stage == s)  # the stays calibrate fits
    seen = on.n
    assert seen < MIN_OBSERVATIONS
    found = [f for f in cal.fitted if f.setting == "stages.escalation.delay"]
    if seen < MIN_BLENDED:
        assert "stages.escalation.delay" in {k.setting for k in cal.kept}
        assert not found
        return
    (delay,) = found
    assert delay.blended and delay.n == seen
    data = on.mean()
    file = process.stages["escalation"].delay
    assert file is not None
    value = spec_mean(delay.value)  # days: the process's unit
    expected = (seen * data + PRIOR_OBSERVATIONS * file.mean) / (seen + PRIOR_OBSERVATIONS)
    assert value == pytest.approx(expected, rel=2e-3, abs=0.02)  # the team's minute aside


def test_the_censored_fit_is_right_where_dropping_open_deals_is_biased_low() -> None:
    """Half the visits still open at the as-of date: the censored fit's mean lies within
    10% of the truth; a fit of the finished visits alone falls well short."""
    rng = np.random.default_rng(4)
    truth = stats.gamma(2.0, scale=5.0)  # mean 10 days
    entered = rng.uniform(0, 20, 4000)
    stay = truth.rvs(4000, random_state=rng)
    as_of = 20.0
    ended = entered + stay <= as_of
    observed = np.where(ended, stay, as_of - entered)
    assert 0.4 < 1 - ended.mean() < 0.6
    censored = fit_distribution(observed, ended)
    naive = fit_distribution(observed[ended], np.ones(int(ended.sum()), dtype=bool))
    assert censored.mean == pytest.approx(10.0, rel=0.10)
    assert naive.mean < 0.8 * 10.0


def test_the_calibrated_file_extends_the_base_and_validates(known: tuple[Process, History,
                                                                          Calibration],
                                                             tmp_path: Path) -> None:
    _, _, cal = known
    out = tmp_path / "fitted.yaml"
    out.write_text(cal.to_yaml(out), "utf-8")
    assert run("validate", str(out)).exit_code == 0
    fitted = salesproc.load(out)
    assert fitted.arrivals is not None
    assert fitted.arrivals.rate == pytest.approx(
        next(f.value for f in cal.fitted if f.setting == "arrivals.rate"))
    assert "# Not enough data" in out.read_text("utf-8")
    assert salesproc.load(TRUTH).stages["contract"].approvals == \
        fitted.stages["contract"].approvals  # the structure stays as written


def test_calibrate_through_the_cli_writes_the_variant_and_checks_it(tmp_path: Path) -> None:
    example = sorted(str(p) for p in (ROOT / "examples" / "five-step-salesforce").glob("*.csv"))
    out = tmp_path / "five-step.calibrated.yaml"
    result = run("calibrate", *example, "--process", str(ROOT / "processes" / "five-step.yaml"),
                 "-o", str(out), "--check", "-r", "10", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "Fit check" in result.stdout and "measured as the history is" in result.stdout
    assert run("validate", str(out)).exit_code == 0
    refused = run("calibrate", *example, "--process", str(ROOT / "processes" / "five-step.yaml"),
                  "-o", example[0])
    assert refused.exit_code == 2


def test_calibrate_with_no_deal_since_the_date_writes_nothing(tmp_path: Path) -> None:
    """--since after the last deal created (but before the history's end) left no deal to
    fit: calibrate once wrote a variant of nothing, "calibrated from 0 deals", exit 0."""
    export = tmp_path / "deals.csv"
    export.write_text("deal,stage,changed_at\nD1,signup,2026-03-02\nD1,won,2026-03-20\n"
                      "D2,signup,2026-03-03\nD2,lost,2026-03-18\n", encoding="utf-8")
    out = tmp_path / "calibrated.yaml"
    process = str(ROOT / "processes" / "inside-sales.yaml")  # no crm: columns to miss
    result = run("calibrate", str(export), "--process", process, "--since", "2026-03-10",
                 "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "no deal to calibrate from: none was created from 2026-03-10 to 2026-03-20" \
        in result.stderr and "earlier --since" in result.stderr
    assert not out.exists()
    fitted = run("calibrate", str(export), "--process", process, "--since", "2026-03-01",
                 "-o", str(out))
    assert fitted.exit_code == 0 and "calibrated from 2 deals" in fitted.stdout
    assert out.exists()


@pytest.mark.slow
def test_late_entries_and_skips_are_calibrated_so_the_fit_check_reproduces_them(
        tmp_path: Path) -> None:
    """The history: 30% of deals first appear at a late stage, and some skip one. The
    hand-written file knows neither; its calibration gives each buyer type its entries,
    and the fit check's share of wins from late entries lies inside its range."""
    truth = salesproc.load(TRUTH, [
        "buyer_types.small.enter={lead: 0.6, contract: 0.4}",
        "buyer_types.mid.enter={lead: 0.7, review: 0.3}",
        "buyer_types.mid.stages.discovery.next={proposal: 0.55, contract: 0.15}"])
    result = salesproc.simulate(truth, events=True, replications=1, horizon=200)
    assert result.events is not None
    files = write_salesforce(deals_of(result.events, truth), tmp_path)
    history = read_history(files, salesproc.load(TRUTH))  # read against the file as written
    cal = calibrate(history)
    fitted = {f.setting: f for f in cal.fitted}
    small = fitted["buyer_types.small.enter"]
    assert small.value["contract"] == pytest.approx(0.4, abs=4 * math.sqrt(0.24 / small.n))
    assert "buyer_types.large.enter" not in fitted  # large deals all start at the start
    assert "contract" in fitted["buyer_types.mid.stages.discovery.next"].value
    done = check_fit(history, cal, replications=39, seed=5)  # 39: a 95% range
    late = next(c for c in done.checks if c.figure.startswith("share of wins first seen"))
    print(f"late entries: history {late.history:.3f}, simulated {late.low:.3f}–{late.high:.3f}")
    assert late.history > 0.5  # late entries skip the early losses: most of the wins
    assert not late.outside
    entries = [s for f in cal.fitted if f.setting.endswith(".enter") for s in f.shares]
    first_seen_late = sum(s.share * fitted[f"buyer_types.{b}.enter"].n
                          for b in ("small", "mid") for s in fitted[f"buyer_types.{b}.enter"]
                          .shares if s.target != "lead") / len(history.deals)
    share = 0.5 * 0.4 + 0.3 * 0.3  # of all new deals, by the truth's shares and entries
    assert entries and first_seen_late == pytest.approx(
        share, abs=4 * math.sqrt(share * (1 - share) / len(history.deals)))


def test_crm_words_in_the_variants_comments_stay_comments(tmp_path: Path) -> None:
    """A loss reason from the export with a line break in it cannot write YAML into the
    calibrated file: every note stays one comment line."""
    cal = Calibration(salesproc.load(TRUTH), dt.datetime(2025, 1, 1), dt.datetime(2025, 6, 1),
                      100, notes=["deals lost at lead (40): price\nset:\n  arrivals.rate: 999"])
    text = cal.to_yaml(tmp_path / "fitted.yaml")
    assert "\n  arrivals.rate: 999" not in text
    assert all(line.startswith("#") or not line.strip().endswith("999")
               for line in text.splitlines())


APPROVAL_SPREAD = """\
salesproc: 1
name: A stage with a spread-out approval
roles:
  rep: {title: Rep, headcount: 50}
  legal: {title: Counsel, headcount: 50}
calendar: always
stages:
  - {id: lead, name: Lead, owner: rep, delay: {gamma: {mean: 2, sd: 0.5}}, work: 1min,
     next: {contract: 0.9}}
  - {id: contract, name: Contract, owner: rep, delay: {gamma: {mean: 3, sd: 2}}, work: 1min,
     approvals: [{by: legal, name: Legal review, delay: {exponential: {mean: 2}},
                  work: 1min}],
     next: {won: 0.9}}
buyer_types:
  all: {name: All, share: 1, value: 1000}
arrivals: {rate: 5, per: day}
simulation: {start: 2024-01-01, horizon: 300, replications: 1, seed: 3}
"""


def test_a_stage_delay_does_not_keep_its_approvals_spread(tmp_path: Path) -> None:
    """The contract stage's stay is its delay (gamma, sd 2) and then an approval of its own
    spread (exponential, sd 2): the fitted delay's sd is the stay's less the approval's,
    within 4 standard errors of the truth's 2 (delta method on the variance of the stays,
    the team's variance from five times as many simulated visits adding a fifth), where
    keeping the whole stay's (sqrt(8) = 2.83) would put the approval's spread in twice."""
    source = tmp_path / "process.yaml"
    source.write_text(APPROVAL_SPREAD, "utf-8")
    process = salesproc.load(source)
    result = salesproc.simulate(process, events=True)
    assert result.events is not None
    history = read_history(write_salesforce(deals_of(result.events, process), tmp_path),
                           process)
    cal = calibrate(history, refine=False)
    (delay,) = [f for f in cal.fitted if f.setting == "stages.contract.delay"]
    ((family, params),) = delay.value.items()
    assert family != "empirical", delay.quality
    stays = moved_on(history, history.visits.stage == 1).sample()
    n = len(stays)
    centred = stays - stays.mean()
    se_var = math.sqrt((np.mean(centred ** 4) - np.var(stays) ** 2) / n * (1 + 1 / 5))
    assert abs(params["sd"] - 2.0) <= 4 * se_var / (2 * 2.0), (params, se_var)
    assert params["sd"] < math.sqrt(8) - 4 * se_var / (2 * math.sqrt(8))
