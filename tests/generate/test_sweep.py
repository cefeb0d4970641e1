"""Shared-prefix budget sweeps on the hf backend: every budget derived from one run per sample equals the run
generated at that budget on its own (greedy and sampled, with Waits, with no cap), for less work."""

from dataclasses import replace

import pytest

from prunescale.generate import BACKENDS, PROFILES, Forcing, Request, Sampling
from prunescale.generate.base import Backend
from prunescale.generate.forcing import plan_sweep

GREEDY = Sampling(temperature=0)
# SmolLM2 has no thinking mode: "." as the end of thinking gives natural ends and Waits as well as forced ones.
DOT = replace(PROFILES["generic"], name="dot", think_end=".", force_suffix=" Final Answer:", wait=" Wait")


@pytest.fixture(scope="module")
def organism():
    from prunescale.models.loading import load_model

    return load_model("embedded:organism")


@pytest.fixture(scope="module")
def chains():
    from prunescale.tasks.base import get_task

    return [Request(p.prompt, seed=10 + i, key=(i,)) for i, p in
            enumerate(get_task("organism-chain:k=2-16").load(None, 6))]


def both(be, reqs, budgets, forcing, sampling):
    """(shared, independent) sweeps, wall time cleared (the one thing they may differ in)."""
    strip = lambda out: {b: [replace(s, wall_s=0.0) for s in v] for b, v in out.items()}  # noqa: E731
    return (strip(be.generate_sweep(reqs, budgets, forcing, sampling)),
            strip(Backend.generate_sweep(be, reqs, budgets, forcing, sampling)))


@pytest.mark.parametrize("plan, want", [
    (([64, 16, None, 32], 300), (None, [16, 32, 64], [])),        # no cap is the largest
    (([64, 16, None], 40), (64, [16], [None])),                   # max_tokens below a budget: no cap alone
    (([40, None, 16], 40), (40, [16], [None])),                   # a tie: the budget forces, no cap stops
    (([8, 8, 4], 100), (8, [4], [])),                             # repeats count once
    (([None], 100), (None, [], [])),
])
def test_plan_sweep(plan, want):
    assert plan_sweep(*plan) == want


@pytest.mark.parametrize("waits, sampling", [(0, GREEDY), (1, GREEDY), (2, GREEDY), (1, Sampling(temperature=1.0))],
                         ids=["greedy-0", "greedy-1", "greedy-2", "t1-seeded-1"])
def test_organism_shared_equals_independent(organism, chains, waits, sampling):
    """Budgets that cut thinking early, mid-check and not at all, and no cap: every sample equal, token ids
    included (the sampled answers too: a fork draws from the generator state at its crossing)."""
    be = BACKENDS.get("hf")(organism.model, organism.tokenizer, PROFILES["organism"], keep_ids=True)
    forcing = Forcing(budget=None, waits=waits, answer_tokens=24, max_tokens=160)
    shared, independent = both(be, chains, [8, 24, 40, 64, None], forcing, sampling)
    assert shared == independent
    assert all(s.forced for s in shared[8])
    if waits:   # Waits before the crossing are kept, those after it are not
        order = [shared[b] for b in (8, 24, 40, 64, None)]
        assert all(a.waits <= b.waits for small, big in zip(order, order[1:]) for a, b in zip(small, big))
        assert any(a.waits < b.waits for a, b in zip(shared[24], shared[None]))
    else:       # some rows ended before 64: that budget's sample is the lead's
        assert 0 < sum(not s.forced for s in shared[64]) < len(chains)


def test_no_cap_alone_and_budget_past_max_tokens(organism, chains):
    be = BACKENDS.get("hf")(organism.model, organism.tokenizer, PROFILES["organism"])
    shared, independent = both(be, chains[:3], [16, 64, None], Forcing(None, 1, 16, max_tokens=40), GREEDY)
    assert shared == independent and not any(s.finished for s in shared[None] if s.thinking_tokens == 40)


def test_shared_sweep_feeds_fewer_rows(organism, chains):
    """The point of it: thinking is decoded once, the smaller budgets only decode their answers."""
    widths = []
    hook = organism.model.register_forward_pre_hook(lambda m, a, k: widths.append(k["input_ids"].shape[0]),
                                                    with_kwargs=True)
    be = BACKENDS.get("hf")(organism.model, organism.tokenizer, PROFILES["organism"])
    forcing, budgets = Forcing(budget=None, waits=2, answer_tokens=16, max_tokens=300), [16, 32, 64, 128, 256]
    try:
        be.generate_sweep(chains, budgets, forcing, GREEDY)
        shared = sum(widths)
        widths.clear()
        Backend.generate_sweep(be, chains, budgets, forcing, GREEDY)
        independent = sum(widths)
    finally:
        hook.remove()
    assert independent > 1.5 * shared, (shared, independent)


@pytest.fixture(scope="module")
def pruned_smollm2():
    from prunescale.models.loading import load_model
    from prunescale.prune.run import PruneSpec, prune_loaded

    loaded = load_model("embedded:smollm2-135m")
    prune_loaded(loaded, PruneSpec(model="embedded:smollm2-135m", method="reverse", remove=2))
    assert loaded.model.config.num_hidden_layers == 28
    return loaded


@pytest.mark.parametrize("waits", [0, 1])
def test_pruned_smollm2_greedy_shared_equals_independent(pruned_smollm2, waits):
    be = BACKENDS.get("hf")(pruned_smollm2.model, pruned_smollm2.tokenizer, DOT, keep_ids=True)
    reqs = [Request(q, seed=i, key=(i,)) for i, q in enumerate(
        ["What is the capital of France?", "Write a long story about a dragon", "Count to five"])]
    shared, independent = both(be, reqs, [3, 6, 12, 24], Forcing(None, waits, answer_tokens=6), GREEDY)
    assert shared == independent
    assert any(s.forced for s in shared[3]) and not all(s.forced for s in shared[24])


def test_pruned_smollm2_sampled_shared_equals_independent(pruned_smollm2):
    be = BACKENDS.get("hf")(pruned_smollm2.model, pruned_smollm2.tokenizer, DOT)
    reqs = [Request("Tell me about the moon", 5, (0,)), Request("Count to five", 6, (1,))]
    shared, independent = both(be, reqs, [4, 8, None], Forcing(None, 1, 6, max_tokens=16), Sampling(1.0))
    assert shared == independent
