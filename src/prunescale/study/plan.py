"""What a study will cost before it runs (``prunescale study plan``): its cells, as :meth:`Study.cells` lists
them, the tokens each generates at most, the time from a throughput (stated, or measured with the study's own
backend on its first variant) and the peak memory per variant (weights + KV cache, from the model's shape,
without loading its weights).

Tokens are an upper bound: each sample is counted at its thinking cap, although most end earlier. The wall
time adds what a run spends outside generation: start-up (this command's own), loading each variant's model
(timed in the pilot), pruning (a load, a save and the calibration's generated tokens at most), the fragility
predictors where they run (as much again per pruned variant) and the report (per cell). Analysis is not
counted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ..errors import PrunescaleError
from .spec import Cell, Study, Variant

# Without the model's tokenizer (a hub id planned offline): the forced text ("</think>" + "\n\nFinal Answer:"),
# a "Wait", and the longest rendered prompt, in tokens.
ASSUMED_FORCED, ASSUMED_WAIT, ASSUMED_PROMPT = 8, 2, 512
REPORT_SECONDS_PER_CELL = 0.5   # measured: studies/thinking.yaml's report, 39 cells in 18.6 s on a 2-core CPU
VLLM_MAX_SEQS = 256    # vLLM's default max_num_seqs: sequences it decodes at once
PILOT_CAP = 512        # the pilot's thinking cap at most (a larger budget: samples that reach it count as capped)


@dataclass
class CellPlan:
    cell: Cell
    problems: int
    tokens: int                  # generated at most (every budget, seed and sample)
    longest: int                 # the longest sequence: prompt + thinking cap + forced text + answer
    batch: int                   # sequences decoded together
    gpus: int = 0                # GPUs the cell holds (0: CPU)
    expected: int | None = None  # tokens expected from the pilot's lengths (None: not measured)
    seconds: float = 0.0         # expected time (at most, without a pilot)
    max_seconds: float = 0.0     # every sample at its cap


@dataclass
class VariantPlan:
    variant: Variant
    layers: int
    params: int
    weight_bytes: int
    kv_bytes: int                # at its cells' largest batch x longest sequence
    tokens: int = 0
    seconds: float = 0.0
    max_seconds: float = 0.0
    setup_seconds: float = 0.0   # loading its model (per backend it builds) and, for a pruned one, pruning

    @property
    def peak_bytes(self) -> int:
        return self.weight_bytes + self.kv_bytes


@dataclass
class StudyPlan:
    cells: list[CellPlan]
    variants: list[VariantPlan]
    tokens_per_s: dict[str, float]       # by task label (measured) or "all" (stated)
    assumptions: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0         # the command's own start-up (imports), measured
    fragility_seconds: float = 0.0       # the early-warning predictors of the pruned variants, where they run
    report_seconds: float = 0.0

    @property
    def wall_seconds(self) -> float:
        """Start-up + loading and pruning + expected generation + fragility + report: the run's wall time."""
        return (self.startup_seconds + sum(v.setup_seconds for v in self.variants) + self.seconds
                + self.fragility_seconds + self.report_seconds)

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.cells)

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.cells)

    @property
    def max_seconds(self) -> float:
        return sum(c.max_seconds for c in self.cells)

    @property
    def peak_bytes(self) -> int:
        return max(v.peak_bytes for v in self.variants)

    @property
    def gpu_hours(self) -> float:
        return sum(c.seconds * c.gpus for c in self.cells) / 3600

    def to_dict(self) -> dict:
        return {
            "cells": [{"cell": c.cell.id, "variant": c.cell.variant.variant, "task": c.cell.label or c.cell.task,
                       "problems": c.problems, "tokens": c.tokens, "expected_tokens": c.expected,
                       "longest": c.longest, "batch": c.batch, "seconds": round(c.seconds, 3),
                       "max_seconds": round(c.max_seconds, 3)} for c in self.cells],
            "variants": [{"variant": v.variant.id, "layers": v.layers, "params": v.params,
                          "weight_bytes": v.weight_bytes, "kv_bytes": v.kv_bytes, "peak_bytes": v.peak_bytes,
                          "tokens": v.tokens, "seconds": round(v.seconds, 3),
                          "max_seconds": round(v.max_seconds, 3), "setup_seconds": round(v.setup_seconds, 3)}
                         for v in self.variants],
            "total": {"tokens": self.tokens, "seconds": round(self.seconds, 3),
                      "startup_seconds": round(self.startup_seconds, 3),
                      "fragility_seconds": round(self.fragility_seconds, 3),
                      "report_seconds": round(self.report_seconds, 3),
                      "wall_seconds": round(self.wall_seconds, 3),
                      "max_seconds": round(self.max_seconds, 3), "peak_bytes": self.peak_bytes,
                      "gpu_hours": round(self.gpu_hours, 3)},
            "tokens_per_s": {k: round(t, 3) for k, t in self.tokens_per_s.items()},
            "assumptions": self.assumptions,
        }


