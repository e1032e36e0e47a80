"""The package's structure stays as issue 20 left it (measured by benchmarks/layers.py): no
import cycle even counting imports inside functions, most internal imports at the top of a file,
no function over 80 lines, no module over 600. The layers themselves are import-linter's
contracts (pyproject.toml), run by .ci/run."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def measured():
    spec = importlib.util.spec_from_file_location("layers", ROOT / "benchmarks" / "layers.py")
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    return layers.measure()


def test_no_import_cycle_counting_imports_inside_functions(measured):
    assert measured["cycles"] == []


def test_most_internal_imports_are_at_the_top_of_a_file(measured):
    assert measured["share_at_module_level"] >= 0.8, measured["at_module_level"]


def test_no_function_over_80_lines_and_no_module_over_600(measured):
    assert measured["functions_over_80"] == [] and measured["modules_over_600"] == []


def test_every_layer_has_code(measured):
    assert all(n > 0 for n in measured["lines_per_layer"].values()), measured["lines_per_layer"]
