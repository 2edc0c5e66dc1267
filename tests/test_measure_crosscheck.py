"""Every figure `salesproc measure` reports, cross-checked against an independent pandas
computation from the raw CSV files (issue 19: "every measure figure cross-checked against
an independent pandas computation, values as they stood").

A generated history with the real export's mess (an import burst, deals entered after the
fact, zombies, amounts that shrink, four currencies, Spanish stage names; no NUL bytes) is
written as a stage-change CSV, a HubSpot deals export and a Salesforce export. The
reference side reads those files with ``pandas.read_csv`` and builds everything itself:
the CRM's stage names come from the generator's own table (not salesproc's mapping), the
visits from sorting and shifting the rows, the buyer types from the file's segment and
amount rules (read from its YAML), the Kaplan–Meier curve from a product-limit of its own,
the Wilson interval from its formula. Nothing of salesproc's reading or measuring is
called on that side.

Both sides are compared at the end of the history and at an as-of date well inside it,
through the library (``salesproc.read_history`` and ``salesproc.measure``)
and through ``measure --format json``. Counts must be equal; sums and times of the same
numbers may differ only by the order of summation (a relative 1e-9, far below a cent or
a second); figures of the process file (its simulated times, its shares) are not the
export's and are checked only for being told apart right (``outside``).

Values as they stood: at an as-of date, a deal's amount is the one on its latest row by
then (Salesforce OpportunityHistory's ``Amount``, the stage-change CSV's ``amount``),
converted at the file's rate; HubSpot keeps only the exported amount.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import salesproc
from salesproc.prediction.synthetic import (
    PRESETS,
    Shape,
    SyntheticHistory,
    generate,
    variant,
    write,
)
from tests.conftest import CASES, run

PROCESS = CASES / "history" / "steady-five-step.yaml"
START = dt.date(2025, 6, 2)
DAYS = 240  # the import burst (days 180 to 240) included: about 520 deals
# NUL bytes are the readers' own tests; 30 deals a month (not 14) so that four months have
# 30 visits of a stage, which widens the interval of its mean time (batch means)
MESS = replace(PRESETS["real"], nul_bytes=0, per_month=30)
# Well inside: open deals whose amount changed later, and deals stale only by the longest
# finished stay (tests below make sure of both)
INSIDE = START + dt.timedelta(days=80)
SHAPES: tuple[Shape, ...] = ("generic", "hubspot", "salesforce")
Z = NormalDist().inv_cdf(0.975)
REL = 1e-9  # the same numbers summed in another order
NO_REASON = "(no reason given)"
OPPORTUNITY = "call"  # the file names no opportunity stage: its second stage is
DAY = pd.Timedelta(days=1)
# Figures that depend on a deal's amount: as it stood at the as-of date.
VALUE_FIGURES = ("won_value", "velocity_per_month", "value", "approvals")


# --- the generated exports ----------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """One shape of the history on disk, and the process file that reads it."""

    shape: Shape
    files: list[Path]
    process: Path
    truth: SyntheticHistory


@pytest.fixture(scope="module")
def truth() -> SyntheticHistory:
    return generate(PROCESS, MESS, seed=3, start=START, days=DAYS)


@pytest.fixture(scope="module")
def exports(truth: SyntheticHistory, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, Export]:
    folder = tmp_path_factory.mktemp("crosscheck")
    return {shape: Export(shape, sorted(write(truth, folder / shape, shape)),
                          variant(truth, folder / f"{shape}.yaml", shape), truth)
            for shape in SHAPES}


# --- the raw files, read with pandas --------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """What the files hold: one row per deal (in file order: deal, created, segment,
    reason, currency, amount and close date as exported), one per row of its history
    (deal, code: a stage id, won or lost; at), and one per amount (and close date) on a
    history row (deal, at, amount, close), where the export keeps them."""

    deals: pd.DataFrame
    changes: pd.DataFrame
    amounts: pd.DataFrame | None


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=object, keep_default_na=False)  # plain text


def _times(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="ISO8601", utc=True).dt.tz_localize(None)


def _codes(truth: SyntheticHistory) -> dict[str, str]:
    """The CRM's stage names (the generator's own table) -> stage id, won or lost."""
    return {**{name: sid for sid, name in truth.names.items()},
            truth.fields.won: "won", truth.fields.lost: "lost"}


def raw(export: Export) -> Raw:
    codes = _codes(export.truth)
    folder = export.files[0].parent
    if export.shape == "salesforce":
        opp, hist = _csv(folder / "Opportunity.csv"), _csv(folder / "OpportunityHistory.csv")
        deals = pd.DataFrame({"deal": opp.Id, "created": _times(opp.CreatedDate),
                              "segment": opp.Segment__c, "reason": opp.Loss_Reason__c,
                              "currency": opp.CurrencyIsoCode,
                              "amount": opp.Amount.astype(float),
                              "close": pd.to_datetime(opp.CloseDate)})
        changes = pd.DataFrame({"deal": hist.OpportunityId, "code": hist.StageName.map(codes),
                                "at": _times(hist.CreatedDate)})
        amounts = pd.DataFrame({"deal": hist.OpportunityId, "at": changes["at"],
                                "amount": hist.Amount.astype(float),
                                "close": pd.to_datetime(hist.CloseDate)})
        # every deal's flags agree with its history's last row (else the reader settles)
        last = changes.groupby("deal", sort=False).code.last()
        assert (last.reindex(opp.Id).eq("won").to_numpy() == (opp.IsWon == "true")).all()
        return Raw(deals, changes, amounts)
    if export.shape == "generic":
        rows = _csv(folder / "changes.csv")
        rows["at"] = _times(rows.changed_at)
        latest = rows.sort_values("at", kind="stable").groupby("deal", sort=False).last()
        order = rows.deal.drop_duplicates()
        deals = pd.DataFrame({"deal": order.to_numpy(),
                              "created": rows.groupby("deal")["at"].min().reindex(order).to_numpy(),
                              **{c: latest[c].reindex(order).to_numpy()
                                 for c in ("segment", "reason", "currency")},
                              "amount": latest.amount.reindex(order).astype(float).to_numpy(),
                              "close": pd.NaT})  # the stage-change CSV has no close date
        changes = pd.DataFrame({"deal": rows.deal, "code": rows.stage.map(codes),
                                "at": rows["at"]})
        amounts = pd.DataFrame({"deal": rows.deal, "at": rows["at"],
                                "amount": rows.amount.astype(float), "close": pd.NaT})
        return Raw(deals, changes, amounts)
    table = _csv(folder / "deals.csv")
    deals = pd.DataFrame({"deal": table["Record ID"], "created": _times(table["Create Date"]),
                          "segment": table.Segment, "reason": table["Closed Lost Reason"],
                          "currency": table.Currency, "amount": table.Amount.astype(float),
                          "close": pd.to_datetime(table["Close Date"])})
    entered = {c: c.removeprefix('Date entered "').removesuffix(' (Sales Pipeline)"')
               for c in table.columns if c.startswith("Date entered")}
    long = table.melt(id_vars=["Record ID"], value_vars=list(entered), var_name="column",
                      value_name="when")  # column by column, as HubSpot lays them out
    long = long[long.when != ""]
    changes = pd.DataFrame({"deal": long["Record ID"], "code": long.column.map(entered)
                            .map(codes), "at": _times(long.when)})
    return Raw(deals, changes, None)


# --- the history as it stood, built with pandas ----------------------------------------------


@dataclass(frozen=True)
class Stood:
    """The deals and visits as they stood at *cut*: deals (in file order: deal, created,
    buyer, outcome, closed, value, close (the expected close date), touched (its latest
    row), reason), visits (deal, stage, entered, left, exit: a stage id, won, lost or ''
    while open; days, ended)."""

    cut: pd.Timestamp
    deals: pd.DataFrame
    visits: pd.DataFrame


def rates(truth: SyntheticHistory) -> dict[str, float]:
    return {truth.process.currency: 1.0, **dict(truth.mess.currencies)}


def buyer_of(segment: pd.Series, value: pd.Series) -> pd.Series:
    """The file's crm: buyer_types rules in order, the first that matches deciding: on the
    segment column (compared in lower case) or on the amount; else the default."""
    crm = yaml.safe_load(PROCESS.read_text(encoding="utf-8"))["crm"]
    folded = segment.str.strip().str.lower()
    matches = []
    for rule in crm["buyer_types"]:
        if rule["field"] == "amount":
            matches.append(np.all([_applies(value, b) for b in rule.items()
                                   if b[0] in ("gte", "gt", "lte", "lt")], axis=0))
        else:
            words = rule["is"] if isinstance(rule["is"], list) else [rule["is"]]
            matches.append(folded.isin([w.lower() for w in words]).to_numpy())
    return pd.Series(np.select(matches, [r["buyer_type"] for r in crm["buyer_types"]],
                               crm["default_buyer_type"]), index=segment.index)


def stood(r: Raw, truth: SyntheticHistory, cut: dt.datetime | None, *,
          as_they_stood: bool = True) -> Stood:
    """The history at *cut* (default: its latest row): later deals and rows left out."""
    latest = max(r.changes["at"].max(), r.deals.created.max(),
                 r.amounts["at"].max() if r.amounts is not None else r.deals.created.max())
    at = pd.Timestamp(cut) if cut is not None else latest
    deals = r.deals[r.deals.created <= at].reset_index(drop=True)
    place = pd.Series(np.arange(len(deals)), index=deals.deal)
    ch = r.changes[(r.changes["at"] <= at) & r.changes.deal.isin(place.index)].copy()
    ch["place"] = ch.deal.map(place)
    ch = ch.sort_values(["place", "at"], kind="stable")  # ties: in file order
    touched = ch.groupby("deal")["at"].max()  # any row: a stage, an amount, a close date
    repeat = (ch.deal == ch.deal.shift()) & (ch.code == ch.code.shift())
    ch = ch[~repeat]
    by = ch.groupby("deal", sort=False)
    ch["exit"] = by.code.shift(-1).fillna("")
    ch["left"] = by["at"].shift(-1)
    last = by.tail(1).set_index("deal")
    outcome = last.code.where(last.code.isin(["won", "lost"]), "open")
    rate = deals.currency.map(rates(truth))
    exported = deals.amount * rate
    value, close = exported, deals.close.set_axis(deals.deal)
    if as_they_stood and r.amounts is not None:
        rows = r.amounts[r.amounts["at"] <= at].sort_values("at", kind="stable")
        latest_row = rows.groupby("deal").last().reindex(deals.deal)
        value = (latest_row.amount.to_numpy() * rate).fillna(exported)  # no row: exported
        close = latest_row.close.fillna(deals.close.set_axis(deals.deal))
    visits = ch[ch.code.isin(list(truth.process.stages))].rename(
        columns={"code": "stage", "at": "entered"}).reset_index(drop=True)
    visits["ended"] = visits.left.notna()
    visits["days"] = (visits.left.fillna(at) - visits.entered) / DAY
    table = pd.DataFrame({
        "deal": deals.deal, "created": deals.created,
        "buyer": buyer_of(deals.segment, exported).to_numpy(),
        "outcome": outcome.reindex(deals.deal).fillna("open").to_numpy(),
        "closed": last["at"].where(outcome != "open").reindex(deals.deal).to_numpy(),
        "value": np.asarray(value, dtype=float), "close": close.to_numpy(),
        "touched": np.maximum(touched.reindex(deals.deal).to_numpy(), deals.created),
        "reason": deals.reason})
    visits["buyer"] = visits.deal.map(table.set_index("deal").buyer)
    return Stood(at, table, visits)


# --- statistics, written out --------------------------------------------------------------


def wilson(k: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return {"mean": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half), "n": n}


def product_limit(days: pd.Series, ended: pd.Series) -> pd.DataFrame:
    """Kaplan–Meier: at each time a stay ended, those still there before it (at_risk),
    how many ended (events), and the share still there after it (survival)."""
    leaving = days.value_counts().sort_index()
    per = pd.DataFrame({"events": days[ended.to_numpy()].value_counts()
                        .reindex(leaving.index, fill_value=0),
                        "at_risk": len(days) - leaving.cumsum().shift(fill_value=0)})
    per["survival"] = (1 - per.events / per.at_risk).cumprod()
    return per[per.events > 0]


def km_quantile(curve: pd.DataFrame, q: float) -> float | None:
    reached = curve.index[curve.survival <= 1 - q + 1e-9]
    return float(reached[0]) if len(reached) else None


def km_mean(curve: pd.DataFrame, days: pd.Series, ended: pd.Series, entered: pd.Series
            ) -> tuple[float | None, float | None, float | None]:
    """The area under *curve* up to the longest stay seen, with its 95% interval (Klein &
    Moeschberger 4.5), widened by the monthly batch-means inflation."""
    if curve.empty:
        return None, None, None
    ends = np.append(curve.index.to_numpy()[1:], days.max())
    areas = curve.survival.to_numpy() * (ends - curve.index.to_numpy())
    first = curve.index[0]  # before the first event everyone is still there
    mean = first + areas.sum()
    after = areas[::-1].cumsum()[::-1]  # the area after each event time
    n, d = curve.at_risk.to_numpy(), curve.events.to_numpy()
    ok = n > d
    half = Z * math.sqrt(float((after[ok] ** 2 * d[ok] / (n[ok] * (n[ok] - d[ok]))).sum()))
    widen = math.sqrt(inflation(days, ended, entered))
    return mean, max(0.0, mean - half * widen), mean + half * widen


def inflation(days: pd.Series, ended: pd.Series, entered: pd.Series) -> float:
    """The variance of monthly means over that of one visit's, times the visits a month,
    over months with at least 30 visits, 95% of them ended; 1 with fewer than 4."""
    frame = pd.DataFrame({"month": entered.dt.to_period("M").to_numpy(),
                          "days": days.to_numpy(), "ended": ended.to_numpy()})
    count, done = frame.month.value_counts(), frame.month[frame.ended].value_counts()
    done = done.reindex(count.index, fill_value=0)
    eligible = count.index[(count >= 30) & (done >= 0.95 * count)]
    if len(eligible) < 4:
        return 1.0
    used = frame[frame.ended & frame.month.isin(eligible)]
    means = used.groupby("month").days.mean()
    independent = used.days.var() / len(used)
    return max(1.0, float(means.var() / len(means) / independent)) if independent > 0 else 1.0


def quantile(values: pd.Series, q: float) -> float | None:
    return float(values.quantile(q)) if len(values) else None


def fsum(values: Iterable[float]) -> float:
    return math.fsum(v for v in values if v == v)


# --- the process file's own rules (read from its YAML) ---------------------------------------


@dataclass(frozen=True)
class File:
    """The stages in order, each buyer type's path, stages (base with its overrides) and
    patience in days, and the information labels: from the YAML itself."""

    stages: list[str]
    base: dict[str, dict[str, Any]]
    paths: dict[str, list[str]]
    stage: dict[str, dict[str, dict[str, Any]]]
    patience: dict[str, float | None]
    labels: dict[str, str]

    @classmethod
    @functools.cache
    def read(cls, path: Path) -> File:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = {s["id"]: s for s in data["stages"]}
        ids = list(base)
        weeks = {"w": 7.0, "d": 1.0}
        paths, stage, patience = {}, {}, {}
        for b, kind in data["buyer_types"].items():
            paths[b] = kind.get("path", ids)
            stage[b] = {s: {**base[s], **kind.get("stages", {}).get(s, {})} for s in paths[b]}
            text = str(kind.get("patience", "")) or None
            patience[b] = float(text[:-1]) * weeks[text[-1]] if text else None
        labels = {k: v["label"] for k, v in data["information"].items()}
        return cls(ids, base, paths, stage, patience, labels)

    def allowed(self, buyer: str | None, sid: str) -> set[str]:
        """Where the file lets a deal go from *sid*: its next stages, where a rejection
        sends it back, and lost."""
        found = {"lost"}
        for b in [buyer] if buyer else list(self.paths):
            if sid in self.stage[b]:
                s = self.stage[b][sid]
                found |= {t for t, share in s.get("next", {}).items() if share > 0}
                found |= {a["on_reject"] for a in s.get("approvals", [])
                          if a.get("reject") and a.get("on_reject")}
        return found

    def needs(self, buyer: str, sid: str, value: float) -> tuple[list[str], list[str]]:
        s = self.stage[buyer].get(sid) or self.base[sid]  # off its path: the file's own
        approvals = [a.get("name") or f"approval by {a['by']}" for a in s.get("approvals", [])
                     if "when" not in a or value != value
                     or all(_applies(value, bound) for bound in a["when"]["value"].items())]
        return [self.labels[i] for i in s.get("requires", [])], approvals


def _applies(value: Any, bound: tuple[str, float]) -> Any:
    """*value* (a number or a column) within one bound of a `when:` or rule."""
    test: dict[str, Callable[[Any, float], Any]] = {
        "gte": lambda v, b: v >= b, "gt": lambda v, b: v > b, "lte": lambda v, b: v <= b,
        "lt": lambda v, b: v < b}
    return test[bound[0]](value, bound[1])


# --- every figure, the pandas way -------------------------------------------------------------


Limits = Mapping[tuple[str, str], "float | None"]  # (buyer type, stage) -> days


def stale_limits(h: Stood, f: File, *, capped: bool = True) -> Limits:
    """(buyer type, stage) -> days after which an open deal there is stale: the buyer
    type's patience, else the stage's Kaplan–Meier p90 over every visit; but never more
    than the longest stay there that ended (where *capped*)."""
    out = {}
    for sid in f.stages:
        here = h.visits[h.visits.stage == sid]
        p90 = km_quantile(product_limit(here.days, here.ended), 0.9) if len(here) else None
        ended = here.days[here.ended]
        longest = float(ended.max()) if len(ended) and capped else None
        for b in f.paths:
            limit = f.patience[b] if f.patience[b] is not None and sid in f.paths[b] else p90
            out[b, sid] = min(x for x in (limit, longest) if x is not None) \
                if limit is not None or longest is not None else None
    return out


def is_stale(visits: pd.DataFrame, limits: Limits) -> pd.Series:
    limit = [limits[b, s] for b, s in zip(visits.buyer, visits.stage, strict=True)]
    return pd.Series([d > x if x is not None else False
                      for d, x in zip(visits.days, limit, strict=True)], index=visits.index,
                     dtype=bool)


def expected_scope(h: Stood, f: File, buyer: str | None, limits: Limits) -> dict[str, Any]:
    """One scope's figures (all deals, or one buyer type's), in measure's JSON layout."""
    deals = h.deals if buyer is None else h.deals[h.deals.buyer == buyer]
    visits = h.visits[h.visits.deal.isin(deals.deal)]
    return {**outcomes(h, f, deals, visits),
            "pipeline": pipeline(f, deals, visits, limits),
            "moves": moves(f, buyer, visits), "time_in_stage": times(f, visits),
            **paths(f, visits), "lost_reasons": losses(deals, visits),
            **cohorts(f, deals, visits)}


