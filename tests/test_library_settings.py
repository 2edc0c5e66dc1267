"""What the command line's options used to check is the library's to check: origins,
sweeps and campaigns out of range raise a SettingsError naming the setting, so a script
gets the same answer as the command (which turns it into a usage error on that option)."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

import salesproc
from salesproc.core.defaults import MAX_CAMPAIGN_LEADS, MAX_ORIGINS, MAX_SWEEP_POINTS
from salesproc.core.errors import SettingsError
from salesproc.experiments.compare import parse_sweep, sweep_points
from salesproc.prediction.backtest import origins
from salesproc.prediction.forecast import parse_campaign
from tests.conftest import ROOT, run

JAN = dt.datetime(2025, 1, 31)


def test_origins_step_by_calendar_months_or_by_a_span() -> None:
    assert origins(JAN, dt.datetime(2025, 3, 31), "1mo") == [
        JAN, dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 31)]
    assert origins(JAN, dt.datetime(2025, 2, 14), "2w") == [JAN, dt.datetime(2025, 2, 14)]
    assert origins(JAN, JAN + dt.timedelta(days=20), "10") == [
        JAN, JAN + dt.timedelta(days=10), JAN + dt.timedelta(days=20)]


@pytest.mark.parametrize(("last", "every", "setting"), [
    (dt.datetime(2024, 12, 1), "1mo", "to"),
    (dt.datetime(2026, 1, 1), "0mo", "every"),
    (dt.datetime(2026, 1, 1), "1.5mo", "every"),
    (dt.datetime(2026, 1, 1), "fortnight", "every"),
    (dt.datetime(2026, 1, 1), "0d", "every"),
    (dt.datetime(2046, 1, 1), "1mo", "every"),   # more than twenty years of months
    (dt.datetime(2026, 1, 1), "1h", "every"),    # 8,000 hourly origins
])
def test_origins_out_of_range_name_their_setting(last: dt.datetime, every: str,
                                                 setting: str) -> None:
    with pytest.raises(SettingsError) as caught:
        origins(JAN, last, every)
    assert caught.value.setting == setting


def test_the_most_origins_are_taken_and_one_more_is_refused() -> None:
    last = JAN + dt.timedelta(days=MAX_ORIGINS - 1)
    assert len(origins(JAN, last, "1d")) == MAX_ORIGINS
    with pytest.raises(SettingsError):
        origins(JAN, last + dt.timedelta(days=1), "1d")


@pytest.mark.parametrize("text", ["a.b", "a.b=", "=1..2", "a.b=5..2", "a.b=1..2:0",
                                  "a.b=1,,2", "a.b=x..y", "a.b=1e400..1e401",
                                  f"a.b=1..{MAX_SWEEP_POINTS + 1}"])
def test_a_bad_sweep_is_a_settings_error_of_set(text: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_sweep(text)
    assert caught.value.setting == "set"


def test_a_sweep_of_a_mapping_is_one_value() -> None:
    assert parse_sweep("a.b={x: 1..2}").values == ("{x: 1..2}",)
    assert parse_sweep("a.b=0.5..1.5:0.5").values == ("0.5", "1", "1.5")


@pytest.mark.parametrize("text", ["lots", "0@2026-01-01", "5@2026-02-30", "@",
                                  f"{MAX_CAMPAIGN_LEADS + 1}@2026-01-01"])
def test_a_campaign_that_cannot_be_read_is_a_settings_error(text: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_campaign(text)
    assert caught.value.setting == "campaign"


def test_a_campaign_brings_at_most_the_leads_a_file_may_give_one() -> None:
    """Past the schema's bound a campaign was refused as a broken process file
    ('<changes>:3:1: ... out of range', exit 1), not as the --campaign it came from."""
    schema = json.loads((ROOT / "salesproc" / "schemas" / "process.schema.json").read_text())
    assert schema["definitions"]["campaign"]["properties"]["leads"]["maximum"] == \
        MAX_CAMPAIGN_LEADS
    assert parse_campaign(f"{MAX_CAMPAIGN_LEADS}@2026-01-01").leads == MAX_CAMPAIGN_LEADS
    export = ROOT / "examples" / "five-step-salesforce"
    done = run("forecast", str(export / "Opportunity.csv"),
               str(export / "OpportunityHistory.csv"),
               "--process", str(ROOT / "processes" / "five-step.yaml"), "--horizon", "30d",
               "--campaign", f"{MAX_CAMPAIGN_LEADS * 2}@2026-12-01", "-r", "3")
    assert done.exit_code == 2, done.output
    assert "Invalid value for --campaign:" in done.output
    assert "a campaign brings at most 1,000,000 leads" in done.output


def test_the_command_line_names_the_option_of_a_library_settings_error() -> None:
    """backtest's --every, checked by the library, comes back as a usage error on it."""
    export = ROOT / "examples" / "five-step-salesforce"
    done = run("backtest", str(export / "Opportunity.csv"),
               str(export / "OpportunityHistory.csv"),
               "--process", str(ROOT / "processes" / "five-step.yaml"),
               "--from", "2026-01-01", "--to", "2026-02-01", "--every", "1.5mo")
    assert done.exit_code == 2
    assert "Usage: cli backtest [OPTIONS]" in done.output
    assert "Invalid value for --every: '1.5mo'" in done.output


