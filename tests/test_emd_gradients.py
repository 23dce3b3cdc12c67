"""Gradients of emd2: (u - mean u, v - mean v, G) w.r.t. (a, b, M), against finite
differences, on torch and JAX (grad, jit(grad), vmap)."""

from __future__ import annotations

import numpy as np
import pytest
from oracles import random_problem

import otkit as ot

# The optimal value is piecewise linear in M and in (a, b) along mass-preserving directions;
# a generic random problem has a unique optimal basis, so small steps stay on one piece and
# central differences are exact up to rounding.
STEP = 1e-7


def _mass_preserving_direction(size, seed):
    d = np.random.default_rng(seed).normal(size=size)
    return d - d.mean()


def _directional_fd(f, x, direction):
    return (f(x + STEP * direction) - f(x - STEP * direction)) / (2 * STEP)


@pytest.fixture
def problem():
    return random_problem(7, 5, seed=21)


def test_numpy_gradient_formula_matches_finite_differences(problem):
    a, b, M = problem
    _, log = ot.emd(a, b, M, log=True)
    G = ot.emd(a, b, M)
    dM = np.random.default_rng(0).normal(size=M.shape)
    fd = _directional_fd(lambda X: ot.emd2(a, b, X), M, dM)
    np.testing.assert_allclose(fd, np.sum(G * dM), rtol=1e-6)
    da = _mass_preserving_direction(a.size, 1)
    fd = _directional_fd(lambda x: ot.emd2(x, b, M), a, da)
    np.testing.assert_allclose(fd, da @ (log["u"] - log["u"].mean()), rtol=1e-6)


class TestTorch:
    torch = pytest.importorskip("torch")

    def test_gradcheck_cost_matrix(self, problem):
        torch = self.torch
        a, b, M = (torch.tensor(x, dtype=torch.float64) for x in problem)
        M.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda X: ot.emd2(a, b, X), (M,), eps=STEP, atol=1e-6)

    def test_weight_gradients_are_centred_duals(self, problem):
        torch = self.torch
        a, b, M = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in problem)
        cost = ot.emd2(a, b, M)
        cost.backward()
        _, log = ot.emd(*problem, log=True)
        np.testing.assert_allclose(
            a.grad.numpy(), log["u"] - log["u"].mean(), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(
            b.grad.numpy(), log["v"] - log["v"].mean(), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(M.grad.numpy(), ot.emd(*problem), atol=1e-15)
        assert abs(float(a.grad.sum())) < 1e-12

    def test_weight_gradient_matches_finite_differences(self, problem):
        torch = self.torch
        a_np, b_np, M_np = problem
        a = torch.tensor(a_np, requires_grad=True)
        ot.emd2(a, torch.tensor(b_np), torch.tensor(M_np)).backward()
        da = _mass_preserving_direction(a_np.size, 2)
        fd = _directional_fd(lambda x: ot.emd2(x, b_np, M_np), a_np, da)
        np.testing.assert_allclose(fd, da @ a.grad.numpy(), rtol=1e-6)

    def test_float32_gradient_keeps_dtype(self, problem):
        torch = self.torch
        M = torch.tensor(problem[2], dtype=torch.float32, requires_grad=True)
        ot.emd2(torch.tensor(problem[0]).float(), torch.tensor(problem[1]).float(), M).backward()
        assert M.grad.dtype == torch.float32
        assert M.grad.device == M.device

    def test_batched_targets_backward(self, problem):
        torch = self.torch
        a, b, M = problem
        B = torch.tensor(np.stack([b, b[::-1] / b[::-1].sum()], axis=1))
        Mt = torch.tensor(M, requires_grad=True)
        sum(ot.emd2(torch.tensor(a), B, Mt)).backward()  # a list of k costs, as POT
        expected = ot.emd(a, b, M) + ot.emd(a, B[:, 1].numpy(), M)
        np.testing.assert_allclose(Mt.grad.numpy(), expected, atol=1e-15)


class TestJax:
    jax = pytest.importorskip("jax")

    @pytest.fixture(autouse=True)
    def _x64(self):
        self.jax.config.update("jax_enable_x64", True)

    def _grads(self, problem, transform=lambda f: f):
        jnp = self.jax.numpy
        a, b, M = (jnp.asarray(x) for x in problem)
        grad = transform(self.jax.grad(lambda a, b, M: ot.emd2(a, b, M), argnums=(0, 1, 2)))
        return [np.asarray(g) for g in grad(a, b, M)]

    def test_grad_is_centred_duals_and_plan(self, problem):
        ga, gb, gM = self._grads(problem)
        G, log = ot.emd(*problem, log=True)
        np.testing.assert_allclose(ga, log["u"] - log["u"].mean(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gb, log["v"] - log["v"].mean(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gM, G, atol=1e-15)

    def test_grad_matches_finite_differences(self, problem):
        a, b, M = problem
        _, _, gM = self._grads(problem)
        dM = np.random.default_rng(3).normal(size=M.shape)
        fd = _directional_fd(lambda X: ot.emd2(a, b, X), M, dM)
        np.testing.assert_allclose(np.sum(gM * dM), fd, rtol=1e-6)

    def test_jit_grad_equals_grad(self, problem):
        eager = self._grads(problem)
        jitted = self._grads(problem, self.jax.jit)
        for e, j in zip(eager, jitted):
            np.testing.assert_allclose(j, e, rtol=1e-14, atol=1e-16)

    def test_jit_value(self, problem):
        jnp = self.jax.numpy
        value = self.jax.jit(ot.emd2)(*(jnp.asarray(x) for x in problem))
        np.testing.assert_allclose(float(value), ot.emd2(*problem), rtol=1e-14)

    def test_vmap_over_cost_matrices(self, problem):
        jnp = self.jax.numpy
        a, b, M = problem
        Ms = np.stack([M, 2.0 * M, M**2])
        values = self.jax.vmap(lambda X: ot.emd2(jnp.asarray(a), jnp.asarray(b), X))(
            jnp.asarray(Ms)
        )
        np.testing.assert_allclose(np.asarray(values), [ot.emd2(a, b, X) for X in Ms], rtol=1e-14)
        grads = self.jax.jit(
            self.jax.vmap(self.jax.grad(lambda X: ot.emd2(jnp.asarray(a), jnp.asarray(b), X)))
        )(jnp.asarray(Ms))
        np.testing.assert_allclose(np.asarray(grads[2]), ot.emd(a, b, Ms[2]), atol=1e-15)

    def test_emd_plan_under_jit(self, problem):
        jnp = self.jax.numpy
        G = self.jax.jit(ot.emd)(*(jnp.asarray(x) for x in problem))
        np.testing.assert_allclose(np.asarray(G), ot.emd(*problem), atol=1e-15)
