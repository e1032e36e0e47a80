"""``jjj-sim-validate``: the model against reported figures (a Hydra app).

    jjj-sim-validate                                      # calibration/targets.yaml, 10 seeds, full scale
    jjj-sim-validate figures=my_figures.yaml seeds=20 population.scale=0.1 scenario=baseline
    jjj-sim-validate figures=my_figures.yaml 'runs=[outputs/baseline/A,outputs/baseline/B]'
    jjj-sim-validate hydra.run.dir=out/validation

``figures`` is a file in the schema of calibration/targets.yaml (jjj_sim.runner.targets):
each figure measures an indicator, a park's firms or a ratio of two indicators in one year,
and is ``approx``, ``at_least``, ``at_most`` or a ``range``. The model runs over ``seeds``
replication seeds spawned from ``seed`` (the same as the calibration's), to at least the
latest figure year; or, with ``runs``, the given finished run directories are scored instead
(their summary.json). Each figure gets the simulated mean, the 5-95% band and min/max over
the runs; ``met`` is judged on the mean; ``in_band`` says whether the reported value (for a
range: some part of it) lies in the 5-95% band.

validation.json ("park_record") and validation.md ("Parks: the record beside the model")
also hold every reported park figure of jjj_sim/data/park_record.csv, its definition and date,
the model field and year it is compared with and the range it supports, beside the simulated
mean and 5-95% band over the runs and whether the mean lies in the range.

Writes into the run directory, all or nothing (``validation.json`` last):
``validation.json``, ``validation.md``, ``plots/<series>.png`` (the simulated mean and band
over every year of the run, the reported figures as points) and, when the model ran,
``config_resolved.yaml``; with ``forecast=PATH`` (a file {series: [{id, what, years, indicator |
park+field | ratio}]}, e.g. experiments/forecast.yaml) also ``forecast.json`` and ``forecast.md``:
each series' mean and 90% band in each year asked. Bad input is refused with one line
``jjj-sim-validate: error: FIELD: message`` and exit code 2, before anything is written.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from jjj_sim import __version__
from jjj_sim.core.checks import count
from jjj_sim.core.errors import ConfigError, OutputError
from jjj_sim.core.resources import CONF_SEARCH, find
from jjj_sim.core.seeds import replication_seeds
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR
from jjj_sim.reporting.words import plot_label
from jjj_sim.runner import config
from jjj_sim.runner.compose import precheck
from jjj_sim.runner.entry import EXIT_BAD_INPUT, EXIT_WRITE
from jjj_sim.runner.entry import fail as entry_fail
from jjj_sim.runner.outputs import summary
from jjj_sim.runner.park_record import FIELDS
from jjj_sim.runner.rundir import discard_if_empty, staged
from jjj_sim.runner.targets import (
    Target,
    load_targets,
    parse_entry,
    read_entries,
)


PROG = "jjj-sim-validate"
MARKER = "validation.json"
_HYDRA_FILES = {".hydra", "validate.log", f"{PROG}.log"}
log = logging.getLogger("jjj_sim.tools.validate")


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One line ``jjj-sim-validate: error: message`` and exit with ``code`` (2: bad input)."""
    entry_fail(message, PROG, code)


# ---------------------------------------------------------------------------- settings
class Settings:
    """The checked keys of conf/validate.yaml (raises ConfigError naming the field)."""

    def __init__(self, cfg: DictConfig):
        self.figures_file = find(cfg.figures, "figures")
        self.figures: list[Target] = load_targets(self.figures_file, MAX_END_YEAR, field="figures")
        self.seeds = count(cfg.get("seeds"), "seeds", "seeds")
        self.forecast = load_forecast(cfg.get("forecast"))
        years = [t.year for t in self.figures] + [y for f in self.forecast for y in f.years]
        self.end_year = max(int(cfg.run.end_year), max(years))
        self.run_dirs = _run_dirs(cfg.get("runs"))
        # given runs: every one must be finished and hold every figure's value
        self.given = [_read_run(d, f"runs[{i}]", self.figures) for i, d in enumerate(self.run_dirs)]


