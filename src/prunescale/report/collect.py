"""Read a study directory (see ``contract/study_dir.py``) into one plain, JSON-ready dict: the report's only input.

Nothing here raises on missing or broken files: a cell without summary.json has no numbers, one without
analysis.json no analysis, a missing study.sqlite means statuses are inferred from the files present, and an
unreadable file is noted in ``warnings``.
"""

from __future__ import annotations

import json
import platform
import sqlite3
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from ..budgets import budget_key, budget_label
from ..contract.naming import VariantName, base_id, split_cell_id, split_variant_id
from ..contract.run_dir import RunDir, model_record
from ..contract.status import StatusDB
from ..contract.study_dir import CellInfo, StudyDir, VariantInfo, task_summary
from ..errors import PrunescaleError
from ..scaling.store import Store
from .headline import method_order, order_variants
from .paired import study_comparisons

# Analysis metrics shown against layers removed ("why").
WHY_METRICS = ("self_bleu", "loop_rate", "verification", "backtracking", "subgoal")
# Sample browser caps: problems per task, and characters kept of a response (head + tail, the middle elided).
MAX_SAMPLE_PROBLEMS = 40
HEAD_CHARS, TAIL_CHARS = 2000, 6000


def collect(study_dir: str | Path, planned: list[CellInfo] | None = None) -> dict:
    """Everything the report shows, as plain data (also written as report_data.json). ``planned``: the cells the
    study declares (its caller knows them; ``study.run.planned_cells``), listed as todo until they run."""
    lay = StudyDir(study_dir)
    warnings: list[str] = []
    study_text = _read_text(lay.study_yaml, warnings)
    study_yaml = _yaml(study_text, warnings) if study_text else {}
    variants = _variants(lay, warnings)
    statuses = _statuses(lay, warnings)
    cells = [_cell(RunDir(d), statuses.get(d.name), warnings) for d in lay.cell_dirs()]
    seen = {c["id"] for c in cells}
    # Cells that failed before their directory existed (e.g. their model could not be built), and planned ones.
    for cid, row in statuses.items():
        if cid not in seen:
            cells.append(_bare_cell(cid, row, variants))
            seen.add(cid)
    for p in planned or []:
        if p.id not in seen:
            cells.append(_bare_cell(p.id, None, variants, vid=p.variant_id, task=p.task, label=p.task_label,
                                    kind=p.kind))
            seen.add(p.id)
    for c in cells:   # a cell with results but no variant json still gets a variant from its id
        vid = c.get("variant_id")
        if vid and vid not in variants and c.get("has_summary"):
            variants[vid] = _guess_variant(vid)
    order = order_variants(variants, method_order(study_yaml))
    variants = {vid: variants[vid] for vid in order}
    for v in variants.values():
        v["base_id"] = base_id(v["id"])
        v["label"] = variant_label(v)
    tasks = _tasks(cells)
    data = {
        "study": {"dir": str(lay.root.resolve()), "name": study_yaml.get("name"), "yaml": study_text},
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "environment": _environment(),
        "variants": variants,
        "models": list(dict.fromkeys(v["model_label"] for v in variants.values())),
        "methods": list(dict.fromkeys(v["method"] for v in variants.values() if v.get("method"))),
        "tasks": tasks,
        "cells": sorted(cells, key=lambda c: (order.index(c["variant_id"]) if c.get("variant_id") in order
                                              else len(order), c.get("task_label") or "", c["id"])),
        "versions": _versions(cells, variants),
        "warnings": warnings,
    }
    data["paired"] = study_comparisons(lay.root, data["cells"], variants, warnings)
    data["samples"] = _samples(lay, data, warnings)
    data["fragility"] = _fragility(lay, data, warnings)
    for c in data["cells"]:   # the raw manifests are summarised in "versions"; keep the json small
        c.pop("_manifest", None)
    return data


# variants ------------------------------------------------------------------------------------------------------
def variant_label(v: dict) -> str:
    if not v.get("method"):
        return "unpruned"
    if v.get("sparsity") is not None:
        return f"{v['method']} {v['sparsity']:.0%} zeros"
    name = f"{v['method']} −{v.get('n_removed', '?')}"
    return f"{name} + {v['recovery']}" if v.get("recovery") else name


