"""The shortlist path of the dense ``emd``/``emd2`` (otkit/lp/_shortlist.py).

The path is forced on small problems by lowering ``_emd._SHORTLIST_MIN_ARCS`` (and the
size at which the dual guess recurses, ``_shortlist._COARSE_ARCS``), and a spy checks that
its result is the one returned.  Oracles: scipy's HiGHS LP, the dense network simplex,
brute force for the kernels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from oracles import linprog_ot
from otkit.lp._shortlist_kernel import (
    col_ctransform,
    corner_arcs,
    gather,
    kd_order,
    price,
    select,
)
from otkit.lp._sparse_simplex import OPTIMAL

import otkit as ot
from otkit.lp import _emd, _shortlist

EPS = float(np.finfo(np.float64).eps)


class Calls(list):
    """The shortlist's results (None when it gave up) and "dense" for each dense solve."""

    def answered(self):
        """The last solve was answered by the shortlist (no dense fallback after it)."""
        return bool(self) and self[-1] is not None and not isinstance(self[-1], str)


@pytest.fixture
def shortlist(monkeypatch):
    """Force the shortlist path (recursing on small problems too); returns the calls."""
    calls = Calls()

    def spy(*args, **kwargs):
        result = _shortlist.solve_shortlist(*args, **kwargs)
        calls.append(result)
        return result

    def dense_spy(*args, **kwargs):
        calls.append("dense")
        return solve_dense(*args, **kwargs)

    solve_dense = _emd._solve_dense
    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_ARCS", 0)
    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_SIDE", 2)
    monkeypatch.setattr(_shortlist, "_COARSE_ARCS", 400)
    # few candidates, few arcs added per round: the pricing rounds do the work
    monkeypatch.setattr(_shortlist, "_K", 3)
    monkeypatch.setattr(_shortlist, "_PER_ROW", 2)
    monkeypatch.setattr(_emd, "solve_shortlist", spy)
    monkeypatch.setattr(_emd, "_solve_dense", dense_spy)
    return calls


def _dense(a, b, M, **options):
    """The dense path (the shortlist never runs at these sizes by default)."""
    assert M.size < _emd._SHORTLIST_MIN_ARCS
    return ot.emd(a, b, M, log=True, **options)


def _clouds(kind, n, m, seed):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 1.0
    if kind == "uniform":
        return rng.random((n, 2)), rng.random((m, 2))
    centres = rng.normal(size=(10, 2)) * 3.0
    x = centres[rng.integers(0, 10, n)] + 0.3 * rng.normal(size=(n, 2))
    y = centres[rng.integers(0, 10, m)] + 0.3 * rng.normal(size=(m, 2))
    return x, y


def _weights(kind, size, rng):
    if kind == "uniform":
        return np.full(size, 1.0 / size)
    w = rng.random(size)
    if kind == "zeros":
        w[rng.random(size) < 0.2] = 0.0
        w[0] = 1.0
    return w / w.sum()


def _assert_optimal_pair(a, b, M, G, log, cost):
    """Marginals, dual feasibility on every arc and strong duality, each to rounding."""
    u, v = log["u"], log["v"]
    scale = np.abs(M) + np.abs(u)[:, None] + np.abs(v)[None, :]
    assert np.all(M - u[:, None] - v[None, :] >= -64 * EPS * scale)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-14)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-14)
    assert np.all(G >= 0)
    np.testing.assert_allclose(a @ u + b @ v, cost, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cloud", ["gaussian", "uniform", "clustered"])
@pytest.mark.parametrize("weights", ["uniform", "random", "zeros"])
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cityblock"])
def test_shortlist_matches_highs_and_dense(shortlist, cloud, weights, metric):
    rng = np.random.default_rng([len(cloud), len(weights), len(metric)])
    n, m = 34, 27
    x, y = _clouds(cloud, n, m, rng)
    a, b = _weights(weights, n, rng), _weights(weights, m, rng)
    M = ot.dist(x, y, metric=metric)
    G, log = ot.emd(a, b, M, log=True)
    assert shortlist.answered() and log["result_code"] == 1
    _, lp_cost = linprog_ot(a, b, M)
    np.testing.assert_allclose(log["cost"], lp_cost, rtol=1e-9, atol=1e-12)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])
    with monkeypatch_off(shortlist):
        _, dense_log = _dense(a, b, M)
    np.testing.assert_allclose(log["cost"], dense_log["cost"], rtol=1e-12, atol=1e-15)


