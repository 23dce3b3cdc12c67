"""Sinkhorn (sinkhorn, sinkhorn2): marginals, limits, invariances, backends, robustness."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from oracles import random_problem
from scipy.special import logsumexp

import otkit as ot
from otkit.bregman._sinkhorn_loop import sinkhorn_log_loop
from otkit.bregman._sinkhorn_numpy import stabilized_sinkhorn

METHODS = ["sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling"]
ALL_METHODS = [*METHODS, "greenkhorn"]


def reference_sinkhorn(a, b, M, reg, n_iter=5000):
    """Textbook log-domain Sinkhorn in float64 (scipy's logsumexp), independent oracle."""
    f, g = np.zeros(a.size), np.zeros(b.size)
    for _ in range(n_iter):
        g = -reg * logsumexp(np.log(a)[:, None] + (f[:, None] - M) / reg, axis=0)
        f = -reg * logsumexp(np.log(b)[None, :] + (g[None, :] - M) / reg, axis=1)
    return a[:, None] * b[None, :] * np.exp((f[:, None] + g[None, :] - M) / reg)


@pytest.fixture
def problem():
    a, b, M = random_problem(9, 7, seed=3)
    return a, b, M / M.max()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_plan_matches_reference_and_marginals(xp, method, problem):
    a, b, M = problem
    reg, tol = 0.05, 1e-9
    G, log = ot.sinkhorn(
        to_xp(xp, a), to_xp(xp, b), to_xp(xp, M), reg, method=method, stopThr=tol, log=True
    )
    G_np = to_np(G)
    assert log["converged"] is True
    assert log["marginal_error"] <= 2 * tol
    np.testing.assert_allclose(G_np.sum(1), a, atol=tol)
    np.testing.assert_allclose(G_np.sum(0), b, atol=tol)
    np.testing.assert_allclose(G_np, reference_sinkhorn(a, b, M, reg), atol=1e-9)
    assert_same_backend(G, to_xp(xp, M))


def test_log_keys_are_the_same_for_every_method(problem):
    a, b, M = problem
    keys = None
    for method in ALL_METHODS:
        _, log = ot.sinkhorn2(a, b, M, 0.1, method=method, log=True)
        assert keys is None or set(log) == keys
        keys = set(log)
        assert log["n_iter"] == log["niter"] and len(log["err"]) >= 1
        np.testing.assert_allclose(log["log_u"], np.log(a) + log["f"] / 0.1)
    assert {"f", "g", "n_iter", "err", "converged", "reg_value", "marginal_error"} <= keys


@pytest.mark.parametrize("reg", [1e-1, 1e-2, 1e-3])
def test_cost_approaches_emd2_as_reg_goes_to_zero(reg):
    a, b, M = random_problem(12, 12, seed=1, weights="uniform")
    M = M / M.max()
    cost = ot.sinkhorn2(a, b, M, reg, method="sinkhorn_epsilon_scaling", stopThr=1e-7)
    exact = ot.emd2(a, b, M)
    assert exact - 1e-12 <= cost <= exact + 2 * reg * np.log(12)


def test_methods_agree_and_stabilized_equals_log_domain_loop(problem):
    a, b, M = problem
    plans = [ot.sinkhorn(a, b, M, 0.02, method=m, stopThr=1e-12) for m in ALL_METHODS]
    for G in plans[1:]:
        np.testing.assert_allclose(G, plans[0], atol=1e-11)
    # Engines directly: host stabilized scaling vs the generic log-domain loop.
    _, f_host, g_host, n_host, _, _ = stabilized_sinkhorn(
        a, b, M, 0.02, np.zeros(a.size), 1000, 1e-12
    )
    f, g, n_iter, _, _ = sinkhorn_log_loop(
        a, b[:, None], M, 0.02, np.zeros((a.size, 1)), 1000, 1e-12, np
    )
    assert n_iter == n_host
    np.testing.assert_allclose(f[:, 0], f_host, atol=1e-12)
    np.testing.assert_allclose(g[:, 0], g_host, atol=1e-12)


def test_primal_value_equals_dual_value(problem):
    a, b, M = problem
    reg = 0.03
    G, log = ot.sinkhorn(a, b, M, reg, log=True, stopThr=1e-13, numItermax=5000)
    kl = np.sum(G * np.log(G / np.outer(a, b))) - G.sum() + 1.0
    primal = np.sum(G * M) + reg * kl
    dual = a @ log["f"] + b @ log["g"]
    np.testing.assert_allclose(primal, dual, rtol=1e-10)
    np.testing.assert_allclose(log["reg_value"], primal, rtol=1e-10)
    np.testing.assert_allclose(log["cost"], np.sum(G * M), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-3, 7.0, 1e4])
