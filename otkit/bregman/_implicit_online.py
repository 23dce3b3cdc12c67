r"""Implicit gradient of the linear cost :math:`\langle P, C\rangle` between point clouds.

The point-cloud counterpart of :mod:`otkit.bregman._implicit`: nothing of size n x m is
stored, every product by the plan is a pass over blocks of cost rows rebuilt from the points.
With the potentials :math:`(f, g)` of the entropic problem between :math:`(a, x)` and
:math:`(b, y)`, the plan is :math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij}) /
\varepsilon)` and the potentials solve :math:`P\mathbf 1 = a e^{-f/\rho}`,
:math:`P^\top \mathbf 1 = b e^{-g/\rho}` (:math:`\rho = \infty`, balanced:
:math:`P\mathbf 1 = a`, :math:`P^\top\mathbf 1 = b`). With :math:`r = P\mathbf 1`,
:math:`c = P^\top \mathbf 1` and :math:`\kappa = 1 + \varepsilon / \rho` the Jacobian of
these equations in :math:`(f, g)` is :math:`\varepsilon^{-1}` times

.. math::
    K = \begin{pmatrix} \kappa\,\mathrm{diag}(r) & P \\ P^\top & \kappa\,\mathrm{diag}(c)
    \end{pmatrix},

and the derivatives of the equations in the weights vanish at the fixed point
(:math:`\partial_{a_i} (P\mathbf 1 - a e^{-f/\rho})_i = r_i / a_i - e^{-f_i/\rho} = 0`).
For :math:`L = \langle P, C\rangle` the adjoint :math:`K\lambda = ((P\odot C)\mathbf 1,
(P \odot C)^\top \mathbf 1)` gives (implicit function theorem)

.. math::
    \frac{\partial L}{\partial C_{ij}} = P_{ij}\Big(1 + \frac{\lambda_{f,i} + \lambda_{g,j}
    - C_{ij}}{\varepsilon}\Big), \quad
    \frac{\partial L}{\partial a_i} = \sum_j \frac{P_{ij}}{a_i} (C_{ij} - \lambda_{g,j}),
    \quad \frac{\partial L}{\partial b_j} = \sum_i \frac{P_{ij}}{b_j}(C_{ij} - \lambda_{f,i}),

and the points' gradients by the chain rule through :math:`C(x_i, y_j)`. Balanced, ``K`` is
singular along :math:`(\mathbf 1, -\mathbf 1)` (the right side is orthogonal to it) and the
weights' gradient is defined up to :math:`(t\mathbf 1, -t\mathbf 1)`: it is projected on the
feasible directions :math:`\sum da = \sum db` as in :mod:`otkit.bregman._implicit`.

The adjoint is solved on the Schur complement of the larger block by conjugate gradient
(Jacobi preconditioner), two passes over the cost per iteration; the final gradients take
two more passes. Memory is O((n + m) d + block x m).
"""

from __future__ import annotations

import functools

from ..backend import is_jax_namespace, jit
from ..backend._autodiff import with_vjp
from ._implicit import _conjugate_gradient
from ._pointcloud import cost_and_squared, map_row_blocks, weighted_cost_gradient
from ._sinkhorn_loop import log_weights

__all__ = ["attach_implicit_linear"]


