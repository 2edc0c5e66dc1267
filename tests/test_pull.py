"""`salesproc pull`: the real client libraries (simple-salesforce, hubspot-api-client)
talking to a local server that answers as the CRMs' APIs do, in their documented
response shapes (Salesforce's query pages with totalSize, done and nextRecordsUrl;
HubSpot's pages with paging.next.after and propertiesWithHistory), with rate limits,
failures and refused credentials. No network: the server listens on 127.0.0.1
(simple-salesforce speaks only HTTPS: the server has a certificate made for the test,
trusted through REQUESTS_CA_BUNDLE, as requests reads it)."""

from __future__ import annotations

import abc
import contextlib
import csv
import datetime as dt
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from salesproc.history.pull_salesforce import API_VERSION
from tests.conftest import ROOT, run

SALESFORCE = ROOT / "examples" / "five-step-salesforce"
HUBSPOT = ROOT / "examples" / "hubspot-first-export"
FIVE_STEP = str(ROOT / "processes" / "five-step.yaml")
DEALS = 300  # the example's first deals: pages of 100, cheap to measure
OWNER = {"Id": "005000000000001", "Name": "Ana Ruiz"}
TOKEN = "00D-test-token"
API = f"/services/data/v{API_VERSION}"


# --- a server that answers as the CRMs' APIs do -----------------------------------------

@dataclass
class Answer:
    """One answer: status, JSON body, headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Crm:
    """What the CRM holds (records by object), the answers it gives before the real ones
    (by kind of request: its troubles), and the requests it got."""

    records: dict[str, list[dict[str, Any]]]
    trouble: dict[str, list[Answer]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page: int = 100


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        crm = self.server.crm
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        crm.seen.append((method, self.path))
        kind = self.server.kind(url.path)
        queued = crm.trouble.get(kind)
        if queued:
            answer = queued.pop(0)
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            answer = self.server.unauthorized()
        else:
            answer = self.server.answer(kind, url.path, parse_qs(url.query), body)
        data = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer, abc.ABC):
    """The CRM's API on 127.0.0.1 (in a thread, for one test module); each CRM's
    subclass says how it routes, answers and refuses."""

    daemon_threads = True

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.crm = Crm(records)

    @abc.abstractmethod
    def kind(self, path: str) -> str:
        """Each CRM's own."""

    @abc.abstractmethod
    def answer(self, kind: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        """Each CRM's own."""

    @abc.abstractmethod
    def unauthorized(self) -> Answer:
        """Each CRM's own."""


class SalesforceApi(Server):
    """Salesforce's REST API: describe, and SOQL queries (SELECT fields FROM object
    [WHERE field >= time]) answered page by page."""

    def kind(self, path: str) -> str:
        if path.endswith("/describe"):
            return "describe"
        return "query" if path == f"{API}/query/" else "more"

    def unauthorized(self) -> Answer:
        return Answer(401, [{"message": "Session expired or invalid",
                             "errorCode": "INVALID_SESSION_ID"}])

    def answer(self, kind: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        if kind == "describe":
            names = {f for r in self.crm.records["Opportunity"] for f in r} - {"attributes"}
            return Answer(200, {"name": "Opportunity", "fields": [
                {"name": n, "label": n, "type": "string"} for n in sorted(names)]})
        if kind == "query":
            soql = query["q"][0]
            found = re.fullmatch(r"SELECT (.+) FROM (\w+)(?: WHERE (\w+) >= (\S+))?", soql)
            assert found, soql
            fields, sobject, since_field, since = found.groups()
            rows = [r for r in self.crm.records[sobject]
                    if since is None or _time(r[since_field]) >= _time(since)]
            rows = [{"attributes": r["attributes"], **{f: r[f] for f in fields.split(", ")}}
                    for r in rows]
            cursor = f"01gQ{len(self.crm.cursors):04d}"
            self.crm.cursors[cursor] = rows
            return self._page(cursor, 0)
        cursor, start = path.rsplit("/", 1)[1].split("-")
        return self._page(cursor, int(start))

    def _page(self, cursor: str, start: int) -> Answer:
        rows = self.crm.cursors[cursor]
        end = start + self.crm.page
        page: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows),
                                "records": rows[start:end]}
        if end < len(rows):
            page["nextRecordsUrl"] = f"{API}/query/{cursor}-{end}"
        return Answer(200, page)