class monkeypatch_off:
    """Within the block, the shortlist threshold is back to its default (dense path)."""

    def __init__(self, calls):
        self.calls = calls

    def __enter__(self):
        self.saved = _emd._SHORTLIST_MIN_ARCS
        _emd._SHORTLIST_MIN_ARCS = 10**12
        self.count = len(self.calls)

    def __exit__(self, *exc):
        _emd._SHORTLIST_MIN_ARCS = self.saved
        assert self.calls[self.count :] == ["dense"]  # the dense path ran, alone


@pytest.mark.parametrize("seed", range(3))
def test_degenerate_integer_costs_and_duplicated_points(shortlist, seed):
    rng = np.random.default_rng(seed)
    # integer costs in {0..3}: massive ties and degenerate bases
    n, m = 40, 55
    M = rng.integers(0, 4, size=(n, m)).astype(float)
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    G, log = ot.emd(a, b, M, log=True)
    assert shortlist.answered()
    _, lp_cost = linprog_ot(a, b, M)
    np.testing.assert_allclose(log["cost"], lp_cost, rtol=1e-9, atol=1e-12)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])
    # duplicated points: every source and target appears twice (tied rows and columns)
    x, y = _clouds("gaussian", 20, 25, rng)
    x, y = np.concatenate([x, x]), np.concatenate([y, y[::-1]])
    M = ot.dist(x, y)
    a, b = np.full(40, 1 / 40), np.full(50, 1 / 50)
    G, log = ot.emd(a, b, M, log=True)
    assert shortlist.answered()
    np.testing.assert_allclose(log["cost"], linprog_ot(a, b, M)[1], rtol=1e-9)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])


def test_recursive_guess_on_a_larger_problem(shortlist):
    # 150 x 120 with _COARSE_ARCS = 400: the dual guess recurses four levels deep
    rng = np.random.default_rng(7)
    x, y = _clouds("clustered", 150, 120, rng)
    a, b = _weights("random", 150, rng), _weights("random", 120, rng)
    M = ot.dist(x, y)
    G, log = ot.emd(a, b, M, log=True)
    assert shortlist.answered() and shortlist[-1].status == OPTIMAL
    with monkeypatch_off(shortlist):
        _, dense_log = _dense(a, b, M)
    np.testing.assert_allclose(log["cost"], dense_log["cost"], rtol=1e-12)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])


def test_warm_start_keeps_the_optimum(shortlist):
    rng = np.random.default_rng(3)
    x, y = _clouds("gaussian", 60, 50, rng)
    a, b = _weights("random", 60, rng), _weights("random", 50, rng)
    M = ot.dist(x, y)
    _, log = ot.emd(a, b, M, log=True)
    # the optimal duals choose the candidates: the shortlist answers
    _, warm_log = ot.emd(a, b, M, log=True, potentials_init=(log["u"], log["v"]))
    np.testing.assert_allclose(warm_log["cost"], log["cost"], rtol=1e-12)
    assert warm_log["result_code"] == 1 and shortlist.answered()
    # random potentials: poor candidates (the shortlist may give up to the dense solver)
    warm = (rng.normal(size=60), rng.normal(size=50))
    _, warm_log = ot.emd(a, b, M, log=True, potentials_init=warm)
    np.testing.assert_allclose(warm_log["cost"], log["cost"], rtol=1e-12)
    assert warm_log["result_code"] == 1