def sample_tokens(caps: list[int], answer: int, forced: int, sweep: str = "independent") -> int:
    """Tokens one sample generates at most over a budget sweep. ``independent``: each budget generates anew (its
    thinking cap, the forced text, the answer). ``shared``: one thinking at the largest cap, then the forced
    text and an answer per budget (the smaller budgets' answers branch off the one thinking)."""
    if sweep == "shared":
        return max(caps) + len(caps) * (forced + answer)
    if sweep == "independent":
        return sum(cap + forced + answer for cap in caps)
    raise PrunescaleError(f"sweep {sweep!r} is not shared or independent")


def expected_sample_tokens(caps: list[int], lengths: list[tuple[int, int, bool]], forced: int,
                           sweep: str = "independent") -> float:
    """What :func:`sample_tokens` counts, with the thinking and answer lengths a pilot measured: ``(thinking,
    answer, ran out)`` per pilot sample at the largest cap. A sample whose thinking ended before a cap thinks
    as long under it; one that reached the cap (or ran out in the pilot) thinks to the cap and gets the forced
    text. The mean over the pilot's samples."""
    total = 0.0
    for think, answer, ran_out in lengths:
        capped = [(cap, ran_out or think >= cap) for cap in caps]
        spent = [(cap if hit else think) + (forced if hit else 0) + answer for cap, hit in capped]
        if sweep == "shared":   # the thinking once (at the largest cap), then an answer per budget
            top = max(caps)
            once = top if ran_out or think >= top else think
            total += once + sum(s - (cap if hit else think) for s, (cap, hit) in zip(spent, capped))
        else:
            sample_tokens(caps, answer, forced, sweep)   # names a bad sweep
            total += sum(spent)
    return total / max(len(lengths), 1)


def cell_tokens(cfg, problems: int, forced: int) -> int:
    """A cell's tokens at most: problems x samples x seeds x :func:`sample_tokens` over its budgets (an eval
    option ``sweep``, where the config has one, says how a sweep shares its thinking)."""
    caps = [b if b is not None else cfg.max_tokens for b in cfg.budgets]
    per = sample_tokens(caps, cfg.answer_tokens, forced, getattr(cfg, "sweep", "independent"))
    return problems * cfg.samples * len(cfg.seeds) * per


@dataclass
class _ModelFacts:
    """What the plan needs of a model spec: its shape and, where its tokenizer is on disk, token counts."""

    shape: object
    forced: int                  # forced text + one "Wait"'s tokens per wait are added per cell
    wait: int
    tokenizer: object = None
    profile: object = None


