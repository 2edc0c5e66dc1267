"""Deal fields (`fields:`) and conditions on them: drawn per deal, tested by approvals
and by a stage's own `when:`, against the probabilities they are drawn with.

The shares are binomial: each deal reaching a stage matches its condition independently
with the field's probability, so the pooled share of n deals lies within
p ± 1.96·sqrt(p(1-p)/n) of the theory 95% of the time (the seed is fixed: this run's
draws are checked to fall in that interval)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from salesproc import check, check_text
from salesproc.core.stats import Z95
from salesproc.experiments.experiment import simulate
from salesproc.experiments.results import SimulationResult
from salesproc.process import analysis, routing
from salesproc.process.model import Bounds, Condition, Process, Settings
from salesproc.sim.metrics import Key
from tests.conftest import CASES, run

EXAMPLE = CASES / "valid" / "deal-fields.yaml"

# the example's fields, with work and delays left out so that every deal's path is
# instant and none is cut short by the end of the run; the discount approval says no
# to every deal it sees, so the deals it is asked about are counted as its refusals
INSTANT = """
salesproc: 1
name: Deal fields, instant
roles:
  ae: {title: AE, headcount: 1}
  finance: {title: Finance, headcount: 1}
  counsel: {title: Counsel, headcount: 1}
fields:
  discount:
    label: Discount off list price
    number: {uniform: {low: 0, high: 0.4}}
  region:
    label: Sales region
    shares: {emea: 0.3, amer: 0.5, apac: 0.2}
stages:
  - id: proposal
    name: Proposal
    owner: ae
    approvals:
      - {name: Discount approval, by: finance, when: {discount: {gt: 0.2}}, reject: 1}
    next: {legal_review: 1}
  - id: legal_review
    name: Legal review
    owner: counsel
    when: {region: [emea]}
    next: {agreement: 1}
  - id: agreement
    name: Agreement
    owner: ae
    next: {won: 1}
buyer_types:
  standard: {name: Standard, share: 0.7, value: 1000}
  enterprise:
    name: Enterprise
    share: 0.3
    value: 5000
    fields: {region: {shares: {emea: 0.5, amer: 0.5}}}