def outcomes(h: Stood, f: File, deals: pd.DataFrame, visits: pd.DataFrame
             ) -> dict[str, Any]:
    """Deals by outcome, win rates (of all closed deals, of those that reached the
    opportunity stage), won value, cycle time of the wins, velocity, new deals a week."""
    counts = deals.outcome.value_counts()
    won, lost = int(counts.get("won", 0)), int(counts.get("lost", 0))
    reached = set(visits.deal[visits.stage.isin(f.stages[f.stages.index(OPPORTUNITY):])])
    opp = deals[deals.deal.isin(reached)]
    closed_opp = opp[opp.outcome != "open"]
    opp_rate = wilson(int((closed_opp.outcome == "won").sum()), len(closed_opp))
    winners = deals[deals.outcome == "won"]
    cycle = (winners.closed - winners.created) / DAY
    average = winners.value.mean()  # NaN-skipping
    open_opps = int((opp.outcome == "open").sum())
    cycle_mean = cycle.mean() if len(cycle) else None
    velocity = open_opps * opp_rate["mean"] * average / cycle_mean * 365 / 12 \
        if cycle_mean and opp_rate["mean"] is not None and average == average else None
    span = (h.cut - deals.created.min()) / DAY
    return {
        "deals": len(deals), "open": int(counts.get("open", 0)), "won": won, "lost": lost,
        "lead_to_win": wilson(won, won + lost), "opportunities": len(closed_opp),
        "opportunity_win_rate": opp_rate, "won_value": fsum(winners.value),
        "cycle_days": {"mean": cycle_mean, "p10": quantile(cycle, 0.1),
                       "p50": quantile(cycle, 0.5), "p90": quantile(cycle, 0.9)},
        "velocity_per_month": velocity, "open_opportunities": open_opps,
        "new_per_week": len(deals) / (span / 7) if span > 0 else None}


