"""SamplesLoss('hausdorff'): the entropic Hausdorff divergence (Feydy et al. 2019, sec. 3).

GeomLoss 0.3.1 routes 'hausdorff' to its kernel norm and fails without ``kernel=``, so the
oracles here are independent: the formula with dense matrices (the fixed points iterated
to machine precision), finite differences, and the limits eps -> infinity (a kernel norm)
and eps -> 0 (the chamfer / ICP loss).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp
from scipy.special import logsumexp

import otkit as ot

RNG = np.random.default_rng(5)
X = RNG.uniform(size=(12, 2))
Y = RNG.uniform(size=(15, 2)) + 0.3
A = RNG.uniform(0.5, 1.5, size=12)
A /= A.sum()
B = RNG.uniform(0.5, 1.5, size=15)
B /= B.sum()
TIGHT = {"stopThr": 1e-13, "numItermax": 10000}


def _cost(u, v, p):
    return np.sqrt(((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)) ** p / p


def dense_hausdorff(a, x, b, y, *, p=2, blur=0.1, reach=None, debias=True):
    """1/2 <a - b, psi(s_b) - psi(s_a)> with dense matrices, in GeomLoss's units."""
    eps = blur**p
    lam = 1.0 if reach is None else reach**p / (reach**p + eps)

    def softmin(w, pot, cost):
        return -eps * logsumexp(np.log(w)[None, :] + (pot[None, :] - cost) / eps, axis=1)

    def self_potential(w, z):
        pot = np.zeros(len(w))
        for _ in range(400):  # contracts at least twofold per step
            pot = 0.5 * (pot + lam * softmin(w, pot, _cost(z, z, p)))
        return pot

    def psi(s):
        return s if reach is None else (reach**p + eps) * (1 - np.exp(-s / reach**p))

    pa, pb = self_potential(a, x), self_potential(b, y)
    s_b, s_a = lam * softmin(b, pb, _cost(x, y, p)), lam * softmin(a, pa, _cost(y, x, p))
    value = 0.5 * (a @ psi(s_b) + b @ psi(s_a))
    if debias:
        value -= 0.5 * (a @ psi(pa) + b @ psi(pb))
    return value


