"""The report's per-layer scores: each method's own score of every layer, removed layers marked."""

from __future__ import annotations

import math

from .base import Index, Plot, finish, fmt_num, new_figure, no_data, register_figure


@register_figure("scores", "Per-layer scores", order=60)
def scores_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    methods = ix.methods(model) or [None]
    pruned = [v for v in ix.model_variants(model) if v.get("method") and not v.get("recovery")]
    ns = sorted({v.get("n_removed") or 0 for v in pruned}) or [0]
    fig, axes = new_figure(len(methods), len(ns), w=3.2, h=2.5)
    rows = []
    handles = {"kept": _bar_handle("#b0b7c3"), "removed": _bar_handle("#d62728"),
               "merged into the layer below": _bar_handle("#ff7f0e"), "kept, absorbs a merge": _bar_handle("#2ca02c")}
    for i, m in enumerate(methods):
        for j, n in enumerate(ns):
            ax = axes[i][j]
            v = next((v for v in pruned if v.get("method") == m and (v.get("n_removed") or 0) == n), None)
            if v is None:
                no_data(ax, "no data" if pruned else "no pruned variant")
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
                if _spans_decades(scores):   # e.g. perplexity without the first layer: the rest stay readable
                    ax.set_yscale("log")
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
                    rows.append([r["variant"], v.get("score_name"), k, fmt_num(scores[k], 5) if scores else None,
                                 status[k]])
    return finish(fig, handles, data, model, "scores", "Per-layer scores each method used", "Per-layer scores",
                  "The score each method ranked layers by (ShortGPT: Block Influence, low = removable; LaCo: the "
                  "similarity reached when merging; magnitude: weight norm, taylor: |w·dL/dw| and ppl: perplexity "
                  "without the layer, all low = removable, on a log axis when they span over 100x; reverse order "
                  "uses no score) with the layers it removed in red "
                  "and, for merging methods, merged layers in orange and the layers that absorb them in green. "
                  "A recovered (fine-tuned) variant has the layers of the pruned model it was trained from.",
                  ["variant", "score", "layer", "value", "status"], rows)


def _spans_decades(scores) -> bool:
    """All scores positive and finite, the largest over 100 times the smallest."""
    vals = [s for s in scores if s is not None]
    return len(vals) == len(scores) and all(math.isfinite(s) and s > 0 for s in vals) and max(vals) > 100 * min(vals)


def _bar_handle(color: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, edgecolor="#555555", linewidth=0.4)