def pipeline(f: File, deals: pd.DataFrame, visits: pd.DataFrame, limits: Limits
             ) -> dict[str, Any]:
    """The open visits of each stage: how many, their deals' worth, their age, stale."""
    now = visits[~visits.ended]
    stale = is_stale(now, limits)
    worth = deals.set_index("deal").value
    out = {}
    for sid in f.stages:
        here = now[now.stage == sid]
        out[sid] = {"deals": len(here), "value": fsum(worth.reindex(here.deal)),
                    "age_p50": quantile(here.days, 0.5), "age_p90": quantile(here.days, 0.9),
                    "stale": int(stale[here.index].sum())}
    return out


def moves(f: File, buyer: str | None, visits: pd.DataFrame) -> dict[str, Any]:
    """The ended visits of each stage by where they went, with the share of them."""
    done = visits[visits.ended]
    left = done.stage.value_counts()
    return {f"{sid} > {target}": {"deals": int(count),
                                  "share": wilson(int(count), int(left[sid])),
                                  "allowed": target in f.allowed(buyer, sid)}
            for (sid, target), count in done.value_counts(["stage", "exit"]).items()}


def times(f: File, visits: pd.DataFrame) -> dict[str, Any]:
    """Each stage's time in stage: Kaplan–Meier median, p90 and mean, open visits
    censored; the median of the ended visits alone."""
    out = {}
    for sid in f.stages:
        here = visits[visits.stage == sid]
        curve = product_limit(here.days, here.ended)
        mean, low, high = km_mean(curve, here.days, here.ended, here.entered)
        complete = here.days[here.ended]
        out[sid] = {"visits": len(here), "open": int((~here.ended).sum()),
                    "median": km_quantile(curve, 0.5), "p90": km_quantile(curve, 0.9),
                    "mean": {"mean": mean, "low": low, "high": high, "n": len(here)},
                    "median_complete": float(complete.median()) if len(complete) else None}
    return out


