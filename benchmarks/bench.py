"""jjj-sim benchmark: cost of a run, how it grows with firms, the per-agent reference, and
calibration throughput, and the ``jjj-sim`` command end to end by phase (cli_phases.py). Not
part of the test suite.

    .venv/bin/python benchmarks/bench.py            # everything (about 3-4 minutes on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # smaller, for a smoke check

Each model run happens in a fresh subprocess so its peak resident memory is its own.
Writes benchmarks/results.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _cfg(*overrides):
    from jjj_sim.runner.compose import compose as compose_config

    return compose_config(list(overrides))


def one_run(scale: float, end_year: int, seed: int = 1, events: bool = True) -> dict:
    """Build and run one model in this process; report times, memory and firm-steps."""
    import resource

    from jjj_sim.sim.model import RelocationModel

    cfg = _cfg(f"population.scale={scale}", f"run.end_year={end_year}", f"run.record_events={str(events).lower()}")
    t0 = time.perf_counter()
    m = RelocationModel(cfg, seed=seed)
    t1 = time.perf_counter()
    m.run_model()
    t2 = time.perf_counter()
    firm_steps = int(sum(int(a.sum()) + int(b.sum()) for a, b in zip(m.history.legal, m.history.branches)))
    return {"scale": scale, "end_year": end_year, "build_s": t1 - t0, "run_s": t2 - t1, "total_s": t2 - t0,
            "firm_steps": firm_steps, "firm_rows": int(m.firms.n),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(scale: float, end_year: int, events: bool = True) -> dict:
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench; "
            f"print(json.dumps(bench.one_run({scale}, {end_year}, events={events})))")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["process_wall_s"] = time.perf_counter() - t0  # includes interpreter start and imports
    r["firm_steps_per_s"] = r["firm_steps"] / r["run_s"]
    r["us_per_firm_step"] = 1e6 * r["run_s"] / r["firm_steps"]
    return r


def agent_reference(scale: float, quarters: int, seed: int = 7) -> dict:
    """Per-agent Mesa relocation vs the vectorised rule on the same firms and utilities."""
    from agent_reference import AgentReference, vector_step
    from scipy.stats import chi2_contingency

    from jjj_sim.sim.model import RelocationModel

    src = RelocationModel(_cfg(f"population.scale={scale}"), seed=seed)
    src._set_policy(0)
    t0 = time.perf_counter()
    ref = AgentReference(src, seed)
    t_create = time.perf_counter() - t0
    n_agents = len(ref.agents)
    d_agent = []
    t0 = time.perf_counter()
    for _ in range(quarters):
        ref.step()
        d_agent.append(ref.destinations())
    t_agent = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    d_vec = []
    t0 = time.perf_counter()
    for _ in range(quarters):
        d_vec.append(vector_step(src, rng))
    t_vec = time.perf_counter() - t0
    a, v = np.concatenate(d_agent), np.concatenate(d_vec)
    n_places = len(src.places.ids)
    ca, cv = np.bincount(a, minlength=n_places), np.bincount(v, minlength=n_places)
    keep = (ca + cv) > 0
    chi2, pval, dof, _ = chi2_contingency(np.vstack([ca[keep], cv[keep]]))
    fs = n_agents * quarters
    return {"scale": scale, "agents": n_agents, "quarters": quarters, "agent_create_s": t_create,
            "agent_run_s": t_agent, "vector_run_s": t_vec,
            "agent_firm_steps_per_s": fs / t_agent, "vector_firm_steps_per_s": fs / t_vec,
            "speedup": t_agent / t_vec, "movers_agent": int(len(a)), "movers_vector": int(len(v)),
            "destination_chi2": float(chi2), "destination_dof": int(dof), "destination_p_value": float(pval)}


def throughput(n_sims: int, workers: int) -> dict:
    """Simulations per minute of the calibrator's own path (one composed config, the free
    parameters and seed set per simulation: calibration_throughput.py) at scale 0.1, 2014-2023,
    no event log."""
    from calibration_throughput import calibration_throughput

    return calibration_throughput(n_sims, workers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke check")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = ap.parse_args()
    quick = args.quick
    res = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
           "date": time.strftime("%Y-%m-%d")}
    print("the jjj-sim command end to end, every output, by phase ...", flush=True)
    from cli_phases import cli_run

    res["cli_2035"] = [cli_run(2035, 0.1 if quick else 1.0) for _ in range(1 if quick else 3)]
    res["cli_2023"] = cli_run(2023, 0.1 if quick else 1.0)
    print("full-scale baseline 2014-2035 ...", flush=True)
    res["full_scale_2035"] = in_subprocess(0.1 if quick else 1.0, 2035)
    print("full-scale baseline 2014-2023 ...", flush=True)
    res["full_scale_2023"] = in_subprocess(0.1 if quick else 1.0, 2023)
    scales = (0.05, 0.1, 0.2) if quick else (0.1, 0.3, 1.0, 2.0)
    res["scaling"] = []
    for s in scales:
        print(f"scaling: scale {s} ...", flush=True)
        res["scaling"].append(in_subprocess(s, 2035))
    print("per-agent reference ...", flush=True)
    res["agent_reference"] = agent_reference(0.005 if quick else 0.05, 4 if quick else 20)
    print("calibration throughput ...", flush=True)
    cores = os.cpu_count() or 1
    res["throughput_serial"] = throughput(2 if quick else 6, 1)
    res["throughput_parallel"] = throughput(2 * cores if quick else 6 * cores, cores)
    sc = res["scaling"]
    res["linearity_ratio"] = sc[-1]["us_per_firm_step"] / sc[1]["us_per_firm_step"]
    Path(args.out).write_text(json.dumps(res, indent=1))
    print_table(res)


def print_table(res: dict) -> None:
    f = res["full_scale_2035"]
    print(f"\nmachine: {res['machine']['cpus']} cores, Python {res['machine']['python']}")
    for r in [*res["cli_2035"], res["cli_2023"]]:
        print(f"jjj-sim run.end_year={r['end_year']} scale {r['scale']:g}, every output: {r['wall_s']:.2f} s wall "
              f"(start-up {r['startup_s']:.2f}, build {r['build_s']:.2f}, run {r['run_s']:.2f}, "
              f"write {r['write_s']:.2f}), peak {r['peak_rss_mb']:.0f} MB, events.parquet {r['events_mb']:.1f} MB")
    print(f"{'run':34s}{'run s':>8s}{'total s':>9s}{'peak MB':>9s}{'firm-steps/s':>14s}{'us/firm-step':>14s}")
    rows = [("baseline 2014-2035 scale %g" % f["scale"], f),
            ("baseline 2014-2023 scale %g" % res["full_scale_2023"]["scale"], res["full_scale_2023"])]
    rows += [(f"scaling 2014-2035 scale {r['scale']:g}", r) for r in res["scaling"]]
    for name, r in rows:
        print(f"{name:34s}{r['run_s']:8.2f}{r['process_wall_s']:9.2f}{r['peak_rss_mb']:9.0f}"
              f"{r['firm_steps_per_s']:14.3g}{r['us_per_firm_step']:14.4f}")
    print(f"linearity: us/firm-step at scale {res['scaling'][-1]['scale']:g} / at {res['scaling'][1]['scale']:g}"
          f" = {res['linearity_ratio']:.2f}")
    a = res["agent_reference"]
    print(f"per-agent Mesa reference ({a['agents']} agents x {a['quarters']} quarters): "
          f"{a['agent_firm_steps_per_s']:.3g} firm-steps/s vs vectorised {a['vector_firm_steps_per_s']:.3g}: "
          f"speedup {a['speedup']:.0f}x; destinations chi2 = {a['destination_chi2']:.1f} on {a['destination_dof']} dof, "
          f"p = {a['destination_p_value']:.2f} (movers {a['movers_agent']} vs {a['movers_vector']})")
    for k in ("throughput_serial", "throughput_parallel"):
        t = res[k]
        print(f"calibration throughput ({t['workers']} worker(s), scale 0.1, 2014-2023): "
              f"{t['sims_per_minute']:.1f} simulations/minute")


if __name__ == "__main__":
    main()
