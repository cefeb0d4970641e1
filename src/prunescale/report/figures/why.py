"""The report's why: repetition (Self-BLEU, loops) and self-reflection against layers removed.

A metric no variant has a value of (on any task) is not a column; with no metric left the figure is absent.
"""

from __future__ import annotations

from matplotlib.lines import Line2D

from ..collect import WHY_METRICS
from .base import (Index, MARKERS, METHOD_COLORS, METRIC_LABELS, Plot, STYLES, absent, finish, fmt_num,
                   layers_axis, new_figure, no_data, register_figure)


@register_figure("why", "Why: repetition and self-reflection", order=40)
def why_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    base = ix.base(model)
    methods = ix.methods(model)
    tasks = ix.task_labels(model) or ["(no task)"]
    metrics = [m for m in WHY_METRICS if any(_analysis_value(ix, v, t, m) is not None
                                             for v in ix.model_variants(model) for t in tasks)]
    if not metrics:
        return absent(data, model, "why", "Repetition and self-reflection",
                      "no variant has a repetition or self-reflection number (prunescale analyze) on "
                      + (", ".join(ix.task_labels(model)) or "any task"))
    mcolor = {m: METHOD_COLORS[i % len(METHOD_COLORS)] for i, m in enumerate(methods)}
    fig, axes = new_figure(len(tasks), len(metrics), w=3.0, h=2.6)
    handles: dict = {}
    rows, seen = [], set()
    ns = sorted({0} | {v.get("n_removed") or 0 for v in ix.model_variants(model)})
    for i, t in enumerate(tasks):
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            drawn = False
            b_val = _analysis_value(ix, base, t, metric) if base else None
            lines = [(m, rec) for m in methods for rec in dict.fromkeys(
                v.get("recovery") for v in ix.model_variants(model) if v.get("method") == m)]
            for v in ([base] if base else []) + [v for v in ix.model_variants(model) if v.get("method")]:
                val = _analysis_value(ix, v, t, metric)
                if val is not None and (v["id"], t, metric) not in seen:
                    seen.add((v["id"], t, metric))
                    rows.append([v["variant"], t, _analysis_budget(ix, v, t), METRIC_LABELS[metric], fmt_num(val)])
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
                layers_axis(ax, ns)
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
    return finish(fig, handles, data, model, "why",
                  "Why: repetition and self-reflection against layers removed", "Repetition and self-reflection",
                  "From prunescale analyze, at each task's largest budget: mean Self-BLEU of a response's sentences "
                  "against its other sentences (higher = more repetitive), share of responses caught in a loop, and "
                  "self-reflection counts per response (answer verification, backtracking, subgoal setting). "
                  "Colour: pruning method; the black diamond is the unpruned model.",
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