def paths(f: File, visits: pd.DataFrame) -> dict[str, Any]:
    """Where deals were first seen, the stages of their buyer type's path that a move
    forward jumped over, and the moves back along it."""
    first = visits.groupby("deal", sort=False).head(1)
    jumps = visits[visits.exit.isin(f.stages)]
    skipped: dict[str, int] = {}
    backwards = 0
    for b, s, t in zip(jumps.buyer, jumps.stage, jumps.exit, strict=True):
        path = f.paths[b]
        if s not in path or t not in path:
            continue
        i, j = path.index(s), path.index(t)
        backwards += j < i
        for between in path[i + 1:j]:
            skipped[between] = skipped.get(between, 0) + 1
    return {"entered_at": {s: int(c) for s, c in first.stage.value_counts().items()},
            "skipped": skipped, "backwards": backwards}


def losses(deals: pd.DataFrame, visits: pd.DataFrame) -> list[dict[str, Any]]:
    """Lost deals by the stage they were lost from and their reason, most first."""
    losers = deals[deals.outcome == "lost"]
    lost_at = visits[visits.exit == "lost"].groupby("deal").stage.last()
    reasons = pd.DataFrame({"stage": lost_at.reindex(losers.deal).fillna("").to_numpy(),
                            "reason": losers.reason.replace("", NO_REASON).to_numpy()})
    rows = sorted(((s, r, int(c)) for (s, r), c in reasons.value_counts().items()),
                  key=lambda x: (-x[2], x[0], x[1]))
    return [{"stage": s, "reason": r, "deals": c} for s, r, c in rows]


