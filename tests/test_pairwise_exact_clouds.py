"""``pairwise(method='exact')`` on point clouds: the compiled batch solver's cloud entry
(each pair's cost computed in C, solved and certified as on histograms) against HiGHS and
loops over ``emd2``, its cost against ``dist``, and the pairs it leaves to ``emd2``."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import every_other_uncertified, longest_stall
from oracles import linprog_ot

import otkit as ot
from otkit.lp import _emd, _pairs_inputs, _simplex_batch
from otkit.solvers import _pairwise_exact


def _clouds(seed, count, sizes=(1, 9), d=2, zero_weights=False):
    """(points, weights) clouds of random sizes, unit masses; some weights zero if asked."""
    rng = np.random.default_rng(seed)
    clouds = []
    for _ in range(count):
        n = int(rng.integers(sizes[0], sizes[1] + 1))
        w = rng.random(n) + 0.05
        if zero_weights and n > 1:
            w[rng.random(n) < 0.3] = 0.0
            w[rng.integers(n)] = 1.0  # at least one positive weight
        clouds.append((rng.normal(size=(n, d)) + rng.normal(size=d), w / w.sum()))
    return clouds


def _kernel(first, second, pairs, metric="sqeuclidean", max_iter=100000):
    packed = (_pairwise_exact._packed_clouds(*zip(*side)) for side in (first, second))
    rows, cols = (np.ascontiguousarray(p, dtype=np.int64) for p in pairs)
    return _simplex_batch.solve_cloud_pairs(
        *next(packed), *next(packed), rows, cols, metric, max_iter, 2.0**512,
        *_pairwise_exact._CERTIFICATE,
    )  # fmt: skip


def _emd2_loop(first, second, metric="sqeuclidean"):
    return np.array(
        [[float(ot.emd2(a, b, ot.dist(x, y, metric))) for y, b in second] for x, a in first]
    )


def _all_pairs(N, N2):
    return [p.ravel() for p in np.meshgrid(np.arange(N), np.arange(N2), indexing="ij")]


# --- the kernel -------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_matches_highs(metric, d, seed):
    # clouds of 1 to 9 points (Diracs included), random weights
    first, second = _clouds(seed, 6, d=d), _clouds(seed + 10, 5, d=d)
    i, j = _all_pairs(6, 5)
    values, status, _ = _kernel(first, second, (i, j), metric)
    assert np.all(status == _simplex_batch.CERTIFIED)
    for p, q, value in zip(i, j, values):
        (x, a), (y, b) = first[p], second[q]
        _, expected = linprog_ot(a, b, ot.dist(x, y, metric))
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_cost_is_that_of_dist_bit_for_bit(metric):
    # dist takes direct differences on clouds of n m d <= 2**16 entries: the same sums
    rng = np.random.default_rng(3)
    for n, m, d in [(1, 1, 1), (7, 5, 2), (30, 40, 3), (20, 20, 7)]:
        x, y = rng.normal(size=(n, d)) * 10.0 ** rng.integers(-5, 5), rng.normal(size=(m, d))
        cost, peak, total = _pairs_inputs.cloud_cost(x, y, metric == "euclidean")
        np.testing.assert_array_equal(cost, ot.dist(x, y, metric))
        assert peak == cost.max() and total == pytest.approx(cost.sum(), rel=1e-14)


def test_kernel_pair_values_do_not_depend_on_the_other_pairs():
    first = _clouds(5, 8, sizes=(1, 30))
    i, j = np.triu_indices(8, 1)
    values, status, _ = _kernel(first, first, (i, j))
    assert np.all(status == _simplex_batch.CERTIFIED)
    for k in range(i.size):  # each pair alone (smaller scratch, no pair before it)
        alone, _, _ = _kernel(first, first, (i[k : k + 1], j[k : k + 1]))
        assert alone[0] == values[k]


def test_non_finite_costs_are_left_to_the_caller():
    # points of 1e200: squared distances overflow, the pairs get COST_RANGE (and NaN)
    first = [(x * 1e200, a) for x, a in _clouds(6, 2)]
    values, status, _ = _kernel(first, first, ([0, 0], [0, 1]))
    assert np.all(status == _simplex_batch.COST_RANGE) and np.all(np.isnan(values))


def test_max_iter_reports_not_optimal():
    first = _clouds(7, 3, sizes=(20, 25))
    values, status, pivots = _kernel(first, first, ([0, 1], [1, 2]), max_iter=3)
    assert np.all(status == _simplex_batch.NOT_OPTIMAL) and np.all(np.isnan(values))
    assert np.all(pivots == 3)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.__setitem__(8, "cosine"), "metric must be"),
        (lambda a: a.__setitem__(4, a[4][:, :1].copy()), "one number .* of features"),
        (lambda a: a.__setitem__(2, a[2][:-1]), "one length"),
        (lambda a: a.__setitem__(5, -a[5]), "must be positive"),
        (lambda a: a.__setitem__(7, np.array([0, 9])), "pair 1: index out of range"),
    ],
)
def test_kernel_rejects_bad_input(change, match):
    first = _clouds(8, 3)
    packed = _pairwise_exact._packed_clouds(*zip(*first))
    arguments = [*packed, *packed, np.array([0, 1]), np.array([1, 2]), "sqeuclidean"]
    change(arguments)
    with pytest.raises(ValueError, match=match):
        _simplex_batch.solve_cloud_pairs(
            *arguments, 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
        )


def test_the_cloud_batch_releases_the_gil():
    # as on histograms: while one call runs in a thread, the main thread keeps running
    first = _clouds(9, 60, sizes=(20, 40))
    i, j = np.triu_indices(60, 1)
    assert longest_stall(lambda: _kernel(first, first, (i, j))) < 0.5


# --- pairwise ----------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cityblock"])
def test_pairwise_matches_an_emd2_loop(metric):
    # zero weights inside clouds (left out by the batch), a rectangular matrix; cityblock
    # runs pair by pair on emd2's path
    first, second = _clouds(11, 7, zero_weights=True), _clouds(12, 5, zero_weights=True)
    D = ot.pairwise(first, second, metric=metric)
    np.testing.assert_allclose(D, _emd2_loop(first, second, metric), rtol=1e-12, atol=1e-15)


def test_pairwise_on_uniform_clouds_float32_and_1d():
    rng = np.random.default_rng(13)
    clouds = [rng.normal(size=n).astype(np.float32) for n in (3, 8, 5, 1)]  # (n,): d = 1
    D = ot.pairwise(clouds)
    assert D.dtype == np.float32
    pairs = [(x.astype(np.float64)[:, None], np.full(x.size, 1.0 / x.size)) for x in clouds]
    # the batch computes the costs in float64 from the points
    np.testing.assert_allclose(D, _emd2_loop(pairs, pairs), rtol=1e-6)
    assert np.all(np.diag(D) == 0) and np.array_equal(D, D.T)


def test_large_pairs_take_the_emd2_path(monkeypatch):
    # pairs that emd2 solves by its shortlist method (at least _SHORTLIST_MIN_ARCS arcs and
    # _SHORTLIST_MIN_SIDE points a side) are solved pair by pair, by emd2
    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_ARCS", 30)
    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_SIDE", 5)
    exact_pair, calls = _pairwise_exact._exact_pair, []

    def counted(*args):
        calls.append(args)
        return exact_pair(*args)

    monkeypatch.setattr(_pairwise_exact, "_exact_pair", counted)
    first, second = _clouds(14, 6), _clouds(15, 4)
    D = ot.pairwise(first, second)
    large = sum(
        len(a) * len(b) >= 30 and min(len(a), len(b)) >= 5 for _, a in first for _, b in second
    )
    assert 0 < len(calls) == large < 24
    np.testing.assert_allclose(D, _emd2_loop(first, second), rtol=1e-12, atol=1e-15)


def test_uncertified_pairs_are_solved_again(monkeypatch):
    calls, exact_pair = [], _pairwise_exact._exact_pair
    failing = every_other_uncertified(
        _simplex_batch.solve_cloud_pairs, _simplex_batch.NOT_CERTIFIED
    )

    def counted(*args):
        calls.append(args)
        return exact_pair(*args)

    monkeypatch.setattr(_pairwise_exact, "solve_cloud_pairs", failing)
    monkeypatch.setattr(_pairwise_exact, "_exact_pair", counted)
    first, second = _clouds(16, 4), _clouds(17, 5)
    D = ot.pairwise(first, second)
    np.testing.assert_allclose(D, _emd2_loop(first, second), rtol=1e-12, atol=1e-15)
    assert len(calls) == 4 * 3


def test_huge_coordinates_go_through_emd2():
    # costs above the batch's range (emd2 rescales them); the values scale as the squares
    first = [(x * 1e100, a) for x, a in _clouds(18, 4)]
    D = ot.pairwise(first)
    np.testing.assert_allclose(D, _emd2_loop(first, first), rtol=1e-12)
    assert np.all(np.isfinite(D)) and np.all(D[~np.eye(4, dtype=bool)] > 1e190)


def test_resumed_and_parallel_runs_give_the_same_bits():
    first = _clouds(19, 12, sizes=(1, 25), zero_weights=True)
    D = ot.pairwise(first)
    np.testing.assert_array_equal(ot.pairwise(first, n_jobs=2), D)
    out = D.copy()
    out[np.random.default_rng(0).random(D.shape) < 0.4] = np.nan
    np.testing.assert_array_equal(ot.pairwise(first, out=out), D)
