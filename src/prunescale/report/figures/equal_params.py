"""Every pruning on one axis: accuracy against the share of parameters removed.

Layer methods remove whole layers (their parameters are gone); unstructured methods (wanda, sparsegpt,
magnitude-unstructured) zero weights and keep the tensors dense. Both count as removed here, over the unpruned
model's parameters (embeddings and lm_head included, which no method prunes), so variants with equal x hold the
same number of nonzero parameters. Speed is a different axis: see the caption.
"""

from __future__ import annotations

from matplotlib.lines import Line2D

from .base import METHOD_COLORS, Index, Plot, finish, fmt_num, new_figure, no_data, register_figure

KIND_MARKERS = {"layers": "o", "unstructured": "s"}


def removed_share(ix: Index, v: dict, model: str) -> float | None:
    """The variant's params_removed_share, or, for a variant written before it existed, 1 - params / base."""
    if v.get("params_removed_share") is not None:
        return v["params_removed_share"]
    if not v.get("method"):
        return 0.0
    base = ix.base(model) or {}
    if v.get("sparsity") is None and v.get("params") and base.get("params"):
        return 1 - v["params"] / base["params"]
    return None


def kind(v: dict) -> str:
    return "unstructured" if v.get("sparsity") is not None else "layers"


@register_figure("equal_params", "Every method at equal parameters: accuracy against the share removed", order=55)
def equal_params_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    tasks = ix.task_labels(model) or ["(no task)"]
    vs = ix.model_variants(model)
    methods = ix.methods(model)
    colors = {m: METHOD_COLORS[i % len(METHOD_COLORS)] for i, m in enumerate(methods)}
    series = list(dict.fromkeys((v["method"], v.get("recovery")) for v in vs if v.get("method")))
    fig, axes = new_figure(1, len(tasks), w=5.6, h=3.4)
    handles: dict = {}
    rows = []
    for j, t in enumerate(tasks):
        ax = axes[0][j]
        base = ix.base(model)
        base_pt = None
        if base and ix.top_accuracy(base["id"], t) is not None:
            base_pt = (0.0, ix.top_accuracy(base["id"], t))
            ax.plot(*base_pt, marker="D", color="#000000", linestyle="", markersize=7, zorder=4)
            handles.setdefault("unpruned", Line2D([], [], marker="D", color="#000000", linestyle=""))
        drawn = 0
        for m, rec in series:
            pts = []
            for v in vs:
                if v.get("method") != m or v.get("recovery") != rec:
                    continue
                a, x = ix.top_accuracy(v["id"], t), removed_share(ix, v, model)
                if a is None or x is None:
                    continue
                pts.append((100 * x, a, v))
                speed = ((ix.cell(v["id"], t) or {}).get("speed") or {}).get("tokens_per_s")
                rows.append([v["variant"], m, kind(v), t, fmt_num(100 * x, 2), fmt_num(v.get("measured_sparsity"), 4),
                             v.get("layers"), fmt_num(a), fmt_num(speed, 1)])
            if not pts:
                continue
            pts.sort(key=lambda p: p[0])
            line = ([base_pt] if base_pt else []) + [(x, a) for x, a, _ in pts]
            mk = KIND_MARKERS[kind(pts[0][2])]
            style = ":" if rec else "-" if mk == "o" else "--"
            ax.plot([p[0] for p in line], [p[1] for p in line], color=colors[m], marker=mk, markersize=5,
                    linestyle=style, linewidth=1.4, zorder=3, markerfacecolor="white" if rec else colors[m])
            for x, a, v in pts:
                label = f"−{v.get('n_removed')}L" if kind(v) == "layers" else f"{v['sparsity']:.0%}"
                ax.annotate(label, (x, a), textcoords="offset points", xytext=(4, 3), fontsize=7, color=colors[m])
            name = f"{m} + {rec}" if rec else m
            handles.setdefault(name, Line2D([], [], color=colors[m], marker=mk, linestyle=style,
                                            markerfacecolor="white" if rec else colors[m]))
            drawn += 1
        if not drawn:
            no_data(ax)
        else:
            ax.set_ylim(-0.04, 1.1)
            ax.grid(alpha=0.3)
        ax.set_xlabel("parameters removed (% of the unpruned model)", fontsize=9)
        ax.set_ylabel("accuracy (largest budget)", fontsize=9)
        ax.set_title(t, fontsize=9)
    if base := ix.base(model):
        for t in tasks:
            a = ix.top_accuracy(base["id"], t)
            if a is not None:
                speed = ((ix.cell(base["id"], t) or {}).get("speed") or {}).get("tokens_per_s")
                rows.insert(0, ["base", "-", "-", t, 0.0, None, base.get("layers"), fmt_num(a), fmt_num(speed, 1)])
    return finish(fig, handles, data, model, "equal_params",
                  "Layer pruning and unstructured sparsity at equal parameters", "Every method at equal parameters",
                  "Accuracy at each task's largest budget against the share of the unpruned model's parameters "
                  "removed: the parameters of removed layers for layer methods (solid lines, −nL; dotted with hollow "
                  "markers: pruned then fine-tuned), the weights "
                  "set to zero for unstructured methods (dashed lines, % = sparsity of the decoder projections; "
                  "embeddings and lm_head are never pruned, so the share is below the sparsity). At equal x both "
                  "hold the same number of nonzero parameters. They do not cost the same: zeros in dense tensors "
                  "do not speed up dense inference or shrink the files (the table's tokens/s stay those of the "
                  "unpruned model, within noise), while removed layers do. Unstructured zeros pay off only with "
                  "sparse kernels: 2:4 semi-structured sparsity (--pattern 2:4) on NVIDIA Ampere or newer GPUs "
                  "(cuSPARSELt, vLLM's compressed-tensors 2:4 path), or sparse storage for memory.",
                  ["variant", "method", "kind", "task", "removed (%)", "measured sparsity", "layers", "accuracy",
                   "tokens/s"], rows)
