"""Closed-form figures of a process: expected visits, win chance, offered load.

These come from the routing probabilities alone (a Markov chain over stages), with no
simulation: lint uses them to warn about over-capacity roles, the playbook quotes them,
and the simulator's tests check its counts against them.
"""

from __future__ import annotations

import math

from salesproc.core.units import HOURS
from salesproc.process import routing
from salesproc.process.model import WON, BuyerType, Process


def expected_visits(buyer: BuyerType) -> dict[str, float]:
    """Mean number of times one deal of *buyer* enters each stage, deals entering where
    its `enter:` says: the times it reaches the stage, less those its `when:` sends past."""
    return {s: r * routing.goes_through(buyer.stages[s], buyer)
            for s, r in expected_reaches(buyer).items()}


def expected_reaches(buyer: BuyerType) -> dict[str, float]:
    """Mean number of times one deal of *buyer* reaches each stage (traffic equations):
    goes through it, or past it when the stage's `when:` does not let it in."""
    ids = list(buyer.path)
    index = {s: i for i, s in enumerate(ids)}
    # v = e_start + v P  <=>  (I - P^T) v = e_start
    matrix = _less_routes(buyer, index, transposed=True)
    entries = buyer.entry_shares()
    rhs = [entries.get(s, 0.0) for s in ids]
    solution = _solve(matrix, rhs)
    return {s: max(0.0, solution[index[s]]) for s in ids}


def win_probability(buyer: BuyerType) -> float:
    """Chance that a deal of *buyer* is eventually won (from the routing alone)."""
    reaches = expected_reaches(buyer)
    return math.fsum(r * routing.won_share(buyer.stages[s], buyer) for s, r in reaches.items())


def win_chances(buyer: BuyerType) -> dict[str, float]:
    """The chance that a deal of *buyer* now in each stage of its path is won (from the
    routing alone, approvals included; patience is not in it): what a CRM calls a stage's
    probability. Solves r = w + P r over the chance r of a deal that reaches a stage (its
    `when:` may send it past), then takes one stage's own exits from there."""
    ids = list(buyer.path)
    index = {s: i for i, s in enumerate(ids)}
    # r = w + P r  <=>  (I - P) r = w
    matrix = _less_routes(buyer, index, transposed=False)
    reach = _solve(matrix, [routing.won_share(buyer.stages[s], buyer) for s in ids])
    return {s: min(1.0, max(0.0, math.fsum(
        e.share * (1.0 if e.target == WON else reach[index[e.target]]
                   if e.target in index else 0.0)
        for e in routing.exits(buyer.stages[s], buyer)))) for s in ids}


def stage_win_chances(process: Process) -> dict[str, float]:
    """Each stage's chance to win, every buyer type together: its buyer types' chances
    from the stage (:func:`win_chances`), weighted by how many of their deals reach it
    (leads by share, times :func:`expected_reaches`). A stage no deal reaches gets the
    plain mean of the chances of the buyer types whose path has it; a stage on no path,
    its chance by the stages' own routes (as written, every stage in order)."""
    weighted: dict[str, list[tuple[float, float]]] = {s: [] for s in process.stages}
    for buyer in process.buyer_types.values():
        reaches = expected_reaches(buyer)
        for s, chance in win_chances(buyer).items():
            weighted[s].append((buyer.share * reaches[s], chance))
    unreached = [s for s, pairs in weighted.items() if not pairs]
    if unreached and process.buyer_types:  # on no path: by the stages' own routes
        every = next(iter(process.buyer_types.values()))
        whole = BuyerType(id="", name="", share=1.0, value=every.value,
                          path=tuple(process.stages), stages=process.stages)
        chances = win_chances(whole)
        for s in unreached:
            weighted[s].append((0.0, chances[s]))
    found = {}
    for s, pairs in weighted.items():
        total = math.fsum(w for w, _ in pairs)
        found[s] = (math.fsum(w * c for w, c in pairs) / total if total > 0 else
                    math.fsum(c for _, c in pairs) / len(pairs) if pairs else 0.0)
    return found


def lead_rates(process: Process) -> dict[str, float]:
    """Average leads per time unit for each buyer type, campaigns spread over the horizon."""
    if process.arrivals is None:
        return {b: 0.0 for b in process.buyer_types}
    rates = {b: process.arrivals.rate * bt.share for b, bt in process.buyer_types.items()}
    horizon = process.simulation.horizon
    for campaign in process.arrivals.campaigns:
        times = 1 if campaign.every is None or campaign.every <= 0 else \
            max(0, math.floor((horizon - campaign.at) / campaign.every) + 1)
        if campaign.at > horizon or horizon <= 0:
            continue
        per_time = campaign.leads * times / horizon
        if campaign.buyer_type is None:
            for b, bt in process.buyer_types.items():
                rates[b] += per_time * bt.share
        else:
            rates[campaign.buyer_type] += per_time
    return rates


