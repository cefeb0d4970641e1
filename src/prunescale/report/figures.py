"""The report's figures, drawn with matplotlib (no pyplot, no display) from the collected data.

Each ``*_figure`` function returns a :class:`Plot`: the matplotlib figure plus the table of every number drawn
in it. Styles are shared by all figures: colour = layers removed (black = unpruned), line style and marker =
recovery (solid: pruned only, dashed: + LoRA, dotted: + full fine-tuning). A panel without numbers says so.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

from ..study.layout import budget_key  # noqa: E402
from .collect import WHY_METRICS  # noqa: E402

N_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
METHOD_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
LONG_COLORS = ["#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22"]
KNOW_COLORS = ["#1f77b4", "#17becf", "#2ca02c", "#9467bd"]
STYLES = {None: "-", "lora": "--", "full": ":"}
MARKERS = {None: "o", "lora": "s", "full": "^"}
METRIC_LABELS = {"self_bleu": "Self-BLEU", "loop_rate": "loop rate", "verification": "verifications / response",
                 "backtracking": "backtracking / response", "subgoal": "subgoals / response"}
NO_CAP = "no cap"


@dataclass
class Plot:
    id: str
    section: str
    title: str
    caption: str
    fig: Figure
    header: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)


# styles --------------------------------------------------------------------------------------------------------
def color_for(v: dict) -> str:
    n = v.get("n_removed") or 0
    return "#000000" if not v.get("method") else N_COLORS[(n - 1) % len(N_COLORS)]


def style_for(v: dict) -> str:
    return STYLES.get(v.get("recovery"), "-.")


def marker_for(v: dict) -> str:
    return "D" if not v.get("method") else MARKERS.get(v.get("recovery"), "v")


def legend_label(v: dict) -> str:
    if not v.get("method"):
        return "unpruned"
    n = v.get("n_removed") or 0
    name = f"−{n} layer{'s' if n != 1 else ''}"
    return f"{name} + {v['recovery']}" if v.get("recovery") else name


def _line_kw(v: dict) -> dict:
    return {"color": color_for(v), "linestyle": style_for(v), "marker": marker_for(v), "markersize": 4.5,
            "linewidth": 3.2 if not v.get("method") else 1.6, "label": legend_label(v),
            "zorder": 2 if not v.get("method") else 3}


# helpers -------------------------------------------------------------------------------------------------------
def _figure(nrows: int, ncols: int, w: float = 3.4, h: float = 2.7) -> tuple[Figure, list[list]]:
    fig = Figure(figsize=(max(ncols * w + 1.8, 6.0), nrows * h + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [list(r) for r in axes]


def no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("#cccccc")


def _legend(fig: Figure, handles: dict) -> None:
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center", fontsize=9,
                   frameon=False, ncols=min(len(handles), 6))


def _handle(v: dict) -> Line2D:
    kw = _line_kw(v)
    kw.pop("label")
    return Line2D([], [], **kw)


def _fmt(x, nd: int = 3):
    if x is None:
        return None
    if isinstance(x, float):
        return round(x, nd) if math.isfinite(x) else None
    return x


def _budget_x(labels: list[str]) -> dict[str, float]:
    """Numeric x of each budget label; 'none' (no cap) sits one doubling past the largest budget."""
    nums = [float(b) for b in labels if budget_key(b) != float("inf")]
    top = max(nums) if nums else 1.0
    return {b: (float(b) if budget_key(b) != float("inf") else top * 2) for b in labels}


def _log2_ticks(ax, xs: list[float], labels: list[str] | None = None) -> None:
    xs = sorted(set(xs))
    if not xs:
        return
    ax.set_xscale("log", base=2)
    if len(xs) == 1:
        ax.set_xlim(xs[0] / 1.6, xs[0] * 1.6)
    else:
        ax.set_xlim(xs[0] / 1.25, xs[-1] * 1.25)
    ax.xaxis.set_major_locator(FixedLocator(xs))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels(labels or [f"{x:g}" for x in xs], fontsize=8)


class Index:
    """Look-ups over the collected data."""

    def __init__(self, data: dict):
        self.data = data
        self.variants = data["variants"]
        self.cells = {(c["variant_id"], c["task_label"]): c for c in data["cells"] if c.get("has_summary")}
        self.tasks = data["tasks"]

    def model_variants(self, model: str) -> list[dict]:
        return [v for v in self.variants.values() if v.get("model_label") == model]

    def base(self, model: str) -> dict | None:
        return next((v for v in self.model_variants(model) if not v.get("method")), None)

    def methods(self, model: str) -> list[str]:
        return list(dict.fromkeys(v["method"] for v in self.model_variants(model) if v.get("method")))

    def task_labels(self, model: str) -> list[str]:
        ids = {v["id"] for v in self.model_variants(model)}
        return [t["label"] for t in self.tasks if any(c["variant_id"] in ids and c.get("task_label") == t["label"]
                                                       for c in self.data["cells"])]

    def kind(self, label: str) -> str:
        return next((t.get("kind") for t in self.tasks if t["label"] == label), None) or "long_chain"

    def cell(self, vid: str, label: str) -> dict | None:
        return self.cells.get((vid, label))

    def top(self, vid: str, label: str) -> tuple[str | None, dict]:
        c = self.cell(vid, label)
        if not c or not c.get("largest_budget"):
            return None, {}
        return c["largest_budget"], c["budgets"][c["largest_budget"]]

    def top_accuracy(self, vid: str, label: str) -> float | None:
        return self.top(vid, label)[1].get("accuracy")


def _suffix(model: str, models: list[str]) -> str:
    return f" — {model}" if len(models) > 1 else ""


# 1. sequential scaling -------------------------------------------------------------------------------------------
def sequential_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    tasks = ix.task_labels(model) or ["(no task)"]
    base = ix.base(model)
    fig, axes = _figure(len(methods), len(tasks))
    handles: dict = {}
    rows, seen = [], set()
    for i, m in enumerate(methods):
        group = ([base] if base else []) + [v for v in ix.model_variants(model) if m and v.get("method") == m]
        for j, t in enumerate(tasks):
            ax = axes[i][j]
            xs_all, drawn = [], False
            for v in group:
                c = ix.cell(v["id"], t)
                if not c or not c["budgets"]:
                    continue
                bx = _budget_x(list(c["budgets"]))
                pts = [(bx[b], vals.get("accuracy"), vals.get("accuracy_std") or 0.0, b)
                       for b, vals in c["budgets"].items() if vals.get("accuracy") is not None]
                if not pts:
                    continue
                ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], capsize=2.5,
                            elinewidth=0.9, **_line_kw(v))
                handles.setdefault(legend_label(v), _handle(v))
                xs_all += [p[0] for p in pts]
                drawn = True
                for b, vals in c["budgets"].items():
                    if (v["id"], t, b) not in seen:
                        seen.add((v["id"], t, b))
                        by_seed = (vals.get("accuracy_by_seed") or {}).items()
                        rows.append([v["variant"], t, b, _fmt(vals.get("accuracy")), _fmt(vals.get("accuracy_std")),
                                     ", ".join(f"{s}: {a:.3f}" for s, a in by_seed), vals.get("n_problems"),
                                     vals.get("n_samples"), _fmt(vals.get("thinking_tokens_mean"), 1)])
            failed = [v["variant"] for v in group if _failed(ix, v["id"], t)]
            if failed:
                ax.text(0.02, 0.97 if drawn else 0.2, "failed: " + ", ".join(failed), transform=ax.transAxes,
                        ha="left", va="top", fontsize=7.5, color="#b3261e")
            if not drawn:
                no_data(ax)
            else:
                labels = sorted(set(xs_all))
                nums = [float(b) for c in [ix.cell(v["id"], t) for v in group] if c for b in c["budgets"]
                        if budget_key(b) != float("inf")]
                _log2_ticks(ax, labels, [NO_CAP if nums and x > max(nums) else f"{x:g}" for x in labels])
                ax.set_ylim(-0.04, 1.04)
                ax.grid(alpha=0.3)
            ax.set_title(f"{m or 'unpruned'} · {t}", fontsize=10)
            if i == len(methods) - 1:
                ax.set_xlabel("thinking budget (tokens, log scale)", fontsize=9)
            if j == 0:
                ax.set_ylabel("accuracy", fontsize=9)
    _legend(fig, handles)
    fig.suptitle(f"Sequential scaling: accuracy vs thinking budget{_suffix(model, data['models'])}", fontsize=12)
    return Plot(f"sequential-{_id(model)}", "sequential", f"Sequential scaling{_suffix(model, data['models'])}",
                "One row per pruning method, one column per task. Each line is one number of layers removed; "
                "the black line is the unpruned model, repeated on every panel; dashed / dotted lines are "
                "pruned models after LoRA / full fine-tuning. Error bars: standard deviation of accuracy over "
                "seeds.", fig,
                ["variant", "task", "budget", "accuracy", "std (seeds)", "accuracy by seed", "problems", "samples",
                 "thinking tokens"], rows)


def _failed(ix: Index, vid: str, label: str) -> bool:
    return any(c.get("variant_id") == vid and c.get("task_label") == label and c.get("status") == "failed"
               for c in ix.data["cells"])


# 2. parallel scaling ---------------------------------------------------------------------------------------------
def parallel_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    base = ix.base(model)
    tasks = [t for t in ix.task_labels(model)
             if any(len(ix.top(v["id"], t)[1].get("pass@k") or {}) > 1 for v in ix.model_variants(model))]
    cols = [(t, metric) for t in tasks for metric in ("pass@k", "maj@k")] or [(None, None)]
    fig, axes = _figure(len(methods), len(cols))
    handles: dict = {}
    rows, seen = [], set()
    for i, m in enumerate(methods):
        group = ([base] if base else []) + [v for v in ix.model_variants(model) if m and v.get("method") == m]
        for j, (t, metric) in enumerate(cols):
            ax = axes[i][j]
            ks_all = []
            for v in group if t else []:
                b, vals = ix.top(v["id"], t)
                curve = vals.get(metric) or {}
                if not curve:
                    continue
                ks = sorted(curve, key=int)
                ax.plot([int(k) for k in ks], [curve[k] for k in ks], **_line_kw(v))
                handles.setdefault(legend_label(v), _handle(v))
                ks_all += [int(k) for k in ks]
                for k in ks:
                    if (v["id"], t, metric, k) not in seen:
                        seen.add((v["id"], t, metric, k))
                        rows.append([v["variant"], t, b, metric.replace("@k", f"@{k}"), _fmt(curve[k])])
            if not ks_all:
                no_data(ax, "no data" if t else "no data (one sample per problem)")
            else:
                _log2_ticks(ax, ks_all)
                ax.set_ylim(-0.04, 1.04)
                ax.grid(alpha=0.3)
                ax.set_xlabel("k (samples)" if i == len(methods) - 1 else "", fontsize=9)
            ax.set_title(f"{m or 'unpruned'} · {t or ''} · {metric or ''}".strip(" ·"), fontsize=10)
            if j == 0:
                ax.set_ylabel("score", fontsize=9)
    _legend(fig, handles)
    fig.suptitle(f"Parallel scaling: pass@k and maj@k at the largest budget{_suffix(model, data['models'])}",
                 fontsize=12)
    return Plot(f"parallel-{_id(model)}", "parallel", f"Parallel scaling{_suffix(model, data['models'])}",
                "pass@k (unbiased estimator: any of k samples right) and maj@k (majority vote of k samples right) "
                "against the number of samples k, at each task's largest thinking budget, averaged over seeds. "
                "Only tasks sampled more than once per problem are drawn.", fig,
                ["variant", "task", "budget", "metric", "value"], rows)


# 3. knowledge vs long reasoning ----------------------------------------------------------------------------------
def retention_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    base = ix.base(model)
    tasks = ix.task_labels(model)
    fig, axes = _figure(1, len(methods), w=3.8, h=3.0)
    colors = _task_colors(ix, tasks)
    handles: dict = {}
    rows, seen = [], set()
    for j, m in enumerate(methods):
        ax = axes[0][j]
        drawn = False
        for t in tasks:
            b_acc = ix.top_accuracy(base["id"], t) if base else None
            for rec in dict.fromkeys(v.get("recovery") for v in ix.model_variants(model) if v.get("method") == m):
                pts = [(0, 1.0)] if b_acc and rec is None else []
                for v in ix.model_variants(model):
                    if v.get("method") != m or v.get("recovery") != rec:
                        continue
                    a = ix.top_accuracy(v["id"], t)
                    rel = a / b_acc if a is not None and b_acc else None
                    if a is not None and (v["id"], t) not in seen:
                        seen.add((v["id"], t))
                        rows.append([v["variant"], t, ix.kind(t), ix.top(v["id"], t)[0], _fmt(a), _fmt(b_acc),
                                     _fmt(rel)])
                    if rel is not None:
                        pts.append((v.get("n_removed") or 0, rel))
                if len(pts) > (1 if rec is None and b_acc else 0):
                    pts.sort()
                    label = f"{t} ({'knowledge' if ix.kind(t) == 'knowledge' else 'long reasoning'})"
                    label_r = label if rec is None else f"{label} + {rec}"
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colors[t], linestyle=STYLES.get(rec, "-."),
                            marker=MARKERS.get(rec, "v"), markersize=5, label=label_r)
                    handles.setdefault(label_r, Line2D([], [], color=colors[t], linestyle=STYLES.get(rec, "-."),
                                                       marker=MARKERS.get(rec, "v"), markersize=5))
                    drawn = True
        if not drawn:
            no_data(ax, "no data" if base else "no data (no unpruned model)")
        else:
            ax.axhline(1.0, color="#999999", linewidth=0.8, zorder=0)
            ax.set_xlabel("layers removed", fontsize=9)
            _layers_axis(ax, [v.get("n_removed") or 0 for v in ix.model_variants(model)])
            ax.set_ylim(bottom=min(-0.04, ax.get_ylim()[0]))
            ax.grid(alpha=0.3)
        ax.set_title(m or "unpruned", fontsize=10)
        if j == 0:
            ax.set_ylabel("accuracy kept (pruned / unpruned)", fontsize=9)
    if base:
        for t in tasks:
            a = ix.top_accuracy(base["id"], t)
            if a is not None:
                rows.insert(0, [base["variant"], t, ix.kind(t), ix.top(base["id"], t)[0], _fmt(a), _fmt(a),
                                1.0 if a else None])
    _legend(fig, handles)
    fig.suptitle(f"Knowledge vs long reasoning: accuracy kept as layers are removed{_suffix(model, data['models'])}",
                 fontsize=12)
    return Plot(f"retention-{_id(model)}", "retention", f"Knowledge vs long reasoning{_suffix(model, data['models'])}",
                "Accuracy at each task's largest budget divided by the unpruned model's. Blue-green lines: "
                "knowledge tasks; red-orange lines: long-reasoning tasks. An unpruned accuracy of 0 leaves the "
                "ratio undefined (not drawn).", fig,
                ["variant", "task", "kind", "budget", "accuracy", "unpruned accuracy", "kept"], rows)


def _task_colors(ix: Index, tasks: list[str]) -> dict[str, str]:
    out, nl, nk = {}, 0, 0
    for t in tasks:
        if ix.kind(t) == "knowledge":
            out[t] = KNOW_COLORS[nk % len(KNOW_COLORS)]
            nk += 1
        else:
            out[t] = LONG_COLORS[nl % len(LONG_COLORS)]
            nl += 1
    return out


# 4. why: repetition and self-reflection --------------------------------------------------------------------------
def why_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    base = ix.base(model)
    methods = ix.methods(model)
    tasks = ix.task_labels(model) or ["(no task)"]
    mcolor = {m: METHOD_COLORS[i % len(METHOD_COLORS)] for i, m in enumerate(methods)}
    fig, axes = _figure(len(tasks), len(WHY_METRICS), w=3.0, h=2.6)
    handles: dict = {}
    rows, seen = [], set()
    ns = sorted({0} | {v.get("n_removed") or 0 for v in ix.model_variants(model)})
    for i, t in enumerate(tasks):
        for j, metric in enumerate(WHY_METRICS):
            ax = axes[i][j]
            drawn = False
            b_val = _analysis_value(ix, base, t, metric) if base else None
            lines = [(m, rec) for m in methods for rec in dict.fromkeys(
                v.get("recovery") for v in ix.model_variants(model) if v.get("method") == m)]
            for v in ([base] if base else []) + [v for v in ix.model_variants(model) if v.get("method")]:
                val = _analysis_value(ix, v, t, metric)
                if val is not None and (v["id"], t, metric) not in seen:
                    seen.add((v["id"], t, metric))
                    rows.append([v["variant"], t, _analysis_budget(ix, v, t), METRIC_LABELS[metric], _fmt(val)])
            for m, rec in lines:
                pts = [(0, b_val)] if b_val is not None and rec is None else []
                pts += [(v.get("n_removed") or 0, _analysis_value(ix, v, t, metric)) for v in ix.model_variants(model)
                        if v.get("method") == m and v.get("recovery") == rec]
                pts = sorted(p for p in pts if p[1] is not None)
                if not pts:
                    continue
                label = m if rec is None else f"{m} + {rec}"
                kw = dict(color=mcolor[m], linestyle=STYLES.get(rec, "-."), marker=MARKERS.get(rec, "v"),
                          markersize=4.5)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], **kw)
                handles.setdefault(label, Line2D([], [], **kw))
                drawn = True
            if not methods and b_val is not None:
                ax.plot([0], [b_val], color="black", marker="D")
                drawn = True
            if b_val is not None:
                handles.setdefault("unpruned (at 0 layers)", Line2D([], [], color="black", marker="D", linestyle=""))
                ax.plot([0], [b_val], color="black", marker="D", markersize=5, linestyle="", zorder=5)
            if not drawn:
                no_data(ax)
            else:
                _layers_axis(ax, ns)
                ax.grid(alpha=0.3)
                if metric in ("self_bleu", "loop_rate"):
                    lo, hi = ax.get_ylim()
                    ax.set_ylim(min(lo, -0.02), max(hi, 0.1))
                else:
                    lo, hi = ax.get_ylim()
                    ax.set_ylim(min(lo, -0.05), max(hi, 0.5))
                if i == len(tasks) - 1:
                    ax.set_xlabel("layers removed", fontsize=9)
            ax.set_title(f"{t} · {METRIC_LABELS[metric]}", fontsize=9)
    _legend(fig, handles)
    fig.suptitle(f"Why: repetition and self-reflection against layers removed{_suffix(model, data['models'])}",
                 fontsize=12)
    return Plot(f"why-{_id(model)}", "why", f"Repetition and self-reflection{_suffix(model, data['models'])}",
                "From prunescale analyze, at each task's largest budget: mean Self-BLEU of a response's sentences "
                "against its other sentences (higher = more repetitive), share of responses caught in a loop, and "
                "self-reflection counts per response (answer verification, backtracking, subgoal setting). "
                "Colour: pruning method; the black diamond is the unpruned model.", fig,
                ["variant", "task", "budget", "metric", "value"], rows)


def _analysis_budget(ix: Index, v: dict, t: str) -> str | None:
    c = ix.cell(v["id"], t) if v else None
    if not c or not c.get("analysis"):
        return None
    return c["largest_budget"] if c["largest_budget"] in c["analysis"] else list(c["analysis"])[-1]


def _analysis_value(ix: Index, v: dict | None, t: str, metric: str):
    b = _analysis_budget(ix, v, t) if v else None
    if b is None:
        return None
    return ix.cell(v["id"], t)["analysis"][b].get(metric)


# 5. what pruning bought ------------------------------------------------------------------------------------------
COST_AXES = [("params", "parameters (millions)", False), ("tokens_per_s", "measured speed (tokens / s)", True),
             ("seconds_per_problem", "time per problem (s)", False)]


def cost_value(ix: Index, v: dict, t: str, key: str):
    if key == "params":
        return v["params"] / 1e6 if v.get("params") else None
    c = ix.cell(v["id"], t)
    return ((c or {}).get("speed") or {}).get(key)


def cost_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    tasks = ix.task_labels(model) or ["(no task)"]
    vs = ix.model_variants(model)
    fig, axes = _figure(len(tasks), len(COST_AXES), w=3.6, h=2.9)
    handles: dict = {}
    rows = []
    for i, t in enumerate(tasks):
        for v in vs:
            a = ix.top_accuracy(v["id"], t)
            if a is None:
                continue
            sp = (ix.cell(v["id"], t) or {}).get("speed") or {}
            rows.append([v["variant"], t, ix.top(v["id"], t)[0], _fmt(a), v.get("layers"), v.get("params"),
                         _fmt(v["size_bytes"] / 2**20, 2) if v.get("size_bytes") else None,
                         _fmt(sp.get("tokens_per_s"), 1), _fmt(sp.get("seconds_per_problem"), 3)])
        for j, (key, xlabel, higher_better) in enumerate(COST_AXES):
            ax = axes[i][j]
            pts = []
            for v in vs:
                a, x = ix.top_accuracy(v["id"], t), cost_value(ix, v, t, key)
                if a is None or x is None:
                    continue
                pts.append((x, a, v))
                kw = _line_kw(v)
                ax.plot([x], [a], linestyle="", marker=kw["marker"], color=kw["color"], markersize=7,
                        markeredgecolor="white" if v.get("recovery") else kw["color"])
                handles.setdefault(legend_label(v), Line2D([], [], linestyle="", marker=kw["marker"],
                                                           color=kw["color"], markersize=7))
            if not pts:
                no_data(ax)
            else:
                front = pareto_front([(x, a) for x, a, _ in pts], higher_better)
                if len(front) > 1:
                    ax.step([p[0] for p in front], [p[1] for p in front], where="pre" if higher_better else "post",
                            color="#888888", linestyle="--", linewidth=1, zorder=0)
                    handles.setdefault("Pareto front", Line2D([], [], color="#888888", linestyle="--"))
                ax.set_ylim(-0.04, 1.1)
                lo, hi = min(p[0] for p in pts), max(p[0] for p in pts)
                pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
                ax.set_xlim(lo - pad, hi + pad * 1.6)
                _annotate(ax, pts)
                ax.grid(alpha=0.3)
                ax.set_xlabel(xlabel, fontsize=9)
            ax.set_title(f"{t} · accuracy vs {xlabel.split(' (')[0]}", fontsize=9)
            if j == 0:
                ax.set_ylabel("accuracy (largest budget)", fontsize=9)
    _legend(fig, handles)
    fig.suptitle(f"What pruning bought: size and measured speed against accuracy{_suffix(model, data['models'])}",
                 fontsize=12)
    return Plot(f"cost-{_id(model)}", "cost", f"What pruning bought{_suffix(model, data['models'])}",
                "Each point is one model variant: accuracy at the task's largest budget against its parameter count, "
                "its measured generation speed (generated tokens over batch wall time, all budgets) and its time "
                "per problem at the largest budget (all samples of one problem). The dashed line is the Pareto "
                "front: no other variant is both better and cheaper. Speeds compare only runs on the same "
                "hardware and batch size.", fig,
                ["variant", "task", "budget", "accuracy", "layers", "params", "size (MiB)", "tokens/s",
                 "s/problem"], rows)


def _annotate(ax, pts: list[tuple]) -> None:
    """Variant names beside their points; variants on the same spot share one label."""
    spots: dict[tuple, list[str]] = {}
    for x, a, v in pts:
        spots.setdefault((round(x, 9), round(a, 9)), []).append(v["variant"])
    placed: list[tuple[float, float]] = []   # label anchors in display pixels (limits are final here)
    for (x, a), names in sorted(spots.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        px, py = ax.transData.transform((x, a))
        k = ax.figure.dpi / 72   # pixels per point
        dy = 5
        while any(abs(px - qx) < 60 * k and abs(py + dy * k - qy) < 9 * k for qx, qy in placed) and dy > -60:
            dy -= 10
        placed.append((px, py + dy * k))
        ax.annotate(", ".join(names), (x, a), textcoords="offset points", xytext=(5, dy), fontsize=7,
                    color="#333333")


def _layers_axis(ax, ns) -> None:
    ns = sorted({0, *ns})
    ax.xaxis.set_major_locator(FixedLocator(ns))
    ax.set_xlim(ns[0] - 0.3, ns[-1] + 0.3)


def pareto_front(points: list[tuple[float, float]], higher_better: bool) -> list[tuple[float, float]]:
    """Non-dominated (x, accuracy) points, sorted by x. ``higher_better``: larger x is better (speed);
    otherwise smaller x is better (size, time)."""
    pts = sorted(set(points), key=lambda p: (-p[0], -p[1]) if higher_better else (p[0], -p[1]))
    front, best = [], -math.inf
    for x, a in pts:
        if a > best:
            front.append((x, a))
            best = a
    return sorted(front)


# 6. per-layer scores ---------------------------------------------------------------------------------------------
def scores_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    pruned = [v for v in ix.model_variants(model) if v.get("method") and not v.get("recovery")]
    ns = sorted({v.get("n_removed") or 0 for v in pruned}) or [0]
    fig, axes = _figure(len(methods), len(ns), w=3.2, h=2.5)
    rows = []
    handles = {"kept": _bar_handle("#b0b7c3"), "removed": _bar_handle("#d62728"),
               "merged into the layer below": _bar_handle("#ff7f0e"), "kept, absorbs a merge": _bar_handle("#2ca02c")}
    for i, m in enumerate(methods):
        for j, n in enumerate(ns):
            ax = axes[i][j]
            v = next((v for v in pruned if v.get("method") == m and (v.get("n_removed") or 0) == n), None)
            if v is None:
                no_data(ax)
                ax.set_title(f"{m or 'unpruned'} −{n}", fontsize=10)
                continue
            scores = v.get("scores")
            layers = len(scores) if scores else (v.get("layers") or 0) + (v.get("n_removed") or 0)
            removed = set(v.get("removed_layers") or [])
            merged = {x for mg in v.get("merges") or [] for x in mg.get("merged") or []}
            into = {mg.get("into") for mg in v.get("merges") or []}
            if not layers:
                no_data(ax)
                ax.set_title(f"{m} −{n}", fontsize=10)
                continue
            status = ["merged" if k in merged else "removed" if k in removed else "absorbs" if k in into else "kept"
                      for k in range(layers)]
            color = {"kept": "#b0b7c3", "removed": "#d62728", "merged": "#ff7f0e", "absorbs": "#2ca02c"}
            heights = [(s if s is not None and math.isfinite(s) else 0.0) for s in scores] if scores else [1.0] * layers
            ax.bar(range(layers), heights, color=[color[s] for s in status], edgecolor="#555555", linewidth=0.4)
            if not scores:
                ax.set_ylim(0, 1.45)
                ax.text(0.5, 0.96, "no per-layer score:\nremoved by position", ha="center", va="top",
                        transform=ax.transAxes, fontsize=8, color="#555555")
                ax.set_yticks([])
            else:
                ax.set_ylabel(v.get("score_name") or "score", fontsize=8)
                for k, s in enumerate(scores):
                    if s is None:
                        ax.text(k, 0, "–", ha="center", va="bottom", fontsize=7, color="#777777")
            ax.set_xticks(range(layers))
            ax.tick_params(axis="x", labelsize=7 if layers <= 40 else 5)
            if layers > 40:
                ax.set_xticks(range(0, layers, 4))
            ax.set_xlabel("layer (original index)", fontsize=8)
            recovered = [r["recovery"] for r in ix.model_variants(model) if r.get("recovery")
                         and r.get("method") == m and (r.get("n_removed") or 0) == n]
            ax.set_title(f"{m} −{n}" + (f" (and + {', '.join(recovered)})" if recovered else ""), fontsize=10)
            for r in [v] + [r for r in ix.model_variants(model) if r.get("recovery") and r.get("method") == m
                            and (r.get("n_removed") or 0) == n]:
                for k in range(layers):
                    rows.append([r["variant"], v.get("score_name"), k, _fmt(scores[k], 5) if scores else None,
                                 status[k]])
    _legend(fig, handles)
    fig.suptitle(f"Per-layer scores each method used{_suffix(model, data['models'])}", fontsize=12)
    return Plot(f"scores-{_id(model)}", "scores", f"Per-layer scores{_suffix(model, data['models'])}",
                "The score each method ranked layers by (ShortGPT: Block Influence, low = removable; LaCo: the "
                "similarity reached when merging; reverse order uses no score) with the layers it removed in red "
                "and, for merging methods, merged layers in orange and the layers that absorb them in green. "
                "A recovered (fine-tuned) variant has the layers of the pruned model it was trained from.",
                fig, ["variant", "score", "layer", "value", "status"], rows)


def _bar_handle(color: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, edgecolor="#555555", linewidth=0.4)


# all -------------------------------------------------------------------------------------------------------------
SECTIONS = [("sequential", sequential_figure), ("parallel", parallel_figure), ("retention", retention_figure),
            ("why", why_figure), ("cost", cost_figure), ("scores", scores_figure)]


def all_figures(data: dict) -> dict[str, list[Plot]]:
    """Every figure, by section; a figure that fails to draw becomes a 'could not draw' panel, not a crash."""
    out: dict[str, list[Plot]] = {s: [] for s, _ in SECTIONS}
    for model in data["models"] or [""]:
        for section, fn in SECTIONS:
            try:
                out[section].append(fn(data, model))
            except Exception as e:   # noqa: BLE001 - one broken figure must not lose the report
                fig, axes = _figure(1, 1)
                no_data(axes[0][0], f"could not draw this figure:\n{type(e).__name__}: {e}"[:200])
                out[section].append(Plot(f"{section}-{_id(model)}", section, section, "", fig))
    return out


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# rendering -------------------------------------------------------------------------------------------------------
def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline <svg> element: no XML header, no namespace or metadata URLs, ids made unique."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    if ids:
        alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        pat = re.compile(r'(\sid="|href="#|url\(#)(' + alternatives + r')(?=["\)])')
        svg = pat.sub(lambda mt: f"{mt.group(1)}{prefix}-{mt.group(2)}", svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{prefix}" ', 1)
    return svg


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
