"""The organism's tokenizer: a real HF tokenizer, lossless, with a Qwen3-style thinking chat template."""

from transformers import AutoTokenizer

from prunescale.organism import chain_problems, fact_problems
from prunescale.organism.tokenizer import build_tokenizer, completion_text, prompt_text
from prunescale.organism.train import Encoder


def test_round_trip_and_fast_encoder_agree(tmp_path):
    tok = build_tokenizer()
    texts = [p["prompt"] + "\n" + p["thinking"] for p in chain_problems(5, 12, seed=0)]
    texts += [p["prompt"] for p in fact_problems(5)] + ["Hello, World! ~`{}|\\ 0123 \n\n tabs"]
    enc = Encoder(tok)
    for t in texts:
        ids = tok(t, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == t
        assert enc(t) == ids
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(texts[0], add_special_tokens=False)["input_ids"] == tok(texts[0], add_special_tokens=False)["input_ids"]


def test_chat_template_renders_thinking_delimiters():
    tok = build_tokenizer()
    p = chain_problems(1, 3, seed=0)[0]
    prompt = prompt_text(tok, p["prompt"])
    assert prompt == f"<|im_start|>user\n{p['prompt']}<|im_end|>\n<|im_start|>assistant\n"
    full = tok.apply_chat_template(
        [{"role": "user", "content": p["prompt"]},
         {"role": "assistant", "content": "Final Answer: " + p["answer"], "reasoning_content": p["thinking"]}],
        tokenize=False)
    completion = completion_text(p["thinking"], p["answer"])
    assert full == prompt + completion + "\n"
    assert completion.startswith("<think>\n") and f"\n</think>\nFinal Answer: {p['answer']}<|im_end|>" in completion
    no_think = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                       add_generation_prompt=True, enable_thinking=False)
    assert no_think.endswith("<|im_start|>assistant\n<think>\n\n</think>\n")
    # delimiters are single special tokens; eos is <|im_end|>
    for s in ("<think>", "</think>", "<|im_start|>", "<|im_end|>"):
        assert len(tok(s, add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == "<|im_end|>"
    # budget forcing appends "</think>\nFinal Answer:" to a cut thinking: same ids as one piece of text
    cut = prompt + "<think>\n1 ab\n2 c"
    forced = "</think>\nFinal Answer:"
    assert tok(cut + forced, add_special_tokens=False)["input_ids"] == (
        tok(cut, add_special_tokens=False)["input_ids"] + tok(forced, add_special_tokens=False)["input_ids"])
