"""Plots of a run (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR  # noqa: E402
from jjj_sim.reporting import maps  # noqa: E402
from jjj_sim.reporting.maps import map_figure  # noqa: E402
from jjj_sim.reporting.words import map_fill, place_name  # noqa: E402
from jjj_sim.reporting.words import plot_label as label  # noqa: E402

HEADLINE = ("hebei_firms_attracted_cum", "zgc_branches_tjhb", "beijing_campaign_exits_cum",
            "hebei_hightech_va_share", "tech_contracts_bj_to_tjhb", "tech_contract_turnover_bj_to_tjhb_bn_yuan")


def _has_limit(capacity) -> bool:
    """A park capacity that is a physical limit (None or inf in summary.json: no limit)."""
    return capacity is not None and math.isfinite(float(capacity))


def write_plots(out: Path, summary: dict) -> list[Path]:
    """Draw a run's plots from its summary (summary.json's content) into ``out`` (made if
    missing): headline.png, firms_by_province.png, parks.png and map.png; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    ind = summary["indicators"]
    paths = []
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, name in zip(axes.ravel(), HEADLINE):
        years = [int(y) for y in ind[name]]
        ax.plot(years, list(ind[name].values()), marker="o", ms=3)
        title, unit = label(name)
        ax.set_title(title, fontsize=9, wrap=True)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    fig.suptitle(f"jjj-sim, scenario {summary['scenario']} (seed {summary['seed']})")
    fig.tight_layout()
    paths.append(out / "headline.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for prov in ("beijing", "tianjin", "hebei"):
        s = ind[f"firms_by_province_{prov}"]
        ax.plot([int(y) for y in s], [v / 1e3 for v in s.values()], marker="o", ms=3, label=prov.capitalize())
    ax.set_ylabel("legal units, thousands")
    ax.set_title("Legal units by province (year end)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "firms_by_province.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    parks = summary["parks"]
    last = max(next(iter(parks.values()))["firms"], key=int)
    ids = sorted(parks, key=lambda k: parks[k]["firms"][last])
    names = [place_name(k) for k in ids]
    fig, ax = plt.subplots(figsize=(9.5, 7.5))
    ax.barh(names, [parks[k]["firms"][last] for k in ids], color="tab:blue", alpha=0.45,
            label="all firms in the park")
    ax.barh(names, [parks[k]["firms_from_beijing"][last] for k in ids], color="tab:blue",
            label="of which from Beijing")
    limited = [i for i, k in enumerate(ids) if _has_limit(parks[k].get("capacity"))]
    if limited:  # only parks with a physical limit in the record have a capacity
        ax.scatter([parks[ids[i]]["capacity"] for i in limited], limited, marker="|", s=200, color="k",
                   label="capacity (slots), where there is a physical limit")
    over = [parks[k]["overflow_to_region"][last] for k in ids]
    if any(over):
        ax.scatter(over, range(len(ids)), marker="x", color="tab:red", label="sent to the region when full (cumulative)")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlabel(f"firms at end of {last} (symmetric log scale)")
    ax.set_title("Firms per park, and capacity where the record states a physical limit")
    # the legend goes below the axes: inside them it covered a park's markers
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    paths.append(out / "parks.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    regions = summary["regions"]
    fig = map_figure({r: v["firms_from_outside"][last] for r, v in regions.items()},
                     {k: parks[k]["firms"][last] for k in parks}, diverging=False,
                     value_label="firms from other provinces", park_label="firms in the park",
                     title=f"Firms attracted from other provinces, end of {last} (scenario {summary['scenario']})",
                     park_fill=map_fill({k: 100.0 * parks[k]["firms"][last] / parks[k]["capacity"]
                                         if parks[k]["capacity"] > 0 else 0.0
                                         for k in parks if _has_limit(parks[k].get("capacity"))},
                                        {k: parks[k]["overflow_to_region"][last] for k in parks}),
                     path=out / "map.png")
    plt.close(fig)
    paths.append(out / "map.png")
    return paths


def _warm_up() -> None:
    """Draw a throw-away figure: matplotlib's first drawing fills its font, text-layout and tick
    caches (a few tenths of a second the real plots then do not pay)."""
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([START_YEAR, MAX_END_YEAR], [0, 1], marker="o")
    ax.set_title("warm-up")
    ax.set_ylabel("firms")
    ax.set_xscale("symlog", linthresh=100)
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def main() -> None:
    """``python -m jjj_sim.reporting.plots``: the plotting process of a run (outputs.PlotProcess). Gets
    ready while the model runs, then reads {"out": dir, "summary": {...}} from stdin."""
    maps.load_boundaries()
    _warm_up()
    text = sys.stdin.read()
    if text.strip():
        job = json.loads(text)
        write_plots(Path(job["out"]), job["summary"])


if __name__ == "__main__":
    main()
