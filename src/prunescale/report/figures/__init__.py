"""The report's figures, drawn with matplotlib (no pyplot, no display) from the collected data.

Every module of this package but ``base`` is one figure family that registers itself (see
:func:`base.register_figure`); adding a figure is adding a module. Each figure function returns a
:class:`Plot`: the matplotlib figure plus the table of every number drawn in it, or an absent Plot (no figure,
a one-line reason) when there is nothing to draw.
"""

from __future__ import annotations

from .base import (FIGURES, FigureFamily, Plot, absent, legend_label, new_figure, no_data, plot_id, settle, to_png,
                   to_svg)

__all__ = ["FIGURES", "FigureFamily", "Plot", "absent", "all_figures", "figure_families", "legend_label", "new_figure", "no_data",
           "to_png", "to_svg"]


def figure_families() -> list[FigureFamily]:
    """Every registered figure family, in page order (imports the family modules on first use)."""
    return FIGURES.ordered()


def all_figures(data: dict) -> dict[str, list[Plot]]:
    """Every figure, by family id. A figure whose every panel is empty is absent (see :func:`base.settle`), and so
    is one that fails to draw, with the error as its reason: never a crash."""
    families = figure_families()
    out: dict[str, list[Plot]] = {f.id: [] for f in families}
    for model in data["models"] or [""]:
        for f in families:
            try:
                p = f.draw(data, model)
            except Exception as e:   # noqa: BLE001 - one broken figure must not lose the report
                p = Plot(f"{f.id}-{plot_id(model)}", f.id, f.heading, "", None,
                         reason=f"could not draw it: {type(e).__name__}: {' '.join(str(e).split())}"[:200])
            out[f.id].append(settle(p, model))
    return out
