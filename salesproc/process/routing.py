"""Where a deal goes when it finishes a stage: the one home of the routing rule.

A stage's approvals are decided first: each that applies says no with its `reject`
chance, and the first to say no, in the order written, sends the deal to its `on_reject`
stage or loses it. A deal every approval lets through takes a route from `next` with its
probability (`won`, a stage, or `lost` written as a route); whatever the routes leave
over is lost for the stage's `lost_reason` (or, with `lost_reasons`, for each reason by
its share).

A stage with its own `when:` is gone through only by the deals that match it; the others
pass straight on, where `next` sends deals, in proportion to its routes to stages and
`won` (a deal that did not go through a stage is not lost there).

:func:`routes` is that rule for `next` alone (what the simulator draws from, per deal);
:func:`exits` the whole rule as shares of the deals finishing the stage, which the
closed forms (:mod:`salesproc.process.analysis`), the drawings
(:mod:`salesproc.drawing.graph`) and the flow checks (:mod:`salesproc.process.lint`) all read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from salesproc.process.model import LOST, WON, BuyerType, Stage

ExitKind = Literal["route", "rejection", "lost"]
ROUNDING = 1e-9  # routes adding up to 1 within this leave nothing lost (0.1 + 0.2 + 0.7)


@dataclass(frozen=True)
class Exit:
    """One way out of a stage for one buyer type.

    *target* is a stage id, ``won`` or ``lost``; *share* the fraction of the deals
    finishing the stage that take it. *kind*: ``route`` (from `next`), ``rejection`` (an
    approval sends the deal back to a stage) or ``lost``. *approval* is the index of the
    approval that decided a rejection or a loss by refusal (None otherwise); *reason*
    says why a deal is lost, or which approval sent it back.
    """

    target: str
    share: float
    kind: ExitKind
    approval: int | None = None
    reason: str = ""


def routes(stage: Stage) -> list[tuple[str, float]]:
    """`next` as (target, probability) for deals that passed the approvals, in written
    order, routes of probability 0 left out; the remainder (1 - the sum) is lost."""
    return [(route.to, route.probability) for route in stage.next if route.probability > 0]


def approval_label(stage: Stage, k: int) -> str:
    """How an approval is named in results and drawings: its name, else who gives it."""
    approval = stage.approvals[k]
    return approval.name or f"approval by {approval.role}"


def refusal(label: str) -> str:
    """The loss reason of a deal an approval (named *label*: approval_label) said no to,
    with no `on_reject`: in results, event logs and the exports made from them."""
    return f"rejected: {label}"


def exits(stage: Stage, buyer: BuyerType) -> list[Exit]:
    """Every way out of *stage* for deals of *buyer*, with its share: rejections in the
    order written, then routes, then the loss; the shares add up to 1."""
    out: list[Exit] = []
    passed = 1.0  # the share of deals no earlier approval has said no to
    for k, approval in enumerate(stage.approvals):
        p_reject = approval.probability(buyer.value, buyer.id, buyer.fields) * approval.reject
        share = passed * p_reject
        if share > 0:
            label = approval_label(stage, k)
            if approval.on_reject is None:
                out.append(Exit(LOST, share, "lost", k, refusal(label)))
            else:
                out.append(Exit(approval.on_reject, share, "rejection", k, label))
        passed *= 1.0 - p_reject
    for target, probability in routes(stage):
        if target == LOST:
            out.extend(_losses(stage, passed * probability))
        else:
            out.append(Exit(target, passed * probability, "route"))
    rest = passed * (1.0 - math.fsum(p for _, p in routes(stage)))
    if rest > ROUNDING:
        out.extend(_losses(stage, rest))
    return out


def _losses(stage: Stage, share: float) -> list[Exit]:
    """*share* of the deals lost at *stage*, one exit per reason by its share."""
    return [Exit(LOST, share * p, "lost", reason=reason) for reason, p in stage.reasons
            if p > 0]


def goes_through(stage: Stage, buyer: BuyerType) -> float:
    """Share of the deals of *buyer* reaching *stage* that go through it: those its
    `when:` lets in (all, without one)."""
    if stage.when is None:
        return 1.0
    return stage.when.probability(buyer.value, buyer.id, buyer.fields)


def passes(stage: Stage) -> list[tuple[str, float]]:
    """Where a deal that does not match *stage*'s `when:` goes instead: `next`'s routes
    to stages and won, each by its share of them; none when `next` has no such route
    (such a deal is then lost, for the stage's reasons)."""
    onward = [(t, p) for t, p in routes(stage) if t != LOST]
    total = math.fsum(p for _, p in onward)
    return [(t, p / total) for t, p in onward] if total > 0 else []


def skips(stage: Stage, buyer: BuyerType) -> list[Exit]:
    """The ways on of the deals of *buyer* that reach *stage* and do not go through it,
    as shares of the deals reaching it."""
    share = 1.0 - goes_through(stage, buyer)
    if share <= ROUNDING:
        return []
    onward = passes(stage)
    if not onward:
        return _losses(stage, share)
    return [Exit(t, share * p, "route") for t, p in onward]


def from_reaching(stage: Stage, buyer: BuyerType) -> list[Exit]:
    """Every way on for the deals of *buyer* that reach *stage*: through it (its exits,
    scaled by the share its `when:` lets in) or past it; the shares add up to 1."""
    through = goes_through(stage, buyer)
    return [Exit(e.target, e.share * through, e.kind, e.approval, e.reason)
            for e in exits(stage, buyer)] + skips(stage, buyer)


def to_stages(stage: Stage, buyer: BuyerType) -> dict[str, float]:
    """Share of deals reaching *stage* that reach each stage next (rework included):
    through the stage, or past it when its `when:` does not let them in."""
    shares: dict[str, float] = {}
    for e in from_reaching(stage, buyer):
        if e.target not in (WON, LOST):
            shares[e.target] = shares.get(e.target, 0.0) + e.share
    return shares


def won_share(stage: Stage, buyer: BuyerType) -> float:
    """Share of deals reaching *stage* that are won from there (through it or past it)."""
    return math.fsum(e.share for e in from_reaching(stage, buyer) if e.target == WON)


def targets(stage: Stage, buyer: BuyerType) -> set[str]:
    """Where a deal can go from *stage* (with a chance above 0): stage ids, won, lost. A
    stage with patience can always lose a deal that waits too long."""
    found = {e.target for e in from_reaching(stage, buyer)}
    if stage.patience is not None:
        found.add(LOST)
    return found
