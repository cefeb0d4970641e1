"""``--method chain``: greedy removal by the loss increase on the late thinking and the answer of the model's own
traces. Properties only (the organism's weights change): the CLI run, the choice as the argmin of its own
scores recomputed independently, the default calibration, and one-line errors."""

from __future__ import annotations

import json

import pytest

from prunescale.cli.main import main
from prunescale.errors import PrunescaleError
from prunescale.models.loading import load_model
from prunescale.models.surgery import num_layers, without_layers
from prunescale.prune import METHODS
from prunescale.prune.calibration import load_calibration
from prunescale.prune.chain import region_losses, region_masks
from prunescale.prune.run import PruneSpec


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNESCALE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def organism():
    return load_model("embedded:organism")


@pytest.fixture
def calibration(organism):
    return load_calibration("traces", organism.model, organism.tokenizer, samples=8, max_seq_len=112, batch_size=4)


def test_prune_chain_on_the_organism_from_the_cli(tmp_path, capsys):
    out = tmp_path / "chain2"
    assert main(["prune", "--model", "embedded:organism", "--method", "chain", "--remove", "2",
                 "--calibration", "traces", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "chain: 16 forward passes" in captured.err and "2 x 8 + 1" in captured.err
    record = json.loads((out / "prunescale.json").read_text())
    assert record["method"] == "chain" and record["layers_after"] == 6 and len(record["removed_layers"]) == 2
    assert record["calibration"]["spec"] == "traces" and record["score_name"] == "chain_loss_increase"
    assert [r["removed"] for r in record["details"]["rounds"]] and len(record["scores"]) == 8
    pruned = load_model(str(out))
    assert num_layers(pruned.model) == 6 and pruned.model.config.num_hidden_layers == 6


def test_choice_is_the_argmin_of_its_own_scores(organism, calibration):
    model = organism.model
    weight = 0.5
    plan = METHODS.get("chain")(late_frac=0.5, answer_weight=weight).plan(model, 2, calibration)
    assert num_layers(model) == 8                                     # plan leaves the model as it was
    masks = region_masks(calibration, 0.5)

    def objective(drop):
        with without_layers(model, drop):
            late, answer = region_losses(model, calibration.batches, masks)
        return late + weight * answer

    first, second = plan.details["rounds"][0]["removed"], plan.details["rounds"][1]["removed"]
    assert plan.removed == sorted([first, second])
    # round 1: the scores shown are the increases, and the pick their argmin
    base = objective([])
    again = [objective([i]) - base for i in range(8)]
    assert again == pytest.approx(plan.scores, abs=1e-6)
    assert first == min(range(8), key=lambda i: (plan.scores[i], i))
    # round 2, recomputed on its own: the pick is the argmin without the first removal
    rest = [i for i in range(8) if i != first]
    base2 = objective([first])
    second_scores = {i: objective([first, i]) - base2 for i in rest}
    assert second == min(rest, key=lambda i: (second_scores[i], i))
    assert plan.details["rounds"][1]["increase"] == pytest.approx(second_scores[second], abs=1e-6)
    # and the split columns add up to the score
    cols = plan.details["layer_columns"]
    assert [a + weight * b for a, b in zip(cols["late_increase"], cols["answer_increase"])] == \
        pytest.approx(plan.scores, abs=1e-6)


def test_answer_weight_zero_scores_only_late_thinking(organism, calibration):
    plan = METHODS.get("chain")(answer_weight=0).plan(organism.model, 1, calibration)
    assert plan.scores == pytest.approx(plan.details["layer_columns"]["late_increase"])


def test_late_frac_selects_the_end_of_the_thinking(calibration):
    half, whole = region_masks(calibration, 0.5), region_masks(calibration, 1.0)
    n_think = sum(s.think_end - s.think_start for s in calibration.spans)
    assert sum(float(late.sum()) for late, _ in whole) == n_think
    assert 0 < sum(float(late.sum()) for late, _ in half) < n_think
    answers = sum(len(seq) - s.answer_start for seq, s in zip(calibration.sequences, calibration.spans)
                  if s.answer_start is not None)
    assert sum(float(a.sum()) for _, a in half) == answers
    for (late, _), b, row in zip(half, calibration.batches, range(0, 100, 4)):
        for r in range(late.shape[0]):
            s = calibration.spans[row + r]
            cols = late[r].nonzero().flatten().tolist()
            assert cols[-1] == s.think_end - 2                        # target of the last thinking token
            assert cols[0] + 1 >= s.think_start + (s.think_end - s.think_start) // 2


def test_chain_defaults_to_traces_calibration(capsys):
    assert PruneSpec(model="m", method="chain").calibration == "traces"
    assert PruneSpec(model="m", method="shortgpt").calibration == "self"
    assert PruneSpec(model="m", method="chain", calibration="organism").calibration == "organism"
    assert main(["layers", "--model", "embedded:organism", "--method", "chain", "--remove", "1",
                 "--calibration-samples", "4", "--max-seq-len", "96", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calibration"]["spec"] == "traces" and len(data["removed"]) == 1
    row = data["layers"][data["removed"][0]]
    assert row["chain_loss_increase"] == min(r["chain_loss_increase"] for r in data["layers"])
    assert {"late_increase", "answer_increase"} <= set(row)


def test_chain_on_transcripts_uses_their_delimiters(organism):
    cal = load_calibration("organism", organism.model, organism.tokenizer, samples=8, max_seq_len=128)
    plan = METHODS.get("chain")().plan(organism.model, 1, cal)
    assert len(plan.removed) == 1


def test_calibration_without_thinking_is_a_one_line_error(organism):
    cal = load_calibration("self", organism.model, organism.tokenizer, samples=2, max_seq_len=16)
    cal.spans = None
    with pytest.raises(PrunescaleError, match="use --calibration traces") as e:
        METHODS.get("chain")().plan(organism.model, 1, cal)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("flag, value, message", [
    ("--chain-late-frac", "1.5", "--chain-late-frac 1.5 is not a number in (0, 1]"),
    ("--chain-late-frac", "0", "--chain-late-frac 0.0 is not a number in (0, 1]"),
    ("--chain-answer-weight", "-1", "--chain-answer-weight -1.0 is not a number >= 0"),
    ("--chain-answer-weight", "inf", "--chain-answer-weight inf is not a number >= 0"),
])
def test_bad_option_values_are_one_line_errors(tmp_path, capsys, flag, value, message):
    assert main(["prune", "--model", "embedded:organism", "--method", "chain", "--remove", "1", flag, value,
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"prunescale: error: {message}"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("options, message", [
    ({"late_frac": "half"}, "--chain-late-frac 'half' is not a number in (0, 1]"),
    ({"answer_weight": True}, "--chain-answer-weight True is not a number >= 0"),
    ({"late": 0.5}, "method 'chain' has no option 'late'"),
])
def test_bad_study_options_are_one_line_errors(options, message):
    with pytest.raises(PrunescaleError) as e:
        METHODS.get("chain")(**options)
    assert str(e.value) == message


@pytest.mark.parametrize("weight", [1.0, 0.0])
def test_cached_scores_equal_whole_model_forwards(organism, calibration, weight):
    """Candidates scored from cached layer inputs: the same rounds, scores (to float rounding) and choice as a
    whole-model forward per candidate, with one model pass per batch and round instead of one per candidate."""
    calls = []
    hook = organism.model.model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        plans = {}
        for cached in (True, False):
            method = METHODS.get("chain")(answer_weight=weight)
            method._cached = cached
            calls.clear()
            plans[cached] = method.plan(organism.model, 3, calibration)
            plans[cached, "passes"] = len(calls)
    finally:
        hook.remove()
    new, old = plans[True], plans[False]
    assert new.removed == old.removed and new.scores == pytest.approx(old.scores, abs=1e-6)
    assert [r["removed"] for r in new.details["rounds"]] == [r["removed"] for r in old.details["rounds"]]
    for key, column in old.details["layer_columns"].items():
        assert new.details["layer_columns"][key] == pytest.approx(column, abs=1e-6)
    batches = len(calibration.batches)
    # cached: one capture pass per batch and round, the unpruned objective read from round 1's
    assert plans[True, "passes"] == batches * 3 and plans[False, "passes"] == batches * (1 + 8 + 7 + 6)
