"""The measured loss of test-time scaling: AUC of accuracy vs budget and pass@k, relative to the unpruned model."""

from __future__ import annotations

import pytest

from prunescale.fragility.tts import auc, tts_losses


def _cell(vid, accs, passk=None, kind="long_chain", label="chain"):
    budgets = {str(b): {"accuracy": a} for b, a in accs.items()}
    if passk:
        budgets[str(max(accs))]["pass@k"] = passk
    return {"variant_id": vid, "task_label": label, "kind": kind, "has_summary": True, "budgets": budgets}


def test_auc_is_the_mean_accuracy_over_the_budget_range():
    assert auc([(16, 0.0), (32, 1.0)]) == pytest.approx(0.5)
    assert auc([(16, 0.0), (32, 1.0), (64, 1.0)]) == pytest.approx((8 + 32) / 48)
    assert auc([(64, 0.25)]) == 0.25 and auc([]) is None


def test_losses_relative_to_the_unpruned_model():
    variants = {"m__base": {"id": "m__base", "method": None},
                "m__a-1": {"id": "m__a-1", "method": "a"}, "m__b-1": {"id": "m__b-1", "method": "b"}}
    cells = [_cell("m__base", {16: 0.5, 32: 1.0}, {"1": 1.0, "4": 1.0}),
             _cell("m__a-1", {16: 0.5, 32: 0.5}, {"1": 0.5, "4": 0.8}),
             _cell("m__b-1", {16: 0.0, 32: 0.0}, {"1": 0.0, "4": 0.0}),
             _cell("m__a-1", {16: 0.0}, kind="knowledge", label="facts"),   # knowledge: not a TTS measure
             _cell("m__base", {16: 1.0}, kind="knowledge", label="facts")]
    out = tts_losses(variants, cells)
    assert set(out) == {"m__a-1", "m__b-1"}
    assert out["m__a-1"]["auc_loss"] == pytest.approx(1 - 0.5 / 0.75)
    assert out["m__a-1"]["pass_loss"] == pytest.approx(0.2)   # largest k is 4, not 1
    assert out["m__b-1"]["auc_loss"] == pytest.approx(1.0) and out["m__b-1"]["pass_loss"] == pytest.approx(1.0)
    assert list(out["m__a-1"]["tasks"]) == ["chain"]


def test_no_loss_where_the_unpruned_model_scores_zero():
    variants = {"m__base": {"method": None}, "m__a-1": {"method": "a"}}
    cells = [_cell("m__base", {16: 0.0}), _cell("m__a-1", {16: 0.0})]
    assert tts_losses(variants, cells)["m__a-1"]["auc_loss"] is None


def test_several_tasks_weigh_by_what_the_unpruned_model_scores():
    variants = {"m__base": {"method": None}, "m__a-1": {"method": "a"}}
    cells = [_cell("m__base", {16: 1.0}), _cell("m__a-1", {16: 0.5}),
             _cell("m__base", {16: 0.02}, label="hard"), _cell("m__a-1", {16: 0.0}, label="hard")]
    out = tts_losses(variants, cells)["m__a-1"]
    assert out["tasks"]["hard"]["auc_loss"] == pytest.approx(1.0) and out["tasks"]["chain"]["auc_loss"] == 0.5
    assert out["auc_loss"] == pytest.approx(1 - 0.5 / 1.02)   # not the mean 0.75 of the two
