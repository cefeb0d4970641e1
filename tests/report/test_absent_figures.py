"""Figures with no signal are not drawn: one line in the report says why (issue 14).

The study is the real one of conftest.py plus a second model, "zero": copies of the organism's variants whose
chain cells score 0 everywhere and which have no knowledge task (like SmolLM2-135M on the demo's mini-math).
"""

from __future__ import annotations

import json
import re
import shutil
from html import escape
from pathlib import Path

import pytest

from prunescale.report import write_report
from prunescale.report.collect import collect
from prunescale.report.figures import Plot, all_figures, new_figure
from prunescale.report.figures import base as figure_base
from prunescale.report.figures.base import NO_DATA_ATTR, no_data, settle
from prunescale.report.markdown import md_escape

ZERO_REASON = "accuracy is 0 for every variant on chain: nothing to compare"


def _zero_everything(vals: dict) -> None:
    """Every accuracy-like number of one budget set to 0 (pass@k and maj@k too: no sample was right)."""
    vals["accuracy"], vals["accuracy_std"], vals["ci95"] = 0.0, 0.0, [0.0, 0.0]
    for key in ("accuracy_by_seed", "pass@k", "maj@k", "cov@k"):
        vals[key] = {k: 0.0 for k in vals.get(key) or {}}


def add_zero_model(root: Path) -> None:
    """Model "zero": every organism variant again, on the chain task only, with accuracy 0 at every budget."""
    for f in sorted((root / "variants").glob("organism__*.json")):
        v = json.loads(f.read_text())
        v.update(id=v["id"].replace("organism__", "zero__", 1), model_label="zero")
        (root / "variants" / f"{v['id']}.json").write_text(json.dumps(v))
    for src in sorted((root / "cells").glob("organism__*__chain")):
        if not (src / "summary.json").is_file():
            continue
        dst = root / "cells" / src.name.replace("organism__", "zero__", 1)
        shutil.copytree(src, dst)
        cell = json.loads((dst / "cell.json").read_text())
        cell.update(id=dst.name, variant_id=cell["variant_id"].replace("organism__", "zero__", 1))
        (dst / "cell.json").write_text(json.dumps(cell))
        summary = json.loads((dst / "summary.json").read_text())
        for task in summary["tasks"].values():
            for vals in task["budgets"].values():
                _zero_everything(vals)
        (dst / "summary.json").write_text(json.dumps(summary))


