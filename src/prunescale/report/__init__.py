"""The study report: ``write_report(study_dir)`` reads a study directory (see ``contract/study_dir.py``) and writes

- ``report_data.json``: everything read, as plain data (collect.py);
- ``report.html``: one self-contained page (figures inline as SVG, no external reference; html.py);
- ``report.md`` plus ``report_files/*.png``: its Markdown twin (markdown.py).

Missing or failed cells never stop it: their panels say "no data" and failures are listed with their errors; a
figure with no signal at all is not drawn, one line says why (figures/base.py: ``settle``, ``absent``).
"""

from __future__ import annotations

from pathlib import Path

from ..contract.study_dir import StudyDir


def write_report(study_dir: str | Path, markdown: bool = True, planned=None) -> Path:
    """Write the report files into ``study_dir``; return the path of report.html. ``planned``: see collect."""
    from ..fileio import write_atomic
    from .collect import collect
    from .figures import all_figures, to_png
    from .html import data_json, render_html
    from .markdown import render_markdown

    lay = StudyDir(study_dir)
    data = collect(lay.root, planned)
    plots = all_figures(data)
    try:
        write_atomic(lay.report_data, data_json(data) + "\n")
        write_atomic(lay.report_html, render_html(data, plots))
        if markdown:
            files = lay.report_files
            files.mkdir(exist_ok=True)
            names = {}
            for p in (p for ps in plots.values() for p in ps if not p.absent):
                (files / f"{p.id}.png").write_bytes(to_png(p.fig))
                names[p.id] = f"{files.name}/{p.id}.png"
            write_atomic(lay.report_md, render_markdown(data, plots, names))
    finally:
        for p in (p for ps in plots.values() for p in ps if not p.absent):
            p.fig.clear()
    return lay.report_html
