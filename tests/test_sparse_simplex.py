"""The sparse-arc network simplex (otkit.lp._sparse_simplex, internal): optimal on the
restricted LP (scipy's HiGHS as the oracle, dense emd2 on complete arc sets), duals feasible
on every arc to a few ulps, resumable after arcs are added, INFEASIBLE when the arcs cannot
carry the marginals, and argument checks that name the argument."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import property_settings
from hypothesis import example, given
from hypothesis import strategies as st
from otkit.lp._sparse_simplex import (
    INFEASIBLE,
    MAX_ITER_REACHED,
    OPTIMAL,
    SparseNetworkSimplex,
    network_simplex_sparse,
)
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

import otkit as ot

EPS = np.finfo(np.float64).eps


def sparse_linprog(a, b, rows, cols, costs):
    """Optimal cost of the restricted LP by HiGHS (None if infeasible); costs scaled to
    max |C| = 1 for the solve, as HiGHS's tolerances are absolute."""
    k = rows.size
    if k == 0:
        return None  # positive masses and no arc
    scale = float(np.abs(costs).max()) if k else 1.0
    scale = scale or 1.0
    arcs = np.arange(k)
    row_sums = coo_matrix((np.ones(k), (rows, arcs)), shape=(a.size, k))
    col_sums = coo_matrix((np.ones(k), (cols, arcs)), shape=(b.size, k))
    result = linprog(
        costs / scale,
        A_eq=vstack([row_sums, col_sums]).tocsr(),
        b_eq=np.concatenate([a, b]),
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if result.status == 2:
        return None
    assert result.status == 0, result.message
    return result.fun * scale


def northwest_corner(a, b):
    """Arcs of the northwest-corner plan: a feasible support for (a, b)."""
    rows, cols = [], []
    i = j = 0
    left_a, left_b = a[0], b[0]
    while True:
        rows.append(i)
        cols.append(j)
        if i == a.size - 1 and j == b.size - 1:
            break
        if (left_a <= left_b and i < a.size - 1) or j == b.size - 1:
            left_b -= left_a
            i += 1
            left_a = a[i]
        else:
            left_a -= left_b
            j += 1
            left_b = b[j]
    return np.array(rows), np.array(cols)


def random_problem(seed, n, m, *, density=0.3, weights="random", costs="points"):
    """Weights (zeros allowed), and an arc set: a random subset of the pairs plus a
    feasible support (northwest corner), with their costs."""
    rng = np.random.default_rng(seed)
    if weights == "uniform":
        a, b = np.ones(n), np.ones(m)
    else:
        a, b = rng.random(n), rng.random(m)
        a[rng.random(n) < 0.2] = 0.0
        b[rng.random(m) < 0.2] = 0.0
        a[rng.integers(n)] += 0.5
        b[rng.integers(m)] += 0.5
    a, b = a / a.sum(), b / b.sum()
    if costs == "points":
        C = ((rng.random((n, 1, 2)) - rng.random((1, m, 2))) ** 2).sum(-1)
    else:  # integer costs: many ties and degenerate pivots
        C = rng.integers(0, 3, size=(n, m)).astype(float)
    pick = rng.random((n, m)) < density
    nw_rows, nw_cols = northwest_corner(a, b)
    pick[nw_rows, nw_cols] = True
    rows, cols = np.nonzero(pick)
    order = rng.permutation(rows.size)
    rows, cols = rows[order], cols[order]
    return a, b, rows, cols, C[rows, cols], C


def check_solution(a, b, rows, cols, costs, solver, status, *, reference=None):
    """OPTIMAL, the plan on the arcs with the marginals, duals feasible to a few ulps on
    every arc, centred, tight on the plan, with the optimal cost (HiGHS unless given)."""
    assert status == OPTIMAL
    p_rows, p_cols, flows = solver.plan()
    assert np.all(flows > 0)
    np.testing.assert_allclose(np.bincount(p_rows, flows, a.size), a, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.bincount(p_cols, flows, b.size), b, rtol=0, atol=1e-14)
    arc_set = set(zip(rows.tolist(), cols.tolist()))
    assert set(zip(p_rows.tolist(), p_cols.tolist())) <= arc_set
    u, v = solver.duals()
    reduced = costs - u[rows] - v[cols]
    scale = np.abs(costs) + np.abs(u[rows]) + np.abs(v[cols])
    assert np.all(reduced >= -16 * EPS * scale)
    # Centred (a.u = b.v) up to the rounding of the potentials, and to the spacing of the
    # floats near 0 (costs of 5e-324: the centred duals 2.5e-324 are not representable).
    tiny = (a.size + b.size) * np.finfo(np.float64).smallest_subnormal
    assert abs(a @ u - b @ v) <= 32 * EPS * (a @ np.abs(u) + b @ np.abs(v)) + tiny
    cost_of_plan = float(np.dot(flows, costs_of(rows, cols, costs, p_rows, p_cols)))
    assert solver.cost == pytest.approx(cost_of_plan, rel=1e-13, abs=1e-15)
    # Strong duality: a.u + b.v equals the cost (complementary slackness on the plan).
    assert a @ u + b @ v == pytest.approx(solver.cost, rel=1e-11, abs=1e-13)
    if reference is None:
        reference = sparse_linprog(a, b, rows, cols, costs)
    assert solver.cost == pytest.approx(reference, rel=1e-9, abs=1e-11)


def costs_of(rows, cols, costs, p_rows, p_cols):
    lowest = {}
    for r, c, w in zip(rows.tolist(), cols.tolist(), costs.tolist()):
        lowest[r, c] = min(w, lowest.get((r, c), np.inf))
    return np.array([lowest[r, c] for r, c in zip(p_rows.tolist(), p_cols.tolist())])


def solved(a, b, rows, cols, costs, potentials_init=None, max_iter=10**6):
    solver = SparseNetworkSimplex(a, b, potentials_init)
    solver.add_arcs(rows, cols, costs)
    return solver, solver.solve(max_iter)


@pytest.mark.parametrize(
    "seed, n, m, density, weights, costs",
    [
        (0, 20, 20, 0.3, "uniform", "points"),
        (1, 30, 17, 0.2, "random", "points"),
        (2, 17, 40, 0.4, "random", "points"),
        (3, 25, 25, 0.3, "uniform", "integer"),
        (4, 30, 20, 0.5, "random", "integer"),
        (5, 1, 12, 0.5, "random", "points"),
        (6, 9, 1, 0.5, "random", "integer"),
        (7, 60, 50, 0.1, "random", "points"),
        (8, 40, 40, 0.05, "uniform", "points"),
        (9, 12, 15, 1.0, "random", "integer"),
    ],
)
def test_sparse_matches_highs(seed, n, m, density, weights, costs):
    a, b, rows, cols, arc_costs, _ = random_problem(
        seed, n, m, density=density, weights=weights, costs=costs
    )
    solver, status = solved(a, b, rows, cols, arc_costs)
    check_solution(a, b, rows, cols, arc_costs, solver, status)


@pytest.mark.parametrize("costs", ["points", "integer"])
def test_complete_arc_set_matches_emd2(costs):
    a, b, _, _, _, C = random_problem(11, 45, 35, costs=costs)
    rows, cols = np.nonzero(np.ones_like(C, dtype=bool))
    solver, status = solved(a, b, rows, cols, C.ravel())
    check_solution(a, b, rows, cols, C.ravel(), solver, status, reference=ot.emd2(a, b, C))
    assert solver.cost == pytest.approx(ot.emd2(a, b, C), rel=1e-12)


def test_wide_cost_range_matches_emd2():
    """Arcs of cost 1e15 ("forbidden") next to costs ~1: the symbolic big-M keeps the small
    reduced costs exact."""
    a, b, _, _, _, C = random_problem(12, 30, 30)
    C[np.random.default_rng(12).random(C.shape) < 0.3] = 1e15
    rows, cols = np.nonzero(np.ones_like(C, dtype=bool))
    solver, status = solved(a, b, rows, cols, C.ravel())
    assert status == OPTIMAL
    assert solver.cost == pytest.approx(ot.emd2(a, b, C), rel=1e-12)
    u, v = solver.duals()
    reduced = C - u[:, None] - v[None, :]
    assert np.all(reduced >= -16 * EPS * (np.abs(C) + np.abs(u)[:, None] + np.abs(v)))


def test_resume_equals_solve_from_scratch():
    a, b, rows, cols, costs, _ = random_problem(13, 80, 70, density=0.25)
    half = rows.size // 2
    nw_rows, nw_cols = northwest_corner(a, b)
    C_full = dict(zip(zip(rows.tolist(), cols.tolist()), costs.tolist()))
    first = np.concatenate([np.arange(half)])
    solver = SparseNetworkSimplex(a, b)
    # A feasible first arc set: the northwest corner support plus half of the others.
    nw_costs = np.array([C_full[r, c] for r, c in zip(nw_rows.tolist(), nw_cols.tolist())])
    solver.add_arcs(nw_rows, nw_cols, nw_costs)
    solver.add_arcs(rows[first], cols[first], costs[first])
    assert solver.solve(10**6) == OPTIMAL
    pivots_first = solver.n_pivots
    solver.add_arcs(rows[half:], cols[half:], costs[half:])
    assert solver.n_arcs == nw_rows.size + rows.size
    assert solver.solve(10**6) == OPTIMAL
    scratch, status = solved(a, b, rows, cols, costs)
    assert status == OPTIMAL
    assert solver.cost == pytest.approx(scratch.cost, rel=1e-12)
    check_solution(a, b, rows, cols, costs, solver, OPTIMAL)
    assert solver.n_pivots == pivots_first + solver.n_iter
    assert solver.n_iter < scratch.n_pivots


def test_arc_generation_reaches_the_dense_optimum():
    """The multiscale use: nearest-neighbour arcs, then rounds that add every arc of
    negative reduced cost (on the full matrix) and resume, until none is left."""
    a, rows, cols, C = knn_problem(14, 150, 5)
    solver = SparseNetworkSimplex(a, a)
    solver.add_arcs(rows, cols, C[rows, cols])
    assert solver.solve(10**6) == OPTIMAL
    pivots = [solver.n_iter]
    for _ in range(20):
        u, v = solver.duals()
        new_rows, new_cols = np.nonzero(C - u[:, None] - v[None, :] < -1e-14)
        if new_rows.size == 0:
            break
        solver.add_arcs(new_rows, new_cols, C[new_rows, new_cols])
        assert solver.solve(10**6) == OPTIMAL
        pivots.append(solver.n_iter)
    else:
        pytest.fail("arc generation did not converge")
    assert len(pivots) > 1  # at least one round added arcs
    assert solver.cost == pytest.approx(ot.emd2(a, a, C), rel=1e-12)
    full_rows, full_cols = np.nonzero(np.ones_like(C, dtype=bool))
    scratch, _ = solved(a, a, full_rows, full_cols, C.ravel())
    assert sum(pivots[1:]) < scratch.n_pivots


def knn_problem(seed, n, k):
    """Uniform weights on 2D points, the arcs to each source's k nearest targets plus the
    identity (a feasible support)."""
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, 2)), rng.random((n, 2))
    C = ((x[:, None] - y[None]) ** 2).sum(-1)
    near = np.argsort(C, axis=1)[:, :k]
    rows = np.concatenate([np.repeat(np.arange(n), k), np.arange(n)])
    cols = np.concatenate([near.ravel(), np.arange(n)])
    return np.full(n, 1.0 / n), rows, cols, C