arrivals: {rate: 20}
simulation: {horizon: 100, replications: 2, seed: 5}
"""


def model(text: str) -> Process:
    result = check_text(text)
    assert result.process is not None, result.diagnostics
    return result.process


def within_95(k: float, n: float, p: float) -> bool:
    return abs(k / n - p) <= Z95 * math.sqrt(p * (1 - p) / n)


def pooled(result: SimulationResult, key: Key) -> float:
    """A count over every replication (the deals of all runs, pooled)."""
    return math.fsum(r.get(key, 0.0) for r in result.replications)


def test_discount_approval_and_emea_stage_match_their_probabilities() -> None:
    process = model(INSTANT)
    result = simulate(process, process.simulation)
    reached = pooled(result, Key("stage", "proposal", "visits"))
    asked = pooled(result, Key("lost", "proposal", "rejected: Discount approval"))
    assert reached > 2000
    assert within_95(asked, reached, 0.5)  # P(discount > 0.2), discount ~ U(0, 0.4)
    # deals reaching legal review are the approved ones, of either buyer type alike
    reaching = pooled(result, Key("move", "proposal", "legal_review"))
    through = pooled(result, Key("stage", "legal_review", "visits"))
    emea = 0.7 * 0.3 + 0.3 * 0.5
    assert within_95(through, reaching, emea)
    assert pooled(result, Key("stage", "agreement", "visits")) == reaching  # none lost


def test_closed_forms_read_the_same_rule() -> None:
    process = model(INSTANT)
    standard, enterprise = process.buyer_types["standard"], process.buyer_types["enterprise"]
    assert routing.goes_through(standard.stages["legal_review"], standard) == \
        pytest.approx(0.3)
    assert routing.goes_through(enterprise.stages["legal_review"], enterprise) == \
        pytest.approx(0.5)
    visits = analysis.expected_visits(standard)
    assert visits["proposal"] == pytest.approx(1.0)
    assert visits["legal_review"] == pytest.approx(0.5 * 0.3)  # approved, then EMEA
    assert visits["agreement"] == pytest.approx(0.5)  # non-EMEA deals pass straight on
    assert analysis.win_probability(standard) == pytest.approx(0.5)


def test_conditions_combine_fields_value_and_any() -> None:
    process = model(INSTANT)
    buyer = process.buyer_types["enterprise"]
    big_or_emea = Condition(value_gte=4000, any=(
        Condition(fields=(("region", frozenset({"emea"})),)),
        Condition(fields=(("discount", Bounds(gt=0.3)),))))
    # value 5000 always passes; emea (0.5) or discount > 0.3 (0.25): 0.5 + 0.25 - 0.125
    assert big_or_emea.probability(buyer.value, buyer.id, buyer.fields) == \
        pytest.approx(0.625)
    assert big_or_emea.applies(5000.0, buyer.id, {"region": "amer", "discount": 0.35})
    assert not big_or_emea.applies(5000.0, buyer.id, {"region": "amer", "discount": 0.1})
    assert not big_or_emea.applies(100.0, buyer.id, {"region": "emea", "discount": 0.1})
    # the same field twice within any: the alternatives overlap, counted once
    overlap = Condition(any=(Condition(fields=(("discount", Bounds(gt=0.1)),)),
                             Condition(fields=(("discount", Bounds(gt=0.3)),))))
    assert overlap.probability(buyer.value, buyer.id, buyer.fields) == pytest.approx(0.75)


def test_the_example_validates_and_simulates_with_its_loss_reasons() -> None:
    result = check(EXAMPLE)
    assert result.diagnostics == [] and result.process is not None
    process = result.process
    sim = simulate(process, process.simulation)
    lost = {k.metric: pooled(sim, k) for k in sim.summary if k.scope == "lost"
            and k.subject == "proposal"}
    assert set(lost) == {"chose a competitor", "no budget", "timing"}
    total = math.fsum(lost.values())
    # each lost deal gives one reason by its share: binomial, as above
    assert within_95(lost["chose a competitor"], total, 0.6)
    assert within_95(lost["no budget"], total, 0.3)


def test_adding_a_field_changes_no_other_figure() -> None:
    without = model(INSTANT.replace("    when: {region: [emea]}\n", ""))
    added = model(INSTANT.replace("    when: {region: [emea]}\n", "").replace(
        "fields:\n", "fields:\n  seats: {label: Seats, number: {exponential: {mean: 20}}}\n"))
    assert simulate(without, without.simulation).replications == \
        simulate(added, added.simulation).replications


def test_an_x_key_in_when_is_located_and_names_fields() -> None:
    text = INSTANT.replace("when: {discount: {gt: 0.2}}", "when: {x-discount: {gt: 0.2}}")
    result = check_text(text)
    (diag,) = result.diagnostics
    assert diag.code == "SP111"
    line = text.splitlines()[diag.line - 1]
    assert (diag.line, diag.column) == (text[:text.index("x-discount")].count("\n") + 1,
                                        line.index("x-discount") + 1)
    assert diag.hint is not None and "fields:" in diag.hint


def test_the_cli_reports_an_unknown_field_with_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(INSTANT.replace("{discount: {gt: 0.2}}", "{discont: {gt: 0.2}}"), "utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "SP210 unknown field 'discont'" in result.output
    assert "discount" in result.output.split("SP210", 1)[1]
    assert "Traceback" not in result.output


def test_a_condition_of_very_many_alternatives_gets_a_bound_quickly() -> None:
    """Nested any: lists multiply out: 20 alternatives of 20 would be 400 terms and
    2^400 subsets; the chance is then bounded by the sum of the alternatives' chances."""
    process = model(INSTANT)
    buyer = process.buyer_types["standard"]
    slice_ = [Condition(fields=(("discount", Bounds(gte=k / 50, lt=(k + 1) / 50)),))
              for k in range(20)]
    nested = Condition(any=tuple(Condition(any=tuple(slice_)) for _ in range(20)))
    chance = nested.probability(buyer.value, buyer.id, buyer.fields)
    assert chance == 1.0  # 20 copies of a condition that holds with chance 0.5: bounded
    assert Condition(any=tuple(slice_[:12])).probability(
        buyer.value, buyer.id, buyer.fields) == pytest.approx(12 / 20)  # exact, disjoint


def test_the_drawings_show_the_deals_passing_a_stage_by() -> None:
    from salesproc.drawing import graph, to_mermaid

    process = model(INSTANT)
    standard = graph.buyer_graph(process, "standard")
    assert standard.edges["legal_review", "agreement", "pass"]["probability"] == \
        pytest.approx(0.7)  # of the deals reaching legal review: those outside EMEA
    combined = graph.combined_graph(process)
    assert combined.edges["legal_review", "agreement", "pass"]["probability"] == \
        pytest.approx(1 - (0.7 * 0.3 + 0.3 * 0.5))
    text = to_mermaid(combined, process.time_unit)
    assert "only deals where region is emea" in text
    assert "↷ 64% pass by" in text
    # several loss reasons, each with its share of the stage's losses; one, as it is
    text = to_mermaid(graph.combined_graph(model(EXAMPLE.read_text("utf-8"))), "day")
    assert "✗ chose a competitor 60%; no budget 30%; timing 10%" in text
    assert "✗ lost at Agreement" in text


