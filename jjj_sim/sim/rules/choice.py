"""Where to: multinomial logit location choice with sampled alternatives and park capacity.

Utility of place p for a firm of sector s from province o (all terms are parameters in
``conf/params``, ``choice``):

    U = asc[p] + size_coefficient * log(size[p])
        + b_tt * hours_to_Beijing[p] + b_cost * cost[p] + b_agg * log(LQ[p, s])
        + b_spec * specialised[p, s] + b_inc * incentive[p, s]
        - friction[p] * (province[p] != o)            (+ b_stay at the firm's own place)
    friction[p] = b_border * max(0, 1 - friction_reduction * business_environment)
                           * max(0, 1 - matching_reduction * matching[p])

- ``asc``: alternative-specific constants. By province (Beijing 0; ``asc_tianjin``, fitted to
  the Tianjin/Hebei split of ZGC branches, target T7; ``asc_hebei``, fitted to T1 and T7_hebei: it
  was fixed at 0 while hand-set park sizes carried Hebei's pull), plus ``asc_xiongan`` for the places of
  Xiong'an New Area (fitted to T9): the new area opens with no firm stock to give it a size,
  and the central guidance of state-owned firms' subsidiaries to it is not otherwise in the
  model. A park adds the constant of its type (``asc_park_science``, ``asc_park_industrial``;
  ``world.PARK_TYPES``) and its own offset (``parks.asc_offset.ID``, 0 unless set): the four
  parks counted before 2021 have theirs fitted (calibration/fitted/baseline.yaml), and posterior
  draws give each of the other parks an offset from the prior
  ``N(0, parks.prior_sd)`` (jjj_sim/runner/posterior.py).
- Build-out: a park's pull grows with its age as a destination of the strategy (from its
  opening, or from 2014 for a park open before): it is worth exp(asc) * min(1, age /
  ``park_rampup_years``) firms of a region (``park_rampup``: log of that factor, added to the
  constant; 0 years: no ramp). Land, buildings and services are delivered over a park's first
  years, so its intake starts slow and rises (the record: Baoding's 36 firms six months after
  opening, 400 five years later; Binhai-ZGC's 300 in its first year, 1,884 in its fourth).
- Size term (UrbanSim's size variables; Ben-Akiva and Lerman 1985, ch. 9 on aggregating
  elemental alternatives): a region stands for many elemental sites, so log(size) enters with
  coefficient 1 (``size_coefficient``, fixed): splitting a region in two halves leaves every
  other place's probability unchanged, so the number of places a province has does not decide
  its share. Size of a region = its firms (legal units and branches, real-firm units, at least
  1). A park has no size term: its pull is its constant, fitted to the park counts of the record
  (calibration/targets.yaml, P targets), so exp(asc_park_TYPE) reads as the number of a region's
  firms a park of the type is worth as a destination. The region absorbs the rest.
- Agglomeration is intensive, so it does not double-count size: LQ[p, s] = the sector's share
  among the place's firms over its share in the whole region (smoothed by one firm; 1 in an
  empty place).

Same-sector firms are counted in real-firm units (simulated count / population scale) so
the utility does not depend on the scale. Each chooser sees a uniform random sample of
``sample_size`` of the places open to it, as in UrbanSim's sampled-alternative MNL (when
staying is an option its own place is always one of the ``sample_size``), and picks the best
by adding Gumbel noise.

Capacity: only a park whose record states a physical limit has one (parks.csv ``capacity``;
Xiong'an ZGC's phase one); the others take every chooser. A park draws choosers whether or
not it has free slots (its incentives and specialisation are what they come for). When more
firms choose a park than it has free slots,
a random subset of the size of the free slots is accepted (the lottery of UrbanSim's
choicemodels) and the others settle in the park's region instead: the overflow, counted per
park (``ChoiceContext.overflow``) and reported as ``overflow_to_region``. A chooser whose
park's region is closed to it (negative list, not allowed) does not move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jjj_sim.sim.world import PROVINCES

NONE = -1


@dataclass
class ChoiceContext:
    """Per-quarter ingredients of the utility."""

    base: np.ndarray  # float [P, S]: utility shared by every chooser of sector s
    province: np.ndarray  # int [P]
    region: np.ndarray  # int [P]: a park's region (a region: itself)
    friction: np.ndarray  # float [P]: disutility of crossing a provincial border into p
    open: np.ndarray  # bool [P]
    blocked: np.ndarray  # bool [P, S]: negative list and de-capacity (PolicyState.blocked)
    free_slots: np.ndarray  # float [P]: slots left this quarter (inf for regions); updated
    stay_bonus: float
    overflow: np.ndarray  # int [P]: choosers of a full park sent to its region (simulated firms); updated
    # derived, laid out by chooser attribute so ``choose`` gathers one row per chooser:
    by_sector: np.ndarray = field(init=False)  # float [S, P]: base, by sector
    crossing: np.ndarray = field(init=False)  # float [origin province, P]: friction a chooser from there pays
    settle: np.ndarray = field(init=False)  # bool [S, P]: open and not blocked, by sector

    def __post_init__(self):
        self.by_sector = np.ascontiguousarray(self.base.T)
        self.crossing = self.friction[None, :] * (self.province[None, :] != np.arange(len(PROVINCES))[:, None])
        self.settle = np.ascontiguousarray((self.open[:, None] & ~self.blocked).T)


def location_quotient(counts_real: np.ndarray) -> np.ndarray:
    """[P, S] sector share of each place over the sector's share in the whole region, smoothed
    by one firm spread over the sectors in proportion (1 where a place is empty)."""
    total_s = counts_real.sum(axis=0)
    regional = total_s / max(total_s.sum(), 1.0)
    n_p = counts_real.sum(axis=1, keepdims=True)
    share = (counts_real + regional[None, :]) / (n_p + 1.0)
    return share / np.maximum(regional[None, :], 1e-12)


def place_constants(params, places, in_xiongan: np.ndarray, offsets) -> np.ndarray:
    """[P] alternative-specific constants: by province, plus Xiong'an's, plus a park's type
    constant and its own offset (``offsets``: park id -> offset; absent parks 0)."""
    asc = np.array([0.0, params.asc_tianjin, params.asc_hebei])[places.province] + params.asc_xiongan * in_xiongan
    for p in places.parks:
        asc[p] += getattr(params, f"asc_park_{places.park_type[p]}") + float(offsets.get(places.ids[p], 0.0))
    return asc


def park_rampup(places, quarter: int, years: float) -> np.ndarray:
    """[P] log of the build-out factor min(1, age / years) of each park at ``quarter``, age
    counted from the end of the quarter a park opens in, or from 2014's first quarter (0 for a
    region and for ``years`` 0; a park not yet open gets the floor log(1e-9), and no chooser
    sees it, as closed places are not available)."""
    out = np.zeros(len(places.ids))
    if years <= 0:
        return out
    parks = places.parks
    age_years = (quarter - np.maximum(places.opens[parks], 0) + 1) / 4.0
    out[parks] = np.log(np.clip(age_years / years, 1e-9, 1.0))
    return out


def build_context(params, travel_time, cost, counts_real, specialised, incentive, is_park,
                  province, region, friction_scale, open_mask, blocked, free_slots,
                  asc) -> ChoiceContext:
    """This quarter's ChoiceContext: the shared utility of each place and sector from
    ``params`` (``params.choice``), travel time (hours), cost level, same-sector counts (real
    firms, [P, S]), specialisation and incentives, with the border friction, open places,
    blocked sectors, free park slots and constants ``asc`` (``place_constants``)."""
    c = params
    place_firms = counts_real.sum(axis=1)
    size = np.where(is_park, 1.0, np.maximum(place_firms, 1.0))  # a park's pull is its constant
    lq = location_quotient(counts_real)
    base = (
        (asc + c.size_coefficient * np.log(np.maximum(size, 1.0)))[:, None]
        + c.beta_travel_time * travel_time[:, None]
        + c.beta_cost * cost[:, None]
        + c.beta_agglomeration * np.log(lq)
        + c.beta_specialisation * specialised
        + c.beta_incentive * incentive
    )
    return ChoiceContext(base=base, province=province, region=region,
                         friction=c.beta_border * friction_scale, open=open_mask, blocked=blocked,
                         free_slots=free_slots, stay_bonus=c.beta_stay,
                         overflow=np.zeros(len(province), dtype=np.int64))


def _gumbel(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard Gumbel draws in float32 (3x faster than float64; the noise needs no more)."""
    u = rng.random(shape, dtype=np.float32)
    # guard: a uniform of exactly 0 would give an infinite draw
    np.maximum(u, np.finfo(np.float32).tiny, out=u)
    np.log(u, out=u)  # -log(-log(u)), in place
    np.negative(u, out=u)
    np.log(u, out=u)
    return np.negative(u, out=u)


