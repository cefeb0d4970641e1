"""What a backend is built from: one frozen dataclass, so equal options mean an equal backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendOptions:
    """The attributes ``Backend.from_config`` reads. A study keys its backend cache on them (one engine per
    variant and options). No defaults here: ``EvalConfig.backend_options()`` makes one, with EvalConfig's."""

    model: str                          # hub id, directory or embedded:NAME (a study: the variant's directory)
    backend: str
    dtype: str | None
    device: str | None
    trust_remote_code: bool
    profile: str
    think_start: str | None
    think_end: str | None
    base_urls: tuple[str, ...]          # openai backend
    served_model: str | None
    serve: str | None                   # study, openai backend: a server command with {model} and {port}
    tensor_parallel_size: int           # vllm backend
    gpu_memory_utilization: float
    max_model_len: int | None
    enforce_eager: bool

    def __post_init__(self):
        object.__setattr__(self, "base_urls", tuple(self.base_urls))   # a list would make it unhashable
