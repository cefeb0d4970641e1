"""`prunescale fragility` on the organism: its parent against a reverse-1 copy pruned by the CLI, and against
itself. Only properties are asserted (the organism's weights get retrained): a model compared with itself has
zero KL and drops and agreement 1; a pruned one differs, within each predictor's range."""

from __future__ import annotations

import json
import math

import pytest

from prunescale.cli.main import main
from prunescale.fragility.run import PREDICTORS, FragilitySettings, fragility

FAST = ["--traces", "6", "--knowledge", "8"]


@pytest.fixture(scope="module")
def reverse1(tmp_path_factory):
    out = tmp_path_factory.mktemp("fragility") / "rev1"
    assert main(["prune", "--model", "embedded:organism", "--method", "reverse", "--remove", "1",
                 "--out", str(out)]) == 0
    return out


def test_pruned_against_its_recorded_parent(reverse1, tmp_path, capsys):
    out = tmp_path / "f.json"
    assert main(["fragility", "--model", str(reverse1), *FAST, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "against embedded:organism" in printed and "answer_kl" in printed and "written:" in printed
    rec = json.loads(out.read_text())
    assert rec["parent"] == "embedded:organism" and rec["method"] == "reverse" and rec["removed_layers"] == [7]
    assert set(rec["predictors"]) == set(PREDICTORS)
    p = rec["predictors"]
    assert p["method_score"] is None   # reverse ranks by position: no score recorded
    for k in ("loss_short", "loss_long", "loss_long_minus_short", "answer_kl", "knowledge_ll_drop"):
        assert isinstance(p[k], float) and math.isfinite(p[k]), k
    assert p["answer_kl"] > 0                       # removing a layer changes the answer distribution
    assert 0 <= p["agreement"] <= p["token_agreement"] <= 1
    assert p["agreement"] < 1 or p["token_agreement"] < 1 or p["loss_long"] != 0
    assert rec["details"]["traces"] == 6 and rec["details"]["knowledge_items"] == 8
    # the traces hold short and long chains, and the long ones are longer
    losses = rec["details"]["losses"]
    assert losses["parent_short"] is not None and losses["parent_long"] is not None
    assert rec["details"]["thinking_tokens"] > 6 * 10


def test_a_model_against_itself_scores_no_damage():
    rec = fragility("embedded:organism", "embedded:organism", FragilitySettings(traces=4, knowledge=8))
    p = rec["predictors"]
    assert p["answer_kl"] == 0.0 and p["agreement"] == 1.0 and p["token_agreement"] == 1.0
    assert p["loss_short"] == 0.0 and p["loss_long"] == 0.0 and p["loss_long_minus_short"] == 0.0
    assert p["knowledge_ll_drop"] == 0.0 and p["knowledge_acc_drop"] == 0.0


@pytest.mark.parametrize("argv, message", [
    (["--model", "/nonexistent/dir"], "not found"),
    (["--model", "embedded:organism"], "no prunescale.json naming its parent: pass --parent"),
    (["--model", "embedded:organism", "--parent", "embedded:organism", "--traces", "0"], "--traces 0"),
    (["--model", "embedded:organism", "--parent", "embedded:organism", "--agree-tokens", "-1"], "--agree-tokens -1"),
])
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(["fragility", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prunescale: error:") and message in err and "\n" not in err


def test_out_must_be_a_file(tmp_path, capsys):
    assert main(["fragility", "--model", "embedded:organism", "--parent", "embedded:organism",
                 "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
