"""``jjj-sim-compare``: scenarios side by side, with uncertainty, against a reference.

    jjj-sim-compare                                   # experiments/scenarios.yaml
    jjj-sim-compare experiments/examples/xiongan_rail_compare.yaml --out out/cmp
    jjj-sim-compare --scenarios baseline,my_case.yaml --seeds 5

Scenarios (in the experiments file's ``scenarios:`` or ``--scenarios``) are known names
(``conf/scenario/``), paths to scenario files (relative to the experiments file; to the
working directory on the command line), or inline ``{name, description, base, overrides}``.
The first is the reference. Every scenario runs on the same seeds (common random numbers:
seeds spawned from one SeedSequence), so a scenario's difference from the reference is
computed seed by seed (paired). For each indicator and year the report gives the mean paired
difference with a 90% confidence interval for it (mean +- t(0.95, n-1) sd / sqrt(n)), and
the 5-95% range of the per-seed differences: totals, provinces, the 18 regions and the
parks (with capacity and fill where the record states a physical limit), and the parks' record
beside the model (jjj_sim/data/park_record.csv). Writes into the output directory (all or nothing):
runs.parquet (every run: scenario, seed, draw, indicator, year, value), differences.csv,
levels.csv, report.md, report.html (self-contained), compare_info.json and plots/. The runs go
through the runner's ``run_jobs``, which saves each in ``.jobs/`` so a killed comparison resumes.

``uncertainty: posterior`` (with ``draws: K``; ``posterior_file:`` defaults to the committed
calibration/fitted/baseline_posterior.parquet) adds parameter uncertainty: every scenario
also runs draws 0..K-1 of the calibration's posterior (jjj_sim/runner/posterior.py), each on the
same seeds, and posterior_differences.csv and the report give, beside the seed-only
intervals at the fitted point, the 5-95% range of the paired differences over draws and
seeds and the share of their variance that comes from the parameters
(runner.ensembles.posterior_differences).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from jjj_sim import __version__
from jjj_sim.core.checks import count, whole_number
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.core.timeline import START_YEAR
from jjj_sim.reporting.maps import map_figure
from jjj_sim.reporting.words import map_fill
from jjj_sim.reporting.words import plot_label as label
from jjj_sim.runner.compose import ScenarioSpec, scenario_specs
from jjj_sim.runner.ensembles import (
    paired_differences,
    posterior_differences,
    run_rows,
    summarise,
)
from jjj_sim.runner.entry import tool_errors
from jjj_sim.runner.files import load_experiment
from jjj_sim.runner.jobs import JOBS_DIR, run_jobs
from jjj_sim.runner.posterior import load as load_posterior
from jjj_sim.runner.rundir import new_output_dir, staged
from jjj_sim.sim.world import load_places, load_sectors

# the eight panels of the 2 x 4 figures: the report's headline (reporting.words.HEADLINE) with Hebei's
# firm stock but not Beijing's and Tianjin's
PANELS = ("hebei_firms_attracted_cum", "zgc_branches_tjhb", "beijing_campaign_exits_cum", "relocations_out_of_beijing_cum",
          "xiongan_firms_from_beijing", "hebei_hightech_va_share", "tech_contracts_bj_to_tjhb", "firms_by_province_hebei")
EXPERIMENT_KEYS = ("scenarios", "seeds", "seed", "population_scale", "end_year", "overrides", "description",
                   "uncertainty", "draws", "posterior_file")
UNCERTAINTY = ("seeds", "posterior")
# ---------------------------------------------------------------------------- plots
def _family(levels: pd.DataFrame, family: str, scenario: str, year: int) -> dict[str, float]:
    sel = levels[(levels.scenario == scenario) & (levels.year == year) & levels.indicator.str.startswith(family + ":")]
    return dict(zip(sel.indicator.str[len(family) + 1:], sel["mean"]))


def _family_diff(diffs: pd.DataFrame, family: str, scenario: str, year: int) -> dict[str, float]:
    sel = diffs[(diffs.scenario == scenario) & (diffs.year == year) & diffs.indicator.str.startswith(family + ":")]
    return dict(zip(sel.indicator.str[len(family) + 1:], sel["mean_diff"]))


def make_plots(out: Path, levels: pd.DataFrame, diffs: pd.DataFrame, names: list[str], year: int) -> dict[str, Path]:
    """The report's figures, titled in words with units: {title: png path}."""
    import matplotlib  # here, not at the top: pyplot adds about a second to every command's start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    images = _plot_maps(plt, out, levels, diffs, names, year)
    if len(names) > 1:
        images.update(_plot_differences(plt, out, diffs, names))
    images.update(_plot_levels(plt, out, levels, names))
    images.update(_plot_parks(plt, out, levels, names, year))
    return images


