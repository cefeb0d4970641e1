"""The shared plumbing: source specs (prunescale.sources), JSONL rows, atomic writes, versions."""

from __future__ import annotations

import os

import pytest

from prunescale.errors import PrunescaleError
from prunescale.fileio import library_versions, read_jsonl_rows, write_atomic, write_json_atomic
from prunescale.sources import parse_source


@pytest.mark.parametrize("spec, kind, value", [
    ("hf:allenai/c4", "hf", "allenai/c4"), ("jsonl:./a.jsonl", "jsonl", "./a.jsonl"), ("file:x.txt", "file", "x.txt"),
    ("self", "", "self"), ("self:prompts.txt", "self", "prompts.txt"), ("organism", "", "organism"),
    ("organism-chain:k=8", "", "organism-chain:k=8"), ("C:/data/a.jsonl", "", "C:/data/a.jsonl"),
])
def test_parse_source(spec, kind, value):
    s = parse_source(spec)
    assert (s.kind, s.value) == (kind, value)


@pytest.mark.parametrize("spec, parts", [
    ("hf:c4", ("c4", None, "train")), ("hf:gsm8k:test", ("gsm8k", None, "test")),
    ("hf:s1K:train[:100]", ("s1K", None, "train[:100]")),
    ("hf:wikitext:wikitext-2-raw-v1", ("wikitext", "wikitext-2-raw-v1", "train")),
    ("hf:gsm8k:main:test", ("gsm8k", "main", "test")),
])
def test_hf_parts(spec, parts):
    assert parse_source(spec).hf_parts == parts


def test_a_source_kind_without_a_value_is_an_error():
    with pytest.raises(PrunescaleError, match="names no file"):
        parse_source("jsonl:")


def test_jsonl_rows_name_file_and_line(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text('{"a": 1}\n\n"text"\n')
    assert read_jsonl_rows(f, objects=False) == [(1, {"a": 1}), (3, "text")]
    with pytest.raises(PrunescaleError, match="line 3 is not a JSON object"):
        read_jsonl_rows(f)
    f.write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(PrunescaleError, match="is not UTF-8 text"):
        read_jsonl_rows(f)
    f.write_text("\n")
    with pytest.raises(PrunescaleError, match="has no rows"):
        read_jsonl_rows(f)


def test_atomic_writes_leave_no_temporary_file(tmp_path):
    write_json_atomic({"x": 1}, tmp_path / "d" / "a.json")
    write_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "d" / "a.json").read_text() == '{\n  "x": 1\n}\n' and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["b.bin", "d"] and os.listdir(tmp_path / "d") == ["a.json"]


def test_versions_name_the_packages_that_make_results():
    v = library_versions("peft", "not-a-package")
    assert {"prunescale", "torch", "transformers", "peft"} <= set(v) and "not-a-package" not in v


def test_atomic_dir_replaces_or_leaves_nothing(tmp_path):
    from prunescale.fileio import atomic_dir

    out = tmp_path / "model"
    with atomic_dir(out) as d:
        (d / "a").write_text("1")
    with atomic_dir(out) as d:   # replaces the old directory whole
        (d / "b").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b"]
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as d:
            (d / "c").write_text("3")
            raise RuntimeError("killed while saving")
    assert sorted(p.name for p in out.iterdir()) == ["b"] and sorted(os.listdir(tmp_path)) == ["model"]