def cohorts(f: File, deals: pd.DataFrame, visits: pd.DataFrame) -> dict[str, Any]:
    """New deals by month created, and each month's deals: how many reached each stage
    (once each), won, lost, still open."""
    month = deals.created.dt.strftime("%Y-%m")
    seen = visits.drop_duplicates(["deal", "stage"])
    reach = pd.crosstab(seen.deal.map(month.set_axis(deals.deal)), seen.stage).reindex(
        columns=f.stages, fill_value=0)
    ends = pd.crosstab(month, deals.outcome).reindex(columns=["won", "lost", "open"],
                                                     fill_value=0)
    return {"new_by_month": {str(m): int(c)
                             for m, c in month.value_counts().sort_index().items()},
            "cohorts": {m: {"created": int(row.sum()),
                            "reached": {s: int(reach.at[m, s]) if m in reach.index else 0
                                        for s in f.stages},
                            **{o: int(row[o]) for o in row.index}}
                        for m, row in ends.iterrows()}}


def quality(h: Stood) -> dict[str, int]:
    """The data-quality notes' counts: open deals whose expected close date (as it stood)
    is before the as-of day (SP821), open deals with no row for 90 days (SP822), wins
    within an hour of creation (SP823); a note only where there are some."""
    d = h.deals
    still = d.outcome == "open"
    counts = {"SP821": still & (d.close < h.cut.normalize()),
              "SP822": still & (h.cut - d.touched >= pd.Timedelta(days=90)),
              "SP823": (d.outcome == "won") & (d.closed - d.created <= pd.Timedelta(hours=1))}
    return {code: int(n.sum()) for code, n in counts.items() if n.any()}


