"""The report's figures, drawn with matplotlib (no pyplot, no display) from the collected data.

Every module of this package but ``base`` is one figure family that registers itself (see
:func:`base.register_figure`); adding a figure is adding a module. Each figure function returns a
:class:`Plot`: the matplotlib figure plus the table of every number drawn in it.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import FigureFamily, Plot, legend_label, new_figure, no_data, plot_id, registered, to_png, to_svg

__all__ = ["FigureFamily", "Plot", "all_figures", "figure_families", "legend_label", "to_png", "to_svg"]


def figure_families() -> list[FigureFamily]:
    """Every registered figure family, in page order (imports the family modules on first use)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    return registered()


def all_figures(data: dict) -> dict[str, list[Plot]]:
    """Every figure, by family id; a figure that fails to draw becomes a 'could not draw' panel, not a crash."""
    families = figure_families()
    out: dict[str, list[Plot]] = {f.id: [] for f in families}
    for model in data["models"] or [""]:
        for f in families:
            try:
                out[f.id].append(f.draw(data, model))
            except Exception as e:   # noqa: BLE001 - one broken figure must not lose the report
                fig, axes = new_figure(1, 1)
                no_data(axes[0][0], f"could not draw this figure:\n{type(e).__name__}: {e}"[:200])
                out[f.id].append(Plot(f"{f.id}-{plot_id(model)}", f.id, f.id, "", fig))
    return out
