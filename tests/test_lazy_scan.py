"""The compiled certificate scan of emd_lazy (otkit.lp._lazy_scanner, _lazy_scan.h).

Soundness is the property that matters: every pair with reduced cost below -tau must be
reported (a pair the kernel skips or prunes must truly be feasible), so each test compares
the full violator set with brute force over the n x m reduced costs."""

import numpy as np
import pytest

from otkit.lp._certificate import DUAL_ULPS
from otkit.lp._hierarchy import kd_codes
from otkit.lp._lazy_certificate import PointCost, dual_violations
from otkit.lp._lazy_scanner import CertificateScanner
from otkit.lp._multiscale import solve_multiscale

EPS = float(np.finfo(np.float64).eps)

COSTS = [
    ("sqeuclidean", 2.0, 1.0),
    ("sqeuclidean", 2.0, 0.5),
    ("euclidean", 2.0, 1.0),
    ("euclidean", 2.0, 2.0),
    ("cityblock", 1.0, 1.0),
    ("minkowski", 3.0, 1.0),
]


def brute_force(cost, X, Y, u, v, extra_tol=0.0):
    C = cost.block(X, Y)
    reduced = C - u[:, None] - v[None, :]
    tol = DUAL_ULPS * EPS * (np.abs(C) + np.abs(u)[:, None] + np.abs(v)[None, :]) + extra_tol
    rows, cols = np.nonzero(reduced < -tol)
    return set(zip(rows.tolist(), cols.tolist())), reduced


