"""A figure family declared in one place (its function and registration) reaches both reports and the tables."""

from __future__ import annotations

import shutil

from prunescale.report import write_report
from prunescale.report.figures import Plot, figure_families, new_figure
from prunescale.report.figures import base as figure_base
from prunescale.report.tables import sections


def test_families_are_the_report_sections_in_order():
    ids = [f.id for f in figure_families()]
    assert ids == ["sequential", "parallel", "retention", "chain_length", "why", "cost", "equal_params", "scores",
                   "fragility"]
    anchors = [a for a, _ in sections()]
    assert anchors[2:2 + len(ids)] == ids and anchors[:2] == ["headline", "cells"]


def test_a_new_family_shows_up_everywhere(built_study, tmp_path, monkeypatch):
    monkeypatch.setattr(figure_base.FIGURES, "_entries", dict(figure_base.FIGURES._entries))   # leave the real registry as it was

    @figure_base.register_figure("variants-count", "How many variants", order=35)
    def count_figure(data: dict, model: str) -> Plot:
        fig, axes = new_figure(1, 1)
        n = sum(1 for v in data["variants"].values() if v.get("model_label") == model)
        axes[0][0].bar([0], [n])
        return Plot(f"variants-count-{model}", "variants-count", "Variants per model", "a toy figure", fig,
                    ["model", "variants"], [[model, n]])

    assert [f.id for f in figure_families()].index("variants-count") == 3   # between retention and why
    root = tmp_path / "study"
    shutil.copytree(built_study, root)
    write_report(root)
    html = (root / "report.html").read_text()
    md = (root / "report.md").read_text()
    assert '<section id="variants-count"><h2>How many variants</h2>' in html and "\n## How many variants\n" in md
    assert html.index('id="retention"') < html.index('id="variants-count"') < html.index('id="why"')
    assert "(report_files/variants-count-organism.png)" in md and (root / "report_files/variants-count-organism.png").is_file()
    assert "| organism | 5 |" in md   # its numbers table, under "Every number behind the figures"
