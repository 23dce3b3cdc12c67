"""Batched SamplesLoss('sinkhorn'): one solve for B problems, each at its own fixed point."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot

RNG = np.random.default_rng(5)
B, N, M = 3, 12, 15
X = RNG.uniform(size=(B, N, 2))
Y = RNG.uniform(size=(B, M, 2)) + np.array([0.1, 0.4, 1.0])[:, None, None]  # unequal rates
A = RNG.uniform(0.5, 1.5, size=(B, N))
A /= A.sum(axis=1, keepdims=True)
WB = RNG.uniform(0.5, 1.5, size=(B, M))
WB /= WB.sum(axis=1, keepdims=True)
# Both sides converge to a marginal error of 1e-11: the values then agree to about that
# (the dual value is stationary at the fixed point), far below rtol.
TIGHT = {"stopThr": 1e-11, "numItermax": 20000}
CASES = [{}, {"p": 1}, {"reach": 0.5}, {"debias": False}, {"p": 1, "reach": 0.3, "debias": False}]


@pytest.mark.parametrize("kwargs", CASES)
def test_batch_values_are_the_separate_solves(xp, kwargs):
    if is_backend(xp, "jax"):
        pytest.skip("JAX vmaps the per-problem engine (tested in test_samples_loss.py)")
    loss = ot.SamplesLoss(blur=0.1, **kwargs, **TIGHT)
    values = loss(to_xp(xp, A), to_xp(xp, X), to_xp(xp, WB), to_xp(xp, Y))
    assert_same_backend(values, to_xp(xp, X))
    assert tuple(values.shape) == (B,)
    expected = [float(loss(A[k], X[k], WB[k], Y[k])) for k in range(B)]
    np.testing.assert_allclose(to_np(values), expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"reach": 0.5}])
def test_batch_potentials_are_the_separate_ones(kwargs):
    loss = ot.SamplesLoss(blur=0.1, potentials=True, **kwargs, **TIGHT)
    f, g = loss(A, X, WB, Y)
    assert f.shape == (B, N) and g.shape == (B, M)
    for k in range(B):
        fk, gk = loss(A[k], X[k], WB[k], Y[k])
        np.testing.assert_allclose(f[k], fk[0], atol=1e-8)
        np.testing.assert_allclose(g[k], gk[0], atol=1e-8)


@pytest.mark.parametrize("kwargs", [{}, {"p": 1, "reach": 0.3}])
def test_batch_gradients_are_the_separate_ones(kwargs):
    torch = pytest.importorskip("torch")
    loss = ot.SamplesLoss(blur=0.1, **kwargs, **TIGHT)
    batch = [torch.tensor(v, requires_grad=True) for v in (A, X, WB, Y)]
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)  # distinct per problem
    (loss(*batch) * weights).sum().backward()
    for k in range(B):
        single = [torch.tensor(v[k], requires_grad=True) for v in (A, X, WB, Y)]
        (loss(*single) * weights[k]).backward()
        for full, one in zip(batch, single):
            np.testing.assert_allclose(full.grad[k].numpy(), one.grad.numpy(), atol=1e-8)


def test_batch_gradient_is_the_finite_difference():
    torch = pytest.importorskip("torch")
    loss = ot.SamplesLoss(blur=0.1, reach=0.5, **TIGHT)
    x = torch.tensor(X, requires_grad=True)
    loss(x, torch.tensor(Y)).sum().backward()
    h = 1e-6
    for k, i, d in ((0, 3, 1), (2, 7, 0)):
        step = np.zeros_like(X)
        step[k, i, d] = h
        fd = (loss(X + step, Y)[k] - loss(X - step, Y)[k]) / (2 * h)
        np.testing.assert_allclose(float(x.grad[k, i, d]), fd, rtol=1e-5, atol=1e-9)


def test_batch_online_blocks_and_verbose(capsys):
    loss = ot.SamplesLoss(blur=0.1, verbose=True, **TIGHT)
    stored = loss(A, X, WB, Y)
    blocks = ot.SamplesLoss(blur=0.1, batch_size=5, **TIGHT)(A, X, WB, Y)  # three row blocks
    np.testing.assert_allclose(blocks, stored, rtol=1e-12)
    assert f"largest of {B} problems" in capsys.readouterr().out


def test_batch_checks_each_problem():
    loss = ot.SamplesLoss(blur=0.1)
    bad = WB.copy()
    bad[1] *= 2.0
    with pytest.raises(ValueError, match="same total mass"):
        loss(A, X, bad, Y)
    negative = A.copy()
    negative[2, 0] = -0.1
    with pytest.raises(ValueError, match="negative"):
        loss(negative, X, WB, Y)


def test_batch_outside_the_loop_scales_uses_the_separate_solves():
    # blur far above the data: the per-problem engine's expansion in 1 / eps
    loss = ot.SamplesLoss(blur=1e6)
    values = loss(A, X, WB, Y)
    expected = [float(loss(A[k], X[k], WB[k], Y[k])) for k in range(B)]
    np.testing.assert_allclose(values, expected, rtol=1e-12)
