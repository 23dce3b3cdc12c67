"""otkit.unbalanced as POT 0.9.7's ot.unbalanced, and against the mathematics.

Oracles: POT (``pytest.importorskip("ot")``) where POT solves the problem it documents;
optimality conditions (fixed-point equations, KKT conditions of the MM and L2 problems,
the barycenter as the mean of its marginals); one solver against another on the same
problem (MM and L-BFGS-B; Frank-Wolfe in 1D and MM); an LP bound for the TV penalty.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from scipy.optimize import linprog

import otkit as ot

INF = math.inf
TIGHT = {"stopThr": 1e-12, "numItermax": 20_000}


@pytest.fixture
def pot():
    return pytest.importorskip("ot")


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(7, 2)), rng.normal(size=(6, 2)) + 0.3
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    a = rng.uniform(0.5, 1.5, 7) / 7
    b = rng.uniform(0.5, 1.5, 6) / 6 * 1.6  # another mass
    return a, b, M / M.max()


def _kl(p, q):
    safe = np.where(p > 0, p, 1.0)
    return float(np.sum(np.where(p > 0, p * np.log(safe / q), 0.0) - p + q))


# --- sinkhorn_unbalanced and POT's per-method names ---------------------------------------------


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
@pytest.mark.parametrize("reg_m", [1.0, (0.5, 2.0), (INF, 0.7)])
def test_sinkhorn_matches_pot(pot, problem, reg_type, reg_m):
    a, b, M = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT warns about reg_type='entropy'
        G_pot, log_pot = pot.unbalanced.sinkhorn_unbalanced(
            a, b, M, 0.1, reg_m, reg_type=reg_type, log=True, **TIGHT
        )
    G, log = ot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, reg_m, reg_type=reg_type, log=True,
                                               **TIGHT)  # fmt: skip
    np.testing.assert_allclose(G, G_pot, atol=1e-10)
    np.testing.assert_allclose(log["logu"], log_pot["logu"], atol=1e-7)
    np.testing.assert_allclose(log["logv"], log_pot["logv"], atol=1e-7)
    np.testing.assert_allclose(float(log["cost"]), float(log_pot["cost"]), rtol=1e-9)
    cost2 = ot.unbalanced.sinkhorn_unbalanced2(a, b, M, 0.1, reg_m, reg_type=reg_type, **TIGHT)
    np.testing.assert_allclose(float(cost2), float(log_pot["cost"]), rtol=1e-9)


def test_sinkhorn_keeps_the_callers_backend(xp, problem):
    G_ref, log_ref = ot.unbalanced.sinkhorn_unbalanced(*problem, 0.1, (0.5, 2.0), log=True,
                                                       **TIGHT)  # fmt: skip
    a_x, b_x, M_x = (to_xp(xp, x) for x in problem)
    G, log = ot.unbalanced.sinkhorn_knopp_unbalanced(a_x, b_x, M_x, 0.1, (0.5, 2.0), log=True,
                                                     **TIGHT)  # fmt: skip
    for ours in (G, log["logu"], log["cost"], log["total_cost"]):
        assert_same_backend(ours, M_x)
    np.testing.assert_allclose(to_np(G), G_ref, atol=1e-12)
    np.testing.assert_allclose(to_np(log["logv"]), log_ref["logv"], atol=1e-10)
    assert log["n_iter"] == log_ref["n_iter"] == len(log["err"])


def test_total_cost_is_the_objective_and_pots_drops_the_mass_terms(pot, problem):
    # POT's total_cost uses sum p log(p / q) without the "- p + q" of the generalized KL; at
    # the optimum that sum vanishes. otkit's is the objective that the solver minimizes.
    a, b, M = problem
    eps, rho = 0.1, (0.5, 2.0)
    G, log = ot.unbalanced.sinkhorn_unbalanced(a, b, M, eps, rho, log=True, **TIGHT)
    _, log_pot = pot.unbalanced.sinkhorn_unbalanced(a, b, M, eps, rho, log=True, **TIGHT)
    c = np.outer(a, b)
    objective = (
        np.sum(G * M) + eps * _kl(G, c) + rho[0] * _kl(G.sum(1), a) + rho[1] * _kl(G.sum(0), b)
    )
    np.testing.assert_allclose(float(log["total_cost"]), objective, rtol=1e-12)
    mass_terms = eps * (c.sum() - G.sum()) + rho[0] * (a.sum() - G.sum())
    mass_terms += rho[1] * (b.sum() - G.sum())
    np.testing.assert_allclose(float(log_pot["total_cost"]), objective - mass_terms, atol=1e-9)


@pytest.mark.parametrize(
    "method", ["sinkhorn", "sinkhorn_stabilized", "sinkhorn_translation_invariant"]
)
@pytest.mark.parametrize("n_iter", [1, 7, 23])
def test_error_trace_has_pots_length(pot, problem, method, n_iter):
    a, b, M = problem
    kwargs = {"method": method, "numItermax": n_iter, "stopThr": 0.0, "log": True}
    _, log_pot = pot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, 1.0, **kwargs)
    _, log = ot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, 1.0, warn=False, **kwargs)
    assert len(log["err"]) == len(log_pot["err"])
    assert log["n_iter"] == n_iter


def test_2d_b_returns_linear_costs_like_pot(pot, problem):
    a, b, M = problem
    B = np.stack([b, b[::-1] * 0.5, np.full_like(b, 0.3)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        costs_pot, log_pot = pot.unbalanced.sinkhorn_unbalanced(
            a, B, M, 0.2, 1.0, reg_type="entropy", log=True, **TIGHT
        )
    kwargs = {"reg_type": "entropy", **TIGHT}
    costs, log = ot.unbalanced.sinkhorn_unbalanced(a, B, M, 0.2, 1.0, log=True, **kwargs)
    assert costs.shape == (3,)
    np.testing.assert_allclose(costs, costs_pot, rtol=1e-9)
    np.testing.assert_allclose(log["logu"], log_pot["logu"], atol=1e-7)
    np.testing.assert_allclose(log["logv"], log_pot["logv"], atol=1e-7)
    costs2 = ot.unbalanced.sinkhorn_unbalanced2(a, B, M, 0.2, 1.0, **kwargs)
    np.testing.assert_allclose(costs2, costs_pot, rtol=1e-9)
    plans = ot.unbalanced.sinkhorn_unbalanced(a, B, M, 0.2, 1.0, return_plans=True, **kwargs)
    assert plans.shape == (7, 6, 3)
    np.testing.assert_allclose(np.einsum("ijk,ij->k", plans, M), costs_pot, rtol=1e-9)


def test_2d_b_keeps_the_callers_backend(xp, problem):
    a, b, M = problem
    B = np.stack([b, b[::-1] * 0.5], axis=1)
    expected = ot.unbalanced.sinkhorn_unbalanced(a, B, M, 0.2, 1.0, **TIGHT)
    a_x, B_x, M_x = to_xp(xp, a), to_xp(xp, B), to_xp(xp, M)
    costs = ot.unbalanced.sinkhorn_unbalanced(a_x, B_x, M_x, 0.2, 1.0, **TIGHT)
    assert costs.shape == (2,)
    assert_same_backend(costs, M_x)
    np.testing.assert_allclose(to_np(costs), expected, rtol=1e-10)


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
def test_log_scalings_satisfy_the_fixed_point_equations(problem, reg_type):
    # POT's meaning of logu, logv: gamma = diag(u) K diag(v), K = c exp(-M / eps), and
    # u = (a / K v)^(rho / (rho + eps)), v = (b / K^T u)^(rho / (rho + eps)).
    a, b, M = problem
    eps, rho = 0.1, 1.0
    _, log = ot.unbalanced.sinkhorn_unbalanced(a, b, M, eps, rho, reg_type=reg_type, log=True,
                                               **TIGHT)  # fmt: skip
    log_c = np.log(np.outer(a, b)) if reg_type == "kl" else 0.0
    log_K = log_c - M / eps
    lse = np.logaddexp.reduce
    fi = rho / (rho + eps)
    np.testing.assert_allclose(
        log["logu"], fi * (np.log(a) - lse(log_K + log["logv"][None, :], axis=1)), atol=1e-9
    )
    np.testing.assert_allclose(
        log["logv"], fi * (np.log(b) - lse(log_K + log["logu"][:, None], axis=0)), atol=1e-9
    )


def test_method_names_solve_the_same_problem(problem):
    a, b, M = problem
    rho = (0.3, 3.0)  # unequal penalties (POT's translation-invariant method differs here)
    reference = ot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, rho, **TIGHT)
    functions = [
        ot.unbalanced.sinkhorn_knopp_unbalanced,
        ot.unbalanced.sinkhorn_stabilized_unbalanced,
        ot.unbalanced.sinkhorn_unbalanced_translation_invariant,
    ]
    for function in functions:
        np.testing.assert_allclose(function(a, b, M, 0.1, rho, **TIGHT), reference, atol=1e-12)
    # ... and it is the optimum: the gradient of the primal vanishes.
    P = reference
    grad = M + 0.1 * np.log(P / np.outer(a, b))
    grad += rho[0] * np.log(P.sum(1) / a)[:, None] + rho[1] * np.log(P.sum(0) / b)[None, :]
    np.testing.assert_allclose(grad, 0.0, atol=1e-9)


def test_reg_type_entropy_ignores_c_with_a_warning(problem):
    a, b, M = problem
    with pytest.warns(UserWarning, match="c is ignored"):
        G = ot.unbalanced.sinkhorn_unbalanced(
            a, b, M, 0.1, 1.0, reg_type="entropy", c=np.ones_like(M), **TIGHT
        )
    expected = ot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, 1.0, reg_type="entropy", **TIGHT)
    np.testing.assert_allclose(G, expected, atol=1e-14)


def test_logs_have_pots_keys(pot, problem):
    a, b, M = problem
    A = np.stack([a, a[::-1]], axis=1)
    A_square, M_square = A[:6], M[:6, :6]
    short = {"numItermax": 10}
    calls = [
        ("sinkhorn_unbalanced", (a, b, M, 0.1, 1.0), short),
        ("mm_unbalanced", (a, b, M, 1.0), short),
        ("lbfgsb_unbalanced", (a, b, M, 0.1, 1.0), short),
        ("barycenter_unbalanced", (A_square, M_square, 0.1, 1.0), short),
    ]
    for name, args, kwargs in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            keys_pot = set(getattr(pot.unbalanced, name)(*args, log=True, **kwargs)[-1])
            keys = set(getattr(ot.unbalanced, name)(*args, log=True, **kwargs)[-1])
        assert keys_pot - {"G"} <= keys, name  # mm's 'G' (every iterate) is not kept


# --- majorization-minimization ------------------------------------------------------------------


@pytest.mark.parametrize("div", ["kl", "l2"])
@pytest.mark.parametrize(("reg", "reg_m"), [(0.0, 2.0), (0.05, (0.5, 3.0))])
def test_mm_matches_pot(pot, problem, div, reg, reg_m):
    # The same iteration from the same start: equal after any number of steps.
    a, b, M = problem
    kwargs = {"reg": reg, "div": div, "numItermax": 150}
    G_pot, log_pot = pot.unbalanced.mm_unbalanced(a, b, M, reg_m, log=True, **kwargs)
    G, log = ot.unbalanced.mm_unbalanced(a, b, M, reg_m, log=True, **kwargs)
    np.testing.assert_allclose(G, G_pot, atol=1e-13)
    assert len(log["err"]) == len(log_pot["err"]) == 150
    np.testing.assert_allclose(log["err"], log_pot["err"], rtol=1e-9)
    np.testing.assert_allclose(float(log["total_cost"]), float(log_pot["total_cost"]), rtol=1e-12)
    for return_cost in ("linear", "total"):
        value = ot.unbalanced.mm_unbalanced2(a, b, M, reg_m, returnCost=return_cost, **kwargs)
        expected = log_pot["cost" if return_cost == "linear" else "total_cost"]
        np.testing.assert_allclose(float(value), float(expected), rtol=1e-12)


def test_mm_keeps_the_callers_backend(xp, problem):
    kwargs = {"reg": 0.05, "numItermax": 100}
    G_ref = ot.unbalanced.mm_unbalanced(*problem, (0.5, 3.0), **kwargs)
    a_x, b_x, M_x = (to_xp(xp, x) for x in problem)
    G = ot.unbalanced.mm_unbalanced(a_x, b_x, M_x, (0.5, 3.0), **kwargs)
    total = ot.unbalanced.mm_unbalanced2(a_x, b_x, M_x, (0.5, 3.0), returnCost="total", **kwargs)
    assert_same_backend(G, M_x)
    assert_same_backend(total, M_x)
    np.testing.assert_allclose(to_np(G), G_ref, atol=1e-13)


def test_mm_kl_fixed_point_is_a_kkt_point(problem):
    # Exact KL problem: with f = -rho_a log(P1 / a), g = -rho_b log(P^T 1 / b), optimality is
    # f_i + g_j <= M_ij everywhere, with equality on the support of P.
    a, b, M = problem
    rho = (0.2, 0.5)
    P = ot.unbalanced.mm_unbalanced(a, b, M, rho, numItermax=30_000, stopThr=1e-13)
    f, g = -rho[0] * np.log(P.sum(1) / a), -rho[1] * np.log(P.sum(0) / b)
    slack = M - f[:, None] - g[None, :]
    assert slack.min() > -1e-6
    np.testing.assert_allclose(P * slack, 0.0, atol=1e-8)


@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_mm_l2_fixed_point_is_a_kkt_point(problem, reg):
    # Quadratic problem over P >= 0: grad F >= 0 and P * grad F = 0 at the minimizer.
    a, b, M = problem
    rho = (1.0, 2.0)
    P = ot.unbalanced.mm_unbalanced(a, b, M, rho, reg=reg, div="l2", numItermax=20_000,
                                    stopThr=1e-14)  # fmt: skip
    grad = M + rho[0] * (P.sum(1) - a)[:, None] + rho[1] * (P.sum(0) - b)[None, :]
    grad += reg * (P - np.outer(a, b))
    assert grad.min() > -1e-7
    np.testing.assert_allclose(P * grad, 0.0, atol=1e-8)


@pytest.mark.parametrize(
    ("div", "reg", "reg_div"), [("kl", 0.2, "kl"), ("l2", 0.0, "kl"), ("l2", 0.2, "l2")]
)
def test_mm_and_lbfgsb_reach_the_same_minimum(problem, div, reg, reg_div):
    a, b, M = problem
    rho = (0.5, 1.5)
    value_mm = ot.unbalanced.mm_unbalanced2(a, b, M, rho, reg=reg, div=div, returnCost="total",
                                            numItermax=20_000, stopThr=1e-13)  # fmt: skip
    value_lbfgsb = ot.unbalanced.lbfgsb_unbalanced2(
        a, b, M, reg, rho, reg_div=reg_div, regm_div=div, returnCost="total"
    )
    # Each is a minimum up to its own tolerance: neither value is far below the other.
    assert float(value_lbfgsb) <= float(value_mm) + 1e-9
    assert float(value_mm) <= float(value_lbfgsb) + 1e-9


def test_mm_keeps_the_support_of_g0_and_large_reg_m_is_balanced(problem):
    a, b, M = problem
    b = b * a.sum() / b.sum()
    G0 = ot.emd(a, b, M)
    G = ot.unbalanced.mm_unbalanced(a, b, M, 1e4, G0=G0)
    assert np.all(G[G0 == 0] == 0)
    np.testing.assert_allclose(G, G0, atol=1e-5)


def test_mm_total_gradient_is_the_envelope():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a_np, b_np, M_np = rng.uniform(0.2, 1.0, 4), rng.uniform(0.2, 1.0, 3), rng.uniform(size=(4, 3))
    a, b, M = (torch.tensor(x, requires_grad=True) for x in (a_np, b_np, M_np))
    rho, reg = (0.7, 1.3), 0.1
    kwargs = {"reg": reg, "numItermax": 5000, "stopThr": 1e-14}
    total = ot.unbalanced.mm_unbalanced2(a, b, M, rho, returnCost="total", **kwargs)
    total.backward()
    P = ot.unbalanced.mm_unbalanced(a_np, b_np, M_np, rho, **kwargs)
    q, r = P.sum(1), P.sum(0)
    # Danskin at the optimum of <P, M> + rho KL marginals + reg KL(P | a b^T):
    # d/dM = P, d/da = rho_a (1 - q / a) + reg (sum b - q / a), likewise for b.
    np.testing.assert_allclose(M.grad.numpy(), P, atol=1e-12)
    expected_a = rho[0] * (1 - q / a_np) + reg * (b_np.sum() - q / a_np)
    expected_b = rho[1] * (1 - r / b_np) + reg * (a_np.sum() - r / b_np)
    np.testing.assert_allclose(a.grad.numpy(), expected_a, atol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), expected_b, atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"div": "tv"}, ValueError, "div must be one of"),
        ({"reg": -1.0}, ValueError, "reg must be"),
        ({"reg_m": INF}, ValueError, "must be finite"),
        ({"returnCost": "all"}, ValueError, "returnCost"),
        ({"G0": -np.ones((7, 6))}, ValueError, "G0 has negative"),
        ({"c": np.ones((7, 5)), "reg": 0.1}, ValueError, r"c.shape"),
    ],
)
def test_mm_bad_arguments_raise(problem, kwargs, error, match):
    a, b, M = problem
    kwargs = {"reg_m": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        ot.unbalanced.mm_unbalanced2(a, b, M, **kwargs)


# --- L-BFGS-B --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reg_div", "regm_div"), [("kl", "kl"), ("entropy", "l2"), ("l2", "kl")])
def test_lbfgsb_matches_pot(pot, reg_div, regm_div):
    rng = np.random.default_rng(1)
    M = rng.uniform(size=(4, 3))
    a, b = rng.uniform(0.5, 1.5, 4) / 4, rng.uniform(0.5, 1.5, 3) / 3 * 1.4
    kwargs = {"reg_div": reg_div, "regm_div": regm_div, "log": True}
    G_pot, log_pot = pot.unbalanced.lbfgsb_unbalanced(a, b, M, 0.1, (0.5, 1.0), **kwargs)
    G, log = ot.unbalanced.lbfgsb_unbalanced(a, b, M, 0.1, (0.5, 1.0), **kwargs)
    # Both stop on L-BFGS-B's relative reduction of the objective: equal values, and plans
    # as close as the conditioning of the problem allows.
    np.testing.assert_allclose(float(log["total_cost"]), float(log_pot["total_cost"]), rtol=1e-9)
    np.testing.assert_allclose(G, G_pot, atol=1e-6)


def test_lbfgsb_keeps_the_callers_backend(xp, problem):
    a, b, M = problem
    G_ref = ot.unbalanced.lbfgsb_unbalanced(a, b, M, 0.1, 1.0, reg_div="l2", regm_div="l2")
    a_x, b_x, M_x = (to_xp(xp, x) for x in problem)
    G, log = ot.unbalanced.lbfgsb_unbalanced(
        a_x, b_x, M_x, 0.1, 1.0, reg_div="l2", regm_div="l2", log=True
    )
    assert_same_backend(G, M_x)
    assert_same_backend(log["total_cost"], M_x)
    np.testing.assert_allclose(to_np(G), G_ref, atol=1e-12)
    value = ot.unbalanced.lbfgsb_unbalanced2(a_x, b_x, M_x, 0.1, 1.0, reg_div="l2",
                                             regm_div="l2")  # fmt: skip
    np.testing.assert_allclose(float(value), np.sum(G_ref * M), rtol=1e-10)


def test_lbfgsb_custom_regularization_equals_the_builtin(problem):
    a, b, M = problem
    c = np.outer(a, b)
    custom = (lambda G: 0.5 * np.sum((G - c) ** 2), lambda G: G - c)
    G = ot.unbalanced.lbfgsb_unbalanced(a, b, M, 0.2, 1.0, reg_div=custom, regm_div="l2")
    expected = ot.unbalanced.lbfgsb_unbalanced(a, b, M, 0.2, 1.0, reg_div="l2", regm_div="l2")
    np.testing.assert_allclose(G, expected, atol=1e-12)


def test_lbfgsb_tv_lies_between_the_lp_optimum_and_its_start(problem):
    # Unregularized TV penalties make an LP (slacks s+, s- per marginal): its optimum bounds
    # the value from below; L-BFGS-B, on a non-smooth objective, must at least improve on
    # its start a b^T.
    a, b, M = problem
    a, b, M = a[:5], b[:4], M[:5, :4]
    rho = (0.3, 0.6)
    n, m = M.shape
    cost = np.concatenate([M.ravel(), np.full(2 * n, rho[0]), np.full(2 * m, rho[1])])
    A_eq = np.zeros((n + m, n * m + 2 * n + 2 * m))
    for i in range(n):
        A_eq[i, i * m : (i + 1) * m], A_eq[i, n * m + i], A_eq[i, n * m + n + i] = 1, -1, 1
    for j in range(m):
        k = n * m + 2 * n
        A_eq[n + j, j : n * m : m], A_eq[n + j, k + j], A_eq[n + j, k + m + j] = 1, -1, 1
    lp = linprog(cost, A_eq=A_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    value = ot.unbalanced.lbfgsb_unbalanced2(a, b, M, 0.0, rho, regm_div="tv",
                                             returnCost="total", warn=False)  # fmt: skip
    start = np.outer(a, b)
    start_value = np.sum(start * M) + rho[0] * np.abs(start.sum(1) - a).sum()
    start_value += rho[1] * np.abs(start.sum(0) - b).sum()
    assert lp.fun - 1e-9 <= float(value) < start_value


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reg_div": "tv"}, ValueError, "reg_div must be one of"),
        ({"regm_div": "entropy"}, ValueError, "regm_div must be one of"),
        ({"reg_div": (np.sum,)}, TypeError, "pair of callables"),
        ({"reg_m": (1.0, INF)}, ValueError, "must be finite"),
        ({"returnCost": "all"}, ValueError, "returnCost"),
    ],
)
def test_lbfgsb_bad_arguments_raise(problem, kwargs, error, match):
    a, b, M = problem
    kwargs = {"reg": 0.1, "reg_m": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        ot.unbalanced.lbfgsb_unbalanced2(a, b, M, **kwargs)


# --- barycenter ----------------------------------------------------------------------------------


@pytest.fixture
def histograms():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 2))
    M = ((x[:, None] - x[None]) ** 2).sum(-1)
    A = rng.uniform(size=(8, 3)) * np.array([1.0, 2.0, 0.5])
    return A, M / M.max()


@pytest.mark.parametrize("method", ["sinkhorn", "sinkhorn_stabilized"])
def test_barycenter_matches_pot(xp, pot, histograms, method):
    A, M = histograms
    w = np.array([0.2, 0.5, 0.3])
    kwargs = {"method": method, "weights": w, "log": True, "stopThr": 1e-10}
    q_pot, log_pot = pot.unbalanced.barycenter_unbalanced(A, M, 0.1, 1.0, **kwargs)
    A_x, M_x = to_xp(xp, A), to_xp(xp, M)
    kwargs["weights"] = to_xp(xp, w)
    q, log = ot.unbalanced.barycenter_unbalanced(A_x, M_x, 0.1, 1.0, **kwargs)
    assert_same_backend(q, A_x)
    np.testing.assert_allclose(to_np(q), q_pot, atol=1e-9)
    np.testing.assert_allclose(to_np(log["logu"]), log_pot["logu"], atol=1e-7)
    np.testing.assert_allclose(to_np(log["logv"]), log_pot["logv"], atol=1e-7)
    if method == "sinkhorn":  # the same iteration: the same count (POT runs 12 at least)
        assert log["niter"] == log_pot["niter"] and len(log["err"]) == len(log_pot["err"])
    else:
        assert len(log["err"]) == math.ceil(log["n_iter"] / 10)


def test_barycenter_is_the_mean_of_the_plans_marginals(histograms):
    # The optimality condition in q: q = sum_k w_k gamma_k^T 1.
    A, M = histograms
    w, eps, rho = np.array([0.2, 0.5, 0.3]), 0.1, (2.0, 0.5)
    q, log = ot.unbalanced.barycenter_unbalanced(A, M, eps, rho, weights=w, log=True,
                                                 stopThr=1e-13)  # fmt: skip
    log_plans = log["logu"][:, None, :] - M[:, :, None] / eps + log["logv"][None, :, :]
    column_marginals = np.exp(log_plans).sum(axis=0)
    np.testing.assert_allclose(column_marginals @ w, q, rtol=1e-10)
    # and the row marginals satisfy their own optimality: A e^(-f / rho_a).
    np.testing.assert_allclose(
        np.exp(log_plans).sum(axis=1), A * np.exp(-log["f"] / rho[0]), rtol=1e-8
    )


def test_barycenter_checks_its_arguments(histograms):
    A, M = histograms
    with pytest.raises(ValueError, match="sum to 1"):
        ot.unbalanced.barycenter_unbalanced(A, M, 0.1, 1.0, weights=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="must be finite"):
        ot.unbalanced.barycenter_unbalanced(A, M, 0.1, INF)
    with pytest.raises(ValueError, match=r"M.shape"):
        ot.unbalanced.barycenter_unbalanced(A, M[:5], 0.1, 1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ot.unbalanced.barycenter_unbalanced(A, M, 0.1, 1.0, foo=1)


# --- uot_1d --------------------------------------------------------------------------------------


@pytest.fixture
def lines():
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=(9, 3)), rng.normal(size=(7, 3)) + 0.4
    return u, v, rng.uniform(size=(9, 3)), rng.uniform(size=(7, 3))


@pytest.mark.parametrize("reg_m", [1.0, (0.5, 2.0)])
@pytest.mark.parametrize("batched", [False, True])
def test_uot_1d_matches_pot(pot, lines, reg_m, batched):
    torch = pytest.importorskip("torch")  # POT's uot_1d differentiates for its potentials
    arrays = lines if batched else tuple(x[:, 0] for x in lines)
    out_pot = pot.unbalanced.uot_1d(*(torch.tensor(x) for x in arrays[:2]), reg_m,
                                    *(torch.tensor(x) for x in arrays[2:]), p=2,
                                    returnCost="total", log=True)  # fmt: skip
    out = ot.unbalanced.uot_1d(*arrays[:2], reg_m, *arrays[2:], p=2, returnCost="total", log=True)
    for ours, theirs in zip(out[:3], out_pot[:3]):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[3]["linear_cost"], out_pot[3]["linear_cost"].numpy(),
                               rtol=1e-10)  # fmt: skip


def test_uot_1d_keeps_the_callers_backend(xp, lines):
    reference = ot.unbalanced.uot_1d(*lines[:2], (0.5, INF), *lines[2:], p=1.5)
    u, v, a, b = (to_xp(xp, x) for x in lines)
    out = ot.unbalanced.uot_1d(u, v, (0.5, INF), a, b, p=1.5)
    for ours, expected in zip(out, reference):
        assert_same_backend(ours, u)
        np.testing.assert_allclose(to_np(ours), expected, rtol=1e-10, atol=1e-13)


def test_uot_1d_is_sandwiched_by_its_dual_and_the_gap_closes(lines):
    # The iterates (f, g) stay dual feasible (f_i + g_j <= |u_i - v_j|^p: convex
    # combinations of feasible pairs, translated): their dual value bounds the optimum from
    # below, the primal value of the returned marginals from above.
    u, v, a, b = (x[:, 0] for x in lines)
    rho = (0.7, 1.3)
    C = (u[:, None] - v[None]) ** 2
    gaps = []
    for n_iter in (10, 60):
        _, _, primal, log = ot.unbalanced.uot_1d(u, v, rho, a, b, numItermax=n_iter,
                                                 returnCost="total", log=True)  # fmt: skip
        f, g = log["f"], log["g"]
        assert (f[:, None] + g[None, :] - C).max() < 1e-12
        dual = rho[0] * np.sum(a * (1 - np.exp(-f / rho[0])))
        dual += rho[1] * np.sum(b * (1 - np.exp(-g / rho[1])))
        gaps.append(float(primal) - dual)
    assert 0 < gaps[1] < gaps[0] / 4


def test_uot_1d_infinite_penalties_give_balanced_ot(lines):
    u, v, a, b = (x[:, 0] for x in lines)
    b = b * a.sum() / b.sum()
    _, _, value = ot.unbalanced.uot_1d(u, v, INF, a, b, numItermax=3)
    np.testing.assert_allclose(float(value), float(ot.wasserstein_1d(u, v, a, b, p=2)),
                               rtol=1e-12)  # fmt: skip


def test_methods_pot_does_not_implement_warn_as_pot(problem):
    # POT accepts 'sinkhorn_reg_scaling' (and, for barycenters, the translation-invariant
    # name) without implementing them and warns; otkit warns too, at the caller's line.
    a, b, M = problem
    A = np.stack([a, a[::-1]], axis=1)
    support = np.linspace(0.0, 1.0, len(a))
    M_square = (support[:, None] - support[None, :]) ** 2
    with pytest.warns(UserWarning, match="not implemented") as record:
        ot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, 1.0, method="sinkhorn_reg_scaling")
    assert record[0].filename == __file__
    with pytest.warns(UserWarning, match="not implemented"):
        ot.unbalanced.sinkhorn_unbalanced2(a, b, M, 0.1, 1.0, method="sinkhorn_reg_scaling")
    for method in ("sinkhorn_reg_scaling", "sinkhorn_translation_invariant"):
        with pytest.warns(UserWarning, match="not implemented") as record:
            ot.unbalanced.barycenter_unbalanced(A, M_square, 0.1, 1.0, method=method)
        assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ot.unbalanced.sinkhorn_unbalanced(
            a, b, M, 0.1, 1.0, method="sinkhorn_translation_invariant", numItermax=5000
        )
