"""The dashboard's figures (matplotlib ``Figure`` without pyplot, so they are safe in a server's
threads and in worker processes): the two maps and the small time-series panels, and ``png``.

Maps as in ``jjj_sim.tools.compare.make_plots``: region colours from ``region_firms_from_outside:*``
for the what-if's levels, from the ``region_firms:*`` differences for the difference map; park
sizes from ``park_firms:*``, their fill from ``park_fill_pct:*`` / 100 (full where
``park_overflow_to_region:*`` > 0; parks without a physical limit have none:
``jjj_sim.reporting.words.map_fill``).
"""

from __future__ import annotations

import io
import textwrap

import pandas as pd

from jjj_sim.reporting.maps import map_figure
from jjj_sim.reporting.words import map_fill, plot_label

# Small time-series panels: the report's headline indicators that move with the levers.
PANELS = ("hebei_firms_attracted_cum", "xiongan_firms_from_beijing", "zgc_branches_tjhb",
          "relocations_out_of_beijing_cum", "beijing_campaign_exits_cum", "tech_contracts_bj_to_tjhb",
          "hebei_hightech_va_share", "firms_by_province_hebei")
COLOURS = {"reference": "#555555", "whatif": "#d95f02"}


def png(fig, dpi: int | None = None) -> bytes:
    """The figure as PNG bytes (at ``dpi``, default the figure's own)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi)
    return buf.getvalue()


def family(levels: pd.DataFrame, fam: str, scenario: str, year: int, col: str = "mean") -> dict[str, float]:
    """{id: value} of a family of indicators (``FAM:ID``) for ``scenario`` in ``year``, from the column
    ``col``."""
    sel = levels[(levels.scenario == scenario) & (levels.year == year) & levels.indicator.str.startswith(fam + ":")]
    return dict(zip(sel.indicator.str[len(fam) + 1:], sel[col].astype(float)))


def map_whatif(levels: pd.DataFrame, whatif: str, year: int):
    """The what-if's map in ``year``: firms attracted from other provinces per region, firms per park
    and the parks' fill."""
    return map_figure(
        family(levels, "region_firms_from_outside", whatif, year), family(levels, "park_firms", whatif, year),
        diverging=False, value_label="firms from other provinces (mean over seeds)",
        park_label="firms in the park", title=f"What-if: firms attracted from other provinces, end of {year}",
        park_fill=map_fill(family(levels, "park_fill_pct", whatif, year),
                           family(levels, "park_overflow_to_region", whatif, year)),
        dpi=90)


def map_difference(levels: pd.DataFrame, diffs: pd.DataFrame, whatif: str, reference: str, year: int):
    """The difference map in ``year``: what-if minus ``reference`` in firms per region (mean paired
    difference), with the what-if's parks and their fill."""
    return map_figure(
        family(diffs, "region_firms", whatif, year, "mean_diff"), family(levels, "park_firms", whatif, year),
        diverging=True, value_label=f"difference in firms located there (what-if - {reference})",
        park_label="firms in the park (what-if)", title=f"What-if minus {reference}: firms per region, end of {year}",
        park_fill=map_fill(family(levels, "park_fill_pct", whatif, year),
                           family(levels, "park_overflow_to_region", whatif, year)),
        dpi=90)


def _figure(nrows: int, ncols: int, size):
    # matplotlib (0.7 s) in the workers that draw, not in the server process
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def levels_panels(levels: pd.DataFrame, whatif: str, reference: str, panels=PANELS):
    """Levels over time: reference and what-if, mean over seeds with the 5-95% band of seeds."""
    fig, axes = _figure(2, 4, (15, 6.2))
    for ax, ind in zip(axes.ravel(), panels):
        for scen, colour, lab in ((reference, COLOURS["reference"], reference), (whatif, COLOURS["whatif"], "what-if")):
            d = levels[(levels.scenario == scen) & (levels.indicator == ind)].sort_values("year")
            ax.plot(d.year, d["mean"], color=colour, lw=1.6, label=lab)
            ax.fill_between(d.year, d.p05, d.p95, color=colour, alpha=0.18, lw=0)
        title, unit = plot_label(ind)
        ax.set_title(_wrap(title), fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Levels: mean over seeds, band = 5-95% of seeds", fontsize=10)
    return fig


def difference_panels(diffs: pd.DataFrame, whatif: str, reference: str, panels=PANELS):
    """What-if minus reference over time (paired by seed): mean with its 90% confidence band."""
    fig, axes = _figure(2, 4, (15, 6.2))
    for ax, ind in zip(axes.ravel(), panels):
        d = diffs[(diffs.scenario == whatif) & (diffs.indicator == ind)].sort_values("year")
        ax.plot(d.year, d.mean_diff, color=COLOURS["whatif"], lw=1.6)
        ax.fill_between(d.year, d.ci90_low, d.ci90_high, color=COLOURS["whatif"], alpha=0.3, lw=0)
        ax.axhline(0, color="k", lw=0.6)
        title, unit = plot_label(ind)
        ax.set_title(_wrap(title), fontsize=9)
        ax.set_ylabel(f"difference, {unit}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"What-if minus {reference} (same seeds): mean, band = 90% confidence interval", fontsize=10)
    return fig


def _wrap(text: str, width: int = 42) -> str:
    return "\n".join(textwrap.wrap(text, width)[:3])


def render(kind: str, levels: pd.DataFrame, diffs: pd.DataFrame, whatif: str, reference: str, year: int) -> bytes:
    """One figure as PNG bytes (a worker-process job)."""
    if kind == "map_whatif":
        fig = map_whatif(levels, whatif, year)
    elif kind == "map_diff":
        fig = map_difference(levels, diffs, whatif, reference, year)
    elif kind == "levels":
        fig = levels_panels(levels, whatif, reference)
    elif kind == "diffs":
        fig = difference_panels(diffs, whatif, reference)
    else:
        raise ValueError(kind)
    return png(fig)
