"""``prunescale layers`` runs the similarity pass only for the columns that show it (issue 23, part 3)."""

import json

import pytest

from prunescale.cli.main import main
from prunescale.prune import scoring

CALIB = ["--calibration", "organism", "--calibration-samples", "4", "--max-seq-len", "64", "--batch-size", "4"]


@pytest.fixture
def passes(monkeypatch):
    """Counts the similarity passes (``scoring.layer_similarity`` calls)."""
    calls = []
    real = scoring.layer_similarity

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(scoring, "layer_similarity", counted)
    return calls


def _layers(capsys, *flags):
    assert main(["layers", "--model", "embedded:organism", *flags, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_method_with_its_own_scores_skips_the_similarity_pass(passes, capsys):
    data = _layers(capsys, "--method", "taylor", "--remove", "2", *CALIB)
    assert passes == [] and len(data["removed"]) == 2
    assert all("taylor_salience" in r and "block_influence" not in r for r in data["layers"])
    data = _layers(capsys, "--method", "magnitude", "--remove", "1")   # needs no calibration either
    assert passes == [] and data["calibration"] is None and "weight_magnitude" in data["layers"][0]
    assert main(["layers", "--model", "embedded:organism", "--method", "magnitude", "--remove", "1"]) == 0
    assert "no calibration (magnitude needs none" in capsys.readouterr().out


def test_asked_for_it_runs_once_and_shows_it(passes, capsys):
    data = _layers(capsys, "--method", "taylor", "--remove", "2", "--similarity", *CALIB)
    assert len(passes) == 1
    assert all({"taylor_salience", "block_influence", "angular_block_2"} <= set(r) for r in data["layers"])


def test_shortgpt_output_is_the_similarity_pass_done_once(passes, capsys):
    from prunescale.models.loading import load_model
    from prunescale.prune.calibration import load_calibration

    data = _layers(capsys, "--method", "shortgpt", "--remove", "2", *CALIB)
    assert len(passes) == 1   # the method's scores and the columns share one pass (they were two)
    loaded = load_model("embedded:organism")
    calib = load_calibration("organism", loaded.model, loaded.tokenizer, samples=4, max_seq_len=64, batch_size=4)
    stats = scoring.layer_similarity(loaded.model, calib.batches)
    assert [r["block_influence"] for r in data["layers"]] == pytest.approx([1 - c for c in stats["cos"]])
    assert [r["angular_distance"] for r in data["layers"]] == pytest.approx([row[0] for row in stats["angular"]])
    assert [r["angular_block_2"] for r in data["layers"][:-1]] == pytest.approx([row[1] for row in stats["angular"][:-1]])
    assert list(data["layers"][0]) == ["layer", "block_influence", "angular_distance", "angular_block_2", "removed"]
    bi = [r["block_influence"] for r in data["layers"]]
    assert data["removed"] == sorted(sorted(range(8), key=lambda i: (bi[i], -i))[:2])
