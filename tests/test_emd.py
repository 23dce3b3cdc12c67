"""Exact OT (emd, emd2) against scipy's HiGHS LP, LP duality and invariances."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, rtol_for, to_np, to_xp
from oracles import linprog_ot, random_problem

import otkit as ot

SHAPES = [(1, 1), (1, 7), (7, 1), (5, 5), (8, 13), (13, 8), (40, 25)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("costs", ["gaussian", "integer"])
@pytest.mark.parametrize("weights", ["uniform", "random"])
def test_emd_matches_linprog(shape, costs, weights):
    a, b, M = random_problem(*shape, seed=sum(shape), weights=weights, costs=costs)
    _, lp_cost = linprog_ot(a, b, M)
    G, log = ot.emd(a, b, M, log=True)
    np.testing.assert_allclose(G.sum(axis=1), a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(G.sum(axis=0), b, rtol=1e-12, atol=1e-15)
    assert G.min() >= 0.0
    np.testing.assert_allclose(np.sum(G * M), lp_cost, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(log["cost"], lp_cost, rtol=1e-10, atol=1e-14)
    assert log["result_code"] == 1 and log["warning"] is None


@pytest.mark.parametrize("seed", range(5))
def test_duals_feasible_and_complementary(seed):
    a, b, M = random_problem(30, 20, seed=seed)
    G, log = ot.emd(a, b, M, log=True)
    u, v = log["u"], log["v"]
    scale = np.abs(M).max()
    reduced = M - u[:, None] - v[None, :]
    assert reduced.min() >= -1e-12 * scale  # dual feasible
    assert np.abs(reduced[G > 0]).max() <= 1e-12 * scale  # complementary slackness
    np.testing.assert_allclose(a @ u + b @ v, log["cost"], rtol=1e-12)  # no duality gap


def test_center_dual_splits_the_objective():
    a, b, M = random_problem(12, 9, seed=3)
    _, log = ot.emd(a, b, M, log=True, center_dual=True)
    np.testing.assert_allclose(a @ log["u"], b @ log["v"], rtol=1e-12, atol=1e-14)
    _, raw = ot.emd(a, b, M, log=True, center_dual=False)
    np.testing.assert_allclose(a @ raw["u"] + b @ raw["v"], raw["cost"], rtol=1e-12)


def test_transposed_problem_has_the_same_cost():
    a, b, M = random_problem(17, 11, seed=5)
    np.testing.assert_allclose(ot.emd2(b, a, M.T), ot.emd2(a, b, M), rtol=1e-13)


def test_ties_give_an_optimal_vertex():
    # Every permutation is optimal for a constant cost; any feasible plan is optimal.
    n = 6
    M = np.ones((n, n))
    G = ot.emd(ot.unif(n), ot.unif(n), M)
    np.testing.assert_allclose(G.sum(0), ot.unif(n), rtol=1e-12)
    np.testing.assert_allclose(np.sum(G * M), 1.0, rtol=1e-12)


def test_assignment_is_a_permutation():
    rng = np.random.default_rng(0)
    n = 50
    M = rng.random((n, n))
    G = ot.emd(ot.unif(n), ot.unif(n), M)
    np.testing.assert_allclose(np.sort(G.ravel())[-n:], 1.0 / n, rtol=1e-12)
    assert np.count_nonzero(G > 1e-15) == n
    _, lp_cost = linprog_ot(ot.unif(n), ot.unif(n), M)
    np.testing.assert_allclose(np.sum(G * M), lp_cost, rtol=1e-10)


def test_zero_weights_keep_feasible_duals():
    a, b, M = random_problem(10, 8, seed=7)
    a[[0, 4]] = 0.0
    b[[2]] = 0.0
    a, b = a / a.sum(), b / b.sum()
    G, log = ot.emd(a, b, M, log=True)
    _, lp_cost = linprog_ot(a, b, M)
    np.testing.assert_allclose(log["cost"], lp_cost, rtol=1e-10)
    assert np.all(G[[0, 4], :] == 0) and np.all(G[:, 2] == 0)
    reduced = M - log["u"][:, None] - log["v"][None, :]
    assert np.all(np.isfinite(log["u"])) and np.all(np.isfinite(log["v"]))
    assert reduced.min() >= -1e-12 * np.abs(M).max()


def test_negative_costs_are_allowed():
    a, b, M = random_problem(9, 12, seed=2)
    M = M - 3.0
    _, lp_cost = linprog_ot(a, b, M)
    np.testing.assert_allclose(ot.emd2(a, b, M), lp_cost, rtol=1e-10)


def test_empty_weights_mean_uniform():
    _, _, M = random_problem(6, 4, seed=1)
    np.testing.assert_allclose(ot.emd([], [], M), ot.emd(ot.unif(6), ot.unif(4), M))
    np.testing.assert_allclose(ot.emd2(None, None, M), ot.emd2(ot.unif(6), ot.unif(4), M))


def test_emd2_with_several_target_histograms():
    a, b1, M = random_problem(10, 7, seed=4)
    _, b2, _ = random_problem(10, 7, seed=5)
    costs = ot.emd2(a, np.stack([b1, b2], axis=1), M)
    assert isinstance(costs, list) and len(costs) == 2  # as POT: one cost per histogram
    np.testing.assert_allclose(costs, [ot.emd2(a, b1, M), ot.emd2(a, b2, M)], rtol=1e-14)
    pairs = ot.emd2(a, np.stack([b1, b2], axis=1), M, log=True)
    assert len(pairs) == 2 and all(isinstance(pair, list) and len(pair) == 2 for pair in pairs)
    assert pairs[1][1]["result_code"] == 1
    np.testing.assert_allclose([cost for cost, _ in pairs], costs, rtol=1e-14)


def test_emd2_return_matrix():
    a, b, M = random_problem(8, 6, seed=9)
    cost, log = ot.emd2(a, b, M, return_matrix=True)
    np.testing.assert_allclose(log["G"], ot.emd(a, b, M), rtol=1e-14)
    np.testing.assert_allclose(cost, np.sum(log["G"] * M), rtol=1e-13)


def test_warm_start_from_optimal_potentials():
    a, b, M = random_problem(60, 50, seed=11)
    _, log = ot.emd(a, b, M, log=True)
    G_warm, log_warm = ot.emd(a, b, M, log=True, potentials_init=(log["u"], log["v"]))
    np.testing.assert_allclose(log_warm["cost"], log["cost"], rtol=1e-12)
    np.testing.assert_allclose(G_warm.sum(0), b, rtol=1e-12)
    assert log_warm["n_iter"] < log["n_iter"]


def test_max_iter_warns_and_reports():
    a, b, M = random_problem(30, 30, seed=0)
    with pytest.warns(UserWarning, match="numItermax"):
        _, log = ot.emd(a, b, M, numItermax=5, log=True)
    assert log["result_code"] == 3
    assert "numItermax" in log["warning"]
    assert log["n_iter"] == 5


def test_cost_scaling_and_shift_invariance():
    a, b, M = random_problem(15, 10, seed=6)
    G = ot.emd(a, b, M)
    np.testing.assert_allclose(ot.emd(a, b, 7.5 * M), G, atol=1e-14)
    # Adding row and column constants changes the cost by a.f + b.g only.
    f, g = np.linspace(-1, 1, 15), np.linspace(0, 2, 10)
    shifted = ot.emd2(a, b, M + f[:, None] + g[None, :])
    np.testing.assert_allclose(shifted, ot.emd2(a, b, M) + a @ f + b @ g, rtol=1e-12)


# --- every backend ------------------------------------------------------------------------


def test_emd_on_every_backend(xp, dtype_name):
    a, b, M = random_problem(12, 9, seed=8)
    _, lp_cost = linprog_ot(a, b, M)
    a_x, b_x, M_x = (to_xp(xp, v, dtype_name) for v in (a, b, M))
    G, log = ot.emd(a_x, b_x, M_x, log=True)
    assert_same_backend(G, M_x)
    assert_same_backend(log["u"], M_x)
    assert tuple(G.shape) == (12, 9)
    rtol = rtol_for(dtype_name)
    np.testing.assert_allclose(to_np(G).sum(1), a, rtol=rtol, atol=rtol / 12)
    np.testing.assert_allclose(float(to_np(log["cost"])), lp_cost, rtol=rtol)
    cost = ot.emd2(a_x, b_x, M_x)
    assert_same_backend(cost, M_x)
    assert tuple(cost.shape) == ()
    np.testing.assert_allclose(float(to_np(cost)), lp_cost, rtol=rtol)


def test_emd2_batched_targets_on_every_backend(xp):
    a, b1, M = random_problem(6, 5, seed=1)
    _, b2, _ = random_problem(6, 5, seed=2)
    B = np.stack([b1, b2], axis=1)
    costs = ot.emd2(to_xp(xp, a), to_xp(xp, B), to_xp(xp, M))
    assert isinstance(costs, list) and len(costs) == 2
    for cost in costs:
        assert_same_backend(cost, to_xp(xp, M))
        assert tuple(cost.shape) == ()
    np.testing.assert_allclose([float(to_np(c)) for c in costs], ot.emd2(a, B, M), rtol=1e-13)


def test_numpy_weights_next_to_backend_cost(xp):
    a, b, M = random_problem(6, 5, seed=3)
    M_x = to_xp(xp, M)
    cost = ot.emd2(a, b, M_x)
    assert_same_backend(cost, M_x)
    np.testing.assert_allclose(float(to_np(cost)), ot.emd2(a, b, M), rtol=1e-14)


def test_lists_are_accepted():
    cost = ot.emd2([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]])
    assert cost == 0.0


def test_integer_costs_become_default_float(xp):
    M = to_xp(xp, np.array([[0, 2], [2, 0]]), dtype="int64")
    G = ot.emd(to_xp(xp, [0.5, 0.5]), to_xp(xp, [0.5, 0.5]), M)
    assert G.dtype == xp.float64 or (is_backend(xp, "torch") and G.dtype == xp.float32)
    np.testing.assert_allclose(to_np(G), [[0.5, 0.0], [0.0, 0.5]])


@pytest.mark.parametrize("scale", [1e-8, 1e-3, 1e3, 1e8])
def test_cost_scale_does_not_change_accuracy(scale):
    # Potentials and thresholds are relative to the cost scale: tiny or huge costs are
    # solved to the same relative accuracy.
    a, b, M = random_problem(40, 30, seed=12)
    G, log = ot.emd(a, b, scale * M, log=True)
    np.testing.assert_allclose(G, ot.emd(a, b, M), atol=1e-14)
    np.testing.assert_allclose(log["cost"], scale * linprog_ot(a, b, M)[1], rtol=1e-10)
    assert np.min(scale * M - log["u"][:, None] - log["v"][None, :]) >= -1e-12 * scale
