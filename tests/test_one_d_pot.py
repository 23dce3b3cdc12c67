"""1D optimal transport against POT's conventions: the weight gradient of ``wasserstein_1d``
(POT's potentials, a.f + b.g = W), ``return_plans=``, and the signatures."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, rtol_for, to_np, to_xp

import otkit as ot

# One size for the tests that run on JAX: its compiled solvers are reused.
N, M = 8, 6


def measures(n, m, seed, batch=()):
    """Positions (n, *batch), (m, *batch) and normalised weights (n,), (m,)."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, *batch)), rng.normal(size=(m, *batch)) + 0.3
    a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
    return x, y, a / a.sum(), b / b.sum()


def cost_matrix(x, y, p):
    return np.abs(x[:, None] - y[None, :]) ** p


def value_and_weight_gradients(xp, x, y, a, b, p):
    """wasserstein_1d summed over the batch, and its gradients with respect to (a, b), as
    NumPy arrays (torch: backward(); JAX: jax.grad)."""
    args = [to_xp(xp, v) for v in (x, y, a, b)]
    if is_backend(xp, "torch"):
        args[2].requires_grad_(True)
        args[3].requires_grad_(True)
        value = ot.wasserstein_1d(*args, p=p)
        assert_same_backend(value, args[0])
        value.sum().backward()
        return to_np(value.detach()), to_np(args[2].grad), to_np(args[3].grad)
    if is_backend(xp, "jax"):
        import jax

        def total(a, b):
            return xp.sum(ot.wasserstein_1d(args[0], args[1], a, b, p=p))

        grad_a, grad_b = jax.grad(total, argnums=(0, 1))(args[2], args[3])
        return to_np(ot.wasserstein_1d(*args, p=p)), to_np(grad_a), to_np(grad_b)
    pytest.skip(f"{xp.__name__} has no automatic differentiation")


# --- gradient with respect to the weights -----------------------------------------------------


@pytest.mark.parametrize(("p", "batch"), [(1.5, ()), (2.0, (3,))])
def test_weight_gradient_potentials_sum_to_the_value(xp, p, batch):
    # a.f + b.g = W_p^p for each batch entry: with 1-D weights shared by the batch, the
    # gradients add up over the batch, and so do the values.
    x, y, a, b = measures(N, M, seed=1, batch=batch)
    value, grad_a, grad_b = value_and_weight_gradients(xp, x, y, a, b, p)
    np.testing.assert_allclose(a @ grad_a + b @ grad_b, np.sum(value), rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 1.5])
def test_weight_gradient_matches_finite_differences(xp, p):
    # W_p^p is piecewise linear in the weights: along a direction that keeps both masses
    # fixed (and a step smaller than the gap between cumulative levels), the central
    # difference is exact up to rounding.
    x, y, a, b = measures(N, M, seed=2)
    _, grad_a, grad_b = value_and_weight_gradients(xp, x, y, a, b, p)
    rng = np.random.default_rng(3)
    da, db = rng.normal(size=a.size), rng.normal(size=b.size)
    da, db = da - da.mean(), db - db.mean()
    step = 1e-6

    def value(t):
        return ot.wasserstein_1d(x, y, a + t * da, b + t * db, p=p)

    fd = (value(step) - value(-step)) / (2 * step)
    np.testing.assert_allclose(da @ grad_a + db @ grad_b, fd, rtol=1e-6, atol=1e-9)


def test_weight_gradient_is_a_supergradient_of_the_dual_objective(xp):
    # The potentials are dual feasible (f_i + g_j <= C_ij): for any other weights of the
    # same mass, W(a', b') >= a'.f + b'.g, with equality at (a, b).
    x, y, a, b = measures(N, M, seed=4)
    _, f, g = value_and_weight_gradients(xp, x, y, a, b, 1.5)
    assert np.all(f[:, None] + g[None, :] <= cost_matrix(x, y, 1.5) + 1e-12)
    rng = np.random.default_rng(5)
    for _ in range(5):
        a2, b2 = rng.random(a.size), rng.random(b.size)
        a2, b2 = a2 / a2.sum(), b2 / b2.sum()
        assert ot.wasserstein_1d(x, y, a2, b2, p=1.5) >= a2 @ f + b2 @ g - 1e-12


def test_pot_convention_picks_the_potential_that_vanishes():
    # POT's convention: f = 0 at the largest point of u when sum(a) <= sum(b), summed in
    # the sorted order, otherwise g = 0 at the largest point of v.
    torch = pytest.importorskip("torch")
    x, y = np.array([0.3, 2.0, -1.0]), np.array([1.5, 0.0])
    a, b = np.array([0.25, 0.25, 0.5]), np.array([0.5, 0.5])
    b_less = np.array([0.5, 0.5 - 2.0**-53])  # mass 1 - 2^-53: less than sum(a) = 1
    for weights_b, vanishing in ((b, "f"), (b_less, "g")):
        a_t = torch.tensor(a, requires_grad=True)
        b_t = torch.tensor(weights_b, requires_grad=True)
        value = ot.wasserstein_1d(torch.tensor(x), torch.tensor(y), a_t, b_t, p=2)
        value.backward()
        f, g = a_t.grad.numpy(), b_t.grad.numpy()
        assert (f[np.argmax(x)] if vanishing == "f" else g[np.argmax(y)]) == 0.0
        np.testing.assert_allclose(a @ f + weights_b @ g, value.item(), rtol=1e-14)


