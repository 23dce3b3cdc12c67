"""Sliced Wasserstein against POT's conventions: the random directions of a seed (int,
RandomState, Generator, torch.Generator), ``scaler=``, the weight gradient, signatures."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot

SOLVERS = ["sliced_wasserstein_distance", "max_sliced_wasserstein_distance"]
L = 8  # projections in the tests that run on JAX (its compiled solvers are reused)


def clouds(n=12, m=10, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(m, d)) * 0.8 + 0.5
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    return X, Y, a / a.sum(), b / b.sum()


def unit_columns(draws):
    return draws / np.sqrt(np.sum(draws**2, axis=0, keepdims=True))


# --- seeds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("p", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("seed", [0, 2024, "RandomState"])
def test_same_seed_same_value_as_pot(solver, p, seed):
    pot = pytest.importorskip("ot")
    X, Y, a, b = clouds(seed=1)

    def seed_for():  # a fresh RandomState for each library: both advance theirs
        return np.random.RandomState(7) if seed == "RandomState" else seed

    expected, log_pot = getattr(pot, solver)(X, Y, a, b, 20, p, seed=seed_for(), log=True)
    before = np.random.get_state()
    value, log = getattr(ot, solver)(X, Y, a, b, 20, p, seed=seed_for(), log=True)
    after = np.random.get_state()
    assert np.array_equal(before[1], after[1]) and before[2:] == after[2:]  # global state
    np.testing.assert_allclose(log["projections"], log_pot["projections"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(log["projected_emds"], log_pot["projected_emds"], atol=1e-12)
    np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12)


def test_int_seed_draws_the_legacy_stream_on_every_backend(xp):
    X, Y, a, b = clouds(seed=2)
    args = [to_xp(xp, v) for v in (X, Y, a, b)]
    _, log = ot.sliced_wasserstein_distance(*args, n_projections=L, seed=11, log=True)
    assert_same_backend(log["projections"], args[0])
    expected = unit_columns(np.random.RandomState(11).randn(3, L))
    np.testing.assert_allclose(to_np(log["projections"]), expected, rtol=1e-14)


def test_random_state_and_generator_advance():
    X, Y, _, _ = clouds(seed=3)
    for generator, draw in (
        (np.random.RandomState(4), lambda g: g.randn(3, 5)),
        (np.random.default_rng(4), lambda g: g.standard_normal((3, 5))),
    ):
        first = ot.sliced_wasserstein_distance(X, Y, n_projections=5, seed=generator, log=True)
        second = ot.sliced_wasserstein_distance(X, Y, n_projections=5, seed=generator, log=True)
        replay = type(generator)(4) if isinstance(generator, np.random.RandomState) else None
        replay = np.random.default_rng(4) if replay is None else replay
        np.testing.assert_allclose(first[1]["projections"], unit_columns(draw(replay)), rtol=1e-14)
        np.testing.assert_allclose(second[1]["projections"], unit_columns(draw(replay)), rtol=1e-14)


def test_torch_generator_draws_with_torch_as_pot():
    pot = pytest.importorskip("ot")
    torch = pytest.importorskip("torch")
    X, Y, a, b = (torch.tensor(v) for v in clouds(seed=5))
    state = torch.random.get_rng_state()
    for dtype in (torch.float64, torch.float32):
        args = [v.to(dtype) for v in (X, Y, a, b)]
        expected = pot.sliced_wasserstein_distance(*args, seed=torch.Generator().manual_seed(3))
        value, log = ot.sliced_wasserstein_distance(
            *args, seed=torch.Generator().manual_seed(3), log=True
        )
        assert_same_backend(value, args[0])
        draws = torch.randn(3, 50, generator=torch.Generator().manual_seed(3), dtype=dtype)
        rtol = 1e-12 if dtype is torch.float64 else 1e-5
        expected_directions = (draws / draws.norm(dim=0, keepdim=True)).numpy()
        np.testing.assert_allclose(log["projections"].numpy(), expected_directions, rtol=rtol)
        np.testing.assert_allclose(value.item(), expected.item(), rtol=rtol)
    assert torch.equal(torch.random.get_rng_state(), state)
    # NumPy input: the torch generator's float64 numbers, as NumPy.
    X_np, Y_np, _, _ = clouds(seed=5)
    _, log = ot.sliced_wasserstein_distance(
        X_np, Y_np, n_projections=4, seed=torch.Generator().manual_seed(8), log=True
    )
    draws = torch.randn(3, 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    np.testing.assert_allclose(log["projections"], unit_columns(draws.numpy()), rtol=1e-14)


@pytest.mark.parametrize("seed", [1.5, "0", True, [1, 2]])
def test_bad_seed(seed):
    X, Y, _, _ = clouds(seed=6)
    with pytest.raises(TypeError, match="seed must be None, an int, a numpy.random.RandomState"):
        ot.sliced_wasserstein_distance(X, Y, seed=seed)


# --- scaler ---------------------------------------------------------------------------------------


def _apply_scaler():
    import otkit.utils

    if not hasattr(otkit.utils, "apply_scaler"):
        pytest.skip("otkit.utils.apply_scaler is not there yet")
    return otkit.utils.apply_scaler


class Affine:
    """A scaler object with POT's ``transform`` protocol."""

    def transform(self, X):
        return 2.0 * X + 1.0