def test_a_deal_passing_a_stage_that_routes_back_to_itself_goes_on() -> None:
    """Non-EMEA deals pass legal review, whose next: sends half back to it: each pass is
    drawn anew (as the closed forms assume), so every one of them reaches the agreement."""
    process = model(INSTANT.replace("    next: {agreement: 1}",
                                    "    next: {legal_review: 0.5, agreement: 0.5}"))
    result = simulate(process, process.simulation)
    reaching = pooled(result, Key("move", "proposal", "legal_review"))
    assert pooled(result, Key("stage", "agreement", "visits")) == reaching
    standard = process.buyer_types["standard"]
    visits = analysis.expected_visits(standard)
    assert visits["legal_review"] == pytest.approx(0.5 * 0.3 * 2)  # EMEA: twice on average
    assert visits["agreement"] == pytest.approx(0.5)


def test_what_is_written_under_a_refused_x_key_adds_no_finding() -> None:
    text = INSTANT.replace("when: {region: [emea]}", "when: {any: [{x-a: 1}]}")
    assert [d.code for d in check_text(text).diagnostics] == ["SP111"]


FORECAST_REGIONS = """\
salesproc: 1
name: Regions ahead
roles: {ae: {title: Account executive, headcount: 50}}
fields:
  region: {label: Sales region, shares: {EMEA: 0.5, AMER: 0.5}}
stages:
  - {id: proposal, name: Proposal, owner: ae, delay: {fixed: 1}, next: {legal_review: 1}}
  - {id: legal_review, name: Legal review, owner: ae, delay: {fixed: 400},
     when: {region: [EMEA]}, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1000}}
calendar: always
time_unit: day
arrivals: {rate: 0.000001, per: day}
crm:
  stages: {Proposal: proposal, Legal Review: legal_review, Won: won, Lost: lost}
  fields: {region: Region}
"""


def test_the_forecast_routes_each_open_deal_by_its_own_fields(tmp_path: Path) -> None:
    """Open deals at the proposal, created half a day ago: an EMEA deal goes on to a legal
    review of 400 days and cannot be won within 30, an AMER one passes it by and is won
    the next day, whatever its region would have been drawn as. A deal whose region the
    export leaves empty draws one: won in some runs, not in others (all 200 alike has a
    chance of 2 × 0.5^200)."""
    import datetime as dt

    from salesproc.history import read_history
    from salesproc.prediction.forecast import forecast

    (tmp_path / "regions.yaml").write_text(FORECAST_REGIONS, "utf-8")
    regions = ["emea ", " Amer", ""] * 4
    table = "deal,stage,created,amount,Region\n" + "".join(
        f"D{k},Proposal,2025-03-01 00:00,1000,{r}\n" for k, r in enumerate(regions))
    (tmp_path / "deals.csv").write_text(table, "utf-8")
    history = read_history([tmp_path / "deals.csv"], model(FORECAST_REGIONS),
                           as_of=dt.datetime(2025, 3, 1, 12))
    # the export's text, compared folded, read as the file writes the categories
    assert sorted(history.deals.fields["region"].to_pylist()) == sorted(
        ["EMEA", "AMER", ""] * 4)
    result = forecast(history, dt.datetime(2025, 3, 31), replications=200, seed=5)
    chance = {d.id: d.chance for d in result.deals}
    for k, region in enumerate(regions):
        if region == "emea ":
            assert chance[f"D{k}"] == 0.0
        elif region:
            assert chance[f"D{k}"] == 1.0
        else:
            assert 0.0 < chance[f"D{k}"] < 1.0


def test_the_event_log_shows_a_deal_won_by_passing_a_stage_by() -> None:
    """AMER deals leave the proposal for the legal review, which they pass by to a win:
    the log says the proposal's visit ended won (no visit to the stage they passed), so
    the log's wins are the run's, one per deal; the EMEA deals' proposals end in the
    legal review, still open at the end."""
    proc = model(FORECAST_REGIONS.replace("rate: 0.000001", "rate: 3"))
    result = simulate(proc, Settings(horizon=60, replications=2, seed=4), events=True)
    assert result.events is not None
    won = [v for v in result.events if v.outcome == "won"]
    assert len(won) == pooled(result, Key("all", "", "won")) > 0
    assert {v.stage for v in won} == {"proposal"}
    assert not any(v.stage == "legal_review" and v.outcome == "won" for v in result.events)
    assert all(v.outcome in {"won", "legal_review", "open"} for v in result.events)
