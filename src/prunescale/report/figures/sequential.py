"""The report's sequential scaling: accuracy against the thinking budget, per method and task.

A task whose accuracy is 0 (or missing) for every variant at every budget is not a column; with no task left the
figure is absent.
"""

from __future__ import annotations

from ...budgets import budget_key
from .base import (Index, NO_CAP, Plot, absent, budget_x, finish, fmt_num, legend_label, line_handle, line_kw,
                   log2_ticks, new_figure, no_data, register_figure, signal_tasks)


@register_figure("sequential", "Sequential scaling", order=10)
def sequential_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    tasks, why_not = signal_tasks(ix, model)
    if not tasks:
        return absent(data, model, "sequential", "Sequential scaling", why_not)
    base = ix.base(model)
    fig, axes = new_figure(len(methods), len(tasks))
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
                bx = budget_x(list(c["budgets"]))
                pts = [(bx[b], vals.get("accuracy"), vals.get("accuracy_std") or 0.0, b)
                       for b, vals in c["budgets"].items() if vals.get("accuracy") is not None]
                if not pts:
                    continue
                ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], capsize=2.5,
                            elinewidth=0.9, **line_kw(v))
                band = [(p[0], *c["budgets"][p[3]]["ci95"]) for p in pts
                        if len(c["budgets"][p[3]].get("ci95") or []) == 2 and None not in c["budgets"][p[3]]["ci95"]]
                if len(band) > 1:   # the 95% interval over problems, as a band around the line
                    ax.fill_between([q[0] for q in band], [q[1] for q in band], [q[2] for q in band],
                                    color=line_kw(v).get("color"), alpha=0.12, linewidth=0)
                handles.setdefault(legend_label(v), line_handle(v))
                xs_all += [p[0] for p in pts]
                drawn = True
                for b, vals in c["budgets"].items():
                    if (v["id"], t, b) not in seen:
                        seen.add((v["id"], t, b))
                        by_seed = (vals.get("accuracy_by_seed") or {}).items()
                        ci = vals.get("ci95") or [None, None]
                        rows.append([v["variant"], t, b, fmt_num(vals.get("accuracy")),
                                     f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]", fmt_num(vals.get("accuracy_std")), ", ".join(f"{s}: {a:.3f}" for s, a in by_seed), vals.get("n_problems"),
                                     vals.get("n_samples"), fmt_num(vals.get("thinking_tokens_mean"), 1)])
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
                log2_ticks(ax, labels, [NO_CAP if nums and x > max(nums) else f"{x:g}" for x in labels])
                ax.set_ylim(-0.04, 1.04)
                ax.grid(alpha=0.3)
            ax.set_title(f"{m or 'unpruned'} · {t}", fontsize=10)
            if i == len(methods) - 1:
                ax.set_xlabel("thinking budget (tokens, log scale)", fontsize=9)
            if j == 0:
                ax.set_ylabel("accuracy", fontsize=9)
    return finish(fig, handles, data, model, "sequential",
                  "Sequential scaling: accuracy vs thinking budget", "Sequential scaling",
                  "One row per pruning method, one column per task. Each line is one number of layers removed; "
                  "the black line is the unpruned model, repeated on every panel; dashed / dotted lines are "
                  "pruned models after LoRA / full fine-tuning. Band: 95% bootstrap interval over problems; error "
                  "bars: standard deviation of accuracy over seeds.",
                  ["variant", "task", "budget", "accuracy", "95% CI (problems)", "std (seeds)", "accuracy by seed", "problems", "samples",
                   "thinking tokens"], rows)


def _failed(ix: Index, vid: str, label: str) -> bool:
    return any(c.get("variant_id") == vid and c.get("task_label") == label and c.get("status") == "failed"
               for c in ix.data["cells"])