class HubSpotApi(Server):
    """HubSpot's CRM API v3: deal pipelines and properties, deals page by page with
    their stage history, the search and batch read."""

    def kind(self, path: str) -> str:
        """deals (the listing), search, read, pipelines, properties or owners."""
        parts = path.rstrip("/").split("/")
        return parts[3] if parts[3] in ("pipelines", "properties", "owners") else parts[-1]

    def unauthorized(self) -> Answer:
        return Answer(401, {"status": "error", "message": "Authentication credentials not "
                            "found.", "correlationId": "4f2c", "category":
                            "INVALID_AUTHENTICATION"})

    def answer(self, kind: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        deals = self.crm.records["deals"]
        if path.startswith("/crm/v3/pipelines/"):
            return Answer(200, {"results": self.crm.records["pipelines"]})
        if kind in ("properties", "owners"):
            return Answer(200, {"results": self.crm.records[kind]})
        if kind == "search":
            since = int(body["filterGroups"][0]["filters"][0]["value"])
            found = [d for d in deals
                     if _millis(d["properties"]["hs_lastmodifieddate"]) >= since]
            start = int(body.get("after") or 0)
            page: dict[str, Any] = {"total": len(found), "results": [
                {**d, "properties": {"hs_object_id": d["id"]}}
                for d in found[start:start + self.crm.page]]}
            if start + self.crm.page < len(found):
                page["paging"] = {"next": {"after": str(start + self.crm.page)}}
            return Answer(200, page)
        if kind == "read":
            wanted = {i["id"] for i in body["inputs"]}
            return Answer(200, {"status": "COMPLETE", "startedAt": "2026-12-01T00:00:00Z",
                                "completedAt": "2026-12-01T00:00:01Z",
                                "results": [d for d in deals if d["id"] in wanted]})
        start = int(query.get("after", ["0"])[0])
        limit = min(int(query["limit"][0]), self.crm.page)
        page = {"results": deals[start:start + limit]}
        if start + limit < len(deals):
            page["paging"] = {"next": {"after": str(start + limit),
                                       "link": f"?after={start + limit}"}}
        return Answer(200, page)


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))


def _millis(text: str) -> int:
    return int(_time(text).timestamp() * 1000)


@contextlib.contextmanager
def serving(server: Server, tls: ssl.SSLContext | None) -> Iterator[Server]:
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1, made for the test (an EC key: quick to make)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return folder / "cert.pem", context


# --- the CRMs' records, from the examples ----------------------------------------------

def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _api_time(text: str) -> str | None:
    """A Data Loader time as the REST API writes it (``+0000``)."""
    return text.replace("Z", "+0000") if text else None


def _typed(name: str, text: str) -> Any:
    """An export's value as the REST API's JSON holds it."""
    if text == "":
        return None
    if name in ("Amount", "Probability"):
        return float(text)
    if name in ("IsClosed", "IsWon"):
        return text == "true"
    return _api_time(text) if name in ("CreatedDate", "SystemModstamp") else text