def offered_load(process: Process) -> dict[str, float]:
    """Average number of people of each role busy on deals (work rate x mean work time).
    A piece of work takes its owner's people 1/time_for_deals as long (the rest of their
    time goes to meetings, admin, travel), and everyone at a meeting is held that long."""
    load = {r: 0.0 for r in process.roles}
    roles = process.roles
    for b, rate in lead_rates(process).items():
        buyer = process.buyer_types[b]
        for s, visits in expected_visits(buyer).items():
            stage = buyer.stages[s]
            stretch = 1.0 / roles[stage.owner].time_for_deals
            for role in stage.roles:
                load[role] += rate * visits * stage.work.mean * stretch
            for approval in stage.approvals:
                applies = approval.probability(buyer.value, b, buyer.fields)
                load[approval.role] += rate * visits * applies * approval.work.mean \
                    / roles[approval.role].time_for_deals
    return load


def open_deals(process: Process) -> dict[str, float]:
    """For each role whose people carry at most max_deals open deals: how many deals its
    stages hold on average even if nobody ever waited (Little's law: deals a time unit x
    visits x the mean delay and work of each of its stages, work spread over its
    calendar). Above headcount x max_deals, the places can never keep up."""
    held = {r: 0.0 for r, role in process.roles.items() if role.max_deals is not None}
    unit = process.time_unit
    for b, rate in lead_rates(process).items():
        buyer = process.buyer_types[b]
        for s, visits in expected_visits(buyer).items():
            stage = buyer.stages[s]
            role = process.roles[stage.owner]
            if role.id not in held:
                continue
            delay = stage.delay.mean
            if stage.delay_business:
                delay = process.calendar.business(delay, unit)
            work = role.calendar.elapsed(stage.work.mean / role.time_for_deals, unit)
            held[role.id] += rate * visits * (delay + work)
    return held


def utilization(process: Process) -> dict[str, float]:
    """Each role's offered work over the working time its people have (above 1: the queue
    grows without end). Work is in working time; a role's people are there for their
    calendar's share of the week, on average over the horizon (headcount by date)."""
    load = offered_load(process)
    unit = process.time_unit
    work_share = process.calendar.work_hours(unit) / HOURS[unit]  # working per calendar hour
    found = {}
    for rid, role in process.roles.items():
        present = role.mean_headcount(process.simulation.horizon) \
            * role.calendar.hours_per_week / (24 * 7)
        demand = load[rid] * work_share
        found[rid] = demand / present if present else (math.inf if demand else 0.0)
    return found


def _less_routes(buyer: BuyerType, index: dict[str, int], *, transposed: bool
                 ) -> list[list[float]]:
    """I - P (or I - P^T), P[s][t] the share of *buyer*'s deals that go from stage s to
    stage t (*index*: each stage's row)."""
    n = len(index)
    matrix = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for s in index:
        for t, p in routing.to_stages(buyer.stages[s], buyer).items():
            row, column = (index[t], index[s]) if transposed else (index[s], index[t])
            matrix[row][column] -= p
    return matrix


#: Systems with more rows than this are solved with numpy (the same steps, row operations
#: done in C): a CRM's stage set may hold hundreds of values, and pure Python takes O(n^3).
_LARGE = 32


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting (one row per stage); a large system
    with numpy, step for step the same arithmetic, so both give the same numbers."""
    n = len(rhs)
    if n > _LARGE:
        return _solve_large(matrix, rhs)
    a = [[*row, rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ValueError("deals can circle forever: the routing has no way out")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col and a[r][col] != 0.0:
                factor = a[r][col] / a[col][col]
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    return [a[i][n] / a[i][i] for i in range(n)]


def _solve_large(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """:func:`_solve`'s steps on a numpy array: the same pivots, and each row operation
    the same ``a[r][c] - factor * a[col][c]`` on the same columns, for every row at once."""
    import numpy as np

    n = len(rhs)
    a = np.array([[*row, rhs[i]] for i, row in enumerate(matrix)], dtype=float).reshape(n, n + 1)
    for col in range(n):
        pivot = col + int(np.argmax(np.abs(a[col:, col])))
        if abs(a[pivot, col]) < 1e-12:
            raise ValueError("deals can circle forever: the routing has no way out")
        if pivot != col:
            a[[col, pivot]] = a[[pivot, col]]
        factors = a[:, col] / a[col, col]
        factors[col] = 0.0
        rows = np.nonzero(factors)[0]
        if rows.size:
            a[rows, col:] -= factors[rows, None] * a[col, col:]
    return [float(a[i, n] / a[i, i]) for i in range(n)]