def expected(h: Stood, f: File) -> dict[str, Any]:
    limits = stale_limits(h, f)
    overall = expected_scope(h, f, None, limits)
    buyers = {b: expected_scope(h, f, b, limits) for b in f.paths if (h.deals.buyer == b).any()}
    now = h.visits[~h.visits.ended]
    stale = is_stale(now, limits)
    values = h.deals.set_index("deal").value
    open_deals = {}
    for k, row in now.iterrows():
        requires, approvals = f.needs(row.buyer, row.stage, values[row.deal])
        open_deals[row.deal] = {"buyer_type": row.buyer, "stage": row.stage, "age": row.days,
                                "value": values[row.deal], "stale": bool(stale[k]),
                                "requires": requires, "approvals": approvals}
    used = {m.split(" > ")[0] for m in overall["moves"]} | {
        s for s, t in overall["time_in_stage"].items() if t["visits"]}
    return {"as_of": h.cut.isoformat(), "first_created": h.deals.created.min().isoformat(),
            "quality": quality(h),
            "overall": overall, "buyer_types": buyers, "open_deals": open_deals,
            "order": list(now.assign(place=now.deal.map(
                pd.Series(range(len(h.deals)), index=h.deals.deal)))
                .sort_values(["days", "place"], ascending=[False, True]).deal),
            "unused_stages": [s for s in f.stages if s not in used],
            "disallowed_moves": sorted(m for m, v in overall["moves"].items()
                                       if not v["allowed"])}


# --- salesproc's side, in the same shape ------------------------------------------------------


