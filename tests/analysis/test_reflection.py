"""Rule-based self-reflection counts: the three kinds, repeated text counted once."""

import json

from prunescale.analysis.reflection import KINDS, PATTERNS, count_reflection


def test_each_kind_is_recognised():
    text = (
        "First, we need to find the radius. "          # subgoal
        "The radius is 5. "                            # nothing
        "Let me verify: 5^2 = 25, which matches. "     # verification
        "Wait, that's wrong, the area uses r^2. "      # backtracking
        "Alternatively, use the diameter instead. "    # backtracking
        "Next, compute the height. "                   # subgoal
        "Plugging back in, 3 + 4 = 7, so this works."  # verification
    )
    c = count_reflection(text)
    assert (c.verification, c.backtracking, c.subgoal) == (2, 2, 2)
    sents = {m["kind"]: [] for m in c.matches}
    for m in c.matches:
        sents[m["kind"]].append(text[m["start"]:m["end"]])
    assert sents["backtracking"] == ["Wait, that's wrong, the area uses r^2.",
                                     "Alternatively, use the diameter instead."]
    assert all(m["rule"] in PATTERNS[m["kind"]] for m in c.matches)


def test_plain_statements_count_nothing():
    c = count_reflection("The first equation is 16b + c = -458. The sum of the roots is 36. So c = 698.")
    assert (c.verification, c.backtracking, c.subgoal) == (0, 0, 0)


def test_repeated_text_counts_once():
    once = "Wait, is the answer 116? Let me check it again."
    c = count_reflection(" ".join([once] * 25))
    assert (c.verification, c.backtracking) == (1, 1)
    assert c.raw == {"verification": 25, "backtracking": 25, "subgoal": 0}
    # Case and punctuation do not make a repeat new; different numbers do.
    c = count_reflection("Wait, is it 116? WAIT -- is it 116! Wait, is it 112?")
    assert c.backtracking == 2 and c.raw["backtracking"] == 3


def test_real_traces(shared_data):
    with open(shared_data / "s1.1-7B_aime24_lmeval_samples.jsonl") as f:
        texts = [r for line in f for r in json.loads(line)["resps"][0]]
    counts = [count_reflection(t) for t in texts]
    for t, c in zip(texts, counts):
        assert all(getattr(c, k) > 0 and getattr(c, k) <= c.raw[k] for k in KINDS)
        for m in c.matches:  # every count points at a real sentence of the response
            assert t[m["start"]:m["end"]].strip() and "<|im_start|>" not in t[m["start"]:m["end"]]
    # The wrong, budget-forced answers to problem 1 backtrack far more than the right answers to problem 0.
    assert sum(c.backtracking for c in counts[8:]) > 1.5 * sum(c.backtracking for c in counts[:8])


def test_sentences_opening_with_check_are_verifications():
    # the organism's check pass (organism/problems.py): each check line is one sentence
    text = "1 nz\n2 jr.\nWait, let me check.\ncheck 1 nz.\ncheck 2 jb, that's wrong.\nChecking: 2 + 2 = 4."
    c = count_reflection(text)
    rules = [(m["kind"], m["rule"]) for m in c.matches]
    assert ("verification", "check/verify first") in rules
    assert (c.verification, c.backtracking) == (4, 2)   # let me check + 3 checks; Wait + that's wrong
    assert count_reflection("The check is in the mail.").verification == 0
