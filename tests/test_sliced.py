"""Sliced and max-sliced Wasserstein distances: against the LP on every projection, the 1D
distance, scipy, invariances; seeds; every backend; gradients; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from conftest import assert_same_backend, rtol_for, to_np, to_xp

import otkit as ot

# Eager JAX compiles every operation once per shape: the backend tests share these sizes.
N, M, D, L = 12, 10, 3, 8


def clouds(n=N, m=M, d=D, seed=0, weights=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(m, d)) * 0.8 + 0.5
    if not weights:
        return X, Y, None, None
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    return X, Y, a / a.sum(), b / b.sum()


def rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def projected_lp_costs(X, Y, a, b, theta, p):
    """W_p^p along each column of theta, by the LP solver on the projected points."""
    a = np.full(len(X), 1 / len(X)) if a is None else a
    b = np.full(len(Y), 1 / len(Y)) if b is None else b
    costs = []
    for direction in theta.T:
        x, y = X @ direction, Y @ direction
        costs.append(ot.emd2(a, b, np.abs(x[:, None] - y[None, :]) ** p))
    return np.array(costs)


# --- sliced: oracles (NumPy) -------------------------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("weights", [False, True])
def test_sliced_matches_the_lp_on_every_projection(p, weights):
    X, Y, a, b = clouds(15, 11, seed=1, weights=weights)
    value, log = ot.sliced_wasserstein_distance(X, Y, a, b, n_projections=20, p=p, seed=3, log=True)
    expected = projected_lp_costs(X, Y, a, b, log["projections"], p)
    np.testing.assert_allclose(log["projected_emds"], expected, rtol=1e-10)
    np.testing.assert_allclose(value, np.mean(expected) ** (1 / p), rtol=1e-10)


def test_sliced_with_equal_sizes_matches_the_lp():
    X, Y, _, _ = clouds(14, 14, seed=2)
    _, log = ot.sliced_wasserstein_distance(X, Y, n_projections=10, seed=1, log=True)
    expected = projected_lp_costs(X, Y, None, None, log["projections"], 2.0)
    np.testing.assert_allclose(log["projected_emds"], expected, rtol=1e-10)


def test_sliced_of_a_cloud_with_itself_is_zero():
    X, _, _, _ = clouds(seed=3)
    assert ot.sliced_wasserstein_distance(X, X, seed=0) == 0.0
    a = np.random.default_rng(0).random(N)
    assert ot.sliced_wasserstein_distance(X, X, a, a, seed=0) == 0.0


@pytest.mark.parametrize("p", [1.0, 2.0])
@pytest.mark.parametrize("weights", [False, True])
def test_sliced_in_dimension_one_is_the_wasserstein_distance(p, weights):
    X, Y, a, b = clouds(13, 9, d=1, seed=4, weights=weights)
    expected = ot.wasserstein_1d(X[:, 0], Y[:, 0], a, b, p=p) ** (1 / p)
    np.testing.assert_allclose(
        ot.sliced_wasserstein_distance(X, Y, a, b, p=p, n_projections=3, seed=0),
        expected,
        rtol=1e-13,
    )


def test_sliced_p1_in_dimension_one_matches_scipy_nd():
    X, Y, a, b = clouds(13, 9, d=1, seed=5, weights=True)
    expected = scipy.stats.wasserstein_distance_nd(X, Y, a, b)
    np.testing.assert_allclose(
        ot.sliced_wasserstein_distance(X, Y, a, b, p=1, seed=0), expected, rtol=1e-9
    )


def test_rotating_clouds_and_projections_together_changes_nothing():
    X, Y, a, b = clouds(seed=6, weights=True)
    R = rotation(D, 0)
    theta = ot.sliced_wasserstein_distance(X, Y, n_projections=L, seed=1, log=True)[1][
        "projections"
    ]
    np.testing.assert_allclose(
        ot.sliced_wasserstein_distance(X @ R.T, Y @ R.T, a, b, projections=R @ theta),
        ot.sliced_wasserstein_distance(X, Y, a, b, projections=theta),
        rtol=1e-12,
    )


def test_rotation_invariance_in_expectation():
    # With a common rotation the Monte Carlo estimates of SW_2^2 use independent-looking
    # directions; they agree within the Monte Carlo error (4 standard errors).
    X, Y, _, _ = clouds(60, 50, d=4, seed=7)
    R = rotation(4, 1)
    n_projections = 2000
    _, log = ot.sliced_wasserstein_distance(X, Y, n_projections=n_projections, seed=2, log=True)
    _, log_r = ot.sliced_wasserstein_distance(
        X @ R.T, Y @ R.T, n_projections=n_projections, seed=3, log=True
    )
    costs, costs_r = log["projected_emds"], log_r["projected_emds"]
    standard_error = np.sqrt((costs.var() + costs_r.var()) / n_projections)
    assert abs(costs.mean() - costs_r.mean()) <= 4 * standard_error


def test_sliced_converges_to_the_closed_form_for_a_translation():
    # For Y = X + t, every projection moves by <theta, t>: SW_2^2 = E<theta, t>^2 = |t|^2 / d.
    X, _, _, _ = clouds(50, d=D, seed=8)
    t = np.array([1.0, -2.0, 0.5])
    _, log = ot.sliced_wasserstein_distance(X, X + t, n_projections=4000, seed=4, log=True)
    costs = log["projected_emds"]
    np.testing.assert_allclose(costs, (log["projections"].T @ t) ** 2, rtol=1e-10, atol=1e-14)
    assert abs(costs.mean() - t @ t / D) <= 4 * costs.std() / np.sqrt(costs.size)


def test_log_has_the_projections_and_projected_costs():
    X, Y, _, _ = clouds(seed=9)
    value, log = ot.sliced_wasserstein_distance(X, Y, n_projections=L, seed=0, log=True)
    assert set(log) == {"projections", "projected_emds"}
    assert log["projections"].shape == (D, L) and log["projected_emds"].shape == (L,)
    np.testing.assert_allclose(np.linalg.norm(log["projections"], axis=0), 1.0, rtol=1e-15)
    np.testing.assert_allclose(value, np.sqrt(log["projected_emds"].mean()), rtol=1e-15)


def test_given_projections_are_used_as_they_are():
    X, Y, _, _ = clouds(seed=10)
    theta = np.eye(D)[:, :2] * 2.0
    _, log = ot.sliced_wasserstein_distance(X, Y, projections=theta, seed=123, log=True)
    np.testing.assert_array_equal(log["projections"], theta)
    expected = projected_lp_costs(X, Y, None, None, theta, 2.0)
    np.testing.assert_allclose(log["projected_emds"], expected, rtol=1e-10)


def test_seeds_are_reproducible_and_leave_the_global_state_alone():
    X, Y, _, _ = clouds(seed=11)
    state = np.random.get_state()[1].copy()
    first = ot.sliced_wasserstein_distance(X, Y, seed=5, log=True)[1]["projections"]
    again = ot.sliced_wasserstein_distance(X, Y, seed=5, log=True)[1]["projections"]
    # An int seed is POT's: the stream of numpy.random.RandomState(seed).
    legacy = ot.sliced_wasserstein_distance(X, Y, seed=np.random.RandomState(5), log=True)[1][
        "projections"
    ]
    generators = [
        ot.sliced_wasserstein_distance(X, Y, seed=np.random.default_rng(5), log=True)[1][
            "projections"
        ]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, legacy)
    np.testing.assert_array_equal(generators[0], generators[1])
    fresh = ot.sliced_wasserstein_distance(X, Y, log=True)[1]["projections"]
    assert not np.array_equal(fresh, first)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


# --- max-sliced ------------------------------------------------------------------------------------


def test_max_sliced_is_the_largest_projected_cost():
    X, Y, a, b = clouds(seed=12, weights=True)
    value, log = ot.max_sliced_wasserstein_distance(X, Y, a, b, n_projections=30, seed=1, log=True)
    np.testing.assert_allclose(value, np.sqrt(log["projected_emds"].max()), rtol=1e-15)
    assert value >= ot.sliced_wasserstein_distance(X, Y, a, b, n_projections=30, seed=1)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_maximize_finds_the_direction_of_a_translation(p):
    # For Y = X + t the projected cost is |<theta, t>|^p, maximal at theta = t / |t|.
    X, _, _, _ = clouds(40, d=4, seed=13)
    t = np.array([0.0, 1.5, 0.0, -2.0])
    value, direction, log = ot.max_sliced_wasserstein_distance(
        X, X + t, n_projections=5, p=p, seed=0, log=True, maximize=True
    )
    np.testing.assert_allclose(value, np.linalg.norm(t), rtol=1e-9)
    np.testing.assert_allclose(np.abs(direction @ t), np.linalg.norm(t), rtol=1e-9)
    assert log["converged"] and log["start_value"] <= value


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_maximize_beats_random_directions_and_stays_below_the_true_distance(p):
    X, Y, a, b = clouds(40, 35, d=5, seed=14, weights=True)
    Y = Y * np.array([1.0, 1.0, 3.0, 1.0, 1.0])
    random_best = ot.max_sliced_wasserstein_distance(X, Y, a, b, p=p, n_projections=20, seed=0)
    value, direction = ot.max_sliced_wasserstein_distance(
        X, Y, a, b, p=p, n_projections=20, seed=0, maximize=True
    )
    assert value >= random_best
    np.testing.assert_allclose(np.linalg.norm(direction), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        value,
        ot.sliced_wasserstein_distance(X, Y, a, b, p=p, projections=direction[:, None]),
        rtol=1e-13,
    )
    # Projections are 1-Lipschitz: every projected W_p is at most W_p in R^d.
    M = ot.dist(X, Y, metric="euclidean") ** p
    assert value <= ot.emd2(a, b, M) ** (1 / p) * (1 + 1e-12)
    if p == 1:
        assert value <= scipy.stats.wasserstein_distance_nd(X, Y, a, b) * (1 + 1e-9)


# --- every backend ----------------------------------------------------------------------------------


def test_sliced_on_every_backend(xp, dtype_name):
    X, Y, a, b = clouds(seed=15, weights=True)
    expected, log = ot.sliced_wasserstein_distance(X, Y, a, b, n_projections=L, seed=0, log=True)
    args = [to_xp(xp, v, dtype_name) for v in (X, Y, a, b)]
    value, log_x = ot.sliced_wasserstein_distance(*args, n_projections=L, seed=0, log=True)
    assert_same_backend(value, args[0])
    assert_same_backend(log_x["projections"], args[0])
    assert tuple(value.shape) == ()
    rtol = rtol_for(dtype_name)
    # Same seed, same directions on every backend (drawn in float64 on the host, then cast).
    np.testing.assert_allclose(to_np(log_x["projections"]), log["projections"], rtol=rtol)
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=rtol)


def test_uniform_sliced_on_every_backend(xp):
    X, Y, _, _ = clouds(seed=16)
    X_x = to_xp(xp, X)
    value = ot.sliced_wasserstein_distance(X_x, to_xp(xp, Y), n_projections=L, seed=1)
    assert_same_backend(value, X_x)
    expected = ot.sliced_wasserstein_distance(X, Y, n_projections=L, seed=1)
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=1e-13)
    zero = ot.sliced_wasserstein_distance(X_x, X_x, n_projections=L, seed=1)
    assert float(to_np(zero)) == 0.0


def test_max_sliced_on_every_backend(xp, dtype_name):
    X, Y, _, _ = clouds(seed=17)
    args = [to_xp(xp, v, dtype_name) for v in (X, Y)]
    value = ot.max_sliced_wasserstein_distance(*args, n_projections=L, seed=2)
    assert_same_backend(value, args[0])
    expected = ot.max_sliced_wasserstein_distance(X, Y, n_projections=L, seed=2)
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=rtol_for(dtype_name))


def test_maximize_on_every_backend(xp):
    X, Y, _, _ = clouds(seed=18)
    args = [to_xp(xp, v) for v in (X, Y)]
    value, direction = ot.max_sliced_wasserstein_distance(
        *args, n_projections=L, seed=3, maximize=True
    )
    assert_same_backend(value, args[0])
    assert_same_backend(direction, args[0])
    expected, expected_direction = ot.max_sliced_wasserstein_distance(
        X, Y, n_projections=L, seed=3, maximize=True
    )
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=1e-10)
    np.testing.assert_allclose(to_np(direction), expected_direction, atol=1e-8)


# --- gradients ----------------------------------------------------------------------------------
# Away from ties, the projected optimal couplings are locally constant: SW_p^p is smooth in the
# points and central differences are exact up to rounding.

STEP = 1e-6


class TestTorch:
    torch = pytest.importorskip("torch")

    @pytest.mark.parametrize("p", [1.0, 2.0])
    def test_gradcheck_points(self, p):
        torch = self.torch
        X, Y, a, b = (torch.tensor(v) for v in clouds(seed=19, weights=True))
        X.requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda X: ot.sliced_wasserstein_distance(X, Y, a, b, n_projections=L, p=p, seed=0),
            (X,),
            eps=STEP,
            atol=1e-7,
        )

    def test_max_sliced_gradient_is_that_at_the_maximiser(self):
        torch = self.torch
        X, Y, _, _ = clouds(seed=20)
        X_t = torch.tensor(X, requires_grad=True)
        value, direction = ot.max_sliced_wasserstein_distance(
            X_t, torch.tensor(Y), seed=0, maximize=True
        )
        value.backward()
        X_ref = torch.tensor(X, requires_grad=True)
        ot.sliced_wasserstein_distance(
            X_ref, torch.tensor(Y), projections=direction[:, None]
        ).backward()
        np.testing.assert_allclose(X_t.grad.numpy(), X_ref.grad.numpy(), atol=1e-15)


class TestJax:
    jax = pytest.importorskip("jax")

    @pytest.fixture(autouse=True)
    def _x64(self):
        self.jax.config.update("jax_enable_x64", True)

    def _loss(self, X, Y):
        return ot.sliced_wasserstein_distance(X, Y, n_projections=L, seed=0)

    def test_jit_grad_matches_finite_differences(self):
        jax, jnp = self.jax, self.jax.numpy
        X, Y, _, _ = clouds(seed=21)
        grad = jax.jit(jax.grad(self._loss))(jnp.asarray(X), jnp.asarray(Y))
        direction = np.random.default_rng(0).normal(size=X.shape)
        fd = (self._loss(X + STEP * direction, Y) - self._loss(X - STEP * direction, Y)) / (
            2 * STEP
        )
        np.testing.assert_allclose(np.sum(np.asarray(grad) * direction), fd, rtol=1e-6)

    def test_jit_value_and_vmap(self):
        jax, jnp = self.jax, self.jax.numpy
        rng = np.random.default_rng(1)
        Xs, Ys = rng.normal(size=(4, N, D)), rng.normal(size=(4, M, D))
        values = jax.jit(jax.vmap(self._loss))(jnp.asarray(Xs), jnp.asarray(Ys))
        expected = [self._loss(X, Y) for X, Y in zip(Xs, Ys)]
        np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-13)

    def test_maximize_refuses_to_be_traced(self):
        jax, jnp = self.jax, self.jax.numpy
        X, Y, _, _ = clouds(seed=22)
        with pytest.raises(ValueError, match="maximize=True .* needs concrete arrays"):
            jax.jit(lambda X, Y: ot.max_sliced_wasserstein_distance(X, Y, seed=0, maximize=True))(
                jnp.asarray(X), jnp.asarray(Y)
            )


# --- bad input ----------------------------------------------------------------------------------

SOLVERS = [ot.sliced_wasserstein_distance, ot.max_sliced_wasserstein_distance]


@pytest.mark.parametrize("solver", SOLVERS)
def test_dimension_mismatch(xp, solver):
    X, Y, _, _ = clouds(seed=23)
    with pytest.raises(ValueError, match=r"X_s and X_t must have the same number of features"):
        solver(to_xp(xp, X), to_xp(xp, Y[:, :2]))


@pytest.mark.parametrize("name", ["X_s", "X_t"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_points(xp, name, bad):
    X, Y, _, _ = clouds(seed=24)
    points = {"X_s": X.copy(), "X_t": Y.copy()}
    points[name][1, 2] = bad
    with pytest.raises(ValueError, match=f"^{name} contains 1 NaN or infinite"):
        ot.sliced_wasserstein_distance(to_xp(xp, points["X_s"]), to_xp(xp, points["X_t"]))


@pytest.mark.parametrize("solver", SOLVERS)
def test_negative_weights_and_mismatched_mass(xp, solver):
    X, Y, a, b = (to_xp(xp, v) for v in clouds(seed=25, weights=True))
    with pytest.raises(ValueError, match="^a has negative entries"):
        solver(X, Y, -a, b)
    with pytest.raises(ValueError, match="a and b must have the same total mass"):
        solver(X, Y, a, 2 * b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"X_s": np.zeros((0, D))}, r"X_s is empty"),
        ({"X_t": np.ones(M)}, r"X_t must be a 2-D array"),
        ({"a": np.ones(N - 1) / (N - 1)}, r"a.shape == \(11,\), expected \(12,\) to match X_s"),
        ({"n_projections": 0}, r"n_projections must be an integer >= 1"),
        ({"n_projections": 2.5}, r"n_projections must be an integer, got 2.5"),
        ({"projections": np.ones((D + 1, 4))}, r"projections.shape == \(4, 4\), expected \(3, "),
        ({"projections": np.ones(D)}, r"projections must be a 2-D array"),
        ({"p": 0.5}, r"p must be a finite real number >= 1"),
    ],
)
def test_bad_arguments(kwargs, message):
    X, Y, _, _ = clouds(seed=26)
    arguments = {"X_s": X, "X_t": Y, **kwargs}
    with pytest.raises(ValueError, match=message):
        ot.sliced_wasserstein_distance(**arguments)


def test_bad_seed_type():
    X, Y, _, _ = clouds(seed=27)
    with pytest.raises(TypeError, match="seed must be None, an int, a numpy.random.RandomState"):
        ot.sliced_wasserstein_distance(X, Y, seed=1.5)


def test_bad_ascent_options():
    X, Y, _, _ = clouds(seed=28)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 0"):
        ot.max_sliced_wasserstein_distance(X, Y, maximize=True, max_iter=-1)
    with pytest.raises(ValueError, match="tol must be a finite real number >= 0"):
        ot.max_sliced_wasserstein_distance(X, Y, maximize=True, tol=-1.0)
