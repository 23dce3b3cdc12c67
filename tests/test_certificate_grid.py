"""Exact OT between images on one pixel grid is certified optimal, not flagged (issue 15).

Both clouds are the same k x k grid on [0, 1]^2 (X == Y, DOTmark's case) with random weights.
The spacing 1/(k - 1) is no binary fraction, so the costs are rounded and near ties abound.
Before the fix, ``emd``/``emd2`` (dense, both big-M modes) and ``emd2_lazy`` returned result
code 4 with a warning, leaving hundreds of arcs whose exact reduced costs were 10 to 10^4
ulps of their scale below zero: the simplex widened its exact threshold by a worst-case
rounding bound of its potentials (the sum of |pi| along the tree path, ~1e-15 here; with
numeric big-M it priced at the scale of M), and the certificate, at 32 ulps of each arc's
scale, rightly refused the result.

Oracles: the LP optimality conditions checked here on every pair (primal feasibility, dual
feasibility, complementary slackness, zero duality gap), independently of the solvers'
certificates, and two different solvers (the dense network simplex on the n x n costs, the
multiscale lazy solver on the points) reaching the same optimum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from otkit.lp._network_simplex import OPTIMAL, network_simplex

import otkit as ot
from otkit.lp._certificate import certify_solution

EPS = np.finfo(np.float64).eps
# Tolerance of the dual checks: twice the certificate's 32 ulps of each pair's scale
# |c_ij| + |u_i| + |v_j| (see otkit/lp/_certificate.py); the failures were 10 to 10^4 ulps.
ARC_ULPS = 64
ROWS = 256  # rows of the cost per block of the checks (4 MiB at k = 64)


def grid_problem(k, seed):
    """The k x k grid on [0, 1]^2 (both sides) and random weights a, b of mass 1."""
    side = np.linspace(0.0, 1.0, k)
    X = np.stack(np.meshgrid(side, side, indexing="ij"), axis=-1).reshape(-1, 2)
    rng = np.random.default_rng(seed)
    a, b = rng.random(k * k), rng.random(k * k)
    return X, a / a.sum(), b / b.sum()


def direct_costs(X, rows, cols=None):
    """Squared Euclidean costs by direct differences (the lazy solver's formula; ``ot.dist``
    expands the square and rounds differently): of X[rows] to all of X, or of the pairs
    (rows[k], cols[k])."""
    if cols is None:
        return sum((X[rows, k, None] - X[None, :, k]) ** 2 for k in range(X.shape[1]))
    return ((X[rows] - X[cols]) ** 2).sum(-1)


def assert_optimal(costs, a, b, rows, cols, flows, u, v, cost):
    """The LP optimality conditions of (plan, duals) on every pair of the costs
    ``costs(rows)`` (rows of the n x n cost, read block by block; ``costs(rows, cols)``:
    the pairs')."""
    n = a.size
    np.testing.assert_allclose(np.bincount(rows, flows, n), a, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.bincount(cols, flows, n), b, rtol=0, atol=1e-14)
    assert flows.min() > 0.0
    for start in range(0, n, ROWS):
        block = np.arange(start, min(n, start + ROWS))
        C = costs(block)
        reduced = C - u[block, None]
        reduced -= v
        i, j = np.nonzero(reduced < 0.0)  # the others hold at any tolerance
        tol = ARC_ULPS * EPS * (np.abs(C[i, j]) + np.abs(u[block[i]]) + np.abs(v[j]))
        assert np.all(reduced[i, j] >= -tol), (reduced[i, j] / tol).min()
    c = costs(rows, cols)
    slack = np.abs(c - u[rows] - v[cols])
    assert np.all(slack <= ARC_ULPS * EPS * (c + np.abs(u[rows]) + np.abs(v[cols])))
    assert abs(a @ u + b @ v - cost) <= 1e-13 * cost


def solve_dense(X, a, b):
    """emd on the grid's cost matrix, any warning an error; returns (G, log)."""
    M = ot.dist(X, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G, log = ot.emd(a, b, M, log=True)
    return G, log


@pytest.mark.parametrize("seed", [0, 1])
def test_dense_emd_on_a_pixel_grid_is_certified(seed):
    X, a, b = grid_problem(32, seed)
    G, log = solve_dense(X, a, b)
    assert log["result_code"] == 1 and log["warning"] is None
    rows, cols = np.nonzero(G)
    M = ot.dist(X, X)

    def costs(r, c=slice(None)):
        return M[r, c]

    assert_optimal(costs, a, b, rows, cols, G[rows, cols], log["u"], log["v"], log["cost"])


@pytest.mark.parametrize("symbolic", [False, True])
def test_both_big_m_modes_certify_on_their_own(symbolic):
    # Numeric M priced the final duals with the +-M they carried until the centring, at a
    # scale ~1e3 times theirs; symbolic M widened its threshold by the rounding bound.  Each
    # mode now ends with an exact pass at the returned duals' own scale.
    X, a, b = grid_problem(32, 3)
    M = ot.dist(X, X)
    rows, cols, flows, u, v, status, _, art, used = network_simplex(
        a, b * (a.sum() / b.sum()), M, 10**7, symbolic=symbolic
    )
    assert status == OPTIMAL and used == symbolic
    assert certify_solution(a, b, M, rows, cols, flows, u, v, art) is None


def test_dense_emd_on_a_pixel_grid_in_every_library(xp):
    X, a, b = grid_problem(32, 4)
    M = ot.dist(X, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G, log = ot.emd(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M), log=True)
    assert_same_backend(G, to_xp(xp, M))
    assert log["result_code"] == 1 and log["warning"] is None
    G = to_np(G)
    rows, cols = np.nonzero(G)

    def costs(r, c=slice(None)):
        return M[r, c]

    u, v, cost = to_np(log["u"]), to_np(log["v"]), float(to_np(log["cost"]))
    assert_optimal(costs, a, b, rows, cols, G[rows, cols], u, v, cost)


@pytest.mark.parametrize(
    ("k", "seed", "hierarchy"), [(32, 0, "kd"), (32, 0, "grid"), (64, 0, "kd"), (64, 1, "grid")]
)
def test_lazy_on_a_pixel_grid_is_certified(k, seed, hierarchy):
    X, a, b = grid_problem(k, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost, log = ot.emd2_lazy(X, X, a, b, hierarchy=hierarchy, numItermax=10**6)
    assert log["result_code"] == 1 and log["warning"] is None
    G = log["G"]

    def costs(r, c=None):
        return direct_costs(X, r, c)

    assert_optimal(costs, a, b, G.row, G.col, G.data, log["u"], log["v"], float(cost))
    if k == 32:  # the dense solver reaches the same optimum (costs rounded differently)
        _, dense = solve_dense(X, a, b)
        np.testing.assert_allclose(float(cost), dense["cost"], rtol=1e-12)