def attach_implicit_linear(total, user, working, problems, unscale_grads, xp):
    """``total`` (a 0-d array, the linear value) made differentiable in the user's arrays.

    Parameters
    ----------
    total : 0-d array
        The value, detached, in the user's units and dtype.
    user : tuple
        ``(X_s, X_t, a, b)`` as the caller gave them (prepared): the differentiable inputs.
    working : tuple
        ``(x, y, eps, rho, spec)``: the detached points, epsilon and rho (None: balanced) of
        the solved (centred, rescaled) problem and its cost.
    problems : sequence
        ``(weight, kind, f, g)``: the value is ``sum weight * <P, C>`` over the listed
        problems, ``kind`` 'ab' (between x and y) or 'aa' / 'bb' (a cloud with itself,
        potentials ``f = g``).
    unscale_grads : callable
        ``unscale_grads(grads, user)``: the working problem's (grad_x, grad_y, grad_a,
        grad_b) in the units of the user's arrays.
    """
    x, y, eps, rho, spec = working
    balanced = rho is None
    dtype = x.dtype
    eps = xp.asarray(eps, dtype=dtype)
    rho = xp.asarray(1.0 if balanced else rho, dtype=dtype)
    potentials = [array for _, _, f, g in problems for array in (f, g)]
    args = (*user, x, y, eps, rho, *potentials, total)

    def primal(*args):
        return args[-1] * 1.0

    pair_vjp = _pair_vjp(spec, balanced, xp)

    def vjp(args, _output, cotangent):
        X_s, X_t, a, b, x, y, eps, rho = args[:8]
        fg = args[8:-1]
        totals = [xp.zeros_like(x), xp.zeros_like(y), xp.zeros_like(a), xp.zeros_like(b)]
        for index, (weight, kind, _, _) in enumerate(problems):
            f, g = fg[2 * index], fg[2 * index + 1]
            if kind == "ab":
                grads = pair_vjp(x, y, a, b, f, g, eps, rho)
                pieces = zip(range(4), grads)
            else:
                points, weights, slot = (x, a, 0) if kind == "aa" else (y, b, 1)
                g1, g2, w1, w2 = pair_vjp(points, points, weights, weights, f, g, eps, rho)
                pieces = ((slot, g1 + g2), (slot + 2, w1 + w2))
            for slot, grad in pieces:
                totals[slot] = totals[slot] + weight * grad
        grads = unscale_grads(totals, (X_s, X_t, a, b))
        scaled = [cotangent * xp.astype(grad, arg.dtype) for grad, arg in zip(grads, args)]
        return (*scaled, *(xp.zeros_like(arg) for arg in args[4:]))

    return with_vjp(primal, vjp, args, xp)


@functools.lru_cache(maxsize=16)
def _pair_vjp(spec, balanced, xp):
    """:func:`linear_cost_vjp` for one cost and kind of problem (compiled once on JAX)."""

    def pair_vjp(x, y, a, b, f, g, eps, rho):
        return linear_cost_vjp(x, y, a, b, f, g, eps, None if balanced else rho, spec, xp)

    return jit(pair_vjp, xp) if is_jax_namespace(xp) else pair_vjp


def linear_cost_vjp(x, y, a, b, f, g, eps, rho, spec, xp):
    """(grad_x, grad_y, grad_a, grad_b) of ``<P, C>`` at the fixed point (f, g)."""
    kappa = 1.0 if rho is None else 1.0 + eps / rho
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    # Q_ij = b_j exp((f_i + g_j - C_ij) / eps) (rows of P / a_i) and its transpose's rows.
    rows = _PlanPass(x, y, f, g, log_b, eps, spec, xp)
    cols = _PlanPass(y, x, g, f, log_a, eps, spec, xp)
    q_row, qc_row = rows.sums()
    q_col, qc_col = cols.sums()
    r, c = a * q_row, b * q_col
    lam_f, lam_g = _solve_adjoint(
        rows, cols, a, b, r, c, a * qc_row, b * qc_col, kappa, rho is None, xp
    )
    grad_x, qlam_row = rows.gradient(lam_f, lam_g)
    grad_y, qlam_col = cols.gradient(lam_g, lam_f)
    grad_x, grad_y = a[:, None] * grad_x, b[:, None] * grad_y
    grad_a, grad_b = qc_row - qlam_row, qc_col - qlam_col
    if rho is None:  # project on sum(da) = sum(db)
        n, m = grad_a.shape[0], grad_b.shape[0]
        shift = (xp.sum(grad_a) - xp.sum(grad_b)) / (n + m)
        grad_a, grad_b = grad_a - shift, grad_b + shift
    return grad_x, grad_y, grad_a, grad_b


