#!/usr/bin/env bash
# Build the wheel, install it with its dependencies into a fresh virtual environment and, from a
# temporary directory (not the checkout), run a small scenario and a small comparison: the
# installed package finds its configs, experiments, targets and fitted parameters on its own.
#
#   bash scripts/check_wheel.sh          # uses the Python of .venv (scripts/bootstrap.sh makes it)
#   PYTHON=/path/to/python3.12 KEEP=1 bash scripts/check_wheel.sh   # another Python; keep the temp dir
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { echo "check_wheel: $* [$((SECONDS - start)) s]"; }
die() { echo "check_wheel: error: $*" >&2; exit 1; }

venv_py=.venv/bin/python
if [ -n "${PYTHON:-}" ]; then
  py=$PYTHON
else
  [ -x "$venv_py" ] || die "no $venv_py (run scripts/bootstrap.sh first, or set PYTHON=/path/to/python3.12)"
  py=$("$venv_py" -c 'import sys; v = sys.version_info; print(f"{sys.base_prefix}/bin/python{v[0]}.{v[1]}")')
fi
[ -x "$py" ] || command -v "$py" >/dev/null || die "no Python interpreter at $py"
builder=$py; [ -x "$venv_py" ] && builder=$venv_py   # .venv surely has pip

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jjj-sim-wheel.XXXXXX")
if [ -n "${KEEP:-}" ]; then echo "check_wheel: keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
log="$tmp/step.log"
# run a command quietly; on failure show its output and stop
quiet() {
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { cat "$log" >&2; die "failed (exit $rc): $*"; }
}

step "copying the source tree to $tmp/src (the build writes build/ and *.egg-info there, not here)"
mkdir "$tmp/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # tracked and untracked-but-not-ignored files: what a clean clone plus local work holds
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$tmp/src"
else
  tar --exclude=./.venv --exclude=./.git --exclude=./outputs --exclude=./multirun --exclude=./build \
      --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -xf - -C "$tmp/src"
fi

step "building the wheel"
quiet "$builder" -m pip wheel --disable-pip-version-check --no-deps -w "$tmp/dist" "$tmp/src"
wheel=$(ls "$tmp"/dist/jjj_sim-*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || die "pip wheel made no jjj_sim-*.whl in $tmp/dist"

step "creating a fresh virtual environment with $py ($("$py" --version 2>&1))"
quiet "$py" -m venv "$tmp/venv"
step "installing $(basename "$wheel") and its dependencies"
quiet "$tmp/venv/bin/python" -m pip install --disable-pip-version-check "$wheel"

mkdir "$tmp/work"
cd "$tmp/work"
unset PYTHONPATH
quiet "$tmp/venv/bin/python" -c '
from jjj_sim.core import resources as r
assert r.project_root() is None, f"jjj_sim imported from a checkout: {r.project_root()}"
for f in ("conf/config.yaml", "calibration/fitted/baseline.yaml", "calibration/targets.yaml",
          "calibration/record_after_2020.yaml", "experiments/scenarios.yaml", "experiments/sensitivity.yaml"):
    assert r.find(f, f).is_absolute(), f"not shipped: {f}"
'

step "jjj-sim: a small scenario, run from $tmp/work"
quiet "$tmp/venv/bin/jjj-sim" population.scale=0.02 run.end_year=2016 hydra.run.dir="$tmp/run"
[ -f "$tmp/run/summary.json" ] || { cat "$log" >&2; die "jjj-sim wrote no $tmp/run/summary.json"; }

step "jjj-sim-compare: a small comparison"
quiet "$tmp/venv/bin/jjj-sim-compare" --scenarios baseline,no_strategy --seeds 2 --scale 0.02 --end-year 2016 \
  --workers 1 --out "$tmp/cmp"
[ -f "$tmp/cmp/report.md" ] || { cat "$log" >&2; die "jjj-sim-compare wrote no $tmp/cmp/report.md"; }

step "ok: the wheel installs and runs without the checkout"
