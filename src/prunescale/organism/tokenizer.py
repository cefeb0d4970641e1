"""The organism's tokenizer: a character-level Hugging Face tokenizer built with ``tokenizers``.

Every printable ASCII character is one token (a BPE model with no merges, so tokenising pieces separately
and concatenating gives the same ids as tokenising the whole text: appending ``</think>\\nFinal Answer:``
to a truncated thinking section is always in-distribution). Qwen3-style special tokens delimit the chat
turns and the thinking section, and the chat template renders an assistant turn as::

    <|im_start|>assistant
    <think>
    1 a>q
    2 q>c
    </think>
    Final Answer: c<|im_end|>
"""

from __future__ import annotations


from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

PAD, UNK, IM_START, IM_END = "<|endoftext|>", "<unk>", "<|im_start|>", "<|im_end|>"
THINK, END_THINK = "<think>", "</think>"
SPECIAL_TOKENS = [PAD, UNK, IM_START, IM_END, THINK, END_THINK]
CHARACTERS = "\n" + "".join(chr(c) for c in range(32, 127))   # newline + printable ASCII

# Qwen3-like: an assistant message may carry `reasoning_content` (rendered inside <think>...</think>);
# `enable_thinking=false` pre-fills an empty thinking section, as Qwen3's template does.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if message.get('reasoning_content') is not none %}"
    "{{- '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n' }}"
    "{%- endif %}"
    "{{- message['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Build the tokenizer from scratch (deterministic; no files, no downloads)."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in CHARACTERS:
        vocab[ch] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=None,
        eos_token=IM_END,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[IM_START, THINK, END_THINK],
        model_max_length=1024,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def prompt_text(tokenizer, user: str) -> str:
    """The generation prompt for one user message (what an evaluator feeds the model)."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
    )


def completion_text(thinking: str, answer: str) -> str:
    """The assistant's reference completion after the generation prompt, ending with ``<|im_end|>``."""
    return f"{THINK}\n{thinking}\n{END_THINK}\nFinal Answer: {answer}{IM_END}"
