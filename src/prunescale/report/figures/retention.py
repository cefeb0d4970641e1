"""The report's knowledge vs long reasoning: accuracy retained as layers are removed."""

from __future__ import annotations

from matplotlib.lines import Line2D

from .base import (Index, KNOW_COLORS, LONG_COLORS, MARKERS, Plot, STYLES, finish, fmt_num, layers_axis,
                   new_figure, no_data, register_figure)


@register_figure("retention", "Knowledge vs long reasoning", order=30)
def retention_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    base = ix.base(model)
    tasks = ix.task_labels(model)
    fig, axes = new_figure(1, len(methods), w=3.8, h=3.0)
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
                        rows.append([v["variant"], t, ix.kind(t), ix.top(v["id"], t)[0], fmt_num(a), fmt_num(b_acc),
                                     fmt_num(rel)])
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
            no_data(ax, _empty_text(ix, model, tasks))
        else:
            ax.axhline(1.0, color="#999999", linewidth=0.8, zorder=0)
            ax.set_xlabel("layers removed", fontsize=9)
            layers_axis(ax, [v.get("n_removed") or 0 for v in ix.model_variants(model)])
            ax.set_ylim(bottom=min(-0.04, ax.get_ylim()[0]))
            ax.grid(alpha=0.3)
        ax.set_title(m or "unpruned", fontsize=10)
        if j == 0:
            ax.set_ylabel("accuracy kept (pruned / unpruned)", fontsize=9)
    if base:
        for t in tasks:
            a = ix.top_accuracy(base["id"], t)
            if a is not None:
                rows.insert(0, [base["variant"], t, ix.kind(t), ix.top(base["id"], t)[0], fmt_num(a), fmt_num(a),
                                1.0 if a else None])
    return finish(fig, handles, data, model, "retention",
                  "Knowledge vs long reasoning: accuracy kept as layers are removed", "Knowledge vs long reasoning",
                  "Accuracy at each task's largest budget divided by the unpruned model's. Blue-green lines: "
                  "knowledge tasks; red-orange lines: long-reasoning tasks. An unpruned accuracy of 0 leaves the "
                  "ratio undefined (not drawn).",
                  ["variant", "task", "kind", "budget", "accuracy", "unpruned accuracy", "kept"], rows)


def _empty_text(ix: Index, model: str, tasks: list[str]) -> str:
    """Why a panel has no line (an absent figure's reason when every panel has none)."""
    base = ix.base(model)
    parts = []
    if not tasks:
        parts.append("no task evaluated for this model")
    elif not base:
        parts.append("no unpruned model to compare with")
    elif not any(ix.top_accuracy(base["id"], t) for t in tasks):
        parts.append("the unpruned accuracy is 0 or missing on every task: no ratio")
    elif not ix.methods(model):
        parts.append("no pruned variant")
    if parts and tasks and not any(ix.kind(t) == "knowledge" for t in tasks):
        parts.append("no knowledge task for this model")
    return ";\n".join(parts) or "no data"   # each part on its own line in the panel


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
