"""Recovery fine-tuning as one library call: what ``prunescale finetune`` and a study's recovery variants run."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..errors import PrunescaleError
from ..fileio import check_out_dir, out_dir_type
from ..options import aliases, option
from .sft import Recipe

# Short names the CLI (and older study files) use for recipe fields: lr, scheduler, warmup.
ALIASES = aliases(Recipe)


@dataclass
class FinetuneJob:
    """One fine-tuning run: the model, its data, the recipe and where the result goes."""

    model: str = option(help="model to fine-tune (directory, hub id or embedded:NAME)")
    data: str = option(help="organism, jsonl:PATH (or a path), hf:NAME[:split] (s1K-style) or self:RUN_DIR (the "
                       "model's own correct generations)")
    out: str = option(type=out_dir_type(), help="output model directory")
    recipe: Recipe = field(default_factory=Recipe)
    samples: int | None = option(None, help="number of traces (organism: generated; others: the first N)")
    question_field: str | None = None
    thinking_field: str | None = None
    answer_field: str | None = None
    resume: bool = option(False, help="continue from the last checkpoint in OUT-checkpoints/")
    overwrite: bool = option(False, help="replace an existing --out")
    dtype: str | None = None
    device: str | None = None
    trust_remote_code: bool = False

    @classmethod
    def from_options(cls, model: str, out: str, options: dict, where: str = "finetune") -> "FinetuneJob":
        """A job from a flat mapping of job and recipe fields (a study's ``finetune:``); unknown keys are named."""
        job, recipe = cls.split_options(options, where)
        if "data" not in job:
            raise PrunescaleError(f"{where}: fine-tuning needs 'data' (organism, jsonl:PATH, hf:NAME or self:RUN_DIR)")
        return cls(model=model, out=out, recipe=Recipe(**recipe), **job)

    @classmethod
    def split_options(cls, options: dict, where: str = "finetune") -> tuple[dict, dict]:
        """(job fields, recipe fields) of a flat mapping; an unknown key is a one-line error naming it."""
        job_keys = {f.name for f in fields(cls)} - {"model", "out", "recipe"}
        recipe_keys = {f.name for f in fields(Recipe)} - {"extra"}
        job, recipe = {}, {}
        for key, value in options.items():
            name = ALIASES.get(key, key)
            if name in job_keys:
                job[name] = value
            elif name in recipe_keys:
                recipe[name] = value
            elif key == "adam_betas":
                recipe["adam_beta1"], recipe["adam_beta2"] = parse_betas(str(value))
            else:
                raise PrunescaleError(f"{where}: unknown fine-tuning option {key!r} (known: "
                                      f"{', '.join(sorted(job_keys | recipe_keys | set(ALIASES)))})")
        return job, recipe


def parse_betas(text: str) -> tuple[float, float]:
    try:
        b1, b2 = (float(x) for x in text.split(","))
    except ValueError:
        raise PrunescaleError(f"--adam-betas {text!r} is not two numbers like 0.9,0.95") from None
    return b1, b2


def run_finetune(job: FinetuneJob, log=print) -> dict:
    """Check every input, then train; returns the written model's prunescale.json record."""
    from transformers import AutoConfig, AutoTokenizer

    from ..models.loading import resolve_path
    from .data import load_traces
    from .render import render
    from .sft import finetune

    job.recipe.validate()
    if job.samples is not None and job.samples < 1:
        raise PrunescaleError(f"--samples {job.samples} must be at least 1")
    out = check_out_dir(job.out, empty=True, overwrite=job.overwrite, replace=True)
    # Everything a bad input can break is checked before the model is loaded or a step is taken.
    path = resolve_path(job.model)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=job.trust_remote_code)
    except (OSError, ValueError):
        raise PrunescaleError(f"model {job.model!r} has no tokenizer") from None
    config = AutoConfig.from_pretrained(path, trust_remote_code=job.trust_remote_code)
    traces = load_traces(job.data, samples=job.samples, seed=job.recipe.seed, question_field=job.question_field,
                         thinking_field=job.thinking_field, answer_field=job.answer_field)
    rows = render(traces, tok, config, name_hint=job.model)
    log(f"fine-tuning {job.model} ({job.recipe.mode}) on {len(rows)} traces from {job.data}")
    return finetune(job.model, rows, job.recipe, out, data_spec=job.data, resume=job.resume, dtype=job.dtype,
                    device=job.device, trust_remote_code=job.trust_remote_code, log=log)