def test_scaling_cost_and_reg_together_keeps_the_plan(problem, scale):
    a, b, M = problem
    G = ot.sinkhorn(a, b, M, 0.05, stopThr=1e-12)
    G_scaled = ot.sinkhorn(a, b, scale * M, scale * 0.05, stopThr=1e-12)
    np.testing.assert_allclose(G_scaled, G, atol=1e-12)


def test_float32_agrees_with_float64(xp, problem):
    a, b, M = problem
    args64 = [to_xp(xp, x) for x in (a, b, M)]
    args32 = [to_xp(xp, x, "float32") for x in (a, b, M)]
    G64 = ot.sinkhorn(*args64, 0.05, stopThr=1e-10)
    G32 = ot.sinkhorn(*args32, 0.05, stopThr=1e-5)
    assert_same_backend(G32, args32[2])
    np.testing.assert_allclose(to_np(G32), to_np(G64), atol=2e-5)


def test_dtype_device_and_shapes_kept(xp, dtype_name, problem):
    a, b, M = (to_xp(xp, x, dtype_name) for x in problem)
    tol = 1e-9 if dtype_name == "float64" else 1e-5
    cost, log = ot.sinkhorn2(a, b, M, 0.1, stopThr=tol, log=True)
    assert_same_backend(cost, M)
    assert tuple(cost.shape) == ()
    for key, shape in (("f", (9,)), ("g", (7,)), ("reg_value", ())):
        assert tuple(log[key].shape) == shape
        assert_same_backend(log[key], M)


def test_batched_b_matches_one_solve_per_column(xp, problem):
    a, b, M = problem
    B = np.stack([b, np.roll(b, 2), np.full(b.size, 1.0 / b.size)], axis=1)
    costs, log = ot.sinkhorn2(to_xp(xp, a), to_xp(xp, B), to_xp(xp, M), 0.05, log=True)
    assert tuple(costs.shape) == (3,) and tuple(log["f"].shape) == (9, 3)
    for k in range(3):
        np.testing.assert_allclose(to_np(costs)[k], ot.sinkhorn2(a, B[:, k], M, 0.05), rtol=1e-9)
    # As POT, sinkhorn with a 2-D b gives the k costs; return_plans=True gives the plans.
    costs_from_sinkhorn = ot.sinkhorn(to_xp(xp, a), to_xp(xp, B), to_xp(xp, M), 0.05)
    np.testing.assert_allclose(to_np(costs_from_sinkhorn), to_np(costs), rtol=1e-12)
    plans = ot.sinkhorn(to_xp(xp, a), to_xp(xp, B), to_xp(xp, M), 0.05, return_plans=True)
    assert tuple(plans.shape) == (9, 7, 3)
    np.testing.assert_allclose(np.tensordot(M, to_np(plans), axes=2), to_np(costs), rtol=1e-12)


def test_small_reg_keeps_the_mass_where_exp_domain_underflows():
    # POT's exp-domain default returns a plan of total mass ~3e-4 here.
    a, b, M = random_problem(40, 40, seed=0, weights="uniform")
    M = M / M.max()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        G = ot.sinkhorn(a, b, M, 1e-3, numItermax=300)
    assert np.all(np.isfinite(G))
    np.testing.assert_allclose(G.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-12)


