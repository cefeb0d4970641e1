"""Generation backends: a registry and the request / result types every backend shares."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..registry import Registry
from .profiles import ThinkingProfile

BACKENDS: Registry["Backend"] = Registry("backend", package="prunescale.generate", group="prunescale.backends")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0     # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0


@dataclass(frozen=True)
class Forcing:
    """s1 budget forcing: at most ``budget`` thinking tokens (None: no cap), ``waits`` suppressed endings."""

    budget: int | None
    waits: int = 0
    answer_tokens: int = 512
    max_tokens: int = 32768      # hard cap on sampled tokens when there is no budget


@dataclass(frozen=True)
class Request:
    prompt: str                  # the user message
    seed: int                    # per-sample seed: the sample is reproducible on its own
    key: tuple = ()              # caller's id for the sample, passed through


@dataclass
class Sample:
    key: tuple
    text: str                    # everything generated after the prompt (thinking, forced text, answer)
    thinking: str
    answer: str
    thinking_tokens: int         # sampled thinking tokens (forced text not counted)
    answer_tokens: int
    forced: bool                 # the budget ran out and the end of thinking was appended
    waits: int                   # "Wait"s appended in place of an end of thinking
    finished: bool               # reached an end (EOS / answer cap) rather than the hard token cap
    wall_s: float
    extra: dict = field(default_factory=dict)


class Backend:
    """Generates samples for a batch of requests under one forcing plan."""

    name = ""
    schedules_all = False        # True: give it every sample at once (it schedules them); it calls on_sample
    on_sample = None             # called with each Sample as it ends, where schedules_all

    @classmethod
    def from_config(cls, cfg, path: str | None = None, name_hint: str | None = None) -> "Built":
        """Build this backend from its options (``generate.options.BackendOptions``, or an eval config, which has
        the same attributes): the model at ``path`` (default: ``cfg.model`` resolved), its thinking profile
        detected with ``name_hint`` (default: ``cfg.model``)."""
        raise NotImplementedError(f"backend {cls.name!r} cannot be built from a config")

    def close(self) -> None:
        """Free what the backend holds (an engine, its GPU memory); it is not used again."""

    def generate(self, requests: list[Request], forcing: Forcing, sampling: Sampling) -> list[Sample]:
        raise NotImplementedError

    def generate_sweep(self, requests: list[Request], budgets, forcing: Forcing, sampling: Sampling) -> dict:
        """``{budget: [Sample]}``: ``requests`` at each of ``budgets`` (``forcing.budget`` is ignored). This default
        generates each budget on its own; hf, vllm and openai generate one run per sample and derive the smaller
        budgets from it (``forcing.shared_sweep``: the same samples, greedy or seeded)."""
        return {b: self.generate(requests, replace(forcing, budget=b), sampling) for b in dict.fromkeys(budgets)}

    def render(self, prompt: str) -> str:
        """The full prompt text: chat template plus the opening of the thinking section."""
        raise NotImplementedError


@dataclass
class Built:
    """What ``Backend.from_config`` returns: the backend, its thinking profile, the model's path and config."""

    backend: Backend
    profile: ThinkingProfile
    path: str
    model: object = None         # the in-process torch model, where there is one (hf)


def build(cfg, path: str | None = None, name_hint: str | None = None) -> Built:
    """The backend named by ``cfg.backend`` (``BackendOptions`` or an eval config), built by the registry."""
    return BACKENDS.get(cfg.backend).from_config(cfg, path, name_hint)


def profile_for(cfg, config, tokenizer, name_hint: str | None) -> ThinkingProfile:
    """The thinking profile ``cfg`` asks for (or detects) for a model's config and tokenizer."""
    from .profiles import get_profile

    return get_profile(cfg.profile, config, tokenizer, name_hint=name_hint or cfg.model,
                       think_start=cfg.think_start, think_end=cfg.think_end)


def render_prompt(tokenizer, profile: ThinkingProfile, user: str) -> str:
    """Apply the chat template the way the model expects, then open the thinking section if needed."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                             add_generation_prompt=True)
    else:
        text = user + "\n"
    start = profile.think_start
    if start and not text.rstrip().endswith(start.strip()):
        text += start
    return text