class _PlanPass:
    """Passes over the row blocks of ``Q_ij = exp(log_b_j + (f_i + g_j - C_ij) / eps)``."""

    def __init__(self, x, y, f, g, log_b, eps, spec, xp):
        self.x, self.y, self.f, self.g, self.eps, self.spec, self.xp = x, y, f, g, eps, spec, xp
        self.shift = log_b + g / eps
        self.y_sq = xp.sum(y * y, axis=1)
        self.block = spec.rows_per_block(x.shape[0], y.shape[0])
        self.cap = 700.0 if x.dtype == xp.float64 else 85.0

    def _blocks(self, extra, fn, width):
        """``fn(xb, Q, C, squared, extra_b)`` per row block, ``extra`` (n, e) riding along."""
        xp, d = self.xp, self.x.shape[1]
        packed = xp.concat([self.x, self.f[:, None], extra], axis=1)

        def rows(block):
            xb, fb, eb = block[:, :d], block[:, d], block[:, d + 1 :]
            cost, squared = cost_and_squared(xb, self.y, self.y_sq, self.spec, xp)
            exponent = fb[:, None] / self.eps + self.shift[None, :] - cost / self.eps
            plan = xp.exp(xp.clip(exponent, max=self.cap))
            return fn(xb, plan, cost, squared, eb)

        return map_row_blocks(rows, packed, self.block, width, self.xp)

    def _empty(self):
        return self.xp.zeros((self.x.shape[0], 0), dtype=self.x.dtype)

    def sums(self):
        """``Q 1`` and ``(Q * C) 1``."""
        xp = self.xp

        def fn(xb, plan, cost, squared, eb):
            return xp.stack([xp.sum(plan, axis=1), xp.sum(plan * cost, axis=1)], axis=1)

        out = self._blocks(self._empty(), fn, 2)
        return out[:, 0], out[:, 1]

    def times(self, v):
        """``Q v`` for a vector ``v`` over y."""
        xp = self.xp
        out = self._blocks(self._empty(), lambda xb, plan, *_: xp.matmul(plan, v[:, None]), 1)
        return out[:, 0]

    def gradient(self, lam_f, lam_g):
        """``sum_j Q_ij (1 + (lam_f_i + lam_g_j - C_ij) / eps) grad_x C_ij`` (n, d) and
        ``Q lam_g``."""
        xp, d, eps = self.xp, self.x.shape[1], self.eps

        def fn(xb, plan, cost, squared, eb):
            weights = plan * (1.0 + (eb[:, :1] + lam_g[None, :] - cost) / eps)
            grad = weighted_cost_gradient(weights, xb, self.y, squared, self.spec, xp)
            return xp.concat([grad, xp.matmul(plan, lam_g[:, None])], axis=1)

        out = self._blocks(lam_f[:, None], fn, d + 1)
        return out[:, :d], out[:, d]


def _solve_adjoint(rows, cols, a, b, r, c, u, w, kappa, balanced, xp):
    """(lam_f, lam_g) solving ``K lam = (u, w)`` on the Schur complement of the larger side."""
    if a.shape[0] < b.shape[0]:
        lam_g, lam_f = _eliminate(cols, rows, b, a, c, r, w, u, kappa, balanced, xp)
        return lam_f, lam_g
    return _eliminate(rows, cols, a, b, r, c, u, w, kappa, balanced, xp)


def _eliminate(first, second, a, b, r, c, u, w, kappa, balanced, xp):
    """``x = (u - P y) / (kappa r)``; ``S y = w - P^T (u / (kappa r))`` with ``S = kappa
    diag(c) - P^T diag(1 / (kappa r)) P`` (+ ``c c^T / sum(c)`` when balanced: the null
    vector 1 is then fixed by ``c^T y = 0``). ``P v = a * first.times(v)``, ``P^T v = b *
    second.times(v)``."""
    r_safe = kappa * xp.where(r > 0, r, xp.ones_like(r))
    c_diag = kappa * (c + xp.astype(c <= 0, c.dtype))
    c_total = xp.sum(c)

    def times_P(v):
        return a * first.times(v)

    def times_PT(v):
        return b * second.times(v)

    def apply(v):
        out = c_diag * v - times_PT(times_P(v) / r_safe)
        return out + c * (xp.sum(c * v) / c_total) if balanced else out

    rhs = w - times_PT(u / r_safe)
    y = _conjugate_gradient(apply, rhs, c_diag, rhs.shape[0], xp)
    if is_jax_namespace(xp):
        y = xp.asarray(y)
    return (u - times_P(y)) / r_safe, y
