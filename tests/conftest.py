"""Shared fixtures: composed configs (Hydra compose API, absolute config dir) and small runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from jjj_sim.runner import config
from jjj_sim.sim.model import RelocationModel

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def make_cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return config.prepare(compose(config_name="config", overrides=list(overrides)), overrides)


def run_model(*overrides: str, seed: int = 3) -> RelocationModel:
    cfg = make_cfg(*overrides)
    model = RelocationModel(cfg, seed=seed)
    model.run_model()
    return model


@pytest.fixture(scope="session")
def small_run() -> RelocationModel:
    """Baseline at 2% scale to 2023."""
    return run_model("population.scale=0.02")


@contextlib.contextmanager
def paused(proc: subprocess.Popen):
    """Stop ``proc``'s process group (it must run in its own session) for the ``with`` block and
    let it go on afterwards: a command that holds a directory keeps holding it while a second
    one is tried, however slow the machine is."""
    os.killpg(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