def reported(data: Mapping[str, Any]) -> dict[str, Any]:
    """measure's JSON keyed as the expected figures are (moves by 'from > to', stages by
    id, cohorts by month, open deals by id), checking the file's figures on the way."""

    def scope(s: Mapping[str, Any]) -> dict[str, Any]:
        moves = {}
        for m in s["moves"]:
            share = m["share"]
            assert m["outside"] == (m["file_share"] is not None and not share["low"] - 1e-12
                                    <= m["file_share"] <= share["high"] + 1e-12)
            moves[f"{m['from']} > {m['to']}"] = {"deals": m["deals"], "share": share,
                                                  "allowed": m["allowed"]}
        times = {}
        for t in s["time_in_stage"]:
            low, high = t["mean"]["low"], t["mean"]["high"]  # None: no visit has ended
            assert t["outside"] == (t["file_mean"] is not None and low is not None
                                    and not low <= t["file_mean"] <= high)
            times[t["stage"]] = {k: t[k] for k in ("visits", "open", "median", "p90", "mean",
                                                   "median_complete")}
        return {**{k: v for k, v in s.items() if k not in ("pipeline", "moves",
                                                           "time_in_stage", "cohorts")},
                "pipeline": {p["stage"]: {k: v for k, v in p.items() if k != "stage"}
                             for p in s["pipeline"]},
                "moves": moves, "time_in_stage": times,
                "cohorts": {c["month"]: {k: v for k, v in c.items() if k != "month"}
                            for c in s["cohorts"]}}

    return {"as_of": data["as_of"], "first_created": data["first_created"],
            "quality": {n["code"]: n["count"] for n in data["notes"]
                        if n["code"] in ("SP821", "SP822", "SP823")},
            "overall": scope(data["overall"]),
            "buyer_types": {b: scope(s) for b, s in data["buyer_types"].items()},
            "open_deals": {d["id"]: {k: v for k, v in d.items() if k != "id"}
                           for d in data["open_deals"]},
            "order": [d["id"] for d in data["open_deals"]],
            "unused_stages": data["unused_stages"],
            "disallowed_moves": sorted(f"{m['from']} > {m['to']}"
                                       for m in data["disallowed_moves"])}


def differences(want: Any, got: Any, path: str = "") -> Iterable[tuple[str, Any, Any]]:
    """(where, expected, reported) of every figure that differs: counts and text exactly,
    other numbers to a relative REL."""
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        for key in sorted(set(want) | set(got)):
            yield from differences(want.get(key, "(missing)"), got.get(key, "(missing)"),
                                   f"{path}.{key}" if path else str(key))
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for k, (a, b) in enumerate(zip(want, got, strict=True)):
            yield from differences(a, b, f"{path}[{k}]")
    elif isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        if got != pytest.approx(want, rel=REL, abs=1e-12):
            yield path, want, got
    elif want != got or (type(want) is not type(got) and not (
            isinstance(want, int) and isinstance(got, float) and float(want) == got)):
        yield path, want, got


def is_value_figure(path: str) -> bool:
    return path.rsplit(".", 1)[-1] in VALUE_FIGURES


def measured(export: Export, cut: dt.date | None) -> dict[str, Any]:
    """measure's JSON through the library (the file's times not simulated: not the
    export's figures)."""
    history = salesproc.read_history([str(p) for p in export.files], str(export.process),
                                     as_of=cut)
    return salesproc.measure(history, simulate_file=False).to_dict()


def reference(export: Export, cut: dt.date | None) -> dict[str, Any]:
    """Every figure the pandas way, at the end of *cut* (as --as-of has it)."""
    end = dt.datetime.combine(cut, dt.time(23, 59, 59)) if cut is not None else None
    return expected(stood(raw(export), export.truth, end), File.read(PROCESS))


Measured = Callable[[Shape, "dt.date | None"], dict[str, Any]]
Figures = Callable[[Shape, "dt.date | None"], tuple[dict[str, Any], dict[str, Any]]]


@pytest.fixture(scope="module")
def measures(exports: dict[str, Export]) -> Measured:
    """measure's JSON of a shape at a cut, each read and measured once."""
    return functools.cache(lambda shape, cut: measured(exports[shape], cut))


@pytest.fixture(scope="module")
def figures(exports: dict[str, Export], measures: Measured) -> Figures:
    """(the pandas figures, salesproc's) of a shape at a cut, each computed once."""
    return functools.cache(lambda shape, cut: (reference(exports[shape], cut),
                                               reported(measures(shape, cut))))


def differing(want: Mapping[str, Any], got: Mapping[str, Any], *, values: bool
              ) -> list[tuple[str, Any, Any]]:
    """The figures that differ: those that depend on amounts (*values*) or all others."""
    return [d for d in differences(want, got) if is_value_figure(d[0]) == values]


CUTS = [pytest.param(None, id="end"), pytest.param(INSIDE, id="inside")]


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_figure_but_amounts_is_the_pandas_one(figures: Figures, shape: Shape,
                                                    cut: dt.date | None) -> None:
    assert differing(*figures(shape, cut), values=False) == []


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_amounts_are_as_they_stood(figures: Figures, shape: Shape, cut: dt.date | None
                                   ) -> None:
    """At the inside cut, the amount on each deal's latest row by then (HubSpot: the
    exported amount, all it keeps)."""
    assert differing(*figures(shape, cut), values=True) == []


