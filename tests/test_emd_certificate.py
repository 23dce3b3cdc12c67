"""Certified exact solves: every emd/emd2 result is optimal or says it is not (issue 13).

Oracles: scipy's HiGHS LP (unscaled, tight tolerances), the LP optimality conditions
(primal feasibility, dual feasibility on every arc, complementary slackness) checked here
independently of otkit's own certificate, and exact invariances (a power-of-two or constant
rescaling of M, warm starts that must not matter).
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, property_settings, to_np, to_xp
from hypothesis import event, given
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

import otkit as ot
from otkit.lp._certificate import certify_solution

emd_module = importlib.import_module("otkit.lp._emd")

EPS = np.finfo(np.float64).eps
TINY = np.finfo(np.float64).smallest_subnormal
# Tolerance of the dual checks below: twice the certificate's 32 ulps of each arc's scale
# |M_ij| + |u_i| + |v_j| (see otkit/lp/_certificate.py for the rounding budget).
ARC_ULPS = 64

# HYPOTHESIS_PROFILE=long runs the property test below on 2000 examples (40 in CI).
PROPERTY_SETTINGS = property_settings(40, 2000)


def highs_cost(a, b, M, *, required=True):
    """Optimal cost by HiGHS on the unscaled costs (scaling to max|M| = 1 would push costs
    ~1 next to 1e15 below HiGHS's absolute tolerances).  HiGHS itself sometimes gives up
    on such ranges (status 4, "model_status is Unknown"): the dual simplex is tried next,
    and None returned if ``required`` is False and both fail."""
    n, m = M.shape
    cols = np.arange(n * m)
    A_eq = vstack(
        [
            coo_matrix((np.ones(n * m), (np.repeat(np.arange(n), m), cols)), shape=(n, n * m)),
            coo_matrix((np.ones(n * m), (np.tile(np.arange(m), n), cols)), shape=(m, n * m)),
        ]
    ).tocsr()
    for method in ("highs", "highs-ds"):
        result = linprog(
            M.ravel(),
            A_eq=A_eq,
            b_eq=np.concatenate([a, b]),
            bounds=(0, None),
            method=method,
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
        if result.status == 0:
            return float(result.fun)
    assert not required, result.message
    return None


def assert_optimality_conditions(a, b, M, G, u, v, cost):
    """Primal feasibility, dual feasibility on all arcs, complementary slackness, zero gap."""
    scale = np.abs(M) + np.abs(u)[:, None] + np.abs(v)[None, :]
    tol = ARC_ULPS * EPS * scale + ARC_ULPS * TINY
    reduced = M - u[:, None] - v[None, :]
    np.testing.assert_allclose(G.sum(1), a, rtol=0, atol=1e-13)
    np.testing.assert_allclose(G.sum(0), b, rtol=0, atol=1e-13)
    assert G.min() >= 0.0
    assert np.all(reduced >= -tol), (reduced + tol).min()
    support = G > 0
    assert np.all(np.abs(reduced[support]) <= tol[support])
    gap_scale = a @ np.abs(u) + b @ np.abs(v) + abs(cost)
    # (plus a few subnormal ulps: hypothesis draws costs like 2e-313)
    assert abs(a @ u + b @ v - cost) <= 1e-13 * gap_scale + 1e-320


def wide_problem(case, seed=0):
    """Costs in [0, 1] with 'forbidden' entries, always leaving a cheap feasible plan."""
    rng = np.random.default_rng(seed)
    if case == "single_1e13":
        n, m = 7, 9
        M = rng.random((n, m))
        M[3, 4] = 1e13
        return np.full(n, 1 / n), np.full(m, 1 / m), M
    big = {"forbidden_1e12": 1e12, "forbidden_1e15": 1e15}[case]
    n, m = 20, 30
    M = rng.random((n, m))
    M[rng.random((n, m)) < 0.3] = big
    M[np.arange(n), np.arange(n)] = rng.random(n)  # a cheap arc in every row
    M[np.arange(m) % n, np.arange(m)] = rng.random(m)  # and in every column
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    return a / a.sum(), b / b.sum(), M


# --- wide cost ranges ------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["forbidden_1e12", "forbidden_1e15", "single_1e13"])
def test_wide_cost_range_gives_the_lp_optimum(xp, case):
    # Before: cost 0.132 instead of 0.120 (1e12), 0.188 instead of 0.111 (1e15), result_code
    # 1 and duals violating feasibility by ~0.2.
    a, b, M = wide_problem(case)
    expected = highs_cost(a, b, M)
    assert expected < 1.0  # the optimum avoids the forbidden arcs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G, log = ot.emd(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M), log=True)
        cost = ot.emd2(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M))
    assert_same_backend(G, to_xp(xp, M))
    assert_same_backend(cost, to_xp(xp, M))
    assert log["result_code"] == 1 and log["warning"] is None
    # HiGHS's optimum to its feasibility tolerance (1e-10 on marginals of mass 1).
    assert abs(float(cost) - expected) <= 1e-9
    G, u, v = to_np(G), to_np(log["u"]), to_np(log["v"])
    assert_optimality_conditions(a, b, M, G, u, v, float(log["cost"]))


def test_forbidden_arcs_that_must_be_used_are_priced_right():
    # Row 0 can only go to column 0 at 1e15; the rest is cheap.  The duals are then ~1e15 on
    # one side, and the cheap part must still be optimal to the LP's precision.
    rng = np.random.default_rng(3)
    n, m = 6, 8
    M = rng.random((n, m))
    M[0, :] = 1e15
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    expected = highs_cost(a, b, M)
    G, log = ot.emd(a, b, M, log=True)
    assert log["result_code"] == 1
    assert abs(log["cost"] - expected) <= 1e-6 * expected
    assert_optimality_conditions(a, b, M, G, log["u"], log["v"], log["cost"])


def test_huge_costs_are_rescaled_exactly(xp):
    # Before: an empty or partial plan with result_code 1 for costs near the float maximum.
    rng = np.random.default_rng(1)
    a, b = np.full(7, 1 / 7), np.full(9, 1 / 9)
    M = rng.random((7, 9))
    G_ref, log_ref = ot.emd(a, b, M, log=True)
    factor = 2.0**1020  # a power of two: M * factor is exact, so is its optimum
    G, log = ot.emd(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M * factor), log=True)
    assert log["result_code"] == 1
    np.testing.assert_array_equal(to_np(G), G_ref)
    assert float(log["cost"]) == log_ref["cost"] * factor
    np.testing.assert_allclose(to_np(log["u"]), log_ref["u"] * factor, rtol=1e-12)
    cost = ot.emd2(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M * 8e307))
    np.testing.assert_allclose(float(cost), log_ref["cost"] * 8e307, rtol=1e-12)


def test_cost_that_overflows_raises():
    M = np.full((2, 2), 1.5e308)
    with pytest.raises(ValueError, match="M has entries up to"):
        ot.emd2([1.0, 1.0], [1.0, 1.0], M)


# --- warm starts -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_warm_start_raises(xp, bad):
    a, b = np.full(7, 1 / 7), np.full(9, 1 / 9)
    M = np.random.default_rng(2).random((7, 9))
    u0 = np.zeros(7)
    u0[2] = bad
    with pytest.raises(ValueError, match=r"potentials_init\[0\]"):
        ot.emd2(
            to_xp(xp, a),
            to_xp(xp, b),
            to_xp(xp, M),
            potentials_init=(to_xp(xp, u0), to_xp(xp, np.zeros(9))),
        )
    with pytest.raises(ValueError, match=r"potentials_init\[1\]"):
        ot.emd(a, b, M, potentials_init=(np.zeros(7), np.full(9, bad)))


def test_warm_start_shape_is_checked():
    with pytest.raises(ValueError, match="potentials_init"):
        ot.emd2([0.5, 0.5], [0.5, 0.5], np.eye(2), potentials_init=(np.zeros(3), np.zeros(2)))


@pytest.mark.parametrize("value", [1e17, -1e17, 1e300])
def test_warm_start_never_changes_the_optimum(xp, value):
    # Before: u0[2] = 1e17 gave cost 0.49 instead of 0.20, result_code 1.
    rng = np.random.default_rng(2)
    a, b = np.full(7, 1 / 7), np.full(9, 1 / 9)
    M = rng.random((7, 9))
    cold = ot.emd2(a, b, M)
    u0, v0 = np.zeros(7), rng.normal(size=9)
    u0[2] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost, log = ot.emd2(
            to_xp(xp, a),
            to_xp(xp, b),
            to_xp(xp, M),
            potentials_init=(to_xp(xp, u0), to_xp(xp, v0)),
            log=True,
        )
    assert log["result_code"] == 1
    np.testing.assert_allclose(float(cost), cold, rtol=1e-14)


def test_unclipped_huge_warm_start_still_gives_the_optimum(monkeypatch):
    # Without the clipping of the warm start, u0 = 1e17 leaves no digit to the costs ~1 in
    # the first pivots; the final recentring and exact re-pricing still reach the optimum.
    monkeypatch.setattr(emd_module, "_warm_start", lambda u0, v0, M: (u0, v0))
    rng = np.random.default_rng(2)
    a, b = np.full(7, 1 / 7), np.full(9, 1 / 9)
    M = rng.random((7, 9))
    u0 = np.zeros(7)
    u0[2] = 1e17
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G, log = ot.emd(a, b, M, potentials_init=(u0, np.zeros(9)), log=True)
    assert log["result_code"] == 1
    assert abs(log["cost"] - highs_cost(a, b, M)) <= 1e-9
    assert_optimality_conditions(a, b, M, G, log["u"], log["v"], log["cost"])


def test_failed_certificate_restarts_without_the_warm_start(monkeypatch):
    # A warm solve whose duals fail the check is solved again (symbolic big-M), then cold,
    # silently.
    real = emd_module.network_simplex
    calls = []

    def bad_when_warm(*args, **kwargs):
        warm = args[4] is not None
        calls.append((warm, kwargs["symbolic"]))
        rows, cols, flows, u, v, status, n_iter, art, symbolic = real(*args, **kwargs)
        v = v + (1.0 if warm else 0.0)
        return rows, cols, flows, u, v, status, n_iter, art, symbolic

    monkeypatch.setattr(emd_module, "network_simplex", bad_when_warm)
    rng = np.random.default_rng(2)
    a, b = np.full(7, 1 / 7), np.full(9, 1 / 9)
    M = rng.random((7, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost, log = ot.emd2(a, b, M, potentials_init=(np.zeros(7), np.zeros(9)), log=True)
    assert calls == [(True, None), (True, True), (False, True)]
    assert log["result_code"] == 1
    assert abs(cost - highs_cost(a, b, M)) <= 1e-9


def test_failed_certificate_is_reported(monkeypatch):
    real = emd_module.network_simplex

    def corrupted(*args, **kwargs):
        rows, cols, flows, u, v, status, n_iter, art, symbolic = real(*args, **kwargs)
        return rows, cols, flows, u, v + 0.5, status, n_iter, art, symbolic  # infeasible

    monkeypatch.setattr(emd_module, "network_simplex", corrupted)
    a, b, M = np.full(3, 1 / 3), np.full(3, 1 / 3), np.random.default_rng(0).random((3, 3))
    with pytest.warns(UserWarning, match="Optimality certificate failed: complementary"):
        _, log = ot.emd(a, b, M, log=True)
    assert log["result_code"] == emd_module.NOT_CERTIFIED == 4
    assert "failed the optimality check" in log["warning"]
    with pytest.warns(UserWarning, match="optimality check"):
        _, log = ot.emd2(a, b, M, log=True)
    assert log["result_code"] == 4


@pytest.mark.parametrize("fn", [ot.emd, ot.emd2])
def test_missing_cost_matrix_is_a_type_error(fn):
    # Before: AttributeError: 'NoneType' object has no attribute 'dtype'.
    with pytest.raises(TypeError, match="M must be"):
        fn([0.5, 0.5], [0.5, 0.5], None)


# --- the certificate itself ------------------------------------------------------------------


def _solution(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    a, b = a / a.sum(), b / b.sum()
    M = rng.random((n, m))
    G, log = ot.emd(a, b, M, log=True)
    rows, cols = np.nonzero(G)
    return a, b, M, rows, cols, G[rows, cols], log["u"], log["v"]


def test_certificate_accepts_an_optimal_solution_and_reads_M_in_blocks():
    a, b, M, rows, cols, flows, u, v = _solution(300, 400, 0)  # 120,000 arcs: 2 blocks
    assert certify_solution(a, b, M, rows, cols, flows, u, v) is None
    # Fortran order (no contiguous rows) is read the same, without a copy.
    assert certify_solution(a, b, np.asfortranarray(M), rows, cols, flows, u, v) is None


def test_certificate_finds_a_violation_in_the_last_block():
    a, b, M, rows, cols, flows, u, v = _solution(300, 400, 0)
    off_support = np.ones(M.shape, dtype=bool)
    off_support[rows, cols] = False
    j = int(np.flatnonzero(off_support[299])[-1])
    M = M.copy()
    M[299, j] = u[299] + v[j] - 1e-9
    message = certify_solution(a, b, M, rows, cols, flows, u, v)
    assert message is not None and f"M[299, {j}]" in message


def test_certificate_finds_primal_and_slackness_failures():
    a, b, M, rows, cols, flows, u, v = _solution(5, 6, 1)
    assert "marginals" in certify_solution(a, b, M, rows, cols, flows * 0.999, u, v)
    assert "artificial" in certify_solution(a, b, M, rows, cols, flows, u, v, 1e-3)
    shifted = v.copy()
    shifted[cols[0]] -= 1e-6  # keeps feasibility, breaks complementary slackness
    assert "complementary" in certify_solution(a, b, M, rows, cols, flows, u, shifted)
    assert "not finite" in certify_solution(a, b, M, rows, cols, flows, u, v * np.nan)


# --- property test against HiGHS ---------------------------------------------------------------


@st.composite
def wide_problems(draw):
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 6))
    weight = st.floats(0.0, 1.0).map(lambda x: x if x > 1e-3 else 0.0)
    a = np.array(draw(st.lists(weight, min_size=n, max_size=n)))
    b = np.array(draw(st.lists(weight, min_size=m, max_size=m)))
    if a.sum() < 0.1 or b.sum() < 0.1:
        a, b = a + 0.1, b + 0.1
    levels = draw(st.sampled_from([None, 2, 3]))  # ties: few distinct values
    cost = st.floats(0.0, 1.0) if levels is None else st.integers(0, levels).map(float)
    M = np.array(draw(st.lists(cost, min_size=n * m, max_size=n * m))).reshape(n, m)
    if n > 1 and draw(st.booleans()):
        M[1] = M[0]  # duplicated rows
    big = draw(st.sampled_from([0.0, 1e6, 1e12, 1e15]))
    if big:
        mask = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m)))
        M[mask.reshape(n, m)] = big
    return a / a.sum(), b / b.sum(), M


@PROPERTY_SETTINGS
@given(wide_problems())
def test_property_emd2_matches_highs_on_wide_ranges(problem):
    a, b, M = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G, log = ot.emd(a, b, M, log=True)
    cost = log["cost"]
    assert log["result_code"] == 1
    np.testing.assert_allclose(ot.emd2(a, b, M), cost, rtol=1e-15)
    assert_optimality_conditions(a, b, M, G, log["u"], log["v"], cost)
    expected = highs_cost(a, b, M, required=False)
    event("HiGHS failed" if expected is None else "HiGHS solved")
    if expected is not None:
        # HiGHS meets the marginals to 1e-10 (absolute), which moves its cost by up to 1e-10
        # per unit of the costs it uses; otkit's cost is the certified optimum.
        tol = 1e-9 * max(1.0, abs(expected)) + 1e-10 * np.abs(M).max()
        assert abs(cost - expected) <= tol
