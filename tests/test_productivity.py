"""The time real reps have: a share of their time for deals (time_for_deals) and a most
of open deals each carries at once (max_deals), honoured by the engine and checked
against queueing theory (M/D/1, Pollaczek-Khinchine, Erlang C), and absurd values found
by the validator."""

from __future__ import annotations

import pytest

from salesproc import check_text
from salesproc.experiments.experiment import simulate
from salesproc.process import analysis
from salesproc.process.model import Process, Settings
from salesproc.report import text
from tests.test_sim_theory import close, erlang_c


def process(text: str) -> Process:
    checked = check_text("salesproc: 1\nname: Team\n" + text)
    assert checked.process is not None, checked.diagnostics
    return checked.process


def test_a_rep_with_half_their_time_for_deals_takes_twice_as_long() -> None:
    """One rep, a day's work a deal, half their time for deals: every piece of work takes
    exactly two days; offered 0.2 deals a day, they are 40% busy, and deals wait as in
    M/D/1 with a two-day service: λ·D² / (2·(1 - λ·D)) = 2/3 of a day."""
    rep = process("""\
roles: {ae: {title: AE, headcount: 1, time_for_deals: 0.5}}
stages: [{id: s, name: S, owner: ae, work: 1, next: {won: 1}}]
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 0.2}
""")
    assert analysis.utilization(rep)["ae"] == pytest.approx(0.4)
    result = simulate(rep, Settings(horizon=12000, warmup=500, replications=6, seed=5,
                                    workers=1))
    work = result["stage", "s", "work"]
    assert work.low == pytest.approx(2.0) and work.high == pytest.approx(2.0)
    assert close(result["role", "ae", "utilization"], 0.4)
    assert close(result["stage", "s", "queue"], 0.2 * 2.0**2 / (2 * (1 - 0.2 * 2.0)))


def test_a_place_among_the_open_deals_is_held_across_the_owners_stages() -> None:
    """max_deals 1, one AE: a deal holds the AE's one place through both of the AE's
    stages (each waiting on the prospect half a day on average, exponential), and frees
    it when it goes on to the SDR's stage, so deals wait for the place as in M/G/1 with
    the two stays as its service: Pollaczek-Khinchine, λ·E[S²] / (2·(1 - λ·E[S])) with
    E[S] = 1, E[S²] = 1 + 0.5 (the variance of the sum)."""
    team = process("""\
roles: {ae: {title: AE, headcount: 1, max_deals: 1}, sdr: {title: SDR, headcount: 50}}
stages:
  - {id: meet, name: Meet, owner: ae, delay: {exponential: {mean: 0.5}}, work: 0,
     next: {close: 1}}
  - {id: close, name: Close, owner: ae, delay: {exponential: {mean: 0.5}}, work: 0,
     next: {hand: 1}}
  - {id: hand, name: Hand over, owner: sdr, delay: {exponential: {mean: 3}}, work: 0,
     next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 0.5}
""")
    result = simulate(team, Settings(horizon=9000, warmup=500, replications=6, seed=7,
                                     workers=1))
    assert close(result["stage", "meet", "queue"], 0.5 * 1.5 / (2 * (1 - 0.5)))
    assert result["stage", "close", "queue"].mean == 0  # it kept its place
    assert result["stage", "hand", "queue"].mean == 0  # the SDRs have no limit
    # the wait for the place is a wait for the AEs: the bottleneck's evidence counts it
    assert result["queue", "meet", "ae"].low > 0 and ("queue", "meet", "sdr") not in [
        tuple(k) for k in result.summary]


def test_places_for_open_deals_queue_as_erlang_c() -> None:
    """Two AEs of at most one open deal each, a stage of exponential stay 1 day, 1.5
    deals a day: the wait for a place is M/M/2's, Erlang C."""
    team = process("""\
roles: {ae: {title: AE, headcount: 2, max_deals: 1}}
stages:
  - {id: s, name: S, owner: ae, delay: {exponential: {mean: 1}}, work: 0, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 1.5}
""")
    result = simulate(team, Settings(horizon=4000, warmup=400, replications=6, seed=3,
                                     workers=1))
    assert close(result["stage", "s", "queue"], erlang_c(2, 1.5) / (2 - 1.5))
    roles = text.simulation(result).split("\nRoles\n")[1].splitlines()
    assert roles[0].split()[:7] == ["role", "headcount", "time", "for", "deals", "open", "deals"]
    assert roles[1].split()[:5] == ["ae", "2", "100%", "at", "most"]