def test_hausdorff_is_the_dense_formula(xp):
    """Value on every backend (blocks of 5 rows: three blocks), gradient on torch and JAX
    (under ``jax.jit``) against finite differences of the dense formula."""
    b_np = B * 1.2
    a, x, b, y = (to_xp(xp, v) for v in (A, X, b_np, Y))
    kwargs = {"p": 1, "blur": 0.2}
    # (JAX: one block, a smaller program to compile)
    block = {} if is_backend(xp, "jax") else {"batch_size": 5}
    loss = ot.SamplesLoss("hausdorff", **kwargs, **block, **TIGHT)
    expected = dense_hausdorff(A, X, b_np, Y, **kwargs)
    grad = None
    if is_backend(xp, "jax"):
        import jax

        value, grad = jax.jit(jax.value_and_grad(lambda x: loss(a, x, b, y)))(x)
    elif is_backend(xp, "torch"):
        x.requires_grad_(True)
        value = loss(a, x, b, y)
        value.backward()
        grad, value = x.grad, value.detach()
    else:
        value = loss(a, x, b, y)
    assert_same_backend(value, x)
    assert value.shape == ()
    np.testing.assert_allclose(to_np(value), expected, rtol=1e-10)
    if grad is not None:
        h = 1e-6
        for index in [(0, 0), (5, 1), (11, 0)]:
            step = np.zeros_like(X)
            step[index] = h
            fd = (dense_hausdorff(A, X + step, b_np, Y, **kwargs)
                  - dense_hausdorff(A, X - step, b_np, Y, **kwargs)) / (2 * h)  # fmt: skip
            np.testing.assert_allclose(to_np(grad)[index], fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reach", [None, 0.4])
@pytest.mark.parametrize("debias", [True, False])
def test_hausdorff_settings_are_the_dense_formula(p, reach, debias):
    b = B * 1.3
    kwargs = {"p": p, "blur": 0.15, "reach": reach, "debias": debias}
    value = ot.SamplesLoss("hausdorff", **kwargs, **TIGHT)(A, X, b, Y)
    np.testing.assert_allclose(float(value), dense_hausdorff(A, X, b, Y, **kwargs), rtol=1e-10)


def test_hausdorff_is_a_divergence():
    loss = ot.SamplesLoss("hausdorff", blur=0.1, **TIGHT)
    assert abs(float(loss(A, X, A, X))) < 1e-15
    for shift in (0.0, 0.1, 1.0):
        assert float(loss(A, X, B, Y + shift)) > 0
    # symmetric
    np.testing.assert_allclose(float(loss(A, X, B, Y)), float(loss(B, Y, A, X)), rtol=1e-12)


def test_hausdorff_limits():
    # eps -> infinity: the kernel norm of k = -C, for p = 1 GeomLoss's energy distance
    # (the first neglected term is O(C^2 / eps): relative 1e-4 at blur = 1e4 D)
    far = ot.SamplesLoss("hausdorff", p=1, blur=1e4)(A, X, B, Y)
    energy = ot.SamplesLoss("energy")(A, X, B, Y)
    np.testing.assert_allclose(float(far), float(energy), rtol=1e-3)
    # eps -> 0: the chamfer (ICP) loss 1/2 <a, d(., Y)^p / p> + 1/2 <b, d(., X)^p / p>;
    # the soft-mins differ from the minima by O(eps log n)
    near = ot.SamplesLoss("hausdorff", p=2, blur=2e-3, stopThr=1e-10)(A, X, B, Y)
    cost = _cost(X, Y, 2)
    chamfer = 0.5 * (A @ cost.min(axis=1) + B @ cost.min(axis=0))
    np.testing.assert_allclose(float(near), chamfer, rtol=1e-3)


@pytest.mark.parametrize(
    ("p", "reach", "debias"), [(1, None, True), (2, None, False), (1, 0.4, False), (2, 0.4, True)]
)
def test_hausdorff_gradients_are_finite_differences(p, reach, debias):
    torch = pytest.importorskip("torch")
    b = B * 1.3
    loss = ot.SamplesLoss("hausdorff", p=p, blur=0.15, reach=reach, debias=debias, **TIGHT)
    inputs = [torch.tensor(v, requires_grad=True) for v in (A, X, b, Y)]
    loss(*inputs).backward()
    arrays = [A, X, b, Y]
    h = 1e-6
    for k in range(4):
        grad = inputs[k].grad.numpy()
        for index in [(7,)] if k % 2 == 0 else [(7, 1)]:
            up = [v.copy() for v in arrays]
            down = [v.copy() for v in arrays]
            up[k][index] += h
            down[k][index] -= h
            fd = (float(loss(*up)) - float(loss(*down))) / (2 * h)
            # central differences: O(h^2) plus rounding 1e-16 / h
            np.testing.assert_allclose(grad[index], fd, rtol=1e-6, atol=1e-9)
    # the potentials are the weight gradients
    f, g = ot.SamplesLoss("hausdorff", p=p, blur=0.15, reach=reach, debias=debias,
                          potentials=True, **TIGHT)(A, X, b, Y)  # fmt: skip
    assert f.shape == (1, 12) and g.shape == (1, 15)
    np.testing.assert_allclose(f[0], inputs[0].grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g[0], inputs[2].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_hausdorff_batches(xp):
    if is_backend(xp, "jax"):
        pytest.skip("vmap of the same engine: covered by the jit test (compile time)")
    x = np.stack([X, X[::-1] * 0.5])
    y = np.stack([Y, Y + 0.3])
    a = np.stack([A, np.full(12, 1 / 12)])
    b = np.stack([B, B])
    loss = ot.SamplesLoss("hausdorff", blur=0.2)
    values = loss(*(to_xp(xp, v) for v in (a, x, b, y)))
    assert tuple(values.shape) == (2,)
    for k in range(2):
        np.testing.assert_allclose(to_np(values)[k], float(loss(a[k], x[k], b[k], y[k])),
                                   rtol=1e-12)  # fmt: skip


def test_hausdorff_with_kernel_is_geomloss_kernel_norm():
    """With ``kernel=`` 'hausdorff' is what GeomLoss 0.3.1 computes: the kernel norm."""

    def gaussian(x, y, blur):
        d2 = ((x[:, :, None, :] - y[:, None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * blur**2))

    value = ot.SamplesLoss("hausdorff", blur=0.3, kernel=gaussian)(A, X, B, Y)
    assert float(value) != pytest.approx(float(ot.SamplesLoss("hausdorff", blur=0.3)(A, X, B, Y)))
    kernel = ot.SamplesLoss("gaussian", blur=0.3)(A, X, B, Y)
    np.testing.assert_allclose(float(value), float(kernel), rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"p": 3}, "p must be"), ({"blur": 0.0}, "blur must be"), ({"reach": -1.0}, "reach")],
)
def test_hausdorff_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ot.SamplesLoss("hausdorff", **kwargs)