def test_warm_start_from_optimal_duals_saves_pivots():
    a, rows, cols, C = knn_problem(15, 200, 8)
    cold, status = solved(a, a, rows, cols, C[rows, cols])
    assert status == OPTIMAL
    warm, status = solved(a, a, rows, cols, C[rows, cols], potentials_init=cold.duals())
    check_solution(a, a, rows, cols, C[rows, cols], warm, status)
    assert warm.cost == pytest.approx(cold.cost, rel=1e-12)
    assert warm.n_pivots < 0.8 * cold.n_pivots  # 761 vs 1125 pivots
    # A shifted warm start (u - c, v + c) prices every arc alike: the same optimum.
    u, v = cold.duals()
    shifted, _ = solved(a, a, rows, cols, C[rows, cols], potentials_init=(u + 3.0, v - 3.0))
    assert shifted.cost == pytest.approx(cold.cost, rel=1e-12)
    assert shifted.n_pivots == warm.n_pivots


def test_max_iter_then_resume():
    a, b, rows, cols, costs, _ = random_problem(16, 40, 40, density=0.3)
    solver = SparseNetworkSimplex(a, b)
    solver.add_arcs(rows, cols, costs)
    assert solver.solve(5) == MAX_ITER_REACHED
    assert solver.n_iter == 5
    assert solver.solve(10**6) == OPTIMAL
    check_solution(a, b, rows, cols, costs, solver, OPTIMAL)