def test_max_iter_gives_the_dense_paths_code_and_warning(shortlist):
    rng = np.random.default_rng(4)
    x, y = _clouds("uniform", 50, 40, rng)
    a, b = _weights("random", 50, rng), _weights("random", 40, rng)
    M = ot.dist(x, y)
    with pytest.warns(UserWarning, match="numItermax reached") as caught:
        _, log = ot.emd(a, b, M, log=True, numItermax=10)
    assert shortlist.answered() and shortlist[-1].status == 3
    assert log["result_code"] == 3 and log["n_iter"] == 10
    with monkeypatch_off(shortlist), pytest.warns(UserWarning) as dense_caught:
        _, dense_log = _dense(a, b, M, numItermax=10)
    assert dense_log["result_code"] == 3 and dense_log["warning"] == log["warning"]
    assert [str(w.message) for w in caught] == [str(w.message) for w in dense_caught]
    # enough pivots: optimal, with n_iter the pivots of all rounds
    _, log = ot.emd(a, b, M, log=True, numItermax=10**6)
    assert log["result_code"] == 1 and log["n_iter"] == shortlist[-1].n_iter


def test_a_wrong_shortlist_result_falls_back_to_the_dense_solver(monkeypatch):
    """The certificate checks the shortlist's answer: a corrupted one is never returned."""

    def corrupted(*args, **kwargs):
        result = _shortlist.solve_shortlist(*args, **kwargs)
        return result._replace(v=result.v + 0.1)  # no longer complementary to the plan

    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_ARCS", 0)
    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_SIDE", 2)
    monkeypatch.setattr(_emd, "solve_shortlist", corrupted)
    rng = np.random.default_rng(5)
    x, y = _clouds("gaussian", 30, 30, rng)
    a, b = _weights("random", 30, rng), _weights("random", 30, rng)
    M = ot.dist(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G, log = ot.emd(a, b, M, log=True)
    np.testing.assert_allclose(log["cost"], linprog_ot(a, b, M)[1], rtol=1e-9)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])


def test_a_shortlist_that_gives_up_leaves_the_dense_solver_to_answer(shortlist, monkeypatch):
    monkeypatch.setattr(_shortlist, "_PIVOT_BUDGET", 0)  # gives up after its first round
    rng = np.random.default_rng(12)
    M = rng.integers(0, 3, size=(40, 30)).astype(float)
    a, b = _weights("random", 40, rng), _weights("random", 30, rng)
    G, log = ot.emd(a, b, M, log=True)
    assert shortlist == [None, "dense"] and log["result_code"] == 1
    np.testing.assert_allclose(log["cost"], linprog_ot(a, b, M)[1], rtol=1e-9, atol=1e-12)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])


def test_giving_up_on_the_coarse_problem_gives_up_at_once(shortlist, monkeypatch):
    # The coarse problem of the guess gives up (here: no pivot budget, and arcs price out
    # after its first round, as with small integer costs); the full problem is then left
    # to the dense solver without a selection or a solve of its own.
    monkeypatch.setattr(_shortlist, "_PIVOT_BUDGET", 0)
    rng = np.random.default_rng(18)
    M = rng.integers(0, 3, size=(60, 50)).astype(float)
    a, b = _weights("random", 60, rng), _weights("random", 50, rng)
    timings = {}
    assert _shortlist.solve_shortlist(a, b, M, 10**6, timings=timings) is None
    assert timings["pivots"] == 0 and "select" not in timings
    G, log = ot.emd(a, b, M, log=True)
    assert shortlist[-2:] == [None, "dense"] and log["result_code"] == 1
    np.testing.assert_allclose(log["cost"], linprog_ot(a, b, M)[1], rtol=1e-9, atol=1e-12)
    _assert_optimal_pair(a, b, M, G, log, log["cost"])


def test_shortlist_on_every_backend(shortlist, xp):
    rng = np.random.default_rng(6)
    x, y = _clouds("clustered", 30, 24, rng)
    a, b = _weights("random", 30, rng), _weights("random", 24, rng)
    M = ot.dist(x, y)
    cost = ot.emd2(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M))
    assert shortlist.answered()
    assert_same_backend(cost, to_xp(xp, M))
    np.testing.assert_allclose(to_np(cost), linprog_ot(a, b, M)[1], rtol=1e-9)


