r"""Implicit differentiation of the entropic plan at the Sinkhorn fixed point.

The plan of problem ``l`` (``k`` problems sharing ``a`` and ``C``) is

.. math::
    P_{ij} = a_i b_j \exp\big((f_i + g_j - C_{ij}) / \varepsilon\big),

and the potentials solve the marginal equations :math:`F(f, g) = (P\mathbf 1 - a,\
P^\top \mathbf 1 - b) = 0`. Their Jacobian in :math:`z = (f, g)` is

.. math::
    J = \frac{1}{\varepsilon}\begin{pmatrix} \mathrm{diag}(P\mathbf 1) & P \\
        P^\top & \mathrm{diag}(P^\top \mathbf 1)\end{pmatrix},

symmetric positive semi-definite (:math:`z^\top J z = \sum_{ij} P_{ij}(f_i + g_j)^2 /
\varepsilon`), singular along the shift :math:`(\mathbf 1, -\mathbf 1)` that leaves
:math:`P` unchanged. For a scalar :math:`L = \langle P, W\rangle` (``W`` the cotangent of
the plan) the implicit function theorem gives :math:`dL/d\theta = \partial_\theta L -
\lambda^\top \partial_\theta F` with the adjoint :math:`J\lambda = \partial_z L`, i.e.

.. math::
    \begin{pmatrix} \mathrm{diag}(P\mathbf 1) & P \\ P^\top & \mathrm{diag}(P^\top \mathbf 1)
    \end{pmatrix} \begin{pmatrix}\lambda_f\\ \lambda_g\end{pmatrix} =
    \begin{pmatrix} (P \odot W)\mathbf 1 \\ (P \odot W)^\top \mathbf 1\end{pmatrix},

consistent (both sides sum to :math:`\langle P, W\rangle` along the null vector); the shift
of :math:`\lambda` is fixed by a rank-one term. Then, with :math:`G = P \odot (\lambda_f
\oplus \lambda_g - W)` and :math:`E = \exp((f \oplus g - C)/\varepsilon)`:

.. math::
    \nabla_C L = G / \varepsilon,\quad
    \nabla_{a_i} L = \sum_j b_j E_{ij}(W_{ij} - \lambda_{g,j}),\quad
    \nabla_{b_j} L = \sum_i a_i E_{ij}(W_{ij} - \lambda_{f,i}),\quad
    \partial_\varepsilon L = \sum_{ij} G_{ij} \log E_{ij} / \varepsilon.

The weights' gradient is defined up to :math:`(t\mathbf 1_n, -t\mathbf 1_m)` (only
perturbations with :math:`\sum da = \sum db` keep a solution): the returned one is the
projection on those directions, :math:`\sum_i \nabla_{a_i} L = \sum_j \nabla_{b_j} L`.

The adjoint is solved on the Schur complement of the larger block (size ``min(n, m)``): a
dense solve up to :data:`DENSE_MAX`, else conjugate gradient preconditioned by the
marginal (Jacobi), with products by ``P`` only. Memory is a few arrays of the plan's size,
whatever the number of Sinkhorn iterations. The Jacobian uses the marginals of the given
plan, so the result is the gradient of the fixed point evaluated at the returned potentials:
exact at convergence.

References: G. Luise, A. Rudi, M. Pontil, C. Ciliberto, NeurIPS 2018 (the gradient of the
Sinkhorn cost); M. Eisenberger et al., CVPR 2022 (implicit Sinkhorn differentiation).
"""

from __future__ import annotations

import functools
import warnings

from ..backend import device_of, is_jax_namespace, jit
from ..backend._autodiff import with_vjp

__all__ = ["DENSE_MAX", "implicit_plan"]

# Largest Schur system (min(n, m)) solved densely; above it, conjugate gradient.
DENSE_MAX = 256


def implicit_plan(plan_fn, a, b, C, eps, f, g, xp):
    """The (n, m, k) plan ``plan_fn(a, b, C, eps, f, g, xp)`` with the implicit VJP attached.

    ``a`` (n,), ``b`` (m, k), ``C`` (n, m), ``f`` (n, k), ``g`` (m, k) converged potentials
    (without gradient), ``eps`` a number or 0-d array. Also gives ``reg`` a gradient (JAX).
    """
    eps = xp.asarray(eps, dtype=C.dtype, device=device_of(C))

    def primal(a, b, C, eps, f, g):
        return plan_fn(a, b, C, eps, f, g, xp)

    def vjp(args, plan, cotangent):
        if is_jax_namespace(xp):  # one compiled backward per shape, not op-by-op dispatch
            return _jitted_plan_vjp(xp)(*args, plan, cotangent)
        return plan_vjp(*args, plan, cotangent, xp)

    return with_vjp(primal, vjp, (a, b, C, eps, f, g), xp)


@functools.lru_cache(maxsize=4)
def _jitted_plan_vjp(xp):
    return jit(functools.partial(plan_vjp, xp=xp), xp)


