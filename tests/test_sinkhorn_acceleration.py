"""Sinkhorn's fast paths: over-relaxation, the in-place dense softmin, the stopping test."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from oracles import random_problem

import otkit as ot
from otkit.bregman._relaxation import GUARD, optimal_omega, schedule_start, schedule_step
from otkit.bregman._sinkhorn_loop import (
    dense_geometry,
    iterate,
    sinkhorn_log_loop,
    softmin_cols,
    softmin_rows,
)


def small_reg_problem(n=40, seed=5):
    a, b, M = random_problem(n, n, seed=seed, weights="uniform")
    return a, b, M / M.max()


@pytest.mark.parametrize("omega", [None, 1.5])
def test_overrelaxed_plan_equals_the_plain_one(xp, omega):
    a, b, M = small_reg_problem()
    args = [to_xp(xp, x) for x in (a, b, M)]
    G, log = ot.sinkhorn(
        *args, 0.01, acceleration="overrelax", omega=omega, stopThr=1e-11, log=True
    )
    assert log["converged"] and log["marginal_error"] <= 2e-11
    np.testing.assert_allclose(to_np(G), ot.sinkhorn(a, b, M, 0.01, stopThr=1e-11), atol=1e-10)
    assert_same_backend(G, args[2])


@pytest.mark.parametrize("batched", [False, True], ids=["host", "log-domain loop"])
def test_adaptive_overrelaxation_saves_iterations_at_small_reg(batched):
    a, b, M = small_reg_problem()
    b = b[:, None] if batched else b  # a 2-D b runs the generic loop on NumPy
    options = {"numItermax": 5000, "log": True}
    _, plain = ot.sinkhorn2(a, b, M, 3e-3, **options)  # 739 iterations
    _, fast = ot.sinkhorn2(a, b, M, 3e-3, acceleration="overrelax", **options)  # 105
    assert plain["converged"] and fast["converged"]
    assert fast["n_iter"] < plain["n_iter"] / 4


@pytest.mark.parametrize("reg", [0.5, 0.1])
def test_adaptive_overrelaxation_costs_nothing_at_large_reg(reg):
    a, b, M = small_reg_problem()
    _, plain = ot.sinkhorn(a, b, M, reg, log=True)
    _, fast = ot.sinkhorn(a, b, M, reg, acceleration="overrelax", log=True)
    assert fast["converged"] and fast["n_iter"] <= plain["n_iter"] + 1


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_overrelaxation_at_tiny_reg_gives_no_nan(xp, dtype_name):
    a, b, M = small_reg_problem(12, seed=4)
    args = [to_xp(xp, x, dtype_name) for x in (a, b, M)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        G, log = ot.sinkhorn(
            *args, 1e-4, acceleration="overrelax", omega=1.9, numItermax=300, log=True
        )
    assert np.all(np.isfinite(to_np(G))) and np.all(np.isfinite(to_np(log["f"])))
    np.testing.assert_allclose(to_np(G).sum(), 1.0, atol=1e-3)


def test_optimal_omega_inverts_youngs_relation():
    # Two-block SOR with unrelaxed rate mu^2 converges, relaxed by w <= w_opt, at
    # ((w mu + sqrt(w^2 mu^2 - 4 (w - 1))) / 2)^2; both rates give the same w_opt.
    for mu in (0.5, 0.9, 0.99):
        w_opt = 2.0 / (1.0 + math.sqrt(1.0 - mu * mu))
        for w in (1.0, 1.0 + 0.5 * (w_opt - 1.0), 1.0 + 0.9 * (w_opt - 1.0)):
            rate = ((w * mu + math.sqrt(w * w * mu * mu - 4.0 * (w - 1.0))) / 2.0) ** 2
            estimate = float(optimal_omega(np.float64(w), np.float64(rate), np))
            np.testing.assert_allclose(estimate, min(w_opt, 1.9), rtol=1e-9)


def test_relaxation_falls_back_for_good_when_the_error_grows():
    schedule = schedule_start(np.asarray(1.0), 1.5, np)
    schedule = schedule_step(schedule, np.asarray(0.1), False, np)
    assert float(schedule[0]) == 1.5
    schedule = schedule_step(schedule, np.asarray(1.01 * GUARD * 0.1), False, np)
    assert float(schedule[0]) == 1.0
    for err in (1e-3, 1e-4, 1e-5):
        schedule = schedule_step(schedule, np.asarray(err), True, np)
    assert float(schedule[0]) == 1.0


def test_zero_stop_thr_runs_num_iter_max(xp):
    # This problem reaches its fixed point exactly: the loop must not stop at err == 0.
    a, b, M = np.array([0.5, 0.5]), np.array([0.5, 0.5]), np.array([[0.0, 1.0], [1.0, 0.0]])
    args = [to_xp(xp, x) for x in (a, b, M)]
    _, log = ot.sinkhorn(*args, 1.0, stopThr=0.0, numItermax=40, log=True, warn=False)
    assert log["n_iter"] == 40 and log["converged"] is False


def test_error_read_every_k_iterations_keeps_the_whole_trace():
    def advance(state):
        (count,) = state
        return (count + 1,), np.asarray(0.5 ** (count + 1))

    state, n_iter, err, trace = iterate(
        advance, (0,), np.asarray(1.0), 100, 0.01, np, traced=False, check_every=5
    )
    assert n_iter == 10 and state == (10,) and float(err) == 0.5**10  # 7 then 3 more
    np.testing.assert_allclose(trace, 0.5 ** np.arange(11))


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_in_place_softmin_equals_the_fused_one(dtype_name):
    torch = pytest.importorskip("torch")
    xp = ot.backend.get_namespace(x=torch.zeros(1))
    rng = np.random.default_rng(0)
    C = torch.as_tensor(rng.random((30, 20)), dtype=getattr(torch, dtype_name))
    eps = 1e-3  # exponents down to -1000: subnormal and underflowing terms
    log_a = torch.as_tensor(np.log(rng.random((30, 1))), dtype=C.dtype)
    log_b = torch.as_tensor(np.log(rng.random((20, 1))), dtype=C.dtype)
    log_b[3] = -math.inf  # a zero weight
    f, g = torch.full((30, 1), 0.1, dtype=C.dtype), torch.zeros(20, 1, dtype=C.dtype)
    in_place = dense_geometry(C, eps, xp)
    fused = (in_place[0], None)
    assert in_place[1] is not None
    rtol = 1e-5 if dtype_name == "float32" else 1e-12
    for softmin, potential, log_weights in ((softmin_rows, g, log_b), (softmin_cols, f, log_a)):
        expected = softmin(fused, potential, log_weights, eps, xp)
        torch.testing.assert_close(
            softmin(in_place, potential, log_weights, eps, xp), expected, rtol=rtol, atol=0
        )
    assert dense_geometry(C.requires_grad_(), eps, xp)[1] is None  # autograd: no buffer


def test_float32_stays_float32_in_the_loop():
    torch = pytest.importorskip("torch")
    xp = ot.backend.get_namespace(x=torch.zeros(1))
    a, b, M = (torch.as_tensor(x, dtype=torch.float32) for x in small_reg_problem())
    for omega in (1.0, None):
        f, g, _, err, _ = sinkhorn_log_loop(
            a, b[:, None], M, 0.01, torch.zeros(40, 1), 1000, 1e-5, xp, omega=omega
        )
        assert f.dtype == g.dtype == err.dtype == torch.float32 and float(err) < 1e-5


class TestJax:
    jax = pytest.importorskip("jax")

    def _inputs(self, problem):
        self.jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return tuple(jnp.asarray(x) for x in problem)

    def test_overrelaxation_under_jit_matches_eager(self):
        problem = small_reg_problem()
        a, b, M = self._inputs(problem)
        run = self.jax.jit(
            lambda a, b, M: ot.sinkhorn2(a, b, M, 3e-3, acceleration="overrelax", log=True)
        )
        cost, log = run(a, b, M)
        eager, eager_log = ot.sinkhorn2(*problem, 3e-3, acceleration="overrelax", log=True)
        np.testing.assert_allclose(float(cost), eager, rtol=1e-9)
        assert int(log["n_iter"]) == eager_log["n_iter"] and bool(log["converged"])

    def test_unrolled_gradient_through_overrelaxation_is_the_plan(self):
        problem = small_reg_problem(15)
        a, b, M = self._inputs(problem)

        def reg_value(M):
            _, log = ot.sinkhorn2(
                a, b, M, 0.05, acceleration="overrelax", grad="autodiff", stopThr=1e-13, log=True
            )
            return log["reg_value"]

        grad_M = self.jax.jit(self.jax.grad(reg_value))(M)
        plan = ot.sinkhorn(*problem, 0.05, stopThr=1e-13)
        np.testing.assert_allclose(np.asarray(grad_M), plan, atol=1e-10)

    def test_eager_calls_compile_the_loop_once_for_every_reg(self, monkeypatch):
        import otkit.bregman._sinkhorn_solve as solve

        a, b, M = self._inputs(random_problem(9, 7, seed=3))
        traces = []
        loop = solve.sinkhorn_log_loop

        def counted(*args, **kwargs):
            traces.append(1)
            return loop(*args, **kwargs)

        monkeypatch.setattr(solve, "sinkhorn_log_loop", counted)
        solve._jitted_loop.cache_clear()
        try:
            for reg in (0.1, 0.05, 0.02):
                ot.sinkhorn2(a, b, M, reg)
        finally:
            solve._jitted_loop.cache_clear()
        assert len(traces) == 1


def test_batched_costs_alone_come_from_the_scalings(monkeypatch):
    """Without a log, POT's k costs of a 2-D b on NumPy come from the batched engine's
    scalings, sum_i u_il ((K * C) v_l)_i, without the k plans; they equal the costs of the
    plans built from the potentials (log=True) to rounding, with zero weights in a and in
    a column of b."""
    from otkit.bregman import _sinkhorn_solve

    rng = np.random.default_rng(9)
    cost = ot.dist(rng.uniform(size=(30, 2)), rng.uniform(size=(25, 2)))
    cost /= cost.max()
    a = rng.dirichlet(np.ones(30))
    a[:3] = 0.0
    a /= a.sum()
    b = rng.dirichlet(np.ones(25), size=5).T
    b[-4:, 2] = 0.0
    b[:, 2] /= b[:, 2].sum()
    with_plans, log = ot.sinkhorn2(a, b, cost, 0.05, stopThr=1e-11, log=True)
    assert log["n_iter"] > 10

    def no_plan(*args):
        raise AssertionError("a plan was built")

    monkeypatch.setattr(_sinkhorn_solve, "_plan", no_plan)
    costs = ot.sinkhorn2(a, b, cost, 0.05, stopThr=1e-11)
    np.testing.assert_allclose(costs, with_plans, rtol=1e-13)
    np.testing.assert_array_equal(ot.sinkhorn(a, b, cost, 0.05, stopThr=1e-11), costs)


@pytest.mark.parametrize("reg", [0.05, 0.004])
def test_batched_histograms_on_numpy_equal_the_log_domain_loop(reg):
    """A 2-D b on NumPy with method='sinkhorn' runs k problems on one kernel by matrix
    products when the cost range is at most 100 reg (reg=0.05 here; 0.004 falls back to
    the log-domain loop): the same iteration, so the same counts, values and potentials."""
    rng = np.random.default_rng(8)
    cost = ot.dist(rng.uniform(size=(30, 2)), rng.uniform(size=(25, 2)))
    cost /= cost.max()
    a = ot.unif(30)
    b = rng.dirichlet(np.ones(25), size=6).T
    b[:4, 0] = 0.0  # zero weights in one column
    b[:, 0] /= b[:, 0].sum()
    common = {"stopThr": 1e-10, "numItermax": 50000, "log": True}
    value, log = ot.sinkhorn2(a, b, cost, reg, **common)
    expected, reference = ot.sinkhorn2(a, b, cost, reg, method="sinkhorn_log", **common)
    assert log["n_iter"] == reference["n_iter"]
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    for key in ("f", "g"):
        np.testing.assert_allclose(log[key], reference[key], rtol=1e-9, atol=1e-12)
    plans = ot.sinkhorn(a, b, cost, reg, stopThr=1e-10, numItermax=50000, return_plans=True)
    np.testing.assert_allclose(plans.sum(axis=0), b, atol=1e-12)  # (n, m, k): exact columns