def _plot_maps(plt, out: Path, levels: pd.DataFrame, diffs: pd.DataFrame, names: list[str], year: int) -> dict:
    """Maps: firms attracted in the reference, and each scenario's difference from it."""
    ref = names[0]
    images = {}
    title = f"Map: firms attracted from other provinces, end of {year} ({ref})"
    fig = map_figure(_family(levels, "region_firms_from_outside", ref, year), _family(levels, "park_firms", ref, year),
                     diverging=False, value_label="firms from other provinces (mean over seeds)",
                     park_label="firms in the park", title=title,
                     park_fill=map_fill(_family(levels, "park_fill_pct", ref, year),
                                        _family(levels, "park_overflow_to_region", ref, year)),
                     path=out / "map.png")
    plt.close(fig)
    images[title] = out / "map.png"
    for i, s in enumerate(names[1:], 1):
        title = f"Map: {s} minus {ref}, firms in each region and park, end of {year}"
        fig = map_figure(_family_diff(diffs, "region_firms", s, year), _family(levels, "park_firms", s, year),
                         diverging=True, value_label=f"difference in firms located there ({s} - {ref})",
                         park_label=f"firms in the park ({s})", title=title,
                         park_fill=map_fill(_family(levels, "park_fill_pct", s, year),
                                            _family(levels, "park_overflow_to_region", s, year)),
                         path=out / f"map_diff_{i}.png")
        plt.close(fig)
        images[title] = out / f"map_diff_{i}.png"
    return images


def _plot_differences(plt, out: Path, diffs: pd.DataFrame, names: list[str]) -> dict:
    """The headline indicators' differences from the reference over time, with bands."""
    ref = names[0]
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for ax, ind in zip(axes.ravel(), PANELS):
        for s in names[1:]:
            d = diffs[(diffs.scenario == s) & (diffs.indicator == ind)].sort_values("year")
            line, = ax.plot(d.year, d.mean_diff, label=s, lw=1.5)
            ax.fill_between(d.year, d.seed_p05, d.seed_p95, color=line.get_color(), alpha=0.15)
            ax.fill_between(d.year, d.ci90_low, d.ci90_high, color=line.get_color(), alpha=0.35)
        ax.axhline(0, color="k", lw=0.6)
        title, unit = label(ind)
        ax.set_title(title, fontsize=9, wrap=True)
        ax.set_ylabel(f"difference, {unit}")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Difference from {ref}: mean over seeds, dark band 90% CI of the mean, light band 5-95% of seeds")
    fig.tight_layout()
    fig.savefig(out / "differences.png", dpi=100)
    plt.close(fig)
    return {f"Differences from {ref} over time": out / "differences.png"}


def _plot_levels(plt, out: Path, levels: pd.DataFrame, names: list[str]) -> dict:
    """The headline indicators over time, every scenario, with the seeds' 5-95% band."""
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for ax, ind in zip(axes.ravel(), PANELS):
        for s in names:
            d = levels[(levels.scenario == s) & (levels.indicator == ind)].sort_values("year")
            line, = ax.plot(d.year, d["mean"], label=s, lw=1.5)
            ax.fill_between(d.year, d.p05, d.p95, color=line.get_color(), alpha=0.15)
        title, unit = label(ind)
        ax.set_title(title, fontsize=9, wrap=True)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Scenarios: mean over seeds, band 5-95% of seeds")
    fig.tight_layout()
    fig.savefig(out / "timeseries.png", dpi=100)
    plt.close(fig)
    return {"Indicators over time, every scenario": out / "timeseries.png"}


