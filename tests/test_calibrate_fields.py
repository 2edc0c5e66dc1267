"""calibrate fits deal fields (crm: fields:) per buyer type: a category field's shares, a
number field's distribution; on a deal table whose fields were drawn from a known truth."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np

from salesproc import check_text
from salesproc.core.stats import proportion
from salesproc.history import read_history
from salesproc.prediction.calibration import (
    EMPIRICAL_POINTS,
    PRIOR_OBSERVATIONS,
    calibrate,
    fitted_process,
)

PROCESS = """\
salesproc: 1
name: Fields to fit
roles: {ae: {title: Account executive, headcount: 5}}
fields:
  region: {label: Sales region, shares: {EMEA: 0.34, AMER: 0.33, APAC: 0.33}}
  discount: {label: Discount, number: {uniform: {low: 0, high: 0.5}}}
  seats: {label: Seats, number: {lognormal: {mean: 50, sd: 5}}}
stages:
  - {id: proposal, name: Proposal, owner: ae, work: 1h, next: {won: 0.5}}
buyer_types: {b: {name: B, share: 1, value: 1000}}
arrivals: {rate: 3, per: day}
crm:
  stages: {Proposal: proposal, Won: won, Lost: lost}
  fields: {region: Region, discount: Discount, seats: Seats}