def _variants(lay: StudyDir, warnings: list[str]) -> dict:
    out = {}
    for f in lay.variant_files():
        raw = _read_json(f, warnings)
        if isinstance(raw, dict):
            raw.setdefault("id", f.stem)
            v = {**raw, **asdict(VariantInfo.from_dict(_fill_variant(raw)))}
            out[v["id"]] = v
            # package versions the model was pruned / fine-tuned with (its prunescale.json), if it is at hand
            for d in (lay.model_dir(v["id"]), Path(str(v.get("path") or ""))):
                rec = model_record(d)
                if v.get("method") and rec.is_file():
                    r = _read_json(rec, warnings)
                    if isinstance(r, dict) and (r.get("versions") or (r.get("parent_record") or {}).get("versions")):
                        v["prune_versions"] = r.get("versions") or r["parent_record"]["versions"]
                        break
    return out


def _fill_variant(v: dict) -> dict:
    g = _guess_variant(v["id"])
    for k, val in g.items():
        if v.get(k) is None and val is not None:
            v[k] = val
    return v


def _guess_variant(vid: str) -> dict:
    """A variant from its id alone (contract/naming.py); ``sparsity`` only for an unstructured one."""
    model, name = split_variant_id(vid)
    parsed = VariantName.parse(name) if name else VariantName()
    out = {"id": vid, "model": model, "model_label": model, "variant": name or vid, "method": parsed.method,
           "n_removed": parsed.n_removed, "recovery": parsed.recovery}
    return out if parsed.sparsity is None else {**out, "sparsity": parsed.sparsity}


# statuses ------------------------------------------------------------------------------------------------------
def _statuses(lay: StudyDir, warnings: list[str]) -> dict[str, dict]:
    path = lay.status_db
    if not path.is_file():
        return {}
    try:
        with StatusDB(path, readonly=True) as db:
            return db.all()
    except sqlite3.Error as e:
        warnings.append(f"cannot read {path.name}: {e}")
        return {}


# cells ---------------------------------------------------------------------------------------------------------
def _bare_cell(cid: str, row: dict | None, variants: dict, vid=None, task=None, label=None, kind=None) -> dict:
    if vid is None:
        vid, label = split_cell_id(cid)
    status = (row or {}).get("status") or "todo"
    return {"id": cid, "variant_id": vid, "task": task or label, "task_label": label or task, "kind": kind,
            "status": status, "error": (row or {}).get("error"), "seconds": (row or {}).get("seconds"),
            "has_summary": False, "has_analysis": False, "budgets": {}, "largest_budget": None,
            "analysis": {}, "speed": {}, "config": None}


