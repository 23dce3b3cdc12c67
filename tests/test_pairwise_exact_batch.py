"""``pairwise(method='exact')`` on histograms: the compiled batch solver (one call per block,
certified in C) against loops over ``emd2`` and POT, its determinism and its fallback."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    assert_same_backend,
    every_other_uncertified,
    longest_stall,
    to_np,
    to_xp,
)

import otkit as ot
from otkit.lp import _emd, _simplex_batch
from otkit.solvers import _pairwise_exact


def _histograms(N, n, seed, zero_fraction=0.5):
    """Rows with many zero bins, one row with a single bin, one row with all bins."""
    rng = np.random.default_rng(seed)
    H = rng.random((N, n))
    H[rng.random((N, n)) < zero_fraction] = 0.0
    H[0] = 0.0
    H[0, rng.integers(n)] = 1.0  # a Dirac
    H[1] = rng.random(n) + 0.1  # no zero bin
    H[np.flatnonzero(H.sum(axis=1) == 0), 0] = 1.0
    return H / H.sum(axis=1, keepdims=True)


def _grid(side):
    g = np.arange(float(side))
    return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)


RNG = np.random.default_rng(160)
X = _histograms(9, 12, seed=1)
Y = _histograms(7, 15, seed=2)  # n' != n: a rectangular cost
RECTANGULAR = ot.dist(RNG.normal(size=(12, 2)), RNG.normal(size=(15, 2)))
IMAGES = _histograms(14, 36, seed=3, zero_fraction=0.6)  # 6 x 6 "images"
GRID_COST = ot.dist(_grid(6))


def _emd2_loop(first, second, M, emd2=ot.emd2):
    return np.array([[float(emd2(a, b, M)) for b in second] for a in first])


def _arguments(first, second, M, pairs):
    bins = _pairwise_exact._nonzero_bins(first), _pairwise_exact._nonzero_bins(second)
    rows, cols = (np.ascontiguousarray(p, dtype=np.int64) for p in pairs)
    return (*bins[0], *bins[1], np.ascontiguousarray(M), rows, cols)


# --- values ------------------------------------------------------------------------------------


def test_rectangular_matches_an_emd2_loop():
    # Both solve the LP on the same nonzero bins, certified optimal to a few ulps of each
    # cost (the duality gap is bounded by the tolerances): the values agree to rounding,
    # whatever plan each simplex ends on where the optimum is not unique.
    D = ot.pairwise(X, Y, M=RECTANGULAR)
    np.testing.assert_allclose(D, _emd2_loop(X, Y, RECTANGULAR), rtol=1e-12, atol=1e-15)


def test_symmetric_matches_an_emd2_loop():
    D = ot.pairwise(IMAGES, M=GRID_COST)
    expected = _emd2_loop(IMAGES, IMAGES, GRID_COST)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(D, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(D, D.T)
    assert np.all(np.diag(D) == 0.0)


def test_matches_pot_emd2():
    pot = pytest.importorskip("ot")
    expected = _emd2_loop(IMAGES, IMAGES[:5], GRID_COST, emd2=pot.emd2)
    D = ot.pairwise(IMAGES, IMAGES[:5], M=GRID_COST)
    np.testing.assert_allclose(D, expected, rtol=1e-12, atol=1e-15)


def test_digits_match_pot_emd2():
    pot = pytest.importorskip("ot")
    datasets = pytest.importorskip("sklearn.datasets")
    H = datasets.load_digits().data[:12].astype(np.float64)
    H /= H.sum(axis=1, keepdims=True)
    M = ot.dist(_grid(8))
    D = ot.pairwise(H, M=M)
    expected = _emd2_loop(H, H, M, emd2=pot.emd2)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(D, expected, rtol=1e-12, atol=1e-15)


def test_dirac_rows_are_the_cost_against_the_other_dirac():
    # W(delta_k, delta_l) = M_kl exactly: one arc carries the whole unit mass
    H = np.eye(5)[[0, 3, 4]]
    M = ot.dist(RNG.normal(size=(5, 3)))
    np.testing.assert_array_equal(ot.pairwise(H, M=M), M[np.ix_([0, 3, 4], [0, 3, 4])])


def test_on_every_backend(xp):
    expected = ot.pairwise(X, Y, M=RECTANGULAR)
    first, second, M = to_xp(xp, X), to_xp(xp, Y), to_xp(xp, RECTANGULAR)
    D = ot.pairwise(first, second, M=M)
    assert_same_backend(D, first)
    np.testing.assert_array_equal(to_np(D), expected)


def _equal_weight_histograms(N, n, seed):
    """Equal weights on random subsets of the bins (two rows alike, one on every bin): with
    integer costs, a degenerate LP (ties everywhere, greedy steps that empty both ends)."""
    rng = np.random.default_rng(seed)
    H = np.zeros((N, n))
    for row in H:
        row[rng.choice(n, size=rng.integers(1, n + 1), replace=False)] = 1.0
    H[1] = H[0]
    H[2] = 1.0
    return H / H.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("side, N, seed", [(4, 8, 11), (6, 8, 12), (10, 6, 13)])
def test_degenerate_pairs_match_highs_and_single_emd2(side, N, seed):
    # Integer grid costs and equal weights: every pair certified, its value that of the
    # single-pair emd2 (both certified optimal: equal to rounding) and of HiGHS's LP on the
    # nonzero bins (to HiGHS's 1e-10 tolerances).  10 x 10 grids with few bins take the
    # artificial start (the crash would scan too many arcs), the others Vogel's start.
    from oracles import linprog_ot

    H = _equal_weight_histograms(N, side * side, seed)
    if side == 10:
        H = np.zeros((N, 100))
        rng = np.random.default_rng(seed)
        for row in H:
            row[rng.choice(100, size=3, replace=False)] = 1.0 / 3.0
    M = ot.dist(_grid(side))
    i, j = np.triu_indices(N, 1)
    values, status, _ = _simplex_batch.solve_pairs(
        *_arguments(H, H, M, (i, j)), 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
    )
    assert np.all(status == _simplex_batch.CERTIFIED)
    single = np.array([float(ot.emd2(H[p], H[q], M)) for p, q in zip(i, j)])
    np.testing.assert_allclose(values, single, rtol=1e-13, atol=1e-15)
    for p, q, value in zip(i, j, values):
        I, J = np.flatnonzero(H[p]), np.flatnonzero(H[q])
        _, expected = linprog_ot(H[p, I], H[q, J], M[np.ix_(I, J)])
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", [21, 22])
def test_wide_cost_range_matches_highs(seed):
    # One cost ~1e8 times the others on 36 x 36 pairs: above 1024 times the mean cost, so
    # big-M in symbolic mode (the shared pivot and driver, the duals centred and the
    # certificate's full dual pass), against HiGHS's LP.
    from oracles import linprog_ot

    H = np.random.default_rng(seed).integers(1, 4, size=(6, 36)).astype(float)
    H /= H.sum(axis=1, keepdims=True)
    M = ot.dist(_grid(6))
    M[0, 35] = 1e9
    assert M.max() > 1024 * M.mean()  # every pair has all 36 bins: its sub-cost is M
    i, j = np.triu_indices(6, 1)
    values, status, _ = _simplex_batch.solve_pairs(
        *_arguments(H, H, M, (i, j)), 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
    )
    assert np.all(status == _simplex_batch.CERTIFIED)
    for p, q, value in zip(i, j, values):
        I, J = np.flatnonzero(H[p]), np.flatnonzero(H[q])
        _, expected = linprog_ot(H[p, I], H[q, J], M[np.ix_(I, J)])
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_tight_dual_tolerance_runs_the_full_dual_pass():
    # Below twice the exact pass's own tolerance (8 ulps) the certificate cannot rely on
    # that pass: its full dual pass runs on centred duals.  A pair it certifies has the
    # value of the default tolerances; one it does not is NaN, never a wrong number.
    H = _equal_weight_histograms(8, 36, 31)
    i, j = np.triu_indices(8, 1)
    arguments = _arguments(H, H, GRID_COST, (i, j))
    expected, status, _ = _simplex_batch.solve_pairs(
        *arguments, 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
    )
    assert np.all(status == _simplex_batch.CERTIFIED)
    eps = np.finfo(float).eps
    tight = (_pairwise_exact._CERTIFICATE[0], 15 * eps, _pairwise_exact._CERTIFICATE[2])
    values, status, _ = _simplex_batch.solve_pairs(*arguments, 100000, 2.0**512, *tight)
    certified = status == _simplex_batch.CERTIFIED
    assert np.all(certified | (status == _simplex_batch.NOT_CERTIFIED))
    assert certified.any()
    np.testing.assert_array_equal(values[certified], expected[certified])
    assert np.all(np.isnan(values[~certified]))


def test_a_cost_changed_in_place_is_not_served_from_the_cache():
    # solve_pairs keeps the cost orders of the last M (its start): M changed in place
    # between calls must start from the new order, as a fresh array of the same costs does
    # (the same pivots, the same bits)
    i, j = np.triu_indices(len(IMAGES), 1)
    reversed_cost = GRID_COST.max() - GRID_COST  # the opposite order
    fresh = _simplex_batch.solve_pairs(
        *_arguments(IMAGES, IMAGES, reversed_cost.copy(), (i, j)),
        100000,
        2.0**512,
        *_pairwise_exact._CERTIFICATE,
    )
    arguments = list(_arguments(IMAGES, IMAGES, GRID_COST.copy(), (i, j)))
    _simplex_batch.solve_pairs(*arguments, 100000, 2.0**512, *_pairwise_exact._CERTIFICATE)
    arguments[6][...] = reversed_cost  # the same array, now the reversed costs
    changed = _simplex_batch.solve_pairs(
        *arguments, 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
    )
    assert np.all(changed[1] == _simplex_batch.CERTIFIED)
    np.testing.assert_array_equal(changed[0], fresh[0])
    np.testing.assert_array_equal(changed[2], fresh[2])  # pivots: the same start


# --- determinism -------------------------------------------------------------------------------


def test_n_jobs_gives_bit_identical_values():
    pytest.importorskip("joblib")
    D1 = ot.pairwise(IMAGES, M=GRID_COST, n_jobs=1)
    D2 = ot.pairwise(IMAGES, M=GRID_COST, n_jobs=2)
    np.testing.assert_array_equal(D1, D2)


def test_a_value_does_not_depend_on_its_block():
    # a resumed job solves other blocks (only the NaN entries of each row): same numbers
    D = ot.pairwise(IMAGES, M=GRID_COST)
    out = D.copy()
    out[np.random.default_rng(0).random(D.shape) < 0.4] = np.nan
    np.testing.assert_array_equal(ot.pairwise(IMAGES, M=GRID_COST, out=out), D)
    # and the kernel on the pairs in another order, in blocks of another size
    i, j = np.triu_indices(len(IMAGES), 1)
    values, status, _ = _simplex_batch.solve_pairs(
        *_arguments(IMAGES, IMAGES, GRID_COST, (i, j)),
        100000,
        2.0**512,
        *_pairwise_exact._CERTIFICATE,
    )
    assert np.all(status == _simplex_batch.CERTIFIED)
    np.testing.assert_array_equal(values, D[i, j])
    order = np.random.default_rng(1).permutation(i.size)
    for chunk in np.array_split(order, 5):
        part, _, _ = _simplex_batch.solve_pairs(
            *_arguments(IMAGES, IMAGES, GRID_COST, (i[chunk], j[chunk])),
            100000,
            2.0**512,
            *_pairwise_exact._CERTIFICATE,
        )
        np.testing.assert_array_equal(part, D[i[chunk], j[chunk]])


def test_the_batch_releases_the_gil():
    # While one call solves 10,000 pairs in a thread, the main thread keeps running: held,
    # the GIL would stop it for the whole call (one gap as long as the call).
    first, second = _histograms(100, 12, seed=4), _histograms(100, 15, seed=5)
    i, j = (p.ravel() for p in np.meshgrid(np.arange(100), np.arange(100), indexing="ij"))
    arguments = _arguments(first, second, RECTANGULAR, (i, j))

    def solve():
        _simplex_batch.solve_pairs(*arguments, 100000, 2.0**512, *_pairwise_exact._CERTIFICATE)

    assert longest_stall(solve) < 0.5


# --- statuses and the fallback -----------------------------------------------------------------


def test_uncertified_pairs_are_solved_again_on_the_emd2_path(monkeypatch):
    fallback_calls, exact_pair = [], _pairwise_exact._exact_pair
    failing = every_other_uncertified(_simplex_batch.solve_pairs, _simplex_batch.NOT_CERTIFIED)

    def counted(*args):
        fallback_calls.append(args)
        return exact_pair(*args)

    monkeypatch.setattr(_pairwise_exact, "solve_pairs", failing)
    monkeypatch.setattr(_pairwise_exact, "_exact_pair", counted)
    D = ot.pairwise(X, Y, M=RECTANGULAR)
    np.testing.assert_allclose(D, _emd2_loop(X, Y, RECTANGULAR), rtol=1e-12, atol=1e-15)
    assert len(fallback_calls) == sum((len(Y) + 1) // 2 for _ in X)


def test_pairs_for_the_shortlist_method_go_to_emd2(monkeypatch):
    # Pairs that emd2 solves by its shortlist method (_takes_shortlist) skip the batch's
    # dense simplex and are solved by emd2; the thresholds lowered so that some of X x Y's
    # pairs are such pairs, the others still batched.  Values: HiGHS's LP.
    from oracles import linprog_ot

    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_ARCS", 40)
    monkeypatch.setattr(_emd, "_SHORTLIST_MIN_SIDE", 6)
    emd2_sizes, emd2, solve_pairs = [], _pairwise_exact.emd2, _pairwise_exact.solve_pairs
    batched = []

    def counted_emd2(a, b, M, **options):
        emd2_sizes.append((np.count_nonzero(a), np.count_nonzero(b)))
        return emd2(a, b, M, **options)

    def counted_batch(*args):
        batched.append(args[7].size)
        return solve_pairs(*args)

    monkeypatch.setattr(_pairwise_exact, "emd2", counted_emd2)
    monkeypatch.setattr(_pairwise_exact, "solve_pairs", counted_batch)
    D = ot.pairwise(X, Y, M=RECTANGULAR)
    nnz_x, nnz_y = np.count_nonzero(X, axis=1), np.count_nonzero(Y, axis=1)
    large = [(n, m) for n in nnz_x for m in nnz_y if n * m >= 40 and min(n, m) >= 6]
    assert 0 < len(large) < D.size
    assert sorted(emd2_sizes) == sorted(large)
    assert sum(batched) == D.size - len(large)
    for p, a in enumerate(X):
        for q, b in enumerate(Y):
            I, J = np.flatnonzero(a), np.flatnonzero(b)
            _, expected = linprog_ot(a[I], b[J], RECTANGULAR[np.ix_(I, J)])
            assert D[p, q] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_costs_beyond_the_solver_range_go_through_emd2():
    # max |M| > 2**512: the batch leaves the pairs to emd2, which rescales the costs
    M = RECTANGULAR * 2.0**600
    i, j = np.arange(3), np.arange(3)
    values, status, _ = _simplex_batch.solve_pairs(
        *_arguments(X, Y, M, (i, j)), 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
    )
    assert np.all(status == _simplex_batch.COST_RANGE) and np.all(np.isnan(values))
    D = ot.pairwise(X[:3], Y[:4], M=M)
    np.testing.assert_allclose(D, _emd2_loop(X[:3], Y[:4], M), rtol=1e-12)


def test_max_iter_reports_not_optimal():
    # the pairs that take more than 2 pivots from their start, stopped after 2
    i, j = (p.ravel() for p in np.meshgrid(np.arange(len(X)), np.arange(len(Y)), indexing="ij"))
    _, status, pivots = _simplex_batch.solve_pairs(
        *_arguments(X, Y, RECTANGULAR, (i, j)), 100000, 2.0**512, *_pairwise_exact._CERTIFICATE
    )
    assert np.all(status == _simplex_batch.CERTIFIED)
    long = pivots > 2
    assert np.count_nonzero(long) >= 3
    values, status, pivots = _simplex_batch.solve_pairs(
        *_arguments(X, Y, RECTANGULAR, (i[long], j[long])),
        2,
        2.0**512,
        *_pairwise_exact._CERTIFICATE,
    )
    assert np.all(status == _simplex_batch.NOT_OPTIMAL) and np.all(np.isnan(values))
    assert np.all(pivots == 2)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.__setitem__(8, np.array([0, 99])), "pair 1: index out of range"),
        (lambda a: a.__setitem__(1, a[1] + 100), "bin index .* out of range"),
        (lambda a: a.__setitem__(2, -a[2]), "must be positive"),
        (lambda a: a.__setitem__(0, a[0][:-1]), "starts must run from 0"),
    ],
)
def test_kernel_rejects_bad_input(change, match):
    arguments = list(_arguments(X, Y, RECTANGULAR, (np.arange(2), np.arange(2))))
    change(arguments)
    with pytest.raises(ValueError, match=match):
        _simplex_batch.solve_pairs(*arguments, 100000, 2.0**512, *_pairwise_exact._CERTIFICATE)
