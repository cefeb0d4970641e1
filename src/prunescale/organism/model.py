"""The organism's architecture: a plain Hugging Face Llama decoder, small enough to train on a CPU."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from transformers import LlamaConfig, LlamaForCausalLM


@dataclass
class ModelSpec:
    """Shape of the organism. The defaults are the committed model's."""

    num_layers: int = 8
    hidden: int = 128
    heads: int = 4
    intermediate: int = 384
    max_positions: int = 1024
    rope_theta: float = 10000.0

    def to_dict(self) -> dict:
        return asdict(self)


def make_config(spec: ModelSpec, tokenizer) -> LlamaConfig:
    """A ``LlamaConfig`` for ``spec`` whose special-token ids match ``tokenizer``."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_positions,
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_theta},
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.02,
    )


def build_model(spec: ModelSpec, tokenizer) -> LlamaForCausalLM:
    """A freshly initialised model (seed torch first for reproducible weights)."""
    return LlamaForCausalLM(make_config(spec, tokenizer))