def clouds(rng, n, m, d, kind):
    X, Y = rng.random((n, d)), rng.random((m, d))
    if kind == "duplicates":  # repeated points and exact ties between rows
        X[n // 2 :] = X[: n - n // 2]
        Y[: m // 3] = X[: m // 3]
    elif kind == "grid":  # integer coordinates: many equal costs
        X, Y = np.floor(8 * X), np.floor(8 * Y)
    elif kind == "far":  # off the origin: the expansion needs its centring
        X, Y = X + 1e4, Y + 1e4 + 0.3
    return X, Y


def near_optimal_duals(rng, cost, X, Y, noise):
    n, m = X.shape[0], Y.shape[0]
    result = solve_multiscale(
        X, Y, np.full(n, 1.0 / n), np.full(m, 1.0 / m), cost, num_iter_max=10**7
    )
    scale = np.abs(result.u).mean() + 1e-3
    u = result.u + noise * scale * rng.standard_normal(n)
    return u, result.v, (result.rows, result.cols, result.flows)


@pytest.mark.parametrize("metric, p, power", COSTS)
@pytest.mark.parametrize("d", [1, 2, 3, 10])
@pytest.mark.parametrize("prune", [False, True])
def test_scan_finds_every_violator(metric, p, power, d, prune):
    rng = np.random.default_rng(d)
    cost = PointCost(metric, p, power)
    X, Y = clouds(rng, 150, 230, d, "uniform")
    u, v, plan = near_optimal_duals(rng, cost, X, Y, 1e-3)
    expected, reduced = brute_force(cost, X, Y, u, v)
    scanner = CertificateScanner(cost, X, Y, prune=prune)
    rows, cols, rc, _ = scanner.violations(u, v, per_row=Y.shape[0], plan=plan)
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    np.testing.assert_allclose(rc, reduced[rows, cols], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["duplicates", "grid", "far"])
@pytest.mark.parametrize("noise", [0.0, 1e-6, 1e-2])
def test_pruned_scan_is_sound_on_degenerate_clouds(kind, noise):
    rng = np.random.default_rng(7)
    cost = PointCost()
    X, Y = clouds(rng, 300, 260, 2, kind)
    u, v, plan = near_optimal_duals(rng, cost, X, Y, noise)
    expected, _ = brute_force(cost, X, Y, u, v)
    rows, cols, _, evaluated = CertificateScanner(cost, X, Y).violations(
        u, v, per_row=Y.shape[0], plan=plan
    )
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    assert evaluated <= X.shape[0] * Y.shape[0]


@pytest.mark.parametrize("kind", ["uniform", "duplicates", "far"])
def test_block_pruning_on_spatially_ordered_rows_is_sound(kind):
    # rows numbered along a kd partition (as the engine numbers them): the blocks of
    # consecutive rows are small and prune whole chunks, which must still be sound
    rng = np.random.default_rng(13)
    cost = PointCost()
    X, Y = clouds(rng, 1200, 1000, 2, kind)
    X = X[np.argsort(kd_codes(X, 8), kind="stable")]
    for noise in (0.0, 1e-5, 1e-2):
        u, v, plan = near_optimal_duals(rng, cost, X, Y, noise)
        expected, _ = brute_force(cost, X, Y, u, v)
        rows, cols, _, evaluated = CertificateScanner(cost, X, Y).violations(
            u, v, per_row=Y.shape[0], plan=plan
        )
        assert set(zip(rows.tolist(), cols.tolist())) == expected
        if kind == "uniform":
            assert evaluated < 0.5 * X.shape[0] * Y.shape[0]


def test_optimal_duals_have_no_violator_and_pruning_skips_most_pairs():
    rng = np.random.default_rng(3)
    cost = PointCost()
    X, Y = rng.random((2000, 2)), rng.random((2000, 2))
    u, v, plan = near_optimal_duals(rng, cost, X, Y, 0.0)
    rows, _, _, evaluated = CertificateScanner(cost, X, Y).violations(u, v, plan=plan)
    assert rows.size == 0
    assert evaluated < 0.2 * X.shape[0] * Y.shape[0]


@pytest.mark.parametrize("metric, p, power", COSTS[:3])
def test_top_k_per_row_matches_the_numpy_path(metric, p, power):
    rng = np.random.default_rng(11)
    cost = PointCost(metric, p, power)
    X, Y = rng.random((400, 3)), rng.random((500, 3))
    u, v, plan = near_optimal_duals(rng, cost, X, Y, 1e-2)
    ref_rows, _, ref_rc, _ = dual_violations(cost, X, Y, u, v, 0.0, per_row=3)
    rows, _, rc, _ = CertificateScanner(cost, X, Y).violations(u, v, per_row=3, plan=plan)
    np.testing.assert_array_equal(rows, ref_rows)
    # ties may pick other columns: compare the reduced costs, sorted within each row
    np.testing.assert_allclose(
        rc[np.lexsort((rc, rows))], ref_rc[np.lexsort((ref_rc, ref_rows))], atol=1e-14
    )
    for r in np.unique(rows):  # sorted ascending within each row
        assert np.all(np.diff(rc[rows == r]) >= 0)


def test_threads_give_the_same_result():
    rng = np.random.default_rng(5)
    cost = PointCost()
    X, Y = rng.random((1500, 2)), rng.random((1200, 2))
    u, v, plan = near_optimal_duals(rng, cost, X, Y, 1e-3)
    one = CertificateScanner(cost, X, Y, threads=1).violations(u, v, plan=plan)
    two = CertificateScanner(cost, X, Y, threads=2).violations(u, v, plan=plan)
    for first, second in zip(one, two):
        np.testing.assert_array_equal(first, second)


def test_extra_tolerance_hides_small_violations():
    rng = np.random.default_rng(2)
    cost = PointCost()
    X, Y = rng.random((200, 2)), rng.random((200, 2))
    u, v, plan = near_optimal_duals(rng, cost, X, Y, 1e-4)
    expected, _ = brute_force(cost, X, Y, u, v, extra_tol=1e-3)
    rows, cols, _, _ = CertificateScanner(cost, X, Y).violations(
        u, v, extra_tol=1e-3, per_row=200, plan=plan
    )
    assert set(zip(rows.tolist(), cols.tolist())) == expected


def test_empty_sources():
    cost = PointCost()
    Y = np.random.default_rng(0).random((10, 2))
    rows, cols, rc, evaluated = CertificateScanner(cost, np.empty((0, 2)), Y).violations(
        np.empty(0), np.zeros(10)
    )
    assert rows.size == cols.size == rc.size == evaluated == 0


def test_non_finite_duals_are_refused():
    # NaN compares False: a scan of NaN duals would certify anything
    rng = np.random.default_rng(4)
    X, Y = rng.random((20, 2)), rng.random((30, 2))
    u = np.zeros(20)
    u[3] = np.nan
    with pytest.raises(FloatingPointError, match="finite"):
        CertificateScanner(PointCost(), X, Y).violations(u, np.zeros(30))
