"""What every report figure shares: the Plot it returns, styles, panel helpers, look-ups, the family registry.

Each figure family is one module in this package that registers itself with :func:`register_figure` (id, heading,
page order); the HTML and Markdown reports and the section list iterate :func:`figure_families`. Styles are shared
by all figures: colour = layers removed (black = unpruned), line style and marker = recovery (solid: pruned only,
dashed: + LoRA, dotted: + full fine-tuning). A panel without numbers says so (:func:`no_data`); a figure without
any signal is not drawn at all: it is an absent Plot (``fig`` None) whose ``reason`` the reports print in one line
(:func:`absent`, and :func:`settle` for a figure whose every panel is a no-data panel).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

from ...budgets import budget_key  # noqa: E402
from ...registry import Registry  # noqa: E402

N_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
METHOD_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
LONG_COLORS = ["#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22"]
KNOW_COLORS = ["#1f77b4", "#17becf", "#2ca02c", "#9467bd"]
STYLES = {None: "-", "lora": "--", "full": ":"}
MARKERS = {None: "o", "lora": "s", "full": "^"}
METRIC_LABELS = {"self_bleu": "Self-BLEU", "loop_rate": "loop rate", "verification": "verifications / response",
                 "backtracking": "backtracking / response", "subgoal": "subgoals / response"}
NO_CAP = "no cap"
NO_DATA_ATTR = "prunescale_no_data"   # set on an Axes by no_data(): its text, so an all-empty figure is detectable


@dataclass
class Plot:
    id: str
    section: str
    title: str
    caption: str
    fig: Figure | None                       # None: the figure is absent (nothing worth drawing), see ``reason``
    header: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    reason: str | None = None                # why an absent figure is absent: one line
    model: str = ""                          # the model label the figure is about
    name: str = ""                           # the title without the model suffix

    @property
    def absent(self) -> bool:
        return self.fig is None

    def absent_line(self) -> str:
        """'<model>: no <name> figure — <reason>', the one line the reports print instead of the figure."""
        name = self.name or self.title
        name = name[:1].lower() + name[1:] if name[1:2].islower() else name
        return f"{self.model + ': ' if self.model else ''}no {name} figure — {self.reason or 'no data'}"


# styles --------------------------------------------------------------------------------------------------------
def color_for(v: dict) -> str:
    n = v.get("n_removed") or 0
    return "#000000" if not v.get("method") else N_COLORS[(n - 1) % len(N_COLORS)]


def style_for(v: dict) -> str:
    return STYLES.get(v.get("recovery"), "-.")


def marker_for(v: dict) -> str:
    return "D" if not v.get("method") else MARKERS.get(v.get("recovery"), "v")


def legend_label(v: dict) -> str:
    if not v.get("method"):
        return "unpruned"
    if v.get("sparsity") is not None:   # unstructured: keeps every layer
        return f"{v['method']} {v['sparsity']:.0%} zeros"
    n = v.get("n_removed") or 0
    name = f"−{n} layer{'s' if n != 1 else ''}"
    return f"{name} + {v['recovery']}" if v.get("recovery") else name


def line_kw(v: dict) -> dict:
    return {"color": color_for(v), "linestyle": style_for(v), "marker": marker_for(v), "markersize": 4.5,
            "linewidth": 3.2 if not v.get("method") else 1.6, "label": legend_label(v),
            "zorder": 2 if not v.get("method") else 3}


# helpers -------------------------------------------------------------------------------------------------------
def new_figure(nrows: int, ncols: int, w: float = 3.4, h: float = 2.7) -> tuple[Figure, list[list]]:
    fig = Figure(figsize=(max(ncols * w + 1.8, 6.0), nrows * h + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [list(r) for r in axes]


def no_data(ax, text: str = "no data") -> None:
    """Mark an empty panel: the text in its middle, no ticks; :func:`settle` reads the mark."""
    setattr(ax, NO_DATA_ATTR, text)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("#cccccc")


def legend(fig: Figure, handles: dict) -> None:
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center", fontsize=9,
                   frameon=False, ncols=min(len(handles), 6))


def line_handle(v: dict) -> Line2D:
    kw = line_kw(v)
    kw.pop("label")
    return Line2D([], [], **kw)


def fmt_num(x, nd: int = 3):
    if x is None:
        return None
    if isinstance(x, float):
        return round(x, nd) if math.isfinite(x) else None
    return x


def budget_x(labels: list[str]) -> dict[str, float]:
    """Numeric x of each budget label; 'none' (no cap) sits one doubling past the largest budget."""
    nums = [float(b) for b in labels if budget_key(b) != float("inf")]
    top = max(nums) if nums else 1.0
    return {b: (float(b) if budget_key(b) != float("inf") else top * 2) for b in labels}


def log2_ticks(ax, xs: list[float], labels: list[str] | None = None) -> None:
    xs = sorted(set(xs))
    if not xs:
        return
    ax.set_xscale("log", base=2)
    if len(xs) == 1:
        ax.set_xlim(xs[0] / 1.6, xs[0] * 1.6)
    else:
        ax.set_xlim(xs[0] / 1.25, xs[-1] * 1.25)
    ax.xaxis.set_major_locator(FixedLocator(xs))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels(labels or [f"{x:g}" for x in xs], fontsize=8)


class Index:
    """Look-ups over the collected data."""

    def __init__(self, data: dict):
        self.data = data
        self.variants = data["variants"]
        self.cells = {(c["variant_id"], c["task_label"]): c for c in data["cells"] if c.get("has_summary")}
        self.tasks = data["tasks"]

    def model_variants(self, model: str) -> list[dict]:
        return [v for v in self.variants.values() if v.get("model_label") == model]

    def base(self, model: str) -> dict | None:
        return next((v for v in self.model_variants(model) if not v.get("method")), None)

    def methods(self, model: str) -> list[str]:
        return list(dict.fromkeys(v["method"] for v in self.model_variants(model) if v.get("method")))

    def task_labels(self, model: str) -> list[str]:
        ids = {v["id"] for v in self.model_variants(model)}
        return [t["label"] for t in self.tasks if any(c["variant_id"] in ids and c.get("task_label") == t["label"]
                                                       for c in self.data["cells"])]

    def kind(self, label: str) -> str:
        return next((t.get("kind") for t in self.tasks if t["label"] == label), None) or "long_chain"

    def cell(self, vid: str, label: str) -> dict | None:
        return self.cells.get((vid, label))

    def top(self, vid: str, label: str) -> tuple[str | None, dict]:
        c = self.cell(vid, label)
        if not c or not c.get("largest_budget"):
            return None, {}
        return c["largest_budget"], c["budgets"][c["largest_budget"]]

    def top_accuracy(self, vid: str, label: str) -> float | None:
        return self.top(vid, label)[1].get("accuracy")


def title_suffix(model: str, models: list[str]) -> str:
    return f" — {model}" if len(models) > 1 else ""

def finish(fig: Figure, handles: dict, data: dict, model: str, family: str, suptitle: str, title: str,
           caption: str, header: list[str], rows: list[list]) -> Plot:
    """Legend, figure title and the Plot of one figure family for one model (its name added when several)."""
    legend(fig, handles)
    suffix = title_suffix(model, data["models"])
    fig.suptitle(suptitle + suffix, fontsize=12)
    return Plot(f"{family}-{plot_id(model)}", family, title + suffix, caption, fig, header, rows, model=model,
                name=title)


def absent(data: dict, model: str, family: str, title: str, reason: str, header: list[str] | None = None,
           rows: list[list] | None = None) -> Plot:
    """The Plot of a figure not drawn, with the one-line ``reason`` the reports print in its place."""
    return Plot(f"{family}-{plot_id(model)}", family, title + title_suffix(model, data["models"]), "", None,
                header or [], rows or [], reason=reason, model=model, name=title)


def settle(p: Plot, model: str) -> Plot:
    """The generic rule: a figure whose every panel is a no-data panel is absent, its reason their text(s)."""
    if not p.model:
        p.model = model
    if p.fig is None or not p.fig.axes:
        return p
    texts = [getattr(ax, NO_DATA_ATTR, None) for ax in p.fig.axes]
    if any(t is None for t in texts):
        return p
    p.fig.clear()   # free it now: nothing of it is shown
    p.fig = None
    p.reason = p.reason or "; ".join(dict.fromkeys(" ".join(t.split()) for t in texts))
    return p


def signal_tasks(ix: Index, model: str) -> tuple[list[str], str | None]:
    """The model's tasks where some variant has a non-zero accuracy at some budget, and, when none is left,
    why (a task at 0 everywhere, or with no accuracy at all, has nothing to compare)."""
    tasks = ix.task_labels(model)
    kept, zero, missing = [], [], []
    for t in tasks:
        accs = [vals.get("accuracy") for v in ix.model_variants(model) for vals in
                ((ix.cell(v["id"], t) or {}).get("budgets") or {}).values()]
        accs = [a for a in accs if a is not None]
        (kept if any(accs) else zero if accs else missing).append(t)
    if kept:
        return kept, None
    if not tasks:
        return [], "no task evaluated for this model"
    parts = ([f"accuracy is 0 for every variant on {', '.join(zero)}"] if zero else []) + (
        [f"no result on {', '.join(missing)}"] if missing else [])
    return [], "; ".join(parts) + ": nothing to compare"


def layers_axis(ax, ns) -> None:
    ns = sorted({0, *ns})
    ax.xaxis.set_major_locator(FixedLocator(ns))
    ax.set_xlim(ns[0] - 0.3, ns[-1] + 0.3)



# the registry ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FigureFamily:
    id: str                                  # section anchor and plot id prefix
    heading: str                             # the section heading in both reports
    order: int                               # page order among the figure sections
    draw: Callable[[dict, str], Plot]        # (collected data, model label) -> one Plot per model


# Every module of this package but base is a family (found on the first look-up); plug-ins: prunescale.figures.
FIGURES: Registry[FigureFamily] = Registry("figure", package="prunescale.report.figures", group="prunescale.figures",
                                           skip=("base",))


def register_figure(id: str, heading: str, order: int):
    """Decorator for a figure function ``(data, model) -> Plot``: one section of the report."""
    def add(fn):
        if id in FIGURES._store:
            raise ValueError(f"figure {id!r} is already registered by {FIGURES._store[id].draw.__name__}")
        FIGURES.add(id, FigureFamily(id, heading, order, fn))
        return fn
    return add


def plot_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# rendering -------------------------------------------------------------------------------------------------------
def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline <svg> element: no XML header, no namespace or metadata URLs, ids made unique."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    if ids:
        alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        pat = re.compile(r'(\sid="|href="#|url\(#)(' + alternatives + r')(?=["\)])')
        svg = pat.sub(lambda mt: f"{mt.group(1)}{prefix}-{mt.group(2)}", svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{prefix}" ', 1)
    return svg


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()

