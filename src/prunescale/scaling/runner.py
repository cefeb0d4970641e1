"""Build what an eval run needs from CLI options (model, backend, tasks) and run it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from ..errors import PrunescaleError
from ..generate import BACKENDS, get_profile
from .evaluate import EvalConfig, evaluate


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    cfg = EvalConfig(model=args.model, tasks=[t for t in args.tasks.split(",") if t], out=args.out,
                     budgets=args.budgets, samples=args.samples, seeds=args.seeds, temperature=args.temperature,
                     top_p=args.top_p, waits=args.waits, answer_tokens=args.answer_tokens, max_tokens=args.max_tokens,
                     limit=args.limit, data=args.data, batch_size=args.batch_size, profile=args.profile,
                     backend=args.backend, base_urls=args.base_urls, dtype=args.dtype, device=args.device,
                     trust_remote_code=args.trust_remote_code)
    cfg.validate()
    return cfg


def run_from_args(args: argparse.Namespace) -> dict:
    from ..tasks import get_task

    cfg = config_from_args(args)
    BACKENDS.get(cfg.backend)   # unknown backend: fail before loading anything
    tasks = {name: get_task(name) for name in cfg.tasks}
    backend, profile, model_manifest = build_backend(cfg, args)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    # The resolved options, re-runnable with --config.
    resolved = {k: v for k, v in vars(args).items() if k not in {"func", "command", "config", "save_config"}}
    (out / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    return evaluate(cfg, backend, tasks, profile.name, extra_manifest={"model": model_manifest,
                                                                       "profile": vars(profile)})


def build_backend(cfg: EvalConfig, args: argparse.Namespace):
    """The backend for ``cfg``, its thinking profile, and what is known of the model (pruning record)."""
    from transformers import AutoConfig, AutoTokenizer

    from ..models.loading import load_model, resolve_path

    if cfg.backend == "hf":
        loaded = load_model(cfg.model, dtype=cfg.dtype, device=cfg.device, trust_remote_code=cfg.trust_remote_code)
        profile = get_profile(cfg.profile, loaded.model.config, loaded.tokenizer, name_hint=cfg.model,
                              think_start=args.think_start, think_end=args.think_end)
        backend = BACKENDS.get("hf")(loaded.model, loaded.tokenizer, profile)
        path = loaded.path
    else:
        if not cfg.base_urls:
            raise PrunescaleError("--backend openai needs --base-url URL")
        path = resolve_path(cfg.model)
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
        config = AutoConfig.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
        profile = get_profile(cfg.profile, config, tok, name_hint=cfg.model, think_start=args.think_start,
                              think_end=args.think_end)
        backend = BACKENDS.get(cfg.backend)(cfg.base_urls, getattr(args, "served_model", None) or cfg.model, tok,
                                            profile)
        if hasattr(backend, "check"):
            backend.check()
    record = Path(path) / "prunescale.json"
    manifest = {"spec": cfg.model, "path": str(path)}
    if record.is_file():
        manifest["pruning"] = json.loads(record.read_text())
        manifest["pruning"].pop("scores", None)
    return backend, profile, manifest
