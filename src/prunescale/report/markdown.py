"""The report's Markdown twin: the same sections and tables, figures as PNG files in ``report_files/`` next to
report.md (linked relatively), and one example problem per task instead of the interactive sample browser."""

from __future__ import annotations

import re

from .figures import Plot, legend_label
from .recovery import NOTE as RECOVERY_NOTE
from .recovery import recovery_tables
from .tables import PAIRED_NOTE, cell_table, paired_table, sections, failed_cells, fmt, headline, status_counts, version_table
from .tables import has_recovery

EXAMPLE_CHARS = 1500


def md_escape(text) -> str:
    """Text safe inside a Markdown table cell or paragraph (no raw HTML, no table breaks)."""
    s = fmt(text) if not isinstance(text, str) else text
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    s = re.sub(r"([*_`\[\]#])", r"\\\1", s)
    return re.sub(r"\s*\n\s*", " ", s)


def md_table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, dict):
            return md_escape(v["text"])
        return md_escape(fmt(v, 4) if isinstance(v, float) else fmt(v))

    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _fence(text: str, lang: str = "") -> str:
    runs = [len(m) for m in re.findall(r"~{3,}", text)]
    f = "~" * max(3, max(runs, default=0) + 1)
    return f"{f}{lang}\n{text}\n{f}"


def render_markdown(data: dict, plots: dict[str, list[Plot]], figure_files: dict[str, str]) -> str:
    """``figure_files``: plot id -> path of its PNG relative to report.md (absent figures have none)."""
    name = data["study"].get("name") or "study"
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status_counts(data).items()))
    out = [f"# Study report: {md_escape(name)}", "",
           f"{md_escape(data['study']['dir'])} · generated {md_escape(data['generated'])} · {len(data['cells'])} "
           f"cells ({md_escape(counts)}). The interactive version with the sample browser is report.html.", "",
           "Contents: " + " · ".join(f"[{t}](#{_anchor(t)})" for _, t in sections(data)), ""]
    titles = dict(sections())

    out += [f"## {titles['headline']}", ""]
    header, rows = headline(data)
    out += [("Accuracy at each task's largest thinking budget; in brackets the paired difference against the "
             "unpruned model with its 95% interval over problems (* significant after Holm; see the paired "
             "differences section).\n\n"
             + md_table(header, rows)) if rows else "No finished cell yet: no data.", ""]

    out += [f"## {titles['cells']}", ""]
    failed = failed_cells(data)
    if failed:
        out.append(f"**{len(failed)} failed cell{'s' if len(failed) != 1 else ''}:**\n")
        out += [f"- **{md_escape(c['id'])}**: {md_escape(c.get('error') or 'no error recorded')}" for c in failed]
    else:
        out.append("No cell failed.")
    out.append("")
    for w in data.get("warnings") or []:
        out.append(f"- warning: {md_escape(w)}")
    header, rows = cell_table(data)
    out += [md_table(header, rows), ""]

    for key in plots:
        out += [f"## {titles[key]}", ""]
        for p in plots.get(key, []):
            if p.absent:   # nothing worth drawing: one line in its place
                out += [md_escape(p.absent_line()), ""]
                continue
            out += [f"![{md_escape(p.title)}]({figure_files[p.id]})", "", f"*{md_escape(p.caption)}*", ""]

    out += [f"## {titles['paired']}", ""]
    header, rows = paired_table(data)
    out += [(md_escape(PAIRED_NOTE) + "\n\n" + md_table(header, rows)) if rows else "No paired comparison.", ""]

    if has_recovery(data):
        out += [f"## {titles['recovery']}", ""]
        tables = recovery_tables(data)
        out += [md_escape(RECOVERY_NOTE) if tables else "No recovered variant has a finished cell beside its "
                "pruned model yet: no data.", ""]
        for task, header, rows in tables:
            out += [f"### {md_escape(task)}", "", md_table(header, rows), ""]

    out += [f"## {titles['samples']}", "", "One example problem per task (the first one); every problem, side by side "
            "and with looping spans highlighted, is in report.html. Looping spans are marked ⟦…⟧ here.", ""]
    for g in data.get("samples") or []:
        if not g["problems"]:
            continue
        p = g["problems"][0]
        out += [f"### {md_escape(g['task_label'])}: problem {md_escape(p['id'])} (gold {md_escape(p.get('gold'))}, "
                f"budget {md_escape(g['budget'])})", ""]
        for vid, r in p["responses"].items():
            v = data["variants"].get(vid, {})
            verdict = "right" if r["correct"] else "wrong"
            loops = f", loops ({r.get('loop_reasons')})" if r.get("looping") else ""
            out += [f"**{md_escape(v.get('variant') or vid)}** ({md_escape(legend_label(v) if v else '')}): "
                    f"{verdict}, answer {md_escape(r.get('extracted'))}, {fmt(r.get('thinking_tokens'))} thinking "
                    f"tokens{md_escape(loops)}", "", _fence(_plain(r)), ""]

    out += [f"## {titles['numbers']}", "", "The numbers drawn in each figure (everything is also in "
            "report_data.json).", ""]
    for key in plots:
        for p in plots[key]:
            empty = md_escape(p.absent_line()) if p.absent else "No data."
            out += [f"### {md_escape(p.title)}", "", md_table(p.header, p.rows) if p.rows else empty, ""]

    out += [f"## {titles['provenance']}", "", "### study.yaml", ""]
    out += [_fence(data["study"]["yaml"].rstrip("\n"), "yaml") if data["study"].get("yaml") else "No study.yaml.", ""]
    out += ["### Package versions recorded by the runs", ""]
    header, rows = version_table(data)
    out += [md_table(header, rows) if rows else "No run manifest recorded versions.", ""]
    env = data.get("environment") or {}
    out += ["This report was written with " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".", ""]
    return "\n".join(out)


def _plain(r: dict) -> str:
    """The response as plain text, loop spans bracketed ⟦…⟧, cut to EXAMPLE_CHARS at each end."""
    texts = []
    for part in r["parts"]:
        t, pieces, last = part["text"], [], 0
        for a, b in sorted(part["loops"]):
            if a < last:
                continue
            pieces += [t[last:a], "⟦", t[a:b], "⟧"]
            last = b
        pieces.append(t[last:])
        texts.append("".join(pieces))
    text = "\n[…]\n".join(texts)
    if len(text) > 2 * EXAMPLE_CHARS:
        text = text[:EXAMPLE_CHARS] + f"\n[… {len(text) - 2 * EXAMPLE_CHARS} characters …]\n" + text[-EXAMPLE_CHARS:]
    return text


def _anchor(title: str) -> str:
    """GitHub-style heading anchor."""
    return re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")
