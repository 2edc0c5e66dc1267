"""`salesproc pull salesforce|hubspot`: deal history pulled through the CRM's API into the
files an export gives (credentials from the environment)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

import click

from salesproc.cli.app import cli, echo
from salesproc.cli.options import Date
from salesproc.cli.reading import load_or_fail

_OUTPUT = click.option("-o", "--output", "folder", required=True, metavar="DIR",
                       type=click.Path(file_okay=False, path_type=str),
                       help="The folder the files go into; a pull already there is "
                       "brought up to date (only what changed is fetched).")
_PROCESS = click.option("--process", "process_file", metavar="FILE",
                        type=click.Path(path_type=str),
                        help="Fetch the deal fields this process's crm: section reads too "
                        "(its buyer-type rules, loss reason and fields).")
_SINCE = click.option("--since", type=Date(start_of_day=True), help="Fetch only what changed "
                      "from this day on (UTC), and merge it into the folder (default: from "
                      "the latest change the folder holds; everything into a new folder).")


@cli.group("pull")
def pull() -> None:
    """Pull deal history through a CRM's API into the files its export gives (for
    measure, calibrate, forecast, ...). Needs the CRM client libraries: pip install
    'salesproc[crm]'."""


@pull.command("salesforce")
@_OUTPUT
@_PROCESS
@_SINCE
def pull_salesforce(folder: str, process_file: str | None, since: dt.datetime | None) -> None:
    """Opportunity.csv, OpportunityHistory.csv and User.csv, as Data Loader exports them.
    Credentials: SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN
    (SALESFORCE_DOMAIN=test for a sandbox), or SALESFORCE_INSTANCE_URL and
    SALESFORCE_ACCESS_TOKEN."""
    from salesproc.history import pull_salesforce as crm

    _pull(lambda: crm.Client(os.environ), crm.pull, folder, process_file, since)


@pull.command("hubspot")
@_OUTPUT
@_PROCESS
@_SINCE
def pull_hubspot(folder: str, process_file: str | None, since: dt.datetime | None) -> None:
    """deals.csv as HubSpot exports it, with a `Date entered "<stage>"` column for each
    stage (from the deals' stage history). Credentials: HUBSPOT_ACCESS_TOKEN (a private
    app's token); HUBSPOT_API_HOST for another API host."""
    from salesproc.history import pull_hubspot as crm

    _pull(lambda: crm.Client(os.environ), crm.pull, folder, process_file, since)


def _pull(connect: Callable[[], Any], run: Callable[..., Any], folder: str,
          process_file: str | None, since: dt.datetime | None) -> None:
    from salesproc.history.pull import named_fields

    process = load_or_fail(process_file) if process_file else None
    pulled = run(connect(), folder, fields=named_fields(process), since=since)
    counts = ", ".join(f"{n:,} {name.removesuffix('.csv')}" for name, n in
                       pulled.fetched.items())
    start = f"changed since {pulled.since:%Y-%m-%d %H:%M:%S} UTC" if pulled.since else "all"
    echo(f"pulled {start}: {counts}", err=True)
    for path in pulled.files:
        echo(f"wrote {path}", err=True)
    for note in pulled.notes:
        echo(f"note: {note}", err=True)
