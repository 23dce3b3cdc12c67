"""float16 / bfloat16 weights and costs: computed in float32, returned in the input's dtype.

Normalized weights rounded to a 2-byte float no longer sum to exactly 1 (bfloat16 1/7 and
1/9: masses 0.998 and 1.002), which the float32 mass check used to reject; the solvers now
scale ``b`` to the mass of ``a`` when the two differ by at most 4 eps of the weights' dtype
(``balance_low_precision_masses``) and still reject larger differences. Oracle: the same
problem in float64 on the unrounded data; the result carries the rounding of the inputs
(relative eps(dtype) / 2 per entry, so about eps on a cost) and one rounding of the result.
The 1D solvers (last section) are compared with their own float32 result cast down.
"""

from __future__ import annotations

from functools import partial

import array_api_compat
import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot
from otkit.backend import is_numpy_namespace

RNG = np.random.default_rng(11)
N, M_ = 7, 9
COST = RNG.uniform(size=(N, M_))
X, Y = RNG.normal(size=(N, 2)), RNG.normal(size=(M_, 2)) + 1.0
EPS = {"bfloat16": 2.0**-7, "float16": 2.0**-10}
CASES = [(lib, dt) for lib in ("torch", "jax") for dt in ("bfloat16", "float16")]


def _convert(library, dtype_name):
    if library == "torch":
        torch = pytest.importorskip("torch")
        dtype = getattr(torch, dtype_name)
        return lambda x: torch.tensor(x, dtype=dtype), lambda x: float(x.float())
    jnp = pytest.importorskip("jax.numpy")
    dtype = getattr(jnp, dtype_name)
    return lambda x: jnp.asarray(x, dtype=dtype), lambda x: float(x.astype(jnp.float32))


def _uniform(convert):
    return convert(np.full(N, 1.0 / N)), convert(np.full(M_, 1.0 / M_))


@pytest.mark.parametrize(("library", "dtype_name"), CASES)
def test_exact_ot_of_rounded_weights(library, dtype_name):
    convert, to_float = _convert(library, dtype_name)
    a, b = _uniform(convert)
    cost = convert(COST)
    value = ot.emd2(a, b, cost)
    plan = ot.emd(a, b, cost)
    assert value.dtype == cost.dtype and plan.dtype == cost.dtype
    expected = ot.emd2(ot.unif(N), ot.unif(M_), COST)
    np.testing.assert_allclose(to_float(value), expected, rtol=4 * EPS[dtype_name])
    np.testing.assert_allclose(to_float(plan.sum()), 1.0, rtol=4 * EPS[dtype_name])


@pytest.mark.parametrize(("library", "dtype_name"), CASES)
def test_sinkhorn_of_rounded_weights(library, dtype_name):
    convert, to_float = _convert(library, dtype_name)
    a, b = _uniform(convert)
    value = ot.sinkhorn2(a, b, convert(COST), 0.5, stopThr=1e-6)
    assert value.dtype == a.dtype
    expected = ot.sinkhorn2(ot.unif(N), ot.unif(M_), COST, 0.5, stopThr=1e-9)
    np.testing.assert_allclose(to_float(value), expected, rtol=4 * EPS[dtype_name])


@pytest.mark.parametrize(("library", "dtype_name"), CASES)
def test_sinkhorn_divergence_of_rounded_inputs(library, dtype_name):
    convert, to_float = _convert(library, dtype_name)
    a, b = _uniform(convert)
    value = ot.sinkhorn_divergence(convert(X), convert(Y), a, b, blur=0.5)
    assert value.dtype == a.dtype
    expected = ot.sinkhorn_divergence(X, Y, blur=0.5)
    # points rounded to eps / 2 move the cost |x - y|^2 by about eps relative
    np.testing.assert_allclose(to_float(value), expected, rtol=4 * EPS[dtype_name])


def test_gradient_through_low_precision_exact_ot():
    torch = pytest.importorskip("torch")
    cost = torch.tensor(COST, dtype=torch.bfloat16, requires_grad=True)
    a, b = (torch.full((k,), 1.0 / k, dtype=torch.bfloat16) for k in (N, M_))
    ot.emd2(a, b, cost).backward()
    assert cost.grad.dtype == torch.bfloat16
    expected = ot.emd(ot.unif(N), ot.unif(M_), COST)  # the gradient is the optimal plan
    np.testing.assert_allclose(cost.grad.float().numpy(), expected, atol=2.0**-9)


@pytest.mark.parametrize("solver", ["emd2", "sinkhorn2", "sliced"])
def test_a_real_mass_difference_is_still_an_error(solver):
    torch = pytest.importorskip("torch")

    def weights(size, mass):
        return torch.full((size,), mass / size, dtype=torch.bfloat16)

    cost = torch.tensor(COST, dtype=torch.bfloat16)
    a, b = weights(N, 1.0), weights(M_, 1.05)  # 5% more mass: not rounding
    with pytest.raises(ValueError, match="mass"):
        if solver == "emd2":
            ot.emd2(a, b, cost)
        elif solver == "sinkhorn2":
            ot.sinkhorn2(a, b, cost, 0.5)
        else:
            points = torch.tensor(X, dtype=torch.bfloat16)
            ot.sliced_wasserstein_distance(points, points, a, weights(N, 1.05), seed=0)