def plan_study(study: Study, tokens_per_s: float | None = None, device: str | None = None, log=print,
               startup: float = 0.0) -> StudyPlan:
    """The plan of every cell and variant. ``tokens_per_s``: the decode throughput to assume (time at most);
    without it, a pilot per task entry with the study's backend on the first variant measures the throughput
    and the thinking lengths (:func:`pilot`). ``startup``: seconds a run spends before its first variant
    (the CLI passes its own, :func:`startup_seconds`)."""
    from ..models.shapes import model_shape
    from ..scaling.evaluate import EvalConfig

    assumptions = ["tokens: every sample at its thinking cap (budget, else max_tokens) + forced text + "
                   "answer_tokens, per budget; an upper bound, most samples end earlier"]
    facts: dict[str, _ModelFacts] = {}
    cells, configs = [], {}
    for cell in study.cells():
        opts = {k: v for k, v in cell.eval.items() if k != "base_urls"}
        try:
            cfg = EvalConfig(model=cell.variant.model, tasks=[cell.task], out=".", **opts)
            cfg.validate()
        except (TypeError, ValueError) as e:
            raise PrunescaleError(f"task {cell.label or cell.task!r}: bad eval option ({e})") from None
        if cell.variant.model not in facts:
            facts[cell.variant.model] = _model_facts(cell.variant.model, cfg, model_shape(cell.variant.model),
                                                     assumptions)
        f = facts[cell.variant.model]
        problems, prompt = _problems(cfg, f, assumptions)
        forced = f.forced + cfg.waits * f.wait
        caps = [b if b is not None else cfg.max_tokens for b in cfg.budgets]
        items = problems * cfg.samples * len(cfg.seeds)   # samples per budget
        batch = min(VLLM_MAX_SEQS if _schedules_all(cfg.backend) else cfg.batch_size, items)
        gpus = (cfg.tensor_parallel_size if cfg.backend == "vllm" else 1) if _on_cuda(cfg, device) else 0
        cells.append(CellPlan(cell, problems, cell_tokens(cfg, problems, forced),
                              prompt + max(caps) + forced + cfg.answer_tokens, batch, gpus))
        configs[cell.id] = cfg
    if any(getattr(c, "sweep", None) for c in configs.values()):
        assumptions.append("sweep: shared = one thinking at the largest budget, an answer per budget")
    rates, load = _timing(cells, configs, facts, tokens_per_s, assumptions, log)
    variants, pruning = [], {}
    for v in study.variants():
        mine = [c for c in cells if c.cell.variant.id == v.id]
        if not mine:
            continue
        cfg = configs[mine[0].cell.id]
        shape = facts[v.model].shape.without(v.n_removed)
        dtype = _dtype(cfg, device)
        kv = max(shape.kv_bytes(c.batch * c.longest, _dtype(configs[c.cell.id], device)) for c in mine)
        engines = len({configs[c.cell.id].backend_options() for c in mine})   # a variant builds one per option set
        pruning[v.id] = _prune_seconds(study, v, load, min(rates.values())) if v.method else 0.0
        setup = engines * load + pruning[v.id]
        variants.append(VariantPlan(v, shape.layers, shape.params, shape.weight_bytes(dtype), kv,
                                    sum(c.tokens for c in mine), sum(c.seconds for c in mine),
                                    sum(c.max_seconds for c in mine), setup))
    dtypes = sorted({_dtype(cfg, device) for cfg in configs.values()})
    assumptions.append(f"memory: weights (parameters x {'/'.join(dtypes)} bytes; pruned variants lose their "
                       "removed layers' parameters, unstructured ones keep every weight) + KV cache "
                       "(2 x layers x kv_heads x head_dim x bytes x batch x longest sequence); activations and "
                       "engine overhead not counted")
    if any(_schedules_all(cfg.backend) for cfg in configs.values()):
        assumptions.append(f"vllm: {VLLM_MAX_SEQS} sequences in flight (its default max_num_seqs), each at the longest "
                           "length; the engine takes gpu_memory_utilization of each GPU and preempts or queues what "
                           "does not fit, so 'peak' is what full concurrency would use (at least weights + one "
                           "sequence's KV)")
    fragility = sum(pruning[v.variant.id] for v in variants if v.variant.method
                    and _fragility_runs(study, facts[v.variant.model].shape.params))
    report = REPORT_SECONDS_PER_CELL * len(cells)
    assumptions.append(f"wall time: start-up (this command's own, {startup:.1f} s) + model loading "
                       + (f"({load:.1f} s per variant and backend, timed in the pilot)" if load else
                          "(not counted: no pilot with a stated throughput)")
                       + " + pruning (a load and a save, plus the calibration's generated tokens at most, "
                       "calibration_samples x max_seq_len, at the " + ("slowest pilot" if load else "stated")
                       + " throughput, though pruning generates with hf) + generation + fragility (where it runs: "
                       "as much as each pruned variant's pruning) + the report "
                       f"({REPORT_SECONDS_PER_CELL:g} s per cell, as measured on a 2-core CPU); analysis not "
                       "counted; pruned variants as fast as the first")
    return StudyPlan(cells, variants, rates, assumptions, startup, fragility, report)


def _fragility_runs(study: Study, params: int) -> bool:
    """Whether ``study run`` scores the early-warning predictors of a model this size (fragility: auto = small)."""
    from ..fragility.study import SMALL_PARAMS

    return study.fragility is True or (study.fragility == "auto" and params <= SMALL_PARAMS)