@pytest.fixture(scope="module")
def zero_study(built_study, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("absent") / "study"
    shutil.copytree(built_study, root)
    add_zero_model(root)
    write_report(root)
    return root


def test_no_signal_figures_are_one_line_in_both_reports(zero_study):
    html = (zero_study / "report.html").read_text()
    md = (zero_study / "report.md").read_text()
    lines = {
        "sequential": f"zero: no sequential scaling figure — {ZERO_REASON}",
        "parallel": f"zero: no parallel scaling figure — {ZERO_REASON}",
        "retention": "zero: no knowledge vs long reasoning figure — the unpruned accuracy is 0 or missing on every "
                     "task: no ratio; no knowledge task for this model",
    }
    for family, line in lines.items():
        assert f'<p class="note absent-figure" data-absent="{family}-zero">{escape(line)}</p>' in html, family
        assert f'data-figure="{family}-zero"' not in html   # no empty frame in its place
        assert f"\n{md_escape(line)}\n" in md, family
        assert f"report_files/{family}-zero.png" not in md and not (zero_study / f"report_files/{family}-zero.png").exists()
        # the line stands in the figure's own section, after the organism's drawn figure
        section = re.search(rf'<section id="{family}">.*?</section>', html, re.S).group(0)
        assert f'data-figure="{family}-organism"' in section and escape(line) in section
    # figures with signal are drawn as before: every organism figure, and the zero model's sizes and scores
    drawn = re.findall(r'<figure class="report-figure"[^>]*data-figure="([^"]+)"', html)
    assert {f"{f}-organism" for f in ("sequential", "parallel", "retention", "why", "cost", "equal_params",
                                      "scores")} <= set(drawn)
    assert {"why-zero", "cost-zero", "equal_params-zero", "scores-zero"} <= set(drawn)
    assert all((zero_study / f"report_files/{p}.png").is_file() for p in drawn)
    # the data file and the numbers section still hold the zero model's numbers
    data = json.loads((zero_study / "report_data.json").read_text())
    zero_cells = [c for c in data["cells"] if c.get("variant_id", "").startswith("zero__") and c.get("has_summary")]
    assert len(zero_cells) == 5 and all(b["accuracy"] == 0.0 for c in zero_cells for b in c["budgets"].values())
    assert "<summary>Sequential scaling — zero (0 rows)</summary>" in html


def test_a_zero_task_is_not_a_column_when_another_has_signal(zero_study):
    data = collect(zero_study)
    for c in data["cells"]:   # the organism's facts and len2 cells at 0 too: only its chain is left to draw
        if c["id"].startswith("organism__") and c.get("task_label") in ("facts", "len2") and c.get("has_summary"):
            for vals in c["budgets"].values():
                _zero_everything(vals)
    plots = all_figures(data)
    seq = next(p for p in plots["sequential"] if p.model == "organism")
    assert not seq.absent and {ax.get_title().split(" · ")[1] for ax in seq.fig.axes} == {"chain"}
    assert {r[1] for r in seq.rows} == {"chain"}
    _clear(plots)


def test_why_drops_metrics_no_variant_has(zero_study):
    data = collect(zero_study)
    for c in data["cells"]:
        for a in (c.get("analysis") or {}).values():
            if c["id"].startswith("zero__"):
                a.clear()   # no analysis at all for the zero model
            else:
                a.pop("loop_rate", None)
    plots = all_figures(data)
    why = {p.model: p for p in plots["why"]}
    titles = {ax.get_title().split(" · ")[1] for ax in why["organism"].fig.axes}
    assert titles == {"Self-BLEU", "verifications / response", "backtracking / response", "subgoals / response"}
    assert why["zero"].absent and why["zero"].reason == ("no variant has a repetition or self-reflection number "
                                                         "(prunescale analyze) on chain")
    _clear(plots)


def test_all_no_data_panels_make_a_figure_absent(built_study, monkeypatch):
    monkeypatch.setattr(figure_base.FIGURES, "_entries", dict(figure_base.FIGURES._entries))   # leave the real registry as it was

    @figure_base.register_figure("empty-grid", "An empty grid", order=99)
    def empty_figure(data: dict, model: str) -> Plot:
        fig, axes = new_figure(1, 2)
        no_data(axes[0][0], "nothing\nmeasured")
        no_data(axes[0][1], "no knowledge task for this model")
        return Plot(f"empty-grid-{model}", "empty-grid", "An empty grid", "", fig)

    @figure_base.register_figure("half-grid", "A half grid", order=98)
    def half_figure(data: dict, model: str) -> Plot:
        fig, axes = new_figure(1, 2)
        axes[0][0].plot([0, 1], [0, 1])
        no_data(axes[0][1])
        return Plot(f"half-grid-{model}", "half-grid", "A half grid", "", fig)

    @figure_base.register_figure("broken", "Broken", order=97)
    def broken_figure(data: dict, model: str) -> Plot:
        raise KeyError("accuracy")

    plots = all_figures(collect(built_study))
    empty, = plots["empty-grid"]
    assert empty.absent and empty.reason == "nothing measured; no knowledge task for this model"
    assert empty.absent_line() == ("organism: no an empty grid figure — nothing measured; no knowledge task for "
                                   "this model")
    half, = plots["half-grid"]
    assert not half.absent and getattr(half.fig.axes[1], NO_DATA_ATTR) == "no data"
    broken, = plots["broken"]
    assert broken.absent and broken.reason == "could not draw it: KeyError: 'accuracy'"
    _clear(plots)


def test_settle_keeps_a_drawn_figure_and_its_rows():
    fig, axes = new_figure(1, 1)
    axes[0][0].plot([1], [1])
    p = settle(Plot("x-m", "x", "X", "", fig, ["a"], [[1]]), "m")
    assert p.fig is fig and p.rows == [[1]] and p.model == "m" and p.reason is None
    fig.clear()


def _clear(plots: dict) -> None:
    for p in (p for ps in plots.values() for p in ps if not p.absent):
        p.fig.clear()
