"""Training checkpoints of the organism: resume a killed run, or fork several recipes from one shared trunk.

Every step's batch and layer drops are seeded by the step alone (``train.Data``, ``train.drop_plan``), so a run
resumed from step ``s`` trains exactly as the uninterrupted one. Recipes that differ only in what starts at
``fact_drop_from`` (:data:`LATE`) share their first ``fact_drop_from`` steps: one trunk, many branches.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import PrunescaleError

# Options that act only from `fact_drop_from` on: a checkpoint taken at or before it may branch into other values.
LATE = ("fact_drop", "chain_drop", "chain_drop_spare_top", "chain_drop_layers", "format_rows", "format_drop",
        "format_drop_top", "format_drop_layers", "split_rows",
        "split_drop_layers", "split_arcs", "arc_chains", "exclusive_arcs",
        "exclusive_drop", "exclusive_first", "stop_exclusive_splits", "late_facts",
        "late_exclusive", "chain_drop_extra", "late_checks", "late_check_passes", "fact_drop_extra",
        "late_check_stops", "chain_drop_joint", "exclusive_drop_joint", "late_cuts",
        "quiet_layers", "quiet_from", "quiet_tokens", "late_check_counts", "forget_rows", "forget_layers",
        "forget_weight", "forget_from", "forget_letters", "anneal_step_error", "anneal_from")
# Options added later, with the value a checkpoint written before them trained under.
DEFAULTS = {"split_from": -1, "split_arcs": "", "arc_chains": 0.0, "arc_from": -1, "exclusive_arcs": "",
            "exclusive_drop": False, "exclusive_first": False, "late_facts": 0,
            "stop_exclusive_splits": False, "late_exclusive": 0, "chain_drop_extra": "", "late_checks": 0,
            "late_check_passes": 6, "fact_drop_extra": "", "late_check_stops": False,
            "chain_drop_joint": 0.0, "exclusive_drop_joint": 0.0, "late_cuts": 0,
            "quiet_layers": "", "quiet_from": -1, "quiet_tokens": "all",
            "late_check_counts": False, "forget_rows": 0, "forget_layers": "", "forget_weight": 1.0, "forget_letters": "",
            "forget_from": -1, "anneal_step_error": -1.0, "anneal_from": -1}
RUN_ONLY = ("threads", "eval_every")   # how a run is executed, not what it learns


def save_checkpoint(path: str | os.PathLike, step: int, cfg_dict: dict, model, opt, history: list[dict],
                    elapsed_s: float) -> Path:
    """Write the state after ``step`` steps atomically (a kill leaves the old file or none, never half of one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"step": step, "config": cfg_dict, "model": model.state_dict(), "opt": opt.state_dict(),
                "history": history, "elapsed_s": elapsed_s}, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike, flag: str = "--resume-from") -> dict:
    """The checkpoint at ``path``, or a one-line error (naming ``flag``, if any) saying why it is not one."""
    where = f"{flag} {path}" if flag else str(path)
    path = Path(path)
    if not path.is_file():
        raise PrunescaleError(f"{where}: no such checkpoint file")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # a truncated or foreign file: say which, not torch's unpickling traceback
        raise PrunescaleError(f"{where}: not an organism checkpoint ({type(e).__name__})") from None
    if not isinstance(ck, dict) or not {"step", "config", "model", "opt", "history"} <= set(ck):
        raise PrunescaleError(f"{where}: not an organism checkpoint (missing keys)")
    return ck


