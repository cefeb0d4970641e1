"""Every pruning method on the real embedded SmolLM2-135M (in process, one model load)."""

import copy
import random

import pytest
import torch

from prunescale.models.surgery import num_layers
from prunescale.prune.run import PruneSpec, prune_loaded


def _pruned(smollm2, calib, method, **kw):
    loaded = copy.copy(smollm2)
    loaded.model = copy.deepcopy(smollm2.model)
    spec = PruneSpec(model="embedded:smollm2-135m", method=method, **{"remove": 2, **kw})
    result, record = prune_loaded(loaded, spec, calibration=calib)
    return loaded, result, record


@pytest.mark.parametrize("method", ["shortgpt", "angular", "reverse", "laco", "random", "magnitude", "ppl"])
def test_method_removes_two_layers_and_generates_with_cache(smollm2, smollm2_calibration, method):
    loaded, result, record = _pruned(smollm2, smollm2_calibration, method)
    model, tok = loaded.model, loaded.tokenizer
    assert num_layers(model) == 28 and model.config.num_hidden_layers == 28
    assert len(result.removed) == 2 and record["params_after"] < record["params_before"]
    assert sorted(result.removed + result.kept) == list(range(30))
    if method == "reverse":
        assert result.removed == [28, 29]
    if method == "shortgpt":
        bi = result.scores
        assert len(bi) == 30 and all(bi[i] >= max(bi[j] for j in result.removed) for i in result.kept)
    if method == "angular":
        assert result.removed[1] == result.removed[0] + 1
    if method == "laco":
        assert record["merges"] and all(m["similarity"] > 0.65 for m in record["merges"])
    ids = tok.apply_chat_template([{"role": "user", "content": "Name three colours."}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    kw = dict(max_new_tokens=20, do_sample=False, pad_token_id=tok.pad_token_id)
    assert torch.equal(model.generate(**ids, use_cache=True, **kw), model.generate(**ids, use_cache=False, **kw))


def test_random_is_seeded(smollm2, smollm2_calibration):
    a = _pruned(smollm2, smollm2_calibration, "random", seed=3)[1].removed
    b = _pruned(smollm2, smollm2_calibration, "random", seed=3)[1].removed
    assert a == b == sorted(random.Random(3).sample(range(30), 2))


def test_selection_and_ratio(smollm2, smollm2_calibration):
    _, result, _ = _pruned(smollm2, smollm2_calibration, "selection", remove=None, layers=[3, 17, 29])
    assert result.removed == [3, 17, 29]
    _, result, _ = _pruned(smollm2, smollm2_calibration, "reverse", remove=None, ratio=0.1)
    assert result.removed == [27, 28, 29]   # floor(0.1 * 30 + 0.5) = 3


def test_embedded_model_has_no_quantization_config(smollm2, tmp_path):
    assert getattr(smollm2.model.config, "quantization_config", None) is None
    assert smollm2.model.dtype == torch.float32
    assert "<|im_start|>assistant" in smollm2.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)


def test_ppl_cached_layer_inputs_choose_as_whole_forwards(smollm2, smollm2_calibration):
    """SmolLM2's 30 layers on one short batch: the cached leave-one-out gives the whole-forward scores and layers."""
    from dataclasses import replace

    from prunescale.prune import METHODS

    calib = replace(smollm2_calibration, batches=smollm2_calibration.batches[:1])
    plans = []
    for cached in (True, False):
        method = METHODS.get("ppl")()
        method._cached = cached
        plans.append(method.plan(smollm2.model, 2, calib))
    assert plans[0].removed == plans[1].removed
    assert plans[0].scores == pytest.approx(plans[1].scores, rel=1e-5)
