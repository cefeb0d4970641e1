"""Read a ``prunescale eval`` results store as analysis records."""

from __future__ import annotations

from pathlib import Path

from ..errors import PrunescaleError


def run_records(run_dir: Path, model: str | None = None) -> list:
    """Our results store's rows as analysis records (thinking ends where the stored thinking text ends)."""
    from ..analysis.records import Record
    from ..budgets import from_store
    from ..contract.run_dir import RunDir
    from ..scaling.store import Store

    path = RunDir(run_dir).store
    if not path.is_file():
        raise PrunescaleError(f"no results store at {str(path)!r} (run prunescale eval first)")
    store = Store(path)
    try:
        label = model or store.manifest().get("config", {}).get("model")
        rows = store.rows()
    finally:
        store.close()
    return [Record(problem_id=r["problem_id"], sample=r["sample_idx"], response=r["text"], correct=bool(r["correct"]),
                   thinking_tokens=r["thinking_tokens"], budget=from_store(r["budget"]),
                   forced=bool(r["forced"]), model=label, task=r["task"], extracted_answer=r["extracted"],
                   thinking_end=len(r["thinking"]), seed=r["seed"])
            for r in rows]


def analyze_run(run_dir: str | Path, model: str | None = None) -> Path:
    """``prunescale analyze --run DIR`` without the CLI: writes DIR/analysis.json (and .csv); returns the json."""
    from .output import write_analysis
    from .summary import analyze_records

    run_dir = Path(run_dir)
    analysis = analyze_records(run_records(run_dir, model=model))
    analysis["source"] = str(run_dir)
    return write_analysis(analysis, run_dir)[0]