"""
TRUTH = {"EMEA": 0.3, "AMER": 0.5, "APAC": 0.2}
N = 400


def test_fields_are_fitted_from_a_deal_table(tmp_path: Path) -> None:
    """Regions drawn 0.3/0.5/0.2 (the file says about a third each), a few undeclared
    or empty; discounts 0 for one deal in ten, else uniform on 0 to 0.4; seats lognormal
    with mean 20. The fitted shares are the Dirichlet posterior's means of the counts with
    the file's shares weighing as PRIOR_OBSERVATIONS deals; the discount, with zeros, is
    the values' quantiles, so its chance to exceed 0.2 is the data's within one of
    EMPIRICAL_POINTS steps; the seats' true mean is within the fitted mean's 99.9%
    interval (the maximum-likelihood mean is at least as precise as the data's mean)."""
    rng = np.random.default_rng(7)
    regions = rng.choice(list(TRUTH), N, p=list(TRUTH.values())).tolist()
    regions[:6] = ["latam", "latam", "", "", " emea", "Apac "]  # folded as names are
    discount = np.where(rng.random(N) < 0.1, 0.0, rng.uniform(0, 0.4, N))
    seats = rng.lognormal(math.log(20 / math.sqrt(1.25)), math.sqrt(math.log(1.25)), N)
    rows = ["deal,stage,created,close_date,amount,Region,Discount,Seats"]
    for k in range(N):
        stage = ("Won", "Lost", "Proposal")[k % 3]
        rows.append(f"D{k},{stage},2025-01-{1 + k % 28:02d},2025-02-15,1000,{regions[k]},"
                    f"{discount[k]:.4f},{seats[k]:.3f}")
    (tmp_path / "deals.csv").write_text("\n".join(rows) + "\n", "utf-8")
    checked = check_text(PROCESS)
    assert checked.process is not None, checked.diagnostics
    history = read_history([tmp_path / "deals.csv"], checked.process,
                           as_of=dt.datetime(2025, 3, 1))
    cal = calibrate(history, refine=False)
    fitted = {f.setting: f for f in cal.fitted}

    named = [{" emea": "EMEA", "Apac ": "APAC"}.get(r, r) for r in regions]
    counts = {c: named.count(c) for c in TRUTH}
    n = sum(counts.values())
    shares = fitted["buyer_types.b.fields.region.shares"]
    assert shares.n == n == N - 4
    file = {"EMEA": 0.34, "AMER": 0.33, "APAC": 0.33}
    for category, k in counts.items():
        posterior = (k + PRIOR_OBSERVATIONS * file[category]) / (n + PRIOR_OBSERVATIONS)
        assert math.isclose(shares.value[category], posterior, abs_tol=1e-4 * len(file))
        wide = proportion(k, n, confidence=0.999)  # the data hold the truth
        assert wide.low <= TRUTH[category] <= wide.high
    assert any("2 b deals have a region that b's shares do not name (latam)" in note
               for note in cal.notes), cal.notes

    model = fitted_process(cal)
    field = model.buyer_types["b"].fields["discount"]
    assert field.number is not None
    assert list(fitted["buyer_types.b.fields.discount.number"].value) == ["empirical"]
    above = float((np.round(discount, 4) > 0.2).mean())
    assert abs((1 - field.number.cdf(0.2)) - above) <= 1 / EMPIRICAL_POINTS + 1 / N

    seat = fitted["buyer_types.b.fields.seats.number"]
    assert "empirical" not in seat.value  # every value above zero: a family fits
    spread = 3.29 * float(seats.std(ddof=1)) / math.sqrt(N)
    fitted_seats = model.buyer_types["b"].fields["seats"].number
    assert fitted_seats is not None
    assert abs(fitted_seats.mean - 20) <= spread


REASONS_PROCESS = """\
salesproc: 1
name: Reasons to fit
roles: {ae: {title: Account executive, headcount: 5}}
fields:
  seats: {label: Seats, number: {lognormal: {mean: 50, sd: 5}}}
stages:
  - {id: proposal, name: Proposal, owner: ae, work: 1h, next: {won: 0.5},
     lost_reasons: {r8: 0.5, r9: 0.5}}
buyer_types: {b: {name: B, share: 1, value: 1000}}
arrivals: {rate: 3, per: day}
crm:
  stages: {Proposal: proposal, Won: won, Lost: lost}
  lost_reason: reason
  fields: {seats: Seats}
"""


def test_loss_reasons_of_any_text_round_trip_through_the_variant(tmp_path: Path) -> None:
    """Loss reasons as a CRM's free text holds them: more than MAX_REASONS of them, one
    called 'other reasons' itself, one longer than YAML's implicit keys, YAML's words and
    numbers. The file's own (r8, r9) are never pooled, the rest beyond the most frequent
    join 'other reasons' (the reason of that name counted in, not written twice), and the
    variant calibrate writes reads back as the process fitted in memory. A number field
    with values below zero keeps the file's distribution, with a note."""
    import yaml

    from salesproc.prediction.calibration import MAX_REASONS, OTHER_REASONS

    long = "x" * 1500
    reasons = ["no", "2024", "price: too high", OTHER_REASONS, long, "r1", "r2", "r3", "r4",
               "r5", "r6", "r8", "r9"]
    rows = ["deal,stage,changed_at,reason,Seats"]
    k = 0
    for j, reason in enumerate(reasons):
        for _ in range(len(reasons) - j + 2):  # the first most frequent
            rows += [f"D{k},Proposal,2025-02-01 10:00,{reason},{-3 + k % 7}",
                     f"D{k},Lost,2025-02-03 10:00,{reason},{-3 + k % 7}"]
            k += 1
    (tmp_path / "changes.csv").write_text("\n".join(rows) + "\n", "utf-8")
    from salesproc import load

    base = tmp_path / "reasons.yaml"
    base.write_text(REASONS_PROCESS, "utf-8")
    history = read_history([tmp_path / "changes.csv"], load(base),
                           as_of=dt.datetime(2025, 3, 1))
    cal = calibrate(history, refine=False)
    (fit,) = [f for f in cal.fitted if f.setting == "stages.proposal.lost_reasons"]
    assert {"r8", "r9", OTHER_REASONS} <= set(fit.value)
    # the most frequent (among them 'other reasons', the rest counted in), the file's two
    assert len(fit.value) == MAX_REASONS + 2
    assert math.isclose(sum(fit.value.values()), 1.0, abs_tol=1e-9)
    assert not any(f.setting.endswith("seats.number") for f in cal.fitted)
    assert any("below zero" in note for note in cal.notes)
    variant = tmp_path / "calibrated.yaml"
    variant.write_text(cal.to_yaml(variant), "utf-8")
    yaml.safe_load(variant.read_text("utf-8"))  # YAML any tool reads
    written = dict(load(variant).stages["proposal"].lost_reasons)
    assert written == dict(fitted_process(cal).stages["proposal"].lost_reasons)
    assert long in written and "no" in written and "2024" in written