def plan_vjp(a, b, C, eps, f, g, P, W, xp):
    """Cotangents of (a, b, C, eps, f, g) for the plan cotangent ``W`` (n, m, k)."""
    n, m = C.shape
    log_kernel = (f[:, None, :] + g[None, :, :] - C[:, :, None]) / eps
    PW = P * W
    lam_f, lam_g = solve_adjoint(P, xp.sum(PW, axis=1), xp.sum(PW, axis=0), xp)
    del PW
    G = P * (lam_f[:, None, :] + lam_g[None, :, :] - W)
    grad_C = xp.sum(G, axis=2) / eps
    grad_eps = xp.sum(G * log_kernel) / eps
    del G
    E = xp.exp(log_kernel)
    del log_kernel
    grad_a = xp.sum(E * (W - lam_g[None, :, :]) * b[None, :, :], axis=1)
    grad_b = xp.sum(E * (W - lam_f[:, None, :]) * a[:, None, None], axis=0)
    # Project on the feasible directions (sum da = sum db), one shift per problem.
    shift = (xp.sum(grad_a, axis=0) - xp.sum(grad_b, axis=0)) / (n + m)
    grad_a = xp.sum(grad_a - shift, axis=1)
    grad_b = grad_b + shift
    return grad_a, grad_b, grad_C, grad_eps, xp.zeros_like(f), xp.zeros_like(g)


def solve_adjoint(P, u, w, xp):
    """(lam_f, lam_g), (n, k) and (m, k): the adjoint system above with right side (u, w)."""
    Pk = xp.permute_dims(P, (2, 0, 1))  # (k, n, m): one matrix per problem
    uk, wk = xp.permute_dims(u, (1, 0)), xp.permute_dims(w, (1, 0))
    if Pk.shape[1] < Pk.shape[2]:  # eliminate the larger block
        lam_g, lam_f = _eliminate_first(xp.permute_dims(Pk, (0, 2, 1)), wk, uk, xp)
    else:
        lam_f, lam_g = _eliminate_first(Pk, uk, wk, xp)
    return xp.permute_dims(lam_f, (1, 0)), xp.permute_dims(lam_g, (1, 0))


def _eliminate_first(P, u, w, xp):
    """Solve [[diag r, P], [P^T, diag c]] (x, y) = (u, w) per problem for ``P`` (k, n, m).

    ``x = (u - P y) / r``, and ``y`` solves the Schur system ``S y = w - P^T (u / r)``,
    ``S = diag(c) - P^T diag(1/r) P`` (null vector 1), made regular by adding
    ``c c^T / sum(c)`` (the solution of the sum then has ``c^T y = 0``) and the identity on
    the columns of zero mass (zero rows of S).
    """
    r, c = xp.sum(P, axis=2), xp.sum(P, axis=1)
    zero = xp.zeros_like(r)
    r_safe = xp.where(r > 0, r, zero + 1)
    c_diag = c + xp.astype(c <= 0, c.dtype)
    c_total = xp.sum(c, axis=1, keepdims=True)
    PT = xp.permute_dims(P, (0, 2, 1))

    def times_P(y):
        return xp.matmul(P, y[..., None])[..., 0]

    def times_PT(x):
        return xp.matmul(PT, x[..., None])[..., 0]

    rhs = w - times_PT(u / r_safe)
    size = c.shape[1]
    if size <= DENSE_MAX:
        eye = xp.eye(size, dtype=P.dtype, device=device_of(P))
        S = c_diag[:, :, None] * eye - xp.matmul(PT, P / r_safe[:, :, None])
        S = S + c[:, :, None] * c[:, None, :] / c_total[:, :, None]
        y = xp.linalg.solve(S, rhs[..., None])[..., 0]
    else:

        def apply(y):
            gauge = c * (xp.sum(c * y, axis=1, keepdims=True) / c_total)
            return c_diag * y - times_PT(times_P(y) / r_safe) + gauge

        y = _conjugate_gradient(apply, rhs, c_diag, size, xp)
    return (u - times_P(y)) / r_safe, y


def _conjugate_gradient(apply, rhs, diagonal, size, xp):
    """Jacobi-preconditioned CG on the block-diagonal SPD system (all problems at once)."""
    tol = max(1e-12, 100 * float(xp.finfo(rhs.dtype).eps))
    max_iter = 2 * size + 200
    if is_jax_namespace(xp):
        from jax.scipy.sparse.linalg import cg

        y, _ = cg(apply, rhs, tol=tol, atol=0.0, maxiter=max_iter, M=lambda v: v / diagonal)
        return y
    y = xp.zeros_like(rhs)
    residual = rhs
    target = tol * float(xp.sqrt(xp.sum(rhs * rhs)))
    if target == 0.0:
        return y
    z = residual / diagonal
    direction = z
    rz = xp.sum(residual * z)
    for _ in range(max_iter):
        product = apply(direction)
        step = rz / xp.sum(direction * product)
        y = y + step * direction
        residual = residual - step * product
        if float(xp.sqrt(xp.sum(residual * residual))) <= target:
            return y
        z = residual / diagonal
        rz_next = xp.sum(residual * z)
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    warnings.warn(
        f"implicit Sinkhorn gradient: conjugate gradient did not reach a relative residual "
        f"of {tol:g} in {max_iter} iterations; the gradient is approximate (use "
        "grad='autodiff' or a larger reg)",
        UserWarning,
        stacklevel=2,
    )
    return y