def salesforce_records(opportunities: list[dict[str, str]], history: list[dict[str, str]]
                       ) -> dict[str, list[dict[str, Any]]]:
    """Opportunity, OpportunityHistory and User records as the query API returns them;
    each opportunity last changed at its last history row."""
    changed: dict[str, str] = {}
    for row in history:
        changed[row["OpportunityId"]] = max(changed.get(row["OpportunityId"], ""),
                                            row["CreatedDate"])

    def record(sobject: str, row: dict[str, str]) -> dict[str, Any]:
        return {"attributes": {"type": sobject, "url": f"{API}/sobjects/{sobject}/{row['Id']}"},
                **{k: _typed(k, v) for k, v in row.items()}}

    return {"Opportunity": [record("Opportunity", {**o, "SystemModstamp": changed[o["Id"]]})
                            for o in opportunities],
            "OpportunityHistory": [{**record("OpportunityHistory", h), "Probability": None}
                                   for h in history],
            "User": [record("User", {**OWNER, "SystemModstamp": "2025-06-01T00:00:00.000Z"})]}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]],
                                                               list[dict[str, str]]]:
    """The example export's first deals, as an export (a folder of CSV files) and rows."""
    folder = tmp_path_factory.mktemp("export")
    opportunities = _rows(SALESFORCE / "Opportunity.csv")[:DEALS]
    ids = {o["Id"] for o in opportunities}
    history = [h for h in _rows(SALESFORCE / "OpportunityHistory.csv")
               if h["OpportunityId"] in ids]
    for name, rows in (("Opportunity.csv", opportunities),
                       ("OpportunityHistory.csv", history), ("User.csv", [OWNER])):
        with open(folder / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return folder, opportunities, history


@pytest.fixture(scope="module")
def salesforce(certificate: tuple[Path, ssl.SSLContext], example: Any) -> Iterator[Server]:
    _, opportunities, history = example
    with serving(SalesforceApi(salesforce_records(opportunities, history)),
                 certificate[1]) as server:
        yield server


@pytest.fixture
def sf_env(monkeypatch: pytest.MonkeyPatch, salesforce: Server,
           certificate: tuple[Path, ssl.SSLContext]) -> Server:
    """The environment pointing simple-salesforce at the server; its troubles and
    requests cleared."""
    for name in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL",
                       f"https://127.0.0.1:{salesforce.server_address[1]}")
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    salesforce.crm.trouble.clear()
    salesforce.crm.seen.clear()
    return salesforce


def measured(*args: str) -> dict[str, Any]:
    """`measure --format json` of the files given (the five-step process), without where
    they are."""
    return measured_with(FIVE_STEP, *args)