def _cell(d: RunDir, row: dict | None, warnings: list[str]) -> dict:
    cj = _read_json(d.cell_json, warnings) if d.cell_json.is_file() else None
    guess = _bare_cell(d.name, None, {})
    info = CellInfo.from_dict({"id": d.name, "variant_id": guess["variant_id"], "task": guess["task"],
                               "task_label": guess["task_label"], **(cj if isinstance(cj, dict) else {})})
    cell = {"id": info.id, "variant_id": info.variant_id, "task": info.task, "task_label": info.task_label,
            "kind": info.kind, "eval": info.eval or None}
    summary = _read_json(d.summary_json, warnings) if d.summary_json.is_file() else None
    analysis = _read_json(d.analysis_json, warnings) if d.analysis_json.is_file() else None
    error_txt = d.error_txt.read_text(errors="replace").strip() if d.error_txt.is_file() else None
    status = (row or {}).get("status") or ("done" if summary else ("failed" if error_txt else "incomplete"))
    error = (row or {}).get("error")
    if status == "failed" and not error and error_txt:
        error = error_txt.splitlines()[-1]
    cell.update(status=status, error=error, seconds=(row or {}).get("seconds"),
                has_summary=isinstance(summary, dict), has_analysis=isinstance(analysis, dict))
    t = task_summary(summary, cell["task"])
    if cell["kind"] is None and t is not None and t.get("long_chain") is not None:
        cell["kind"] = "long_chain" if t["long_chain"] else "knowledge"
    cell["kind"] = cell["kind"] or "long_chain"
    cell["chain_length"] = (t or {}).get("chain_length")
    budgets = {}
    for b, vals in sorted(((t or {}).get("budgets") or {}).items(), key=lambda kv: budget_key(kv[0])):
        budgets[budget_label(b)] = {k: vals.get(k) for k in (
            "accuracy", "accuracy_std", "accuracy_by_seed", "ci95", "n_problems", "n_samples", "thinking_tokens_mean",
            "answer_tokens_mean", "forced_share", "answer_found_share", "seconds_per_sample", "pass@k", "maj@k",
            "cov@k", "maj@k_first", "pass@k_ci95", "maj@k_ci95") if k in vals}
    cell["budgets"] = budgets
    cell["largest_budget"] = list(budgets)[-1] if budgets else None
    cell["samples"] = (summary or {}).get("samples") if isinstance(summary, dict) else None
    cell["seeds"] = (summary or {}).get("seeds") if isinstance(summary, dict) else None
    cell["analysis"] = _analysis_groups(analysis, cell["task"])
    manifest, speed = _store_facts(d.store, cell["task"], warnings)
    cell["speed"] = speed
    cell["_manifest"] = manifest
    cell["config"] = _read_text(d.config_yaml, warnings) if d.config_yaml.is_file() else None
    return cell


