"""The start of the batch solver (``otkit.lp._simplex_batch``): Vogel's approximation method
(_pairs_vogel.h) on costs of up to ``VOGEL_LIMIT`` entries, the greedy crash above, against
scipy's HiGHS on small problems with zero bins, tied and equal costs."""

from __future__ import annotations

import numpy as np
import pytest
from oracles import linprog_ot

from otkit.lp import _pairs_orders, _simplex_batch
from otkit.solvers import _pairwise_exact


def _solve(H, H2, M, pairs):
    bins = _pairwise_exact._nonzero_bins(H), _pairwise_exact._nonzero_bins(H2)
    rows, cols = (np.ascontiguousarray(p, dtype=np.int64) for p in pairs)
    return _simplex_batch.solve_pairs(
        *bins[0],
        *bins[1],
        np.ascontiguousarray(M),
        rows,
        cols,
        100000,
        2.0**512,
        *_pairwise_exact._CERTIFICATE,
    )


def _histograms(rng, N, n, weights):
    """Rows with zero bins (at least one nonzero); integer weights tie masses exactly."""
    H = np.zeros((N, n))
    for row in H:
        support = rng.choice(n, size=rng.integers(1, n + 1), replace=False)
        row[support] = rng.integers(1, 4, support.size) if weights == "integer" else 1.0
    H[rng.integers(N)] = 1.0  # a full row
    return H / H.sum(axis=1, keepdims=True)


@pytest.fixture(params=["vogel", "greedy"])
def start(request, monkeypatch):
    if request.param == "greedy":  # costs above the limit take the greedy crash
        monkeypatch.setattr(_pairs_orders, "VOGEL_LIMIT", 0)
    return request.param


def test_vam_starts_at_the_optimum_where_the_greedy_does_not(start):
    # Masses (0.4, 0.6) -> (0.5, 0.5).  The greedy takes the least-cost arc (0, 0), which
    # forces 0.5 on the arc (1, 1) of cost 100 (50.7 in all); VAM takes column 1 first
    # (penalty 98) to its cheapest row, 0, then row 1 fills both columns: the optimum, 12.3,
    # a spanning tree (no node runs out with another) from which there is nothing to pivot.
    M = np.array([[1.0, 2.0], [3.0, 100.0]])
    values, status, pivots = _solve(np.array([[0.4, 0.6]]), np.array([[0.5, 0.5]]), M, ([0], [0]))
    assert status[0] == _simplex_batch.CERTIFIED
    assert values[0] == pytest.approx(0.4 * 2 + 0.5 * 3 + 0.1 * 100, rel=1e-14)
    if start == "vogel":
        assert pivots[0] == 0
    else:
        assert pivots[0] >= 1


@pytest.mark.parametrize("costs", ["integer", "equal", "gaussian", "grid"])
@pytest.mark.parametrize("weights", ["integer", "equal"])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_pairs_match_highs(start, costs, weights, seed):
    # Rectangular costs (n != n'): integers 0..3 (many tied penalties and cheapest arcs),
    # all equal (every penalty 0), Gaussian (no ties) or a squared grid distance (8 x 8
    # digits' kind); integer or equal weights make both ends of an arc run out together
    # (more trees in the start's forest).
    rng = np.random.default_rng(seed)
    n, n2 = (16, 16) if costs == "grid" else (7, 9)
    if costs == "integer":
        M = rng.integers(0, 4, size=(n, n2)).astype(float)
    elif costs == "equal":
        M = np.full((n, n2), 2.5)
    elif costs == "gaussian":
        M = rng.normal(size=(n, n2))
    else:
        g = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0), indexing="ij"), -1)
        g = g.reshape(-1, 2)
        M = ((g[:, None] - g[None]) ** 2).sum(-1)
    H, H2 = _histograms(rng, 6, n, weights), _histograms(rng, 5, n2, weights)
    i, j = (p.ravel() for p in np.meshgrid(np.arange(6), np.arange(5), indexing="ij"))
    values, status, _ = _solve(H, H2, M, (i, j))
    assert np.all(status == _simplex_batch.CERTIFIED)
    for p, q, value in zip(i, j, values):
        I, J = np.flatnonzero(H[p]), np.flatnonzero(H2[q])
        _, expected = linprog_ot(H[p, I], H2[q, J], M[np.ix_(I, J)])
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_both_starts_give_the_same_values(monkeypatch):
    # Certified optima of the same pairs from either start: equal to rounding.
    rng = np.random.default_rng(7)
    M = rng.integers(0, 6, size=(12, 12)).astype(float)
    H = _histograms(rng, 10, 12, "integer")
    i, j = np.triu_indices(10, 1)
    vogel, status, _ = _solve(H, H, M, (i, j))
    assert np.all(status == _simplex_batch.CERTIFIED)
    monkeypatch.setattr(_pairs_orders, "VOGEL_LIMIT", 0)
    greedy, status, _ = _solve(H, H, M, (i, j))
    assert np.all(status == _simplex_batch.CERTIFIED)
    np.testing.assert_allclose(vogel, greedy, rtol=1e-13, atol=1e-15)
