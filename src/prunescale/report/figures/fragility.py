"""Early warning: each cheap predictor (``prunescale fragility``) against the measured loss of test-time scaling.

One scatter panel per (predictor, measure): x the predictor, y the loss (AUC of accuracy vs budget, or pass@k at
the largest k, relative to the unpruned model; see ``fragility/tts.py``), one point per pruned variant. Each
panel's title and the numbers table give Spearman's rho with a bootstrap 95% interval. Absent when fewer than
MIN_VARIANTS pruned variants have both a predictor and a measured loss.
"""

from __future__ import annotations

from matplotlib.lines import Line2D

from ...fragility.catalog import plotted
from ...stats import rank_correlation
from .base import METHOD_COLORS, Index, Plot, absent, finish, fmt_num, new_figure, register_figure

MIN_VARIANTS = 4
MEASURES = (("auc_loss", "AUC loss"), ("pass_loss", "pass@k loss"))
NCOLS = 4


def entries(data: dict, model: str) -> list[tuple[dict, dict]]:
    """(variant, its fragility entry) of the model's pruned variants, in the report's variant order."""
    frag = data.get("fragility") or {}
    return [(v, frag[v["id"]]) for v in Index(data).model_variants(model) if v.get("method") and v["id"] in frag]


def predictor_value(entry: dict, name: str, score_name: str | None) -> float | None:
    """A predictor's value; method scores count only under the model's most common score name (a score is
    comparable with another of its own kind only)."""
    if name == "method_score" and entry.get("method_score_name") != score_name:
        return None
    value = (entry.get("predictors") or {}).get(name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def common_score_name(es: list[tuple[dict, dict]]) -> str | None:
    names = [e.get("method_score_name") for _, e in es if (e.get("predictors") or {}).get("method_score") is not None]
    return max(dict.fromkeys(names), key=names.count) if names else None


def correlations(es: list[tuple[dict, dict]], score_name: str | None) -> dict[tuple[str, str], dict]:
    """{(predictor, measure): {n, rho, lo, hi, points}} for every pair with at least MIN_VARIANTS points."""
    out = {}
    for m, _ in MEASURES:
        for p, _ in plotted():
            pts = [(predictor_value(e, p, score_name), (e.get("tts") or {}).get(m), v) for v, e in es]
            pts = [(x, y, v) for x, y, v in pts if x is not None and y is not None]
            if len(pts) >= MIN_VARIANTS:
                stats = rank_correlation([x for x, _, _ in pts], [y for _, y, _ in pts])
                out[(p, m)] = {**stats, "points": pts}
    return out


def ci_text(c: dict) -> str:
    if c.get("rho") is None:
        return f"ρ undefined (a constant side), n={c['n']}"
    ci = f" [{c['lo']:.2f}, {c['hi']:.2f}]" if c.get("lo") is not None else ""
    return f"ρ = {c['rho']:.2f}{ci}, n={c['n']}"


def table(es: list[tuple[dict, dict]], corr: dict, score_name: str | None) -> tuple[list[str], list[list]]:
    """One row per variant (measures, then predictors), then one row of rho [95% CI] per measure."""
    header = ["variant", "method", *(label for _, label in MEASURES), *(label for _, label in plotted())]
    rows = [[v["variant"], v["method"], *(fmt_num((e.get("tts") or {}).get(m)) for m, _ in MEASURES),
             *(fmt_num(predictor_value(e, p, score_name), 4) for p, _ in plotted())] for v, e in es]
    for m, label in MEASURES:
        if any(key[1] == m for key in corr):
            rows.append([f"Spearman ρ [95% CI] vs {label}", "", *([""] * len(MEASURES)),
                         *(ci_text(corr[(p, m)]) if (p, m) in corr else "" for p, _ in plotted())])
    return header, rows


@register_figure("fragility", "Early warning: cheap predictors against the loss of test-time scaling", order=65)
def fragility_figure(data: dict, model: str) -> Plot:
    es = entries(data, model)
    score_name = common_score_name(es)
    corr = correlations(es, score_name)
    header, rows = table(es, corr, score_name)
    title = "Early warning"
    if not corr:
        scored = sum(1 for _, e in es if any(v is not None for v in (e.get("predictors") or {}).values()))
        measured = sum(1 for _, e in es if any((e.get("tts") or {}).get(m) is not None for m, _ in MEASURES))
        return absent(data, model, "fragility", title,
                      f"fewer than {MIN_VARIANTS} pruned variants have both predictors ({scored} have) and a "
                      f"measured loss of test-time scaling ({measured} have)", header, rows)
    keys = list(corr)
    ncols = min(NCOLS, len(keys))
    nrows = -(-len(keys) // ncols)
    fig, axes = new_figure(nrows, ncols, w=3.3, h=2.9)
    methods = list(dict.fromkeys(v["method"] for v, _ in es))
    colors = {m: METHOD_COLORS[i % len(METHOD_COLORS)] for i, m in enumerate(methods)}
    labels = dict(plotted()) | dict(MEASURES)
    for i, (p, m) in enumerate(keys):
        ax = axes[i // ncols][i % ncols]
        for x, y, v in corr[(p, m)]["points"]:
            ax.scatter([x], [y], color=colors[v["method"]], s=28, zorder=3,
                       marker="o" if not v.get("recovery") else "s")
            ax.annotate(f"−{v.get('n_removed')}" if v.get("sparsity") is None else f"{v['sparsity']:.0%}", (x, y),
                        textcoords="offset points", xytext=(3, 3), fontsize=7, color=colors[v["method"]])
        xlabel = labels[p] + (f" ({score_name})" if p == "method_score" and score_name else "")
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(labels[m], fontsize=8)
        ax.set_title(f"{labels[p]} vs {labels[m]}\n{ci_text(corr[(p, m)])}", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for j in range(len(keys), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    handles = {m: Line2D([], [], color=colors[m], marker="o", linestyle="") for m in methods}
    best = max(keys, key=lambda k: abs(corr[k]["rho"] or 0))
    caption = ("Each pruned variant's cheap predictors (prunescale fragility: seconds on a CPU, on the unpruned "
               "model's own greedy traces) against its measured loss of test-time scaling: AUC loss = 1 − area "
               "under accuracy vs thinking budget relative to the unpruned model, pass@k loss = 1 − pass@k at the "
               "largest budget and k relative to the unpruned model (long-chain tasks). Spearman's ρ ranks the "
               "variants; the interval is a 95% percentile bootstrap over variants. Agreement falls as damage "
               "grows, so its ρ is negative. Strongest here: "
               f"{labels[best[0]]} vs {labels[best[1]]}, {ci_text(corr[best])}.")
    return finish(fig, handles, data, model, "fragility", "Early warning: predictors against the loss of test-time "
                  "scaling", title, caption, header, rows)
