"""float16 / bfloat16 weights and costs: computed in float32, returned in the input's dtype.

Normalized weights rounded to a 2-byte float no longer sum to exactly 1 (bfloat16 1/7 and
1/9: masses 0.998 and 1.002), which the float32 mass check used to reject; the solvers now
scale ``b`` to the mass of ``a`` when the two differ by at most 4 eps of the weights' dtype
(``balance_low_precision_masses``) and still reject larger differences. Oracle: the same
problem in float64 on the unrounded data; the result carries the rounding of the inputs
(relative eps(dtype) / 2 per entry, so about eps on a cost) and one rounding of the result.
"""

from __future__ import annotations

import numpy as np
import pytest

import otkit as ot

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
