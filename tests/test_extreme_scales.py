"""Extreme scales: ``dist`` far from the origin, Sinkhorn divergences at extreme blur, reach
and point scales (issue 13: never a silently wrong number).

Oracles: direct differences in float64 for ``dist``; for the divergences the energy
distance (MMD) ½⟨α − β, −C(α − β)⟩ and its first-order correction in 1/ε computed on the
dense cost matrix, ``otkit.emd2`` for ε → 0, and the homogeneity
S_ε(s x, s y) = s^p S_{ε / s^p}(x, y).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, property_settings, to_np, to_xp
from hypothesis import given, settings
from hypothesis import strategies as st

import otkit as ot

# HYPOTHESIS_PROFILE=long runs the property test below on 1000 examples per backend.
PROPERTY_SETTINGS = property_settings(30, 1000)

RNG = np.random.default_rng(13)
X = RNG.normal(size=(12, 2))
Y = RNG.normal(size=(9, 2)) + np.array([1.0, 0.5])
# Tight enough that the Sinkhorn error (about stopThr times the cost range) is negligible.
TIGHT = {"stopThr": 1e-12, "numItermax": 20000}


def dense_cost(x, y, p=2.0):
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) ** p


def expansion_oracle(x, y, eps, p=2.0, linear=False):
    """S_eps = MMD - c <C~^2> terms / eps + O(eps^-2), uniform weights, dense matrices."""

    def moments(u, v):
        C = dense_cost(u, v, p)
        centred = C - C.mean(1, keepdims=True) - C.mean(0, keepdims=True) + C.mean()
        return C.mean(), (centred**2).mean()

    (e_ab, v_ab), (e_aa, v_aa), (e_bb, v_bb) = moments(x, y), moments(x, x), moments(y, y)
    mmd = e_ab - 0.5 * (e_aa + e_bb)
    if eps == math.inf:
        return mmd
    return mmd - (1.0 if linear else 0.5) * (v_ab - 0.5 * (v_aa + v_bb)) / eps


# ----------------------------------------------------------------------------- dist


@pytest.mark.parametrize("offset", [1e4, 1e8])
def test_dist_far_from_origin_keeps_unit_distances(xp, dtype_name, offset):
    if dtype_name == "float32" and offset > 1e4:
        pytest.skip("1e8 + 1 is not representable in float32")
    x1 = to_xp(xp, [[offset, -offset]], dtype_name)
    x2 = to_xp(xp, [[offset + 1.0, -offset + 2.0]], dtype_name)
    M = ot.dist(x1, x2)
    assert_same_backend(M, x1)
    assert float(to_np(M)[0, 0]) == 5.0  # was 0 (float64 at 1e8, float32 at 1e4)
    root = to_np(ot.dist(x1, x2, metric="euclidean"))[0, 0]
    assert root == float(np.sqrt(np.asarray(5.0, dtype=dtype_name)))


def test_dist_far_from_origin_matches_direct_differences(xp, dtype_name):
    offset = 1e7 if dtype_name == "float64" else 1e3
    x1 = to_xp(xp, X + offset, dtype_name)
    x2 = to_xp(xp, Y + offset, dtype_name)
    stored1, stored2 = to_np(x1), to_np(x2)  # the values as rounded to the dtype
    expected = dense_cost(stored1, stored2)
    # The shifted expansion rounds to a few ulps of |x - c|^2 + |y - c|^2 (c: the centre of
    # both clouds), not of |x|^2 + |y|^2 ~ 1e14 (float64) or 1e6 (float32).
    both = np.vstack([stored1, stored2])
    spread = ((both - both.mean(0)) ** 2).sum(1).max()
    atol = 32 * float(np.finfo(dtype_name).eps) * 2 * spread
    np.testing.assert_allclose(to_np(ot.dist(x1, x2)), expected, rtol=0, atol=atol)


def test_dist_of_equal_arrays_has_an_exact_zero_diagonal(xp, dtype_name):
    cloud = X + (1e8 if dtype_name == "float64" else 1e4)
    x = to_xp(xp, cloud, dtype_name)
    copy = to_xp(xp, cloud.copy(), dtype_name)
    for metric in ("sqeuclidean", "euclidean"):
        for M in (ot.dist(x), ot.dist(x, x), ot.dist(x, copy)):
            assert np.all(np.diag(to_np(M)) == 0.0)
            off_diagonal = to_np(M)[~np.eye(len(cloud), dtype=bool)]
            assert np.all(off_diagonal > 0)
    # only the rows that are equal: the rest of the diagonal is a true distance
    moved = cloud.copy()
    moved[3] += 1.0
    M = to_np(ot.dist(x, to_xp(xp, moved, dtype_name)))
    assert np.all(np.delete(np.diag(M), 3) == 0.0)
    np.testing.assert_allclose(M[3, 3], 2.0, rtol=1e-3)


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_dist_gradient_at_shifted_points_matches_finite_differences(library):
    offset = np.array([1e6, -3e5])
    weights = RNG.uniform(size=(X.shape[0], Y.shape[0]))
    h = 1e-4

    def loss_np(x):
        return float((ot.dist(x, Y + offset) * weights).sum())

    base = X + offset
    fd = np.zeros_like(base)
    for i, j in np.ndindex(*base.shape):
        up, down = base.copy(), base.copy()
        up[i, j] += h
        down[i, j] -= h
        # (divided by the step as represented next to 1e6, not by 2h)
        fd[i, j] = (loss_np(up) - loss_np(down)) / (up[i, j] - down[i, j])
    if library == "torch":
        torch = pytest.importorskip("torch")
        x = torch.tensor(base, requires_grad=True)
        (ot.dist(x, torch.tensor(Y + offset)) * torch.tensor(weights)).sum().backward()
        grad = x.grad.numpy()
    else:
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def loss(x):
            return (ot.dist(x, jnp.asarray(Y + offset)) * jnp.asarray(weights)).sum()

        grad = np.asarray(jax.grad(loss)(jnp.asarray(base)))
        np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(loss))(jnp.asarray(base))), grad)
    # the exact gradient: sum_j w_ij 2 (x_i - y_j), by direct differences
    exact = 2.0 * (weights.sum(1)[:, None] * X - weights @ Y)
    np.testing.assert_allclose(grad, exact, rtol=1e-9, atol=1e-9)
    # central differences of a quadratic are exact up to the rounding of the loss
    np.testing.assert_allclose(fd, exact, atol=1e-6)


# ------------------------------------------------------------- divergences: large eps


@pytest.mark.parametrize("kwargs", [{"reg": 1e16}, {"reg": 1e20}, {"reg": 1e300}, {"blur": 1e300}])
def test_divergence_at_huge_epsilon_is_the_energy_distance(xp, dtype_name, kwargs):
    x, y = to_xp(xp, X, dtype_name), to_xp(xp, Y, dtype_name)
    value = ot.sinkhorn_divergence(x, y, **kwargs)  # was 3.4 (1e16), -1.1e4 (1e20), -1e284
    assert_same_backend(value, x)
    eps = kwargs.get("reg", math.inf)
    expected = expansion_oracle(X, Y, eps)
    rtol = 1e-12 if dtype_name == "float64" else 1e-5
    np.testing.assert_allclose(float(value), expected, rtol=rtol)


@pytest.mark.parametrize("p", [1.0, 2.0])
@pytest.mark.parametrize("reg", [1e4, 1e6, 1e8])
def test_divergence_at_large_epsilon_matches_the_first_order_expansion(p, reg):
    # Below the switch (1.6e5 times the cost range) by Sinkhorn, above by the expansion;
    # both agree with it up to (range / eps)^2 (next term) plus eps u (Sinkhorn rounding).
    value = float(ot.sinkhorn_divergence(X, Y, reg=reg, p=p, **TIGHT))
    expected = expansion_oracle(X, Y, reg, p)
    cost_range = dense_cost(np.vstack([X, Y]), np.vstack([X, Y]), p).max()
    tol = cost_range * ((cost_range / reg) ** 2 + 1e3 * reg * np.finfo(float).eps) + 1e-12
    assert abs(value - expected) <= tol
    linear = float(ot.sinkhorn_divergence(X, Y, reg=reg, p=p, value="linear", **TIGHT))
    assert abs(linear - expansion_oracle(X, Y, reg, p, linear=True)) <= 2 * tol


def test_cosine_divergence_at_huge_blur_is_half_the_squared_mean_gap():
    # C = 1 - <u, v> on unit vectors: 1/2 <a - b, -C (a - b)> = 1/2 |mean u - mean v|^2
    units_x = X / np.linalg.norm(X, axis=1, keepdims=True)
    units_y = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    expected = 0.5 * ((units_x.mean(0) - units_y.mean(0)) ** 2).sum()
    value = float(ot.sinkhorn_divergence(X, Y, metric="cosine", blur=1e300))
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_log_of_the_expansion():
    value, log = ot.sinkhorn_divergence(X, Y, reg=1e20, log=True)
    assert log["expansion"] and log["converged"] and log["n_iter"] == 0
    assert log["reg"] == 1e20
    # the three regularized values (m = 1: no constant) combine to the divergence
    combined = log["ot_ab"] - 0.5 * (log["ot_aa"] + log["ot_bb"])
    np.testing.assert_allclose(float(combined), float(value), rtol=1e-12)
    assert not ot.sinkhorn_divergence(X, Y, reg=1.0, log=True)[1]["expansion"]


def test_biased_value_at_huge_epsilon_is_the_mean_cost():
    value = float(ot.sinkhorn_divergence(X, Y, reg=1e300, debias=False))
    np.testing.assert_allclose(value, dense_cost(X, Y).mean(), rtol=1e-13)


def test_gradient_at_huge_epsilon_is_the_energy_distance_gradient():
    torch = pytest.importorskip("torch")
    x, y = torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=True)
    ot.sinkhorn_divergence(x, y, reg=1e20).backward()
    # d/dx_i [<a b, C> - <a a, C>/2 - <b b, C>/2] = 2 a_i (mean_a x - mean_b y) for |x - y|^2
    a, b = 1 / X.shape[0], 1 / Y.shape[0]
    np.testing.assert_allclose(x.grad.numpy(), np.tile(2 * a * (X.mean(0) - Y.mean(0)), (12, 1)))
    np.testing.assert_allclose(y.grad.numpy(), np.tile(2 * b * (Y.mean(0) - X.mean(0)), (9, 1)))


# ------------------------------------------------------------- divergences: small eps


@pytest.mark.parametrize(
    ("name", "value"), [("blur", 1e-10), ("blur", 1e-300), ("reg", 1e-13), ("reg", 1e-300)]
)
def test_epsilon_below_the_resolution_is_an_error_naming_it(name, value):
    # eps below 2^10 u times the cost range (45 here): blur=1e-10 returned -4.7e283
    with pytest.raises(ValueError, match=name):
        ot.sinkhorn_divergence(X, Y, **{name: value})


def test_float32_below_its_resolution_is_solved_in_float64():
    torch = pytest.importorskip("torch")  # (NumPy input is solved in float64)
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    # eps / range = 4e-8: below float32's 1024 u (refused before issue 14), above float64's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (slow convergence at small blur is only a warning)
        value = ot.sinkhorn_divergence(x, y, blur=1e-3)
        expected = ot.sinkhorn_divergence(x.double(), y.double(), blur=1e-3, stopThr=1e-4)
    assert value.dtype == torch.float32
    # the same float64 solve from the float32 data, stopped unconverged after numItermax
    # iterations in both (from annealing stages rounded to float32 in one): close, not equal
    np.testing.assert_allclose(float(value), float(expected), rtol=1e-3)
    with pytest.raises(ValueError, match="blur.*float64"):
        ot.sinkhorn_divergence(x, y, blur=1e-10)  # below float64's resolution too


def test_small_blur_tends_to_the_wasserstein_cost():
    x, y = X[:5], Y[:5]
    w2 = float(ot.emd2([], [], ot.dist(x, y)))
    # S_eps - W_2^2 = O(eps log n): eps = 2e-4 here
    value = float(ot.sinkhorn_divergence(x, y, blur=1e-2, stopThr=1e-9, numItermax=200000))
    np.testing.assert_allclose(value, w2, rtol=1e-3)


# -------------------------------------------------------- divergences: point scales


@pytest.mark.parametrize("scale", [2.0**-500, 1e-150, 1e150, 2.0**500])
def test_divergence_is_homogeneous_at_extreme_point_scales(scale):
    base, log = ot.sinkhorn_divergence(X, Y, blur=0.5, log=True, **TIGHT)
    moved, moved_log = ot.sinkhorn_divergence(
        X * scale, Y * scale, blur=0.5 * scale, log=True, **TIGHT
    )
    np.testing.assert_allclose(float(moved), float(base) * scale**2, rtol=1e-9)
    np.testing.assert_allclose(moved_log["reg"], log["reg"] * scale**2, rtol=1e-12)
    # default blur (5% of the cost's std) scales the same way; was -3e303 at 1e150
    np.testing.assert_allclose(
        float(ot.sinkhorn_divergence(X * scale, Y * scale, **TIGHT)),
        float(ot.sinkhorn_divergence(X, Y, **TIGHT)) * scale**2,
        rtol=1e-9,
    )


def test_gradients_at_extreme_point_scales():
    torch = pytest.importorskip("torch")
    scale = 1e150
    x = torch.tensor(X, requires_grad=True)
    ot.sinkhorn_divergence(x, torch.tensor(Y), blur=0.5, **TIGHT).backward()
    xs = torch.tensor(X * scale, requires_grad=True)
    ot.sinkhorn_divergence(xs, torch.tensor(Y * scale), blur=0.5 * scale, **TIGHT).backward()
    np.testing.assert_allclose(xs.grad.numpy(), x.grad.numpy() * scale, rtol=1e-8)


def test_values_that_overflow_the_dtype_are_errors_naming_the_points():
    with pytest.raises(ValueError, match="X_s, X_t"):
        ot.sinkhorn_divergence(X * 1e200, Y * 1e200, blur=1e200)
    with pytest.raises(ValueError, match="float32"):
        ot.sinkhorn_divergence((X * 1e30).astype(np.float32), (Y * 1e30).astype(np.float32))


# --------------------------------------------------------------- divergences: reach


def test_huge_reach_tends_to_the_balanced_divergence():
    balanced = float(ot.sinkhorn_divergence(X, Y, blur=0.5, **TIGHT))
    # phi(f) = rho (1 - exp(-f / rho)) cancelled to 0 for rho >> f; -rho expm1(-f / rho) does not
    for reach in (1e8, 1e50, 1e150):
        value = float(ot.sinkhorn_divergence(X, Y, blur=0.5, reach=reach, **TIGHT))
        np.testing.assert_allclose(value, balanced, rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"blur": 1.0, "reach": 1e300},  # OverflowError before
        {"blur": 1.0, "reach": 1e-300},  # NaN before
        {"reg": 1e20, "reach": 1.0},  # unbalanced eps beyond u^-1/2 times the costs
    ],
)
def test_unrepresentable_reach_or_blur_is_a_value_error(kwargs):
    with pytest.raises(ValueError, match="reach|rho|reg"):
        ot.sinkhorn_divergence(X, Y, **kwargs)


def test_tiny_reach_is_finite():
    value = float(ot.sinkhorn_divergence(X, Y, blur=0.5, reach=1e-100))
    assert math.isfinite(value) and value >= 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"blur": 1e-300},
        {"blur": 1e300},
        {"reg": 1e-300},
        {"reg": 1e300},
        {"blur": 1.0, "reach": 1e-300},
        {"blur": 1.0, "reach": 1e300},
        {"blur": 1e300, "reach": 1.0},
    ],
)
@pytest.mark.parametrize("function", ["sinkhorn_divergence", "SamplesLoss"])
def test_no_raw_arithmetic_error_at_extreme_parameters(kwargs, function):
    if function == "SamplesLoss" and "reg" in kwargs:
        pytest.skip("SamplesLoss takes blur, not reg")
    try:
        if function == "SamplesLoss":
            value = ot.SamplesLoss("sinkhorn", p=2, **kwargs)(X, Y)
        else:
            value = ot.sinkhorn_divergence(X, Y, **kwargs)
    except ValueError as error:
        assert any(name in str(error) for name in kwargs)
    else:
        assert math.isfinite(float(value)) and float(value) >= 0


def test_empirical_sinkhorn_divergence_at_huge_reg():
    value = float(ot.empirical_sinkhorn_divergence(X, Y, 1e16))  # was 3.05 in the issue
    np.testing.assert_allclose(value, expansion_oracle(X, Y, 1e16), rtol=1e-12)


@pytest.mark.parametrize("p", [math.inf, -1.0])
def test_infinite_exponent_is_an_error_naming_p(p):
    with pytest.raises(ValueError, match="p must"):
        ot.sinkhorn_divergence(X, Y, p=p)
    with pytest.raises(ValueError, match="p must"):
        ot.SamplesLoss("sinkhorn", p=p)(X, Y)


def test_dist_minkowski_infinite_p_is_chebyshev_as_scipy():
    from scipy.spatial.distance import cdist

    M = ot.dist(X, Y, metric="minkowski", p=math.inf)
    np.testing.assert_allclose(M, cdist(X, Y, "chebyshev"), rtol=1e-15)
    np.testing.assert_allclose(M, cdist(X, Y, "minkowski", p=math.inf), rtol=1e-15)


# ------------------------------------------------------------------ property test


def check_nonnegative_and_symmetric(xp, n, m, seed, log_blur, log_scale, dtype_name, **options):
    """S_eps(a, b) >= 0 and S_eps(a, b) = S_eps(b, a) up to the achieved marginal errors."""
    if dtype_name == "float32":
        log_scale = max(-15.0, min(15.0, log_scale))
    rng = np.random.default_rng(seed)
    scale = 10.0**log_scale
    x = rng.normal(size=(n, 2)) * scale
    y = (rng.normal(size=(m, 2)) + rng.normal(size=2)) * scale
    blur = 10.0**log_blur * scale
    xs, ys = to_xp(xp, x, dtype_name), to_xp(xp, y, dtype_name)
    both = np.vstack([x, y])
    cost_range = float(((both.max(0) - both.min(0)) ** 2).sum())  # squared diameter
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-convergence at small blur is reported
            forward, log_forward = ot.sinkhorn_divergence(xs, ys, blur=blur, log=True, **options)
            backward, log_backward = ot.sinkhorn_divergence(ys, xs, blur=blur, log=True, **options)
    except ValueError as error:
        # documented: eps = 2 blur^2 below 2^10 u times the cost range cannot be resolved
        # (u of float64: float32 input is solved in float64 there)
        assert "blur" in str(error)
        assert 2 * blur**2 < 1.01 * 2**10 * float(np.finfo(np.float64).eps) * cost_range
        return
    forward, backward = float(forward), float(backward)
    assert math.isfinite(forward) and forward >= 0 and backward >= 0
    # Each dual value errs by about its marginal error (L2, at most stopThr when converged)
    # times the range of the potentials, at most the cost range.
    stop = 1e-4 if dtype_name == "float32" else 1e-6
    errors = log_forward["err"] + log_backward["err"] + stop
    assert abs(forward - backward) <= 2 * errors * cost_range, (forward, backward)


CLOUDS = {
    "seed": st.integers(0, 2**32 - 1),
    "log_blur": st.floats(-1.5, 12.0),  # blur over 13 decades relative to the points
    "log_scale": st.floats(-100.0, 100.0),  # points over 200 decades
    "dtype_name": st.sampled_from(["float32", "float64"]),
}


@PROPERTY_SETTINGS
@given(n=st.integers(1, 6), m=st.integers(1, 6), **CLOUDS)
def test_divergence_is_nonnegative_and_symmetric(xp, n, m, seed, log_blur, log_scale, dtype_name):
    if is_backend(xp, "jax"):
        pytest.skip("JAX compiles once per shape: see the JAX test below")
    check_nonnegative_and_symmetric(xp, n, m, seed, log_blur, log_scale, dtype_name)


@settings(
    PROPERTY_SETTINGS,
    max_examples=max(3, PROPERTY_SETTINGS.max_examples // 6),
)
@given(**CLOUDS)
def test_divergence_is_nonnegative_and_symmetric_on_jax(seed, log_blur, log_scale, dtype_name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    # One shape and no annealing stages (their number is static): one compilation per dtype.
    check_nonnegative_and_symmetric(
        jnp, 12, 9, seed, log_blur, log_scale, dtype_name, scaling=None, numItermax=300
    )
