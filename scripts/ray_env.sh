#!/usr/bin/env bash
# Create .venv-ray: jjj-sim (editable, this checkout) with Hydra's Ray launcher, for
# `jjj-sim -m hydra/launcher=ray_cluster ...` and tests/test_engines.py::test_ray_cluster_sweep.
#
# A separate environment because hydra-ray-launcher 1.2.2 (its last release) requires
# cloudpickle<3, and the main .venv has cloudpickle 3: dask from 2024.8.1 on requires it
# (distributed pins its dask), and the calibration's Dask sampler uses distributed. Here pip has
# to fall back to dask/distributed 2024.8.0, the last that accept cloudpickle 2; the pins below
# spare it the search. About 1.4 GB (the Ray wheel is 79 MB); installing took 133-208 s on this
# project's 2-core machine while other work ran (133 s from an empty pip cache).
# Idempotent: reinstalls only when pyproject.toml or the pins change.
#
#   bash scripts/ray_env.sh                 # then: .venv-ray/bin/jjj-sim -m hydra/launcher=ray_cluster ...
#   JJJ_RAY_VENV=/path bash scripts/ray_env.sh   # elsewhere (the test reads the same variable)
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=(
  "hydra-ray-launcher==1.2.2"
  "ray[default]==2.60.0"
  "cloudpickle==2.2.1"       # hydra-ray-launcher: cloudpickle<3
  "dask==2024.8.0"           # the last dask/distributed that accept cloudpickle<3
  "distributed==2024.8.0"
)
venv=${JJJ_RAY_VENV:-.venv-ray}
start=$SECONDS

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1; }
find_python() {
  local c v
  # the interpreter of the main .venv (scripts/bootstrap.sh), then the usual names, then pyenv's
  if [ -x .venv/bin/python ]; then
    c=$(.venv/bin/python -c 'import sys; v = sys.version_info; print(f"{sys.base_prefix}/bin/python{v[0]}.{v[1]}")')
    ok "$c" && { echo "$c"; return 0; }
  fi
  for c in "${PYTHON:-}" python3.12; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok "$c" && { command -v "$c"; return 0; }
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for v in $(ls "$root/versions" 2>/dev/null | grep -E '^3\.12(\.|$)' | sort -t. -k3,3n -r); do
    c="$root/versions/$v/bin/python"
    [ -x "$c" ] && ok "$c" && { echo "$c"; return 0; }
  done
  return 1
}

stamp="$venv/.jjj-sim-ray-installed"
want=$( { cat pyproject.toml; printf '%s\n' "${PINS[@]}"; } | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/jjj-sim" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ] || ! ok "$venv/bin/python"; then
  py=$(find_python) || { echo "ray_env: error: no Python 3.12 found (Ray 2.60 and hydra-ray-launcher; set PYTHON=/path/to/python3.12)" >&2; exit 1; }
  echo "ray_env: creating $venv with $py"
  rm -rf "$venv"
  "$py" -m venv "$venv"
fi
printf '*\n' > "$venv/.gitignore"   # never committed, though .gitignore does not name it
echo "ray_env: installing jjj-sim with ${PINS[*]} into $venv"
log="$venv/install.log"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check -e . "${PINS[@]}" >"$log" 2>&1; then
  grep -v "^WARNING: Location" "$log" | tail -30 >&2
  echo "ray_env: error: install failed (log: $log)" >&2
  exit 1
fi
"$venv/bin/python" -c "import ray, hydra_plugins.hydra_ray_launcher, jjj_sim" || { echo "ray_env: error: install incomplete" >&2; exit 1; }
echo "$want" > "$stamp"
echo "ray_env: ready in $((SECONDS - start)) s: $("$venv/bin/python" -c 'import ray; print("ray", ray.__version__)')"
