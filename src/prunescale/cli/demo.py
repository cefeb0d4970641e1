"""``prunescale demo``: the built-in demo study (embedded organism + a SmolLM2 section), offline on a CPU."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..contract.study_dir import StudyDir
from ..fileio import out_dir_type
from ..study.spec import DEMO_STUDY
from .common import COMMANDS, format_table



@COMMANDS.register("demo", order=30)
def register(sub) -> None:
    p = sub.add_parser("demo", help="run the built-in demo study on the embedded models (offline, CPU, minutes)",
                       description="Prunes the embedded organism with shortgpt, reverse and laco at 1-2 layers and "
                       "SmolLM2-135M with shortgpt and reverse, measures sequential scaling (mixed chain lengths), "
                       "parallel scaling at temperature 1, a forced Wait, analyses the generations and writes "
                       "the report. A second run reuses everything.")
    p.add_argument("--out", default="runs/demo", type=out_dir_type(), help="study directory (default runs/demo)")
    p.add_argument("--study", default=str(DEMO_STUDY), help="study file (default: the built-in demo study)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..study.run import run_study
    from ..study.spec import load_study
    from .study import headline

    t0 = time.perf_counter()
    study = load_study(args.study)
    result = run_study(study, args.out)
    print("\nAccuracy at each task's largest budget (change against the unpruned model):")
    print(headline(args.out))
    section = _smollm2_section(Path(args.out))
    if section:
        print("\nSmolLM2-135M on its own generations (mini-math): what pruning removed and what it did to the text")
        print(section)
    failed = [c for c, s in result.items() if s != "done"]
    report = StudyDir(args.out).report_html
    print(f"\n{len(result) - len(failed)}/{len(result)} cells done in {time.perf_counter() - t0:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    if report.is_file():
        print(f"report: {report}  (Markdown: {report.with_suffix('.md')})")
    return 1 if failed else 0


def _smollm2_section(root: Path) -> str:
    from ..study.headline import variant_analyses

    rows = [[v.variant, str(v.removed_layers or "-"), _f(g.get("accuracy")), _f(g.get("self_bleu")),
             _f(g.get("loop_rate")), _f(g.get("cross_self_bleu")), _f(g.get("thinking_tokens"), 1)]
            for v, g in variant_analyses(root, "smollm2*")]
    if not rows:
        return ""
    return format_table(["variant", "removed", "accuracy", "self-BLEU", "loop rate", "cross-sample BLEU",
                         "thinking tok"], rows)


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"
