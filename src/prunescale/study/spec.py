"""A study file: models x pruning methods x layers removed x recovery x tasks (each with its eval options).

::

    name: my-study
    models: [Qwen/Qwen3-8B]              # or {spec: ..., label: ...}
    methods: [shortgpt, reverse, laco, wanda]
    remove: [1, 2]                       # layers removed, for layer methods
    sparsity: [0.2, 0.5]                 # share of weights zeroed, for unstructured methods (wanda, sparsegpt, ...)
    prune: {calibration: self, calibration_samples: 32, seed: 0}   # PruneSpec fields; `options` per method
    recovery: []                         # lora and/or full: "pruned + fine-tuned" variants
    finetune: {data: organism}           # options for recovery fine-tuning
    # or several named recipes, each a variant <method>-<n>+<name> (recovery: a subset of the names; default all;
    # kd and --data teacher learn from the variant's unpruned model unless a recipe names a teacher):
    # finetune: [{name: sft-given, data: organism}, {name: kd-teacher, objective: kd, data: teacher}]
    eval: {batch_size: 8}                # defaults for every task entry (EvalConfig fields)
    tasks:
      - task: aime24
        budgets: [512, 1024, 2048, 4096, 8192]
        samples: 16
        seeds: [7, 11, 42]
      - {task: mmlu, kind: knowledge, budgets: [256], limit: 500}
    analysis: true
    fragility: auto                      # `prunescale fragility` per pruned variant: auto (small models), true, false
    executor: {name: local}              # or {name: ray, address: auto, num_cpus: 1, num_gpus: 1}
                                         # (per-cell defaults; a task entry's `resources` overrides them)
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..budgets import parse_budgets
from ..contract.naming import cell_id, slug, variant_id, variant_name
from ..contract.study_dir import StudyDir
from ..errors import PrunescaleError

DEMO_STUDY = Path(__file__).resolve().parent / "demo.yaml"   # ``prunescale demo``'s study
_TOP_KEYS = {"name", "models", "methods", "remove", "sparsity", "prune", "recovery", "finetune", "eval", "tasks", "analysis",
             "executor", "out", "smollm2", "fragility"}


def eval_keys() -> set[str]:
    """Eval options a study may set: the EvalConfig fields a cell does not fix itself."""
    from ..scaling.evaluate import EvalConfig

    return {f.name for f in fields(EvalConfig)} - {"model", "tasks", "out"}


def prune_keys() -> set[str]:
    """Prune options a study may set: the PruneSpec fields the grid does not fix itself."""
    from ..prune.run import PruneSpec

    return {f.name for f in fields(PruneSpec)} - {"model", "method", "remove", "ratio", "layers", "sparsity"}


RECOVERY_MODES = ("lora", "full")
_RECIPE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")   # a variant-name suffix: no "+", no "__"


@dataclass(frozen=True)
class Variant:
    id: str
    model: str
    model_label: str
    variant: str
    method: str | None
    n_removed: int
    recovery: str | None = None
    sparsity: float | None = None     # unstructured methods: share of weights zeroed (n_removed is 0)

    @property
    def parent_id(self) -> str | None:
        """The pruned variant a recovered one is fine-tuned from."""
        return variant_id(self.model, variant_name(self.method, self.n_removed)) if self.recovery else None


@dataclass(frozen=True, eq=False)
class Cell:
    id: str
    variant: Variant
    task: str
    kind: str
    eval: dict
    label: str = ""
    resources: dict = field(default_factory=dict)   # Ray: num_cpus, num_gpus, memory for this cell


@dataclass
class Study:
    name: str
    models: list[dict]
    methods: list[str]
    remove: list[int]
    prune: dict = field(default_factory=dict)
    sparsity: list[float] = field(default_factory=list)
    recovery: list[str] = field(default_factory=list)
    finetune: dict | list[dict] = field(default_factory=dict)   # one recipe, or named recipes (a list)
    eval: dict = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)
    analysis: bool = True
    fragility: bool | str = "auto"    # predictors per pruned variant: "auto" scores small models only
    executor: dict = field(default_factory=lambda: {"name": "local"})
    out: str | None = None
    source: str | None = None

    def variants(self) -> list[Variant]:
        out = []
        for m in self.models:
            out.append(Variant(variant_id(m["spec"], "base"), m["spec"], m["label"], "base", None, 0))
            for method in m.get("methods", self.methods):
                if _unstructured(method):   # no recovery: dense fine-tuning would refill the zeros
                    for s in m.get("sparsity", self.sparsity):
                        name = variant_name(method, 0, sparsity=s)
                        out.append(Variant(variant_id(m["spec"], name), m["spec"], m["label"], name, method, 0,
                                           sparsity=s))
                    continue
                for n in m.get("remove", self.remove):
                    out.append(Variant(variant_id(m["spec"], variant_name(method, n)), m["spec"], m["label"],
                                       variant_name(method, n), method, n))
                    for r in m.get("recovery", self.recovery):
                        name = variant_name(method, n, r)
                        out.append(Variant(variant_id(m["spec"], name), m["spec"], m["label"], name, method, n, r))
        return out

    def recipe(self, v: Variant) -> dict:
        """The fine-tuning options of a recovered variant: its named recipe, or the one recipe in mode
        ``v.recovery``; the teacher defaults to the variant's unpruned model."""
        if isinstance(self.finetune, list):
            opts = {k: val for k, val in next(r for r in self.finetune if r["name"] == v.recovery).items()
                    if k != "name"}
        else:
            opts = {**self.finetune, "mode": v.recovery}
        return {"teacher": v.model, **opts}

    def model_entry(self, spec: str) -> dict:
        return next(m for m in self.models if m["spec"] == spec)

    def cells(self) -> list[Cell]:
        keys = eval_keys()
        out = []
        for v in self.variants():
            wanted = self.model_entry(v.model).get("tasks")
            for t in self.tasks:
                if wanted is not None and t["label"] not in wanted:
                    continue
                opts = {**self.eval, **{k: t[k] for k in t if k in keys}}
                out.append(Cell(cell_id(v.id, t["label"]), v, t["task"], t["kind"], opts, t["label"],
                                dict(t.get("resources") or {})))
        return out

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("source",)
                and getattr(self, f.name) is not None}


