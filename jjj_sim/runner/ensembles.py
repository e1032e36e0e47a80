"""Ensembles of runs: the tidy rows of a run (``result_rows``), levels over seeds
(``summarise``), paired differences from a reference with their confidence intervals
(``paired_differences``, ``posterior_differences``) and a summary.json-like mean
(``mean_summary``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from jjj_sim.runner.compose import ScenarioSpec
from jjj_sim.runner.simulate import simulate
from jjj_sim.sim import indicators

# place families in run rows: indicator ids "<family>:<place id>" (reporting.words.label names them)
PARK_FAMILIES = {"firms": "park_firms", "firms_from_beijing": "park_firms_from_beijing",
                 "firms_from_bjtj": "park_firms_from_bjtj", "overflow_to_region": "park_overflow_to_region"}



REGION_FAMILIES = {"firms": "region_firms", "firms_from_outside": "region_firms_from_outside"}



def result_rows(model, name: str, seed: int) -> list[dict]:
    """A finished model's year-end results as tidy rows (scenario, seed, indicator, year,
    value): every indicator, and per park and region its fields (``PARK_FAMILIES``,
    ``REGION_FAMILIES``), and for a park with a hard capacity its capacity and its fill in
    percent (a park without a physical limit, capacity None, has neither row)."""
    rows = [{"scenario": name, "seed": seed, "indicator": ind, "year": int(y), "value": v}
            for ind, series in indicators.year_end(model).items() for y, v in series.items()]
    for pid, park in indicators.parks_year_end(model).items():
        for fld, family in PARK_FAMILIES.items():
            rows += [{"scenario": name, "seed": seed, "indicator": f"{family}:{pid}", "year": int(y), "value": v}
                     for y, v in park[fld].items()]
        cap = park["capacity"]
        if cap is None or not math.isfinite(cap):  # no physical limit: no capacity, never full
            continue
        rows += [{"scenario": name, "seed": seed, "indicator": f"park_fill_pct:{pid}", "year": int(y),
                  "value": 100.0 * v / cap if cap > 0 else float("nan")} for y, v in park["firms"].items()]
        rows += [{"scenario": name, "seed": seed, "indicator": f"park_capacity:{pid}", "year": int(y), "value": cap}
                 for y in park["firms"]]
    for rid, region in indicators.regions_year_end(model).items():
        for fld, family in REGION_FAMILIES.items():
            rows += [{"scenario": name, "seed": seed, "indicator": f"{family}:{rid}", "year": int(y), "value": v}
                     for y, v in region[fld].items()]
    return rows



def run_rows(spec: ScenarioSpec, seed: int, common=(), progress=None) -> list[dict]:
    """One scenario x seed: compose, simulate, and the tidy rows (``result_rows``).
    ``progress(model)`` is called after every simulated year."""
    cfg = spec.compose([*common, f"seed={seed}"])
    model, _ = simulate(cfg, progress=progress)
    return result_rows(model, spec.name, seed)



def summarise(runs):
    """Mean and 5-95% range over seeds, per scenario, indicator and year."""
    g = runs.groupby(["scenario", "indicator", "year"], sort=False)["value"]
    return pd.DataFrame({"mean": g.mean(), "p05": g.quantile(0.05), "p95": g.quantile(0.95)}).reset_index()



def paired_differences(runs, reference: str = "baseline"):
    """Per scenario, indicator and year: mean paired difference from the reference (same seed),
    its 90% confidence interval (mean +- t(0.95, n-1) sd / sqrt(n)), and the 5-95% range of
    the per-seed differences."""
    from scipy import (
        stats,  # here: 1.3 s of start-up that the report and the dashboard's views do not need
    )

    base = runs[runs["scenario"] == reference].set_index(["seed", "indicator", "year"])["value"]
    out = []
    for scen, df in runs[runs["scenario"] != reference].groupby("scenario", sort=False):
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



def posterior_differences(runs, reference: str = "baseline"):
    """Parameter uncertainty: from runs made at posterior draws (a ``draw`` column; every
    scenario runs each draw on the same seeds), per scenario, indicator and year, the paired
    differences from the reference (same draw, same seed) pooled over draws and seeds:
    n_draws, n_seeds, post_mean_diff, post_p05 and post_p95 (the 5-95% range of the
    differences: parameters and seeds together), and param_share, the share of the
    differences' variance that comes from the parameters. param_share is the law of total
    variance with the between-draw part corrected for seed noise: between = var over draws of
    the draw means - within / n_seeds (floored at 0), within = mean over draws of the variance
    over seeds; param_share = between / (between + within)."""
    keys = ["draw", "seed", "indicator", "year"]
    base = runs[runs["scenario"] == reference].set_index(keys)["value"]
    others = runs[runs["scenario"] != reference]
    if not len(others):
        return pd.DataFrame()
    d = others.set_index(["scenario", *keys])["value"].sub(base, fill_value=np.nan).dropna().rename("diff")
    d = d.reset_index()
    by = ["scenario", "indicator", "year"]
    g = d.groupby(by, sort=False)["diff"]
    out = pd.DataFrame({"post_mean_diff": g.mean(), "post_p05": g.quantile(0.05), "post_p95": g.quantile(0.95)})
    per_draw = d.groupby([*by, "draw"], sort=False)["diff"].agg(["mean", "var", "count"]).reset_index()
    gd = per_draw.groupby(by, sort=False)
    n_seeds = gd["count"].min()
    within = gd["var"].mean().fillna(0.0)
    between = (gd["mean"].var() - within / n_seeds).clip(lower=0.0).fillna(0.0)
    total = between + within
    out["n_draws"] = gd["draw"].nunique()
    out["n_seeds"] = n_seeds
    out["param_share"] = (between / total).where(total > 0)
    out = out.reset_index()
    out["year"] = out["year"].astype(int)
    return out[["scenario", "indicator", "year", "n_draws", "n_seeds", "post_mean_diff", "post_p05", "post_p95",
                "param_share"]]



def mean_summary(levels, scenario: str, stat: str = "mean") -> dict:
    """A summary.json-like mapping of one scenario's means over seeds ({"indicators": {name:
    {year: v}}, "parks": {id: {field: {year: v}}}, "regions": ...}), for targets (Target.simulated);
    ``stat``: another column of the levels instead of the mean ("p05", "p95": the 5-95% range
    over seeds)."""
    out = {"scenario": scenario, "indicators": {}, "parks": {}, "regions": {}}
    fams = {f: ("parks", fld) for fld, f in PARK_FAMILIES.items()}
    fams |= {f: ("regions", fld) for fld, f in REGION_FAMILIES.items()}
    for ind, year, v in levels.loc[levels.scenario == scenario, ["indicator", "year", stat]].itertuples(index=False):
        family, sep, pid = str(ind).partition(":")
        if not sep:
            out["indicators"].setdefault(ind, {})[str(year)] = float(v)
        elif family in fams:
            group, fld = fams[family]
            out[group].setdefault(pid, {}).setdefault(fld, {})[str(year)] = float(v)
    return out
