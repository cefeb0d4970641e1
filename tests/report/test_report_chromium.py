"""report.html in headless Chromium: it loads without a script error, every figure is drawn and non-empty,
the sample browser switches problems. A screenshot is kept (PRUNESCALE_REPORT_SCREENSHOT=path to keep a copy).

Chromium comes from `apt-get install chromium` (.ci/run installs it); without a binary the test is skipped.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from prunescale.cli.main import main

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)

# Injected first in <head>: collect every error the page raises or logs.
CATCH = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || "error"));
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__errors.push("rejection: " + e.reason); });
(function () { var ce = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, " ")); ce.apply(console, arguments); }; })();
</script>"""

# Injected last in <body>: after load, measure the figures, drive the sample browser, write a JSON status.
PROBE = """<script>
(function () {
  function visible() {
    return Array.prototype.filter.call(document.querySelectorAll(".sb-problem"), function (d) { return !d.hidden; })
      .map(function (d) { return d.getAttribute("data-sb"); });
  }
  function run() {
    var figs = Array.prototype.map.call(document.querySelectorAll("figure.report-figure"), function (f) {
      var s = f.querySelector("svg"), r = s ? s.getBoundingClientRect() : null;
      return {id: f.getAttribute("data-figure"), width: r ? r.width : 0, height: r ? r.height : 0,
              shapes: s ? s.querySelectorAll("path, use, rect").length : 0};
    });
    var sel = document.getElementById("sb-select"), before = visible(), after = null, options = 0;
    if (sel) {
      options = sel.options.length;
      sel.value = sel.options[options - 1].value;
      sel.dispatchEvent(new Event("change"));
      after = visible();
    }
    var pre = document.createElement("pre");
    pre.id = "__status";
    pre.textContent = JSON.stringify({errors: window.__errors, figures: figs, options: options,
      visible_before: before, visible_after: after, last: sel ? sel.value : null,
      headings: Array.prototype.map.call(document.querySelectorAll("h2"), function (h) { return h.textContent; }),
      width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight});
    document.body.appendChild(pre);
  }
  if (document.readyState === "complete") run(); else window.addEventListener("load", run);
})();
</script>"""


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--mute-audio",
           "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={cwd / 'profile'}",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium; .ci/run does it)")
def test_report_renders_in_chromium(built_study, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(built_study, root)
    assert main(["report", "--study", str(root), "--no-markdown"]) == 0
    page = (root / "report.html").read_text()
    probe = root / "probe.html"
    probe.write_text(page.replace("<head>", "<head>" + CATCH, 1).replace("</body>", PROBE + "</body>", 1))

    res = _chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), cwd=tmp_path)
    m = re.search(r'<pre id="__status">(.*?)</pre>', res.stdout, re.S)
    assert m, f"no status in the dumped page (rc {res.returncode}): {res.stderr[-2000:]}"
    status = json.loads(html_lib.unescape(m.group(1)))
    assert status["errors"] == []
    assert "Uncaught" not in res.stderr
    ids = [f["id"] for f in status["figures"]]
    # every figure the report wrote is drawn (one per family on this study's single task)
    assert ids == re.findall(r'<figure class="report-figure"[^>]*data-figure="([^"]+)"', page), ids
    assert {"sequential-organism", "parallel-organism", "equal_params-organism"} <= set(ids) and len(ids) >= 6
    for f in status["figures"]:
        assert f["width"] > 300 and f["height"] > 150 and f["shapes"] > 20, f
    assert status["options"] == 18 and status["visible_before"] == ["0"] and status["visible_after"] == [status["last"]]
    # incl. "Equal parameter budgets" (15), "Early warning" (16), "Paired differences" (22), "Recovery" (25: this
    # study has a recovered variant; the report of a study without one has 15 headings)
    assert len(status["headings"]) == 16   # + "Chain length" (24; absent here: one task length)
    assert status["width"] <= 1400   # nothing pushes the page wider than the window

    shot = tmp_path / "report.png"
    res = _chromium("--window-size=1400,2400", f"--screenshot={shot}", (root / "report.html").as_uri(), cwd=tmp_path)
    assert shot.is_file(), res.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1400, 2400)
        colours = im.convert("RGB").resize((140, 240)).getcolors(maxcolors=100000)
        assert colours is not None and len(colours) > 50   # drawn, not a blank page
    if os.environ.get("PRUNESCALE_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["PRUNESCALE_REPORT_SCREENSHOT"])