# ``prunescale study`` flags: grid keys replace the file's, eval options replace every task entry's own.
GRID_OVERRIDES = ("name", "models", "methods", "remove", "recovery")
EVAL_OVERRIDES = ("budgets", "samples", "seeds", "temperature", "limit", "batch_size", "backend", "serve")


def load_study(path: str | Path | None, overrides: dict | None = None) -> Study:
    """A study file (or a study directory's study.yaml), with ``overrides`` on top: GRID_OVERRIDES,
    EVAL_OVERRIDES, ``calibration`` and ``tasks`` (task specs); None values are left out. Without a file the
    overrides are the whole study."""
    given = path
    if path is not None and Path(path).is_dir():
        path = StudyDir(path).study_yaml
    if overrides is None:
        study = parse_study(_read_study_file(Path(path)), where=str(Path(path)))
        study.source = str(Path(path))
        return study
    raw: dict = {}
    if path is not None:
        raw = _read_study_file(Path(path))
        parse_study(copy.deepcopy(raw), where=str(Path(path)))   # the file as written first: its errors name it
    return parse_study(apply_overrides(raw, overrides), where=str(given) if given else "flags")


def apply_overrides(raw: dict, overrides: dict) -> dict:
    """``raw`` (a study mapping) with the overrides applied in place; see :func:`load_study`."""
    for key in GRID_OVERRIDES:
        if overrides.get(key) is not None:
            raw[key] = overrides[key]
    if overrides.get("calibration"):
        raw.setdefault("prune", {})["calibration"] = overrides["calibration"]
    if overrides.get("tasks"):
        raw["tasks"] = [{"task": t} for t in overrides["tasks"]]
    ev = raw.setdefault("eval", {}) if isinstance(raw.get("eval", {}), dict) else raw["eval"]
    for key in EVAL_OVERRIDES:
        if overrides.get(key) is not None:
            ev[key] = overrides[key]
            for t in raw.get("tasks") or []:
                if isinstance(t, dict):
                    t.pop(key, None)   # a flag overrides every task's own value
    return raw


def study_out(study: Study, path: str | Path | None = None, out: str | None = None) -> str:
    """The study directory: ``out``, else the file's ``out``, else ``path`` if it is a study directory, else
    runs/<name>."""
    return out or study.out or (str(Path(path)) if path and Path(path).is_dir() else f"runs/{study.name}")


