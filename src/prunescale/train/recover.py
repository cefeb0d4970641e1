"""Recovery fine-tuning as one library call: what ``prunescale finetune`` and a study's recovery variants run."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..errors import PrunescaleError
from ..fileio import check_out_dir, out_dir_type
from ..options import aliases, option
from .sft import Recipe

TEACHER_SAMPLES = 256     # --data teacher: traces generated when --samples is not given

# Short names the CLI (and older study files) use for recipe fields: lr, scheduler, warmup.
ALIASES = aliases(Recipe)


@dataclass
class FinetuneJob:
    """One fine-tuning run: the model, its data, the recipe and where the result goes."""

    model: str = option(help="model to fine-tune (directory, hub id or embedded:NAME)")
    data: str = option(help="organism, jsonl:PATH (or a path), hf:NAME[:split] (s1K-style), self:RUN_DIR (the "
                       "model's own correct generations) or teacher[:TASK] (the teacher's budget-forced traces on "
                       "the task's problems or built-in prompts, cached)")
    out: str = option(type=out_dir_type(), help="output model directory")
    recipe: Recipe = field(default_factory=Recipe)
    samples: int | None = option(None, help="number of traces (organism, teacher: generated, default "
                                 f"2000 / {TEACHER_SAMPLES}; others: the first N)")
    teacher: str | None = option(None, help="the model KD and --data teacher learn from (default: the unpruned "
                                 "model a pruned --model records)")
    teacher_budget: int = option(256, help="--data teacher: thinking budget of the teacher's traces (default "
                                 "{default})")
    teacher_temperature: float = option(0.0, help="--data teacher: sampling temperature, 0 = greedy (default "
                                        "{default})")
    teacher_backend: str = option("hf", help="--data teacher: generation backend, hf or vllm (default {default})")
    kd_cache_mb: float = option(1024.0, help="kd: cache the teacher's logits on disk when they fit in this many MB "
                                "(else compute them each step; 0: never cache; default {default})")
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
            raise PrunescaleError(f"{where}: fine-tuning needs 'data' (organism, jsonl:PATH, hf:NAME, self:RUN_DIR or "
                                  "teacher[:TASK])")
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
    from ..organism.transcripts import model_count
    from .data import load_traces
    from .render import render
    from .sft import finetune
    from .teacher import is_teacher_data, recorded_teacher

    job.recipe.validate()
    if job.samples is not None and job.samples < 1:
        raise PrunescaleError(f"--samples {job.samples} must be at least 1")
    if job.kd_cache_mb < 0 or job.teacher_budget < 1:
        raise PrunescaleError(f"--kd-cache-mb {job.kd_cache_mb:g} must be >= 0 and --teacher-budget "
                              f"{job.teacher_budget} positive")
    wants_teacher = job.recipe.objective == "kd" or is_teacher_data(job.data)
    teacher_spec = (job.teacher or recorded_teacher(job.model)) if wants_teacher else None
    if wants_teacher and not teacher_spec:
        needed = "--objective kd" if job.recipe.objective == "kd" else f"--data {job.data}"
        raise PrunescaleError(f"--model {job.model!r} records no unpruned parent: name the teacher with --teacher "
                              f"(needed by {needed})")
    out = check_out_dir(job.out, empty=True, overwrite=job.overwrite, replace=True)
    # Everything a bad input can break is checked before the model is loaded or a step is taken.
    path = resolve_path(job.model)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=job.trust_remote_code)
    except (OSError, ValueError):
        raise PrunescaleError(f"model {job.model!r} has no tokenizer") from None
    config = AutoConfig.from_pretrained(path, trust_remote_code=job.trust_remote_code)
    teacher = _load_teacher(teacher_spec, tok, job) if teacher_spec else None
    noted = {}
    if is_teacher_data(job.data):
        from .teacher import teacher_traces

        noted = {"teacher": teacher_spec, "teacher_traces": {
            "budget": job.teacher_budget, "temperature": job.teacher_temperature, "backend": job.teacher_backend}}
        traces = teacher_traces(job.data, teacher.model, teacher.tokenizer, teacher_spec=teacher_spec,
                                count=job.samples or TEACHER_SAMPLES, budget=job.teacher_budget,
                                temperature=job.teacher_temperature, seed=job.recipe.seed,
                                max_length=job.recipe.max_length, backend=job.teacher_backend, dtype=job.dtype,
                                device=job.device, trust_remote_code=job.trust_remote_code, log=log)
    else:
        traces = load_traces(job.data, samples=job.samples, seed=job.recipe.seed, question_field=job.question_field,
                             thinking_field=job.thinking_field, answer_field=job.answer_field,
                             organism_count=model_count(config))
    if job.recipe.objective != "kd":
        teacher = None   # its traces are made: free it before the student loads
    rows = render(traces, tok, config, name_hint=job.model)
    what = f"{job.recipe.objective}, teacher {teacher_spec}" if job.recipe.objective == "kd" else "sft"
    log(f"fine-tuning {job.model} ({job.recipe.mode}, {what}) on {len(rows)} traces from {job.data}")
    return finetune(job.model, rows, job.recipe, out, data_spec=job.data, resume=job.resume, dtype=job.dtype,
                    device=job.device, trust_remote_code=job.trust_remote_code,
                    teacher=teacher, kd_cache_mb=job.kd_cache_mb, noted=noted, log=log)


def _load_teacher(spec: str, student_tok, job: FinetuneJob):
    """The teacher, loaded once (its traces and its logits); it must share the student's vocabulary."""
    from ..generate.base import BACKENDS
    from ..models.loading import load_model

    BACKENDS.get(job.teacher_backend)   # an unknown backend is named before anything loads
    try:
        teacher = load_model(spec, dtype=job.dtype, device=job.device, trust_remote_code=job.trust_remote_code)
    except PrunescaleError:
        raise
    except (OSError, ValueError) as e:
        raise PrunescaleError(f"--teacher {spec!r} cannot be loaded: {str(e).splitlines()[0] if str(e) else e}") \
            from None
    if teacher.tokenizer.get_vocab() != student_tok.get_vocab():
        raise PrunescaleError(f"--teacher {spec!r} has another vocabulary than the student: KD compares "
                              "next-token distributions token by token")
    teacher.model.eval()
    for p in teacher.model.parameters():
        p.requires_grad_(False)
    return teacher
