"""The calibration's posterior as a portable file (an ABC-SMC run's last generation, or the
Gaussian approximation of jjj_sim/tools/calibration/laplace.py), and draws from it.

``posterior.parquet`` (written by ``jjj-sim-calibrate`` or by the Laplace tool; the committed
one is calibration/fitted/baseline_posterior.parquet) has one row per particle: a column per
free parameter, named by its dotted name under ``params``, and ``weight`` (importance weights,
summing to 1). Its Parquet metadata (key ``jjj_sim``) records how it
was made: the method (``laplace``; an ABC file has generations, acceptance thresholds and
simulations instead), seed, scale, targets and the parameters' bounds.

Draw K (``jjj-sim params_draw=K``, ``uncertainty: posterior`` in compare) is one particle
picked with probability equal to its weight by a generator seeded with (the posterior's seed,
K): the same K is the same parameter set in every tool and on every machine, and draws are
independent of how many are asked for.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jjj_sim.core.checks import NONNEG, POSITIVE, check_value, whole_number
from jjj_sim.core.errors import ConfigError
from jjj_sim.core.resources import find
from jjj_sim.runner.params import param_rule
from jjj_sim.sim.world import read_csv

META_KEY = b"jjj_sim"
THIN = 0.1  # a posterior whose effective sample size is below this share of its particles gets a warning
log = logging.getLogger("jjj_sim")
_warned: set[Path] = set()  # posterior files already warned about in this process


def effective_size(weights) -> float:
    """Kish's effective sample size of importance weights, (sum w)^2 / sum(w^2): how many
    distinct particles draws by these weights are worth."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w ** 2))


def write(path: Path, table: pd.DataFrame, meta: dict) -> None:
    """Write the particles (parameter columns and ``weight``) with ``meta`` (all or nothing)."""
    import pyarrow as pa  # pyarrow's parquet modules only when a posterior is written or read (start-up)
    import pyarrow.parquet as pq
    t = pa.Table.from_pandas(table.reset_index(drop=True), preserve_index=False)
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(t, tmp)
    tmp.replace(path)


@dataclass(frozen=True)
class Posterior:
    """A loaded posterior file: its particles (parameter values and normalised weights) and metadata."""

    path: Path
    names: list[str]  # parameter names (dotted, under params)
    values: np.ndarray  # particles x parameters
    weights: np.ndarray  # sums to 1
    meta: dict

    @property
    def size(self) -> int:
        """Number of particles."""
        return len(self.weights)

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size of the particles' weights (``effective_size``)."""
        return effective_size(self.weights)

    def index(self, k: int) -> int:
        """The particle of draw ``k``."""
        rng = np.random.default_rng([int(self.meta.get("seed", 0)), int(k)])
        return int(rng.choice(self.size, p=self.weights))

    def draw(self, k: int) -> dict[str, float]:
        """Parameter values of draw ``k`` (k >= 0)."""
        row = self.values[self.index(k)]
        return {n: float(v) for n, v in zip(self.names, row)}


def prior_draw(k: int, params, seed: int) -> dict[str, float]:
    """Draw ``k`` of the quantities the record does not fit, as {dotted parameter name under
    params: value}: the offset of each park whose offset the params do not set, from
    N(0, ``parks.prior_sd``) (the fit sets those of the four parks counted before 2021; the
    others, Xiong'an ZGC and Baodi with counts after 2020 only among them, have nothing to fit
    it to), and ``demography.growth_half_life_years``, log-uniform between
    ``growth_half_life_low`` and ``growth_half_life_high``. ``params`` is the run's params
    config; the same (``seed``, ``k``) gives the same draw."""
    check_value(params.parks.prior_sd, NONNEG, "params.parks.prior_sd")
    for end in ("low", "high"):
        check_value(params.demography[f"growth_half_life_{end}"], POSITIVE, f"params.demography.growth_half_life_{end}")
    rng = np.random.default_rng([int(seed), int(k), 1])
    fitted = set(params.parks.asc_offset or {})
    out = {}
    for row in read_csv("parks.csv"):
        offset = rng.normal(0.0, float(params.parks.prior_sd))  # drawn for every park: draws stay aligned
        if row["id"] not in fitted:
            out[f"parks.asc_offset.{row['id']}"] = float(offset)
    d = params.demography
    lo, hi = np.log(float(d.growth_half_life_low)), np.log(float(d.growth_half_life_high))
    out["demography.growth_half_life_years"] = float(np.exp(rng.uniform(lo, hi)))
    return out


def load(path, field: str = "posterior_file") -> Posterior:
    """Read and check a posterior file; a ConfigError naming ``field`` if it is not one."""
    p = find(path, field)
    if not p.is_file():
        raise ConfigError(field, f"no such file: {p}")
    import pyarrow.parquet as pq  # as in write

    try:
        t = pq.read_table(p)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise ConfigError(field, f"{p} is not a Parquet file ({e.__class__.__name__})") from None
    raw = (t.schema.metadata or {}).get(META_KEY)
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        raise ConfigError(field, f"{p}: its jjj_sim metadata is not JSON") from None
    df = t.to_pandas()
    if "weight" not in df.columns:
        raise ConfigError(field, f"{p} has no 'weight' column: not a jjj-sim posterior")
    names = [c for c in df.columns if c != "weight"]
    if not names:
        raise ConfigError(field, f"{p} has no parameter columns")
    for n in names:
        if param_rule(n) is None:
            raise ConfigError(field, f"{p}: column {n!r} is not a parameter")
    try:
        values = df[names].to_numpy(dtype=float)
        w = df["weight"].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(field, f"{p}: parameter and weight columns must be numbers") from None
    if len(w) == 0 or not np.all(np.isfinite(values)) or not np.all(np.isfinite(w)) or (w < 0).any() \
            or w.sum() <= 0:
        raise ConfigError(field, f"{p}: needs at least one particle, finite values and weights >= 0")
    post = Posterior(p, names, values, w / w.sum(), meta)
    if post.effective_size < THIN * post.size and p not in _warned:
        _warned.add(p)
        log.warning("%s: effective sample size %.1f of %d particles: draws repeat a few parameter sets and "
                    "understate the parameter uncertainty (calibration/README.md)", p, post.effective_size, post.size)
    return post


def check_draw(value, field: str = "params_draw") -> int:
    """``value`` if it is a draw's index (a whole number >= 0), else a ConfigError naming ``field``."""
    return whole_number(value, field, 0)