# --- 1D solvers ------------------------------------------------------------------------------

LOW_DTYPES = ["float16", "bfloat16"]
# The same float32 computation as the oracle: a float32 difference (another device's
# reduction order) moves the final rounding by at most one ulp of the low dtype, at most
# eps * |value| (float16 subnormals, below 2**-14, have an absolute ulp of 2**-24).
LOW_EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7}


def low_inputs(xp, dtype, n=40, m=30, seed=0):
    """Positions and weights in ``dtype`` (weights k/64: exact in both low dtypes, so the
    float32 oracle passes its float32 mass check), and the same values in float32."""
    if is_backend(xp, "array_api_strict") or (is_numpy_namespace(xp) and dtype == "bfloat16"):
        pytest.skip(f"{xp.__name__} has no {dtype}")
    rng = np.random.default_rng(seed)
    a = rng.multinomial(64 - n, np.full(n, 1.0 / n)) + 1.0
    b = rng.multinomial(64 - m, np.full(m, 1.0 / m)) + 1.0
    data = (rng.normal(size=n), rng.normal(size=m) + 0.5, a / 64, b / 64)
    low = [to_xp(xp, v, dtype) for v in data]
    return low, [xp.astype(v, xp.float32) for v in low]


def as_float64(x):
    """Any array (torch bfloat16 included, which NumPy cannot take) as float64 NumPy."""
    return to_np(x.float() if hasattr(x, "float") else x)


def assert_float32_then_cast(actual, expected32, like, dtype):
    """``actual`` equals the float32 result ``expected32`` cast to ``like``'s low dtype."""
    assert_same_backend(actual, like)
    expected = as_float64(array_api_compat.array_namespace(like).astype(expected32, like.dtype))
    np.testing.assert_allclose(as_float64(actual), expected, rtol=LOW_EPS[dtype], atol=2**-24)


ONE_D_CALLS = {
    "wasserstein_1d": lambda x, y, a, b: ot.wasserstein_1d(x, y, a, b, p=2),
    "wasserstein_1d_uniform": lambda x, y, a, b: ot.wasserstein_1d(x, y, p=1.5),
    "emd2_1d": lambda x, y, a, b: ot.emd2_1d(x, y, a, b),
    "emd_1d": lambda x, y, a, b: ot.emd_1d(x, y, a, b, metric="euclidean"),
    "emd_1d_log": lambda x, y, a, b: ot.emd_1d(x, y, a, b, log=True)[1],
    "emd2_1d_log": lambda x, y, a, b: ot.emd2_1d(x, y, a, b, log=True)[1],
    "potentials": lambda x, y, a, b: ot.wasserstein_1d_potentials(x, y, a, b, p=2),
}


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("call", list(ONE_D_CALLS))
def test_low_precision_is_the_float32_result_cast(xp, dtype, call):
    low, f32 = low_inputs(xp, dtype)
    actual, expected = ONE_D_CALLS[call](*low), ONE_D_CALLS[call](*f32)
    if isinstance(actual, dict):  # logs: every array cast
        assert actual.keys() == expected.keys()
        actual, expected = list(actual.values()), list(expected.values())
    if not isinstance(actual, (tuple, list)):
        actual, expected = [actual], [expected]
    for got, want in zip(actual, expected, strict=True):
        assert_float32_then_cast(got, want, low[0], dtype)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
def test_low_precision_batched_wasserstein_1d(xp, dtype):
    low, _ = low_inputs(xp, dtype)
    x, y = (xp.reshape(v[:30], (10, 3)) for v in (low[0], low[1]))
    x32, y32 = (xp.astype(v, xp.float32) for v in (x, y))
    assert_float32_then_cast(
        ot.wasserstein_1d(x, y, p=2), ot.wasserstein_1d(x32, y32, p=2), x, dtype
    )


@pytest.mark.parametrize("dtype", LOW_DTYPES)
def test_low_precision_sparse_plans(xp, dtype):
    (x, y, a, b), (x32, y32, a32, b32) = low_inputs(xp, dtype)
    sparse = ot.emd_1d(x, y, a, b, dense=False)
    coo = ot.wasserstein_1d(x, y, a, b, return_plans="coo_tuple")[1]
    assert_float32_then_cast(
        coo.data, ot.wasserstein_1d(x32, y32, a32, b32, return_plans="coo_tuple")[1].data, x, dtype
    )
    dense = ot.emd_1d(x, y, a, b)
    if is_numpy_namespace(xp):  # scipy.sparse has no float16: float32, not rounded
        assert sparse.dtype == np.float32
        np.testing.assert_array_equal(sparse.toarray(), ot.emd_1d(x32, y32, a32, b32))
        return
    assert_same_backend(sparse.data, x)
    np.testing.assert_array_equal(as_float64(sparse.data), as_float64(coo.data))
    plan = ot.wasserstein_1d(x, y, a, b, return_plans=True)[1]
    assert plan.dtype == x.dtype
    plan = plan.to_dense() if hasattr(plan, "to_dense") else plan  # torch: sparse COO
    np.testing.assert_array_equal(as_float64(plan), as_float64(dense))


