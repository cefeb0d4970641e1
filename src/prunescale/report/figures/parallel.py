"""The report's parallel scaling: pass@k and maj@k against the number of samples.

Only tasks with a non-zero accuracy somewhere and more than one sample per problem are columns; with none the figure
is absent.
"""

from __future__ import annotations

from .base import (Index, Plot, absent, finish, fmt_num, legend_label, line_handle, line_kw, log2_ticks,
                   new_figure, no_data, register_figure, signal_tasks)


@register_figure("parallel", "Parallel scaling", order=20)
def parallel_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    base = ix.base(model)
    signal, why_not = signal_tasks(ix, model)
    tasks = [t for t in signal
             if any(len(ix.top(v["id"], t)[1].get("pass@k") or {}) > 1 for v in ix.model_variants(model))]
    if not tasks:
        return absent(data, model, "parallel", "Parallel scaling", why_not or
                      f"one sample per problem on {', '.join(signal)}: no pass@k or maj@k curve")
    cols = [(t, metric) for t in tasks for metric in ("pass@k", "maj@k")]
    fig, axes = new_figure(len(methods), len(cols))
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
                ci = vals.get(f"{metric}_ci95") or {}
                err = [[max(0.0, curve[k] - ci[k][0]) if k in ci else 0.0 for k in ks],
                       [max(0.0, ci[k][1] - curve[k]) if k in ci else 0.0 for k in ks]]
                ax.errorbar([int(k) for k in ks], [curve[k] for k in ks], yerr=err, capsize=2.5, elinewidth=0.9,
                            **line_kw(v))
                handles.setdefault(legend_label(v), line_handle(v))
                ks_all += [int(k) for k in ks]
                for k in ks:
                    if (v["id"], t, metric, k) not in seen:
                        seen.add((v["id"], t, metric, k))
                        lo, hi = ci.get(k) or (None, None)
                        rows.append([v["variant"], t, b, metric.replace("@k", f"@{k}"), fmt_num(curve[k]),
                                     f"[{fmt_num(lo)}, {fmt_num(hi)}]" if lo is not None else "–"])
            if not ks_all:
                no_data(ax)
            else:
                log2_ticks(ax, ks_all)
                ax.set_ylim(-0.04, 1.04)
                ax.grid(alpha=0.3)
                ax.set_xlabel("k (samples)" if i == len(methods) - 1 else "", fontsize=9)
            ax.set_title(f"{m or 'unpruned'} · {t or ''} · {metric or ''}".strip(" ·"), fontsize=10)
            if j == 0:
                ax.set_ylabel("score", fontsize=9)
    return finish(fig, handles, data, model, "parallel",
                  "Parallel scaling: pass@k and maj@k at the largest budget", "Parallel scaling",
                  "pass@k (unbiased estimator: any of k samples right) and maj@k (unbiased: the expected majority vote "
                  "over every k of the n samples, ties split evenly) against the number of samples k, at each "
                  "task's largest thinking budget, averaged over seeds. Error bars: 95% bootstrap interval over "
                  "problems. Only tasks sampled more than once per problem are drawn.",
                  ["variant", "task", "budget", "metric", "value", "95% CI (problems)"], rows)