def _run_dirs(runs) -> list[Path]:
    if runs is None:
        return []
    if isinstance(runs, str):
        runs = [runs]
    if not isinstance(runs, (list, ListConfig)) or not runs:
        raise ConfigError("runs", f"expected a list of run directories, got {runs!r}")
    out = []
    for i, d in enumerate(runs):
        if not isinstance(d, str) or not d.strip():
            raise ConfigError(f"runs[{i}]", f"expected a run directory, got {d!r}")
        out.append(Path(d).expanduser())
    return out


def _read_run(d: Path, field: str, figures: list[Target]) -> dict:
    p = d / "summary.json"
    if not p.is_file():
        raise ConfigError(field, f"{d} holds no summary.json (not a finished run)")
    try:
        result = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(field, f"{p} is not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(result, dict):
        raise ConfigError(field, f"{p} does not hold a run summary")
    for t in figures:
        try:
            t.simulated(result)
        except KeyError as e:
            raise ConfigError(field, f"{p}: {e.args[0]} (needed by figure {t.id})") from None
    return result


# ---------------------------------------------------------------------------- forecast
@dataclass(frozen=True)
class ForecastSeries:
    """A series to forecast: what it measures (as a target does) and the years."""

    id: str
    what: str
    years: tuple[int, ...]
    probe: Target  # measures the series; its reported fields are unused

    def values(self, result: dict) -> dict[int, float]:
        """{year: value} of the series in each of ``years``, from one run's summary."""
        v = self.probe.series_values(result)
        return {y: float(v[str(y)]) for y in self.years}


def load_forecast(path) -> list[ForecastSeries]:
    """``forecast``: a YAML file {series: [{id, what, years, indicator | park+field | ratio}]}."""
    if path in (None, ""):
        return []
    name, entries = read_entries(find(path, "forecast"), "series", "forecast")
    out, seen = [], set()
    for i, e in enumerate(entries):
        where = f"{name}:series[{i}]"
        if not isinstance(e, dict) or e.get("id") in (None, ""):
            raise ConfigError(where, "each series is a mapping with an 'id'")
        sid = str(e["id"])
        where = f"{name}:{sid}"
        if sid in seen:
            raise ConfigError(f"{where}.id", "duplicate id")
        seen.add(sid)
        years = e.get("years")
        if (not isinstance(years, list) or not years
                or not all(isinstance(y, int) and not isinstance(y, bool) and START_YEAR <= y <= MAX_END_YEAR
                           for y in years)):
            raise ConfigError(f"{where}.years", f"expected a list of years {START_YEAR}-{MAX_END_YEAR}, got {years!r}")
        # what it measures, checked by the targets' own rules (a probe target at the first year)
        probe = {k: e[k] for k in ("indicator", "park", "field", "ratio") if k in e}
        probe.update(id=sid, year=int(years[0]), value=1, kind="approx", tolerance=0.5, source="forecast",
                     date="-", quote="-")
        target = parse_entry(probe, where)
        out.append(ForecastSeries(sid, str(e.get("what", "")), tuple(int(y) for y in years), target))
    return out


def forecast_table(series: list[ForecastSeries], results: list[dict]) -> list[dict]:
    """forecast.json's rows: for every series and year asked, the mean and 5-95% band over the runs."""
    rows = []
    for f in series:
        vals = [f.values(r) for r in results]
        for y in f.years:
            v = np.array([x[y] for x in vals], dtype=float)
            rows.append({"id": f.id, "what": f.what, "measures": f.probe.measures, "unit": f.probe.unit, "year": y,
                         "mean": _num(float(v.mean())), "p05": _num(float(np.percentile(v, 5))),
                         "p95": _num(float(np.percentile(v, 95)))})
    return rows


def forecast_markdown(rows: list[dict], how: str) -> str:
    """forecast.md: the forecast rows as a table, after ``how`` (what ran)."""
    lines = ["# Forecast", "", how, "", "| id | series | year | mean | 90% band | unit |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['id']} | {r['what'] or _measures_text(r)} | {r['year']} | {_fmt(r['mean'])} | "
                     f"{_fmt(r['p05'])}-{_fmt(r['p95'])} | {r['unit']} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- runs
def run_seeds(cfg: DictConfig, s: Settings) -> tuple[list[dict], list[int]]:
    """(summaries, seeds): the model run to ``s.end_year`` on ``s.seeds`` replication seeds
    spawned from ``cfg.seed``, one after another in this process."""
    # lazy: the model (mesa, scipy) takes about 0.8 s of start-up (benchmarks/startup.py), which a
    # refused input or scoring given runs (runs=[...]) does not need
    from jjj_sim.runner.simulate import simulate

    base = OmegaConf.to_container(cfg, resolve=True)
    base["run"].update(end_year=s.end_year, record_events=False, plots=False)
    seeds = replication_seeds(int(cfg.seed), s.seeds)
    results = []
    for i, seed in enumerate(seeds):
        c = OmegaConf.create(base)
        c.seed = seed
        t0 = time.perf_counter()
        model, _ = simulate(c)
        results.append(summary(model, c))
        del model
        log.info("seed %d of %d (%d) done in %.1f s", i + 1, len(seeds), seed, time.perf_counter() - t0)
    return results, seeds


# ---------------------------------------------------------------------------- scoring
def _num(x) -> float | None:
    """A float for JSON (None where not finite)."""
    return float(x) if x is not None and math.isfinite(x) else None


def score(figures: list[Target], results: list[dict]) -> list[dict]:
    """Every figure against the runs' values: mean, 5-95% band, min/max, met, in_band."""
    out = []
    for t in figures:
        v = np.array([t.simulated(r) for r in results], dtype=float)
        mean, p05, p95 = float(v.mean()), float(np.percentile(v, 5)), float(np.percentile(v, 95))
        if t.kind == "range":
            in_band = p05 <= t.high and t.low <= p95
        else:
            in_band = p05 <= t.value <= p95
        out.append({
            "id": t.id, "what": t.what, "measures": t.measures, "series": t.series, "unit": t.unit,
            "year": t.year, "kind": t.kind, "reported": t.value, "low": t.low, "high": t.high,
            "tolerance": t.tolerance, "mean": _num(mean), "p05": _num(p05), "p95": _num(p95),
            "min": _num(v.min()), "max": _num(v.max()), "met": bool(t.met(mean)), "in_band": bool(in_band),
            "share_of_runs_met": float(np.mean([t.met(x) for x in v])), "values": [_num(x) for x in v],
            "source": t.source, "date": t.date,
        })
    return out


# ---------------------------------------------------------------------------- report
def _fmt(x) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def reported_text(f: dict) -> str:
    """A scored figure's reported value in words: ``about X (±T%)``, ``A to B``, ``at least X`` or
    ``at most X``."""
    if f["kind"] == "range":
        return f"{_fmt(f['low'])} to {_fmt(f['high'])}"
    if f["kind"] == "approx":
        return f"about {_fmt(f['reported'])} (±{f['tolerance']:.0%})"
    return f"{'at least' if f['kind'] == 'at_least' else 'at most'} {_fmt(f['reported'])}"


def _measures_text(f: dict) -> str:
    m = f["measures"]
    if "park" in m:
        return f"park {m['park']}: {m['field']}"
    if "ratio" in m:
        return f"{m['ratio'][0]} / {m['ratio'][1]}"
    return m["indicator"]


def report_markdown(rep: dict) -> str:
    """validation.md: every figure's reported and simulated values, whether it is met and in the band,
    the count met, and the park record."""
    if rep["runs"] is None:
        how = (f"jjj-sim {rep['version']}, scenario {rep['scenario']}, population scale {rep['population_scale']}, "
               f"{len(rep['seeds'])} seeds spawned from seed {rep['seed']}, 2014-{rep['end_year']}.")
    else:
        how = f"jjj-sim {rep['version']}; {len(rep['runs'])} given run(s): " + ", ".join(r["dir"] for r in rep["runs"]) + "."
    lines = ["# Validation against reported figures", "", f"Figures: `{rep['figures_file']}`. {how}", "",
             "| id | measures (year) | reported | simulated mean (90% band) | met | reported in band | source |",
             "|---|---|---|---|---|---|---|"]
    for f in rep["figures"]:
        lines.append(f"| {f['id']} | {_measures_text(f)} ({f['year']}) | {reported_text(f)} | {_fmt(f['mean'])} "
                     f"({_fmt(f['p05'])}-{_fmt(f['p95'])}) | {'yes' if f['met'] else 'NO'} | "
                     f"{'yes' if f['in_band'] else 'no'} | {f['source']} ({f['date']}) |")
    lines += ["", f"{rep['met']} of {rep['total']} figures met (judged on the mean over runs)."]
    if rep.get("park_record"):
        lines += park_record_markdown(rep["park_record"], len(rep["seeds"] or rep["runs"] or []))
    return "\n".join(lines) + "\n"


def short_table(rep: dict) -> str:
    """The scored figures as a plain-text table for the terminal."""
    w = max([2] + [len(f["id"]) for f in rep["figures"]])
    lines = [f"{'id':{w}s} {'measures (year)':58s} {'reported':>24s} {'simulated mean (90% band)':>34s}  met"]
    for f in rep["figures"]:
        band = f"{_fmt(f['mean'])} ({_fmt(f['p05'])}-{_fmt(f['p95'])})"
        lines.append(f"{f['id']:{w}s} {(_measures_text(f) + ' (' + str(f['year']) + ')')[:58]:58s} "
                     f"{reported_text(f):>24s} {band:>34s}  {'yes' if f['met'] else 'NO'}")
    lines.append(f"{rep['met']} of {rep['total']} figures met")
    return "\n".join(lines)


def write_plots(out: Path, figures: list[Target], results: list[dict]) -> list[Path]:
    """One plot per measured series: simulated mean and 5-95% band by year, reported figures as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator


    out.mkdir(parents=True, exist_ok=True)
    by_series: dict[str, list[Target]] = {}
    for t in figures:
        by_series.setdefault(t.series, []).append(t)
    paths = []
    for series, ts in by_series.items():
        t0 = ts[0]
        per_run = [t0.series_values(r) for r in results]
        years = sorted(set.intersection(*(set(p) for p in per_run)), key=int)
        arr = np.array([[p[y] for y in years] for p in per_run], dtype=float)
        x = [int(y) for y in years]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.fill_between(x, np.percentile(arr, 5, axis=0), np.percentile(arr, 95, axis=0), color="tab:blue",
                        alpha=0.25, label=f"simulated 5-95% ({len(results)} runs)")
        ax.plot(x, arr.mean(axis=0), color="tab:blue", marker="o", ms=3, label="simulated mean")
        labelled = set()
        for t in ts:
            style = {"approx": ("o", "reported (about)"), "range": ("s", "reported (range)"),
                     "at_least": ("^", "reported (at least)"), "at_most": ("v", "reported (at most)")}[t.kind]
            label = None if t.kind in labelled else style[1]
            labelled.add(t.kind)
            if t.kind == "range":
                ax.errorbar([t.year], [t.value], yerr=[[t.value - t.low], [t.high - t.value]], fmt=style[0],
                            color="k", capsize=5, label=label, zorder=3)
            else:
                ax.plot([t.year], [t.value], style[0], color="k", ms=8, label=label, zorder=3)
            ax.annotate(t.id, (t.year, t.value), textcoords="offset points", xytext=(6, 4), fontsize=8)
        if t0.park is not None:
            name = results[0].get("parks", {}).get(t0.park, {}).get("name") or t0.park
            title = f"{name}: {t0.field}"
        elif t0.ratio is not None:
            title = f"{t0.ratio[0]} / {t0.ratio[1]}"
        else:
            desc = plot_label(t0.indicator)[0]  # without the Chinese terms: the plot's font has no CJK glyphs
            title = desc if len(desc) <= 70 else t0.indicator
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("year (year-end values)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(t0.unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / f"{series}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


# ---------------------------------------------------------------------------- the park record
def _park_stat(results: list[dict], fn) -> dict:
    """A summary.json-shaped ``parks`` mapping of ``fn`` (mean, a percentile) over the runs'
    values of each park, field and year (those every run has)."""
    out: dict = {}
    parks = set.intersection(*(set(r.get("parks") or {}) for r in results)) if results else set()
    for pid in sorted(parks):
        entries = [r["parks"][pid] for r in results]
        out[pid] = {"name": entries[0].get("name", pid)}
        for f in FIELDS:
            series = [e.get(f) or {} for e in entries]
            years = set.intersection(*(set(x) for x in series))
            out[pid][f] = {y: float(fn(np.array([x[y] for x in series], dtype=float))) for y in years}
    return out


def _run_end(results: list[dict]) -> int | None:
    """The last year every run reached (from its "years", else its indicators' or parks' years)."""
    ends = []
    for r in results:
        years = [int(y) for y in r.get("years") or []]
        if not years:
            for series in (*(r.get("indicators") or {}).values(),
                           *(v for p in (r.get("parks") or {}).values() for v in p.values() if isinstance(v, dict))):
                years += [int(y) for y in series]
        if years:
            ends.append(max(years))
    return min(ends) if ends else None


def park_record_table(results: list[dict]) -> list[dict]:
    """Every reported park figure (jjj_sim/data/park_record.csv) beside the runs' mean and
    5-95% range: JSON-able rows (numbers None where the runs do not reach the figure's year)."""
    from jjj_sim.reporting.report import park_record  # here: 1.1 s that a refused input or --help does not wait for

    mean = _park_stat(results, np.mean)
    low = _park_stat(results, lambda v: np.percentile(v, 5))
    high = _park_stat(results, lambda v: np.percentile(v, 95))
    rows = []
    for r in park_record(mean, _run_end(results), low, high):
        rows.append({"id": r["id"], "park": r["park"], "name": r["name"], "reported": r["reported"],
                     "definition": r["definition"], "as_of": r["as_of"], "field": r["field"], "year": r["year"],
                     "low": r["low"], "high": r["high"], "use": r["use"], "source": r["text"]["source"],
                     "mean": _num(r["simulated"]), "p05": _num(r["p05"]), "p95": _num(r["p95"]),
                     "within": r["within"], "within_text": r["text"]["within"], "text": r["text"]})
    return rows


def park_record_markdown(rows: list[dict], n_runs: int) -> list[str]:
    """The "Parks: the record beside the model" section of validation.md."""
    from jjj_sim.reporting.report import RECORD_NOTES  # here, as in park_record_table
    from jjj_sim.reporting.report import md_escape as esc

    lines = ["", "## Parks: the record beside the model", "",
             f"Every reported park figure beside the simulated mean over {n_runs} run(s) (90% band: 5-95% of runs).",
             "", "| park | reported figure | definition | as of | model field & year | range the figure supports | "
             "simulated mean (90% band) | within range | use | source |",
             "|---|---|---|---|---|---:|---:|---|---|---|"]
    for r in rows:
        t = r["text"]
        sim = t["simulated"] + (f" ({t['seeds']})" if t["seeds"] else "")
        lines.append("| " + " | ".join(esc(x) for x in (t["park"], t["reported"], t["definition"], t["as_of"],
                                                         t["measure"], t["range"], sim, t["within"], t["use"],
                                                         t["source"])) + " |")
    lines += ["", *(esc(n) for n in RECORD_NOTES)]
    return lines


def build_report(cfg: DictConfig, s: Settings, results: list[dict], seeds: list[int] | None) -> dict:
    """validation.json's content: how the runs were made (seeds, or the given run directories when
    ``seeds`` is None), every figure scored, the number met, and the park record."""
    scored = score(s.figures, results)
    rep = {
        "version": __version__, "figures_file": str(s.figures_file),
        "scenario": str(cfg.scenario.name) if seeds is not None else None,
        "population_scale": float(cfg.population.scale) if seeds is not None else None,
        "seed": int(cfg.seed) if seeds is not None else None,
        "seeds": seeds, "end_year": s.end_year if seeds is not None else None,
        "runs": None if seeds is not None else [
            {"dir": str(d), "scenario": r.get("scenario"), "seed": r.get("seed"),
             "population_scale": r.get("population_scale")} for d, r in zip(s.run_dirs, results)],
        "met": sum(f["met"] for f in scored), "total": len(scored),
        "figures": scored,
        "park_record": park_record_table(results),
    }
    return rep


# ---------------------------------------------------------------------------- app
@hydra.main(version_base="1.3", config_path=CONF_SEARCH, config_name="validate")
def _app(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        if (run_dir / MARKER).exists():
            raise ConfigError("hydra.run.dir", f"{run_dir} already holds a finished validation; choose another directory")
        cfg = config.prepare(cfg, HydraConfig.get().overrides.task, tool=True)
        s = Settings(cfg)
    except ConfigError as e:
        discard_if_empty(run_dir, _HYDRA_FILES)
        fail(str(e))
    t0 = time.perf_counter()
    if s.given:
        results, seeds = s.given, None
        log.info("scoring %d figures on %d given run(s)", len(s.figures), len(results))
    else:
        log.info("running %d seeds to %d for %d figures", s.seeds, s.end_year, len(s.figures))
        results, seeds = run_seeds(cfg, s)
    rep = build_report(cfg, s, results, seeds)
    rep["seconds"] = round(time.perf_counter() - t0, 1)
    with staged(run_dir, last=MARKER) as st:
        write_plots(st / "plots", s.figures, results)
        (st / "validation.md").write_text(report_markdown(rep), encoding="utf-8")
        if s.forecast:
            rows = forecast_table(s.forecast, results)
            (st / "forecast.json").write_text(json.dumps(rows, indent=1, allow_nan=False), encoding="utf-8")
            (st / "forecast.md").write_text(forecast_markdown(rows, report_markdown(rep).splitlines()[2]),
                                            encoding="utf-8")
        if seeds is not None:  # the config the seeds ran with (end year raised to the latest figure)
            ran = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
            ran.run.end_year = s.end_year
            (st / "config_resolved.yaml").write_text(OmegaConf.to_yaml(ran), encoding="utf-8")
        (st / MARKER).write_text(json.dumps(rep, indent=1, allow_nan=False), encoding="utf-8")
    print(short_table(rep))
    print(f"outputs: {run_dir}")


def main() -> None:
    """``jjj-sim-validate``: refuse a run directory that holds a finished validation and check the
    config and figures before Hydra writes anything (one line: exit 2 for bad input, 1 when the
    directory cannot be made), then run the Hydra app. Flags go straight to Hydra."""
    argv = sys.argv[1:]
    # Flags (--help, --cfg, ...) go straight to Hydra.
    if not any(a.startswith("-") for a in argv):
        try:
            run_dir = next((a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")), None)
            if run_dir and (Path(run_dir) / MARKER).exists():
                raise ConfigError("hydra.run.dir",
                                  f"{run_dir} already holds a finished validation; choose another directory")
            precheck(argv, "validate", extra_check=Settings)
        except ConfigError as e:
            fail(str(e))
        except OutputError as e:  # the run directory cannot be made
            fail(str(e), EXIT_WRITE)
    _app()


if __name__ == "__main__":
    main()
