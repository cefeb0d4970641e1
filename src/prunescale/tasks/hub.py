"""Load a benchmark from the Hugging Face hub by its usual name (needs `datasets` and a network)."""

from __future__ import annotations

from ..errors import PrunescaleError


def load_hub(task: str, name: str, config: str | None, split: str) -> list[dict]:
    try:
        import datasets
    except ImportError:
        raise PrunescaleError(f"task {task!r} from the hub needs `pip install prunescale[hf]`, "
                              "or pass a local file with --data") from None
    try:
        return [dict(r) for r in datasets.load_dataset(name, config, split=split)]
    except Exception as e:   # offline, missing, gated: the user needs the message, not the trace
        raise PrunescaleError(f"cannot load {name!r} for task {task!r}: {str(e).splitlines()[0]} "
                              "(pass a local file with --data)") from None