def _plot_parks(plt, out: Path, levels: pd.DataFrame, names: list[str], year: int) -> dict:
    """Firms per park in each scenario, with a capacity marker only where the record states a
    physical limit (no park_capacity rows otherwise)."""
    ref = names[0]
    places = load_places(load_sectors())
    pname = {places.ids[i]: places.names[i] for i in places.parks}
    firms = pd.DataFrame({s: _family(levels, "park_firms", s, year) for s in names})
    firms = firms.sort_values(ref)
    cap = pd.Series(_family(levels, "park_capacity", ref, year), dtype=float).reindex(firms.index)
    limited = [i for i, c in enumerate(cap) if pd.notna(c) and c < float("inf")]
    fig, ax = plt.subplots(figsize=(11, 8))
    firms.rename(index=pname).plot.barh(ax=ax, width=0.8)
    if limited:
        ax.scatter(cap.iloc[limited], limited, marker="|", s=300, color="k", zorder=3,
                   label="capacity (parks with a physical limit)")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlabel(f"firms in the park at end of {year}, mean over seeds (symmetric log scale)")
    ax.set_title("Firms per park; capacity where the record states a physical limit\n"
                 "(a full park sends further choosers to its region; the others have no limit)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=7, frameon=False)  # not over a bar
    fig.tight_layout()
    fig.savefig(out / "parks.png", dpi=100)
    plt.close(fig)
    return {"Parks: firms, and capacity where there is a physical limit": out / "parks.png"}


def _run_job(job: tuple) -> pd.DataFrame:
    spec, seed, common, draw = job
    runs = pd.DataFrame(run_rows(spec, seed, common if draw is None else [*common, f"params_draw={draw}"]))
    runs["draw"] = pd.array([draw] * len(runs), dtype="Int64")  # missing: the fitted point
    return runs


def _uncertainty(exp: dict, base_dir: Path | None) -> tuple[str, int, list[str]]:
    """(kind, number of posterior draws, overrides naming the posterior file)."""
    kind = exp.get("uncertainty", "seeds")
    if kind not in UNCERTAINTY:
        raise ConfigError("uncertainty", f"expected one of {', '.join(UNCERTAINTY)}, got {kind!r}")
    for key in ("draws", "posterior_file"):
        if kind == "seeds" and exp.get(key) is not None:
            raise ConfigError(key, "only with uncertainty: posterior")
    if kind == "seeds":
        return kind, 0, []
    draws = count(exp.get("draws", 20), "draws", "draws", 2)
    extra = []
    if exp.get("posterior_file") is not None:
        pf = Path(str(exp["posterior_file"])).expanduser()
        if not pf.is_absolute() and base_dir is not None and (base_dir / pf).exists():
            pf = base_dir / pf
        extra.append(f"posterior_file={pf}")
    return kind, draws, extra


# ---------------------------------------------------------------------------- main
def _settings(exp: dict) -> tuple[int, int, float, int, list[str]]:
    n_seeds = count(exp.get("seeds", 10), "seeds", "seeds", 2)
    seed = exp.get("seed", 2014)
    whole_number(seed, "seed", 0)
    scale = exp.get("population_scale", 0.1)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ConfigError("population_scale", f"expected a number, got {scale!r}")
    end_year = exp.get("end_year", 2035)
    extra = exp.get("overrides") or []
    if isinstance(extra, str) or not isinstance(extra, list):
        raise ConfigError("overrides", "expected a list of overrides such as ['params.choice.beta_incentive=1.0']")
    for o in extra:
        if str(o).split("=", 1)[0].lstrip("+~") == "scenario":
            raise ConfigError("overrides", f"'{o}': name scenarios under scenarios:, not in the common overrides")
    return n_seeds, seed, scale, end_year, [str(o) for o in extra]


def compare(exp: dict, out: Path, workers: int, base_dir: Path | None = None) -> dict:
    """Run every scenario of ``exp`` on the same seeds (and, with posterior uncertainty, at each draw)
    with ``run_jobs`` (results saved in ``out/.jobs`` for resuming), then write the tables, plots and
    report into ``out``, all or nothing. Returns the run's metadata (compare_info.json)."""
    # here: the report loads jinja2 (0.03 s), which a refused input does not need
    from jjj_sim.reporting.report import write_report

    specs: list[ScenarioSpec] = scenario_specs(exp.get("scenarios"), base_dir)
    if len(specs) < 2:
        raise ConfigError("scenarios", "list at least two scenarios: the reference first, then the what-ifs")
    n_seeds, seed, scale, end_year, extra = _settings(exp)
    kind, n_draws, posterior_args = _uncertainty(exp, base_dir)
    common = [f"population.scale={scale}", f"run.end_year={end_year}", "run.record_events=false",
              "run.plots=false", *extra, *posterior_args]
    for s in specs:  # check every scenario's config before running anything
        s.compose(common)
    if n_draws:  # and that the posterior file is there and readable
        specs[0].compose([*common, "params_draw=0"])
    seeds = replication_seeds(seed, n_seeds)
    # the fitted point on every seed (seed-only intervals), then each posterior draw on the same seeds
    jobs = [(s, sd, common, None) for s in specs for sd in seeds]
    jobs += [(s, sd, common, k) for k in range(n_draws) for s in specs for sd in seeds]
    t0 = time.perf_counter()

    def label(i: int, job: tuple) -> str:
        at = "the fitted point" if job[3] is None else f"posterior draw {job[3]}"
        return f"{job[0].name} seed {job[1]}, {at}"

    plan = {"version": __version__, "common": common, "seeds": seeds, "draws": n_draws,
            "scenarios": [{"name": s.name, "source": s.source, "overrides": list(s.overrides)} for s in specs]}
    frames = run_jobs(_run_job, jobs, workers, out / JOBS_DIR, plan, label)
    seconds = time.perf_counter() - t0
    names = [s.name for s in specs]
    runs = pd.concat(frames, ignore_index=True)
    fitted = runs[runs["draw"].isna()]
    levels = summarise(fitted)
    diffs = paired_differences(fitted, reference=names[0])
    post = posterior_differences(runs[runs["draw"].notna()], reference=names[0]) if n_draws else None
    meta = {"seeds": n_seeds, "seed_values": seeds, "master_seed": seed, "scale": scale, "start": START_YEAR,
            "end_year": end_year,
            "runs": len(jobs), "seconds": seconds, "version": __version__, "overrides": common,
            "uncertainty_kind": kind, "draws": n_draws,
            "scenarios": [{"name": s.name, "description": s.description, "source": s.source,
                           "overrides": list(s.overrides)} for s in specs]}
    if n_draws:
        pf = next((o.split("=", 1)[1] for o in posterior_args), None) or specs[0].compose(common).posterior_file
        p = load_posterior(pf)
        meta["posterior"] = {"file": str(p.path), "particles": p.size,
                             "draw_particles": [p.index(k) for k in range(n_draws)],
                             **{k: p.meta.get(k) for k in ("method", "generations", "epsilons", "simulations", "seed",
                                                           "population_scale")}}
    with staged(out, last="report.md") as staging:
        runs.to_parquet(staging / "runs.parquet", index=False)
        diffs.to_csv(staging / "differences.csv", index=False)
        levels.to_csv(staging / "levels.csv", index=False)
        if post is not None:
            post.to_csv(staging / "posterior_differences.csv", index=False)
        images = make_plots(staging / "plots", levels, diffs, names, end_year)
        write_report(staging, levels=levels, diffs=diffs,
                     scenarios=[{"name": s.name, "description": s.description} for s in specs],
                     images=images, meta=meta, posterior=post)
        (staging / "compare_info.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def main(argv=None) -> None:
    """``jjj-sim-compare``: read the experiments file, apply the command-line options, check them before
    the output directory is made, and ``compare`` into it (bad input: one line, exit 2)."""
    ap = argparse.ArgumentParser(prog="jjj-sim-compare", description="Compare scenarios against a reference (the first).")
    ap.add_argument("experiment", nargs="?", default="experiments/scenarios.yaml")
    ap.add_argument("--scenarios", help="comma-separated names or scenario files, the reference first (overrides the file)")
    ap.add_argument("--seeds", type=int, help="seeds per scenario (overrides the file)")
    ap.add_argument("--scale", type=float, help="population scale (overrides the file)")
    ap.add_argument("--end-year", type=int, help="last year (overrides the file)")
    ap.add_argument("--uncertainty", choices=UNCERTAINTY,
                    help="seeds: seed noise at the fitted point; posterior: also parameter draws (overrides the file)")
    ap.add_argument("--draws", type=int, help="posterior draws with --uncertainty posterior (overrides the file)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", help="output directory (default outputs/compare/<date>_<time>)")
    a = ap.parse_args(argv)
    with tool_errors("jjj-sim-compare", a.out):
        e = load_experiment(a.experiment, EXPERIMENT_KEYS)
        exp, base_dir = e.data, e.base_dir
        if a.scenarios:
            exp["scenarios"] = [s for s in a.scenarios.split(",") if s]
            base_dir = Path.cwd()
        for key, val in (("seeds", a.seeds), ("population_scale", a.scale), ("end_year", a.end_year),
                         ("uncertainty", a.uncertainty), ("draws", a.draws)):
            if val is not None:
                exp[key] = val
        count(a.workers, "--workers", "workers")
        _settings(exp)  # refused before the output directory is made
        _uncertainty(exp, base_dir)
        with new_output_dir(a.out, "compare") as out:
            meta = compare(exp, out, a.workers, base_dir)
    print(f"report: {out / 'report.html'} (one file to share; the same in report.md)")
    print(f"outputs: {out} ({meta['runs']} runs, {meta['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