def _analysis_groups(analysis, task: str | None) -> dict:
    """Per budget: the group's metrics (numbers only) of this cell's task."""
    if not isinstance(analysis, dict):
        return {}
    groups = [g for g in analysis.get("groups") or [] if isinstance(g, dict)]
    if any(g.get("task") == task for g in groups):
        groups = [g for g in groups if g.get("task") == task]
    out = {}
    for g in sorted(groups, key=lambda g: budget_key(g.get("budget"))):
        key = budget_label(g.get("budget"))
        out[key] = {k: v for k, v in g.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def _read_store(path: Path, columns: list[str], warnings: list[str]) -> tuple[dict, list[dict]] | None:
    """(manifest, rows with ``columns``) of a results store, read through :class:`Store`; None if unreadable."""
    try:
        store = Store(path, readonly=True)
        try:
            return store.manifest(), store.rows(columns=columns)
        finally:
            store.close()
    except (PrunescaleError, sqlite3.Error, ValueError) as e:
        warnings.append(f"cannot read {path}: {e}")
        return None


def _store_facts(path: Path, task: str | None, warnings: list[str]) -> tuple[dict, dict]:
    """The run manifest, and measured speed.

    Samples of one batch are generated together and share their ``created`` time; a batch takes as long as its
    slowest sample (``wall_s`` is measured from the batch start). Generation time is the sum over batches.
    tokens/s: all generated tokens (thinking + answer) over all generation time. seconds per problem: at the
    largest budget, generation time over problems x seeds (one problem answered with all its samples)."""
    cols = ["task", "budget", "seed", "problem_id", "thinking_tokens", "answer_tokens", "wall_s", "created"]
    read = _read_store(path, cols, warnings) if path.is_file() else None
    if read is None:
        return {}, {}
    manifest, rows = read[0], [tuple(r[c] for c in cols) for r in read[1]]
    if any(r[0] == task for r in rows):
        rows = [r for r in rows if r[0] == task]
    if not rows:
        return manifest, {}
    batches: dict = defaultdict(float)
    tokens = 0
    for _, budget, _, _, tt, at, wall, created in rows:
        tokens += (tt or 0) + (at or 0)
        batches[(budget, created)] = max(batches[(budget, created)], wall or 0.0)
    total = sum(batches.values())
    top = max({r[1] for r in rows}, key=budget_key)
    top_rows = [r for r in rows if r[1] == top]
    top_time = sum(w for (b, _), w in batches.items() if b == top)
    units = len({(r[2], r[3]) for r in top_rows})
    return manifest, {
        "tokens": tokens, "generation_s": round(total, 4), "n_generations": len(rows),
        "tokens_per_s": tokens / total if total > 0 else None,
        "budget": budget_label(top), "seconds_per_problem": top_time / units if units else None,
        "tokens_per_problem": sum((r[4] or 0) + (r[5] or 0) for r in top_rows) / units if units else None,
    }


def _tasks(cells: list[dict]) -> list[dict]:
    out: dict[str, dict] = {}
    for c in cells:
        label = c.get("task_label")
        if not label:
            continue
        t = out.setdefault(label, {"label": label, "task": c.get("task"), "kind": c.get("kind"),
                                   "chain_length": None})
        if c.get("has_summary"):
            t["kind"] = c.get("kind") or t["kind"]
            t["chain_length"] = c.get("chain_length") or t["chain_length"]
    return sorted(out.values(), key=lambda t: (t["kind"] == "knowledge", list(out).index(t["label"])))


def _versions(cells: list[dict], variants: dict) -> list[dict]:
    """Distinct package-version sets recorded in the run manifests (and the pruned models' records), with the
    cells that used each."""
    groups: dict[str, dict] = {}
    for c in cells:
        m = c.get("_manifest") or {}
        v = m.get("versions")
        pruning = (((m.get("model") or {}).get("pruning") or {}).get("versions")
                   or (variants.get(c.get("variant_id")) or {}).get("prune_versions"))
        if not v and not pruning:
            continue
        key = json.dumps([v, pruning], sort_keys=True)
        g = groups.setdefault(key, {"eval": v, "prune": pruning, "cells": []})
        g["cells"].append(c["id"])
    return list(groups.values())


def _environment() -> dict:
    from .. import __version__

    env = {"prunescale": __version__, "python": platform.python_version()}
    try:
        import matplotlib

        env["matplotlib"] = matplotlib.__version__
    except ImportError:
        pass
    return env


# samples -------------------------------------------------------------------------------------------------------
def _samples(lay: StudyDir, data: dict, warnings: list[str]) -> list[dict]:
    """Per task: up to MAX_SAMPLE_PROBLEMS problems; per problem and variant, one response (largest budget,
    first seed, sample 0) clipped to its head and tail, with its loop spans (character offsets into the clipped
    text) and its analysis values."""
    out = []
    for t in data["tasks"]:
        cells = [c for c in data["cells"] if c.get("task_label") == t["label"] and c.get("has_summary")]
        per_variant: dict[str, dict] = {}
        problems: list[str] = []
        budget = None
        for c in cells:
            picked, b = _pick_responses(lay.cell(c["id"]), c, warnings)
            if not picked:
                continue
            per_variant[c["variant_id"]] = picked
            budget = budget if budget is not None else b
            problems += [p for p in picked if p not in problems]
        if not per_variant:
            continue
        problems = problems[:MAX_SAMPLE_PROBLEMS]
        out.append({"task_label": t["label"], "task": t["task"], "budget": budget, "problems": [
            {"id": p, "gold": next((per_variant[v][p]["gold"] for v in per_variant if p in per_variant[v]), None),
             "responses": {v: per_variant[v][p] for v in data["variants"] if v in per_variant and p in per_variant[v]}}
            for p in problems]})
    return out


def _pick_responses(cdir: RunDir, cell: dict, warnings: list[str]) -> tuple[dict, str | None]:
    path = cdir.store
    cols = ["task", "problem_id", "budget", "seed", "sample_idx", "text", "thinking", "thinking_tokens",
            "answer_tokens", "forced", "extracted", "gold", "correct"]
    read = _read_store(path, cols, warnings) if path.is_file() else None
    if read is None:
        return {}, None
    rows = read[1]
    analysis = _read_json(cdir.analysis_json, warnings) if cell.get("has_analysis") else None
    by_key = analysis_by_key(analysis)
    mine = [r for r in rows if r["task"] == cell.get("task")] or rows
    if not mine:
        return {}, None
    top = max({r["budget"] for r in mine}, key=budget_key)
    first_seed = min(r["seed"] for r in mine if r["budget"] == top)
    picked = {}
    for r in mine:
        if r["budget"] != top or r["seed"] != first_seed or r["sample_idx"] != 0 or r["problem_id"] in picked:
            continue
        picked[r["problem_id"]] = _clip_response(r, by_key.get(generation_key(r)))
    return picked, budget_label(top)


def generation_key(row: dict) -> tuple:
    """(task, budget, seed, problem, sample) of a stored generation: what its analysis row is joined on."""
    return (row["task"], budget_label(row["budget"]), row["seed"], str(row["problem_id"]), row["sample_idx"])


def analysis_by_key(analysis) -> dict[tuple, dict]:
    """analysis.json's per-response rows by :func:`generation_key` (rows written without a seed match none)."""
    rows = analysis.get("responses") if isinstance(analysis, dict) else None
    out = {}
    for r in rows if isinstance(rows, list) else []:
        if isinstance(r, dict) and r.get("seed") is not None:
            out[(r.get("task"), budget_label(r.get("budget")), r["seed"], str(r.get("problem_id")),
                 r.get("sample"))] = r
    return out


def _clip_response(r: dict, info: dict | None) -> dict:
    text = r["text"] or ""
    spans = [tuple(s[:2]) for s in (info or {}).get("loop_spans") or [] if isinstance(s, (list, tuple))]
    pieces = [(0, len(text))]
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        pieces = [(0, HEAD_CHARS), (len(text) - TAIL_CHARS, len(text))]
    parts = []
    for a, b in pieces:
        parts.append({"start": a, "text": text[a:b],
                      "loops": [[max(s, a) - a, min(e, b) - a] for s, e in spans if s < b and e > a]})
    return {
        "parts": parts, "chars": len(text), "thinking_chars": len(r["thinking"] or ""),
        "correct": bool(r["correct"]), "extracted": r["extracted"], "gold": r["gold"],
        "thinking_tokens": r["thinking_tokens"], "answer_tokens": r["answer_tokens"], "forced": bool(r["forced"]),
        "seed": r["seed"],
        "looping": (info or {}).get("looping"), "loop_reasons": (info or {}).get("loop_reasons") or "",
        "self_bleu": (info or {}).get("self_bleu"),
        "reflection": {k: (info or {}).get(k) for k in ("verification", "backtracking", "subgoal")},
    }


# fragility -----------------------------------------------------------------------------------------------------
def _fragility(lay: StudyDir, data: dict, warnings: list[str]) -> dict:
    """Per pruned variant: its early-warning predictors (fragility/<id>.json, when computed) and its measured
    loss of test-time scaling (fragility/tts.py), by variant id."""
    from ..fragility.tts import tts_losses

    tts = tts_losses(data["variants"], data["cells"])
    out = {}
    for vid, v in data["variants"].items():
        if not v.get("method"):
            continue
        path = lay.fragility_json(vid)
        rec = _read_json(path, warnings) if path.is_file() else None
        rec = rec if isinstance(rec, dict) else {}
        out[vid] = {"predictors": rec.get("predictors") or {},
                    "method_score_name": (rec.get("details") or {}).get("method_score_name"),
                    "tts": tts.get(vid) or {}}
    return out


# files ---------------------------------------------------------------------------------------------------------
def _read_text(path: Path, warnings: list[str]) -> str | None:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return None
    except OSError as e:
        warnings.append(f"cannot read {path}: {e.strerror}")
        return None


def _read_json(path: Path, warnings: list[str]):
    text = _read_text(path, warnings)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        warnings.append(f"{path}: not valid JSON ({e})")
        return None


def _yaml(text: str, warnings: list[str]) -> dict:
    import yaml

    try:
        out = yaml.safe_load(text)
    except yaml.YAMLError as e:
        warnings.append(f"study.yaml does not parse: {str(e).splitlines()[0]}")
        return {}
    return out if isinstance(out, dict) else {}
