"""emd2_lazy / emd_lazy: the multiscale solver with its optimality certificate, against the
dense network simplex (emd2 on the full cost matrix), POT, finite differences and bad input.

Small clouds with ``coarse_size=4`` run every part of the engine (hierarchy, refinement,
neighbours, certificate rounds) in milliseconds."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot
from otkit.lp import emd2_lazy, emd_lazy

# Both solvers return LP optima computed from the same costs up to their last-bit rounding
# (direct differences here, dist's formula there): equal to 1e-10 relative, far looser than
# the ~1e-15 observed, far tighter than any suboptimal basis (the gaps between vertices of
# these random problems are ~1e-3).
RTOL = 1e-10
FAST = {"coarse_size": 4, "neighbors": 3}


def _cloud(rng, n, d, kind):
    if kind == "clustered":
        centers = rng.normal(scale=5.0, size=(3, d))
        return centers[rng.integers(0, 3, n)] + 0.1 * rng.normal(size=(n, d))
    if kind == "duplicates":
        base = rng.integers(0, 3, size=(max(n // 3, 1), d)).astype(float)
        return base[rng.integers(0, base.shape[0], n)]
    return rng.uniform(size=(n, d))


def _weights(rng, n, kind):
    if kind == "uniform":
        return np.full(n, 1.0 / n)
    w = rng.random(n)
    w[rng.random(n) < 0.2] = 0.0
    w[0] = max(w[0], 0.1)
    return w / w.sum()


CASES = [
    (n, m, d, cloud, weights, seed)
    for seed, (n, m, d) in enumerate([(17, 17, 1), (40, 31, 2), (25, 60, 3), (30, 30, 10)])
    for cloud in ("uniform", "clustered", "duplicates")
    for weights in ("uniform", "random")
]


@pytest.mark.parametrize(("n", "m", "d", "cloud", "weights", "seed"), CASES)
def test_equals_dense_emd2_with_feasible_duals(n, m, d, cloud, weights, seed):
    rng = np.random.default_rng(seed)
    X, Y = _cloud(rng, n, d, cloud), _cloud(rng, m, d, cloud) + 0.3
    a, b = _weights(rng, n, weights), _weights(rng, m, weights)
    cost, log = emd2_lazy(X, Y, a, b, **FAST)
    M = ot.dist(X, Y)
    assert log["result_code"] == 1 and log["warning"] is None
    np.testing.assert_allclose(cost, ot.emd2(a, b, M), rtol=RTOL, atol=1e-15)
    G = log["G"].toarray()
    np.testing.assert_allclose(G.sum(axis=1), a, atol=1e-14)
    np.testing.assert_allclose(G.sum(axis=0), b, atol=1e-14)
    assert log["G"].nnz <= n + m - 1  # a vertex of the transport polytope
    reduced = M - log["u"][:, None] - log["v"][None, :]
    scale = np.abs(M).max()
    assert reduced.min() >= -1e-12 * scale  # feasible on every pair, zero weights included
    assert np.abs(reduced[G > 0]).max() <= 1e-12 * scale  # complementary slackness
    np.testing.assert_allclose(a @ log["u"], b @ log["v"], atol=1e-12 * scale)


@pytest.mark.parametrize(
    ("metric", "options"),
    [
        ("euclidean", {}),
        ("cityblock", {}),
        ("minkowski", {"p": 3.0}),
        ("euclidean", {"power": 3.0}),
    ],
)
def test_other_metrics_equal_dense(metric, options):
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(35, 2)), rng.normal(size=(28, 2))
    cost = emd2_lazy(X, Y, metric=metric, return_matrix=False, **FAST, **options)
    M = ot.dist(X, Y, metric=metric, p=options.get("p", 2))
    M = M ** options.get("power", 1.0)
    np.testing.assert_allclose(cost, ot.emd2([], [], M), rtol=RTOL)


def test_certificate_rounds_add_missing_arcs():
    # without neighbours, the refined coarse support misses optimal arcs of two interleaved
    # clouds: the certificate must find them (rounds > 0) and reach the dense optimum
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(80, 2))
    Y = rng.uniform(size=(70, 2))
    cost, log = emd2_lazy(X, Y, coarse_size=4, neighbors=0)
    assert log["certificate_rounds"] > 0 and log["levels"] > 2
    np.testing.assert_allclose(cost, ot.emd2([], [], ot.dist(X, Y)), rtol=RTOL)


def test_uncertified_result_warns_and_flags():
    rng = np.random.default_rng(3)
    X, Y = rng.uniform(size=(80, 2)), rng.uniform(size=(70, 2))
    with pytest.warns(UserWarning, match="certificate"):
        cost, log = emd2_lazy(X, Y, coarse_size=4, neighbors=0, max_rounds=0)
    assert log["result_code"] == 4 and "certificate" in log["warning"]
    assert cost >= ot.emd2([], [], ot.dist(X, Y)) * (1 - RTOL)


def test_emd_lazy_plan_and_warm_start():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(20, 3))
    G, log = emd_lazy(X, Y, log=True, **FAST)
    dense = ot.emd([], [], ot.dist(X, Y))
    np.testing.assert_allclose(np.sum(G.toarray() * ot.dist(X, Y)), np.sum(dense * ot.dist(X, Y)))
    _G2, log2 = emd_lazy(X, Y, log=True, potentials_init=(log["u"], log["v"]), **FAST)
    np.testing.assert_allclose(log2["cost"], log["cost"], rtol=RTOL)


def test_single_points_and_dense_shortcut():
    X = np.array([[0.0, 0.0]])
    Y = np.array([[1.0, 0.0], [0.0, 2.0]])
    cost = emd2_lazy(X, Y, b=[0.25, 0.75], return_matrix=False)
    np.testing.assert_allclose(cost, 0.25 * 1.0 + 0.75 * 4.0)
    np.testing.assert_allclose(emd2_lazy(X, X, return_matrix=False), 0.0)


def test_matches_pot_emd2_lazy():
    pot = pytest.importorskip("ot")
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(40, 2)), rng.normal(size=(50, 2))
    b = rng.random(50)
    b /= b.sum()
    for metric in ("sqeuclidean", "euclidean", "cityblock"):
        expected, pot_log = pot.emd2_lazy(X, Y, b=b, metric=metric, log=True)
        cost, log = emd2_lazy(X, Y, b=b, metric=metric, log=True, **FAST)
        np.testing.assert_allclose(cost, expected, rtol=RTOL)
        assert set(pot_log) <= set(log)
        np.testing.assert_allclose(log["G"].sum(axis=0), b, atol=1e-14)


def test_backends_keep_library_and_dtype(xp):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2))
    Xb, Yb = to_xp(xp, X), to_xp(xp, Y)
    cost, log = emd2_lazy(Xb, Yb, **FAST)
    assert_same_backend(cost, Xb)
    assert_same_backend(log["u"], Xb)
    np.testing.assert_allclose(to_np(cost), ot.emd2([], [], ot.dist(X, Y)), rtol=RTOL)
    if not is_backend(xp, "numpy"):
        plan = log["G"]
        assert isinstance(plan, ot.lp.SparsePlan) and plan.shape == (12, 9)
        assert plan.data.shape == (12 + 9 - 1,)
        dense = np.zeros((12, 9))
        np.add.at(
            dense, (to_np(plan.rows).astype(int), to_np(plan.cols).astype(int)), to_np(plan.data)
        )
        np.testing.assert_allclose(dense.sum(axis=1), 1 / 12, atol=1e-14)


def _generic_weights(rng, n, m):
    # uniform weights make the LP degenerate (non-unique duals: the value is not differentiable
    # in a); random weights against uniform b give a unique optimal basis, on which the value
    # is linear in a along mass-preserving directions and smooth in the points
    a = 0.5 + rng.random(n)
    return a / a.sum()


def _fd_check(value, X, Y, a, grad_X, grad_a):
    rng = np.random.default_rng(0)
    step = 1e-6
    dX = rng.normal(size=X.shape)
    fd = (value(X + step * dX, a) - value(X - step * dX, a)) / (2 * step)
    np.testing.assert_allclose(np.sum(grad_X * dX), fd, rtol=1e-6)
    da = rng.normal(size=a.shape)
    da -= da.mean()
    fd = (value(X, a + step * da) - value(X, a - step * da)) / (2 * step)
    np.testing.assert_allclose(np.sum(grad_a * da), fd, rtol=1e-6)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_torch_gradients_match_finite_differences(metric):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(8, 2))
    a = _generic_weights(rng, 10, 8)
    Xt = torch.tensor(X, requires_grad=True)
    at = torch.tensor(a, requires_grad=True)
    cost = emd2_lazy(Xt, torch.tensor(Y), at, metric=metric, return_matrix=False, **FAST)
    cost.backward()

    def value(x, w):
        return float(emd2_lazy(x, Y, w, metric=metric, return_matrix=False, **FAST))

    _fd_check(value, X, Y, a, Xt.grad.numpy(), at.grad.numpy())


def test_jax_gradients_under_jit():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(8, 2))
    a = _generic_weights(rng, 10, 8)

    def loss(x, w):
        return emd2_lazy(x, jnp.asarray(Y), w, return_matrix=False, **FAST)

    grad_X, grad_a = jax.jit(jax.grad(loss, argnums=(0, 1)))(jnp.asarray(X), jnp.asarray(a))

    def value(x, w):
        return float(emd2_lazy(x, Y, w, return_matrix=False, **FAST))

    _fd_check(value, X, Y, a, np.asarray(grad_X), np.asarray(grad_a))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"X_a": [[np.nan, 0.0]]}, ValueError, "X_a"),
        ({"X_b": [[0.0, np.inf], [1.0, 1.0]]}, ValueError, "X_b"),
        ({"X_b": [[0.0, 0.0, 0.0]]}, ValueError, "X_b"),
        ({"X_a": np.zeros((0, 2))}, ValueError, "X_a"),
        ({"a": [1.5, -0.5]}, ValueError, "a"),
        ({"b": [0.2, 0.2]}, ValueError, "same total mass"),
        ({"b": [0.5, 0.25, 0.25]}, ValueError, "b.shape"),
        ({"metric": "cosine"}, ValueError, "metric"),
        ({"hierarchy": "quadtree"}, ValueError, "hierarchy"),
        ({"metric": "minkowski", "p": 0.5}, ValueError, "p"),
        ({"X_a": None}, TypeError, "X_a"),
        ({"potentials_init": (np.zeros(2), np.zeros(3))}, ValueError, "potentials_init"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"X_a": [[0.0, 0.0], [1.0, 0.0]], "X_b": [[0.0, 1.0], [1.0, 1.0]]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        emd2_lazy(**args)


@pytest.mark.parametrize(
    "options",
    [
        {"certify_levels": True, "depth_step": 2},
        {"certify_levels": False, "depth_step": 2},
        {"certify_levels": True, "depth_step": 1},
        {"certify_levels": True, "depth_step": 3},
    ],
)
def test_engine_schedules_reach_the_dense_optimum(options):
    # two clusters exchanging mass: the refinement must follow the coarse plan's transport
    from otkit.lp._lazy_certificate import PointCost
    from otkit.lp._multiscale import solve_multiscale

    rng = np.random.default_rng(21)
    X = np.r_[rng.normal(size=(250, 2)), rng.normal(size=(150, 2)) + 6.0]
    Y = np.r_[rng.normal(size=(120, 2)), rng.normal(size=(260, 2)) + 6.0] + 0.5
    a, b = _weights(rng, 400, "random"), _weights(rng, 380, "uniform")
    result = solve_multiscale(
        X, Y, a, b, PointCost(), coarse_size=16, num_iter_max=10**7, **options
    )
    assert result.status == 1
    np.testing.assert_allclose(result.cost, ot.emd2(a, b, ot.dist(X, Y)), rtol=RTOL)
    log = result.log
    assert len(log["arcs"]) == len(log["pivots"]) == log["levels"] >= 2
    assert 0 < log["pairs_evaluated"] <= log["pairs_checked"]
    if not options["certify_levels"]:
        assert log.get("level_rounds", 0) == 0
