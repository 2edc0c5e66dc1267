"""`salesproc pull salesforce`: Opportunity.csv, OpportunityHistory.csv and User.csv as
Data Loader exports them (history/salesforce.py reads them), pulled with SOQL queries
through simple-salesforce.

Opportunity gets the fields the Salesforce reader uses that the org has (CurrencyIsoCode
only in multi-currency orgs: the object's describe says which) and the fields the
process's `crm:` section names (checked against the describe: a misspelt field is an
error, not an empty column), and ``SystemModstamp``: the latest change a folder holds,
where the next pull into it starts. An incremental pull fetches the fields the folder's
file has too, and the opportunities
changed since then, the history rows created since then and the users changed since
then, and merges them into the files by ``Id``. Records deleted in Salesforce stay in
the files (the query API does not list them); a pull into a new folder starts over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from salesproc.history.pull import (
    Api,
    Patience,
    Pulled,
    PullError,
    Refusal,
    Table,
    as_documented,
    in_utc,
    missing_client,
    patiently,
    read_table,
    resume_from,
    write_tables,
)

OPPORTUNITY = ("Id", "Name", "StageName", "CreatedDate", "Amount", "CloseDate", "IsClosed",
               "IsWon", "CurrencyIsoCode", "Probability", "ForecastCategory", "OwnerId")
HISTORY = ("Id", "OpportunityId", "StageName", "CreatedDate", "Amount", "CloseDate",
           "Probability")
USER = ("Id", "Name")
#: The REST API's version asked for: its answers' shapes do not change under the pull.
API_VERSION = "59.0"
#: When a record last changed (any change, by anyone or anything): where a pull resumes.
CHANGED = "SystemModstamp"
CREDENTIALS = ("set SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN "
               "(SALESFORCE_DOMAIN=test for a sandbox), or SALESFORCE_INSTANCE_URL and "
               "SALESFORCE_ACCESS_TOKEN (a session id or OAuth access token)")


class Client:
    """A simple-salesforce connection and the last response it got (the library's
    exceptions do not carry a response's headers: a 429's Retry-After is read here)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        try:
            import requests
            from simple_salesforce.api import Salesforce
            from simple_salesforce.exceptions import SalesforceAuthenticationFailed
        except ImportError:
            raise missing_client("simple-salesforce") from None
        self.last: Any = None
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        url, token = env.get("SALESFORCE_INSTANCE_URL"), env.get("SALESFORCE_ACCESS_TOKEN")
        user, password = env.get("SALESFORCE_USERNAME"), env.get("SALESFORCE_PASSWORD")
        try:
            if url and token:
                self.sf: Any = Salesforce(instance_url=url, session_id=token, session=session,
                                          version=API_VERSION)
            elif user and password:
                self.sf = Salesforce(username=user, password=password,
                                     security_token=env.get("SALESFORCE_SECURITY_TOKEN"),
                                     domain=env.get("SALESFORCE_DOMAIN") or None,
                                     session=session, version=API_VERSION)
            else:
                raise PullError("no Salesforce credentials in the environment",
                                hint=CREDENTIALS)
        except SalesforceAuthenticationFailed as exc:
            raise PullError(f"Salesforce refused the login: {exc.message}",
                            hint=CREDENTIALS) from None
        except requests.RequestException as exc:
            raise PullError(f"cannot reach Salesforce to log in: {exc}",
                            hint="check SALESFORCE_DOMAIN and the network") from None
        self.api = Api("Salesforce", self._refusal, CREDENTIALS)

    def _remember(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.last = response
        return response

    def _refusal(self, exc: Exception) -> Refusal | None:
        import requests
        from simple_salesforce.exceptions import SalesforceError

        if isinstance(exc, SalesforceError):
            headers = getattr(self.last, "headers", None) or {}
            return Refusal(exc.status, headers.get("Retry-After"), _said(exc.content))
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return Refusal(None, None, type(exc).__name__)
        return None

    def records(self, soql: str, what: str, patience: Patience) -> Iterator[dict[str, Any]]:
        """Every record *soql* finds, page after page (nextRecordsUrl)."""
        page = patiently(lambda: self.sf.query(soql), what, self.api, patience)
        yield from page["records"]
        while not page.get("done", True):
            following = page["nextRecordsUrl"]
            page = patiently(partial(self.sf.query_more, following, identifier_is_url=True),
                             what, self.api, patience)
            yield from page["records"]

    def fields(self, sobject: str, patience: Patience) -> list[str]:
        """The names of *sobject*'s fields (its describe)."""
        described = patiently(lambda: getattr(self.sf, sobject).describe(),
                              f"describe {sobject}", self.api, patience)
        return [f["name"] for f in described["fields"]]


def _said(content: Any) -> str:
    """A Salesforce error's own words: its first errorCode and message."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return f"{content[0].get('errorCode', '')}: {content[0].get('message', '')}"[:300]
    return str(content)[:300]


def pull(client: Client, folder: str, *, fields: Sequence[str] = (),
         since: dt.datetime | None = None, patience: Patience | None = None) -> Pulled:
    """Pull Opportunity, OpportunityHistory and User into *folder*, with the extra
    Opportunity *fields* (the process's `crm:` fields). Into a folder that holds a pull
    already, only what changed since its latest change (or since *since*) is fetched and
    merged in; nothing is written unless everything was fetched."""
    patience = patience or Patience()
    since = in_utc(since)
    old = {name: read_table(folder, name, "Id") for name in
           ("Opportunity.csv", "OpportunityHistory.csv", "User.csv")}
    if since is None:
        since = resume_from(old["Opportunity.csv"], CHANGED, folder)
    pulled = Pulled(since=since)
    tables = []
    with as_documented("Salesforce"):
        existing = client.fields("Opportunity", patience)
        kept = _kept(old["Opportunity.csv"], existing)
        wanted = _opportunity_fields(existing, [*fields, *kept])
        for name, sobject, columns, changed in (
                ("Opportunity.csv", "Opportunity", wanted, CHANGED),
                ("OpportunityHistory.csv", "OpportunityHistory", list(HISTORY), "CreatedDate"),
                ("User.csv", "User", list(USER), CHANGED)):
            soql = f"SELECT {', '.join(columns)} FROM {sobject}"
            if since is not None:
                soql += f" WHERE {changed} >= {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            rows = [[text(r.get(c)) for c in columns]
                    for r in client.records(soql, f"the {sobject} records", patience)]
            pulled.fetched[name] = len(rows)
            tables.append(Table(name, columns, rows, "Id"))
    pulled.files = write_tables(folder, [t.merged_into(old[t.name]) for t in tables])
    return pulled


def _kept(table: Table | None, existing: Sequence[str]) -> list[str]:
    """The Opportunity fields the folder's file has (a pull with --process wrote them):
    fetched again, so that a later pull not told the process's fields does not leave them empty in
    the rows it replaces."""
    if table is None:
        return []
    known = {f.lower() for f in existing}
    return [c for c in table.header if c.lower() in known]


def _opportunity_fields(existing: Sequence[str], named: Sequence[str]) -> list[str]:
    """The Opportunity fields to select: the reader's that the org has, the *named* ones
    (as the org spells them; an error for those it lacks) and SystemModstamp."""
    spelt = {f.lower(): f for f in existing}
    missing = [n for n in named if n.lower() not in spelt]
    if missing:
        raise PullError(f"Opportunity has no field {', '.join(missing)} (the process's crm: "
                        "section names it)", hint="use the field's API name (e.g. "
                        "Loss_Reason__c), as Setup > Object Manager > Opportunity shows it")
    chosen = [spelt[f.lower()] for f in (*OPPORTUNITY, *named, CHANGED) if f.lower() in spelt]
    return list(dict.fromkeys(chosen))


def text(value: Any) -> str:
    """A field's value as Data Loader writes it: booleans ``true``/``false``, times in
    UTC with ``Z``, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.endswith("+0000") and "T" in value:
        return value[:-5] + "Z"
    return str(value)
