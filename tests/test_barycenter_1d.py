"""Exact 1D Wasserstein-2 barycenters by averaging quantile functions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from scipy.stats import norm

import otkit as ot


def test_barycenter_of_gaussian_quantiles_averages_mean_and_std():
    # Atoms at the same quantile levels of N(m_k, s_k^2): the barycenter's atoms sit at the
    # levels' quantiles of N(sum w m, (sum w s)^2), exactly (quantile functions are affine in
    # the standard normal one).
    levels = (np.arange(50) + 0.5) / 50
    z = norm.ppf(levels)
    means, stds, weights = (
        np.array([-1.0, 2.0, 0.5]),
        np.array([0.5, 2.0, 1.0]),
        np.array([0.2, 0.5, 0.3]),
    )
    rng = np.random.default_rng(0)
    measures = [rng.permutation(m + s * z) for m, s in zip(means, stds)]
    positions, masses = ot.barycenter_1d(measures, weights=weights)
    # Equal uniform sizes: the merged levels tie, one atom per level plus zero-mass ties.
    kept = masses > 1e-12
    np.testing.assert_allclose(positions[kept], weights @ means + (weights @ stds) * z, atol=1e-12)
    np.testing.assert_allclose(masses[kept], np.full(50, 1 / 50), atol=1e-12)


def test_barycenter_is_a_w2_minimiser():
    # sum_k w_k W2^2(mu, mu_k) is minimal at mu*: perturbing its atoms increases it.
    rng = np.random.default_rng(1)
    xs = [rng.normal(0, 1, 7), rng.normal(3, 0.5, 11), rng.normal(-2, 2, 5)]
    ws = [rng.random(7) + 0.1, rng.random(11) + 0.1, None]
    weights = np.array([0.5, 0.3, 0.2])
    positions, masses = ot.barycenter_1d(xs, ws, weights=weights)

    def objective(p):
        return sum(
            w * ot.wasserstein_1d(p, x, masses, None if a is None else a / a.sum(), p=2)
            for w, x, a in zip(weights, xs, ws)
        )

    best = objective(positions)
    for _ in range(5):
        assert objective(positions + 0.05 * rng.normal(size=positions.shape)) > best


def test_weights_one_zero_give_the_first_measure():
    rng = np.random.default_rng(2)
    x, a = rng.normal(size=6), rng.random(6)
    positions, masses = ot.barycenter_1d(
        [x, rng.normal(size=4)], [a, None], weights=np.array([1.0, 0.0])
    )
    np.testing.assert_allclose(
        ot.wasserstein_1d(positions, x, masses, a / a.sum(), p=2), 0.0, atol=1e-14
    )
    np.testing.assert_allclose(masses.sum(), 1.0, rtol=1e-14)


def test_two_dimensional_input_holds_measures_in_columns():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 3))
    from_columns = ot.barycenter_1d(X)
    from_list = ot.barycenter_1d([X[:, k] for k in range(3)])
    np.testing.assert_array_equal(from_columns[0], from_list[0])
    np.testing.assert_array_equal(from_columns[1], from_list[1])


def test_barycenter_1d_on_every_backend(xp, dtype_name):
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=5), rng.normal(size=3) + 1.0]
    ws = [rng.random(5) + 0.1, rng.random(3) + 0.1]
    xs_x = [to_xp(xp, x, dtype_name) for x in xs]
    positions, masses = ot.barycenter_1d(xs_x, [to_xp(xp, w, dtype_name) for w in ws])
    assert_same_backend(positions, xs_x[0])
    assert_same_backend(masses, xs_x[0])
    assert tuple(positions.shape) == (7,)
    expected = ot.barycenter_1d(xs, ws)
    atol = 1e-12 if dtype_name == "float64" else 1e-6
    np.testing.assert_allclose(to_np(positions), expected[0], atol=atol)
    np.testing.assert_allclose(to_np(masses), expected[1], atol=atol)


def test_barycenter_1d_under_jax_jit_and_grad():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=5), rng.normal(size=4)]
    weights = np.array([0.25, 0.75])
    fn = jax.jit(lambda x0, x1: ot.barycenter_1d([x0, x1], weights=jax.numpy.asarray(weights)))
    positions, masses = fn(*map(jax.numpy.asarray, xs))
    expected = ot.barycenter_1d(xs, weights=weights)
    np.testing.assert_allclose(np.asarray(positions), expected[0], atol=1e-14)
    # d(sum of positions weighted by masses) / d x0 = w_0 * (mass of each atom of x0) = w_0 / 5.
    grad = jax.grad(lambda x0: jax.numpy.sum(fn(x0, jax.numpy.asarray(xs[1]))[0] * masses))(
        jax.numpy.asarray(xs[0])
    )
    np.testing.assert_allclose(np.asarray(grad), np.full(5, 0.25 / 5), atol=1e-14)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (([],), {}, "measures_locations is empty"),
        ((np.zeros(3),), {}, "must be a list of 1-D arrays or a 2-D array"),
        (
            ([np.zeros(3)], [np.ones(2)]),
            {},
            r"measures_weights\[0\].shape == \(2,\), expected \(3,\)",
        ),
        (([np.zeros(3)], [np.array([1.0, -1.0, 1.0])]), {}, "negative"),
        (([np.array([0.0, np.nan])],), {}, "NaN"),
        (([np.zeros(3), np.zeros(2)], [np.ones(3)]), {}, "holds 1 measures, expected 2"),
        (([np.zeros(3), np.zeros(2)],), {"weights": np.array([0.5, 0.6])}, "weights must sum to 1"),
        (([np.zeros(3), np.zeros(2)],), {"weights": np.ones(3) / 3}, r"weights.shape == \(3,\)"),
    ],
)
def test_barycenter_1d_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ot.barycenter_1d(*args, **kwargs)
