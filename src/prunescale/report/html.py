"""The report as one self-contained HTML file: figures as inline SVG, styles and the sample browser's few lines
of script inline, no reference to anything outside the file. Every text from the study (model outputs, ids,
errors, the study file) is HTML-escaped.
"""

from __future__ import annotations

import json
from html import escape

from .figures import Plot, legend_label, to_svg
from .recovery import NOTE as RECOVERY_NOTE
from .recovery import recovery_tables
from .tables import PAIRED_NOTE, cell_table, paired_table, sections, failed_cells, fmt, headline, status_counts, version_table
from .tables import has_recovery

CSS = """
:root { --fg: #1d2330; --muted: #5d6675; --line: #d9dde3; --bg2: #f5f7fa; --accent: #2456a6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: #fff; }
header.top { background: #1f2a3c; color: #fff; padding: 22px 32px 14px; }
header.top h1 { margin: 0 0 4px; font-size: 26px; font-weight: 600; }
header.top .meta { color: #c6cfdc; margin: 0; font-size: 13px; }
nav.toc { margin-top: 12px; display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
nav.toc a { color: #dfe8f7; text-decoration: none; border-bottom: 1px dotted #8aa0c0; }
main { max-width: 1560px; margin: 0 auto; padding: 8px 32px 60px; }
section { margin-top: 30px; }
h2 { font-size: 21px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin: 0 0 10px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.note { color: var(--muted); margin: 4px 0 10px; max-width: 1100px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.neg { color: #b3261e; font-weight: 600; } td.pos { color: #1b7a34; font-weight: 600; }
.status-failed { color: #b3261e; font-weight: 600; } .status-done { color: #1b7a34; }
.status-todo, .status-incomplete, .status-running, .status-interrupted { color: #8a6d00; }
.failbox { border: 1px solid #e3a7a2; background: #fff4f3; padding: 8px 14px; border-radius: 6px; margin: 8px 0; }
.failbox li { margin: 3px 0; } .failbox code { white-space: pre-wrap; word-break: break-word; }
.okbox { border: 1px solid #a8d5b5; background: #f3fbf5; padding: 6px 14px; border-radius: 6px; }
figure.report-figure { margin: 12px 0 22px; padding: 10px; border: 1px solid var(--line); border-radius: 6px;
                       background: #fff; overflow-x: auto; }
figure.report-figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; max-width: 1100px; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
.scroll { overflow-x: auto; max-width: 100%; }
pre.code { background: var(--bg2); border: 1px solid var(--line); padding: 10px; overflow: auto; font-size: 12px;
           max-height: 480px; }
.sb-controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.sb-controls select { font-size: 14px; padding: 3px 6px; max-width: 760px; }
.sb-grid { display: grid; gap: 10px; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); }
.sb-col { border: 1px solid var(--line); border-radius: 6px; background: #fff; min-width: 0; }
.sb-col.base { border-color: #555; }
.sb-col h4 { margin: 0; padding: 6px 10px; background: var(--bg2); font-size: 14px;
             border-bottom: 1px solid var(--line); }
.sb-meta { font-size: 12px; color: var(--muted); padding: 4px 10px; }
.ok { color: #1b7a34; font-weight: 700; } .bad { color: #b3261e; font-weight: 700; }
pre.sb-text { margin: 0; padding: 8px 10px; white-space: pre-wrap; word-break: break-word; font-size: 12px;
              line-height: 1.45; max-height: 520px; overflow: auto; border-top: 1px solid var(--line); }
mark.loop { background: #ffd7d2; color: inherit; border-bottom: 2px solid #d62728; }
span.answer { background: #e6f0ff; }
span.gap { display: block; color: var(--muted); font-style: italic; margin: 6px 0; }
.legend-swatch { display: inline-block; padding: 0 6px; border-radius: 3px; }
"""

SCRIPT = """
(function () {
  var sel = document.getElementById("sb-select");
  if (!sel) return;
  function show() {
    var panes = document.querySelectorAll(".sb-problem");
    for (var i = 0; i < panes.length; i++) panes[i].hidden = panes[i].getAttribute("data-sb") !== sel.value;
  }
  sel.addEventListener("change", show);
  show();
})();
"""


def render_html(data: dict, plots: dict[str, list[Plot]]) -> str:
    name = data["study"].get("name") or "study"
    counts = status_counts(data)
    body = [
        _header(data, name, counts),
        "<main>",
        _section("headline", _headline(data)),
        _section("cells", _cells(data)),
    ]
    for key, ps in plots.items():   # the figure families, in page order
        body.append(_section(key, "".join(_figure(p) for p in ps) or _p("No data.")))
    header, rows = paired_table(data)
    body.append(_section("paired", (_p(PAIRED_NOTE) + table(header, rows, "paired")) if rows
                         else _p("No paired comparison.")))
    if has_recovery(data):
        body.append(_section("recovery", _recovery(data)))
    body += [_section("samples", _samples(data)), _section("numbers", _numbers(data, plots)),
             _section("provenance", _provenance(data)), "</main>", f"<script>{SCRIPT}</script>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(name)} — prunescale study report</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# pieces --------------------------------------------------------------------------------------------------------
def _header(data: dict, name: str, counts: dict) -> str:
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    toc = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in sections(data))
    return (f'<header class="top"><h1>Study report: {escape(name)}</h1>'
            f'<p class="meta">{escape(data["study"]["dir"])} · generated {escape(data["generated"])} · '
            f'{len(data["cells"])} cells ({escape(status)}) · {len(data["variants"])} model variants · '
            f'{len(data["tasks"])} tasks</p><nav class="toc">{toc}</nav></header>')