@pytest.mark.parametrize("dtype", LOW_DTYPES)
@pytest.mark.parametrize("solver", [ot.emd2_1d, partial(ot.wasserstein_1d, p=2)])
def test_low_precision_weights_pass_the_mass_check(xp, dtype, solver):
    """Weights normalised in float64 then rounded to ``dtype`` miss a total mass of 1 by up
    to eps / 2 each, far above float32's tolerance: accepted; the value moves by as much,
    plus one rounding of the result (4 eps: the mass tolerance). A 10% gap is an error."""
    (x, y, _, _), _ = low_inputs(xp, dtype)
    rng = np.random.default_rng(5)
    a, b = rng.random(x.shape[0]), rng.random(y.shape[0])
    a, b = to_xp(xp, a / a.sum(), dtype), to_xp(xp, b / b.sum(), dtype)
    value = solver(x, y, a, b)
    assert_same_backend(value, x)
    exact = (as_float64(v) for v in (x, y, a, b))
    expected = ot.emd2_1d(*exact, check_marginals=False)  # b rescaled to the mass of a
    np.testing.assert_allclose(as_float64(value), expected, rtol=4 * LOW_EPS[dtype])
    with pytest.raises(ValueError, match="same total mass"):
        solver(x, y, a, b * 1.1)


def test_float16_weights_beside_float32_positions(xp):
    """A wider input decides the result dtype (float32); the mass check still allows for the
    weights' float16 rounding."""
    (_, _, a, b), (x, y, a32, b32) = low_inputs(xp, "float16")
    value = ot.wasserstein_1d(x, y, a, b, p=2)
    assert_same_backend(value, x)
    expected = ot.wasserstein_1d(x, y, a32, b32, p=2)  # the same float32 computation
    np.testing.assert_allclose(float(value), float(expected), rtol=4 * np.finfo(np.float32).eps)
    rng = np.random.default_rng(6)
    a = to_xp(xp, rng.dirichlet(np.ones(x.shape[0])), "float16")
    b = to_xp(xp, rng.dirichlet(np.ones(y.shape[0])), "float16")
    assert_same_backend(ot.emd2_1d(x, y, a, b), x)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
def test_numpy_weights_beside_low_precision_positions(xp, dtype):
    """NumPy float64 weights follow torch/JAX positions, as for float32/float64."""
    if is_numpy_namespace(xp):
        pytest.skip("NumPy positions: the weights are of the same library")
    (x, y, a, b), (x32, y32, a32, b32) = low_inputs(xp, dtype)
    value = ot.emd2_1d(x, y, as_float64(a), as_float64(b))
    assert_float32_then_cast(value, ot.emd2_1d(x32, y32, a32, b32), x, dtype)


@pytest.mark.parametrize("dtype", LOW_DTYPES)
def test_low_precision_gradients_torch(dtype):
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as xp

    (x, y, a, b), _ = low_inputs(xp, dtype)
    grads = {}
    for name, cast in (("low", lambda v: v), ("float32", lambda v: v.float())):
        xg, ag = (cast(v.detach()).requires_grad_() for v in (x, a))
        ot.emd2_1d(xg, cast(y), ag, cast(b)).backward()
        grads[name] = xg.grad, ag.grad
    for got, want in zip(grads["low"], grads["float32"], strict=True):
        assert got.dtype == getattr(torch, dtype)
        assert_float32_then_cast(got, want, x, dtype)


def test_low_precision_under_jax_jit():
    """The dtype is static: the casts trace (bfloat16 only: float16 takes the same path)."""
    jax, dtype = pytest.importorskip("jax"), "bfloat16"
    jax.config.update("jax_enable_x64", True)
    (x, y, a, b), (x32, y32, a32, b32) = low_inputs(jax.numpy, dtype)
    value = jax.jit(lambda *v: ot.wasserstein_1d(*v, p=2))(x, y, a, b)
    assert_float32_then_cast(value, ot.wasserstein_1d(x32, y32, a32, b32, p=2), x, dtype)
    grad = jax.jit(jax.grad(ot.emd2_1d, argnums=(0, 2)))(x, y, a, b)
    grad32 = jax.grad(ot.emd2_1d, argnums=(0, 2))(x32, y32, a32, b32)
    for got, want in zip(grad, grad32, strict=True):
        assert_float32_then_cast(got, want, x, dtype)
