"""The published schema: valid draft-07, documented, closed, and shipped in the package."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from salesproc.core.errors import InvalidProcessError
from salesproc.process import schema
from tests.conftest import ROOT, run, source_copy

PUBLISHED = ROOT / "schemas" / "process.schema.json"


def subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from subschemas(value)


def test_schema_is_valid_draft_07() -> None:
    data = json.loads(PUBLISHED.read_text("utf-8"))
    assert data["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(data)


def test_the_wheel_ships_the_published_schema(tmp_path: Path) -> None:
    """Build the wheel (offline, as installed for the tests) and read the schema out of it:
    the file salesproc reads at run time is the one editors use from schemas/."""
    import subprocess
    import sys
    import zipfile

    # from a copy of the sources: building writes build/ and *.egg-info beside them
    sources = source_copy(tmp_path / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(sources)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("salesproc-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("salesproc/schemas/process.schema.json")
    assert shipped == PUBLISHED.read_bytes()
    assert json.loads(shipped) == schema.schema()


def test_every_property_has_a_description() -> None:
    missing = [
        name
        for node in subschemas(schema.schema())
        for name, prop in node.get("properties", {}).items()
        if isinstance(prop, dict) and "description" not in prop
    ]
    assert missing == []


def test_objects_are_closed_but_allow_extensions() -> None:
    for node in subschemas(schema.schema()):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False or "propertyNames" in node
    top = schema.schema()
    assert "^x-" in top["patternProperties"]


@pytest.mark.parametrize("args", [[], ["--print"]])
def test_schema_command(args: list[str]) -> None:
    result = run("schema", *args)
    assert result.exit_code == 0
    if args:
        assert json.loads(result.output) == schema.schema()
    else:
        assert result.output.strip().endswith("process.schema.json")


def test_schema_agrees_with_the_code_on_units_and_durations() -> None:
    from salesproc.core import units

    top = schema.schema()
    assert tuple(top["properties"]["time_unit"]["enum"]) == units.TIME_UNITS
    per = top["properties"]["arrivals"]["properties"]["per"]["enum"]
    assert tuple(per) == units.RATE_PERIODS
    assert top["definitions"]["duration_text"]["pattern"] == units.DURATION_PATTERN


def test_content_found_valid_is_not_validated_again_and_a_change_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema remembers content it found valid (a process read again is not
    validated again); valid content is passed by the compiled check alone, jsonschema
    finding the errors of a wrong one; the same file with one value made wrong is
    checked in full, every time."""
    import salesproc

    real, passes = schema._validator(), schema._passes
    runs: list[str] = []

    class Counting:
        def iter_errors(self, data: Any) -> Iterator[Any]:
            runs.append("jsonschema")
            return real.iter_errors(data)

    def counted(data: Any) -> bool:
        runs.append("compiled")
        return passes(data)

    monkeypatch.setattr(schema, "_validator", Counting)
    monkeypatch.setattr(schema, "_passes", counted)
    monkeypatch.setattr(schema, "_VALID", {})
    monkeypatch.setattr(schema, "_validated", [schema.COMPILE_AFTER])  # compiled by now
    text = (ROOT / "processes" / "five-step.yaml").read_text("utf-8")
    assert salesproc.check_text(text, "a.yaml").ok and runs == ["compiled"]
    assert salesproc.check_text(text, "b.yaml").ok and runs == ["compiled"]  # remembered
    broken = salesproc.check_text(text.replace("headcount: 2", "headcount: two", 1), "c.yaml")
    assert runs == ["compiled"] * 2 + ["jsonschema"]
    assert any(d.code.startswith("SP1") for d in broken.diagnostics)
    assert not salesproc.check_text(text.replace("headcount: 2", "headcount: two", 1),
                                    "d.yaml").ok
    assert runs.count("jsonschema") == 2  # a wrong one is never remembered: checked again


def test_the_schema_is_compiled_only_once_a_process_has_checked_many_documents(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling the schema takes as long as about 15 checks by jsonschema: the first
    COMPILE_AFTER documents of a process are checked by jsonschema alone (a command that
    reads a few files never compiles it), the later ones by the compiled check first."""
    import salesproc

    passes = schema._passes
    runs: list[int] = []

    def counted(data: Any) -> bool:
        runs.append(1)
        return passes(data)

    monkeypatch.setattr(schema, "_passes", counted)
    monkeypatch.setattr(schema, "_VALID", {})
    monkeypatch.setattr(schema, "_validated", [0])
    text = (ROOT / "processes" / "five-step.yaml").read_text("utf-8")
    for k in range(schema.COMPILE_AFTER + 3):  # distinct content: none remembered
        assert salesproc.check_text(text.replace("Five-step", f"Five-step {k}", 1), "a.yaml").ok
    assert len(runs) == 3
    command = ["-c", "import salesproc.cli, sys; from salesproc.process import schema\n"
               "try:\n    salesproc.cli.main()\nexcept SystemExit:\n    pass\n"
               "print('compiled', schema._compiled.cache_info().currsize)"]
    done = subprocess.run([sys.executable, *command, "validate", str(ROOT / "processes")],
                          capture_output=True, text=True, check=False)
    assert "no problems found" in done.stderr and done.stdout == "compiled 0\n", done


def test_the_compiled_check_agrees_with_jsonschema_on_every_file() -> None:
    """The compiled schema (the fast pass of valid files) and jsonschema (every error, with
    its place) agree, file by file, on every process, example and case file: valid ones
    and the invalid cases, whose patterns, types and keys each break the schema."""
    from salesproc.process import yamlio

    paths = [*ROOT.glob("processes/*.yaml"), *ROOT.glob("examples/**/*.yaml"),
             *ROOT.glob("tests/cases/**/*.yaml")]
    verdicts = []
    for path in paths:
        try:
            data = yamlio.load_file(str(path)).data
        except InvalidProcessError:
            continue  # not YAML a process could be read from: the schema never sees it
        valid = not list(schema._validator().iter_errors(data))
        assert schema._passes(data) == valid, path
        verdicts.append(valid)
    assert verdicts.count(False) >= 20 and verdicts.count(True) >= 20