@pytest.mark.parametrize("scaler", [lambda X: 3.0 * X, Affine()], ids=["callable", "transform"])
def test_scaler_is_applied_to_both_clouds(xp, scaler):
    apply_scaler = _apply_scaler()
    X, Y, a, b = clouds(seed=7)
    args = [to_xp(xp, v) for v in (X, Y, a, b)]
    value = ot.sliced_wasserstein_distance(*args, n_projections=L, seed=0, scaler=scaler)
    assert_same_backend(value, args[0])
    X2, Y2 = apply_scaler(X, Y, scaler=scaler)
    expected = ot.sliced_wasserstein_distance(X2, Y2, a, b, n_projections=L, seed=0)
    np.testing.assert_allclose(float(to_np(value)), expected, rtol=1e-12)
    # Both scalers multiply the distance: SW of (c X + t, c Y + t) is c SW(X, Y).
    factor = 3.0 if callable(scaler) else 2.0
    unscaled = ot.sliced_wasserstein_distance(X, Y, a, b, n_projections=L, seed=0)
    np.testing.assert_allclose(expected, factor * unscaled, rtol=1e-12)


@pytest.mark.parametrize("norm", [None, "standard", "minmax", "l2"])
def test_scaler_matches_pot(norm):
    # None: an object with a transform method; otherwise each library's fitted DataScaler.
    pot = pytest.importorskip("ot")
    _apply_scaler()
    X, Y, a, b = clouds(seed=8)
    if norm is None:
        ours = theirs = Affine()
    else:
        import otkit.utils

        if not hasattr(otkit.utils, "DataScaler"):
            pytest.skip("otkit.utils.DataScaler is not there yet")
        ours = otkit.utils.DataScaler(norm=norm).fit([X, Y])
        theirs = pot.utils.DataScaler(norm=norm).fit([X, Y])
    for solver in SOLVERS:
        expected = getattr(pot, solver)(X, Y, a, b, seed=4, scaler=theirs)
        value = getattr(ot, solver)(X, Y, a, b, seed=4, scaler=ours)
        np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12)


# --- weight gradient ------------------------------------------------------------------------------


def _gradients(xp, solver, X, Y, a, b, p, theta):
    """solver's value and its gradients with respect to (a, b), as NumPy."""
    args = [to_xp(xp, v) for v in (X, Y, a, b, theta)]
    if is_backend(xp, "torch"):
        args[2].requires_grad_(True)
        args[3].requires_grad_(True)
        value = solver(*args[:4], p=p, projections=args[4])
        value.backward()
        return value.item(), to_np(args[2].grad), to_np(args[3].grad)
    if is_backend(xp, "jax"):
        import jax

        def value_of(a, b):
            return solver(args[0], args[1], a, b, p=p, projections=args[4])

        grads = jax.grad(value_of, argnums=(0, 1))(args[2], args[3])
        return float(value_of(args[2], args[3])), to_np(grads[0]), to_np(grads[1])
    pytest.skip(f"{xp.__name__} has no automatic differentiation")


def test_weight_gradient_identity_and_finite_differences(xp):
    # SW_p = (mean_l W_l)^(1/p) with a.f_l + b.g_l = W_l: a.grad_a + b.grad_b = SW_p / p.
    p = 1.5
    X, Y, a, b = clouds(seed=9)
    theta = unit_columns(np.random.default_rng(0).normal(size=(3, L)))
    value, grad_a, grad_b = _gradients(xp, ot.sliced_wasserstein_distance, X, Y, a, b, p, theta)
    np.testing.assert_allclose(a @ grad_a + b @ grad_b, value / p, rtol=1e-12)
    rng = np.random.default_rng(1)
    da, db = rng.normal(size=a.size), rng.normal(size=b.size)
    da, db = da - da.mean(), db - db.mean()  # both masses stay 1
    step = 1e-6

    def sliced(t):
        return ot.sliced_wasserstein_distance(X, Y, a + t * da, b + t * db, p=p, projections=theta)

    fd = (sliced(step) - sliced(-step)) / (2 * step)
    np.testing.assert_allclose(da @ grad_a + db @ grad_b, fd, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("solver", SOLVERS)
def test_weight_and_point_gradients_equal_pots_torch(solver):
    # Same point gradient as POT; weight gradients equal up to a constant c, (+c, -c): the
    # constant of the 1D potentials of a projection whose two totals are equal depends, in
    # POT, on how its sort orders equal values (otkit: f vanishes at the largest point).
    pot = pytest.importorskip("ot")
    torch = pytest.importorskip("torch")
    X, Y, a, b = clouds(seed=10)
    theta = torch.tensor(unit_columns(np.random.default_rng(2).normal(size=(3, 9))))
    gradients = []
    for library in (pot, ot):
        X_t, a_t, b_t = (torch.tensor(v, requires_grad=True) for v in (X, a, b))
        getattr(library, solver)(X_t, torch.tensor(Y), a_t, b_t, projections=theta).backward()
        gradients.append((X_t.grad.numpy(), a_t.grad.numpy(), b_t.grad.numpy()))
    (X_pot, a_pot, b_pot), (X_ours, a_ours, b_ours) = gradients
    np.testing.assert_allclose(X_ours, X_pot, atol=1e-12)
    shift = np.mean(a_ours - a_pot)
    np.testing.assert_allclose(a_ours, a_pot + shift, atol=1e-12)
    np.testing.assert_allclose(b_ours, b_pot - shift, atol=1e-12)


# --- signatures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_signature_is_pots_then_keyword_only_options(solver):
    pot = pytest.importorskip("ot")
    theirs = list(inspect.signature(getattr(pot.sliced, solver)).parameters.values())
    ours = list(inspect.signature(getattr(ot.sliced, solver)).parameters.values())
    assert [(q.name, q.kind, q.default) for q in ours[: len(theirs)]] == [
        (q.name, q.kind, q.default) for q in theirs
    ]
    assert all(q.kind is q.KEYWORD_ONLY for q in ours[len(theirs) :])
