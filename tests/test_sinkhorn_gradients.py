"""Gradients of sinkhorn2 and of the regularized value: envelope (``grad='envelope'``),
autodiff, detach; torch and JAX (grad, jit), against finite differences and the closed forms
(plan, centred potentials). The default implicit gradient: tests/test_sinkhorn_implicit.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from oracles import random_problem

import otkit as ot

REG = 0.1
TIGHT = {"stopThr": 1e-13, "numItermax": 5000}


@pytest.fixture
def problem():
    a, b, M = random_problem(6, 5, seed=11)
    return a, b, M / M.max()


def _reg_value(a, b, M, **kw):
    return ot.sinkhorn2(a, b, M, REG, log=True, **TIGHT, **kw)[1]["reg_value"]


def _mass_preserving(size, seed):
    d = np.random.default_rng(seed).normal(size=size)
    return d - d.mean()


def test_numpy_envelope_formula_matches_finite_differences(problem):
    # d/dM OT_eps = plan, d/da OT_eps = f (up to a constant on the simplex).
    a, b, M = problem
    G, log = ot.sinkhorn(a, b, M, REG, log=True, **TIGHT)
    step = 1e-6
    dM = np.random.default_rng(0).normal(size=M.shape)
    fd = (_reg_value(a, b, M + step * dM) - _reg_value(a, b, M - step * dM)) / (2 * step)
    np.testing.assert_allclose(fd, np.sum(G * dM), rtol=1e-6)
    da = _mass_preserving(a.size, 1)
    fd = (_reg_value(a + step * da, b, M) - _reg_value(a - step * da, b, M)) / (2 * step)
    np.testing.assert_allclose(fd, da @ log["f"], rtol=1e-6)


class TestTorch:
    torch = pytest.importorskip("torch")

    def _tensors(self, problem, grad=True):
        torch = self.torch
        return [torch.tensor(x, dtype=torch.float64, requires_grad=grad) for x in problem]

    def test_envelope_gradcheck_of_the_regularized_value(self, problem):
        a, b, M = self._tensors(problem, grad=False)
        M.requires_grad_(True)
        assert self.torch.autograd.gradcheck(
            lambda X: _reg_value(a, b, X), (M,), eps=1e-6, atol=1e-6
        )

    def test_envelope_gradients_are_plan_and_centred_potentials(self, problem):
        a, b, M = self._tensors(problem)
        cost = ot.sinkhorn2(a, b, M, REG, grad="envelope", **TIGHT)
        cost.backward()
        G, ref = ot.sinkhorn(*problem, REG, log=True, **TIGHT)
        np.testing.assert_allclose(M.grad.numpy(), G, atol=1e-12)
        np.testing.assert_allclose(a.grad.numpy(), ref["f"] - ref["f"].mean(), atol=1e-10)
        np.testing.assert_allclose(b.grad.numpy(), ref["g"] - ref["g"].mean(), atol=1e-10)

    def test_autodiff_gradcheck_of_sinkhorn2(self, problem):
        a, b, M = self._tensors(problem, grad=False)
        M.requires_grad_(True)
        a.requires_grad_(True)

        def value(X, w):
            return ot.sinkhorn2(
                w,
                b,
                X,
                REG,
                grad="autodiff",
                stopThr=0.0,
                numItermax=30,
                warn=False,
                check_marginals=False,
            )

        assert self.torch.autograd.gradcheck(value, (M, a), eps=1e-6, atol=1e-6)

    @pytest.mark.parametrize("function", ["sinkhorn2", "solve", "sinkhorn_unbalanced2"])
    def test_autodiff_with_only_the_weights_requiring_a_gradient(self, problem, function):
        # Regression: an in-place log-sum-exp (out=) was used because M needed no gradient,
        # and crashed when the weights did.
        a, b, M = self._tensors(problem, grad=False)
        a.requires_grad_(True)
        b.requires_grad_(True)
        options = {"stopThr": 0.0, "numItermax": 30, "warn": False}

        def value(a, b):
            if function == "solve":  # balanced solve checks the masses: normalise inside
                a, b = a / a.sum(), b / b.sum()
                return ot.solve(M, a, b, reg=REG, grad="autodiff", max_iter=30, tol=0.0).value
            if function == "sinkhorn2":
                return ot.sinkhorn2(a, b, M, REG, grad="autodiff", check_marginals=False,
                                    **options)  # fmt: skip
            return ot.sinkhorn_unbalanced2(a, b, M, REG, 1.0, grad="autodiff", **options)

        assert self.torch.autograd.gradcheck(value, (a, b), eps=1e-6, atol=1e-6)

    def test_autodiff_at_convergence_matches_envelope_for_the_regularized_value(self, problem):
        a, b, M = self._tensors(problem)
        _, log = ot.sinkhorn2(a, b, M, REG, log=True, grad="autodiff", **TIGHT)
        (grad_auto,) = self.torch.autograd.grad(log["reg_value"], M)
        G = ot.sinkhorn(*problem, REG, **TIGHT)
        np.testing.assert_allclose(grad_auto.numpy(), G, atol=1e-8)

    def test_detach_gives_no_gradient(self, problem):
        a, b, M = self._tensors(problem)
        cost = ot.sinkhorn2(a, b, M, REG, grad="detach")
        assert not cost.requires_grad

    def test_greenkhorn_envelope_gradient(self, problem):
        a, b, M = self._tensors(problem)
        ot.sinkhorn2(a, b, M, REG, method="greenkhorn", grad="envelope", **TIGHT).backward()
        np.testing.assert_allclose(M.grad.numpy(), ot.sinkhorn(*problem, REG, **TIGHT), atol=1e-9)


class TestJax:
    jax = pytest.importorskip("jax")

    def _arrays(self, problem):
        self.jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return [jnp.asarray(x) for x in problem]

    @pytest.mark.parametrize("jit", [False, True])
    def test_envelope_grad_is_the_plan_and_potentials(self, problem, jit):
        a, b, M = self._arrays(problem)
        grad = self.jax.grad(
            lambda a, M: ot.sinkhorn2(a, b, M, REG, grad="envelope", **TIGHT), argnums=(0, 1)
        )
        if jit:
            grad = self.jax.jit(grad)
        grad_a, grad_M = grad(a, M)
        G, ref = ot.sinkhorn(*problem, REG, log=True, **TIGHT)
        np.testing.assert_allclose(np.asarray(grad_M), G, atol=1e-12)
        np.testing.assert_allclose(np.asarray(grad_a), ref["f"] - ref["f"].mean(), atol=1e-10)

    def test_regularized_value_grad_matches_finite_differences_under_jit(self, problem):
        a, b, M = self._arrays(problem)
        value = self.jax.jit(lambda M: _reg_value(a, b, M))
        dM = np.random.default_rng(3).normal(size=M.shape)
        step = 1e-6
        fd = (float(value(M + step * dM)) - float(value(M - step * dM))) / (2 * step)
        grad_M = self.jax.jit(self.jax.grad(lambda M: _reg_value(a, b, M)))(M)
        np.testing.assert_allclose(fd, float(np.sum(np.asarray(grad_M) * dM)), rtol=1e-6)

    def test_autodiff_under_jit_matches_finite_differences(self, problem):
        a, b, M = self._arrays(problem)

        def value(M):
            return ot.sinkhorn2(a, b, M, REG, grad="autodiff", numItermax=40, stopThr=1e-6)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            grad_M = self.jax.jit(self.jax.grad(value))(M)
        dM = np.random.default_rng(4).normal(size=M.shape)
        step = 1e-6
        jitted = self.jax.jit(value)
        fd = (float(jitted(M + step * dM)) - float(jitted(M - step * dM))) / (2 * step)
        np.testing.assert_allclose(fd, float(np.sum(np.asarray(grad_M) * dM)), rtol=1e-5)
