"""Planning numbers: pass@k / maj@k curves with intervals from a run or per-problem samples, and the power of a
paired comparison by simulation (``prunescale plan``; docs/statistics.md states every assumption)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from .metrics import maj_at_k_expected, maj_from_classes, pass_at_k
from ..errors import PrunescaleError
from ..stats import mcnemar_exact, nested_bootstrap_ci, sign_flip_test

Z975 = 1.959963984540054   # the normal quantile of a two-sided 95% interval


def k_curves(problems: dict[str, tuple[list, list[bool]]], ks: list[int] | None = None) -> list[dict]:
    """Per k: pass@k, maj@k (unbiased) with 95% bootstrap intervals over problems, and maj@k_first.
    ``problems``: problem id -> (answer class of each sample, None for no answer; correct of each sample)."""
    if not problems:
        raise PrunescaleError("no problems to compute curves from")
    n = min(len(c) for c, _ in problems.values())
    ks = ks or list(range(1, n + 1))
    per = {pid: (maj_at_k_expected(cl[:n], ok[:n], ks), cl[:n], ok[:n]) for pid, (cl, ok) in problems.items()}
    out = []
    for k in ks:
        p = [pass_at_k(n, sum(ok), k) for _, _, ok in per.values()]
        m = [maj[k][0] for maj, _, _ in per.values()]
        f = [maj_from_classes(cl, ok, k) for _, cl, ok in per.values()]
        out.append({"k": k, "pass@k": statistics.fmean(p), "pass@k_ci95": nested_bootstrap_ci(p),
                    "maj@k": statistics.fmean(m), "maj@k_ci95": nested_bootstrap_ci(m),
                    "maj@k_first": statistics.fmean(f), "n_problems": len(per), "n_samples": n})
    return out


def classes_by_text(answers: list[str | None]) -> list[int | None]:
    """Answer classes by equal text (an lm-eval log's extracted answers are already normalised)."""
    ids: dict[str, int] = {}
    return [None if a is None else ids.setdefault(a, len(ids)) for a in answers]


def beta_accuracies(mean: float, sd: float, n: int = 20000, seed: int = 0) -> list[float]:
    """Per-problem accuracies drawn from the Beta distribution with this mean and standard deviation."""
    import numpy as np

    if not 0 < mean < 1 or sd <= 0 or sd * sd >= mean * (1 - mean):
        raise PrunescaleError(f"a Beta distribution needs 0 < accuracy < 1 and 0 < spread < "
                              f"sqrt(a(1-a)) = {math.sqrt(max(mean * (1 - mean), 0)):.3f}; got {mean}, {sd}")
    nu = mean * (1 - mean) / (sd * sd) - 1
    return list(np.random.default_rng(seed).beta(mean * nu, (1 - mean) * nu, n))


@dataclass
class PowerPlan:
    accuracies: list[float]   # the base model's per-problem accuracies the simulation draws problems from
    drop: float               # the mean accuracy drop to detect
    alpha: float = 0.05
    sims: int = 400
    seed: int = 0

    def _draw(self, n: int, samples: int):
        """Simulated per-problem accuracy differences (sims x n) and the base's own per-problem accuracies."""
        import numpy as np

        rng = np.random.default_rng(self.seed)
        p = rng.choice(np.asarray(self.accuracies, float), size=(self.sims, n))
        mean = float(np.mean(self.accuracies))
        if not 0 < self.drop <= mean:
            raise PrunescaleError(f"drop {self.drop} must be in (0, base accuracy {mean:.3f}]")
        q = p * (1 - self.drop / mean)   # every problem loses the same share: mean drop = drop, q stays in [0, 1]
        a = rng.binomial(samples, p) / samples
        b = rng.binomial(samples, q) / samples
        return b - a, a

    def power(self, n: int, samples: int) -> float:
        """The share of simulated studies whose paired test gives p < alpha."""
        import numpy as np

        d, a = self._draw(n, samples)
        hits = 0
        for row, base in zip(d, a):
            if samples == 1:
                p = mcnemar_exact(int(np.sum(row < 0)), int(np.sum(row > 0)))
            elif n < 60:
                p = sign_flip_test(row, seed=self.seed)[0]
            else:   # the sign-flip distribution's normal limit (mean 0, variance sum d^2): exact tests are slow here
                ss = float(np.sum(row * row))
                p = 1.0 if ss == 0 else math.erfc(abs(float(row.sum())) / math.sqrt(2 * ss))
            hits += p < self.alpha
        return hits / self.sims

    def diff_sd(self, samples: int) -> float:
        """Standard deviation of one problem's simulated accuracy difference."""
        d, _ = self._draw(max(1, 20000 // self.sims), samples)
        return float(d.std())

    def width(self, n: int, samples: int) -> float:
        """Expected width of the 95% interval of the mean difference over n problems (normal approximation)."""
        return 2 * Z975 * self.diff_sd(samples) / math.sqrt(n)

    def problems_needed(self, samples: int, target: float = 0.8, most: int = 100000) -> int | None:
        """The fewest problems (to within the search's bisection) with power >= target."""
        return _least(lambda n: self.power(n, samples) >= target, 2, most)

    def samples_needed(self, n: int, target: float = 0.8, most: int = 1024) -> int | None:
        return _least(lambda s: self.power(n, s) >= target, 1, most)

    def problems_for_width(self, width: float, samples: int) -> int:
        return max(2, math.ceil((2 * Z975 * self.diff_sd(samples) / width) ** 2))

    def samples_for_width(self, width: float, n: int, most: int = 1024) -> int | None:
        return _least(lambda s: self.width(n, s) <= width, 1, most)


def _least(ok, low: int, most: int) -> int | None:
    """The smallest x in [low, most] with ok(x), by doubling then bisection (ok assumed monotone); None if none."""
    hi = low
    while not ok(hi):
        if hi >= most:
            return None
        low, hi = hi + 1, min(most, hi * 2)
    while low < hi:
        mid = (low + hi) // 2
        low, hi = (mid + 1, hi) if not ok(mid) else (low, mid)
    return hi


@dataclass
class RunProblems:
    task: str
    budget: str
    problems: dict[str, tuple[list, list[bool]]]   # problem id -> (answer classes, correct), every seed's samples
    samples: int                                   # per problem and seed

    @property
    def accuracies(self) -> list[float]:
        return [statistics.fmean(ok) for _, ok in self.problems.values()]


def run_problems(run_dir, task: str | None = None, budget: str | None = None) -> RunProblems:
    """One task and budget (default: the run's only task, its largest budget) of a run directory's store;
    answers grouped by the task's answer key when it can be built, else by their text."""
    from ..budgets import budget_key, budget_label
    from ..contract.run_dir import RunDir
    from .store import Store

    path = RunDir(run_dir).store
    if not path.is_file():
        raise PrunescaleError(f"{str(run_dir)!r} has no results.sqlite: not a run directory")
    store = Store(path, readonly=True)
    try:
        tasks = store.tasks()
        if task is None and len(tasks) != 1:
            raise PrunescaleError(f"the run holds tasks {tasks}: name one with --task")
        task = task or tasks[0]
        if task not in tasks:
            raise PrunescaleError(f"the run holds no task {task!r} (it has {', '.join(tasks)})")
        rows = store.rows(task, columns=["problem_id", "budget", "seed", "sample_idx", "extracted", "correct"])
    finally:
        store.close()
    labels = sorted({budget_label(r["budget"]) for r in rows}, key=budget_key)
    budget = budget_label(budget) if budget is not None else labels[-1]
    if budget not in labels:
        raise PrunescaleError(f"the run has no budget {budget} for {task} (it has {', '.join(labels)})")
    rows = [r for r in rows if budget_label(r["budget"]) == budget]
    key = _answer_key(task)
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(str(r["problem_id"]), []).append(r)
    problems, counts = {}, []
    for pid, rs in by.items():
        rs.sort(key=lambda r: (r["seed"], r["sample_idx"]))
        problems[pid] = (classes_by_text([None if r["extracted"] is None else key(r["extracted"]) for r in rs]),
                         [bool(r["correct"]) for r in rs])
        counts.append(len(rs) // max(1, len({r["seed"] for r in rs})))
    return RunProblems(task, budget, problems, min(counts))


def _answer_key(spec: str):
    from ..tasks.base import get_task

    try:
        return getattr(get_task(spec), "answer_key", str)
    except Exception:   # an unknown or unbuildable task: group by the text
        return str
