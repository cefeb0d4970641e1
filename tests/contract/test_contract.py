"""The on-disk contract: variant names round-trip, ids split back, the status table opens read-only."""

from __future__ import annotations

import sqlite3

import pytest

from prunescale.contract.naming import (VariantName, base_id, cell_id, split_cell_id, split_variant_id, variant_id,
                                        variant_name)
from prunescale.contract.status import StatusDB


@pytest.mark.parametrize("name, parts", [
    ("base", VariantName()),
    ("shortgpt-2", VariantName("shortgpt", 2)),
    ("shortgpt-2+lora", VariantName("shortgpt", 2, "lora")),
    ("random_layers-12+full", VariantName("random_layers", 12, "full")),
    ("wanda-s0.2", VariantName("wanda", 0, None, 0.2)),
    ("sparsegpt-s0.05+lora", VariantName("sparsegpt", 0, "lora", 0.05)),
])
def test_variant_name_round_trips(name, parts):
    assert parts.format() == name and VariantName.parse(name) == parts
    assert variant_name(parts.method, parts.n_removed, parts.recovery, parts.sparsity) == name


def test_ids_split_back():
    vid = variant_id("HuggingFaceTB/SmolLM2-135M", "wanda-s0.5")
    assert vid == "SmolLM2-135M__wanda-s0.5" and split_variant_id(vid) == ("SmolLM2-135M", "wanda-s0.5")
    assert base_id(vid) == "SmolLM2-135M__base" and variant_id("embedded:organism", "base") == "organism__base"
    assert split_cell_id(cell_id(vid, "organism-chain:k=8")) == (vid, "organism-chain-k=8")
    assert split_cell_id("odd") == ("odd", None)


def test_status_read_only(tmp_path):
    path = tmp_path / "study.sqlite"
    with StatusDB(path) as db:
        db.start("a__base__t", "h")
        db.finish("a__base__t")
    with StatusDB(path, readonly=True) as db:
        assert db.all()["a__base__t"]["status"] == "done"
        with pytest.raises(sqlite3.OperationalError):
            db.start("b__base__t", "h")