def test_weight_gradient_equals_pots_torch():
    # POT's gradient is autodiff through its quantile formula; which potential vanishes
    # depends on how its sort orders the two totals when they are equal: with at most 16
    # levels (here) the sort keeps them in order, as otkit's convention says.
    pot = pytest.importorskip("ot")
    torch = pytest.importorskip("torch")
    for seed, (n, m, batch) in enumerate([(6, 4, ()), (5, 8, ()), (7, 7, (3,)), (1, 5, ())]):
        x, y, a, b = measures(n, m, seed=10 + seed, batch=batch)
        gradients = []
        for library in (pot, ot):
            a_t = torch.tensor(a, requires_grad=True)
            b_t = torch.tensor(b, requires_grad=True)
            value = library.wasserstein_1d(torch.tensor(x), torch.tensor(y), a_t, b_t, p=1.5)
            value.sum().backward()
            gradients.append((a_t.grad.numpy(), b_t.grad.numpy()))
        (f_pot, g_pot), (f, g) = gradients
        np.testing.assert_allclose(f, f_pot, atol=1e-12)
        np.testing.assert_allclose(g, g_pot, atol=1e-12)


def test_emd2_1d_keeps_the_centred_gradient_of_emd2():
    # POT's emd2_1d has no gradient; otkit's follows emd2: (f - mean f, g - mean g).
    torch = pytest.importorskip("torch")
    x, y, a, b = measures(6, 5, seed=30)
    a_t, b_t = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ot.wasserstein_1d(torch.tensor(x), torch.tensor(y), a_t, b_t, p=2).backward()
    a_c, b_c = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ot.emd2_1d(torch.tensor(x), torch.tensor(y), a_c, b_c).backward()
    f, g = a_t.grad.numpy(), b_t.grad.numpy()
    np.testing.assert_allclose(a_c.grad.numpy(), f - f.mean(), atol=1e-14)
    np.testing.assert_allclose(b_c.grad.numpy(), g - g.mean(), atol=1e-14)


# --- return_plans -----------------------------------------------------------------------------


def dense(plan, shape):
    """Any plan ``wasserstein_1d`` returns, as a dense NumPy array."""
    if hasattr(plan, "rows"):  # PlanTuple (data, rows, cols)
        out = np.zeros(shape)
        rows, cols = to_np(plan.rows).astype(int), to_np(plan.cols).astype(int)
        np.add.at(out, (rows, cols), to_np(plan.data))
        return out
    if hasattr(plan, "toarray"):
        return plan.toarray()
    if hasattr(plan, "to_dense"):
        return to_np(plan.to_dense())
    return to_np(plan)


@pytest.mark.parametrize("mode", [True, "coo_tuple"])
def test_return_plans_are_optimal_plans_on_every_backend(xp, mode):
    x, y, a, b = measures(N, M, seed=40, batch=(3,))
    args = [to_xp(xp, v) for v in (x, y, a, b)]
    value, plans = ot.wasserstein_1d(*args, p=2, return_plans=mode)
    assert isinstance(plans, list) and len(plans) == 3
    for k, plan in enumerate(plans):
        G = dense(plan, (N, M))
        np.testing.assert_allclose(G.sum(axis=1), a, atol=1e-14)
        np.testing.assert_allclose(G.sum(axis=0), b, atol=1e-14)
        cost = np.sum(G * cost_matrix(x[:, k], y[:, k], 2.0))
        np.testing.assert_allclose(cost, to_np(value)[k], rtol=1e-12)
        np.testing.assert_allclose(G, to_np(ot.emd_1d(x[:, k], y[:, k], a, b)), atol=1e-15)
    if mode == "coo_tuple":
        assert tuple(plans[0].data.shape) == (N + M - 1,)
        assert_same_backend(plans[0].data, args[0])
    elif not (is_backend(xp, "numpy") or is_backend(xp, "torch")):
        assert_same_backend(plans[0], args[0])  # dense where the library has no sparse type


def test_return_plans_of_1d_input_is_one_plan():
    x, y, a, b = measures(5, 3, seed=41)
    value, plan = ot.wasserstein_1d(x, y, a, b, return_plans=True)
    np.testing.assert_allclose(plan.toarray(), ot.emd_1d(x, y, a, b), atol=1e-15)
    assert value == ot.wasserstein_1d(x, y, a, b)
    _, cells = ot.wasserstein_1d(x[::-1].copy(), y, a[::-1].copy(), b, return_plans="coo_tuple")
    np.testing.assert_allclose(dense(cells, (5, 3)), ot.emd_1d(x, y, a, b)[::-1], atol=1e-15)


