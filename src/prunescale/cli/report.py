"""``prunescale report``: the study report (HTML, Markdown and the data behind them) of a study directory."""

from __future__ import annotations

import argparse
from ..contract.study_dir import StudyDir
from ..errors import PrunescaleError
from ..fileio import check_out_dir
from .common import COMMANDS


@COMMANDS.register("report", order=80)
def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write the report of a study directory (report.html, report.md, report_data.json)",
        description="Read a study directory (filled by prunescale study run) and write report.html (one "
        "self-contained page: figures, tables, a sample browser; opens offline), report.md with its figures in "
        "report_files/, and report_data.json (every number behind them). Missing or failed cells are listed, "
        "not fatal.",
    )
    p.add_argument("--study", required=True, metavar="DIR", help="the study directory")
    p.add_argument("--no-markdown", action="store_true", help="skip report.md and report_files/")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import write_report
    from ..study.run import planned_cells

    lay = StudyDir(args.study)
    root = lay.root
    if not root.is_dir():
        raise PrunescaleError(f"{str(root)!r} is not a directory")
    if not lay.study_yaml.is_file() and not lay.cells_dir.is_dir():
        raise PrunescaleError(f"{str(root)!r} is not a study directory (no study.yaml and no cells/)")
    check_out_dir(root, "--study")   # the report is written into it
    html = write_report(root, markdown=not args.no_markdown, planned=planned_cells(root))
    print(f"wrote {html}")
    if not args.no_markdown:
        print(f"wrote {lay.report_md} (figures in {lay.report_files})")
    print(f"wrote {lay.report_data}")
    return 0