def _section(anchor: str, inner: str) -> str:
    title = dict(sections())[anchor]
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>\n{inner}\n</section>'


def _p(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def table(header: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    out = []
    for r in rows:
        tds = []
        for v in r:
            if isinstance(v, dict):
                d = v.get("delta") or 0.0
                c = "num neg" if d < -1e-9 else "num pos" if d > 1e-9 else "num"
                tds.append(f'<td class="{c}">{escape(v["text"])}</td>')
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                tds.append(f'<td class="num">{escape(fmt(v, 4))}</td>')
            else:
                tds.append(f"<td>{escape(fmt(v))}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(out) + "</tbody></table></div>")


def _headline(data: dict) -> str:
    header, rows = headline(data)
    if not rows:
        return _p("No finished cell yet: no data.")
    return (_p("Accuracy of each model variant at each task's largest thinking budget (mean over seeds, problems "
               "and samples); in brackets the paired difference against the unpruned model of the same base on "
               "the same problems, with its 95% bootstrap interval (* significant after Holm's correction; "
               "see the paired differences section).")
            + table(header, rows, "headline"))


def _cells(data: dict) -> str:
    failed = failed_cells(data)
    out = []
    if failed:
        items = "".join(f"<li><b>{escape(c['id'])}</b>: "
                        f"<code>{escape(c.get('error') or 'no error recorded')}</code></li>" for c in failed)
        out.append(f'<div class="failbox"><b>{len(failed)} failed cell{"s" if len(failed) != 1 else ""}</b>'
                   f"<ul>{items}</ul></div>")
    else:
        out.append('<div class="okbox">No cell failed.</div>')
    if data.get("warnings"):
        out.append("<p class=\"note\">Warnings while reading the study:</p><ul>"
                   + "".join(f"<li>{escape(w)}</li>" for w in data["warnings"]) + "</ul>")
    header, rows = cell_table(data)
    body = ["<tr>" + "".join(
        f'<td class="status-{escape(str(v))}">{escape(fmt(v))}</td>' if i == 4 else f"<td>{escape(fmt(v))}</td>"
        for i, v in enumerate(r)) + "</tr>" for r in rows]
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    out.append(f"<details><summary>All {len(rows)} cells</summary><div class=\"scroll\"><table><thead><tr>{head}"
               f"</tr></thead><tbody>{''.join(body)}</tbody></table></div></details>")
    return "".join(out)


def _recovery(data: dict) -> str:
    tables = recovery_tables(data)
    if not tables:
        return _p("No recovered variant has a finished cell beside its pruned model yet: no data.")
    return _p(RECOVERY_NOTE) + "".join(f"<h3>{escape(task)}</h3>" + table(header, rows, "recovery")
                                       for task, header, rows in tables)


def _figure(p: Plot) -> str:
    if p.absent:   # nothing worth drawing: one line in its place, not an empty frame
        return f'<p class="note absent-figure" data-absent="{escape(p.id)}">{escape(p.absent_line())}</p>'
    try:
        svg = to_svg(p.fig, p.id)
    except Exception as e:   # noqa: BLE001 - a figure that cannot be drawn must not lose the report
        svg = _p(f"This figure could not be drawn: {type(e).__name__}: {e}")
    return (f'<figure class="report-figure" id="fig-{escape(p.id)}" data-figure="{escape(p.id)}">'
            f"{svg}<figcaption><b>{escape(p.title)}.</b> {escape(p.caption)}</figcaption></figure>")


def _numbers(data: dict, plots: dict[str, list[Plot]]) -> str:
    out = [_p("The numbers drawn in each figure (also in report_data.json next to this file, with everything read "
              "from the study).")]
    header, rows = headline(data)
    out.append(f"<details><summary>Headline ({len(rows)} rows)</summary>{table(header, rows)}</details>")
    for ps in plots.values():
        for p in ps:
            inner = table(p.header, p.rows) if p.rows else _p(p.absent_line() if p.absent else "No data.")
            out.append(f"<details><summary>{escape(p.title)} ({len(p.rows)} rows)</summary>{inner}</details>")
    return "".join(out)


def _provenance(data: dict) -> str:
    out = []
    yaml_text = data["study"].get("yaml")
    out.append("<h3>study.yaml</h3>")
    out.append(f'<pre class="code">{escape(yaml_text)}</pre>' if yaml_text else _p("No study.yaml in the study "
                                                                                       "directory."))
    out.append("<h3>Package versions recorded by the runs</h3>")
    header, rows = version_table(data)
    out.append(table(header, rows) if rows else _p("No run manifest recorded versions."))
    env = data.get("environment") or {}
    out.append(_p("This report was written with " + ", ".join(f"{k} {v}" for k, v in env.items()) + "."))
    configs = [(c["id"], c["config"]) for c in data["cells"] if c.get("config")]
    if configs:
        out.append("<details><summary>Each cell's eval options (config.yaml)</summary>" + "".join(
            f"<h3>{escape(cid)}</h3><pre class=\"code\">{escape(cfg)}</pre>" for cid, cfg in configs) + "</details>")
    return "".join(out)


# sample browser ------------------------------------------------------------------------------------------------
def _samples(data: dict) -> str:
    groups = data.get("samples") or []
    if not groups:
        return _p("No stored responses: no data.")
    options, panes, n = [], [], 0
    for g in groups:
        opts = []
        for p in g["problems"]:
            rs = p["responses"]
            right = sum(1 for r in rs.values() if r["correct"])
            loops = any(r.get("looping") for r in rs.values())
            text = f"{p['id']} — {right}/{len(rs)} variants right" + (" — loops" if loops else "")
            opts.append(f'<option value="{n}">{escape(text)}</option>')
            panes.append(_pane(data, g, p, n))
            n += 1
        options.append(f'<optgroup label="{escape(g["task_label"])} (budget {escape(str(g["budget"]))})">'
                       + "".join(opts) + "</optgroup>")
    note = _p("One response per model variant for the chosen problem: the first seed's first sample at the task's "
              "largest budget. Looping spans found by prunescale analyze are highlighted; the answer after the "
              "thinking is shaded blue. Long responses show their beginning and end.")
    legend = ('<p class="note"><mark class="loop">looping span</mark> &nbsp; '
              '<span class="answer legend-swatch">answer part</span></p>')
    controls = (f'<div class="sb-controls"><label for="sb-select"><b>Problem</b></label>'
                f'<select id="sb-select">{"".join(options)}</select></div>')
    return note + legend + controls + "".join(panes)


def _pane(data: dict, g: dict, p: dict, n: int) -> str:
    cols = []
    for vid, r in p["responses"].items():
        v = data["variants"].get(vid, {})
        mark = '<span class="ok">✓ right</span>' if r["correct"] else '<span class="bad">✗ wrong</span>'
        bits = [mark, f"answer {escape(fmt(r.get('extracted')))}",
                f"{escape(fmt(r.get('thinking_tokens')))} thinking tokens" + (" (forced)" if r.get("forced") else "")]
        if r.get("looping"):
            bits.append(f'<span class="bad">loops ({escape(r.get("loop_reasons") or "")})</span>')
        if r.get("self_bleu") is not None:
            bits.append(f"Self-BLEU {r['self_bleu']:.3f}")
        refl = r.get("reflection") or {}
        if any(refl.get(k) for k in refl):
            bits.append("reflection " + ", ".join(f"{k} {refl[k]}" for k in refl if refl.get(k)))
        title = f"{v.get('variant') or vid} · {legend_label(v) if v else ''}"
        cls = "sb-col base" if v and not v.get("method") else "sb-col"
        cols.append(f'<div class="{cls}"><h4>{escape(title)}</h4><div class="sb-meta">{" · ".join(bits)}</div>'
                    f'<pre class="sb-text">{render_response(r)}</pre></div>')
    meta = f"task {escape(g['task_label'])} · problem {escape(p['id'])} · gold answer {escape(fmt(p.get('gold')))}"
    return (f'<div class="sb-problem" data-sb="{n}" hidden><p class="note">{meta}</p>'
            f'<div class="sb-grid">{"".join(cols)}</div></div>')


def render_response(r: dict) -> str:
    """The clipped response as escaped HTML, loop spans in <mark>, the answer part in a shaded span."""
    out = []
    for i, part in enumerate(r["parts"]):
        if i:
            hidden = part["start"] - (r["parts"][i - 1]["start"] + len(r["parts"][i - 1]["text"]))
            out.append(f'<span class="gap">[… {hidden} characters not shown …]</span>')
        text, start = part["text"], part["start"]
        cut = {0, len(text)}
        for a, b in part["loops"]:
            cut |= {max(0, min(a, len(text))), max(0, min(b, len(text)))}
        th = r.get("thinking_chars")
        if th is not None and 0 < th - start < len(text):
            cut.add(th - start)
        pts = sorted(cut)
        for a, b in zip(pts, pts[1:]):
            if a == b:
                continue
            seg = escape(text[a:b])
            if any(la <= a and b <= lb for la, lb in part["loops"]):
                seg = f'<mark class="loop">{seg}</mark>'
            if th is not None and start + a >= th:
                seg = f'<span class="answer">{seg}</span>'
            out.append(seg)
    return "".join(out)


def data_json(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False, default=str)
