"""Closed forms: expected visits, win chance and load, checked on hand-solvable flows."""

from __future__ import annotations

import pytest

from salesproc import check_text
from salesproc.process import analysis, routing

FUNNEL = """
salesproc: 1
name: Funnel
roles: {a: {title: A, headcount: 3}}
stages:
  - {id: s1, name: S1, owner: a, work: 0.5, next: {s2: 0.6}}
  - {id: s2, name: S2, owner: a, work: 1, next: {s3: 0.5, s1: 0.2}}
  - {id: s3, name: S3, owner: a, work: 2, next: {won: 0.9}}
buyer_types: {b: {name: B, share: 1, value: 100}}
arrivals: {rate: 1}
"""


def test_visits_solve_the_traffic_equations() -> None:
    process = check_text(FUNNEL).process
    assert process is not None
    buyer = process.buyer_types["b"]
    visits = analysis.expected_visits(buyer)
    # v1 = 1 + 0.2 v2, v2 = 0.6 v1  =>  v1 = 1 / (1 - 0.12)
    v1 = 1 / (1 - 0.12)
    assert visits["s1"] == pytest.approx(v1)
    assert visits["s2"] == pytest.approx(0.6 * v1)
    assert visits["s3"] == pytest.approx(0.3 * v1)
    assert analysis.win_probability(buyer) == pytest.approx(0.9 * 0.3 * v1)
    load = analysis.offered_load(process)["a"]
    assert load == pytest.approx(v1 * (0.5 + 0.6 * 1 + 0.3 * 2))


def test_rejection_goes_back_in_written_order() -> None:
    text = FUNNEL.replace(
        "next: {won: 0.9}}",
        "next: {won: 1}, approvals: [{by: a, reject: 0.5, on_reject: s2}, {by: a, reject: 0.5}]}")
    process = check_text(text).process
    assert process is not None
    buyer = process.buyer_types["b"]
    out = routing.exits(buyer.stages["s3"], buyer)
    assert out == [
        routing.Exit("s2", 0.5, "rejection", 0, "approval by a"),
        routing.Exit("lost", 0.25, "lost", 1, "rejected: approval by a"),
        routing.Exit("won", 0.25, "route"),
    ]
    assert routing.to_stages(buyer.stages["s3"], buyer) == {"s2": 0.5}
    assert routing.won_share(buyer.stages["s3"], buyer) == pytest.approx(0.25)


def test_routes_that_add_up_to_one_leave_nothing_lost() -> None:
    text = FUNNEL.replace("next: {won: 0.9}", "next: {won: 0.7, s1: 0.1, s2: 0.2}")
    process = check_text(text).process
    assert process is not None
    buyer = process.buyer_types["b"]
    assert {e.target for e in routing.exits(buyer.stages["s3"], buyer)} == {"won", "s1", "s2"}
    assert "lost" in routing.targets(buyer.stages["s1"], buyer)  # 0.4 of s1 is lost


def test_a_large_system_is_solved_step_for_step_as_a_small_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage set of hundreds of values (real orgs have them) is solved with numpy: the
    same elimination, so the same numbers to the last bit, and the same refusal of a
    routing with no way out."""
    n = analysis._LARGE + 8
    matrix = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for i in range(n - 1):
        matrix[i][i + 1] -= 0.3 + 0.6 * ((i * 7) % 10) / 10  # onwards
        if i >= 3 and i % 4 == 0:
            matrix[i][i - 3] -= 0.05  # back for rework
    rhs = [((i * 3) % 5) / 5 for i in range(n)]
    circle = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for i in range(n):
        circle[i][(i + 1) % n] -= 1.0  # every deal goes round for ever
    large = analysis._solve(matrix, rhs)
    with pytest.raises(ValueError, match="circle forever"):
        analysis._solve(circle, [0.0] * n)
    monkeypatch.setattr(analysis, "_LARGE", n)  # the pure-Python steps, at this size
    assert analysis._solve(matrix, rhs) == large
    with pytest.raises(ValueError, match="circle forever"):
        analysis._solve(circle, [0.0] * n)
