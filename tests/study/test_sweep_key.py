"""A study's eval options take `sweep` as `prunescale eval --sweep` does: passed to every cell, checked up front."""

import pytest

from prunescale.errors import PrunescaleError
from prunescale.study.run import check_inputs
from prunescale.study.spec import load_study

STUDY = """name: sweep
models: [embedded:organism]
methods: []
tasks:
  - {task: "organism-chain:k=8", label: chain, budgets: [16, none]}
eval: {limit: 1, sweep: %s}
"""


def test_sweep_reaches_the_cells_and_a_bad_value_is_refused(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY % "independent")
    study = load_study(path)
    assert {c.eval["sweep"] for c in study.cells()} == {"independent"}
    check_inputs(study, tmp_path / "out")
    path.write_text(STUDY % "both")
    with pytest.raises(PrunescaleError, match="--sweep 'both' must be shared or independent"):
        check_inputs(load_study(path), tmp_path / "out")
    assert not (tmp_path / "out").exists()
