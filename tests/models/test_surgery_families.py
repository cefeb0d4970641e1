"""Depth surgery on a tiny random model of every supported family."""

import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

from prunescale.models.surgery import adapter_for, keep_layers, num_layers

from .tiny import FAMILIES, tiny_model

KEEP = [0, 2, 3, 5]  # remove layers 1 and 4


def _prompt():
    g = torch.Generator().manual_seed(1)
    return torch.randint(3, 128, (2, 12), generator=g)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_remove_layers_keeps_cache_generation_exact(family):
    model = tiny_model(family)
    layer_types_before = list(getattr(model.config, "layer_types", None) or [])
    keep_layers(model, KEEP)

    assert num_layers(model) == 4 and model.config.num_hidden_layers == 4
    for i, layer in enumerate(adapter_for(model).layers(model)):
        idxs = {m.layer_idx for m in layer.modules() if isinstance(getattr(m, "layer_idx", None), int)}
        assert idxs == {i}
    if layer_types_before:
        assert model.config.layer_types == [layer_types_before[i] for i in KEEP]

    ids = _prompt()
    kw = dict(max_new_tokens=16, do_sample=False, pad_token_id=0, attention_mask=torch.ones_like(ids))
    with_cache = model.generate(ids, use_cache=True, **kw)
    without = model.generate(ids, use_cache=False, **kw)
    assert with_cache.shape[1] == ids.shape[1] + 16
    assert torch.equal(with_cache, without)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_save_reload_round_trip(family, tmp_path):
    model = tiny_model(family)
    keep_layers(model, KEEP)
    model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 4
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        idx = {int(k.split("layers.")[1].split(".")[0]) for k in f.keys() if "layers." in k}
    assert idx == {0, 1, 2, 3}
    again = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    ids = _prompt()
    with torch.no_grad():
        assert torch.equal(model(ids).logits, again(ids).logits)


def test_qwen2_max_window_layers_follows_kept_layers():
    model = tiny_model("qwen2")  # sliding from original layer 3 on
    types = list(model.config.layer_types)
    keep_layers(model, KEEP)
    assert model.config.max_window_layers == 2  # kept 0, 2 below 3
    assert model.config.layer_types == [types[i] for i in KEEP]


def test_out_of_range_and_empty_keep_are_clear_errors():
    from prunescale.errors import PrunescaleError

    model = tiny_model("llama")
    with pytest.raises(PrunescaleError, match="out of range"):
        keep_layers(model, [0, 9])
    with pytest.raises(PrunescaleError, match="every decoder layer"):
        keep_layers(model, [])