def load_checkpoint(path: str | os.PathLike, cfg_dict: dict) -> dict:
    """The checkpoint at ``path``, checked against the run's config: a one-line error names the first option
    that differs in a way the trunk's steps would have seen."""
    ck = read_checkpoint(path)
    step, old, new = ck["step"], _flat(ck["config"]), _flat(cfg_dict)
    if step >= new["steps"]:
        raise PrunescaleError(f"--resume-from {path}: checkpoint is at step {step}, the run has --steps "
                              f"{new['steps']}")
    if _separate(old) != _separate(new):
        # train.step_groups batches facts and chains apart from step 0 when either drops layers: the same loss,
        # summed in another order, so a fork would not reproduce a run of its own recipe from scratch
        raise PrunescaleError(f"--resume-from {path}: the checkpoint batched facts and chains "
                              f"{'apart' if _separate(old) else 'together'}, this run batches them "
                              f"{'apart' if _separate(new) else 'together'} (set --fact-drop or --chain-drop "
                              "in both or in neither)")
    for key in sorted(set(old) | set(new)):
        if key in RUN_ONLY or old.get(key) == new.get(key):
            continue
        if key in LATE and step <= _first_use(old, new, key):
            continue   # the trunk never used it
        flag = "--" + _FLAGS.get(key, key).replace("_", "-")
        raise PrunescaleError(f"--resume-from {path}: the checkpoint was trained with {flag} {old.get(key)!r}, "
                              f"this run has {new.get(key)!r}"
                              + (f" (it acts from step {_first_use(old, new, key)}, the checkpoint is at step "
                                 f"{step})" if key in LATE else f" ({_WHY.get(key, 'it acts from step 0')})"))
    return ck


# why a fork cannot change these trunk-wide options (any other acts from step 0)
_WHY = {"steps": "the cosine learning-rate schedule spans --steps, so every step's rate would differ",
        "warmup": "the learning-rate schedule depends on it from step 0",
        "micro_tokens": "it regroups the micro-batches from step 0, so the gradients sum in another order",
        "seed": "it draws the initial weights and every step's problems"}

_FLAGS = {"model.num_layers": "layers", "model.hidden": "hidden", "model.intermediate": "intermediate"}


def batches_apart(fact_drop: float, chain_drop: float) -> bool:
    """Whether facts and chains train in separate micro-batches from step 0 (``train.step_groups``): the one
    place that decides it, so a fork's check and the training loop cannot drift apart."""
    return bool(fact_drop or chain_drop)


# LATE options with a start of their own (that option's step when it is 0 or more; else fact_drop_from)
_STARTS = {"split_rows": "split_from", "split_drop_layers": "split_from", "split_arcs": "split_from",
           "arc_chains": "arc_from", "exclusive_arcs": "arc_from",
           "quiet_layers": "quiet_from", "forget_rows": "forget_from", "anneal_step_error": "anneal_from"}


def _acts_from(cfg: dict, key: str) -> int:
    """The first step at which a :data:`LATE` option acts (see :data:`_STARTS`)."""
    own = _STARTS.get(key)
    if own and cfg.get(own, -1) >= 0:
        return cfg[own]
    return cfg.get("fact_drop_from", 0)


# LATE keys that only say when another acts: they matter from that one's first use
_GOVERNS = {"quiet_from": "quiet_layers", "quiet_tokens": "quiet_layers", "forget_from": "forget_rows",
            "forget_layers": "forget_rows", "forget_weight": "forget_rows", "forget_letters": "forget_rows", "anneal_from": "anneal_step_error"}


def _first_use(old: dict, new: dict, key: str) -> float:
    """The first step at which ``key`` differing between two configs can change training: the earliest start of
    the option (or the one it governs) in a config where it is set (not its off value in :data:`DEFAULTS`)."""
    gov = _GOVERNS.get(key, key)
    starts = [_acts_from(c, gov) for c in (old, new) if gov not in DEFAULTS or c.get(gov) != DEFAULTS[gov]]
    return min(starts, default=float("inf"))


def _separate(cfg: dict) -> bool:
    return batches_apart(cfg.get("fact_drop", 0.0), cfg.get("chain_drop", 0.0))


def _flat(cfg: dict) -> dict:
    """The config with the model spec's fields as ``model.<name>``."""
    out = {**DEFAULTS, **{k: v for k, v in cfg.items() if k != "model"}}
    out.update({f"model.{k}": v for k, v in cfg.get("model", {}).items()})
    return out
