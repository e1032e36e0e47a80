"""Experiment files (compare, sensitivity, explore): one YAML reader, unknown keys refused.

Every tool reads its experiments file with ``load_experiment`` (strict YAML: a key given twice
is refused) and refuses an unknown key of its own sections with ``check_keys``, so an unknown
key is said one way: ``FIELD: unknown key (known: ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.core.yaml_input import read_yaml


@dataclass
class Experiment:
    """An experiments file: its checked mapping and the folder its relative paths start from."""

    data: dict
    path: Path | None = None
    base_dir: Path | None = field(default=None)


def check_keys(mapping: dict, allowed: tuple[str, ...], where: str) -> None:
    """Refuse the first key of ``mapping`` not in ``allowed``: ConfigError naming ``where + key``
    (``where`` is ``"FILE.yaml:"`` for the top level, ``"section."`` below it)."""
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{where}{key}", f"unknown key (known: {', '.join(allowed)})")


def load_experiment(path, allowed: tuple[str, ...] | None = None) -> Experiment:
    """Read an experiments file (YAML mapping); with ``allowed``, unknown keys are refused."""
    p = find(path, "experiment")
    exp = read_yaml(p, "experiment", bad_field=p.name) or {}
    if not isinstance(exp, dict):
        raise ConfigError(p.name, "expected a mapping")
    if allowed is not None:
        check_keys(exp, allowed, f"{p.name}:")
    return Experiment(exp, p, p.parent.resolve())