def test_return_plans_with_presorted_input():
    x, y, a, b = measures(5, 4, seed=42)
    ix, iy = np.argsort(x), np.argsort(y)
    _, plan = ot.wasserstein_1d(x[ix], y[iy], a[ix], b[iy], require_sort=False, return_plans=True)
    np.testing.assert_allclose(plan.toarray(), ot.emd_1d(x, y, a, b)[np.ix_(ix, iy)], atol=1e-15)


@pytest.mark.parametrize("mode", [True, "coo_tuple"])
def test_return_plans_match_pot(mode):
    pot = pytest.importorskip("ot")
    x, y, a, b = measures(7, 5, seed=43, batch=(2,))
    value_pot, plans_pot = pot.wasserstein_1d(x, y, a, b, p=1.5, return_plans=mode)
    value, plans = ot.wasserstein_1d(x, y, a, b, p=1.5, return_plans=mode)
    np.testing.assert_allclose(value, value_pot, rtol=1e-13)
    assert type(plans) is type(plans_pot) and len(plans) == len(plans_pot)
    for ours, theirs in zip(plans, plans_pot):
        if mode == "coo_tuple":
            assert type(ours).__name__ == type(theirs).__name__ == "PlanTuple"
            assert ours._fields == theirs._fields
        else:
            assert type(ours) is type(theirs)  # scipy.sparse.coo_array
        np.testing.assert_allclose(dense(ours, (7, 5)), dense(theirs, (7, 5)), atol=1e-15)


def test_return_plans_torch_are_sparse_tensors_like_pots():
    pot = pytest.importorskip("ot")
    torch = pytest.importorskip("torch")
    x, y, _, _ = measures(6, 5, seed=44, batch=(2,))
    _, plans_pot = pot.wasserstein_1d(torch.tensor(x), torch.tensor(y), return_plans=True)
    _, plans = ot.wasserstein_1d(torch.tensor(x), torch.tensor(y), return_plans=True)
    for ours, theirs in zip(plans, plans_pot):
        assert ours.layout == theirs.layout == torch.sparse_coo
        np.testing.assert_allclose(ours.to_dense().numpy(), theirs.to_dense().numpy(), atol=1e-15)


def test_return_plans_under_jit():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x, y, a, b = measures(N, M, seed=45, batch=(2,))
    solve = jax.jit(lambda *v: ot.wasserstein_1d(*v, return_plans="coo_tuple"))
    _, plans = solve(*(jax.numpy.asarray(v) for v in (x, y, a, b)))
    np.testing.assert_allclose(dense(plans[1], (N, M)), ot.emd_1d(x[:, 1], y[:, 1], a, b))


@pytest.mark.parametrize("bad", ["coo", "dense", 2, None])
def test_bad_return_plans(bad):
    x, y, _, _ = measures(3, 3, seed=46)
    with pytest.raises(ValueError, match="return_plans must be False, True or 'coo_tuple'"):
        ot.wasserstein_1d(x, y, return_plans=bad)


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wasserstein_1d", "emd_1d", "emd2_1d"])
def test_signature_starts_with_pots(name):
    pot = pytest.importorskip("ot")
    theirs = list(inspect.signature(getattr(pot.lp, name)).parameters.values())
    ours = list(inspect.signature(getattr(ot.lp, name)).parameters.values())
    assert [(q.name, q.kind, q.default) for q in ours[: len(theirs)]] == [
        (q.name, q.kind, q.default) for q in theirs
    ]
    assert [q.name for q in ours[len(theirs) :]] == (
        ["check_marginals"] if name == "emd2_1d" else []
    )


def test_float32_weight_gradient_keeps_dtype(xp):
    x, y, a, b = measures(N, M, seed=47)
    if not (is_backend(xp, "torch") or is_backend(xp, "jax")):
        pytest.skip(f"{xp.__name__} has no automatic differentiation")
    args = [to_xp(xp, v, "float32") for v in (x, y, a, b)]
    if is_backend(xp, "torch"):
        args[2].requires_grad_(True)
        ot.wasserstein_1d(*args, p=2).backward()
        grad = args[2].grad
    else:
        import jax

        grad = jax.grad(lambda w: ot.wasserstein_1d(args[0], args[1], w, args[3], p=2))(args[2])
    assert_same_backend(grad, args[2])
    _, expected, _ = value_and_weight_gradients(xp, x, y, a, b, 2.0)
    # The constant of the potentials depends on how the float32 masses round (see the
    # convention): compare up to it.
    grad = to_np(grad)
    np.testing.assert_allclose(
        grad - grad.mean(), expected - expected.mean(), rtol=rtol_for("float32"), atol=1e-5
    )
