"""`salesproc pull hubspot`: deals.csv as HubSpot's deals export gives it (history/hubspot.py
reads it), pulled through the CRM API v3 with hubspot-api-client.

Each deal's stage comes with its history (``propertiesWithHistory=dealstage``), written as
the export writes it: a `Date entered "<stage> (<pipeline>)"` column per stage of every
pipeline, holding the deal's latest entry into that stage (the export keeps one date per
stage, so a deal that went back shows its last entry). Stage and pipeline ids are written
as their labels (the pipelines API names them), owners by name (the owners API). The deal
fields the process's `crm:` section names (by label, as the export heads them, or by
internal name) are fetched too, headed as the process names them (and those the folder's
file has: a later pull not told them keeps them); ``hs_lastmodifieddate`` (`Last
Modified Date`) is where the next pull into the folder starts.

An incremental pull finds the deals changed since then with the search API (sorted by
their change, at most 10,000 of them: more is a full pull's work) and reads them, with
their stage history, by batches of ids; they replace the folder's rows of the same
`Record ID`. Deals deleted in HubSpot stay in the file; a pull into a new folder starts
over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from salesproc.history.hubspot import ENTERED
from salesproc.history.pull import (
    Api,
    Patience,
    Pulled,
    PullError,
    Refusal,
    Refused,
    Table,
    as_documented,
    in_utc,
    missing_client,
    patiently,
    read_table,
    resume_from,
    write_tables,
)

#: The deal properties the HubSpot reader uses, and the export's heading for each.
PROPERTIES = {"hs_object_id": "Record ID", "dealname": "Deal Name", "dealstage": "Deal Stage",
              "createdate": "Create Date", "closedate": "Close Date", "amount": "Amount",
              "pipeline": "Pipeline", "hubspot_owner_id": "Deal owner",
              "hs_deal_stage_probability": "Deal probability",
              "hs_manual_forecast_category": "Forecast category",
              "deal_currency_code": "Currency", "hs_lastmodifieddate": "Last Modified Date"}
CHANGED = "Last Modified Date"
FILE = "deals.csv"
CREDENTIALS = ("set HUBSPOT_ACCESS_TOKEN to a private app's access token with the "
               "crm.objects.deals.read, crm.schemas.deals.read and "
               "crm.objects.owners.read scopes")
#: Deals a page holds with their history (HubSpot's limit with propertiesWithHistory).
PAGE = 50
#: The most results HubSpot's search API gives for one search.
SEARCH_LIMIT = 10_000


class Client:
    """A hubspot-api-client connection (token from the environment; HUBSPOT_API_HOST
    points it at another host, such as a proxy)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        try:
            from hubspot import HubSpot
            from urllib3.util.retry import Retry
        except ImportError:
            raise missing_client("hubspot-api-client") from None
        token = env.get("HUBSPOT_ACCESS_TOKEN")
        if not token:
            raise PullError("no HubSpot access token in the environment", hint=CREDENTIALS)
        # urllib3 would wait out a 429's Retry-After itself, unbounded and unseen: the
        # waiting is patiently()'s alone
        settings: dict[str, Any] = {"access_token": token,
                                    "retry": Retry(total=0, respect_retry_after_header=False)}
        if env.get("HUBSPOT_API_HOST"):
            settings["host"] = env["HUBSPOT_API_HOST"].rstrip("/")
        self.hubspot: Any = HubSpot(**settings)
        self.api = Api("HubSpot", _refusal, CREDENTIALS)

    def call(self, request: Any, what: str, patience: Patience) -> Any:
        """*request*'s answer, as patiently as *patience* allows."""
        return patiently(request, what, self.api, patience)


def _refusal(exc: Exception) -> Refusal | None:
    import urllib3

    status = getattr(exc, "status", None)
    if type(exc).__name__ in ("ApiException", "NotFoundException", "UnauthorizedException",
                              "ForbiddenException", "ServiceException") and status:
        headers = getattr(exc, "headers", None) or {}
        return Refusal(int(status), headers.get("Retry-After"), _said(getattr(exc, "body", "")))
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return Refusal(None, None, type(exc).__name__)
    return None


