"""What an installation carries: the wheel ships every file the package reads, and the shipped
configs, experiments and calibration files are found from any directory.

pyproject.toml maps conf/, experiments/ and calibration/ to the packages jjj_sim.conf,
jjj_sim.experiments and jjj_sim.calibration_data (jjj_sim/core/resources.py). The wheel is built here
(``pip wheel --no-deps`` from a copy of the tree, a few seconds) and its contents compared with
the source tree: a config group file, experiment or fit that the wheel would not carry fails.
scripts/check_wheel.sh (CI) goes further: installs the wheel in a fresh environment and runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from jjj_sim.core import resources

ROOT = Path(__file__).resolve().parents[1]
# source files the installed package needs (globs under each top-level directory)
NEEDED = {
    "jjj_sim": ["**/*.py", "data/*", "templates/*"],
    "conf": ["**/*"],                       # every config: a file here that is not shipped is an error
    "experiments": ["__init__.py", "**/*.yaml"],
    "calibration": ["__init__.py", "targets.yaml", "record_after_2020.yaml", "fitted/**/*.yaml", "fitted/*.parquet"],
}
BUILD_LOG: list[str] = []  # what the wheel build printed (pip wheel -v)
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "outputs", "multirun", "build", "*.egg-info",
                                    "__pycache__", "*.pyc", ".pytest_cache")


def needed_in_wheel() -> dict[str, Path]:
    """Wheel path -> source file, for every file the installed package needs."""
    out = {}
    for top, patterns in NEEDED.items():
        package_dir = (resources.SHIPPED.get(top) or top).replace(".", "/")
        for pattern in patterns:
            for p in (ROOT / top).glob(pattern):
                if p.is_file() and "__pycache__" not in p.parts:
                    out[f"{package_dir}/{p.relative_to(ROOT / top).as_posix()}"] = p
    return out


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    tmp = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, tmp / "src", ignore=NOT_COPIED)  # keep build/ and *.egg-info out of the checkout
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--disable-pip-version-check",
                        "-w", str(tmp / "dist"), str(tmp / "src")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"pip wheel failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    BUILD_LOG.append(r.stdout + r.stderr)
    (wheel,) = (tmp / "dist").glob("jjj_sim-*.whl")
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def test_the_build_prints_no_deprecation_warning(wheel_names):
    """setuptools' banner about ``license = {text = ...}`` (three times, about 45 lines) on every install."""
    lines = [ln for ln in BUILD_LOG[-1].splitlines() if "deprecat" in ln.lower()]
    assert not lines, lines[:3]


def test_wheel_ships_every_file_the_package_needs(wheel_names):
    needed = needed_in_wheel()
    assert "jjj_sim/conf/config.yaml" in needed and "jjj_sim/calibration_data/fitted/baseline.yaml" in needed
    missing = sorted(f"{name}  (from {src.relative_to(ROOT)})" for name, src in needed.items() if name not in wheel_names)
    assert not missing, ("the wheel lacks these files: add their package or pattern to [tool.setuptools] "
                         "packages / package-data in pyproject.toml:\n  " + "\n  ".join(missing))


def test_wheel_holds_no_checkout_clutter(wheel_names):
    stray = sorted(n for n in wheel_names if "__pycache__" in n or n.endswith(".pyc")
                   or n.startswith(("jjj_sim/calibration_data/results/", "tests/", "conf/", "experiments/")))
    assert not stray


def test_pyproject_maps_the_directories_resources_knows():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert tool["package-dir"] == {package: top for top, package in resources.SHIPPED.items()}
    assert set(resources.SHIPPED.values()) <= set(tool["packages"])
    code = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "jjj_sim").rglob("__init__.py")}
    assert code <= set(tool["packages"]), f"sub-packages missing from packages: {sorted(code - set(tool['packages']))}"


def test_shipped_files_are_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resources.CONF_SEARCH == "pkg://jjj_sim.conf", "an install older than the mapping: pip install -e ."
    # an editable install reads the checkout's own files
    assert resources.project_root() == ROOT
    assert resources.conf_path().resolve() == ROOT / "conf"
    fitted = resources.find("calibration/fitted/baseline.yaml", "params_file")
    assert fitted.resolve() == ROOT / "calibration" / "fitted" / "baseline.yaml"
    assert resources.find("experiments/scenarios.yaml", "experiment").resolve() == ROOT / "experiments" / "scenarios.yaml"
    assert resources.find("conf/scenario/baseline.yaml", "scenario").is_file()
    # not shipped, or outside the shipped directories: the path as given (the caller reports it)
    assert resources.find("calibration/nope.yaml", "figures") == Path("calibration/nope.yaml")
    assert resources.find("../calibration/targets.yaml", "figures") == Path("../calibration/targets.yaml")
    # a file of the working directory comes first
    (tmp_path / "calibration").mkdir()
    (tmp_path / "calibration" / "targets.yaml").write_text("targets: []\n")
    assert resources.find("calibration/targets.yaml", "figures") == Path("calibration/targets.yaml")