def choose(rng: np.random.Generator, ctx: ChoiceContext, sector: np.ndarray, origin: np.ndarray,
           allowed: np.ndarray, stay: np.ndarray | None, sample_size: int) -> np.ndarray:
    """Destination place of each chooser, or NONE where it found no place.

    ``allowed``: bool [P] (or [chooser, P]) places this move may go to. ``stay``: each chooser's own
    place when staying is an option (it then always sits in the sample and needs no slot).
    """
    m = len(sector)
    dest = np.full(m, NONE, dtype=np.int64)
    if m == 0:
        return dest
    n_places = len(ctx.province)
    rows = np.arange(m)
    util = ctx.by_sector[sector] - ctx.crossing[origin]
    if stay is not None:
        util[rows, stay] += ctx.stay_bonus
    avail = allowed & ctx.settle[sector]
    keys = rng.random((m, n_places), dtype=np.float32)
    np.putmask(keys, ~avail, 2.0)
    if stay is not None:
        keys[rows, stay] = -1.0  # own place always sampled
    k = min(sample_size, n_places)
    if k < n_places:
        cut = np.partition(keys, k - 1, axis=1)[:, k - 1:k]
        sampled = (keys <= cut) & (keys < 2.0)
    else:
        sampled = keys < 2.0
    util += _gumbel(rng, sampled.shape)  # the random utility of the sampled places, -inf elsewhere
    np.putmask(util, ~sampled, -np.inf)
    pick = np.argmax(util, axis=1)
    has = np.isfinite(util[rows, pick])
    pending, pick = rows[has], pick[has]
    if stay is not None:
        at_home = pick == stay[pending]
        dest[pending[at_home]] = pick[at_home]
        pending, pick = pending[~at_home], pick[~at_home]
    # capacity lottery: a park accepts at most free_slots choosers, at random
    order = np.lexsort((rng.random(len(pick)), pick))
    pick_sorted = pick[order]
    first = np.searchsorted(pick_sorted, pick_sorted, side="left")
    rank = np.arange(len(pick_sorted)) - first
    ok_sorted = rank < ctx.free_slots[pick_sorted]
    accepted = np.zeros(len(pick), dtype=bool)
    accepted[order] = ok_sorted
    dest[pending[accepted]] = pick[accepted]
    ctx.free_slots -= np.bincount(pick[accepted], minlength=n_places)
    # the rest settle in the park's region where they may
    over, park = pending[~accepted], pick[~accepted]
    reg = ctx.region[park]
    ok = avail[over, reg]
    dest[over[ok]] = reg[ok]
    ctx.overflow += np.bincount(park[ok], minlength=n_places)
    return dest
