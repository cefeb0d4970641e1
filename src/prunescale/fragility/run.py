"""``prunescale fragility`` as a library: a pruned model's predictors against its parent, as one JSON record.

The parent is loaded once and its traces and statistics kept (:class:`ParentRun`), so a study scores all its
pruned variants of one model against one set of parent traces.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import __version__
from ..contract.run_dir import model_record
from ..errors import PrunescaleError
from ..fileio import library_versions
from .catalog import predictor_names
from .parent_traces import TraceSettings

PREDICTORS = predictor_names()   # as declared in .catalog, at import (plug-ins: call predictor_names())


@dataclass(frozen=True)
class FragilitySettings:
    traces: int | None = None        # parent traces (default: 16 organism, half short, half long; 8 otherwise)
    think_tokens: int | None = None  # thinking budget of the traces (default: 96 organism, 64 otherwise)
    agree_tokens: int = 32           # first N thinking tokens the agreement looks at
    knowledge: int | None = None     # knowledge questions (default: 32 organism facts, the 16 built-in)
    seed: int = 0

    def check(self) -> None:
        for name, low in (("traces", 1), ("agree_tokens", 1), ("think_tokens", 2), ("knowledge", 1)):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < low):
                raise PrunescaleError(f"--{name.replace('_', '-')} {value!r} must be an integer >= {low}")

    def trace_settings(self) -> TraceSettings:
        return TraceSettings(self.traces, self.think_tokens, self.seed)


def read_record(model_dir: str) -> dict | None:
    """The pruned directory's prunescale.json, or None (a hub id, an embedded model, a plain directory)."""
    path = model_record(Path(model_dir).expanduser())
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PrunescaleError(f"cannot read {path}: {e}") from None
    return record if isinstance(record, dict) else None


def parent_of(model: str, record: dict | None) -> str:
    """The unpruned model a pruned directory came from (``source_model`` of its record; a recovered model's
    record repeats its pruning's)."""
    parent = (record or {}).get("source_model") or ((record or {}).get("parent_record") or {}).get("source_model")
    if not parent:
        raise PrunescaleError(f"model {model!r} has no prunescale.json naming its parent: pass --parent")
    return str(parent)


class ParentRun:
    """The parent loaded once: its traces, statistics on them and knowledge scores."""

    def __init__(self, spec: str, settings: FragilitySettings, device: str | None = None, dtype: str | None = None,
                 trust_remote_code: bool = False):
        from ..generate.profiles import get_profile
        from ..models.loading import load_model
        from .knowledge import knowledge_items
        from .predictors import build_reference
        from .parent_traces import is_organism, parent_traces

        settings.check()
        self.spec, self.settings = spec, settings
        self.device, self.dtype, self.trust_remote_code = device, dtype, trust_remote_code
        start = time.perf_counter()
        loaded = load_model(spec, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
        self.tokenizer = loaded.tokenizer
        self.profile = get_profile(None, loaded.model.config, loaded.tokenizer, name_hint=spec)
        self.organism = is_organism(self.profile)
        traces = parent_traces(loaded.model, loaded.tokenizer, self.profile, settings.trace_settings())
        items = knowledge_items(loaded.tokenizer, self.organism, settings.knowledge, settings.seed)
        self.reference = build_reference(loaded.model, loaded.tokenizer, traces, items)
        self.seconds = time.perf_counter() - start
        del loaded   # the reference holds what is needed; free the weights before loading a pruned model

    def score(self, model: str, record: dict | None = None) -> dict:
        """The predictors of the model at ``model`` against this parent, as the JSON record."""
        from ..models.loading import load_model
        from .predictors import compare, method_score

        start = time.perf_counter()
        loaded = load_model(model, dtype=self.dtype, device=self.device, trust_remote_code=self.trust_remote_code)
        predictors, details = compare(self.reference, loaded.model, self.tokenizer, self.settings.agree_tokens)
        score, score_name = method_score(record)
        groups = ("organism chains k 2-4 (short) vs k 12-16 (long)" if self.organism else
                  "first quarter of each trace's thinking (short) vs the rest (long)")
        return {
            "model": model, "parent": self.spec, "method": (record or {}).get("method"),
            "removed_layers": (record or {}).get("removed_layers"),
            "predictors": {"method_score": score, **predictors},
            "details": {**details, "method_score_name": score_name, "groups": groups,
                        "thinking_tokens": sum(e.think[1] - e.think[0] for e in self.reference.encoded)},
            "settings": asdict(self.settings) | {"profile": self.profile.name},
            "seconds": {"parent": round(self.seconds, 3), "model": round(time.perf_counter() - start, 3)},
            "prunescale_version": __version__, "versions": library_versions(),
        }


def fragility(model: str, parent: str | None = None, settings: FragilitySettings | None = None,
              device: str | None = None, dtype: str | None = None, trust_remote_code: bool = False) -> dict:
    """Predictors of a pruned model against its parent (default: the parent its prunescale.json names)."""
    from ..models.loading import resolve_path

    settings = settings or FragilitySettings()
    settings.check()
    resolve_path(model)   # a missing directory is named before the parent loads
    record = read_record(model)
    run = ParentRun(parent or parent_of(model, record), settings, device, dtype, trust_remote_code)
    return run.score(model, record)
