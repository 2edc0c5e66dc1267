"""What `salesproc init` writes: a starter process (small, valid, commented), or with
`--repo` a team's repository set up around it (the schema for editors, a GitHub Actions
workflow that validates and draws on every pull request, a pre-commit hook)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from salesproc.core.calendar import next_monday
from salesproc.process.model import LOST, WON
from salesproc.version import __version__

TEMPLATE = """\
# yaml-language-server: $schema={schema}
# A starter sales process. Edit it, then run: salesproc validate {command_file}
salesproc: 1
name: {title}
description: What this process is for, in one or two sentences.
currency: USD
time_unit: day                # bare numbers are days; 4h, 2w also work

calendar:                     # when the team works: a day of work is a working day
  hours: 09:00-17:00
  days: [mon, tue, wed, thu, fri]
  holidays: []                # dates nobody works, e.g. [{year}-12-25]

roles:                        # who works on deals; headcount bounds concurrency
  sdr: {{title: Sales development rep, department: Sales, headcount: 2}}
  ae: {{title: Account executive, department: Sales, headcount: 3}}

information:                  # what to find out; stages list it under requires
  need: {{label: Business problem to solve}}
  budget: {{label: Budget range}}

stages:                       # in order; deals start at the first one
  - id: inquiry
    name: Prospect requests information
    owner: sdr
    guidance: Reply within one business day.
    requires: [need]
    work: 1h                  # working time one person of the owner role is busy
    next: {{meeting: 0.5}}      # the rest is lost
    lost_reason: no response
  - id: meeting
    name: Meeting and demo
    owner: ae
    requires: [budget]
    delay: {{exponential: {{mean: 3}}}}   # waiting on the prospect: nobody busy
    work: 0.5
    next: {{won: 0.3}}

buyer_types:                  # shares of arriving leads add up to 1
  standard:
    name: Standard buyer
    share: 1
    value: {{lognormal: {{mean: 10000, sd: 4000}}}}

arrivals: {{rate: 10, per: week}}
simulation: {{start: {start}, horizon: 365, warmup: 30, replications: 20, seed: 1}}
"""


SCHEMA_URL = ("https://raw.githubusercontent.com/salesproc/salesproc/main/schemas/"
              "process.schema.json")
REPOSITORY = "https://github.com/salesproc/salesproc"
RELEASE = f"v{__version__}"  # every release is tagged so (CHANGELOG.md)
INSTALL = f"salesproc @ git+{REPOSITORY}@{RELEASE}"  # pip's requirement for this version

SCHEMA_FILE = Path("schemas", "process.schema.json")
WORKFLOW_FILE = Path(".github", "workflows", "salesproc.yml")
PRE_COMMIT_FILE = Path(".pre-commit-config.yaml")



def _template(name: str, **values: str) -> str:
    """A file of salesproc/templates/ with its {placeholders} filled in."""
    text = resources.files("salesproc").joinpath(f"templates/{name}").read_text("utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


#: The GitHub Actions workflow: validate and draw every process on each pull request.
WORKFLOW = _template("salesproc.yml", install=INSTALL)
#: The pre-commit configuration: salesproc's own hook, at this release.
PRE_COMMIT = _template("pre-commit-config.yaml", repository=REPOSITORY, release=RELEASE)


def new_id(label: str, taken: Mapping[str, object], prefix: str) -> str:
    """An id for a stage or buyer type a name from elsewhere (a CRM) is written as
    ('Proposal/Price Quote' -> proposal_price_quote): unique among *taken* (a number
    added) and not won or lost, starting with a letter (*prefix* added)."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:56] or prefix
    if not base[0].isalpha():
        base = f"{prefix}_{base}"
    found, k = base, 2
    while found in taken or found in (WON, LOST):
        found, k = f"{base}_{k}", k + 1
    return found


def title_from(name: str) -> str:
    """A process name from a file name: 'emea-midmarket' -> 'Emea Midmarket'."""
    words = re.split(r"[-_\s]+", Path(name).stem)
    return " ".join(w.capitalize() for w in words if w) or "My sales process"


def yaml_text(text: str) -> str:
    """*text* as a YAML scalar that reads back as that very text, whatever it holds
    (2025, null, off, 'a: b', # ...): a double-quoted string, as JSON writes it."""
    return json.dumps(text, ensure_ascii=False)


def target_path(name: str) -> Path:
    """The file init writes: NAME, with .yaml added unless it ends in .yaml or .yml."""
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") else path.with_suffix(".yaml")


def schema_reference(target: Path) -> str:
    """The schema for the editor modeline, as it works for everyone who clones the repo:
    a path relative to the file when the repository holds schemas/process.schema.json
    (salesproc schema --write schemas/ puts it there), else the published URL. Never an
    absolute path of this machine's installation."""
    folder = target.resolve().parent
    for candidate in (folder, *folder.parents):
        published = candidate / "schemas" / "process.schema.json"
        if published.is_file():
            return Path(os.path.relpath(published, folder)).as_posix()
    return SCHEMA_URL


def render(name: str, today: dt.date | None = None, schema: str | None = None) -> str:
    """The starter file's text for *name* (starting the coming Monday); its modeline names
    *schema*, by default the one :func:`schema_reference` finds."""
    target = target_path(name)
    command_file = shlex.quote(target.as_posix()).replace("\n", " ")
    start = next_monday(today or dt.date.today())
    return TEMPLATE.format(schema=schema or schema_reference(target),
                           command_file=command_file, title=yaml_text(title_from(name)),
                           start=start.isoformat(), year=start.year)


def process_name(folder: Path) -> str:
    """The starter process's file name in a repository *folder*: the folder's own name in
    lowercase words joined by '-' ('ACME Sales' -> 'acme-sales'), else 'sales-process'."""
    words = re.findall(r"[a-z0-9]+", folder.resolve().name.lower())
    return "-".join(words) or "sales-process"


def repository(folder: Path, schema_text: str,
               today: dt.date | None = None) -> dict[Path, str]:
    """The files `salesproc init --repo` writes into *folder*, by their path relative to
    it: the starter process in processes/ (its modeline naming the schema beside it, so
    that it works on every clone), the schema itself (*schema_text*), the workflow and
    the pre-commit configuration, both pinned to this version of salesproc."""
    process = Path("processes", process_name(folder) + ".yaml")
    schema = Path(os.path.relpath(SCHEMA_FILE, process.parent)).as_posix()
    return {process: render(process.as_posix(), today, schema=schema),
            SCHEMA_FILE: schema_text, WORKFLOW_FILE: WORKFLOW, PRE_COMMIT_FILE: PRE_COMMIT}
