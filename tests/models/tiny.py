"""Tiny randomly initialised models of each supported family (no download)."""

import torch
from transformers import (Gemma2Config, Gemma3TextConfig, LlamaConfig, MistralConfig, Phi3Config, Qwen2Config,
                          Qwen3Config)
from transformers import AutoModelForCausalLM

COMMON = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=6,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)

FAMILIES = {
    "llama": lambda: LlamaConfig(**COMMON),
    "mistral": lambda: MistralConfig(**COMMON, sliding_window=None),
    "qwen2": lambda: Qwen2Config(**COMMON, use_sliding_window=True, sliding_window=8, max_window_layers=3),
    "qwen3": lambda: Qwen3Config(**COMMON, head_dim=16, use_sliding_window=True, sliding_window=8,
                                 max_window_layers=4),
    "gemma2": lambda: Gemma2Config(**COMMON, head_dim=16, sliding_window=8),
    "gemma3_text": lambda: Gemma3TextConfig(**COMMON, head_dim=16, sliding_window=8,
                                            layer_types=["sliding_attention", "sliding_attention", "full_attention",
                                                         "sliding_attention", "full_attention", "sliding_attention"]),
    "phi3": lambda: Phi3Config(**{**COMMON, "pad_token_id": 0}),
}


def tiny_model(family: str, seed: int = 0):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(FAMILIES[family](), dtype=torch.float32)
    return model.eval()
