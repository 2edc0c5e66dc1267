"""Positions, duplicate keys, merge keys, YAML 1.1 booleans, limits."""

from __future__ import annotations

import pytest

from salesproc.core.errors import InvalidProcessError
from salesproc.process.yamlio import Span, load_text


def test_positions_of_keys_and_values() -> None:
    doc = load_text("a: 1\nb:\n  - x\n  - {c: yes}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": True}]}
    assert doc.span(("b", 1, "c")) == Span(4, 9, 4, 12)
    assert doc.span(("b", 1, "c"), key=True) == Span(4, 6, 4, 7)
    assert doc.yaml11_booleans == {("b", 1, "c"): "yes"}


def test_missing_path_falls_back_to_nearest_ancestor() -> None:
    doc = load_text("a:\n  b: 1\n")
    assert doc.span(("a", "zz", "y")) == doc.span(("a",))


def test_duplicate_keys_name_both_lines() -> None:
    doc = load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    (diag,) = doc.findings
    assert (diag.code, diag.line, diag.column) == ("SP006", 3, 1)
    assert "first at line 1" in diag.message
    assert doc.data["a"] == 1


def test_merge_keys_are_expanded_and_explicit_keys_win() -> None:
    doc = load_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert doc.data["use"] == {"x": 1, "y": 3}


def test_yaml12_exponent_floats_are_numbers() -> None:
    assert load_text("a: 1e6\nb: '1e6'\n").data == {"a": 1e6, "b": "1e6"}


def test_non_string_keys_keep_their_text() -> None:
    assert load_text("1: a\non: b\n").data == {"1": "a", "on": "b"}


def test_alias_bomb_stops_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    with pytest.raises(InvalidProcessError) as info:
        load_text("\n".join(lines))
    assert info.value.diagnostics[0].code == "SP007"


def test_few_aliases_are_fine() -> None:
    doc = load_text("a: &x {k: 1}\nb: *x\nc: *x\n")
    assert doc.data["c"] == {"k": 1}


@pytest.mark.parametrize("text", ["!!python/object:os.system {}", "!!set {a, b}",
                                  "!custom 3"])
def test_tags_are_refused_never_constructed(text: str) -> None:
    doc = load_text(f"a: {text}\n")
    assert [d.code for d in doc.findings] == ["SP009"]
    assert doc.data["a"] is None
