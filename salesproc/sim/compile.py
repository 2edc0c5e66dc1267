"""A process compiled into the tables the engine runs on: per buyer type and stage, the
samplers of delay and work, the people needed, the approvals and the route table.

Every random stream is named by what it drives and seeded from (seed, replication,
name), so the same stage draws the same numbers in every variant of a process (common
random numbers). Routes and approval verdicts are not drawn from a stream: they are a
hash of (deal, stage, visit) with the salts made here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from salesproc.core.calendar import WorkingClock
from salesproc.process import routing
from salesproc.process.model import LOST, WON, Approval, Condition, Process
from salesproc.sim import streams
from salesproc.sim.pool import Pool

WON_INDEX: Final = -1  # route targets that are not stages
LOST_INDEX: Final = -2


class CompiledApproval:
    """One approval of a stage, ready to run."""

    __slots__ = ("business", "delay", "name", "no_work", "on_reject", "pool", "reject", "timed",
                 "verdict", "when", "work")
    verdict: int  # salt of the per-deal verdict draw
    business: bool  # the delay counts business days
    timed: bool  # the approver's working time differs from calendar time (calendar, ramp)
    delay: Callable[[], float]
    no_work: bool
    name: str
    on_reject: int | None
    pool: Pool
    reject: float
    when: Condition | None
    work: Callable[[], float]


class Step:
    """A stage as one buyer type sees it, compiled for speed."""

    __slots__ = ("approvals", "book", "business", "clock", "delay", "index", "lost_outcome",
                 "lost_reason", "moves_row", "no_work", "owner", "pass_cum", "pass_salt",
                 "pass_to", "patience", "plain", "pools", "queue_row", "ramped", "reason_cum",
                 "reason_salt", "reasons", "route_cum", "route_salt", "route_to", "simple",
                 "slot", "solo", "timed", "when", "work")
    approvals: list[CompiledApproval]
    book: Pool | None  # places for the owner's open deals (max_deals); None: no limit
    simple: bool  # no clock and no book: a visit's times are counted as they are
    business: bool  # the delay counts business days
    clock: WorkingClock | None  # the owner's working clock (None: around the clock)
    owner: Pool  # whose working time the work takes (a meeting's too)
    ramped: bool  # a role of the stage has a ramp: deals remember who worked on them
    plain: bool  # neither timed nor ramped: work takes its own length (the fast path)
    solo: bool  # plain work for one person of one role of fixed headcount (the hot path)
    timed: bool  # the owner's working time differs from calendar time (calendar, ramp)
    delay: Callable[[], float] | None
    index: int
    lost_outcome: str
    lost_reason: str
    no_work: bool
    patience: float | None
    pools: list[Pool]
    route_cum: list[float]
    route_to: list[int]  # where a draw falling in each route_cum interval goes, then lost
    work: Callable[[], float]
    route_salt: int
    # `lost_reasons:` (none for one reason): the reasons, their cumulative shares, the salt
    # of the per-deal draw of which one a lost deal gives
    reasons: list[str]
    reason_cum: list[float]
    reason_salt: int
    # the stage's own `when:` (None: every deal goes through), and where a deal it does not
    # let in goes (routing.passes: cumulative shares, targets, then lost; a per-deal draw)
    when: Condition | None
    pass_cum: list[float]
    pass_to: list[int]
    pass_salt: int
    # where the engine's collector counts this stage's visits (Collector.slot), its moves
    # (Collector.moves_row) and its waits for the role at position 0 (Collector.queue_slot;
    # a role's own position is added): set by the engine, which owns the collector
    slot: int
    moves_row: int
    queue_row: int


def compile_steps(process: Process, pools: Mapping[str, Pool], seed: int,
                  replication: int, books: Mapping[str, Pool] | None = None
                  ) -> list[list[Step | None]]:
    """[buyer][stage] -> Step (None where a stage is off that buyer's path), in the
    order of process.buyer_types and process.stages; *books* are the places for each
    role's open deals, where its max_deals limits them."""
    return [_buyer_steps(process, b, pools, seed, replication, books or {})
            for b in process.buyer_types]


def _buyer_steps(process: Process, buyer_id: str, pools: Mapping[str, Pool], seed: int,
                 replication: int, books: Mapping[str, Pool]) -> list[Step | None]:
    buyer = process.buyer_types[buyer_id]
    stage_ids = list(process.stages)
    role_order = list(pools)

    def stream(dist: Any, name: str) -> Callable[[], float]:
        return streams.sampler(dist, seed, replication, name)

    def target(to: str) -> int:
        return WON_INDEX if to == WON else LOST_INDEX if to == LOST else stage_ids.index(to)

    steps: list[Step | None] = []
    for index, sid in enumerate(stage_ids):
        stage = buyer.stages.get(sid)
        if stage is None:
            steps.append(None)
            continue
        prefix = f"{buyer_id}/{sid}"
        step = Step()
        step.index = index
        step.delay = None if streams.is_zero(stage.delay) else \
            stream(stage.delay, f"{prefix}/delay")
        step.no_work = streams.is_zero(stage.work)
        step.work = _stretched(stream(stage.work, f"{prefix}/work"),
                               process.roles[stage.owner].time_for_deals)
        step.pools = sorted((pools[r] for r in dict.fromkeys(stage.roles)),
                            key=lambda p: role_order.index(p.id))
        step.owner = pools[stage.owner]
        step.clock = step.owner.clock
        step.timed = _timed(step.owner)
        step.ramped = any(p.ramp is not None for p in step.pools)
        step.plain = not (step.timed or step.ramped)
        step.book = books.get(stage.owner)
        step.simple = step.clock is None and step.book is None
        step.solo = step.plain and len(step.pools) == 1 and step.owner.plain \
            and not step.no_work
        step.business = stage.delay_business
        step.patience = stage.patience
        step.lost_reason = stage.lost_reason
        step.lost_outcome = f"lost: {stage.lost_reason}"
        table = routing.routes(stage)
        # a draw past the last route's cumulative chance is lost: the one more entry
        step.route_to = [*(target(to) for to, _ in table), LOST_INDEX]
        step.route_cum = [math.fsum(p for _, p in table[: i + 1]) for i in range(len(table))]
        step.route_salt = streams.salt(seed, replication, f"{prefix}/route")
        step.reasons = [r for r, _ in stage.lost_reasons]
        step.reason_cum = _cumulative([p for _, p in stage.lost_reasons])
        step.reason_salt = streams.salt(seed, replication, f"{prefix}/lost reason")
        step.when = stage.when
        onward = routing.passes(stage)
        step.pass_to = [*(target(to) for to, _ in onward), LOST_INDEX]
        step.pass_cum = _cumulative([p for _, p in onward])
        step.pass_salt = streams.salt(seed, replication, f"{prefix}/pass")
        # approvals' streams are named by role and name, not position, so that a variant
        # adding an approval leaves the others' draws (common random numbers) alone
        names = [f"{prefix}/approval/{a.role}/{a.name}" for a in stage.approvals]
        step.approvals = [
            _approval(a, routing.approval_label(stage, k),
                      name + (f"#{names[:k].count(name)}" if names[:k].count(name) else ""),
                      pools, stream, target, seed, replication,
                      process.roles[a.role].time_for_deals)
            for k, (a, name) in enumerate(zip(stage.approvals, names, strict=True))]
        steps.append(step)
    return steps


def _cumulative(shares: list[float]) -> list[float]:
    """Running sums of *shares*, scaled so that the last is 1 (rounding aside)."""
    total = math.fsum(shares) or 1.0
    return [math.fsum(shares[: i + 1]) / total for i in range(len(shares))]


def _stretched(draw: Callable[[], float], share: float) -> Callable[[], float]:
    """Work drawn as written, taking a person who gives deals *share* of their time 1/share
    as long (the same draws: a variant changing the share keeps its common random
    numbers)."""
    if share >= 1.0:
        return draw
    stretch = 1.0 / share
    return lambda: draw() * stretch


def _timed(pool: Pool) -> bool:
    return pool.clock is not None or pool.ramp is not None


def _approval(approval: Approval, label: str, prefix: str, pools: Mapping[str, Pool],
              stream: Callable[[Any, str], Callable[[], float]],
              target: Callable[[str], int], seed: int, replication: int,
              share: float = 1.0) -> CompiledApproval:
    compiled = CompiledApproval()
    compiled.name = label
    compiled.when = approval.when
    compiled.pool = pools[approval.role]
    compiled.delay = stream(approval.delay, f"{prefix}/delay")
    compiled.work = _stretched(stream(approval.work, f"{prefix}/work"), share)
    compiled.no_work = streams.is_zero(approval.work)
    compiled.timed = _timed(compiled.pool)
    compiled.business = approval.delay_business
    compiled.reject = approval.reject
    compiled.verdict = streams.salt(seed, replication, f"{prefix}/verdict")
    compiled.on_reject = None if approval.on_reject is None else target(approval.on_reject)
    return compiled