def test_infeasible_arc_sets():
    a = b = np.array([0.5, 0.5])
    solver = SparseNetworkSimplex(a, b)
    solver.add_arcs([0, 0], [0, 1], [1.0, 2.0])  # source 1 has no arc
    assert solver.solve(100) == INFEASIBLE
    solver.add_arcs([1], [0], [0.5])  # now feasible: resume
    status = solver.solve(100)
    check_solution(
        a, b, np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([1.0, 2.0, 0.5]), solver, status
    )
    assert solver.cost == pytest.approx(0.5 * 2.0 + 0.5 * 0.5)
    # No arcs at all, and a random set whose sink 0 is cut off.
    assert SparseNetworkSimplex(a, b).solve(10) == INFEASIBLE
    a, b, rows, cols, costs, _ = random_problem(17, 20, 20, density=0.5, weights="uniform")
    keep = cols != 0
    _, status = solved(a, b, rows[keep], cols[keep], costs[keep])
    assert status == INFEASIBLE
    # Hall's condition fails on a subset: sources 0, 1 (mass 0.6) reach sink 0 (0.3) only.
    a, b = np.array([0.3, 0.3, 0.4]), np.array([0.3, 0.3, 0.4])
    _, status = solved(a, b, np.array([0, 1, 2, 2, 2]), np.array([0, 0, 0, 1, 2]), np.zeros(5))
    assert status == INFEASIBLE