def test_the_inside_cut_tests_amounts_as_they_stood(exports: dict[str, Export],
                                                    figures: Figures) -> None:
    """Open deals at the inside cut have amounts that changed later (the exported ones
    differ), in both files that keep them: the amounts test there can fail."""
    for shape in ("generic", "salesforce"):
        want, _ = figures(shape, INSIDE)
        exported = raw(exports[shape]).deals.set_index("deal")
        worth = exported.amount * exported.currency.map(rates(exports[shape].truth))
        changed = [d for d, v in want["open_deals"].items() if v["value"] != worth[d]]
        assert len(changed) >= 3


def test_the_inside_cut_tests_the_longest_stay_in_the_stale_rule(
        exports: dict[str, Export]) -> None:
    """Open deals at the inside cut are stale only because they are older than every
    stay that ended in their stage (below its p90 or their patience)."""
    end = dt.datetime.combine(INSIDE, dt.time(23, 59, 59))
    h = stood(raw(exports["salesforce"]), exports["salesforce"].truth, end)
    f = File.read(PROCESS)
    now = h.visits[~h.visits.ended]
    assert is_stale(now, stale_limits(h, f)).sum() >= \
        is_stale(now, stale_limits(h, f, capped=False)).sum() + 3


def test_a_figure_off_by_one_is_found(figures: Figures) -> None:
    """The comparison is no formality: one count, one time, one share changed are named."""
    want, got = figures("salesforce", INSIDE)
    changed = json.loads(json.dumps(got))
    changed["overall"]["pipeline"]["demo"]["stale"] += 1
    changed["buyer_types"]["committee"]["time_in_stage"]["proposal"]["p90"] *= 1 + 1e-6
    changed["overall"]["moves"]["call > lost"]["share"]["low"] -= 1e-6
    assert [d[0] for d in differing(want, changed, values=False)] == [
        "buyer_types.committee.time_in_stage.proposal.p90",
        "overall.moves.call > lost.share.low", "overall.pipeline.demo.stale"]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_import_burst_note_counts_the_deals_created_in_its_window(
        exports: dict[str, Export], measures: Measured, shape: Shape) -> None:
    """SP824 names the import (days 180 to 240, give or take the days its Poisson rule
    needs) and counts every deal created in the days it names, the burst's and others."""
    (note,) = [n for n in measures(shape, None)["notes"] if n["code"] == "SP824"]
    found = re.search(r"created (\d{4}-\d\d-\d\d)(?: to (\d{4}-\d\d-\d\d))?",
                      note["message"])
    assert found is not None, note["message"]
    first = dt.date.fromisoformat(found[1])
    last = dt.date.fromisoformat(found[2] or found[1])
    assert START + dt.timedelta(days=177) <= first <= last <= START + dt.timedelta(days=243)
    day = raw(exports[shape]).deals.created.dt.date
    assert note["count"] == int(((day >= first) & (day <= last)).sum())


def test_nul_bytes_in_descriptions_change_no_figure(figures: Figures,
                                                    tmp_path: Path) -> None:
    """The same history with NUL and other control bytes in 3% of the descriptions (the
    same seed draws the same deals): read with a note (SP820), every figure as the pandas
    one of the export without them."""
    dirty = generate(PROCESS, replace(MESS, nul_bytes=0.03), seed=3, start=START, days=DAYS)
    assert sum(d.control_bytes for d in dirty.deals) >= 5
    files = write(dirty, tmp_path, "salesforce")
    history = salesproc.read_history([str(p) for p in files],
                                     str(variant(dirty, tmp_path / "process.yaml")),
                                     as_of=INSIDE)
    assert "SP820" in {n.code for n in history.notes}
    want, _ = figures("salesforce", INSIDE)
    assert list(differences(want, reported(salesproc.measure(
        history, simulate_file=False).to_dict()))) == []


def test_measure_json_through_the_cli_is_the_pandas_one(exports: dict[str, Export],
                                                         figures: Figures) -> None:
    """`measure --format json --as-of` (the file's times simulated) gives the figures the
    library gives, and so the pandas ones."""
    shape: Shape = "salesforce"
    export = exports[shape]
    out = run("measure", *map(str, export.files), "--process", str(export.process),
              "--format", "json", "--as-of", INSIDE.isoformat())
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["file_runs"] > 0  # the file's times came from a simulation of it
    want, library = figures(shape, INSIDE)
    assert differing(want, reported(data), values=False) == []
    assert list(differences(library, reported(data))) == []  # amounts too: the library's
