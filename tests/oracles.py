"""Independent oracles shared by the tests."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack


def linprog_ot(a: np.ndarray, b: np.ndarray, M: np.ndarray):
    """Exact OT by scipy's HiGHS LP solver: returns (plan, optimal cost).

    HiGHS's tolerances are absolute, so the cost is scaled to max |M| = 1 for the solve."""
    n, m = M.shape
    scale = float(np.abs(M).max()) or 1.0
    rows = np.repeat(np.arange(n), m)
    cols = np.arange(n * m)
    row_sums = coo_matrix((np.ones(n * m), (rows, cols)), shape=(n, n * m))
    col_sums = coo_matrix((np.ones(n * m), (np.tile(np.arange(m), n), cols)), shape=(m, n * m))
    A_eq = vstack([row_sums, col_sums]).tocsr()
    result = linprog(
        M.ravel() / scale,
        A_eq=A_eq,
        b_eq=np.concatenate([a, b]),
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    assert result.status == 0, result.message
    return result.x.reshape(n, m), result.fun * scale


def random_problem(n: int, m: int, seed: int, *, weights="random", costs="gaussian"):
    """A transport problem (a, b, M) with matching masses."""
    rng = np.random.default_rng(seed)
    if weights == "uniform":
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    else:
        a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
        a, b = a / a.sum(), b / b.sum()
    if costs == "gaussian":
        x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 0.5
        M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    elif costs == "integer":
        M = rng.integers(0, 5, size=(n, m)).astype(float)
    else:
        raise ValueError(costs)
    return a, b, M