def _read_study_file(path: Path):
    if not path.is_file():
        raise PrunescaleError(f"study file {str(path)!r} not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise PrunescaleError(f"study file {str(path)!r} is not UTF-8 text (byte at offset {e.start})") from None
    except yaml.YAMLError as e:
        raise PrunescaleError(f"study file {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None


def parse_study(raw: Any, where: str = "study") -> Study:
    """Validate a study mapping; every bad value is named in a one-line error."""
    if not isinstance(raw, dict):
        raise PrunescaleError(f"{where}: a study must be a mapping of options")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise PrunescaleError(f"{where}: unknown study key(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(_TOP_KEYS - {'smollm2'}))})")
    models = [_model(m, where) for m in _as_list(raw.get("models"), "models", where)]
    if not models:
        raise PrunescaleError(f"{where}: 'models' lists no model")
    methods = [str(m) for m in _as_list(raw.get("methods", []), "methods", where)]
    from ..prune import METHODS

    for m in methods:
        METHODS.get(m)
    remove = _as_list(raw.get("remove", [1] if methods else []), "remove", where)
    sparsity = _sparsities(raw.get("sparsity", []), where)
    if any(_unstructured(m) for m in methods) and not sparsity and not all("sparsity" in m for m in models):
        raise PrunescaleError(f"{where}: unstructured method(s) {', '.join(m for m in methods if _unstructured(m))} "
                              "need a 'sparsity' list (e.g. sparsity: [0.2, 0.5])")
    for n in remove:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise PrunescaleError(f"{where}: remove value {n!r} is not a positive integer")
    prune = _mapping(raw.get("prune"), "prune", where)
    bad = set(prune) - prune_keys()
    if bad:
        raise PrunescaleError(f"{where}: unknown prune option(s) {', '.join(sorted(bad))}")
    _check_method_options(prune.get("options"), where)
    finetune = raw.get("finetune")
    finetune = _recipes(finetune, where) if isinstance(finetune, list) else _mapping(finetune, "finetune", where)
    names = [r["name"] for r in finetune] if isinstance(finetune, list) else list(RECOVERY_MODES)
    default = names if isinstance(finetune, list) else []   # named recipes: every one unless recovery picks
    recovery = [str(r) for r in _as_list(raw.get("recovery", default), "recovery", where)]
    for r in recovery:
        if r not in names:
            raise PrunescaleError(f"{where}: recovery {r!r} is not one of {', '.join(names)}")
    ev = _mapping(raw.get("eval"), "eval", where)
    bad = set(ev) - eval_keys()
    if bad:
        raise PrunescaleError(f"{where}: unknown eval option(s) {', '.join(sorted(bad))}")
    if "budgets" in ev:
        ev["budgets"] = _budgets(ev["budgets"], "eval", where)
    tasks = [_task(t, where) for t in _as_list(raw.get("tasks"), "tasks", where)]
    if not tasks:
        raise PrunescaleError(f"{where}: 'tasks' lists no task")
    slugs = [slug(t["label"]) for t in tasks]
    if len(set(slugs)) != len(slugs):
        raise PrunescaleError(f"{where}: a task is listed twice (give each entry of the same task its own label)")
    labels = {t["label"] for t in tasks}
    for m in models:
        for method in m.get("methods", []):
            METHODS.get(method)
        for n in m.get("remove", []):
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise PrunescaleError(f"{where}: remove value {n!r} of model {m['spec']!r} is not a positive integer")
        for r in m.get("recovery", []):
            if r not in names:
                raise PrunescaleError(f"{where}: recovery {r!r} is not one of {', '.join(names)}")
        for label in m.get("tasks", []):
            if label not in labels:
                raise PrunescaleError(f"{where}: model {m['spec']!r} asks for task {label!r}, which is not in 'tasks'")
        if not isinstance(m.get("prune", {}), dict) or set(m.get("prune", {})) - prune_keys():
            raise PrunescaleError(f"{where}: bad prune options for model {m['spec']!r}")
    if isinstance(finetune, dict) and (recovery or any(m.get("recovery") for m in models)):
        from ..train.recover import FinetuneJob

        FinetuneJob.split_options(finetune, where=f"{where}: finetune")   # names a bad key before any work
    executor = raw.get("executor", {"name": "local"})
    if isinstance(executor, str):
        executor = {"name": executor}
    executor = _mapping(executor, "executor", where)
    if executor.get("name", "local") not in ("local", "ray"):
        raise PrunescaleError(f"{where}: executor {executor.get('name')!r} is not local or ray")
    fragility = raw.get("fragility", "auto")
    if fragility not in (True, False, "auto"):
        raise PrunescaleError(f"{where}: fragility {fragility!r} is not true, false or auto")
    for m in models:
        if "sparsity" in m:
            m["sparsity"] = _sparsities(m["sparsity"], f"{where}: model {m['spec']!r}")
    return Study(name=str(raw.get("name") or "study"), models=models, methods=methods, remove=remove, prune=prune,
                 sparsity=sparsity,
                 recovery=recovery, finetune=finetune, eval=ev, tasks=tasks,
                 analysis=bool(raw.get("analysis", True)), fragility=fragility, executor={"name": "local", **executor},
                 out=raw.get("out"))


def _recipes(raw: list, where: str) -> list[dict]:
    """``finetune:`` as named recipes; a bad name, a repeated one or a bad option is named."""
    from ..train.recover import FinetuneJob

    out = []
    for n, r in enumerate(raw, 1):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not _RECIPE_NAME.match(r["name"]):
            raise PrunescaleError(f"{where}: finetune recipe {n} needs a name of lower-case letters, digits and "
                                  f"'-' (got {r.get('name') if isinstance(r, dict) else r!r})")
        if r["name"] in {o["name"] for o in out}:
            raise PrunescaleError(f"{where}: finetune recipe {r['name']!r} is listed twice")
        # a bad key or value is named now, not when the variant is fine-tuned
        here = f"{where}: finetune recipe {r['name']!r}"
        job = FinetuneJob.from_options("", "", {k: v for k, v in r.items() if k != "name"}, where=here)
        try:
            job.recipe.validate()
        except PrunescaleError as e:
            raise PrunescaleError(f"{here}: {e}") from None
        out.append(dict(r))
    if not out:
        raise PrunescaleError(f"{where}: 'finetune' lists no recipe")
    return out


def _unstructured(method: str) -> bool:
    from ..prune import METHODS

    return METHODS.get(method).unstructured


def _sparsities(values, where: str) -> list[float]:
    out = _as_list(values, "sparsity", where)
    for s in out:
        if not isinstance(s, (int, float)) or isinstance(s, bool) or not 0 < s < 1:
            raise PrunescaleError(f"{where}: sparsity value {s!r} is not a number between 0 and 1")
    return [float(s) for s in out]


def _check_method_options(options, where: str) -> None:
    """``prune: {options: {method: {name: value}}}``: every method registered, every name one it declares."""
    from ..prune import METHODS

    for method, values in _mapping(options, "prune options", where).items():
        declared = {o.name for o in METHODS.get(method).options}
        bad = set(_mapping(values, f"prune options of {method}", where)) - declared
        if bad:
            raise PrunescaleError(f"{where}: method {method!r} has no option {sorted(bad)[0]!r} "
                                  f"(it has: {', '.join(sorted(declared)) or 'none'})")
        given = _mapping(values, f"prune options of {method}", where)
        for o in METHODS.get(method).options:
            if o.choices and o.name in given and given[o.name] not in o.choices:
                raise PrunescaleError(f"{where}: {method} option {o.name} {given[o.name]!r} is not one of: "
                                      f"{', '.join(map(str, o.choices))}")


def _as_list(value, key: str, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int, dict)):
        return [value]
    if not isinstance(value, list):
        raise PrunescaleError(f"{where}: {key!r} must be a list, got {value!r}")
    return value


def _mapping(value, key: str, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PrunescaleError(f"{where}: {key!r} must be a mapping, got {value!r}")
    return dict(value)


_MODEL_KEYS = {"spec", "label", "methods", "remove", "sparsity", "recovery", "prune", "tasks"}


def _model(m, where: str) -> dict:
    """A model entry; a mapping may narrow the grid for this model (its own methods, remove, tasks, prune)."""
    if isinstance(m, str):
        m = {"spec": m}
    if not isinstance(m, dict) or not isinstance(m.get("spec"), str):
        raise PrunescaleError(f"{where}: model entry {m!r} must be a model id or {{spec: ..., label: ...}}")
    bad = set(m) - _MODEL_KEYS
    if bad:
        raise PrunescaleError(f"{where}: unknown option(s) {', '.join(sorted(bad))} for model {m['spec']!r}")
    out = dict(m)
    out["label"] = str(m.get("label") or m["spec"].split("/")[-1].removeprefix("embedded:"))
    for key in ("methods", "remove", "recovery", "tasks"):
        if key in out:
            out[key] = _as_list(out[key], key, where)
    return out


def _task(t, where: str) -> dict:
    from ..tasks import get_task

    if isinstance(t, str):
        t = {"task": t}
    if not isinstance(t, dict) or not isinstance(t.get("task"), str):
        raise PrunescaleError(f"{where}: task entry {t!r} needs a 'task' name")
    bad = set(t) - eval_keys() - {"task", "kind", "label", "resources"}
    if bad:
        raise PrunescaleError(f"{where}: unknown option(s) {', '.join(sorted(bad))} in task {t['task']!r}")
    task = get_task(t["task"])   # unknown task: fail before any work
    kind = t.get("kind") or ("long_chain" if getattr(task, "long_chain", False) else "knowledge")
    if kind not in ("long_chain", "knowledge"):
        raise PrunescaleError(f"{where}: task {t['task']!r} kind {kind!r} is not long_chain or knowledge")
    out = {**t, "kind": kind, "label": t.get("label") or t["task"]}
    if t.get("budgets") is not None:
        out["budgets"] = _budgets(t["budgets"], f"task {t['task']!r}", where)
    return out


def _budgets(values, owner: str, where: str) -> list[int | None]:
    """Thinking budgets as ``prunescale eval --budgets`` spells them (``budgets.parse_budgets``)."""
    return parse_budgets(_as_list(values, "budgets", where), f"{where}: budget", f" of {owner}")