def _prune_seconds(study: Study, v: Variant, load: float, rate: float) -> float:
    """A pruned variant's pruning: load the model, save the pruned one (about a load), and generate its
    calibration (``self`` / ``traces``: samples x max_seq_len tokens at most) where the method needs one."""
    from ..prune.base import METHODS
    from ..prune.trace_calibration import is_traces
    from ..sources import parse_source
    from .variants import prune_spec

    spec = prune_spec(study, v)
    try:
        method = METHODS.get(spec.method)
    except Exception:   # noqa: BLE001 - an unknown method fails when the run prunes, with its own message
        return 2 * load
    calib = spec.calibration or ""   # generated as load_calibration generates: traces, self, self:FILE
    generated = method.needs_calibration and (calib == "self" or is_traces(calib) or parse_source(calib).kind == "self")
    return 2 * load + (spec.calibration_samples * spec.max_seq_len / rate if generated else 0.0)


def startup_seconds() -> float:
    """Seconds since this process started, once torch and transformers are imported (Linux /proc; 0
    elsewhere): the start-up a run pays too."""
    import torch  # noqa: F401 - their import is most of a run's start-up
    import transformers  # noqa: F401

    try:
        with open(f"/proc/{os.getpid()}/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def _schedules_all(backend: str) -> bool:
    from ..generate import BACKENDS

    return bool(BACKENDS.get(backend).schedules_all)


def _dtype(cfg, device: str | None) -> str:
    """As the backend will load it: float32 on CPU, bfloat16 on CUDA (vllm: CUDA), unless the study says."""
    from ..models.loading import dtype_name

    return dtype_name(cfg.dtype, _on_cuda(cfg, device))


def _on_cuda(cfg, device: str | None) -> bool:
    """Where the cell runs: its device, else ``device`` (the plan's), else CUDA for vllm or where there is one."""
    import torch

    dev = cfg.device or device
    return dev.startswith("cuda") if dev else (cfg.backend == "vllm" or torch.cuda.is_available())


def _model_facts(spec: str, cfg, shape, assumptions: list[str]) -> _ModelFacts:
    from ..generate.base import profile_for
    from ..models.loading import load_tokenizer_config, resolve_path
    from pathlib import Path

    assumptions.append(f"model shape: {shape.source} ({shape.layers} layers, {shape.kv_heads} KV heads x "
                       f"{shape.head_dim}, {shape.params / 1e6:.1f}M parameters, {shape.layer_params / 1e6:.2f}M "
                       "per layer)")
    path = resolve_path(spec)
    if not (Path(path) / "config.json").is_file():
        assumptions.append(f"{spec}: no tokenizer on disk: forced text {ASSUMED_FORCED} tokens, 'Wait' "
                           f"{ASSUMED_WAIT}, prompts {ASSUMED_PROMPT} tokens at most")
        return _ModelFacts(shape, ASSUMED_FORCED, ASSUMED_WAIT)
    path, tok, config = load_tokenizer_config(spec, path, trust_remote_code=cfg.trust_remote_code)
    profile = profile_for(cfg, config, tok, spec)
    enc = lambda s: len(tok(s, add_special_tokens=False)["input_ids"]) if s else 0  # noqa: E731
    return _ModelFacts(shape, enc(profile.think_end) + enc(profile.force_suffix), enc(profile.wait), tok, profile)


def _problems(cfg, f: _ModelFacts, assumptions: list[str]) -> tuple[int, int]:
    """(problems, longest rendered prompt in tokens) of the cell's task: loaded as the run loads them where that
    reads nothing from the network, else the hub dataset's size from the task's ``hub_size``."""
    from ..generate.base import render_prompt
    from ..scaling.evaluate import build_tasks, load_problems

    tasks = build_tasks(cfg)
    name, task = next(iter(tasks.items()))
    if cfg.data is None and task.hub_size is not None:
        note = f"{name}: {task.hub_size} problems in its hub dataset (not downloaded)"
        if note not in assumptions:
            assumptions.append(note)
        n = min(cfg.limit or task.hub_size, task.hub_size)
        return n, ASSUMED_PROMPT
    problems = load_problems(cfg, tasks)[name]
    if f.tokenizer is None:
        return len(problems), ASSUMED_PROMPT
    longest = max(len(f.tokenizer(render_prompt(f.tokenizer, f.profile, p.prompt),
                                  add_special_tokens=False)["input_ids"]) for p in problems)
    return len(problems), longest


def _timing(cells: list[CellPlan], configs: dict, facts: dict, tokens_per_s: float | None,
            assumptions: list[str], log) -> dict[str, float]:
    """Each cell's time. Stated ``tokens_per_s``: its tokens at most at that rate. Else a pilot per task entry
    on the first variant (:func:`pilot`) gives the rate and the lengths, so the expected tokens too."""
    if tokens_per_s is not None:
        if not tokens_per_s > 0:
            raise PrunescaleError(f"--tokens-per-s {tokens_per_s} must be positive")
        assumptions.append(f"throughput: {tokens_per_s:g} generated tokens/s (stated); time = tokens at most / "
                           "throughput, an upper bound")
        for c in cells:
            c.seconds = c.max_seconds = c.tokens / tokens_per_s
        return {"all": float(tokens_per_s)}, 0.0
    first = cells[0].cell.variant.id
    rates, loads = {}, []
    for label in dict.fromkeys(c.cell.label for c in cells):
        # the first variant's cell of this task entry (the model the study starts with)
        mine = [c for c in cells if c.cell.label == label]
        probe = next((c for c in mine if c.cell.variant.id == first), mine[0])
        cfg = configs[probe.cell.id]
        forced = facts[probe.cell.variant.model].forced + cfg.waits * facts[probe.cell.variant.model].wait
        rate, lengths, cap, load = pilot(cfg, probe.batch, forced, log=log)
        rates[label] = rate
        loads.append(load)
        ran_out = sum(r for *_, r in lengths)
        assumptions.append(f"{label}: pilot of {len(lengths)} samples on {probe.cell.variant.model} ({cfg.backend}, "
                           f"thinking cap {cap}): {rate:.1f} tokens/s, mean thinking "
                           f"{sum(t for t, *_ in lengths) / len(lengths):.1f} tokens, answer "
                           f"{sum(a for _, a, _ in lengths) / len(lengths):.1f}, {ran_out} ran out of thinking")
        for c in mine:
            c_cfg = configs[c.cell.id]
            caps = [b if b is not None else c_cfg.max_tokens for b in c_cfg.budgets]
            per = expected_sample_tokens(caps, lengths, forced, getattr(c_cfg, "sweep", "independent"))
            c.expected = round(per * c.problems * c_cfg.samples * len(c_cfg.seeds))
            c.seconds, c.max_seconds = c.expected / rate, c.tokens / rate
    assumptions.append("time: expected tokens (pilot lengths on the first variant, pruned variants assumed to think "
                       "as long) / the pilot's throughput; 'at most': every sample at its cap")
    return rates, max(loads)


def pilot(cfg, batch: int, forced: int = 0, cap_limit: int = PILOT_CAP,
          log=print) -> tuple[float, list[tuple[int, int, bool]], int, float]:
    """Generate ``batch`` samples of the cell's first problems (its seeds and samples in the run's order) at its
    largest thinking cap (at most ``cap_limit``), after a one-token warm-up: (generated tokens/s, per sample
    (thinking tokens, answer tokens, ran out of thinking), the cap used, seconds to build the backend: load the
model, start the engine). Tokens counted as the plan counts them:
    thinking + answer, and the ``forced`` text's tokens where thinking ran out."""
    from ..generate.base import Forcing, Request, Sampling, build
    from ..scaling.evaluate import build_tasks, load_problems, sample_seed

    tasks = build_tasks(cfg)
    name, task = next(iter(tasks.items()))
    problems = load_problems(cfg, tasks)[name]
    seed_name = getattr(task, "seed_name", name)
    items = [(p, seed, i) for seed in cfg.seeds for p in problems for i in range(cfg.samples)][:batch]
    reqs = [Request(p.prompt, sample_seed(seed, seed_name, p.id, i), key=(p.id, seed, i)) for p, seed, i in items]
    cap = min(max(b if b is not None else cfg.max_tokens for b in cfg.budgets), cap_limit)
    sampling = Sampling(temperature=cfg.temperature, top_p=cfg.top_p)
    log(f"pilot: {cfg.backend} backend, {cfg.model}, {len(reqs)} samples of {name} at thinking cap {cap}")
    start = time.perf_counter()
    built = build(cfg.backend_options())
    load = time.perf_counter() - start
    try:
        built.backend.generate(reqs[:1], Forcing(budget=1, answer_tokens=1), sampling)   # first-call costs
        start = time.perf_counter()
        out = built.backend.generate(reqs, Forcing(budget=cap, waits=cfg.waits, answer_tokens=cfg.answer_tokens,
                                                   max_tokens=cfg.max_tokens), sampling)
        wall = time.perf_counter() - start
    finally:
        built.backend.close()
    tokens = sum(s.thinking_tokens + s.answer_tokens + (forced if s.forced else 0) for s in out)
    return tokens / max(wall, 1e-9), [(s.thinking_tokens, s.answer_tokens, s.forced) for s in out], cap, load
