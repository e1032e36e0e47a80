"""The calibration's polish methods (``calibration.polish_method``), on the unit cube of the
free parameters' bounds. Each walks down from a start for at most ``max_evals`` points; the
caller (calibrate.polish) runs the points, records every one and keeps the best.

- ``nelder-mead``: scipy's simplex on the mean loss.
- ``least-squares``: scipy's dogbox trust region on the targets' signed residuals
  (runner/targets.py), whose squares sum to the loss.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares, minimize

from jjj_sim.runner.targets import Target, residuals

POLISH_METHODS = {"nelder-mead": "Nelder-Mead", "least-squares": "trust-region least squares"}  # name: in reports


class _Spent(Exception):
    """The least-squares polish has used its simulations (scipy's max_nfev does not count the
    finite-difference Jacobian's evaluations, so the budget is kept here)."""


POLISH_STEP = 0.05  # 5% of each range: Nelder-Mead's first simplex, least squares' difference step


def nelder_mead_polish(f, x0: np.ndarray, max_evals: int) -> None:
    """Nelder-Mead (scipy) on the mean loss ``f``, from a first simplex of POLISH_STEP along
    each axis (inward at a bound)."""
    n = len(x0)
    simplex = np.vstack([x0] + [np.clip(x0 + POLISH_STEP * np.eye(n)[i] * (1 if x0[i] < 0.95 else -1), 0, 1)
                                for i in range(n)])
    minimize(f, x0, method="Nelder-Mead",
             options={"maxfev": max_evals, "initial_simplex": simplex, "xatol": 1e-4, "fatol": 1e-6})


def least_squares_polish(evaluate, x0: np.ndarray, targets: list[Target], margin: float, max_evals: int,
                         spent) -> None:
    """scipy's least squares on the targets' residuals, one block per replication seed (their
    squares sum to the mean loss), within the unit cube. ``evaluate(u)`` runs the point ``u``
    and returns (its runs, one per seed; their mean loss); ``spent()`` is the number of points
    run so far.

    The loss is a sum of squares, so the solver models it from the residuals' slopes (a
    Gauss-Newton step in a trust region) rather than from the loss alone, as a simplex does.
    The dogbox method (a box-shaped trust region), because fitted parameters sit at bounds (the
    repeat factor near 0), where the reflective method's scaling shrinks every step to nothing.
    The Jacobian is taken by forward differences of POLISH_STEP (backward at the upper bound):
    with common random numbers the loss is a step function of the parameters at a finer scale
    (a firm more or less moves), so a smaller step reads the steps, not the slope (scipy's own
    ``diff_step`` is relative to the point, so it would shrink to nothing near a lower bound).
    The solver stops when a step no longer lowers the loss, which on a step function can be a
    step too small to move a firm: it is then restarted from the best point with a fresh trust
    region, until a restart finds nothing better or ``spent()`` reaches ``max_evals``. A step
    needs the start, a Jacobian and the step's point: ``least_squares_minimum(n)`` points."""
    # the residuals at the last point run (the Jacobian's base) and at the best (a restart's
    # start): with common random numbers a point run again gives the same, so it is not rerun
    last: list = [None, None]  # [point, residuals]
    best: list = [None, None, math.inf]  # [point, residuals, sum of squares]

    def known(u: np.ndarray, where: list) -> bool:  # dogbox may move a point onto a bound by an ulp
        return where[0] is not None and np.allclose(u, where[0], rtol=0.0, atol=1e-12)

    def fun(u: np.ndarray) -> np.ndarray:
        if known(u, best):
            return best[1]
        if spent() >= max_evals:
            raise _Spent
        runs, _ = evaluate(u)
        r = np.concatenate([residuals(targets, run, margin) for run in runs]) / math.sqrt(len(runs))
        r = np.where(np.isfinite(r), r, 1e6)  # a non-finite value: far off, as the loss's 1e12
        last[:] = [np.array(u), r]
        if float(r @ r) < best[2]:
            best[:] = [np.array(u), r, float(r @ r)]
        return r

    def jac(u: np.ndarray, *_) -> np.ndarray:
        base = last[1] if known(u, last) else fun(u)
        columns = []
        for i in range(len(u)):
            h = POLISH_STEP if u[i] + POLISH_STEP <= 1.0 else -POLISH_STEP
            columns.append((fun(u + h * np.eye(len(u))[i]) - base) / h)
        return np.column_stack(columns)

    start = np.array(x0, dtype=float)
    try:
        while True:
            before = best[2]
            least_squares(fun, start, jac=jac, bounds=(0.0, 1.0), method="dogbox", max_nfev=max_evals)
            if not best[2] < before:
                return
            start = best[0]
    except _Spent:
        pass


def least_squares_minimum(n_free: int) -> int:
    """Points the least-squares polish needs to take one step with ``n_free`` parameters: the
    start, a Jacobian column for each, and the step's point."""
    return n_free + 2
