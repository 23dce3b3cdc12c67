"""1D optimal transport (emd_1d, emd2_1d, wasserstein_1d, wasserstein_1d_potentials) against
scipy, the LP solver, closed forms and invariances; every backend; gradients; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from conftest import assert_same_backend, rtol_for, to_np, to_xp
from oracles import linprog_ot

import otkit as ot
from otkit.backend import is_numpy_namespace

METRIC_EXPONENTS = [("sqeuclidean", 1.0, 2.0), ("euclidean", 1.0, 1.0), ("cityblock", 1.0, 1.0)]
METRIC_EXPONENTS += [("minkowski", 1.5, 1.5), ("minkowski", 3.0, 3.0)]


def measures(n, m, seed, *, weights=True, zeros=False, ties=False):
    """Positions and normalised weights of two 1D measures."""
    rng = np.random.default_rng(seed)
    if ties:
        x, y = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, m).astype(float)
    else:
        x, y = rng.normal(size=n), rng.normal(size=m) + 0.5
    if not weights:
        return x, y, np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
    if zeros:
        a[rng.random(n) < 0.3] = 0.0
        b[rng.random(m) < 0.3] = 0.0
        a[0] = b[-1] = 1.0  # keep a positive mass
    return x, y, a / a.sum(), b / b.sum()


def cost_matrix(x, y, q):
    return np.abs(x[:, None] - y[None, :]) ** q


# --- oracles (NumPy) ---------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("sizes", [(1, 1), (1, 9), (40, 40), (300, 170)])
def test_wasserstein_1d_p1_matches_scipy(sizes, weights):
    x, y, a, b = measures(*sizes, seed=sum(sizes), weights=weights)
    expected = scipy.stats.wasserstein_distance(x, y, a, b)
    np.testing.assert_allclose(ot.wasserstein_1d(x, y, a, b, p=1), expected, rtol=1e-12)


def test_wasserstein_1d_matches_scipy_nd_in_dimension_one():
    x, y, a, b = measures(25, 18, seed=3)
    expected = scipy.stats.wasserstein_distance_nd(x[:, None], y[:, None], a, b)
    np.testing.assert_allclose(ot.wasserstein_1d(x, y, a, b), expected, rtol=1e-9)


@pytest.mark.parametrize("metric, p, q", METRIC_EXPONENTS)
@pytest.mark.parametrize("kind", ["random", "zeros", "ties", "uniform"])
def test_emd2_1d_equals_the_lp_cost(metric, p, q, kind):
    x, y, a, b = measures(
        9, 13, seed=len(kind), weights=kind != "uniform", zeros=kind == "zeros", ties=kind == "ties"
    )
    M = cost_matrix(x, y, q)
    expected = ot.emd2(a, b, M)
    np.testing.assert_allclose(ot.emd2_1d(x, y, a, b, metric=metric, p=p), expected, rtol=1e-12)
    np.testing.assert_allclose(ot.wasserstein_1d(x, y, a, b, p=q), expected, rtol=1e-12)


@pytest.mark.parametrize("metric, p, q", [m for m in METRIC_EXPONENTS if m[2] > 1])
def test_emd_1d_plan_equals_emd_plan(metric, p, q):
    # A strictly convex cost between distinct points has a unique optimal plan.
    x, y, a, b = measures(12, 8, seed=5)
    M = cost_matrix(x, y, q)
    np.testing.assert_allclose(
        ot.emd_1d(x, y, a, b, metric=metric, p=p), ot.emd(a, b, M), atol=1e-15
    )


@pytest.mark.parametrize("kind", ["random", "zeros", "ties"])
def test_emd_1d_plan_is_feasible_and_optimal(kind):
    x, y, a, b = measures(15, 11, seed=7, zeros=kind == "zeros", ties=kind == "ties")
    G, log = ot.emd_1d(x, y, a, b, metric="euclidean", log=True)
    M = cost_matrix(x, y, 1.0)
    assert G.min() >= 0.0
    np.testing.assert_allclose(G.sum(axis=1), a, atol=1e-15)
    np.testing.assert_allclose(G.sum(axis=0), b, atol=1e-15)
    _, lp_cost = linprog_ot(a, b, M)
    np.testing.assert_allclose(np.sum(G * M), lp_cost, rtol=1e-9)
    np.testing.assert_allclose(log["cost"], np.sum(G * M), rtol=1e-13)


@pytest.mark.parametrize("kind", ["random", "zeros", "ties", "uniform"])
@pytest.mark.parametrize("q", [1.0, 2.0, 2.5])
def test_potentials_are_feasible_complementary_and_optimal(kind, q):
    x, y, a, b = measures(
        14, 9, seed=11, weights=kind != "uniform", zeros=kind == "zeros", ties=kind == "ties"
    )
    M = cost_matrix(x, y, q)
    f, g = ot.wasserstein_1d_potentials(x, y, a, b, p=q)
    scale = M.max()
    reduced = M - f[:, None] - g[None, :]
    assert reduced.min() >= -1e-12 * scale  # feasible, also at zero-weight points
    G = ot.emd_1d(x, y, a, b, metric="minkowski", p=q)
    assert np.abs(reduced[G > 0]).max() <= 1e-12 * scale  # complementary slackness
    np.testing.assert_allclose(a @ f + b @ g, ot.emd2(a, b, M), rtol=1e-12)  # no duality gap
    np.testing.assert_allclose(a @ f, b @ g, rtol=1e-12, atol=1e-15)  # the centring


def test_emd_1d_log_potentials_match_wasserstein_1d_potentials():
    x, y, a, b = measures(10, 7, seed=2)
    _, log = ot.emd_1d(x, y, a, b, log=True)
    f, g = ot.wasserstein_1d_potentials(x, y, a, b, p=2)
    np.testing.assert_allclose(log["u"], f, atol=1e-14)
    np.testing.assert_allclose(log["v"], g, atol=1e-14)


def test_sparse_plan_equals_dense_plan():
    x, y, a, b = measures(30, 20, seed=4, zeros=True)
    sparse = ot.emd_1d(x, y, a, b, dense=False)
    assert sparse.format == "coo" and sparse.nnz <= 30 + 20 - 1
    np.testing.assert_allclose(sparse.toarray(), ot.emd_1d(x, y, a, b), atol=1e-15)


def test_emd2_1d_log_has_the_plan():
    x, y, a, b = measures(6, 5, seed=9)
    cost, log = ot.emd2_1d(x, y, a, b, log=True)
    np.testing.assert_allclose(log["G"], ot.emd_1d(x, y, a, b), atol=1e-15)
    np.testing.assert_allclose(a @ log["u"] + b @ log["v"], cost, rtol=1e-12)
    _, log = ot.emd2_1d(x, y, a, b, log=True, dense=False)
    np.testing.assert_allclose(log["G"].toarray(), ot.emd_1d(x, y, a, b), atol=1e-15)


def test_column_vectors_are_accepted():
    x, y, a, b = measures(7, 4, seed=1)
    np.testing.assert_allclose(
        ot.emd2_1d(x[:, None], y[:, None], a, b), ot.emd2_1d(x, y, a, b), rtol=1e-15
    )


def test_pot_docstring_example():
    np.testing.assert_allclose(ot.emd_1d([2.0, 0.0], [0.0, 3.0]), [[0.0, 0.5], [0.5, 0.0]])
    assert ot.emd2_1d([2.0, 0.0], [0.0, 3.0]) == 0.5


def test_gaussian_closed_form_on_equal_quantile_grids():
    # N(m, s^2) sampled at the midpoints z_k of n quantile cells: the grids are symmetric,
    # so W_2^2 = (m1 - m2)^2 + (s1 - s2)^2 mean(z^2) exactly.
    n = 1001
    z = scipy.stats.norm.ppf((np.arange(n) + 0.5) / n)
    m1, s1, m2, s2 = 0.3, 1.2, -0.5, 0.7
    expected = (m1 - m2) ** 2 + (s1 - s2) ** 2 * np.mean(z**2)
    rng = np.random.default_rng(0)
    x, y = rng.permutation(m1 + s1 * z), rng.permutation(m2 + s2 * z)
    np.testing.assert_allclose(ot.wasserstein_1d(x, y, p=2), expected, rtol=1e-12)


def test_gaussian_closed_form_on_unequal_quantile_grids():
    m1, s1, m2, s2 = 0.3, 1.2, -0.5, 0.7
    n, m = 2000, 3001
    x = m1 + s1 * scipy.stats.norm.ppf((np.arange(n) + 0.5) / n)
    y = m2 + s2 * scipy.stats.norm.ppf((np.arange(m) + 0.5) / m)
    closed_form = (m1 - m2) ** 2 + (s1 - s2) ** 2
    # The coarser grid misses the fraction 1 - mean(z^2) of the variance; allow that deficit
    # twice (once for each grid) on the (s1 - s2)^2 term.
    z = scipy.stats.norm.ppf((np.arange(n) + 0.5) / n)
    tolerance = 2 * (s1 - s2) ** 2 * (1 - np.mean(z**2))
    assert abs(ot.wasserstein_1d(x, y, p=2) - closed_form) <= tolerance


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(9, 4, 2)), rng.normal(size=(6, 4, 2))
    A, B = rng.random((9, 4, 2)), rng.random((6, 4, 2))
    A, B = A / A.sum(0), B / B.sum(0)
    batched = ot.wasserstein_1d(X, Y, A, B, p=2)
    assert batched.shape == (4, 2)
    for i in range(4):
        for j in range(2):
            expected = ot.wasserstein_1d(X[:, i, j], Y[:, i, j], A[:, i, j], B[:, i, j], p=2)
            np.testing.assert_allclose(batched[i, j], expected, rtol=1e-13)
    shared = ot.wasserstein_1d(X, Y, A[:, 0, 0], B[:, 0, 0], p=2)
    expected = ot.wasserstein_1d(X[:, 1, 1], Y[:, 1, 1], A[:, 0, 0], B[:, 0, 0], p=2)
    np.testing.assert_allclose(shared[1, 1], expected, rtol=1e-13)
    f, g = ot.wasserstein_1d_potentials(X, Y, A, B, p=2)
    assert f.shape == X.shape and g.shape == Y.shape
    np.testing.assert_allclose(np.sum(A * f, 0) + np.sum(B * g, 0), batched, rtol=1e-12)


@pytest.mark.parametrize("weights", [False, True])
def test_require_sort_false_on_sorted_input(weights):
    x, y, a, b = measures(20, 13, seed=8, weights=weights)
    ix, iy = np.argsort(x), np.argsort(y)
    np.testing.assert_allclose(
        ot.wasserstein_1d(x[ix], y[iy], a[ix], b[iy], p=2, require_sort=False),
        ot.wasserstein_1d(x, y, a, b, p=2),
        rtol=1e-14,
    )


def test_symmetry_translation_and_scaling():
    x, y, a, b = measures(17, 12, seed=6)
    value = ot.wasserstein_1d(x, y, a, b, p=3)
    np.testing.assert_allclose(ot.wasserstein_1d(y, x, b, a, p=3), value, rtol=1e-13)
    np.testing.assert_allclose(ot.wasserstein_1d(x + 4.0, y + 4.0, a, b, p=3), value, rtol=1e-12)
    np.testing.assert_allclose(ot.wasserstein_1d(2 * x, 2 * y, a, b, p=3), 8 * value, rtol=1e-12)
    np.testing.assert_allclose(ot.wasserstein_1d(x, y, 2 * a, 2 * b, p=3), 2 * value, rtol=1e-12)


def test_numpy_results_are_scalars():
    x, y, a, b = measures(5, 4, seed=0)
    assert isinstance(ot.wasserstein_1d(x, y), np.float64)
    assert isinstance(ot.emd2_1d(x, y, a, b), np.float64)


# --- property test ------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


@st.composite
def small_measures(draw):
    n, m = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    weight = st.floats(0.0, 1.0).map(lambda w: w if w > 1e-3 else 0.0)
    a = draw(arrays(np.float64, n, elements=weight).filter(lambda w: w.sum() > 0.1))
    b = draw(arrays(np.float64, m, elements=weight).filter(lambda w: w.sum() > 0.1))
    position = st.one_of(st.integers(-3, 3).map(float), st.floats(-10, 10))
    x = draw(arrays(np.float64, n, elements=position))
    y = draw(arrays(np.float64, m, elements=position))
    q = draw(st.sampled_from([1.0, 2.0, 1.5]))
    return x, y, a / a.sum(), b / b.sum(), q


@settings(max_examples=100, deadline=None)
@given(small_measures())
def test_property_matches_lp_with_feasible_potentials(problem):
    x, y, a, b, q = problem
    M = cost_matrix(x, y, q)
    scale = max(M.max(), 1.0)
    value = ot.wasserstein_1d(x, y, a, b, p=q)
    assert abs(value - ot.emd2(a, b, M)) <= 1e-12 * scale
    G = ot.emd_1d(x, y, a, b, metric="minkowski", p=q)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-14)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-14)
    f, g = ot.wasserstein_1d_potentials(x, y, a, b, p=q)
    assert (M - f[:, None] - g[None, :]).min() >= -1e-12 * scale
    assert abs(a @ f + b @ g - value) <= 1e-12 * scale


# --- every backend --------------------------------------------------------------------------------
# Eager JAX compiles every operation once per shape and dtype: the backend tests share one
# problem size, N x M, so that they reuse each other's compiled operations.

N, M = 9, 6


def test_wasserstein_1d_on_every_backend(xp, dtype_name):
    x, y, a, b = measures(N, M, seed=1)
    expected = ot.emd2(a, b, cost_matrix(x, y, 2.0))
    x_x, y_x, a_x, b_x = (to_xp(xp, v, dtype_name) for v in (x, y, a, b))
    value = ot.wasserstein_1d(x_x, y_x, a_x, b_x, p=2)
    assert_same_backend(value, x_x)
    assert tuple(value.shape) == ()
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=rtol_for(dtype_name))


def test_uniform_wasserstein_1d_on_every_backend(xp, dtype_name):
    x, y, _, _ = measures(N, N, seed=2, weights=False)
    expected = scipy.stats.wasserstein_distance(x, y)
    x_x, y_x = to_xp(xp, x, dtype_name), to_xp(xp, y, dtype_name)
    value = ot.wasserstein_1d(x_x, y_x)
    assert_same_backend(value, x_x)
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=rtol_for(dtype_name))


def test_batched_wasserstein_1d_on_every_backend(xp):
    rng = np.random.default_rng(4)
    X, Y, A = rng.normal(size=(N, 3)), rng.normal(size=(M, 3)), rng.random((N, 3))
    A = A / A.sum(0)
    value = ot.wasserstein_1d(to_xp(xp, X), to_xp(xp, Y), to_xp(xp, A), None, p=1.5)
    assert tuple(value.shape) == (3,)
    np.testing.assert_allclose(to_np(value), ot.wasserstein_1d(X, Y, A, None, p=1.5), rtol=1e-13)


def test_emd_1d_on_every_backend(xp, dtype_name):
    x, y, a, b = measures(N, M, seed=3)
    x_x, y_x, a_x, b_x = (to_xp(xp, v, dtype_name) for v in (x, y, a, b))
    G, log = ot.emd_1d(x_x, y_x, a_x, b_x, log=True)
    assert_same_backend(G, x_x)
    assert_same_backend(log["u"], x_x)
    assert tuple(G.shape) == (N, M)
    rtol = rtol_for(dtype_name)
    np.testing.assert_allclose(to_np(G), ot.emd_1d(x, y, a, b), atol=rtol)
    np.testing.assert_allclose(float(to_np(log["cost"])), ot.emd2_1d(x, y, a, b), rtol=rtol)


def test_sparse_emd_1d_on_every_backend(xp):
    x, y, a, b = measures(N, M, seed=3)
    plan = ot.emd_1d(to_xp(xp, x), to_xp(xp, y), to_xp(xp, a), to_xp(xp, b), dense=False)
    dense = np.zeros((N, M))
    if is_numpy_namespace(xp):
        dense = plan.toarray()
    else:
        assert isinstance(plan, ot.SparsePlan) and plan.shape == (N, M)
        assert tuple(plan.data.shape) == (N + M - 1,)  # static: zero-mass cells are kept
        rows, cols = to_np(plan.rows).astype(int), to_np(plan.cols).astype(int)
        np.add.at(dense, (rows, cols), to_np(plan.data))
    np.testing.assert_allclose(dense, ot.emd_1d(x, y, a, b), atol=1e-15)


def test_emd2_1d_on_every_backend(xp, dtype_name):
    x, y, a, b = measures(N, M, seed=5)
    x_x, y_x, a_x, b_x = (to_xp(xp, v, dtype_name) for v in (x, y, a, b))
    cost = ot.emd2_1d(x_x, y_x, a_x, b_x, metric="minkowski", p=1.5)
    assert_same_backend(cost, x_x)
    expected = ot.emd2(a, b, cost_matrix(x, y, 1.5))
    np.testing.assert_allclose(float(to_np(cost)), expected, rtol=rtol_for(dtype_name))


def test_potentials_on_every_backend(xp):
    x, y, a, b = measures(N, M, seed=6)
    f, g = ot.wasserstein_1d_potentials(*(to_xp(xp, v) for v in (x, y, a, b)), p=2)
    assert_same_backend(f, to_xp(xp, x))
    f_np, g_np = ot.wasserstein_1d_potentials(x, y, a, b, p=2)
    np.testing.assert_allclose(to_np(f), f_np, atol=1e-13)
    np.testing.assert_allclose(to_np(g), g_np, atol=1e-13)


def test_numpy_weights_next_to_backend_positions(xp):
    x, y, a, b = measures(N, M, seed=3)
    x_x = to_xp(xp, x)
    value = ot.wasserstein_1d(x_x, to_xp(xp, y), a, b, p=2)
    assert_same_backend(value, x_x)
    np.testing.assert_allclose(float(to_np(value)), ot.emd2_1d(x, y, a, b), rtol=1e-14)


def test_integer_positions_become_default_float(xp):
    x = to_xp(xp, np.arange(N) * 2, dtype="int64")
    y = to_xp(xp, np.arange(N) + 1, dtype="int64")
    value = ot.wasserstein_1d(x, y)
    default = xp.__array_namespace_info__().default_dtypes()["real floating"]
    assert value.dtype == default
    np.testing.assert_allclose(float(to_np(value)), np.mean(np.abs(np.arange(N) - 1)))


# --- gradients --------------------------------------------------------------------------------
# W_p^p is differentiable in the positions wherever the optimal coupling is locally constant
# (distinct positions, generic weights), and piecewise linear in the weights: small central
# differences along mass-preserving directions are then exact up to rounding.

STEP = 1e-6


def _mass_preserving(size, seed):
    direction = np.random.default_rng(seed).normal(size=size)
    return direction - direction.mean()


def _central_difference(f, x, direction, step=STEP):
    return (f(x + step * direction) - f(x - step * direction)) / (2 * step)


class TestTorchGradients:
    torch = pytest.importorskip("torch")

    @pytest.mark.parametrize("p", [1.0, 2.0, 1.5])
    def test_gradcheck_positions(self, p):
        torch = self.torch
        x, y, a, b = (torch.tensor(v) for v in measures(8, 6, seed=1))
        x.requires_grad_(True)
        y.requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda x, y: ot.wasserstein_1d(x, y, a, b, p=p), (x, y), eps=STEP, atol=1e-7
        )

    def test_gradcheck_emd2_1d_uniform(self):
        torch = self.torch
        x, y, _, _ = measures(7, 7, seed=2, weights=False)
        x = torch.tensor(x, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda x: ot.emd2_1d(x, torch.tensor(y)), (x,), eps=STEP, atol=1e-7
        )

    def test_weight_gradients_are_those_of_emd2(self):
        torch = self.torch
        x, y, a, b = measures(9, 7, seed=3)
        a_t, b_t = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ot.emd2_1d(torch.tensor(x), torch.tensor(y), a_t, b_t).backward()
        M = torch.tensor(cost_matrix(x, y, 2.0))
        a_ref, b_ref = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ot.emd2(a_ref, b_ref, M).backward()
        np.testing.assert_allclose(a_t.grad.numpy(), a_ref.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(b_t.grad.numpy(), b_ref.grad.numpy(), atol=1e-12)

    def test_weight_gradient_matches_finite_differences(self):
        torch = self.torch
        x, y, a, b = measures(9, 7, seed=4)
        a_t = torch.tensor(a, requires_grad=True)
        ot.wasserstein_1d(torch.tensor(x), torch.tensor(y), a_t, torch.tensor(b), p=2).backward()
        direction = _mass_preserving(a.size, 5)
        fd = _central_difference(lambda w: ot.wasserstein_1d(x, y, w, b, p=2), a, direction)
        np.testing.assert_allclose(direction @ a_t.grad.numpy(), fd, rtol=1e-6)

    def test_float32_gradient_keeps_dtype_and_device(self):
        torch = self.torch
        x, y, _, _ = measures(6, 4, seed=6)
        x_t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        ot.wasserstein_1d(x_t, torch.tensor(y, dtype=torch.float32), p=2).backward()
        assert x_t.grad.dtype == torch.float32 and x_t.grad.device == x_t.device


class TestJax:
    jax = pytest.importorskip("jax")

    @pytest.fixture(autouse=True)
    def _x64(self):
        self.jax.config.update("jax_enable_x64", True)

    def test_grad_positions_matches_finite_differences(self):
        jnp = self.jax.numpy
        x, y, a, b = measures(N, M, seed=7)
        grad = self.jax.grad(lambda x: ot.wasserstein_1d(x, jnp.asarray(y), a, b, p=2))
        direction = np.random.default_rng(8).normal(size=x.size)
        fd = _central_difference(lambda z: ot.wasserstein_1d(z, y, a, b, p=2), x, direction)
        np.testing.assert_allclose(direction @ np.asarray(grad(jnp.asarray(x))), fd, rtol=1e-6)

    def test_grad_weights_is_centred_potential(self):
        jax, jnp = self.jax, self.jax.numpy
        x, y, a, b = measures(N, M, seed=9)
        grad_a, grad_b = jax.jit(
            jax.grad(lambda a, b: ot.emd2_1d(jnp.asarray(x), jnp.asarray(y), a, b), argnums=(0, 1))
        )(jnp.asarray(a), jnp.asarray(b))
        f, g = ot.wasserstein_1d_potentials(x, y, a, b, p=2)
        np.testing.assert_allclose(np.asarray(grad_a), f - f.mean(), atol=1e-12)
        np.testing.assert_allclose(np.asarray(grad_b), g - g.mean(), atol=1e-12)

    def test_jit_value_and_grad(self):
        jax, jnp = self.jax, self.jax.numpy
        x, y, a, b = measures(N, M, seed=10)
        args = tuple(jnp.asarray(v) for v in (x, y, a, b))
        value = jax.jit(lambda *v: ot.wasserstein_1d(*v, p=2))(*args)
        np.testing.assert_allclose(float(value), ot.wasserstein_1d(x, y, a, b, p=2), rtol=1e-14)
        grad_x = jax.jit(jax.grad(lambda *v: ot.wasserstein_1d(*v, p=2)))(*args)
        expected = 2 * ot.emd_1d(x, y, a, b) @ np.ones(M) * x - 2 * ot.emd_1d(x, y, a, b) @ y
        np.testing.assert_allclose(np.asarray(grad_x), expected, atol=1e-14)

    def test_jit_emd_1d_and_emd2_1d(self):
        jax, jnp = self.jax, self.jax.numpy
        x, y, a, b = measures(N, M, seed=11)
        args = tuple(jnp.asarray(v) for v in (x, y, a, b))
        np.testing.assert_allclose(
            np.asarray(jax.jit(ot.emd_1d)(*args)), ot.emd_1d(x, y, a, b), atol=1e-15
        )
        np.testing.assert_allclose(
            float(jax.jit(ot.emd2_1d)(*args)), ot.emd2_1d(x, y, a, b), rtol=1e-14
        )

    def test_vmap_value_and_grad(self):
        jax, jnp = self.jax, self.jax.numpy
        rng = np.random.default_rng(12)
        X, Y = rng.normal(size=(5, N)), rng.normal(size=(5, M))
        f = lambda x, y: ot.wasserstein_1d(x, y, p=2)
        values = jax.jit(jax.vmap(f))(jnp.asarray(X), jnp.asarray(Y))
        expected = [ot.wasserstein_1d(x, y, p=2) for x, y in zip(X, Y)]
        np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-13)
        grads = jax.jit(jax.vmap(jax.grad(f)))(jnp.asarray(X), jnp.asarray(Y))
        single = jax.jit(jax.grad(f))(jnp.asarray(X[3]), jnp.asarray(Y[3]))
        np.testing.assert_allclose(np.asarray(grads[3]), np.asarray(single), atol=1e-15)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("position", [0, 1])
def test_non_finite_positions(xp, bad, position):
    x, y, _, _ = measures(N, M, seed=0)
    values = [x.copy(), y.copy()]
    values[position][2] = bad
    with pytest.raises(ValueError, match=f"^{('x_a', 'x_b')[position]} contains 1 NaN or inf"):
        ot.emd2_1d(to_xp(xp, values[0]), to_xp(xp, values[1]))
    name = ("u_values", "v_values")[position]
    with pytest.raises(ValueError, match=f"^{name} contains 1 NaN"):
        ot.wasserstein_1d(to_xp(xp, values[0]), to_xp(xp, values[1]))


@pytest.mark.parametrize("solver", [ot.emd_1d, ot.emd2_1d])
@pytest.mark.parametrize("name", ["a", "b"])
def test_negative_weights(xp, solver, name):
    x, y, a, b = measures(N, M, seed=0)
    weights = {"a": a.copy(), "b": b.copy()}
    weights[name][0] = -0.1
    weights[name][1] += 0.1
    with pytest.raises(ValueError, match=f"^{name} has negative entries"):
        solver(to_xp(xp, x), to_xp(xp, y), to_xp(xp, weights["a"]), to_xp(xp, weights["b"]))


def test_nan_and_zero_weights():
    x, y, a, b = measures(N, M, seed=0)
    with pytest.raises(ValueError, match="^u_weights contains 1 NaN"):
        ot.wasserstein_1d(x, y, np.where(np.arange(N) == 1, np.nan, a), b)
    with pytest.raises(ValueError, match="^v_weights sums to zero"):
        ot.wasserstein_1d(x, y, None, np.zeros(M))


@pytest.mark.parametrize("solver", [ot.emd_1d, ot.emd2_1d])
def test_mismatched_mass(xp, solver):
    x, y, a, b = measures(N, M, seed=0)
    with pytest.raises(ValueError, match="a and b must have the same total mass"):
        solver(to_xp(xp, x), to_xp(xp, y), to_xp(xp, a), to_xp(xp, 2 * b))
    with pytest.raises(ValueError, match="u_weights and v_weights must have the same total mass"):
        ot.wasserstein_1d(to_xp(xp, x), to_xp(xp, y), to_xp(xp, a), to_xp(xp, 2 * b))


def test_check_marginals_false_rescales_b():
    x, y, a, b = measures(N, M, seed=0)
    np.testing.assert_allclose(
        ot.emd2_1d(x, y, a, 3 * b, check_marginals=False), ot.emd2_1d(x, y, a, b), rtol=1e-14
    )
    np.testing.assert_allclose(
        ot.emd_1d(x, y, a, 3 * b, check_marginals=False), ot.emd_1d(x, y, a, b), atol=1e-16
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ot.emd_1d([], [1.0]), r"x_a is empty"),
        (lambda: ot.emd2_1d([1.0], np.zeros((0, 1))), r"x_b is empty"),
        (lambda: ot.wasserstein_1d(np.zeros((0, 3)), np.ones((2, 3))), r"u_values is empty"),
        (
            lambda: ot.emd_1d(np.ones((3, 2)), [1.0]),
            r"x_a must be a 1-D array or of shape \(n, 1\)",
        ),
        (lambda: ot.emd_1d([1.0, 2.0], [1.0], a=[1.0]), r"a.shape == \(1,\), expected \(2,\)"),
        (
            lambda: ot.wasserstein_1d(np.ones((3, 2)), np.ones((4, 3))),
            r"batch dimensions after the first must agree",
        ),
        (
            lambda: ot.wasserstein_1d(np.ones((3, 2)), np.ones((4, 2)), np.ones((3, 3)) / 3),
            r"u_weights.shape == \(3, 3\), expected \(3,\) or \(3, 2\)",
        ),
        (lambda: ot.wasserstein_1d(1.0, [1.0]), r"u_values must have at least one dimension"),
        (lambda: ot.emd_1d([1.0], [1.0], metric="cosine"), r"metric must be one of"),
        (
            lambda: ot.emd_1d([1.0], [1.0], metric="minkowski", p=0.5),
            r"p must be a finite real number >= 1",
        ),
        (lambda: ot.wasserstein_1d([1.0], [1.0], p=np.inf), r"p must be a finite real number >= 1"),
        (
            lambda: ot.wasserstein_1d([2.0, 1.0], [1.0], require_sort=False),
            r"u_values must be sorted in increasing order",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_exponent_of_wrong_type():
    with pytest.raises(TypeError, match="p must be a real number"):
        ot.wasserstein_1d([1.0], [1.0], p="two")


def test_shape_checks_run_under_jax_jit():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    with pytest.raises(ValueError, match="batch dimensions after the first must agree"):
        jax.jit(ot.wasserstein_1d)(jnp.ones((3, 2)), jnp.ones((4, 3)))