def _said(body: Any) -> str:
    """A HubSpot error's own words (its message)."""
    import json

    try:
        return str(json.loads(body).get("message", body))[:300]
    except (TypeError, ValueError, AttributeError):
        return str(body)[:300]


def pull(client: Client, folder: str, *, fields: Sequence[str] = (),
         since: dt.datetime | None = None, patience: Patience | None = None) -> Pulled:
    """Pull the deals, with their stage history, into *folder*/deals.csv, with the deal
    *fields* the process names. Into a folder that holds a pull already, only the deals
    changed since its latest change (or since *since*) are fetched and merged in."""
    patience = patience or Patience()
    since = in_utc(since)
    old = read_table(folder, FILE, "Record ID")
    if since is None:
        since = resume_from(old, CHANGED, folder)
    notes: list[str] = []
    with as_documented("HubSpot"):
        stages, pipelines = _pipelines(client, patience)
        owners = _owners(client, patience, notes)
        names = _properties(client, [*fields, *_kept(old)], patience)
        wanted = [*PROPERTIES, *[n for n in names.values() if n not in PROPERTIES]]
        deals = list(_all(client, wanted, patience) if since is None
                     else _changed(client, wanted, since, patience))
        entered = {stage: f'Date entered "{label} ({pipelines.get(pipeline, pipeline)})"'
                   for stage, (label, pipeline) in stages.items()}
        header = [*PROPERTIES.values(), *names, *dict.fromkeys(entered.values())]
        rows = [_row(deal, names, Labels(stages, pipelines, owners, entered), header)
                for deal in deals]
    table = Table(FILE, header, rows, "Record ID").merged_into(old)
    return Pulled({FILE: len(rows)}, since, write_tables(folder, [table]), notes)


@dataclass(frozen=True)
class Labels:
    """What the export writes for the API's ids: each stage's label and pipeline, each
    pipeline's and owner's name, and each stage's `Date entered` column."""

    stages: dict[str, tuple[str, str]]
    pipelines: dict[str, str]
    owners: dict[str, str]
    entered: dict[str, str]


def _owners(client: Client, patience: Patience, notes: list[str]) -> dict[str, str]:
    """Each owner id's name (first and last, else the email), as the export's `Deal owner`
    shows it. A token without the owners' scope gets the ids written, and a note."""
    api = client.hubspot.crm.owners.owners_api
    names: dict[str, str] = {}
    after: str | None = None
    while True:
        try:
            page = client.call(partial(api.get_page, limit=100, after=after, archived=False),
                               "the deal owners", patience)
        except Refused as exc:
            if exc.status != 403:
                raise
            notes.append("the deals' owners are written by id: the token may not read "
                         "owners (give it the crm.objects.owners.read scope to have names)")
            return {}
        for owner in page.results:
            name = " ".join(n for n in (owner.first_name, owner.last_name) if n)
            names[str(owner.id)] = name or owner.email or str(owner.id)
        following = page.paging.next if page.paging else None
        if following is None or not following.after:
            return names
        after = following.after


def _kept(table: Table | None) -> list[str]:
    """The deal fields the folder's file has beyond the reader's own and its stage dates
    (a pull told the process's fields wrote them): fetched again, so that a later pull
    not told them does not leave them empty in the rows it replaces."""
    if table is None:
        return []
    return [c for c in table.header if c not in PROPERTIES.values() and not ENTERED.match(c)]


def _pipelines(client: Client, patience: Patience
               ) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Each stage id's label and pipeline id, and each pipeline id's label, in the
    pipelines' order."""
    found = client.call(lambda: client.hubspot.crm.pipelines.pipelines_api.get_all("deals"),
                        "the deal pipelines", patience)
    stages: dict[str, tuple[str, str]] = {}
    pipelines: dict[str, str] = {}
    for pipeline in sorted(found.results, key=lambda p: p.display_order):
        pipelines[pipeline.id] = pipeline.label
        for stage in sorted(pipeline.stages, key=lambda s: s.display_order):
            stages[stage.id] = (stage.label, pipeline.id)
    return stages, pipelines


