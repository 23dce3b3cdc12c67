"""Unbalanced OT on a cost matrix: sinkhorn_unbalanced(2) and solve(M, unbalanced=/reach=).

Oracles: balanced Sinkhorn (rho -> inf), the closed form of two Diracs, scipy's L-BFGS-B on
the convex primal, strong duality and the primal optimality conditions, the large-rho limit
of the mass (geometric mean), finite differences for gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from scipy.optimize import minimize

import otkit as ot

TIGHT = {"stopThr": 1e-12, "numItermax": 20_000}


def _kl(p, q):
    p, q = np.asarray(p, float), np.asarray(q, float)
    safe = np.where(p > 0, p, 1.0)
    return float(np.sum(np.where(p > 0, p * np.log(safe / q), 0.0) - p + q))


def _primal(P, a, b, M, eps, rho, c=None):
    """<P, M> + eps KL(P | c) + rho_a KL(P1 | a) + rho_b KL(P^T 1 | b), in NumPy."""
    value = float(np.sum(P * M)) + rho[0] * _kl(P.sum(1), a) + rho[1] * _kl(P.sum(0), b)
    if eps:
        value += eps * _kl(P, np.outer(a, b) if c is None else c)
    return value


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    a = rng.uniform(0.5, 1.5, 6) / 6
    b = rng.uniform(0.5, 1.5, 5) / 5 * 1.7  # different masses
    return a, b, M / M.max()


# --- limits and closed forms --------------------------------------------------------------------


def test_infinite_reg_m_is_balanced_sinkhorn(problem):
    a, b, M = problem
    b = b * a.sum() / b.sum()
    G = ot.sinkhorn(a, b, M, 0.1, stopThr=1e-12, numItermax=5000)
    np.testing.assert_allclose(ot.sinkhorn_unbalanced(a, b, M, 0.1, np.inf, **TIGHT), G, atol=1e-10)
    G_large = ot.sinkhorn_unbalanced(a, b, M, 0.1, 1e6, stopThr=1e-7, numItermax=5000)
    np.testing.assert_allclose(G_large, G, atol=1e-6)


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_two_diracs_closed_form(reg):
    # min_p c p + eps KL(p | ma mb) + ra KL(p | ma) + rb KL(p | mb): the derivative vanishes at
    # log p = (ra log ma + rb log mb + eps log(ma mb) - c) / (ra + rb + eps).
    ma, mb, c, rho = 0.7, 2.5, 1.3, (0.4, 1.1)
    log_p = (rho[0] * np.log(ma) + rho[1] * np.log(mb) + reg * np.log(ma * mb) - c) / (
        rho[0] + rho[1] + reg
    )
    p = np.exp(log_p)
    value = _primal(np.array([[p]]), [ma], [mb], np.array([[c]]), reg, rho)
    res = ot.solve([[c]], [ma], [mb], reg=reg or None, unbalanced=rho, tol=1e-14)
    np.testing.assert_allclose(to_np(res.plan)[0, 0], p, rtol=1e-10)
    np.testing.assert_allclose(float(res.value), value, rtol=1e-10)
    if reg:
        total = ot.sinkhorn_unbalanced2([ma], [mb], [[c]], reg, rho, returnCost="total", **TIGHT)
        np.testing.assert_allclose(float(total), value, rtol=1e-10)


def test_exact_matches_lbfgsb_on_the_primal(problem):
    a, b, M = problem[0][:4], problem[1][:3], problem[2][:4, :3]
    rho = (0.3, 0.6)
    n, m = M.shape

    def objective(p):
        P = p.reshape(n, m)
        rows, cols = P.sum(1), P.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = M + rho[0] * np.log(rows / a)[:, None] + rho[1] * np.log(cols / b)[None, :]
        return _primal(P, a, b, M, 0.0, rho), np.nan_to_num(grad).ravel()

    oracle = minimize(
        objective, np.outer(a, b).ravel(), jac=True, method="L-BFGS-B",
        bounds=[(0, None)] * (n * m), options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20_000},
    )  # fmt: skip
    res = ot.solve(M, a, b, unbalanced=rho, tol=1e-14, max_iter=100_000)
    assert res.status == "converged" and res.method == "mm"
    np.testing.assert_allclose(float(res.value), oracle.fun, rtol=1e-8)
    np.testing.assert_allclose(res.plan, oracle.x.reshape(n, m), atol=1e-5)
    # KKT: f + g <= M everywhere, with equality on the support of the plan.
    f, g = res.potentials
    slack = M - f[:, None] - g[None, :]
    assert slack.min() > -1e-7
    np.testing.assert_allclose(res.plan * slack, 0.0, atol=1e-8)


# --- entropic optimality -------------------------------------------------------------------------


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
def test_entropic_duality_gap_and_optimality(problem, reg_type):
    a, b, M = problem
    eps, rho = 0.05, (0.5, 2.0)
    P, log = ot.sinkhorn_unbalanced(a, b, M, eps, rho, reg_type=reg_type, log=True, **TIGHT)
    c = np.outer(a, b) if reg_type == "kl" else np.ones_like(M)
    primal = _primal(P, a, b, M, eps, rho, c)
    f, g = log["f"], log["g"]
    phi = [r * (1 - np.exp(-x / r)) for x, r in ((f, rho[0]), (g, rho[1]))]
    dual = (
        a @ phi[0] + b @ phi[1] - eps * (np.sum(c * np.exp((f[:, None] + g - M) / eps)) - c.sum())
    )
    np.testing.assert_allclose(float(log["total_cost"]), primal, rtol=1e-12)
    np.testing.assert_allclose(primal, dual, rtol=1e-10)
    np.testing.assert_allclose(float(log["cost"]), np.sum(P * M), rtol=1e-12)
    # Gradient of the primal in P vanishes: M + eps log(P / c) + rho_a log(P1 / a) + ... = 0.
    rows, cols = P.sum(1), P.sum(0)
    stationarity = (
        M + eps * np.log(P / c) + rho[0] * np.log(rows / a)[:, None] + rho[1] * np.log(cols / b)
    )
    np.testing.assert_allclose(stationarity, 0.0, atol=1e-9)
    np.testing.assert_allclose(rows, a * np.exp(-f / rho[0]), rtol=1e-10)


def test_reference_measure_c(problem):
    a, b, M = problem
    c = np.outer(a, b) * np.exp(np.random.default_rng(0).normal(size=M.shape))
    P = ot.sinkhorn_unbalanced(a, b, M, 0.1, 1.0, c=c, **TIGHT)
    stationarity = M + 0.1 * np.log(P / c) + np.log(P.sum(1) / a)[:, None] + np.log(P.sum(0) / b)
    np.testing.assert_allclose(stationarity, 0.0, atol=1e-9)


def test_mass_grows_with_rho_toward_the_geometric_mean(problem):
    # As rho decreases the cost pushes mass out of the plan; as rho -> inf (cost negligible
    # next to the penalties) the mass tends to argmin_m KL(m | m_a) + KL(m | m_b) = sqrt(m_a m_b).
    a, b, M = problem
    geometric = np.sqrt(a.sum() * b.sum())
    masses = [
        float(np.sum(ot.solve(M, a, b, unbalanced=rho, tol=1e-10, max_iter=20_000).plan))
        for rho in (0.05, 0.2, 1.0)
    ]
    assert np.all(np.diff(masses) > 0) and masses[-1] < geometric
    large = ot.sinkhorn_unbalanced(a, b, M, 0.1, 20.0, stopThr=1e-10, numItermax=10_000)
    assert masses[-1] < float(np.sum(large))
    np.testing.assert_allclose(float(np.sum(large)), geometric, rtol=1e-2)


def test_batched_b_matches_columns(problem):
    # With a 2-D b the reference measure is c = 1 whatever reg_type says (POT's convention:
    # one kernel exp(-M / eps) for every column), so each column is the 'entropy' problem.
    a, b, M = problem
    B = np.stack([b, b[::-1] * 0.5, np.full_like(b, 0.3)], axis=1)
    for reg_type in ("kl", "entropy"):
        costs, log = ot.sinkhorn_unbalanced2(
            a, B, M, 0.1, (1.0, 0.5), reg_type=reg_type, returnCost="total", log=True, **TIGHT
        )
        plans = ot.sinkhorn_unbalanced(
            a, B, M, 0.1, (1.0, 0.5), reg_type=reg_type, return_plans=True, **TIGHT
        )
        for k in range(B.shape[1]):
            one = ot.sinkhorn_unbalanced2(
                a, B[:, k], M, 0.1, (1.0, 0.5), reg_type="entropy", returnCost="total", **TIGHT
            )
            np.testing.assert_allclose(costs[k], one, rtol=1e-10)
            np.testing.assert_allclose(
                plans[:, :, k], ot.sinkhorn_unbalanced(a, B[:, k], M, 0.1, (1.0, 0.5),
                                                       reg_type="entropy", **TIGHT), atol=1e-12
            )  # fmt: skip
        assert log["f"].shape == (6, 3)


def test_batched_b_log_scalings_follow_pot_fixed_point(problem):
    # POT's test for k histograms: log u, log v solve the fixed point with K = exp(-M / eps).
    a, b, M = problem
    B = np.stack([b, b[::-1] * 0.5], axis=1)
    eps, rho = 0.2, 1.0
    _, log = ot.unbalanced.sinkhorn_unbalanced(a, B, M, eps, rho, log=True, **TIGHT)
    fi = rho / (rho + eps)
    lse = np.logaddexp.reduce
    log_u, log_v = log["logu"], log["logv"]
    assert log_u.shape == (M.shape[0], 2) and log_v.shape == (M.shape[1], 2)
    kernel = -M[:, :, None] / eps
    np.testing.assert_allclose(
        log_u, fi * (np.log(a)[:, None] - lse(log_v[None, :, :] + kernel, axis=1)), atol=1e-9
    )
    np.testing.assert_allclose(
        log_v, fi * (np.log(B) - lse(log_u[:, None, :] + kernel, axis=0)), atol=1e-9
    )


def test_pot_examples_and_methods():
    M = [[0.0, 1.0], [1.0, 0.0]]
    expected = [[0.3220536, 0.1184769], [0.1184769, 0.3220536]]
    for method in ot.unbalanced._sinkhorn.METHODS:
        G = ot.sinkhorn_unbalanced([0.5, 0.5], [0.5, 0.5], M, 1.0, 1.0, method=method, **TIGHT)
        np.testing.assert_allclose(G, expected, atol=1e-7)
    np.testing.assert_allclose(
        ot.sinkhorn_unbalanced2([0.5, 0.1], [0.5, 0.5], M, 1, 1), 0.19600125, atol=1e-6
    )


def test_warmstart_from_log_scalings(problem):
    a, b, M = problem
    G, log = ot.sinkhorn_unbalanced(a, b, M, 0.05, 1.0, log=True, **TIGHT)
    G2, log2 = ot.sinkhorn_unbalanced(
        a, b, M, 0.05, 1.0, warmstart=(log["logu"], log["logv"]), log=True, **TIGHT
    )
    np.testing.assert_allclose(G2, G, atol=1e-12)
    assert log2["n_iter"] <= 2


# --- backends, dtypes, gradients ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backends_agree_with_numpy_and_keep_dtype(xp, problem, dtype):
    a, b, M = problem
    G_ref, log_ref = ot.sinkhorn_unbalanced(a, b, M, 0.1, (1.0, 2.0), log=True, stopThr=1e-10)
    a_x, b_x, M_x = (to_xp(xp, x, dtype) for x in problem)
    tol = 1e-9 if dtype == "float64" else 1e-5
    G, log = ot.sinkhorn_unbalanced(a_x, b_x, M_x, 0.1, (1.0, 2.0), log=True, stopThr=tol / 10)
    assert_same_backend(G, M_x)
    assert_same_backend(log["total_cost"], M_x)
    np.testing.assert_allclose(to_np(G), G_ref, atol=tol)
    np.testing.assert_allclose(to_np(log["total_cost"]), log_ref["total_cost"], rtol=tol * 10)
    assert_same_backend(log["cost"], M_x)
    exact = ot.solve(M_x, a_x, b_x, unbalanced=0.1, tol=1e-12 if dtype == "float64" else 1e-7)
    exact_ref = ot.solve(M, a, b, unbalanced=0.1, tol=1e-12)
    assert_same_backend(exact.value, M_x)
    assert_same_backend(exact.plan, M_x)
    np.testing.assert_allclose(to_np(exact.plan), exact_ref.plan, atol=tol * 10)


def test_jax_jit_and_grad_against_finite_differences(problem):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    a, b, M = (jnp.asarray(x) for x in problem)

    def total(a, b, M):
        return ot.sinkhorn_unbalanced2(a, b, M, 0.1, (1.0, 0.5), returnCost="total", **TIGHT)

    total_jit = jax.jit(total)  # one compiled program for the finite differences
    np.testing.assert_allclose(total_jit(a, b, M), total(a, b, M), rtol=1e-12)
    grads = jax.jit(jax.grad(total, argnums=(0, 1, 2)))(a, b, M)
    rng = np.random.default_rng(1)
    step = 1e-6
    for i, x in enumerate((a, b, M)):
        d = jnp.asarray(rng.normal(size=x.shape))
        plus, minus = [a, b, M], [a, b, M]
        plus[i], minus[i] = x + step * d, x - step * d
        fd = (total_jit(*plus) - total_jit(*minus)) / (2 * step)
        np.testing.assert_allclose(float(jnp.sum(grads[i] * d)), float(fd), rtol=1e-5)


class TestTorch:
    torch = pytest.importorskip("torch")

    def _tensors(self, problem):
        return [self.torch.tensor(x, dtype=self.torch.float64, requires_grad=True) for x in problem]

    def test_gradcheck_total_envelope(self, problem):
        a, b, M = self._tensors(problem)

        def total(a, b, M):
            return ot.sinkhorn_unbalanced2(a, b, M, 0.1, (1.0, 0.5), returnCost="total", **TIGHT)

        assert self.torch.autograd.gradcheck(total, (a, b, M), eps=1e-6, atol=1e-6)

    def test_gradcheck_linear_autodiff(self, problem):
        a, b, M = self._tensors(problem)

        def linear(M):
            return ot.sinkhorn_unbalanced2(a, b, M, 0.2, 1.0, stopThr=1e-12, numItermax=500)

        assert self.torch.autograd.gradcheck(linear, (M,), eps=1e-6, atol=1e-6)

    def test_gradcheck_exact_value(self, problem):
        a, b, M = self._tensors((problem[0][:3], problem[1][:3], problem[2][:3, :3]))

        def value(a, b, M):
            return ot.solve(M, a, b, unbalanced=0.1, tol=1e-15, grad="envelope").value

        assert self.torch.autograd.gradcheck(value, (a, b, M), eps=1e-6, atol=1e-6)


# --- solve and validation --------------------------------------------------------------------------


def test_solve_reach_and_unbalanced_match_sinkhorn_unbalanced(problem):
    a, b, M = problem
    reach = 0.6
    G, log = ot.sinkhorn_unbalanced(a, b, M, 0.1, 2 * reach**2, log=True, stopThr=1e-11)
    for kwargs in ({"reach": reach}, {"unbalanced": 2 * reach**2}):
        res = ot.solve(M, a, b, reg=0.1, tol=1e-11, **kwargs)
        np.testing.assert_allclose(res.plan, G, atol=1e-12)
        np.testing.assert_allclose(res.value, log["total_cost"], rtol=1e-12)
        np.testing.assert_allclose(res.value_linear, log["cost"], rtol=1e-12)
        np.testing.assert_allclose(res.potentials[0], log["f"], atol=1e-12)
        np.testing.assert_allclose(res.marginals[1], G.sum(0), atol=1e-12)
        assert res.status == "converged" and res.converged and res.n_iter > 0
    with pytest.raises(ValueError, match="not both"):
        ot.solve(M, a, b, reg=0.1, reach=reach, unbalanced=1.0)
    with pytest.raises(ValueError, match="finite"):
        ot.solve(M, a, b, unbalanced=(1.0, np.inf))
    with pytest.raises(ValueError, match="needs reg > 0"):
        ot.solve(M, a, b, unbalanced=1.0, method="sinkhorn")


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0.0, 1.0), {}, ValueError, "reg must be"),
        ((-1.0, 1.0), {}, ValueError, "reg must be"),
        ((0.1, 0.0), {}, ValueError, "reg_m must be a real number > 0"),
        ((0.1, (1.0, -2.0)), {}, ValueError, "reg_m must be a real number > 0"),
        ((0.1, float("nan")), {}, ValueError, "reg_m must be a real number > 0"),
        ((0.1, (1.0, 2.0, 3.0)), {}, ValueError, "reg_m must be a number or a pair"),
        ((0.1, 1.0), {"method": "greenkhorn"}, ValueError, "method must be one of"),
        ((0.1, 1.0), {"reg_type": "l2"}, ValueError, "reg_type must be one of"),
        ((0.1, 1.0), {"c": -np.ones((6, 5))}, ValueError, "c has negative"),
        ((0.1, 1.0), {"foo": 1}, TypeError, "unexpected keyword"),
    ],
)
def test_bad_options_raise(problem, args, kwargs, error, match):
    a, b, M = problem
    with pytest.raises(error, match=match):
        ot.sinkhorn_unbalanced(a, b, M, *args, **kwargs)


def test_bad_arrays_raise(problem):
    a, b, M = problem
    bad_M = M.copy()
    bad_M[0, 0] = np.nan
    with pytest.raises(ValueError, match="M contains"):
        ot.sinkhorn_unbalanced(a, b, bad_M, 0.1, 1.0)
    bad_M[0, 0] = np.inf
    with pytest.raises(ValueError, match="M contains"):
        ot.solve(bad_M, a, b, unbalanced=1.0)
    with pytest.raises(ValueError, match="a has negative"):
        ot.sinkhorn_unbalanced(-a, b, M, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"b.shape == \(4,\)"):
        ot.sinkhorn_unbalanced(a, b[:4], M, 0.1, 1.0)
    with pytest.raises(ValueError, match="returnCost"):
        ot.sinkhorn_unbalanced2(a, b, M, 0.1, 1.0, returnCost="all")
    # Hard marginal constraints need equal masses; solve has no check_marginals option, so
    # the message points to what solve does accept.
    with pytest.raises(ValueError, match="same total mass.*finite unbalanced penalty"):
        ot.solve(M, a, 2.0 * b, reg=0.1, unbalanced=np.inf)


def test_reach_uses_the_squared_euclidean_rule(problem):
    # reach r on a squared Euclidean cost: rho = 2 r^2, as sinkhorn_divergence with p = 2.
    a, b, M = problem
    res = ot.solve(M, a, b, reach=0.5)
    ref = ot.solve(M, a, b, unbalanced=0.5)
    np.testing.assert_allclose(res.value, ref.value, rtol=1e-12)