@pytest.mark.parametrize("backend_dtype", ["float32", "float64"])
def test_tiny_reg_in_float32_and_float64_gives_no_nan(xp, backend_dtype):
    a, b, M = random_problem(10, 10, seed=4)
    M = M / M.max()
    args = [to_xp(xp, x, backend_dtype) for x in (a, b, M)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        G, log = ot.sinkhorn(*args, 1e-4, numItermax=200, stopThr=1e-4, log=True)
    G = to_np(G)
    assert np.all(np.isfinite(G)) and np.all(np.isfinite(to_np(log["f"])))
    np.testing.assert_allclose(G.sum(0), b, atol=1e-4)
    np.testing.assert_allclose(G.sum(), 1.0, atol=1e-4)


def test_stabilized_at_reg_0_01_converges():
    a, b, M = random_problem(150, 150, seed=2, weights="uniform")
    M = M / M.max()
    G, log = ot.sinkhorn(a, b, M, 0.01, method="sinkhorn_stabilized", numItermax=5000, log=True)
    assert log["converged"] and log["marginal_error"] <= 2e-9
    np.testing.assert_allclose(G.sum(1), a, atol=1e-9)


def test_non_convergence_warns_once_and_is_reported(problem):
    a, b, M = problem
    with pytest.warns(UserWarning, match="did not converge") as record:
        _, log = ot.sinkhorn2(a, b, M, 0.01, numItermax=3, log=True, warn=True)
    assert len(record) == 1
    assert log["converged"] is False and log["n_iter"] == 3 and len(log["err"]) == 4
    with pytest.warns(UserWarning, match="did not converge"):
        ot.sinkhorn(a, b, M, 0.01, numItermax=3)  # warn=True by default, as POT
    with pytest.warns(UserWarning, match="did not converge"):
        ot.sinkhorn2(a, b, M, 0.01, numItermax=3)  # warn=True by default (POT: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ot.sinkhorn2(a, b, M, 0.01, numItermax=3, warn=False)
        ot.sinkhorn(a, b, M, 0.01, numItermax=3, warn=False)


def test_zero_weights(xp):
    a, b, M = random_problem(6, 5, seed=8)
    a[2], b[0] = 0.0, 0.0
    a, b = a / a.sum(), b / b.sum()
    G, log = ot.sinkhorn(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M), 0.1, log=True)
    G = to_np(G)
    assert np.all(G[2] == 0) and np.all(G[:, 0] == 0)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-9)
    assert np.all(np.isfinite(to_np(log["f"]))) and np.all(np.isfinite(to_np(log["g"])))


@pytest.mark.parametrize("kind", ["log_scalings", "potentials"])
def test_warmstart_from_a_solution_converges_at_once(problem, kind):
    a, b, M = problem
    G, log = ot.sinkhorn(a, b, M, 0.02, log=True)
    start = (log["log_u"], log["log_v"]) if kind == "log_scalings" else (log["f"], log["g"])
    G2, log2 = ot.sinkhorn(a, b, M, 0.02, log=True, warmstart=start, warmstart_type=kind)
    assert log2["n_iter"] <= 1
    np.testing.assert_allclose(G2, G, atol=1e-9)


def test_gaussian_initializer_saves_iterations():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), 1.5 * rng.normal(size=(60, 2)) + 2.0
    M = ot.dist(x, y)
    a = b = ot.unif(60)
    G, log = ot.sinkhorn(a, b, M, 0.5, log=True)
    f0, g0 = ot.sinkhorn_init_gaussian(a, b, x, y)
    G2, log2 = ot.sinkhorn(a, b, M, 0.5, log=True, warmstart=(f0, g0), warmstart_type="potentials")
    assert log2["n_iter"] < log["n_iter"]
    np.testing.assert_allclose(G2, G, atol=1e-9)


def test_sorting_initializer_gives_exact_1d_duals():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=15), rng.normal(size=11) + 1.0
    a, b = rng.random(15), rng.random(11)
    a, b = a / a.sum(), b / b.sum()
    M = (x[:, None] - y[None, :]) ** 2
    f, g = ot.sinkhorn_init_sorting(a, b, x, y)
    assert np.min(M - f[:, None] - g[None, :]) >= -1e-12  # dual feasible
    np.testing.assert_allclose(a @ f + b @ g, ot.emd2(a, b, M), rtol=1e-10)  # optimal
    _, log = ot.sinkhorn(a, b, M, 0.01, log=True, numItermax=5000)
    _, log2 = ot.sinkhorn(
        a, b, M, 0.01, log=True, numItermax=5000, warmstart=(f, g), warmstart_type="potentials"
    )
    assert log2["n_iter"] < log["n_iter"]


def test_epsilon_scaling_converges_with_a_true_stopping_test():
    a, b, M = random_problem(30, 30, seed=5, weights="uniform")
    M = M / M.max()
    G, log = ot.sinkhorn(
        a, b, M, 5e-3, method="sinkhorn_epsilon_scaling", log=True, numItermax=5000
    )
    assert log["converged"] and log["err"][-1] <= 1e-9
    np.testing.assert_allclose(G, ot.sinkhorn(a, b, M, 5e-3, numItermax=5000), atol=1e-9)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-9)


