"""The online (point-cloud) linear costs have the gradient of the value they return.

``empirical_sinkhorn2(isLazy=True)``, ``empirical_sinkhorn_divergence`` and
``sinkhorn_divergence(value='linear')`` return linear costs <P, C> of entropic plans; their
default gradient is the implicit one, computed online (otkit.bregman._implicit_online).
Oracles: central finite differences of the NumPy value solved to stopThr=1e-13 in float64
(error budget as in test_sinkhorn_implicit.py: ~1e-8 relative, tolerance 1e-6), and the
dense implicit gradient of ``empirical_sinkhorn2(isLazy=False)`` (another solver of the
adjoint system, on the stored plan). The envelope gradient these functions had before is
off by 5-20% on these problems.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_sinkhorn_implicit import _assert_directional, _centred, _gradients

import otkit as ot

TIGHT = {"stopThr": 1e-13, "numIterMax": 20000}
REG = 0.5


def _clouds(n=9, m=6, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.3
    a, b = rng.uniform(0.5, 1.0, n), rng.uniform(0.5, 1.0, m)
    return x, y, a / a.sum(), b / b.sum()


def _lazy_cost(x, y, a, b, **kw):
    # batchSize 4: several row blocks (a padded fori_loop under jax.jit)
    return ot.empirical_sinkhorn2(x, y, REG, a, b, isLazy=True, batchSize=4, **TIGHT, **kw)


def _directions(rng, arrays, feasible_weights=True):
    """Random directions; weight directions summing to 0 (balanced problems keep mass 1)."""
    out = [rng.normal(size=v.shape) for v in arrays]
    if feasible_weights:
        out[2:] = [_centred(rng, v.shape) for v in arrays[2:]]
    return out


# Every metric on torch; JAX (whose first call compiles for seconds) eagerly and under jit.
CASES = [("torch", m) for m in ("sqeuclidean", "euclidean", "cosine")] + [
    ("jax", "sqeuclidean"),
    ("jax-jit", "cosine"),
]


@pytest.mark.parametrize(("kind", "metric"), CASES)
def test_lazy_empirical_sinkhorn2_gradient_is_that_of_its_value(kind, metric):
    arrays = _clouds()
    rng = np.random.default_rng(1)

    def cost(*v):
        return _lazy_cost(*v, metric=metric)

    gradients = _gradients(kind, cost, *arrays)
    for variable in range(4):  # X_s, X_t, a, b one at a time
        directions = [np.zeros_like(v) for v in arrays]
        directions[variable] = _directions(rng, arrays)[variable]
        _assert_directional(cost, gradients, arrays, directions)


def test_lazy_gradient_equals_the_dense_implicit_gradient():
    arrays = _clouds(12, 8, 3, seed=2)
    lazy = _gradients("torch", _lazy_cost, *arrays)
    dense = _gradients(
        "torch", lambda *v: ot.empirical_sinkhorn2(*v[:2], REG, *v[2:], **TIGHT), *arrays
    )
    for got, expected in zip(lazy, dense):
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kind", ["torch", "jax-jit"])
def test_empirical_sinkhorn_divergence_gradient_is_that_of_its_value(kind):
    arrays = _clouds(seed=3)

    def divergence(*v):
        return ot.empirical_sinkhorn_divergence(*v[:2], REG, *v[2:], **TIGHT)

    gradients = _gradients(kind, divergence, *arrays)
    directions = _directions(np.random.default_rng(4), arrays)
    _assert_directional(divergence, gradients, arrays, directions)


@pytest.mark.parametrize(("kind", "debias"), [("torch", False), ("torch", True), ("jax-jit", True)])
def test_unbalanced_linear_value_gradient(kind, debias):
    """With a KL marginal penalty the weights move freely (no projection)."""
    arrays = _clouds(seed=5)

    def linear(*v):
        return ot.sinkhorn_divergence(
            *v, reg=REG, reach=1.0, value="linear", debias=debias, stopThr=1e-13,
            numItermax=20000,
        )  # fmt: skip

    gradients = _gradients(kind, linear, *arrays)
    directions = _directions(np.random.default_rng(6), arrays, feasible_weights=False)
    _assert_directional(linear, gradients, arrays, directions)


def test_points_far_from_the_origin_and_rescaled():
    """Points of size 1e3 (solved on points divided by 2**10): gradients in user units."""
    x, y, a, b = _clouds(seed=7)
    arrays = (1e3 * x, 1e3 * y, a, b)

    def linear(*v):
        return ot.sinkhorn_divergence(*v, reg=REG * 1e6, value="linear", stopThr=1e-13)

    gradients = _gradients("torch", linear, *arrays)
    directions = _directions(np.random.default_rng(8), arrays)
    _assert_directional(linear, gradients, arrays, directions)


def test_envelope_option_is_the_gradient_of_the_regularized_value():
    arrays = _clouds(seed=9)
    common = {"reg": REG, "debias": False, "stopThr": 1e-13}
    envelope = _gradients(
        "torch", lambda *v: ot.sinkhorn_divergence(*v, value="linear", grad="envelope", **common),
        *arrays,
    )  # fmt: skip
    regularized = _gradients("torch", lambda *v: ot.sinkhorn_divergence(*v, **common), *arrays)
    for got, expected in zip(envelope[:2], regularized[:2]):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("grad", ["autodiff", "detach", "exact", None])
def test_unknown_grad_is_an_error(grad):
    x, y, _, _ = _clouds()
    with pytest.raises(ValueError, match="grad"):
        ot.sinkhorn_divergence(x, y, reg=REG, value="linear", grad=grad)
    with pytest.raises(ValueError, match="grad"):
        ot.empirical_sinkhorn2(x, y, REG, isLazy=True, grad=grad)