@pytest.mark.parametrize(("command", "horizon"), [("forecast", "40000"),
                                                  ("backtest", "1e7")])
def test_a_horizon_past_a_century_is_a_usage_error_on_it(command: str, horizon: str) -> None:
    """The library bounds the look ahead (a date 1e7 days on is past the calendar's end:
    it was an OverflowError, exit 3; 40,000 days a forecast of minutes)."""
    export = ROOT / "examples" / "five-step-salesforce"
    origins_given = ["--from", "2026-03-01", "--to", "2026-03-01"] if command == "backtest" \
        else []
    done = run(command, str(export / "Opportunity.csv"), str(export / "OpportunityHistory.csv"),
               "--process", str(ROOT / "processes" / "five-step.yaml"), *origins_given,
               "--horizon", horizon, "-r", "3")
    assert done.exit_code == 2, done.output
    assert "Invalid value for --horizon:" in done.output
    assert "is more than a century" in done.output


@pytest.mark.parametrize("horizon", [math.inf, 1e7, 36_526])
def test_the_library_refuses_an_endless_or_too_long_look_ahead(horizon: float) -> None:
    export = ROOT / "examples" / "five-step-salesforce"
    history = salesproc.read_history([export / "Opportunity.csv",
                                      export / "OpportunityHistory.csv"],
                                     ROOT / "processes" / "five-step.yaml")
    for call in (lambda: salesproc.forecast(history, horizon=horizon, replications=3),
                 lambda: salesproc.backtest(history, origins=[dt.datetime(2026, 3, 1)],
                                            horizon=horizon, replications=3)):
        with pytest.raises(SettingsError) as caught:
            call()
        assert caught.value.setting == "horizon"


@pytest.mark.parametrize(("sets", "said"), [
    (["a.b=1..2", "a.b=3..4"], "'a.b' is given twice"),
    (["a.b=1..2", "c.d=1..2", "e.f=1..2"], "one or two settings at a time"),
    (["a.b=1..10", "c.d=1..10"], "this sweep has 100 combinations"),
])
def test_sweep_points_out_of_range_are_settings_errors_of_set(sets: list[str],
                                                              said: str) -> None:
    with pytest.raises(SettingsError) as caught:
        sweep_points([parse_sweep(text) for text in sets])
    assert caught.value.setting == "set"
    assert said in caught.value.message


def test_a_sweep_setting_given_twice_is_a_usage_error_before_any_run() -> None:
    """It made a grid whose cells differed in their labels alone (the second won)."""
    done = run("sweep", str(ROOT / "processes" / "five-step.yaml"),
               "--set", "roles.se.headcount=1..2", "--set", "roles.se.headcount=2..3")
    assert done.exit_code == 2, done.output
    assert "Invalid value for --set: 'roles.se.headcount' is given twice" in done.output


@pytest.mark.parametrize("cases", [(90, 50, 10), (10, 50, 101), (math.nan, 50, 90),
                                   (10, 50)])
def test_the_library_refuses_cases_that_do_not_rise_from_worst_to_best(
        cases: tuple[float, ...]) -> None:
    """The command line checked --cases; a script's 90, 50, 10 made a worst case above the
    best, and NaN a numpy error."""
    export = ROOT / "examples" / "five-step-salesforce"
    history = salesproc.read_history([export / "Opportunity.csv",
                                      export / "OpportunityHistory.csv"],
                                     ROOT / "processes" / "five-step.yaml")
    with pytest.raises(SettingsError) as caught:
        salesproc.forecast(history, horizon=30, replications=3,
                           cases=cases)  # type: ignore[arg-type]
    assert caught.value.setting == "cases"


def test_the_api_says_what_to_give_for_a_wrong_type_or_a_zoned_time() -> None:
    export = ROOT / "examples" / "five-step-salesforce"
    history = salesproc.read_history([export / "Opportunity.csv",
                                      export / "OpportunityHistory.csv"],
                                     ROOT / "processes" / "five-step.yaml")
    with pytest.raises(TypeError, match="give a History"):
        salesproc.forecast(str(export), horizon=30)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a campaign is 'LEADS@DATE' text"):
        salesproc.forecast(history, horizon=30, campaigns=[5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="every is text"):
        salesproc.backtest(history, first=JAN, last=JAN, every=5)  # type: ignore[arg-type]
    zoned = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(SettingsError, match="has a time zone") as caught:
        salesproc.forecast(history, until=zoned, replications=3)
    assert caught.value.setting == "until"
    with pytest.raises(SettingsError) as counted:
        salesproc.backtest(history, origins=[dt.datetime(2026, 9, 1)], replications=0)
    assert counted.value.setting == "replications"
    # a day alone is its start (first) and its end (last): one origin on 1 September
    done = salesproc.backtest(history, first=dt.date(2026, 9, 1), last=dt.date(2026, 9, 1),
                              horizon=14, replications=3, seed=1)
    assert [o.at for o in done.origins] == [dt.datetime(2026, 9, 1)]