# ----- kernels ------------------------------------------------------------------------


def _k_smallest(values, k):
    return set(np.argsort(values, kind="stable")[:k].tolist())


def _lists(rows, cols, n, m, k, col_part_start):
    """Per-row and per-column candidate sets of a select output."""
    row_sets = [set(cols[:col_part_start][rows[:col_part_start] == i].tolist()) for i in range(n)]
    col_sets = [set(rows[col_part_start:][cols[col_part_start:] == j].tolist()) for j in range(m)]
    return row_sets, col_sets


def test_select_picks_the_k_smallest_reduced_costs_of_rows_and_columns():
    rng = np.random.default_rng(8)
    n, m, k = 37, 150, 5
    M, u, v = rng.random((n, m)), rng.random(n), rng.random(m)
    rows, cols, u_out = select(M, u, v, k, k)
    np.testing.assert_array_equal(u_out, u)
    reduced = (M - v[None, :]) - u[:, None]
    row_sets, col_sets = _lists(rows, cols, n, m, k, n * k)
    assert row_sets == [_k_smallest(reduced[i], k) for i in range(n)]
    assert col_sets == [_k_smallest(reduced[:, j], k) for j in range(m)]


def test_select_computes_the_rows_c_transform_in_its_pass():
    rng = np.random.default_rng(13)
    n, m, k = 40, 90, 4
    M, v = rng.random((n, m)), rng.random(m)
    rows, cols, u = select(M, None, v, k, k)
    np.testing.assert_array_equal(u, np.min(M - v[None, :], axis=1))
    # the same candidates as with that u given
    given_rows, given_cols, _ = select(M, u, v, k, k)
    np.testing.assert_array_equal(rows, given_rows)
    np.testing.assert_array_equal(cols, given_cols)


@pytest.mark.parametrize("row_factor", [0.01, 1.0, 3.0, 100.0])
def test_select_row_start_keeps_the_row_lists_exact(row_factor):
    # A start limit from the running mean of the rows' limits: rows where it is too low are
    # scanned again, so the row lists are those of a scan from infinity (clouds of varying
    # density: the limit fits some rows and not others; a tiny factor fails on every row).
    rng = np.random.default_rng(14)
    x = np.concatenate([rng.normal(size=(60, 2)), 5 + 0.05 * rng.normal(size=(40, 2))])
    y = np.concatenate([rng.normal(size=(70, 2)), 5 + 0.05 * rng.normal(size=(50, 2))])
    M = ot.dist(x, y)
    v = rng.random(120) * 0.1
    k = 6
    rows, cols, u = select(M, None, v, k, 0)
    fast_rows, fast_cols, fast_u = select(M, None, v, k, 0, row_factor)
    np.testing.assert_array_equal(fast_u, u)
    assert (
        _lists(fast_rows, fast_cols, 100, 120, k, 100 * k)[0]
        == _lists(rows, cols, 100, 120, k, 100 * k)[0]
    )


def test_select_column_start_keeps_the_smallest_entries_below_it():
    rng = np.random.default_rng(15)
    n, m, k = 80, 30, 6
    M, u, v = rng.random((n, m)), rng.random(n), rng.random(m)
    reduced = (M - v[None, :]) - u[:, None]
    # bounds around each column's 3rd and 10th smallest: some columns get fewer than k
    ranked = np.sort(reduced, axis=0)
    bound = np.where(np.arange(m) % 2 == 0, ranked[2], ranked[9])
    rows, cols, _ = select(M, u, v, 0, k, 0.0, bound)
    for j in range(m):
        below = np.flatnonzero(reduced[:, j] < bound[j])
        expected = set(below[np.argsort(reduced[below, j], kind="stable")][:k].tolist())
        assert set(rows[cols == j].tolist()) == expected
        assert len(expected) == (2 if j % 2 == 0 else k)


