"""What the runs in one process share: the parts of a model that depend on neither the seed
nor the free parameters, built once and reused (a calibration builds thousands of models).

- ``places()``: the sectors and places (package data);
- ``load_inputs()``: the reported inputs (read once; each caller gets its own copy);
- ``policy(cfg.policy)``: the compiled levers, keyed on the ``policy`` sub-tree (each
  quarter's lever state is compiled once too: ``Policy.state``);
- ``geography(params.world, extra rail links, horizon)``: distances, cost levels and travel
  times, keyed on what they are computed from.

Shared objects are read-only: their numpy arrays are not writeable, so a model that tried to
change one would fail loudly instead of changing the runs after it.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources

import numpy as np
from omegaconf import OmegaConf

from jjj_sim.core.yaml_input import parse_yaml
from jjj_sim.sim.policy import Policy
from jjj_sim.sim.world import (
    Geography,
    Places,
    Sectors,
    load_places,
    load_rail_links,
    load_sectors,
)

_SIZE = 16  # compiled policies and geographies kept (the oldest goes first)
_POLICIES: dict[str, Policy] = {}
_GEOGRAPHIES: dict[tuple, Geography] = {}


def _read_only(obj):
    """Make the numpy arrays among ``obj``'s attributes read-only; return ``obj``."""
    for v in vars(obj).values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return obj


def _cached(cache: dict, key, build):
    """``cache[key]``, built by ``build()`` when missing."""
    value = cache.get(key)
    if value is None:
        value = build()
        if len(cache) >= _SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return value


@functools.cache
def places() -> tuple[Sectors, Places]:
    """(sectors, places) from the package data, read once per process; arrays read-only."""
    sectors = _read_only(load_sectors())
    return sectors, _read_only(load_places(sectors))


@functools.cache
def _reported_inputs() -> dict:
    text = resources.files("jjj_sim.data").joinpath("reported_inputs.yaml").read_text(encoding="utf-8")
    return parse_yaml(text, "reported_inputs.yaml")


def load_inputs() -> dict:
    """Reported inputs with their sources (jjj_sim/data/reported_inputs.yaml)."""
    return copy.deepcopy(_reported_inputs())


def policy(policy_cfg) -> Policy:
    """The compiled ``policy`` config (raises ConfigError on bad levers, as ``Policy`` does)."""

    def build():
        sectors, places_ = places()
        return Policy(policy_cfg, places_, sectors)

    # key: the resolved sub-tree in its own key order (the order of incentives and rail
    # speed-ups is the order their effects are summed in, so it is part of the key)
    return _cached(_POLICIES, json.dumps(OmegaConf.to_container(policy_cfg, resolve=True), default=repr), build)


def geography(world_params, extra_rail_links, horizon_quarters: int) -> Geography:
    """Geography of ``params.world`` (attributes) with the package's rail links plus ``extra_rail_links``."""

    def build():
        return _read_only(Geography(places()[1], world_params, load_rail_links() + list(extra_rail_links),
                                    horizon_quarters))

    key = (tuple(sorted(vars(world_params).items())), tuple(extra_rail_links), int(horizon_quarters))
    return _cached(_GEOGRAPHIES, key, build)