def _properties(client: Client, fields: Sequence[str], patience: Patience) -> dict[str, str]:
    """The deal property for each field the process names (by its label, as an export
    heads it, or by its internal name), by the name the process gives it."""
    if not fields:
        return {}
    found = client.call(lambda: client.hubspot.crm.properties.core_api.get_all("deals"),
                        "the deal properties", patience)
    by = {p.label.casefold(): p.name for p in found.results}
    by.update({p.name.casefold(): p.name for p in found.results})
    missing = [f for f in fields if f.casefold() not in by]
    if missing:
        raise PullError(f"HubSpot has no deal property {', '.join(missing)} (the process's "
                        "crm: section names it)", hint="name the property by its label or "
                        "internal name, as Settings > Properties > Deal properties shows it")
    return {f: by[f.casefold()] for f in fields}


def _all(client: Client, wanted: list[str], patience: Patience) -> Iterator[Any]:
    """Every deal with its stage history, page after page (paging.next.after)."""
    api = client.hubspot.crm.deals.basic_api
    after: str | None = None
    while True:
        page = client.call(partial(api.get_page, limit=PAGE, after=after, properties=wanted,
                                   properties_with_history=["dealstage"], archived=False),
                           "the deals", patience)
        yield from page.results
        following = page.paging.next if page.paging else None
        if following is None or not following.after:
            return
        after = following.after


def _changed(client: Client, wanted: list[str], since: dt.datetime, patience: Patience
             ) -> Iterator[Any]:
    """The deals changed since *since*, with their stage history: found by a search,
    read by batches of ids."""
    from hubspot.crm.deals import (
        BatchReadInputSimplePublicObjectId,
        Filter,
        FilterGroup,
        PublicObjectSearchRequest,
        SimplePublicObjectId,
    )

    ids: list[str] = []
    after: str | None = None
    changed = Filter(property_name="hs_lastmodifieddate", operator="GTE",
                     value=str(int(since.timestamp() * 1000)))
    while True:
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[changed])], properties=["hs_object_id"],
            sorts=["hs_lastmodifieddate"], limit=200, after=after or "0")
        page = client.call(partial(client.hubspot.crm.deals.search_api.do_search, request),
                           "the deals changed", patience)
        if page.total > SEARCH_LIMIT:
            raise PullError(f"{page.total:,} deals changed since {since:%Y-%m-%d}: more than "
                            f"HubSpot's search gives ({SEARCH_LIMIT:,})",
                            hint="pull everything into a new folder (no start day)")
        ids.extend(d.id for d in page.results)
        following = page.paging.next if page.paging else None
        if following is None or not following.after:
            break
        after = following.after
    for start in range(0, len(ids), PAGE):
        batch = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids[start:start + PAGE]],
            properties=wanted, properties_with_history=["dealstage"])
        read = client.call(partial(client.hubspot.crm.deals.batch_api.read, batch,
                                   archived=False), "the deals changed", patience)
        yield from read.results


def _row(deal: Any, names: dict[str, str], labels: Labels, header: list[str]) -> list[str]:
    """A deal as the export's row: ids named, each stage's latest entry dated."""
    values = dict(deal.properties or {})
    values["hs_object_id"] = values.get("hs_object_id") or deal.id
    stage = values.get("dealstage") or ""
    values["dealstage"] = labels.stages.get(stage, (stage, ""))[0]
    for name, known in (("pipeline", labels.pipelines), ("hubspot_owner_id", labels.owners)):
        values[name] = known.get(values.get(name) or "", values.get(name))
    row = {heading: values.get(name) for name, heading in PROPERTIES.items()}
    row.update({field: values.get(name) for field, name in names.items()})
    history = (deal.properties_with_history or {}).get("dealstage") or []
    for change in history:
        column = labels.entered.get(change.value)
        at = _utc(change.timestamp)
        if column and at and at > str(row.get(column) or ""):
            row[column] = at
    return ["" if row.get(h) is None else str(row[h]) for h in header]


def _utc(when: Any) -> str | None:
    """A history entry's time as the API writes times (ISO 8601, UTC, ``Z``)."""
    if isinstance(when, dt.datetime):
        utc: dt.datetime = when.astimezone(dt.timezone.utc) if when.tzinfo else when
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return str(when) if when else None  # the client reads every time it knows
