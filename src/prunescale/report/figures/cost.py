"""The report's what pruning bought: accuracy against parameters, speed and time per problem."""

from __future__ import annotations

import math

from matplotlib.lines import Line2D

from .base import Index, Plot, finish, fmt_num, legend_label, line_kw, new_figure, no_data, register_figure


COST_AXES = [("params", "parameters (millions)", False), ("tokens_per_s", "measured speed (tokens / s)", True),
             ("seconds_per_problem", "time per problem (s)", False)]


def cost_value(ix: Index, v: dict, t: str, key: str):
    if key == "params":
        return v["params"] / 1e6 if v.get("params") else None
    c = ix.cell(v["id"], t)
    return ((c or {}).get("speed") or {}).get(key)


@register_figure("cost", "What pruning bought: speed, parameters and memory", order=50)
def cost_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    tasks = ix.task_labels(model) or ["(no task)"]
    vs = ix.model_variants(model)
    fig, axes = new_figure(len(tasks), len(COST_AXES), w=3.6, h=2.9)
    handles: dict = {}
    rows = []
    for i, t in enumerate(tasks):
        for v in vs:
            a = ix.top_accuracy(v["id"], t)
            if a is None:
                continue
            sp = (ix.cell(v["id"], t) or {}).get("speed") or {}
            rows.append([v["variant"], t, ix.top(v["id"], t)[0], fmt_num(a), v.get("layers"), v.get("params"),
                         fmt_num(v["size_bytes"] / 2**20, 2) if v.get("size_bytes") else None,
                         fmt_num(sp.get("tokens_per_s"), 1), fmt_num(sp.get("seconds_per_problem"), 3)])
        for j, (key, xlabel, higher_better) in enumerate(COST_AXES):
            ax = axes[i][j]
            pts = []
            for v in vs:
                a, x = ix.top_accuracy(v["id"], t), cost_value(ix, v, t, key)
                if a is None or x is None:
                    continue
                pts.append((x, a, v))
                kw = line_kw(v)
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
    return finish(fig, handles, data, model, "cost",
                  "What pruning bought: size and measured speed against accuracy", "What pruning bought",
                  "Each point is one model variant: accuracy at the task's largest budget against its parameter count, "
                  "its measured generation speed (generated tokens over batch wall time, all budgets) and its time "
                  "per problem at the largest budget (all samples of one problem). The dashed line is the Pareto "
                  "front: no other variant is both better and cheaper. Speeds compare only runs on the same "
                  "hardware and batch size.",
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