def test_price_finds_the_most_negative_margins_of_each_row():
    rng = np.random.default_rng(9)
    n, m, per_row = 20, 300, 3
    M, u, v = rng.random((n, m)), rng.random(n), rng.random(m)
    rel = 8 * EPS
    rows, cols, margins, count = price(M, u, v, rel, 0.0, per_row)
    margin = (M - u[:, None] - v[None, :]) + rel * (np.abs(M) + np.abs(u)[:, None] + np.abs(v))
    assert count == int(np.sum(margin < 0))
    for i in range(n):
        expected = np.sort(margin[i][margin[i] < 0])[:per_row]
        np.testing.assert_allclose(np.sort(margins[rows == i]), expected, rtol=1e-15)
        np.testing.assert_allclose(margin[i, cols[rows == i]], margins[rows == i], rtol=1e-15)


def test_column_c_transform_and_its_smallest_values():
    rng = np.random.default_rng(11)
    M, u = rng.random((12, 9)), rng.random(6)
    sampled = np.array([0, 3, 4, 7, 8, 11], dtype=np.int64)
    values = M[sampled] - u[:, None]
    np.testing.assert_array_equal(col_ctransform(M, sampled, u), np.min(values, axis=0))
    v, smallest = col_ctransform(M, sampled, u, 2, 2)  # over sampled rows 0, 2, 4
    np.testing.assert_array_equal(v, np.min(values, axis=0))
    np.testing.assert_array_equal(smallest, np.sort(values[::2], axis=0)[:2])
    # more levels than rows: the missing ones stay infinite
    _, smallest = col_ctransform(M, sampled, u, 4, 3)
    np.testing.assert_array_equal(smallest[:2], np.sort(values[::3], axis=0))
    assert np.all(np.isinf(smallest[2:]))


def test_gather_is_the_submatrix():
    rng = np.random.default_rng(16)
    M = rng.random((20, 33))
    rows = rng.permutation(20)[:7].astype(np.int64)
    cols = rng.permutation(33)[:11].astype(np.int64)
    np.testing.assert_array_equal(gather(M, rows, cols), M[np.ix_(rows, cols)])
    assert gather(M, rows, cols[:0]).shape == (7, 0)


def test_kd_order_is_a_locality_order():
    rng = np.random.default_rng(17)
    # 1-D points: median cuts down to single points sort them
    points = rng.random((50, 1))
    order = kd_order(points, 6)
    np.testing.assert_array_equal(points[order, 0], np.sort(points[:, 0]))
    # 2-D, with duplicated points: a permutation whose first cut is at the median of the
    # widest coordinate (the lower half first)
    points = np.concatenate([rng.random((40, 2)) * [4.0, 1.0]] * 2)
    order = kd_order(points, 7)
    np.testing.assert_array_equal(np.sort(order), np.arange(80))
    assert points[order[:40], 0].max() <= points[order[40:], 0].min()
    # depth 0: no cut
    np.testing.assert_array_equal(kd_order(points, 0), np.arange(80))


def test_kernels_reject_mismatched_shapes():
    M = np.zeros((3, 4))
    with pytest.raises(ValueError, match="u.shape"):
        select(M, np.zeros(2), np.zeros(4), 1, 1)
    with pytest.raises(ValueError, match="col_start.shape"):
        select(M, None, np.zeros(4), 1, 1, 0.0, np.zeros(3))
    with pytest.raises(ValueError, match="per_row"):
        price(M, np.zeros(3), np.zeros(4), 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="rows must lie"):
        col_ctransform(M, np.array([5], dtype=np.int64), np.zeros(1))
    with pytest.raises(ValueError, match="stride"):
        col_ctransform(M, np.array([0], dtype=np.int64), np.zeros(1), 1, 0)
    with pytest.raises(ValueError, match="cols must lie"):
        gather(M, np.array([0], dtype=np.int64), np.array([4], dtype=np.int64))
    with pytest.raises(ValueError, match="order must lie"):
        corner_arcs(
            np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([1]), np.ones(3), np.ones(4)
        )
