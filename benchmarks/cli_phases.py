"""End-to-end cost of the ``jjj-sim`` command, by phase (part of benchmarks/bench.py).

Runs the installed ``jjj-sim`` as a user would (a fresh process, every output: events.parquet,
indicators.parquet, plots, summary.json) and splits its wall time into
- start-up: interpreter, imports, Hydra composition and the input checks (the rest),
- build and run: the model (from run_info.json),
- write: the outputs after the last simulated quarter (printed by the command).
Peak memory is the largest resident set of the command's processes (``RUSAGE_CHILDREN``
after it ends: the main process or the plotting process, whichever is larger).

    .venv/bin/python benchmarks/cli_phases.py [--end-year 2035] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = Path(sys.executable).with_name("jjj-sim")


def cli_run(end_year: int = 2035, scale: float = 1.0, extra=()) -> dict:
    """One ``jjj-sim`` run in a fresh process group; its phases, peak memory and output sizes."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t0\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'wall': wall, 'rss': rss, 'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-2000:]}))\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        args = [str(EXE), f"run.end_year={end_year}", f"population.scale={scale}", f"hydra.run.dir={run_dir}", *extra]
        r = json.loads(subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                      check=True, cwd=tmp).stdout)
        if r["rc"] != 0:
            raise RuntimeError(f"jjj-sim failed: {r['err']}")
        info = json.loads((run_dir / "run_info.json").read_text())
        m = re.search(r"write ([\d.]+) s", r["out"])
        write = float(m.group(1)) if m else float("nan")
        build, run = info["timings_seconds"]["build"], info["timings_seconds"]["run"]
        sizes = {p.name: p.stat().st_size for p in run_dir.iterdir() if p.is_file()}
        return {"end_year": end_year, "scale": scale, "wall_s": r["wall"], "peak_rss_mb": r["rss"],
                "build_s": build, "run_s": run, "write_s": write, "startup_s": r["wall"] - build - run - write,
                "events_mb": sizes.get("events.parquet", 0) / 1e6, "events": sum(info["events"].values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--end-year", type=int, default=2035)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    runs = []
    for _ in range(a.repeat):
        runs.append(cli_run(a.end_year, a.scale))
        time.sleep(0.5)
    for r in runs:
        print(f"jjj-sim run.end_year={r['end_year']} scale {r['scale']:g}: {r['wall_s']:.2f} s wall "
              f"(start-up {r['startup_s']:.2f}, build {r['build_s']:.2f}, run {r['run_s']:.2f}, write {r['write_s']:.2f}), "
              f"peak {r['peak_rss_mb']:.0f} MB, events.parquet {r['events_mb']:.1f} MB ({r['events']:,} events)")


if __name__ == "__main__":
    main()