class TestJax:
    jax = pytest.importorskip("jax")

    def _inputs(self, problem):
        self.jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return tuple(jnp.asarray(x) for x in problem)

    @pytest.mark.parametrize("stop", [1e-9, 0.0])
    def test_jit_tolerance_and_fixed_iterations(self, problem, stop):
        a, b, M = self._inputs(problem)
        solve = self.jax.jit(
            lambda a, b, M: ot.sinkhorn2(a, b, M, 0.05, stopThr=stop, numItermax=300, log=True)
        )
        cost, log = solve(a, b, M)
        eager = ot.sinkhorn2(*problem, 0.05, stopThr=1e-9)
        np.testing.assert_allclose(float(cost), eager, rtol=1e-9)
        _, eager_log = ot.sinkhorn2(*problem, 0.05, log=True)
        assert int(log["n_iter"]) == (300 if stop == 0.0 else eager_log["n_iter"])
        assert bool(log["converged"]) == (stop > 0)
        trace = np.asarray(log["err"])
        assert trace.shape == (301,)

    def test_jit_epsilon_scaling_needs_epsilon0(self, problem):
        a, b, M = self._inputs(problem)
        run = self.jax.jit(
            lambda M: ot.sinkhorn2(a, b, M, 0.01, method="sinkhorn_epsilon_scaling", epsilon0=1.0)
        )
        np.testing.assert_allclose(float(run(M)), ot.sinkhorn2(*problem, 0.01), rtol=1e-8)
        with pytest.raises(ValueError, match="epsilon0"):
            self.jax.jit(lambda M: ot.sinkhorn2(a, b, M, 0.01, method="sinkhorn_epsilon_scaling"))(
                M
            )


def test_torch_stabilized_loop_equals_log_domain_loop():
    """Eager torch runs the stabilized scaling loop (grad='envelope'); 'autodiff' runs the
    log-domain loop. Same iterates up to rounding, same plan, a plan that still carries the
    gradient w.r.t. M, and a per-iteration progress callback."""
    torch = pytest.importorskip("torch")
    a, b, M = (torch.from_numpy(x) for x in random_problem(40, 30, seed=11))
    M = (M / M.max()).requires_grad_(True)
    seen = []
    G, log = ot.sinkhorn(
        a, b, M, 0.002, stopThr=1e-11, numItermax=20000, log=True, grad="envelope",
        verbose=lambda *s: seen.append(s),
    )  # fmt: skip
    G_log, log_log = ot.sinkhorn(
        a, b, M, 0.002, stopThr=1e-11, numItermax=20000, log=True, grad="autodiff"
    )
    assert log["converged"] and log["n_iter"] == log_log["n_iter"]
    assert [it for it, _ in seen] == list(range(log["n_iter"] + 1))
    np.testing.assert_allclose(to_np(G), to_np(G_log), atol=1e-12)
    np.testing.assert_allclose(to_np(log["f"]), to_np(log_log["f"]), atol=1e-10)
    # 'envelope': the plan is exp((f + g - M) / reg) a b at fixed potentials.
    i, j = divmod(int(torch.argmax(G)), G.shape[1])
    (gradient,) = torch.autograd.grad(G[i, j], M)
    np.testing.assert_allclose(float(gradient[i, j]), -float(G[i, j].detach()) / 0.002, rtol=1e-12)
    assert int(torch.count_nonzero(gradient)) == 1


def test_torch_float32_small_reg_stays_on_the_marginals():
    torch = pytest.importorskip("torch")
    a, b, M = random_problem(200, 150, seed=12)
    M = M / M.max()
    G = ot.sinkhorn(
        *(torch.from_numpy(x).float() for x in (a, b, M)), 1e-4, stopThr=1e-5, numItermax=20000
    )
    assert G.dtype == torch.float32 and bool(torch.isfinite(G).all())
    G64 = ot.sinkhorn(a, b, M, 1e-4, stopThr=1e-9, numItermax=20000)
    # float32 rounding of costs/reg = 1e4 shifts exponents by ~1e-3: compare plans in mass.
    assert np.abs(G.double().numpy() - G64).sum() < 1e-2
    np.testing.assert_allclose(G.sum(1).numpy(), a, atol=1e-5)