def measured_with(process: str, *args: str) -> dict[str, Any]:
    """`measure --format json` of the files given, without where they are."""
    result = run("measure", *args, "--process", process, "--format", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    text = json.dumps(found)
    for path in args:
        text = text.replace(json.dumps(str(Path(path).parent))[1:-1], "DIR")
    return dict(json.loads(text))


def files(folder: Path) -> list[str]:
    return [str(folder / n) for n in ("Opportunity.csv", "OpportunityHistory.csv", "User.csv")]


# --- Salesforce ------------------------------------------------------------------------

def test_salesforce_pull_pages_to_the_end_and_measures_as_the_export(
        sf_env: Server, example: Any, tmp_path: Path) -> None:
    export, opportunities, history = example
    result = run("pull", "salesforce", "-o", str(tmp_path / "pulled"), "--process", FIVE_STEP)
    assert result.exit_code == 0, result.output
    assert (f"pulled all: {len(opportunities):,} Opportunity, {len(history):,} "
            "OpportunityHistory, 1 User") in result.stderr
    following = [p for _, p in sf_env.crm.seen if "/query/01gQ" in p]  # every next page
    assert len(following) == (len(opportunities) - 1) // 100 + (len(history) - 1) // 100 > 1
    pulled = _rows(tmp_path / "pulled" / "Opportunity.csv")
    assert [o["Id"] for o in pulled] == [o["Id"] for o in opportunities]
    assert {"Segment__c", "Loss_Reason__c", "SystemModstamp"} <= set(pulled[0])
    assert pulled[0]["CreatedDate"] == opportunities[0]["CreatedDate"]  # Data Loader's form
    assert measured(*files(tmp_path / "pulled")) == measured(*files(export))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits a pull asks for, recorded instead of slept."""
    asked: list[float] = []
    monkeypatch.setattr(time, "sleep", asked.append)
    return asked


def test_salesforce_rate_limit_is_waited_out_as_asked(sf_env: Server, waits: list[float],
                                                      tmp_path: Path) -> None:
    busy = Answer(429, [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                  {"Retry-After": "7"})
    sf_env.crm.trouble["more"] = [busy, busy]
    result = run("pull", "salesforce", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert waits == [7.0, 7.0]
    assert len(_rows(tmp_path / "OpportunityHistory.csv")) == \
        len(sf_env.crm.records["OpportunityHistory"])


def test_salesforce_failing_thrice_stops_kindly_and_writes_nothing(
        sf_env: Server, waits: list[float], tmp_path: Path) -> None:
    (tmp_path / "Opportunity.csv").write_text('"Id","SystemModstamp"\n"006x","2026-01-01T00:00:00'
                                              '.000Z"\n', "utf-8")
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir())
    sf_env.crm.trouble["more"] = [Answer(500, [{"message": "An unexpected error occurred",
                                                "errorCode": "UNKNOWN_EXCEPTION"}])] * 3
    result = run("pull", "salesforce", "-o", str(tmp_path), "--since", "2025-01-01")
    assert result.exit_code == 1
    assert "Salesforce answered 500 3 times" in result.stderr
    assert "UNKNOWN_EXCEPTION" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert waits == [1.0, 2.0]  # backoff, doubled, bounded by the tries
    assert sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir()) == before


def test_salesforce_out_of_reach_is_tried_thrice_then_said(
        sf_env: Server, waits: list[float], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    with contextlib.closing(socket.socket()) as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("SALESFORCE_INSTANCE_URL", f"https://127.0.0.1:"
                           f"{closed.getsockname()[1]}")
        result = run("pull", "salesforce", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "Salesforce gave no answer 3 times" in result.stderr
    assert "Traceback" not in result.output and waits == [1.0, 2.0]
    assert not (tmp_path / "out").exists()


def test_salesforce_refused_credentials_name_the_variables(sf_env: Server,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", "expired")
    result = run("pull", "salesforce", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "Salesforce refused the credentials" in result.stderr
    assert "INVALID_SESSION_ID" in result.stderr
    assert "SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN" in result.stderr
    assert not (tmp_path / "out").exists()
    monkeypatch.delenv("SALESFORCE_ACCESS_TOKEN")
    result = run("pull", "salesforce", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "no Salesforce credentials in the environment" in result.stderr
    assert "SALESFORCE_USERNAME" in result.stderr


def test_a_folder_of_the_users_own_export_is_not_merged_into_unasked(
        sf_env: Server, example: Any, tmp_path: Path) -> None:
    export = example[0]
    before = {p.name: p.read_bytes() for p in export.iterdir()}
    result = run("pull", "salesforce", "-o", str(export))
    assert result.exit_code == 1
    assert "holds Opportunity.csv without SystemModstamp: not a pull's" in result.stderr
    assert "give the day to start from" in result.stderr
    assert {p.name: p.read_bytes() for p in export.iterdir()} == before
    assert sf_env.crm.seen == []  # nothing was asked of the CRM


def test_salesforce_incremental_pull_fetches_the_changes_and_merges(
        sf_env: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    records = sf_env.crm.records
    assert run("pull", "salesforce", "-o", str(tmp_path / "pulled"),
               "--process", FIVE_STEP).exit_code == 0
    # a deal moves on, a new one comes, after everything the folder holds
    moved = dict(records["Opportunity"][-1])
    later = "2026-12-30T10:00:00.000+0000"
    moved.update(StageName="Closed Lost", IsClosed=True, IsWon=False, SystemModstamp=later)
    new = {**records["Opportunity"][0], "Id": "006000000009999", "Name": "A new deal",
           "StageName": "Prospecting", "IsClosed": False, "CreatedDate": later,
           "SystemModstamp": later}
    rows = [{"attributes": {"type": "OpportunityHistory"}, "Id": "008000000099998",
             "OpportunityId": moved["Id"], "StageName": "Closed Lost", "CreatedDate": later,
             "Amount": moved["Amount"], "CloseDate": moved["CloseDate"], "Probability": None},
            {"attributes": {"type": "OpportunityHistory"}, "Id": "008000000099999",
             "OpportunityId": new["Id"], "StageName": "Prospecting", "CreatedDate": later,
             "Amount": new["Amount"], "CloseDate": new["CloseDate"], "Probability": None}]
    monkeypatch.setitem(records, "Opportunity", [*records["Opportunity"][:-1], moved, new])
    monkeypatch.setitem(records, "OpportunityHistory", [*records["OpportunityHistory"], *rows])
    result = run("pull", "salesforce", "-o", str(tmp_path / "pulled"))  # the fields kept
    assert result.exit_code == 0, result.output
    assert "changed since 2026-" in result.stderr
    # the changes, and the deal changed last before (at the folder's latest change: fetched
    # again, so that nothing changed in that same second is missed)
    assert "3 Opportunity, 3 OpportunityHistory, 0 User" in result.stderr
    merged = _rows(tmp_path / "pulled" / "Opportunity.csv")
    assert [o["Id"] for o in merged] == [o["Id"] for o in records["Opportunity"]]
    assert merged[-2]["StageName"] == "Closed Lost"
    assert run("pull", "salesforce", "-o", str(tmp_path / "fresh"),
               "--process", FIVE_STEP).exit_code == 0
    assert measured(*files(tmp_path / "pulled")) == measured(*files(tmp_path / "fresh"))


def test_pull_without_the_client_libraries_says_how_to_install(
        sf_env: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "simple_salesforce.api", None)  # as if not installed
    result = run("pull", "salesforce", "-o", str(tmp_path))
    assert result.exit_code == 1
    assert "simple-salesforce library, which is not installed" in result.stderr
    assert "pip install 'salesproc[crm]'" in result.stderr


# --- HubSpot ---------------------------------------------------------------------------

STAGE_IDS = {"Appointment Scheduled": "appointmentscheduled",
             "Presentation Scheduled": "presentationscheduled",
             "Closed Won": "closedwon", "Closed Lost": "closedlost"}
OWNED = 5  # deals with an owner
HUBSPOT_CRM = """
crm:
  stages: {Appointment Scheduled: inquiry, Presentation Scheduled: meeting}
  lost_reason: Closed Lost Reason
"""


def _hubspot_time(text: str) -> str | None:
    """An export's time (``2026-01-05 04:14:31``) as the API writes it."""
    return f"{text.replace(' ', 'T')}.000Z" if text else None


def hubspot_deal(row: dict[str, str]) -> dict[str, Any]:
    """A deals export's row as the API returns the deal, with its stage history (newest
    first) from the row's `Date entered` columns."""
    history = sorted(((_hubspot_time(v), STAGE_IDS[k.split('"')[1].rsplit(" (", 1)[0]])
                      for k, v in row.items() if k.startswith("Date entered") and v),
                     reverse=True)
    changed = max([t for t, _ in history] + [_hubspot_time(row["Create Date"]) or ""])
    return {"id": row["Record ID"], "createdAt": _hubspot_time(row["Create Date"]),
            "updatedAt": changed, "archived": False,
            "properties": {"hs_object_id": row["Record ID"], "dealname": row["Deal Name"],
                           "dealstage": STAGE_IDS[row["Deal Stage"]],
                           "createdate": _hubspot_time(row["Create Date"]),
                           "closedate": _hubspot_time(row["Close Date"]),
                           "amount": row["Amount"] or None, "pipeline": "default",
                           "hs_lastmodifieddate": changed,
                           "closed_lost_reason": row["Closed Lost Reason"] or None},
            "propertiesWithHistory": {"dealstage": [
                {"value": stage, "timestamp": at, "sourceType": "CRM_UI"}
                for at, stage in history]}}


def _stamp(thing: dict[str, Any]) -> dict[str, Any]:
    return {**thing, "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z",
            "archived": False}


def hubspot_records(rows: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    stages = [_stamp({"id": sid, "label": label, "displayOrder": k, "metadata": {
        "isClosed": str(label.startswith("Closed")).lower(), "probability": "0.5"}})
        for k, (label, sid) in enumerate(STAGE_IDS.items())]
    properties = [{"name": name, "label": label, "type": "string", "fieldType": "text",
                   "groupName": "dealinformation", "description": "", "options": []}
                  for name, label in (("dealname", "Deal Name"), ("amount", "Amount"),
                                      ("closed_lost_reason", "Closed Lost Reason"))]
    deals = [hubspot_deal(r) for r in rows]
    for deal in deals[:OWNED]:
        deal["properties"]["hubspot_owner_id"] = "501"
    owners = [_stamp({"id": "501", "firstName": "Ana", "lastName": "Ruiz", "type": "PERSON",
                      "email": "ana@acme.example", "userId": 9})]
    return {"deals": deals, "properties": properties, "owners": owners,
            "pipelines": [_stamp({"id": "default", "label": "Sales Pipeline",
                                  "displayOrder": 0, "stages": stages})]}


@pytest.fixture(scope="module")
def hubspot() -> Iterator[Server]:
    with serving(HubSpotApi(hubspot_records(_rows(HUBSPOT / "deals.csv"))), None) as server:
        yield server


@pytest.fixture
def hs_env(monkeypatch: pytest.MonkeyPatch, hubspot: Server) -> Server:
    monkeypatch.setenv("HUBSPOT_API_HOST", f"http://127.0.0.1:{hubspot.server_address[1]}")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    hubspot.crm.trouble.clear()
    hubspot.crm.seen.clear()
    return hubspot


@pytest.fixture(scope="module")
def hubspot_process(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("process") / "acme-sales.yaml"
    path.write_text((HUBSPOT / "acme-sales.yaml").read_text("utf-8") + HUBSPOT_CRM, "utf-8")
    return str(path)


def test_hubspot_pull_pages_to_the_end_and_measures_as_the_export(
        hs_env: Server, hubspot_process: str, tmp_path: Path) -> None:
    result = run("pull", "hubspot", "-o", str(tmp_path), "--process", hubspot_process)
    assert result.exit_code == 0, result.output
    deals = hs_env.crm.records["deals"]
    assert f"pulled all: {len(deals)} deals" in result.stderr
    pages = [p for m, p in hs_env.crm.seen if p.startswith("/crm/v3/objects/deals")]
    assert len(pages) == -(-len(deals) // 50) > 1
    assert all("propertiesWithHistory=dealstage" in p for p in pages)
    pulled = _rows(tmp_path / "deals.csv")
    assert {r["Deal Stage"] for r in pulled} == set(STAGE_IDS)  # labels, not ids
    assert [r["Deal owner"] for r in pulled[:OWNED + 1]] == ["Ana Ruiz"] * OWNED + [""]
    example = HUBSPOT / "deals.csv"
    compared = [measured_with(hubspot_process, str(f)) for f in (tmp_path / "deals.csv",
                                                                 example)]
    assert compared[0] == compared[1]
    assert compared[0]["overall"]["deals"] == len(deals)



def test_hubspot_rate_limit_is_waited_and_credentials_refused_kindly(
        hs_env: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The library's own wait is injected (Patience.wait): nothing sleeps."""
    from salesproc.history import pull_hubspot
    from salesproc.history.pull import Patience, PullError

    secondly = Answer(429, {"status": "error", "message": "You have reached your secondly "
                            "limit.", "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                      {"Retry-After": "1"})
    hs_env.crm.trouble["deals"] = [secondly]  # the first page of deals
    waited: list[float] = []
    client = pull_hubspot.Client({"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_HOST":
                                  f"http://127.0.0.1:{hs_env.server_address[1]}"})
    pulled = pull_hubspot.pull(client, str(tmp_path), patience=Patience(wait=waited.append))
    assert waited == [1.0]
    assert pulled.fetched == {"deals.csv": len(hs_env.crm.records["deals"])}
    hs_env.crm.trouble["owners"] = [Answer(403, {
        "status": "error", "message": "This app hasn't been granted all required scopes",
        "category": "MISSING_SCOPES"})]  # a token that may not read owners: ids, and said
    pulled = pull_hubspot.pull(client, str(tmp_path / "ids"), patience=Patience())
    assert "crm.objects.owners.read" in pulled.notes[0]
    assert _rows(tmp_path / "ids" / "deals.csv")[0]["Deal owner"] == "501"
    hs_env.crm.trouble["deals"] = [secondly] * 8  # rate-limited for good
    with pytest.raises(PullError, match="rate-limiting the pull"):
        pull_hubspot.pull(client, str(tmp_path / "again"),
                          patience=Patience(wait=waited.append))
    assert not (tmp_path / "again").exists()
    hs_env.crm.trouble["pipelines"] = [Answer(200, {"results": [{"id": "default"}]})]
    result = run("pull", "hubspot", "-o", str(tmp_path / "odd"))  # no label, no stages
    assert result.exit_code == 1, result.output
    assert "HubSpot's answer is not what its API documents" in result.stderr
    assert "nothing was written" in result.stderr and not (tmp_path / "odd").exists()
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "revoked")
    result = run("pull", "hubspot", "-o", str(tmp_path / "refused"))
    assert result.exit_code == 1
    assert "HubSpot refused the credentials" in result.stderr
    assert "Authentication credentials not found" in result.stderr
    assert "HUBSPOT_ACCESS_TOKEN" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "refused").exists()


def test_hubspot_incremental_pull_reads_the_changed_deals_and_merges(
        hs_env: Server, hubspot_process: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    deals = hs_env.crm.records["deals"]
    first = run("pull", "hubspot", "-o", str(tmp_path / "pulled"), "--process", hubspot_process)
    assert first.exit_code == 0, first.output
    # an open deal is lost, weeks after everything the folder holds
    open_deal = next(k for k, d in enumerate(deals)
                     if d["properties"]["dealstage"] == "presentationscheduled")
    later = "2026-12-30T10:00:00.000Z"
    lost = json.loads(json.dumps(deals[open_deal]))
    lost["properties"].update(dealstage="closedlost", hs_lastmodifieddate=later,
                              closed_lost_reason="budget cut")
    lost["propertiesWithHistory"]["dealstage"].insert(
        0, {"value": "closedlost", "timestamp": later, "sourceType": "CRM_UI"})
    monkeypatch.setitem(hs_env.crm.records, "deals",
                        [*deals[:open_deal], lost, *deals[open_deal + 1:]])
    hs_env.crm.seen.clear()
    result = run("pull", "hubspot", "-o", str(tmp_path / "pulled"))  # the fields kept
    assert result.exit_code == 0, result.output
    assert "changed since 2026-" in result.stderr
    searched = [p for m, p in hs_env.crm.seen if p.endswith("/search")]
    assert searched and not [p for m, p in hs_env.crm.seen if "/deals?" in p]  # no listing
    merged = _rows(tmp_path / "pulled" / "deals.csv")
    assert len(merged) == len(deals)
    row = next(r for r in merged if r["Record ID"] == lost["id"])
    assert row["Deal Stage"] == "Closed Lost"
    assert row['Date entered "Closed Lost (Sales Pipeline)"'] == later
    assert row["Closed Lost Reason"] == "budget cut"
    fresh = run("pull", "hubspot", "-o", str(tmp_path / "fresh"), "--process", hubspot_process)
    assert fresh.exit_code == 0
    assert measured_with(hubspot_process, str(tmp_path / "pulled" / "deals.csv")) == \
        measured_with(hubspot_process, str(tmp_path / "fresh" / "deals.csv"))
