"""Online (block-by-block) costs and Sinkhorn on point clouds against the dense solver."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit.bregman._pointcloud import CostSpec, cost_block, cost_std, online_softmin

RNG = np.random.default_rng(5)
X = RNG.normal(size=(23, 3))
Y = RNG.normal(size=(17, 3)) + 0.5


def _dense_softmin(C, h, eps):
    scores = h[None, :] - C / eps
    top = scores.max(axis=1, keepdims=True)
    return -eps * (np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0])


@pytest.mark.parametrize(
    ("spec", "metric"),
    [
        (CostSpec("power", 2.0, 4), "sqeuclidean"),
        (CostSpec("power", 1.0, 5), "euclidean"),
        (CostSpec("power", 2.0, 0), "sqeuclidean"),
    ],
)
def test_online_softmin_equals_dense(spec, metric):
    # Blocks of 4 or 5 rows (23 is not a multiple) and one block: same numbers to rounding.
    h = RNG.normal(size=Y.shape[0])
    online = online_softmin(X, Y, h, 0.3, spec, np)
    dense = _dense_softmin(ot.dist(X, Y, metric=metric), h, 0.3)
    np.testing.assert_allclose(online, dense, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_online_softmin_with_zero_weights_and_a_short_last_block(backend, dtype):
    # log 0 = -inf in h (zero weights), blocks of 4 rows over 23 (a last block of 3), a
    # small eps whose far scores fall below the exp() floor: the dense values to rounding.
    h = RNG.normal(size=Y.shape[0])
    h[[0, 5]] = -np.inf
    eps = 0.01
    dense = _dense_softmin(ot.dist(X, Y), h, eps)
    if backend == "numpy":
        xp, args = np, (X.astype(dtype), Y.astype(dtype), h.astype(dtype))
    else:
        torch = pytest.importorskip("torch")
        import array_api_compat.torch as xp

        args = tuple(torch.tensor(v, dtype=getattr(torch, dtype)) for v in (X, Y, h))
    got = online_softmin(*args, eps, CostSpec("power", 2.0, 4), xp)
    assert str(got.dtype).endswith(dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(to_np(got), dense, rtol=rtol, atol=rtol)


def test_online_softmin_power_cost():
    h = RNG.normal(size=Y.shape[0])
    C = ot.dist(X, Y, metric="euclidean") ** 1.5
    online = online_softmin(X, Y, h, 0.2, CostSpec("power", 1.5, 6), np)
    np.testing.assert_allclose(online, _dense_softmin(C, h, 0.2), atol=1e-12)


@pytest.mark.parametrize(
    ("kind", "p", "metric"), [("power", 2.0, "sqeuclidean"), ("power", 1.0, "euclidean")]
)
def test_cost_std_without_the_matrix(kind, p, metric):
    # sqeuclidean: closed form from moments; others: chunked passes. Both equal np.std(M).
    expected = np.std(ot.dist(X + 10.0, Y + 10.0, metric=metric))
    got = cost_std(X + 10.0, Y + 10.0, CostSpec(kind, p, 4), np)
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


def test_lazy_empirical_sinkhorn_equals_dense_plan(xp):
    x, y = to_xp(xp, X), to_xp(xp, Y)
    log_u, log_v = ot.empirical_sinkhorn(x, y, 0.5, isLazy=True, batchSize=(4, 6))
    assert_same_backend(log_u, x)
    G = ot.empirical_sinkhorn(X, Y, 0.5)
    plan = np.exp(to_np(log_u)[:, None] + to_np(log_v)[None, :] - ot.dist(X, Y) / 0.5)
    np.testing.assert_allclose(plan, G, atol=1e-10)


@pytest.mark.parametrize("shift", [1e6, 1e8])
def test_lazy_empirical_sinkhorn_far_from_the_origin(xp, shift):
    """Translated clouds give the same plan: the online loop centres the points, so the
    cost |x|^2 + |y|^2 - 2<x, y> does not cancel (uncentred, 1e8 gave plan entries of 5e3).

    Oracle: the dense plan of the unshifted points, rebuilt from the shifted solve's
    log-scalings on the unshifted points (the plan does not see the constant in (f + c,
    g - c)). Tolerance: rounding the shifted points moves them by ulp(shift) / 2, the costs
    by about 4 ulp(shift) |x - y| and the plan entries by that / reg relative; 10 ulp(shift)
    covers it (the uncentred loop erred by 3e-5 at 1e6, 5e3 at 1e8).
    """
    x, y = to_xp(xp, X + shift), to_xp(xp, Y + shift)
    log_u, log_v = ot.empirical_sinkhorn(x, y, 0.5, isLazy=True, batchSize=(4, 6))
    assert_same_backend(log_u, x)
    plan = np.exp(to_np(log_u)[:, None] + to_np(log_v)[None, :] - ot.dist(X, Y) / 0.5)
    G = ot.empirical_sinkhorn(X, Y, 0.5)
    np.testing.assert_allclose(plan, G, atol=1e-10 + 10 * np.spacing(shift))


def test_lazy_empirical_sinkhorn2_equals_dense(xp):
    x, y = to_xp(xp, X), to_xp(xp, Y)
    # Both stop at the same tight tolerance: the difference is rounding, not the stopping point.
    lazy = ot.empirical_sinkhorn2(x, y, 0.5, isLazy=True, batchSize=5, stopThr=1e-13)
    assert_same_backend(lazy, x)
    dense = ot.empirical_sinkhorn2(X, Y, 0.5, stopThr=1e-13)
    np.testing.assert_allclose(float(lazy), float(dense), rtol=1e-10)


def test_lazy_empirical_sinkhorn2_gradient_of_points_matches_dense():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    y = torch.tensor(Y)
    ot.empirical_sinkhorn2(x, y, 0.5, isLazy=True, batchSize=5, stopThr=1e-12).backward()
    x_dense = torch.tensor(X, requires_grad=True)
    # both the implicit gradient of the linear cost (online / on the stored plan)
    ot.sinkhorn2(None, None, ot.dist(x_dense, y), 0.5, stopThr=1e-12).backward()
    np.testing.assert_allclose(x.grad.numpy(), x_dense.grad.numpy(), atol=1e-8)


def test_blocks_under_jax_jit_equal_eager():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    h = jnp.asarray(RNG.normal(size=Y.shape[0]))
    spec = CostSpec("power", 2.0, 4)
    run = jax.jit(lambda x, y, h: online_softmin(x, y, h, 0.3, spec, jnp))
    got = run(jnp.asarray(X), jnp.asarray(Y), h)
    np.testing.assert_allclose(
        np.asarray(got), online_softmin(X, Y, np.asarray(h), 0.3, spec, np), atol=1e-12
    )


def test_empirical_divergence_matches_pot_definition():
    # POT's S-bar: linear costs of the three plans, clipped at 0.
    value, log = ot.empirical_sinkhorn_divergence(X, Y, 0.5, log=True)
    expected = (
        ot.empirical_sinkhorn2(X, Y, 0.5)
        - 0.5 * ot.empirical_sinkhorn2(X, X, 0.5)
        - 0.5 * ot.empirical_sinkhorn2(Y, Y, 0.5)
    )
    np.testing.assert_allclose(float(value), float(expected), rtol=1e-8)
    assert set(log) >= {"sinkhorn_loss_ab", "sinkhorn_loss_a", "sinkhorn_loss_b"}


def test_bad_metric_and_batch_size():
    with pytest.raises(ValueError, match="metric"):
        ot.empirical_sinkhorn2(X, Y, 0.5, metric="cityblock", isLazy=True)
    with pytest.raises(ValueError, match="batchSize"):
        ot.empirical_sinkhorn(X, Y, 0.5, isLazy=True, batchSize=0)


@pytest.mark.parametrize("p", [1.0, 1.5])
def test_root_costs_are_exactly_zero_between_equal_points(p):
    """|x|^2 + |y|^2 - 2<x, y> rounds to ~u |x|^2 at x = y, which a root made 1e-8 (p = 1)."""
    x = RNG.normal(size=(20, 3)) + 30.0
    cost = cost_block(x, x, CostSpec("power", p), np)
    assert np.all(np.diag(cost) == 0.0)
    off_diagonal = cost[~np.eye(20, dtype=bool)]
    expected = np.linalg.norm(x[:, None] - x[None], axis=-1)[~np.eye(20, dtype=bool)] ** p
    # the expansion's rounding, 4 u (|x|^2 + |y|^2) ~ 5e-12 here, on squared distances >= 0.3
    np.testing.assert_allclose(off_diagonal, expected, rtol=1e-10)
