"""The early-warning figure drawn from a small synthetic report_data: one panel per predictor and measure, rho with
its interval in each title and in the numbers table; absent, with a one-line reason, below four variants."""

from __future__ import annotations

from prunescale.report.figures import figure_families
from prunescale.report.figures.fragility import MIN_VARIANTS, fragility_figure


def _data(n_pruned: int) -> dict:
    variants = {"org__base": {"id": "org__base", "variant": "base", "model_label": "org", "method": None,
                              "n_removed": 0}}
    frag = {}
    for i in range(n_pruned):
        method, n = ("shortgpt", "reverse")[i % 2], 1 + i // 2
        vid = f"org__{method}-{n}"
        variants[vid] = {"id": vid, "variant": f"{method}-{n}", "model_label": "org", "method": method,
                         "n_removed": n}
        loss = i / max(1, n_pruned - 1)
        frag[vid] = {"predictors": {"answer_kl": 0.1 + 2 * loss, "agreement": 1 - loss + 0.05 * (i % 2),
                                    "loss_long": 0.3 * loss ** 2, "method_score": float(i % 3)},
                     "method_score_name": "block_influence" if i != 1 else "other",
                     "tts": {"auc_loss": loss, "pass_loss": None}}
    return {"variants": variants, "models": ["org"], "cells": [], "tasks": [], "fragility": frag}


def test_the_family_is_registered():
    assert "fragility" in [f.id for f in figure_families()]


def test_panels_and_numbers_from_synthetic_data():
    p = fragility_figure(_data(6), "org")
    assert not p.absent
    titles = [ax.get_title() for ax in p.fig.axes if ax.get_visible()]
    # one panel per predictor with at least 4 points; pass@k loss has no value anywhere: no panel
    assert len(titles) == 4 and all("ρ = " in t and "[" in t and "n=" in t for t in titles), titles
    kl = next(t for t in titles if t.startswith("answer KL"))
    assert "ρ = 1.00 [1.00, 1.00], n=6" in kl   # a monotone predictor: rho 1, every resample too
    assert any(t.startswith("greedy agreement") and "ρ = -" in t for t in titles)
    # the method score counts only under the common score name: 5 of the 6 variants
    assert any(t.startswith("method score") and "n=5" in t for t in titles)
    assert [r[0] for r in p.rows[:6]] == [f"{m}-{1 + i // 2}" for i, m in enumerate(["shortgpt", "reverse"] * 3)]
    rho_row = p.rows[-1]
    assert rho_row[0] == "Spearman ρ [95% CI] vs AUC loss"
    assert rho_row[p.header.index("answer KL")] == "ρ = 1.00 [1.00, 1.00], n=6"
    assert "Strongest here" in p.caption
    p.fig.clear()


def test_absent_below_four_variants_but_lists_them():
    p = fragility_figure(_data(MIN_VARIANTS - 1), "org")
    assert p.absent and "fewer than 4 pruned variants" in p.reason and "\n" not in p.reason
    assert len(p.rows) == MIN_VARIANTS - 1   # the variants' numbers are still listed
    assert "fragility" in p.absent_line() or "Early warning" in p.absent_line() or "early warning" in p.absent_line()