def test_zero_masses_with_isolated_nodes():
    """Nodes of zero mass without any arc are feasible (they carry nothing)."""
    a, b = np.array([0.5, 0.0, 0.5]), np.array([0.0, 1.0])
    rows, cols, costs = np.array([0, 2]), np.array([1, 1]), np.array([1.0, 3.0])
    solver, status = solved(a, b, rows, cols, costs)
    check_solution(a, b, rows, cols, costs, solver, status)
    assert solver.cost == pytest.approx(2.0)


def test_duplicate_arcs():
    a, b, rows, cols, costs, _ = random_problem(18, 25, 25, density=0.3)
    extra = np.arange(0, rows.size, 3)
    rows2 = np.concatenate([rows, rows[extra], rows[extra]])
    cols2 = np.concatenate([cols, cols[extra], cols[extra]])
    costs2 = np.concatenate([costs, costs[extra], costs[extra] - 0.01])  # exact and cheaper
    solver, status = solved(a, b, rows2, cols2, costs2)
    assert solver.n_arcs == rows2.size
    check_solution(a, b, rows2, cols2, costs2, solver, status)


def test_one_shot_function():
    a, b, rows, cols, costs, _ = random_problem(19, 30, 20)
    *plan, u, v, status, n_iter = network_simplex_sparse(a, b, rows, cols, costs, 10**6)
    solver, _ = solved(a, b, rows, cols, costs)
    assert status == OPTIMAL and n_iter == solver.n_pivots
    for got, expected in zip(plan + [u, v], solver.plan() + solver.duals()):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "rows, cols, costs, match",
    [
        ([0, -1], [0, 1], [1.0, 1.0], "rows"),
        ([0, 3], [0, 1], [1.0, 1.0], "rows"),
        ([0, 1], [0, 2], [1.0, 1.0], "cols"),
        ([0, 1], [0, 1], [1.0, np.nan], "costs"),
        ([0, 1], [0, 1], [1.0, np.inf], "costs"),
        ([0, 1], [0, 1], [1.0], "costs"),
        ([0, 1, 2], [0, 1], [1.0, 1.0], "rows, cols"),
        ([0.0, 1.0], [0, 1], [1.0, 1.0], "rows"),
        ([[0, 1]], [0, 1], [1.0, 1.0], "rows"),
        ([0, 1], [0, 1], [1.0, 2.0**600], "costs"),
    ],
)
def test_add_arcs_rejects_bad_input(rows, cols, costs, match):
    solver = SparseNetworkSimplex(np.full(3, 1 / 3), np.full(2, 0.5))
    with pytest.raises(ValueError, match=match):
        solver.add_arcs(np.asarray(rows), np.asarray(cols), np.asarray(costs))
    assert solver.n_arcs == 0


