"""Where to: multinomial logit location choice with sampled alternatives and park capacity.

Utility of place p for a firm of sector s from province o (all terms are parameters in
``conf/params``, ``choice``):

    U = b_tt * hours_to_Beijing[p] + b_cost * cost[p] + b_agg * log(1 + same_sector_firms[p, s])
        + b_spec * specialised[p, s] + b_inc * incentive[p, s] + b_park * is_park[p]
        - friction[p] * (province[p] != o)            (+ b_stay at the firm's own place)
    friction[p] = b_border * max(0, 1 - friction_reduction * business_environment)
                           * max(0, 1 - matching_reduction * matching[p])

Same-sector firms are counted in real-firm units (simulated count / population scale) so
the utility does not depend on the scale. Each chooser sees a uniform random sample of
``sample_size`` of the places open to it (plus its own place when staying is an option), as
in UrbanSim's sampled-alternative MNL (its own place, when staying is an option, is always
one of the ``sample_size``), and picks the best by adding Gumbel noise.

Capacity: a park with no free slot is not available. Oversubscription is resolved by the
iterative lottery of UrbanSim's choicemodels: when more firms choose a park than it has
slots, a random subset of the size of the free slots is accepted, the others choose again
among the places still available, for at most ``max_rounds`` rounds; firms left over after
that do not move (a branch is not opened; a closure-relocator closes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NONE = -1


@dataclass
class ChoiceContext:
    """Per-quarter ingredients of the utility."""

    base: np.ndarray  # float [P, S]: utility shared by every chooser of sector s
    province: np.ndarray  # int [P]
    friction: np.ndarray  # float [P]: disutility of crossing a provincial border into p
    open: np.ndarray  # bool [P]
    blocked: np.ndarray  # bool [P, S]: negative list
    free_slots: np.ndarray  # float [P]: slots left this quarter (inf for regions); updated
    stay_bonus: float


def build_context(params, travel_time, cost, counts_real, specialised, incentive, is_park,
                  province, friction_scale, open_mask, blocked, free_slots) -> ChoiceContext:
    c = params
    base = (
        c.beta_travel_time * travel_time[:, None]
        + c.beta_cost * cost[:, None]
        + c.beta_agglomeration * np.log1p(counts_real)
        + c.beta_specialisation * specialised
        + c.beta_incentive * incentive
        + c.beta_park * is_park[:, None]
    )
    return ChoiceContext(base=base, province=province, friction=c.beta_border * friction_scale,
                         open=open_mask, blocked=blocked, free_slots=free_slots,
                         stay_bonus=c.beta_stay)


def _gumbel(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard Gumbel draws in float32 (3x faster than float64; the noise needs no more)."""
    u = rng.random(shape, dtype=np.float32)
    # guard: a uniform of exactly 0 would give an infinite draw
    np.maximum(u, np.finfo(np.float32).tiny, out=u)
    return -np.log(-np.log(u))


def choose(rng: np.random.Generator, ctx: ChoiceContext, sector: np.ndarray, origin: np.ndarray,
           allowed: np.ndarray, stay: np.ndarray | None, sample_size: int, max_rounds: int) -> np.ndarray:
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
    util = ctx.base[:, sector].T - ctx.friction[None, :] * (ctx.province[None, :] != origin[:, None])
    if stay is not None:
        util[rows, stay] += ctx.stay_bonus
    avail_static = np.broadcast_to(allowed, (m, n_places)) & ctx.open[None, :] & ~ctx.blocked[:, sector].T
    pending = rows
    for _ in range(max(1, max_rounds)):
        if len(pending) == 0:
            break
        avail = avail_static[pending] & (ctx.free_slots >= 1)[None, :]
        keys = rng.random((len(pending), n_places), dtype=np.float32)
        keys[~avail] = 2.0
        if stay is not None:
            keys[np.arange(len(pending)), stay[pending]] = -1.0  # own place always sampled
        k = min(sample_size, n_places)
        if k < n_places:
            cut = np.partition(keys, k - 1, axis=1)[:, k - 1:k]
            sampled = (keys <= cut) & (keys < 2.0)
        else:
            sampled = keys < 2.0
        u = np.where(sampled, util[pending] + _gumbel(rng, sampled.shape), -np.inf)
        pick = np.argmax(u, axis=1)
        has = np.isfinite(u[np.arange(len(pending)), pick])
        pending, pick = pending[has], pick[has]
        if stay is not None:
            at_home = pick == stay[pending]
            dest[pending[at_home]] = pick[at_home]
            pending, pick = pending[~at_home], pick[~at_home]
        # capacity lottery: accept at most free_slots choosers per place, at random
        order = np.lexsort((rng.random(len(pick)), pick))
        pick_sorted = pick[order]
        first = np.searchsorted(pick_sorted, pick_sorted, side="left")
        rank = np.arange(len(pick_sorted)) - first
        ok_sorted = rank < ctx.free_slots[pick_sorted]
        accepted = np.zeros(len(pick), dtype=bool)
        accepted[order] = ok_sorted
        dest[pending[accepted]] = pick[accepted]
        taken = np.bincount(pick[accepted], minlength=n_places)
        ctx.free_slots -= taken
        pending = pending[~accepted]
    return dest
