"""Exact barycenters (LP on a fixed support, free support) and displacement interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot


def _grid_gaussian(x, mean, std):
    h = np.exp(-0.5 * ((x - mean) / std) ** 2)
    return h / h.sum()


@pytest.fixture
def grid():
    x = np.linspace(0.0, 1.0, 40)
    return x, ot.dist(x[:, None], x[:, None])


# --- LP barycenter on a fixed support -------------------------------------------------------


def test_lp_barycenter_objective_is_consistent_with_emd(grid):
    x, M = grid
    A = np.stack([_grid_gaussian(x, 0.25, 0.05), _grid_gaussian(x, 0.7, 0.08)], axis=1)
    weights = np.array([0.3, 0.7])
    b, log = ot.lp.barycenter(A, M, weights=weights, log=True)
    np.testing.assert_allclose(b.sum(), 1.0, rtol=1e-8)
    objective = sum(w * ot.emd2(b / b.sum(), A[:, k], M) for k, w in enumerate(weights))
    np.testing.assert_allclose(log["fun"], objective, rtol=1e-6)
    # The plans returned with it are feasible for b and the inputs.
    plans = log["plans"]
    for k in range(2):
        np.testing.assert_allclose(plans[k].sum(axis=1), b, atol=1e-7)
        np.testing.assert_allclose(plans[k].sum(axis=0), A[:, k], atol=1e-7)


def test_lp_barycenter_of_gaussians_averages_mean_and_std(grid):
    # In 1D the W2 barycenter of Gaussians is the Gaussian with the averaged mean and std.
    x, M = grid
    A = np.stack([_grid_gaussian(x, 0.3, 0.04), _grid_gaussian(x, 0.7, 0.08)], axis=1)
    b = ot.lp.barycenter(A, M, solver="highs-ds")
    mean = b @ x
    std = np.sqrt(b @ (x - mean) ** 2)
    spacing = x[1] - x[0]
    assert abs(mean - 0.5) < spacing / 2
    assert abs(std - 0.06) < spacing / 2


def test_lp_barycenter_with_one_weight_is_the_input(grid):
    x, M = grid
    A = np.stack([_grid_gaussian(x, 0.3, 0.05), _grid_gaussian(x, 0.8, 0.05)], axis=1)
    # The dual simplex ends on a vertex (the interior point method stops ~1e-8 away), exact
    # up to HiGHS's absolute feasibility tolerance (set to 1e-10 by otkit).
    b = ot.lp.barycenter(A, M, weights=np.array([1.0, 0.0]), solver="highs-ds")
    np.testing.assert_allclose(b, A[:, 0], atol=1e-10)


def test_lp_barycenter_of_identical_inputs_is_the_input(grid):
    x, M = grid
    a = _grid_gaussian(x, 0.4, 0.1)
    b = ot.lp.barycenter(np.stack([a, a, a], 1), M, solver="highs-ds")
    np.testing.assert_allclose(b, a, atol=1e-10)


@pytest.mark.parametrize("weights", [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
def test_lp_barycenter_of_histograms_with_tiny_entries(weights):
    # Entries down to 1e-50 and masses 1 +- 2e-16: HiGHS used to call the LP infeasible
    # (its redundant mass constraints disagreed by an ulp).  Oracle: with weight 1 on one
    # input the barycenter is that input; otherwise the LP value is the weighted sum of the
    # exact transport costs from the barycenter, and the plans have the right marginals.
    d = 30
    x = np.linspace(0.0, 1.0, d)[:, None]
    M = ot.dist(x, x)
    A = 10.0 ** np.random.default_rng(27).uniform(-50, 0, size=(d, 3))
    A /= A.sum(axis=0)
    b, log = ot.lp.barycenter(A, M, weights=np.array(weights), solver="highs-ds", log=True)
    # HiGHS meets each of the d constraints on b to 1e-10 (absolute; set by otkit).
    np.testing.assert_allclose(b.sum(), 1.0, rtol=0, atol=d * 1e-10)
    if weights[0] == 1.0:
        np.testing.assert_allclose(b, A[:, 0], atol=1e-10)
    objective = sum(w * ot.emd2(b / b.sum(), A[:, k], M) for k, w in enumerate(weights))
    # (b is feasible to 1e-10 per entry: moving that mass costs up to d * 1e-10 * max M.)
    np.testing.assert_allclose(log["fun"], objective, rtol=1e-6, atol=d * 1e-10 * M.max())
    for k in range(3):
        np.testing.assert_allclose(log["plans"][k].sum(axis=1), b, atol=1e-10)
        np.testing.assert_allclose(log["plans"][k].sum(axis=0), A[:, k], atol=1e-10)


def test_lp_barycenter_on_every_backend(xp, grid):
    x, M = grid
    A = np.stack([_grid_gaussian(x, 0.3, 0.05), _grid_gaussian(x, 0.6, 0.05)], axis=1)
    A_x = to_xp(xp, A)
    b = ot.lp.barycenter(A_x, to_xp(xp, M))
    assert_same_backend(b, A_x)
    np.testing.assert_allclose(to_np(b), ot.lp.barycenter(A, M), atol=1e-8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"A": np.ones((4, 2))}, r"A \(each column\) must sum to 1"),
        ({"M": np.ones((3, 3))}, r"M.shape == \(3, 3\), expected \(4, 4\)"),
        ({"weights": np.ones(3) / 3}, r"weights.shape == \(3,\), expected \(2,\)"),
        ({"weights": np.array([0.7, 0.7])}, "weights must sum to 1"),
        ({"solver": "simplex"}, "solver must be one of"),
    ],
)
def test_lp_barycenter_bad_input(kwargs, message):
    args = {"A": np.full((4, 2), 0.25), "M": np.ones((4, 4))}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ot.lp.barycenter(**args)


# --- free-support barycenter ----------------------------------------------------------------


def test_free_support_in_1d_averages_sorted_samples():
    # In 1D the optimal plans are monotone: the fixed point puts the r-th smallest atom at
    # the weighted mean of the r-th smallest samples.
    rng = np.random.default_rng(0)
    samples = [rng.normal(m, s, size=(30, 1)) for m, s in [(0, 1), (3, 0.5), (-2, 2)]]
    weights = np.array([0.2, 0.5, 0.3])
    X_init = np.sort(rng.normal(size=(30, 1)), axis=0)
    X = ot.free_support_barycenter(samples, [ot.unif(30)] * 3, X_init, weights=weights)
    expected = sum(w * np.sort(s, axis=0) for w, s in zip(weights, samples))
    np.testing.assert_allclose(X, expected, atol=1e-12)


def test_free_support_of_translated_copies_is_the_mean_translate():
    rng = np.random.default_rng(1)
    cloud = rng.normal(size=(25, 2))
    shifts = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    X, log = ot.free_support_barycenter(
        [cloud + s for s in shifts],
        [ot.unif(25)] * 3,
        cloud + 0.01 * rng.normal(size=(25, 2)),
        log=True,
    )
    np.testing.assert_allclose(X, cloud + shifts.mean(axis=0), atol=1e-10)
    assert log["displacement_square_norms"][-1] < 1e-7
    assert log["n_iter"] == len(log["displacement_square_norms"])


def test_free_support_on_every_backend(xp):
    rng = np.random.default_rng(2)
    samples = [rng.normal(size=(10, 2)), rng.normal(size=(12, 2)) + 1.0]
    X_init = to_xp(xp, rng.normal(size=(8, 2)))
    X = ot.free_support_barycenter(
        [to_xp(xp, s) for s in samples], [to_xp(xp, ot.unif(10)), to_xp(xp, ot.unif(12))], X_init
    )
    assert_same_backend(X, X_init)
    expected = ot.free_support_barycenter(samples, [ot.unif(10), ot.unif(12)], to_np(X_init))
    np.testing.assert_allclose(to_np(X), expected, atol=1e-10)


def test_free_support_bad_input():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same length"):
        ot.free_support_barycenter([x], [], x)
    with pytest.raises(ValueError, match=r"measures_locations\[0\].shape == \(3, 2\), expected"):
        ot.free_support_barycenter([x], [ot.unif(3)], np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"measures_weights\[0\] has negative entries"):
        ot.free_support_barycenter([x], [np.array([-1.0, 1.0, 1.0])], x)
    # Weights off the simplex are refused, as by the entropic free-support barycenter, rather
    # than silently renormalised.
    with pytest.raises(ValueError, match=r"measures_weights\[0\] must sum to 1"):
        ot.free_support_barycenter([x], [np.full(3, 0.5)], x)
    with pytest.raises(ValueError, match=r"b must sum to 1"):
        ot.free_support_barycenter([x], [ot.unif(3)], x, b=np.full(3, 0.5))
    with pytest.raises(ValueError, match=r"weights must sum to 1"):
        ot.free_support_barycenter([x, x], [ot.unif(3)] * 2, x, weights=np.array([0.5, 0.6]))


# --- displacement interpolation -------------------------------------------------------------


@pytest.fixture
def clouds():
    rng = np.random.default_rng(3)
    xs, xt = rng.normal(size=(20, 2)), rng.normal(size=(15, 2)) * 0.5 + 3.0
    a, b = rng.random(20) + 0.2, rng.random(15) + 0.2
    return xs, xt, a / a.sum(), b / b.sum()


@pytest.mark.parametrize("t", [0.0, 0.3, 0.75, 1.0])
def test_interpolation_is_a_constant_speed_geodesic(clouds, t):
    # W2(mu_0, mu_t) = t W2(mu_0, mu_1) along the McCann interpolant of an optimal plan.
    xs, xt, a, b = clouds
    G = ot.emd(a, b, ot.dist(xs, xt))
    positions, weights = ot.displacement_interpolation(xs, xt, G, t)
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-12)
    w2_sq_total = ot.emd2(a, b, ot.dist(xs, xt))
    w2_sq_t = ot.emd2(a, weights, ot.dist(xs, positions))
    np.testing.assert_allclose(w2_sq_t, t**2 * w2_sq_total, rtol=1e-9, atol=1e-12)


def test_interpolation_endpoints(clouds):
    xs, xt, a, b = clouds
    G = ot.emd(a, b, ot.dist(xs, xt))
    rows, cols = np.nonzero(G)
    positions, _ = ot.displacement_interpolation(xs, xt, G, 0.0)
    np.testing.assert_allclose(positions, xs[rows])
    positions, _ = ot.displacement_interpolation(xs, xt, G, 1.0)
    np.testing.assert_allclose(positions, xt[cols])


def test_interpolation_on_every_backend(xp, clouds):
    xs, xt, a, b = clouds
    G = ot.emd(a, b, ot.dist(xs, xt))
    xs_x = to_xp(xp, xs)
    positions, _ = ot.displacement_interpolation(xs_x, to_xp(xp, xt), to_xp(xp, G), 0.5)
    assert_same_backend(positions, xs_x)
    np.testing.assert_allclose(to_np(positions), ot.displacement_interpolation(xs, xt, G, 0.5)[0])


def test_interpolation_bad_input(clouds):
    xs, xt, a, b = clouds
    G = ot.emd(a, b, ot.dist(xs, xt))
    with pytest.raises(ValueError, match=r"G.shape == \(15, 20\), expected \(20, 15\)"):
        ot.displacement_interpolation(xs, xt, G.T, 0.5)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        ot.displacement_interpolation(xs, xt, G, 1.5)
    with pytest.raises(ValueError, match="same dimension"):
        ot.displacement_interpolation(xs, xt[:, :1], G, 0.5)