@pytest.mark.parametrize(
    "a, b, potentials_init, match",
    [
        ([0.5, np.nan], [1.0], None, "a"),
        ([1.0], [-0.5, 1.5], None, "non-negative"),
        ([], [1.0], None, "empty"),
        ([0.0, 0.0], [0.0], None, "positive sum"),
        ([1.0], [1.0], (np.zeros(2), np.zeros(1)), r"potentials_init\[0\]"),
        ([1.0], [1.0], (np.zeros(1), np.array([np.inf])), r"potentials_init\[1\]"),
    ],
)
def test_constructor_rejects_bad_input(a, b, potentials_init, match):
    with pytest.raises(ValueError, match=match):
        SparseNetworkSimplex(
            np.asarray(a, dtype=float), np.asarray(b, dtype=float), potentials_init
        )


def test_solve_rejects_negative_max_iter():
    with pytest.raises(ValueError, match="max_iter"):
        SparseNetworkSimplex(np.ones(1), np.ones(1)).solve(-1)


@st.composite
def small_sparse_problems(draw):
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 6))
    weight = st.floats(0.0, 1.0, allow_nan=False).map(lambda x: x if x > 1e-3 else 0.0)
    a = np.array(draw(st.lists(weight, min_size=n, max_size=n)))
    b = np.array(draw(st.lists(weight, min_size=m, max_size=m)))
    if a.sum() < 0.1 or b.sum() < 0.1:
        a, b = a + 0.1, b + 0.1
    a, b = a / a.sum(), b / b.sum()
    integer = draw(st.booleans())
    cost = st.integers(-2, 2).map(float) if integer else st.floats(-10, 10, allow_nan=False)
    C = np.array(draw(st.lists(cost, min_size=n * m, max_size=n * m))).reshape(n, m)
    pick = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m)))
    pick = pick.reshape(n, m)
    if draw(st.booleans()):  # a feasible support; otherwise any subset (maybe infeasible)
        nw_rows, nw_cols = northwest_corner(a, b)
        pick[nw_rows, nw_cols] = True
    rows, cols = np.nonzero(pick)
    return a, b, rows, cols, C[rows, cols]


@property_settings(60, 600)
@given(small_sparse_problems())
@example(  # a subnormal cost: the centred duals are not representable
    (np.array([1.0]), np.array([1.0]), np.array([0]), np.array([0]), np.array([5e-324]))
)
def test_property_sparse_matches_highs(problem):
    a, b, rows, cols, costs = problem
    solver, status = solved(a, b, rows, cols, costs)
    reference = sparse_linprog(a, b, rows, cols, costs)
    if reference is None:
        assert status == INFEASIBLE
    else:
        check_solution(a, b, rows, cols, costs, solver, status, reference=reference)
