"""Start-up time of the commands, now against another revision, measured in one run (the
machines' speed drifts 2-3x between runs: only the ratio is comparable).

    .venv/bin/python benchmarks/startup.py [REV] [--no-full]   # REV: a git revision (default: none)

For each command's module: the wall time of ``python -c "import MODULE"`` in a fresh process
(median of 7, interleaved with the other revision's), and of a tiny ``jjj-sim`` run (scale
0.01, 2014-2015, no plots; median of 5) and of a full run (the baseline at full scale to 2035,
no plots; median of 3; ``--no-full`` skips it). The other revision is checked out into a temporary git
worktree and imported from there with the same environment (PYTHONPATH). Writes
benchmarks/startup.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(src: Path) -> dict[str, str]:
    """{command: its module} from the tree's pyproject.toml (the module paths differ between
    revisions: issue 20 moved them into layer folders)."""
    scripts = tomllib.loads((src / "pyproject.toml").read_text())["project"]["scripts"]
    return {cmd: target.split(":")[0] for cmd, target in scripts.items()}


RUN = ["population.scale=0.01", "run.end_year=2015", "run.plots=false"]
FULL_RUN = ["run.plots=false"]  # the baseline, full scale, 2014-2035


def _time(args: list[str], src: Path, cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {src}:\n{r.stderr[-2000:]}")
    return time.perf_counter() - t0


def measure(trees: dict[str, Path], repeat: int = 7, full: bool = True) -> dict:
    """{tree: {what: median seconds}}, every sample interleaved between the trees."""
    out: dict[str, dict[str, float]] = {name: {} for name in trees}
    mods = {name: commands(src) for name, src in trees.items()}
    for cmd in mods["now"]:
        samples = {name: [] for name in trees}
        for _ in range(repeat):
            for name, src in trees.items():  # interleaved: drift hits both alike
                samples[name].append(_time([sys.executable, "-c", f"import {mods[name][cmd]}"], src, src))
        for name in trees:
            out[name][f"import ({cmd})"] = statistics.median(samples[name])
    runs = [("jjj-sim tiny run (wall)", RUN, 5)] + ([("jjj-sim full run (wall)", FULL_RUN, 3)] if full else [])
    for what, args, n in runs:
        with tempfile.TemporaryDirectory() as tmp:
            samples = {name: [] for name in trees}
            for i in range(n):
                for name, src in trees.items():
                    run_dir = Path(tmp) / f"{name}-{i}"
                    samples[name].append(_time([sys.executable, "-c", f"from {mods[name]['jjj-sim']} import main; main()",
                                                *args, f"hydra.run.dir={run_dir}"], src, src))
            for name in trees:
                out[name][what] = statistics.median(samples[name])
    return out


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-full"]
    rev = args[0] if args else None
    trees = {"now": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if rev:
            wt = Path(tmp) / "other"
            subprocess.run(["git", "worktree", "add", "--detach", str(wt), rev], cwd=ROOT, check=True,
                           capture_output=True)
            trees = {rev: wt, "now": ROOT}
        try:
            res = measure(trees, full="--no-full" not in sys.argv)
        finally:
            if rev:
                subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT, capture_output=True)
    names = list(trees)
    print(f"{'what':44s}" + "".join(f"{n:>12s}" for n in names) + ("       ratio" if rev else ""))
    for key in res["now"]:
        vals = [res[n][key] for n in names]
        line = f"{key:44s}" + "".join(f"{v:12.2f}" for v in vals)
        if rev:
            line += f"{vals[1] / vals[0]:12.2f}"
        print(line)
    (ROOT / "benchmarks" / "startup.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
