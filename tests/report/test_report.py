"""`prunescale report --study DIR` on a real small study (tests/report/conftest.py): numbers, sections, a
self-contained page, failed cells, missing analysis, escaping and loop highlighting."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from html import escape
from pathlib import Path

import pytest

from prunescale.cli.main import main
from prunescale.report import write_report
from prunescale.report.html import render_response
from prunescale.report.figures import figure_families
from prunescale.report.tables import sections

from .conftest import FAILED_CELL, FAILED_ERROR


@pytest.fixture(scope="module")
def report_dir(built_study, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report") / "study"
    shutil.copytree(built_study, root)
    assert main(["report", "--study", str(root)]) == 0
    return root


def _copy(built_study: Path, tmp_path: Path) -> Path:
    root = tmp_path / "study"
    shutil.copytree(built_study, root)
    return root


def test_report_files_written(report_dir):
    for name in ("report.html", "report.md", "report_data.json"):
        assert (report_dir / name).is_file() and (report_dir / name).stat().st_size > 0
    md = (report_dir / "report.md").read_text()
    pngs = re.findall(r"!\[[^\]]*\]\((report_files/[^)]+\.png)\)", md)
    assert len(pngs) == len(figure_families())
    for p in pngs:
        assert (report_dir / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_data_numbers_equal_summary_numbers(report_dir):
    data = json.loads((report_dir / "report_data.json").read_text())
    cells = {c["id"]: c for c in data["cells"]}
    checked = 0
    for d in sorted((report_dir / "cells").iterdir()):
        if not (d / "summary.json").is_file():
            continue
        summary = json.loads((d / "summary.json").read_text())
        task = json.loads((d / "cell.json").read_text())["task"]
        for budget, vals in summary["tasks"][task]["budgets"].items():
            got = cells[d.name]["budgets"][budget]
            for key in ("accuracy", "accuracy_std", "accuracy_by_seed", "ci95", "pass@k", "maj@k", "cov@k",
                        "n_samples", "thinking_tokens_mean"):
                assert got[key] == vals[key], (d.name, budget, key)
            checked += 1
        analysis = json.loads((d / "analysis.json").read_text())
        for g in analysis["groups"]:
            got = cells[d.name]["analysis"][str(g["budget"])]
            for key in ("self_bleu", "loop_rate", "verification", "backtracking", "subgoal"):
                assert got.get(key) == g.get(key)
    assert checked == 5 * 3 + 4 + 5   # 5 chain cells x 3 budgets + 4 facts cells (one failed) + 5 len2 cells
    # the headline (largest budget) and the variants' sizes come through unchanged
    v = data["variants"]["organism__shortgpt-2"]
    vj = json.loads((report_dir / "variants" / "organism__shortgpt-2.json").read_text())
    assert (v["params"], v["size_bytes"], v["scores"]) == (vj["params"], vj["size_bytes"], vj["scores"])
    assert cells["organism__base__chain"]["largest_budget"] == "40"
    assert cells["organism__base__chain"]["speed"]["tokens_per_s"] > 0


def test_every_section_heading_present(report_dir):
    html = (report_dir / "report.html").read_text()
    md = (report_dir / "report.md").read_text()
    for anchor, title in sections():
        assert f'<section id="{anchor}"><h2>{escape(title)}</h2>' in html
        assert f"\n## {title}\n" in md
    # one inline SVG per figure, each with a caption; a sample browser with a select of problems
    assert len(re.findall(r'<figure class="report-figure"[^>]*><svg ', html)) == len(figure_families())
    assert '<select id="sb-select">' in html and html.count('class="sb-problem"') == 6 + 8 + 4


def test_html_is_self_contained(report_dir):
    html = (report_dir / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html, re.I)   # only in-page anchors
    assert "<link" not in html and "@import" not in html and "url(" not in html.replace("url(#", "")


def test_failed_cell_listed_with_error(report_dir):
    html = (report_dir / "report.html").read_text()
    assert escape(FAILED_ERROR) in html and FAILED_ERROR not in html   # escaped, never raw
    assert FAILED_CELL in html
    md = (report_dir / "report.md").read_text()
    assert "CUDA out of memory" in md and FAILED_CELL.replace("_", "\\_") in md
    data = json.loads((report_dir / "report_data.json").read_text())
    failed = [c for c in data["cells"] if c["status"] == "failed"]
    assert [c["id"] for c in failed] == [FAILED_CELL] and failed[0]["error"] == FAILED_ERROR
    # cells the study file declares but that never ran are listed as todo, not drawn
    assert any(c["status"] == "todo" and c["id"] == "organism__reverse-1__chain" for c in data["cells"])


def test_recovered_variant_in_every_figure(report_dir):
    data = json.loads((report_dir / "report_data.json").read_text())
    assert data["variants"]["organism__shortgpt-2+lora"]["recovery"] == "lora"
    from prunescale.report.figures import all_figures

    plots = all_figures(data)
    for section, ps in plots.items():
        variants = {r[0] for p in ps for r in p.rows}
        assert {"base", "shortgpt-1", "shortgpt-2", "shortgpt-2+lora"} <= variants or (
            section in ("scores", "fragility")   # pruned variants only
            and {"shortgpt-1", "shortgpt-2", "shortgpt-2+lora", "reverse-2"} <= variants), section
        for p in ps:
            if p.fig is not None:
                p.fig.clear()


def test_report_without_analysis_and_with_hostile_text(built_study, tmp_path):
    root = _copy(built_study, tmp_path)
    (root / "cells" / "organism__shortgpt-1__chain" / "analysis.json").unlink()
    (root / "cells" / "organism__shortgpt-1__facts" / "summary.json").unlink()
    (root / "study.sqlite").unlink()
    # a model output that is HTML, and a looping span on the response the sample browser shows
    cdir = root / "cells" / "organism__reverse-2__chain"
    hostile = "<script>alert('x')</script> & <b>bold</b> loop loop loop"
    with sqlite3.connect(cdir / "results.sqlite") as c:
        c.execute("UPDATE generations SET text=?, thinking=? WHERE problem_id=(SELECT MIN(problem_id) FROM "
                  "generations) AND budget=40 AND seed=0 AND sample_idx=0", (hostile, hostile))
        pid = c.execute("SELECT MIN(problem_id) FROM generations").fetchone()[0]
    analysis = json.loads((cdir / "analysis.json").read_text())
    idx = next(i for i, r in enumerate(analysis["responses"]) if r["problem_id"] == pid and r["budget"] == 40
               and r["sample"] == 0)   # first of the seeds: the analysis reads seeds in order
    start = hostile.index("loop")
    analysis["responses"][idx].update(loop_spans=[[start, len(hostile)]], looping=True, loop_reasons="end_cycle")
    (cdir / "analysis.json").write_text(json.dumps(analysis))

    html = write_report(root, markdown=False).read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; " in html
    assert '<mark class="loop">loop loop loop</mark>' in html
    assert not (root / "report.md").exists()
    data = json.loads((root / "report_data.json").read_text())
    cells = {c["id"]: c for c in data["cells"]}
    assert cells["organism__shortgpt-1__chain"]["has_analysis"] is False
    assert cells["organism__shortgpt-1__chain"]["analysis"] == {}
    assert cells["organism__shortgpt-1__facts"]["has_summary"] is False
    assert cells["organism__base__chain"]["status"] == "done"   # inferred without study.sqlite


def test_empty_study_says_no_data(tmp_path):
    (tmp_path / "study.yaml").write_text("name: empty\n")
    html = write_report(tmp_path).read_text()
    assert "no data" in html.lower()
    assert json.loads((tmp_path / "report_data.json").read_text())["cells"] == []


def test_render_response_marks_loops_and_answer_and_gaps():
    r = {"parts": [{"start": 0, "text": "a<b> loop loop"}, {"start": 100, "text": "tail </think> ans"}],
         "loops": [], "thinking_chars": 105}
    r["parts"][0]["loops"] = [[5, 14]]
    r["parts"][1]["loops"] = []
    out = render_response(r)
    assert out.startswith("a&lt;b&gt; <mark class=\"loop\">loop loop</mark>")
    assert "[… 86 characters not shown …]" in out
    assert '<span class="answer">&lt;/think&gt; ans</span>' in out


def test_cli_refuses_a_non_study(tmp_path, capsys):
    assert main(["report", "--study", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_recovery_section_per_recipe_and_pruned_variant(report_dir):
    """shortgpt-2+lora is recovered: the section lists the unpruned model, shortgpt-2 as it is and under its
    recipe, with the cells' own accuracies and the paired differences of report/paired.py."""
    from prunescale.report.paired import fmt_diff
    from prunescale.report.recovery import recovery_tables
    from prunescale.report.tables import has_recovery

    data = json.loads((report_dir / "report_data.json").read_text())
    assert has_recovery(data) and ("recovery", "Recovery") in sections(data)
    assert not has_recovery({**data, "variants": {k: v for k, v in data["variants"].items() if not v["recovery"]}})
    tables = {task: (header, rows) for task, header, rows in recovery_tables(data)}
    header, rows = tables["chain"]
    assert header[3:6] == ["acc @ 16", "acc @ 28", "acc @ 40"] and "pass@2 @ 40" in header
    assert [r[:2] for r in rows] == [["organism (unpruned)", "–"], ["shortgpt-2", "none"], ["shortgpt-2", "lora"]]
    cell = next(c for c in data["cells"] if c["id"] == "organism__shortgpt-2+lora__chain")
    assert rows[2][3:6] == [f"{cell['budgets'][b]['accuracy']:.3f}" for b in ("16", "28", "40")]
    pair = next(r for r in data["paired"] if r["variant_id"] == "organism__shortgpt-2+lora"
                and r["task_label"] == "chain" and r["family"] == "headline")
    assert rows[2][header.index("vs unpruned: acc @ 40 [95% CI]")] == fmt_diff(pair)
    html, md = (report_dir / "report.html").read_text(), (report_dir / "report.md").read_text()
    assert '<section id="recovery"><h2>Recovery</h2>' in html and "\n## Recovery\n" in md
    assert html.index('id="paired"') < html.index('id="recovery"') < html.index('id="samples"')
