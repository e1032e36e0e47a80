"""``jjj-sim-compare``: scenarios side by side, with uncertainty, against the baseline.

    jjj-sim-compare                                   # experiments/scenarios.yaml
    jjj-sim-compare experiments/scenarios.yaml --seeds 20 --scale 1.0 --out out/cmp
    jjj-sim-compare --scenarios baseline,xiongan_acceleration --seeds 5

Every scenario runs on the same seeds (common random numbers: seeds spawned from one
SeedSequence), so a scenario's difference from the baseline is computed seed by seed
(paired). For each indicator and year the report gives the mean paired difference with a
90% confidence interval for it (mean +- t(0.95, n-1) sd / sqrt(n)), and the 5-95% range of
the per-seed differences. Writes into the output directory (all or nothing):
runs.parquet (every run: scenario, seed, indicator, year, value), differences.csv,
report.md, report.html and plots/.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from jjj_sim import __version__
from jjj_sim.cli import compose_config
from jjj_sim.config import resolve_path
from jjj_sim.errors import ConfigError
from jjj_sim.outputs import new_output_dir, staged

HEADLINE = ("hebei_firms_attracted_cum", "zgc_branches_tjhb", "beijing_campaign_exits_cum", "relocations_out_of_beijing_cum",
            "hebei_hightech_va_share", "tech_contracts_bj_to_tjhb", "firms_by_province_beijing", "firms_by_province_hebei")
PARK_PREFIX = "park_firms_from_bjtj:"


def load_experiment(path) -> dict:
    p = resolve_path(path, "experiment")
    if not p.is_file():
        raise ConfigError("experiment", f"no such file: {p}")
    try:
        exp = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(p.name, f"not valid YAML ({e.__class__.__name__})") from None
    if not isinstance(exp, dict):
        raise ConfigError(p.name, "expected a mapping")
    return exp


def _run(job: tuple) -> list[dict]:
    """One scenario x seed: tidy rows (scenario, seed, indicator, year, value)."""
    scenario, seed, overrides = job
    from jjj_sim import indicators
    from jjj_sim.cli import simulate

    cfg = compose_config([f"scenario={scenario}", f"seed={seed}", *overrides])
    model, _ = simulate(cfg)
    rows = [{"scenario": scenario, "seed": seed, "indicator": name, "year": int(y), "value": v}
            for name, series in indicators.year_end(model).items() for y, v in series.items()]
    for pid, park in indicators.parks_year_end(model).items():
        rows += [{"scenario": scenario, "seed": seed, "indicator": PARK_PREFIX + pid, "year": int(y), "value": v}
                 for y, v in park["firms_from_bjtj"].items()]
    return rows


def paired_differences(runs: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """Per scenario, indicator and year: mean paired difference from the baseline (same seed),
    its 90% confidence interval, and the 5-95% range of the per-seed differences."""
    base = runs[runs["scenario"] == baseline].set_index(["seed", "indicator", "year"])["value"]
    out = []
    for scen, df in runs[runs["scenario"] != baseline].groupby("scenario", sort=False):
        d = df.set_index(["seed", "indicator", "year"])["value"] - base
        d = d.dropna().rename("diff").reset_index()
        for (ind, year), g in d.groupby(["indicator", "year"], sort=False):
            x = g["diff"].to_numpy(dtype=float)
            n = len(x)
            mean = float(x.mean())
            half = float(stats.t.ppf(0.95, n - 1) * x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
            out.append({"scenario": scen, "indicator": ind, "year": int(year), "n_seeds": n, "mean_diff": mean,
                        "ci90_low": mean - half, "ci90_high": mean + half,
                        "seed_p05": float(np.percentile(x, 5)), "seed_p95": float(np.percentile(x, 95))})
    return pd.DataFrame(out)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby(["scenario", "indicator", "year"], sort=False)["value"]
    return pd.DataFrame({"mean": g.mean(), "p05": g.quantile(0.05), "p95": g.quantile(0.95)}).reset_index()


# ---------------------------------------------------------------------------- report
def _fmt(x: float) -> str:
    return f"{x:,.1f}" if abs(x) < 100 else f"{x:,.0f}"


def headline_table(levels: pd.DataFrame, diffs: pd.DataFrame, scenarios: list[str], year: int) -> list[str]:
    lines = ["| scenario | " + " | ".join(HEADLINE) + " |", "|---" * (len(HEADLINE) + 1) + "|"]
    for s in scenarios:
        cells = []
        for ind in HEADLINE:
            lv = levels[(levels.scenario == s) & (levels.indicator == ind) & (levels.year == year)]
            cell = _fmt(float(lv["mean"].iloc[0])) if len(lv) else "n/a"
            d = diffs[(diffs.scenario == s) & (diffs.indicator == ind) & (diffs.year == year)]
            if len(d):
                r = d.iloc[0]
                cell += f" ({r.mean_diff:+,.0f} [{r.ci90_low:+,.0f}, {r.ci90_high:+,.0f}])" if abs(r.mean_diff) >= 100 \
                    else f" ({r.mean_diff:+.2f} [{r.ci90_low:+.2f}, {r.ci90_high:+.2f}])"
            cells.append(cell)
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def make_plots(out: Path, levels: pd.DataFrame, scenarios: list[str], year: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jjj_sim.world import load_places, load_sectors

    out.mkdir(parents=True, exist_ok=True)
    names = []
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for ax, ind in zip(axes.ravel(), HEADLINE):
        for s in scenarios:
            d = levels[(levels.scenario == s) & (levels.indicator == ind)].sort_values("year")
            line, = ax.plot(d.year, d["mean"], label=s, lw=1.5)
            ax.fill_between(d.year, d.p05, d.p95, color=line.get_color(), alpha=0.15)
        ax.set_title(ind, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Scenarios: mean over seeds, band 5-95% of seeds")
    fig.tight_layout()
    fig.savefig(out / "timeseries.png", dpi=100)
    plt.close(fig)
    names.append("timeseries.png")

    parks = levels[levels.indicator.str.startswith(PARK_PREFIX) & (levels.year == year)].copy()
    parks["park"] = parks.indicator.str[len(PARK_PREFIX):]
    table = parks.pivot(index="park", columns="scenario", values="mean")[scenarios]
    table = table.sort_values(scenarios[0])
    fig, ax = plt.subplots(figsize=(10, 7))
    table.plot.barh(ax=ax, width=0.8)
    ax.set_xlabel(f"firms from Beijing and Tianjin at end of {year} (mean over seeds)")
    ax.set_title("Firms from Beijing and Tianjin per park")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "parks.png", dpi=100)
    plt.close(fig)
    names.append("parks.png")

    places = load_places(load_sectors())
    base = table[scenarios[0]]
    fig, ax = plt.subplots(figsize=(8, 8))
    reg = ~places.is_park
    ax.scatter(places.lon[reg], places.lat[reg], s=25, c="lightgrey", edgecolors="grey", zorder=1, label="region centre")
    for i in np.flatnonzero(reg):
        ax.annotate(places.ids[i], (places.lon[i], places.lat[i]), fontsize=6, color="grey", xytext=(3, -8),
                    textcoords="offset points")
    pk = places.parks
    vals = np.array([base.get(places.ids[i], 0.0) for i in pk])
    sc = ax.scatter(places.lon[pk], places.lat[pk], s=40 + 400 * vals / max(vals.max(), 1), c=vals, cmap="viridis",
                    edgecolors="k", zorder=2)
    for i in pk:
        ax.annotate(places.ids[i], (places.lon[i], places.lat[i]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    fig.colorbar(sc, ax=ax, shrink=0.6, label=f"firms from Beijing/Tianjin, end of {year} ({scenarios[0]})")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / np.cos(np.radians(39)))
    ax.set_title("Parks coloured by firms attracted (approximate coordinates)")
    fig.tight_layout()
    fig.savefig(out / "map.png", dpi=100)
    plt.close(fig)
    names.append("map.png")
    return names


def write_report(out: Path, levels: pd.DataFrame, diffs: pd.DataFrame, scenarios: list[str],
                 descriptions: dict, plots: list[str], meta: dict) -> None:
    year = meta["end_year"]
    lines = ["# Scenario comparison", "",
             f"jjj-sim {__version__}; {meta['seeds']} seeds per scenario (the same seeds in every scenario), "
             f"population scale {meta['scale']}, {meta['start']}-{year}; {meta['runs']} runs in {meta['seconds']:.0f} s.",
             "", "## Scenarios", ""]
    lines += [f"- **{s}**: {descriptions.get(s, '')}" for s in scenarios]
    for y in sorted({year, *[y for y in (2025, 2030) if y < year]}):
        lines += ["", f"## Headline indicators, {y}", "",
                  "Mean over seeds; in brackets the paired difference from the baseline with its 90% confidence "
                  "interval.", ""]
        lines += headline_table(levels, diffs, scenarios, y)
    lines += ["", "## Plots", ""] + [f"![{p}](plots/{p})" for p in plots]
    lines += ["", "Tables: `differences.csv` (every indicator and year), `runs.parquet` (every run)."]
    md = "\n".join(lines) + "\n"
    (out / "report.md").write_text(md, encoding="utf-8")
    body = []
    for line in lines:
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1:-1]
            body.append(f'<p><img src="{html.escape(src)}" style="max-width:100%"></p>')
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            tag = "th" if line.startswith("| scenario |") else "td"
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
        elif line.startswith("- "):
            body.append(f"<p>{html.escape(line[2:]).replace('**', '')}</p>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    page, in_table = [], False
    for b in body:
        if b.startswith("<tr>") and not in_table:
            page.append('<table border="1" cellspacing="0" cellpadding="3">')
            in_table = True
        if not b.startswith("<tr>") and in_table:
            page.append("</table>")
            in_table = False
        page.append(b)
    if in_table:
        page.append("</table>")
    (out / "report.html").write_text("<!doctype html><html><head><meta charset='utf-8'><title>jjj-sim scenarios</title>"
                                     "<style>body{font-family:sans-serif;max-width:1400px;margin:auto} td,th{font-size:12px}"
                                     "</style></head><body>" + "\n".join(page) + "</body></html>", encoding="utf-8")


# ---------------------------------------------------------------------------- main
def compare(exp: dict, out: Path, workers: int) -> dict:
    from jjj_sim.calibration.simulator import replication_seeds

    scenarios = list(exp.get("scenarios") or [])
    if not scenarios or scenarios[0] != "baseline":
        raise ConfigError("scenarios", "list the scenarios to compare, starting with baseline")
    n_seeds = exp.get("seeds", 10)
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 2:
        raise ConfigError("seeds", f"expected a whole number >= 2, got {n_seeds!r}")
    scale = exp.get("population_scale", 0.1)
    end_year = exp.get("end_year", 2035)
    extra = [str(o) for o in exp.get("overrides") or []]
    overrides = [f"population.scale={scale}", f"run.end_year={end_year}", "run.record_events=false",
                 "run.plots=false", *extra]
    descriptions = {}
    for s in scenarios:  # check every scenario's config before running anything
        descriptions[s] = str(compose_config([f"scenario={s}", *overrides]).scenario.get("description", ""))
    seeds = replication_seeds(int(exp.get("seed", 2014)), n_seeds)
    jobs = [(s, seed, overrides) for s in scenarios for seed in seeds]
    t0 = time.perf_counter()
    rows = []
    if workers <= 1:
        for i, j in enumerate(jobs):
            rows += _run(j)
            print(f"run {i + 1}/{len(jobs)}: {j[0]} seed {j[1]}", file=sys.stderr, flush=True)
    else:
        with ProcessPoolExecutor(workers) as ex:
            for i, r in enumerate(ex.map(_run, jobs)):
                rows += r
                print(f"run {i + 1}/{len(jobs)}: {jobs[i][0]} seed {jobs[i][1]}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    runs = pd.DataFrame(rows)
    levels = summarise(runs)
    diffs = paired_differences(runs)
    with staged(out, last="report.md") as staging:
        runs.to_parquet(staging / "runs.parquet", index=False)
        diffs.to_csv(staging / "differences.csv", index=False)
        plots = make_plots(staging / "plots", levels, scenarios, end_year)
        meta = {"seeds": n_seeds, "seed_values": seeds, "scale": scale, "start": 2014, "end_year": end_year,
                "runs": len(jobs), "seconds": seconds, "scenarios": scenarios, "overrides": overrides,
                "version": __version__}
        write_report(staging, levels, diffs, scenarios, descriptions, plots, meta)
        (staging / "compare_info.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="jjj-sim-compare", description="Compare scenarios against the baseline.")
    ap.add_argument("experiment", nargs="?", default="experiments/scenarios.yaml")
    ap.add_argument("--scenarios", help="comma-separated, starting with baseline (overrides the file)")
    ap.add_argument("--seeds", type=int, help="seeds per scenario (overrides the file)")
    ap.add_argument("--scale", type=float, help="population scale (overrides the file)")
    ap.add_argument("--end-year", type=int, help="last year (overrides the file)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", help="output directory (default outputs/compare/<date>_<time>)")
    a = ap.parse_args(argv)
    try:
        exp = load_experiment(a.experiment)
        if a.scenarios:
            exp["scenarios"] = a.scenarios.split(",")
        for key, val in (("seeds", a.seeds), ("population_scale", a.scale), ("end_year", a.end_year)):
            if val is not None:
                exp[key] = val
        with new_output_dir(a.out, "compare") as out:
            meta = compare(exp, out, a.workers)
    except ConfigError as e:
        print(f"jjj-sim-compare: error: {e}", file=sys.stderr)
        sys.exit(2)
    print((out / "report.md").read_text(encoding="utf-8"))
    print(f"outputs: {out} ({meta['runs']} runs, {meta['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
