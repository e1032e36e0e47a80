#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install jjj-sim (editable) with its test extras.
# Idempotent: reinstalls only when pyproject.toml changed. Set PYTHON=/path/to/python to choose.
set -euo pipefail
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local c v
  for c in "${PYTHON:-}" python3.14 python3.13 python3.12 python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok "$c" && { command -v "$c"; return 0; }
  done
  # pyenv installs (on these machines 3.12 comes from pyenv and its shim needs PYENV_VERSION)
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  if [ -d "$root/versions" ]; then
    for v in $(ls "$root/versions" | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.|$)' | sort -t. -k1,1n -k2,2n -k3,3n -r); do
      c="$root/versions/$v/bin/python"
      [ -x "$c" ] && ok "$c" && { echo "$c"; return 0; }
    done
  fi
  return 1
}

if [ ! -x .venv/bin/python ] || ! ok .venv/bin/python; then
  py=$(find_python) || { echo "bootstrap: error: no Python >= 3.12 found (set PYTHON=/path/to/python3.12)" >&2; exit 1; }
  echo "bootstrap: creating .venv with $py ($("$py" --version 2>&1))"
  rm -rf .venv
  "$py" -m venv .venv
fi
stamp=.venv/.jjj-sim-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing jjj-sim and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import jjj_sim, mesa, hydra" || { echo "bootstrap: error: install failed" >&2; exit 1; }
  # the dashboard's browser files (Solara loads them from a CDN this machine cannot reach; fetched
  # once from the npm registry into .venv/share/solara/cdn; jjj_sim/tools/dashboard/assets.py)
  .venv/bin/jjj-sim-dashboard --prepare-assets || echo "bootstrap: warning: the dashboard's browser files could not be fetched (npm); jjj-sim-dashboard will show a blank page" >&2
  echo "$want" > "$stamp"
fi
