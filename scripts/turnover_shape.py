"""Can the technology-contract rule meet T8's turnover and both T11 figures at once?

    .venv/bin/python scripts/turnover_shape.py [SEEDS]      # default 3 seeds; about 30 s

Part 1 reads the record alone (calibration/targets.yaml and the 2013 input): the turnover's
growth within 2015-2017 if it grew at a steady rate there, the growth from 2013 to 2015 that
this implies, and what T8's 2014-2020 total leaves for 2018-2020; with the average growth a year
that T8's page also reports (22.3%, read from 2013), what that leaves for 2018-2019.

Part 2 asks the model's rule (jjj_sim/sim/rules/technology.py). The rule's expected turnover in
a quarter is C0 (Z / Z0)^e / 4 contracts times V0 (1 + g)^t, with Z the ZGC branches in Tianjin
and Hebei. Z comes from runs of the committed fit (full scale, 2014-2020, mean over SEEDS), and
nothing else in the model depends on the contracts, so the rule's two parameters (e, g) can be
searched on the expected values alone. It prints the best largest miss over T8's turnover and
the two T11 figures (T8's count kept in its range), and the same with a step in the value per
contract from 2018 (a lever the model does not have), as a measure of what the record's shape
asks for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from jjj_sim.core.seeds import replication_seeds
from jjj_sim.core.yaml_input import read_yaml
from jjj_sim.runner.compose import compose
from jjj_sim.runner.simulate import simulate
from jjj_sim.runner.targets import load_targets
from jjj_sim.sim.indicators import quarterly

ROOT = Path(__file__).resolve().parents[1]
# "成交额年均增长率22.3%": the turnover's average growth a year, on T8's page (Beijing Business Today,
# 25 Feb 2021, copy: sdyjkjfhq.cn/yjcs/1063.html); the page does not say from which year (read from 2013)
AVERAGE_GROWTH = 0.223


def record() -> dict[str, float]:
    """The record's turnover figures: {target id: value} and the 2013 inputs (contracts, links)."""
    t = {x.id: x for x in load_targets(ROOT / "calibration" / "targets.yaml")}
    inputs = read_yaml(ROOT / "jjj_sim" / "data" / "reported_inputs.yaml", "inputs")
    inp = inputs["tech_contracts_bj_to_tjhb_2013"]
    return {"2013": inp["value"]["turnover_bn_yuan"], "count_2013": inp["value"]["count"],
            "links_2013": inputs["zgc_branches_tjhb_2013"]["value"],
            "T8": t["T8_turnover"].value, "T8_count_low": t["T8_count"].low, "T8_count_high": t["T8_count"].high,
            "T11_2017": t["T11_2017"].value, "T11_2015_2017": t["T11_2015_2017"].value}


def record_shape(r: dict[str, float]) -> None:
    """Part 1: the growth the record implies, without the model."""
    y17, y1516 = r["T11_2017"], r["T11_2015_2017"] - r["T11_2017"]
    growth = brentq(lambda g: y17 / (1 + g) + y17 / (1 + g) ** 2 - y1516, 0.0, 1.0)
    y15 = y17 / (1 + growth) ** 2
    print("Part 1, the record alone (bn yuan)")
    print(f"  2013: {r['2013']}; 2015-2016: {y1516:.2f}; 2017: {y17}")
    print(f"  steady growth inside 2015-2017: {growth:.1%} a year (2015 {y15:.2f}, 2016 {y17 / (1 + growth):.2f})")
    print(f"  2013 -> 2015 then grew {(y15 / r['2013']) ** 0.5 - 1:.1%} a year")
    for y14 in (r["2013"], y15):
        rest = r["T8"] - r["T11_2015_2017"] - y14
        print(f"  with 2014 = {y14:.2f}: 2018-2020 = {rest:.1f}, {rest / 3:.1f} a year against {y17} in 2017")
    # T8's page also gives the turnover's average growth a year, read here from 2013 to 2020
    y20 = r["2013"] * (1 + AVERAGE_GROWTH) ** 7
    y14 = (r["2013"] * y15) ** 0.5  # midway (geometrically) between 2013 and 2015
    rest = r["T8"] - r["T11_2015_2017"] - y14 - y20
    print(f"  T8's page: average growth {AVERAGE_GROWTH:.1%} a year, so 2020 = {y20:.1f} if read from 2013; with 2014 ="
          f" {y14:.2f}, 2018-2019 = {rest:.1f}, {rest / 2:.1f} a year: a step in 2018, then flat")


def links(seeds: int) -> np.ndarray:
    """ZGC branches in Tianjin and Hebei per quarter 2014-2020 at the committed fit (real units)."""
    cfg = compose(["run.end_year=2020", "run.record_events=false", "run.plots=false"], "config")
    z = []
    for s in replication_seeds(20140226, seeds):
        model, _ = simulate(cfg, seed=s)
        z.append(quarterly(model)["zgc_branches_tjhb"].to_numpy())
    return np.mean(z, axis=0)


def rule_shape(r: dict[str, float], z: np.ndarray) -> None:
    """Part 2: the best the rule can do, with and without a 2018 step in value."""
    z0 = r["links_2013"]
    q = np.arange(len(z))
    year = 2014 + q // 4
    v0 = r["2013"] / r["count_2013"]

    def misses(e, g, step=0.0):
        count = r["count_2013"] * (z / z0) ** e / 4
        turnover = count * v0 * (1 + g) ** ((q + 1) / 4) * (1 + step * (year >= 2018))
        sim = {"T8": turnover.sum(), "T11_2017": turnover[year == 2017].sum(),
               "T11_2015_2017": turnover[(year >= 2015) & (year <= 2017)].sum()}
        ok = r["T8_count_low"] <= count.sum() <= r["T8_count_high"]
        return ok, {k: sim[k] / r[k] - 1 for k in sim}

    print("Part 2, the model's rule (links from the committed fit)")
    for steps, label in ((np.array([0.0]), "the rule as it is"), (np.linspace(0, 1.5, 61), "with a 2018 step in value")):
        best = min(((max(abs(m) for m in mm.values()), e, g, s, mm)
                    for e in np.linspace(0, 1.5, 61) for g in np.linspace(0, 0.5, 101) for s in steps
                    for ok, mm in [misses(e, g, s)] if ok), key=lambda x: x[0])
        worst, e, g, s, mm = best
        print(f"  {label}: largest miss {worst:.1%} at e={e:.3f}, g={g:.3f}" + (f", step +{s:.0%}" if s else "")
              + " (" + ", ".join(f"{k} {v:+.1%}" for k, v in mm.items()) + ")")


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    r = record()
    record_shape(r)
    rule_shape(r, links(seeds))


if __name__ == "__main__":
    main()
