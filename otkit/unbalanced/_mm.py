r"""Exact (unregularized) unbalanced OT with KL penalties, by majorization-minimization.

The problem is ``min_{P >= 0} F(P) = <P, M> + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)``
(generalized KL), convex but not strictly. Chapel et al. (2021) minimize it by MM. With the
current plan ``Q`` (row sums ``q``, column sums ``r``), Jensen's inequality for the convex
``x log x`` with weights ``Q_ij / q_i`` bounds the row term::

    p_i log p_i <= sum_j P_ij log(P_ij q_i / Q_ij),      p_i = sum_j P_ij,

with equality at ``P = Q``; likewise for the columns. The bound ``G(P | Q) >= F(P)`` is
separable in the entries, and ``dG / dP_ij = 0`` gives the multiplicative update::

    P_ij <- Q_ij (a_i / q_i)^(rho_a / s) (b_j / r_j)^(rho_b / s) exp(-M_ij / s),  s = rho_a + rho_b.

Each step decreases ``F`` (majorization), zeros stay zero and the iterates converge to a
minimizer (Chapel et al. 2021, Prop. 3). With the potentials ``f_i = -rho_a log(q_i / a_i)``
and ``g_j = -rho_b log(r_j / b_j)`` (the marginals are ``a e^(-f / rho_a)``, as in the entropic
problem) the update reads ``P <- P exp((f + g - M) / s)``: its fixed points are the KKT points
``f_i + g_j = M_ij`` on the support of ``P``. It runs in the log domain (no underflow when
``M / s`` is large) with the generic driver :func:`otkit._sinkhorn_loop.iterate`, so also
under ``jax.jit``. The stopping test is the L1 change of the plan (mass units) per step.
"""

from __future__ import annotations

import functools
import math

from ..backend import is_jax_namespace, is_traced, jit, logsumexp, stop_gradient, to_numpy
from ..bregman._sinkhorn_loop import iterate, log_weights

__all__ = ["mm_potentials", "mm_unbalanced_log", "unbalanced_primal"]


def _safe(x, mask, xp):
    return xp.where(mask, x, xp.zeros_like(x))


def _step(log_plan, log_a, log_b, pos_a, pos_b, M, rho_a, rho_b, xp):
    s = rho_a + rho_b
    log_q = logsumexp(log_plan, axis=1, xp=xp)
    log_r = logsumexp(log_plan, axis=0, xp=xp)
    # Masked on both branches: a row of zero weight is -inf throughout and stays so.
    row = (rho_a / s) * (_safe(log_a, pos_a, xp) - _safe(log_q, pos_a, xp))
    col = (rho_b / s) * (_safe(log_b, pos_b, xp) - _safe(log_r, pos_b, xp))
    return log_plan + row[:, None] + col[None, :] - M / s


def _start(a, b, xp):
    """a (x) b rescaled to the geometric mean of the two masses (positive on the support)."""
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    shift = 0.5 * (xp.log(xp.sum(a)) + xp.log(xp.sum(b)))
    return log_a[:, None] + log_b[None, :] - shift


def _mm(a, b, M, rho_a, rho_b, num_iter_max, tol, xp, unrolled):
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    pos_a, pos_b = a > 0, b > 0

    def advance(state):
        (log_plan,) = state
        new = _step(log_plan, log_a, log_b, pos_a, pos_b, M, rho_a, rho_b, xp)
        change = xp.sum(xp.abs(xp.exp(new) - xp.exp(log_plan)))
        return (new,), stop_gradient(change, xp)

    log_plan = _start(a, b, xp)
    err = xp.asarray(math.inf, dtype=M.dtype)
    traced = is_traced(a, b, M)
    (log_plan,), n_iter, err, trace = iterate(
        advance, (log_plan,), err, num_iter_max, tol, xp, traced, unrolled
    )
    return log_plan, n_iter, err, trace


@functools.lru_cache(maxsize=32)
def _jitted(num_iter_max, tol, xp):
    def run(a, b, M, rho_a, rho_b):
        return _mm(a, b, M, rho_a, rho_b, num_iter_max, tol, xp, False)

    return jit(run, xp)


def mm_unbalanced_log(a, b, M, rho, num_iter_max, tol, xp, unrolled=False):
    """Log-plan of the exact KL-unbalanced problem by MM; returns (log_plan, n_iter, err, trace).

    ``rho`` is a pair of finite penalties; ``err`` the L1 change of the plan at the last step.
    The first trace entry is ``inf`` (no change measured before the first step).
    """
    if is_jax_namespace(xp) and not is_traced(a, b, M):
        as_array = functools.partial(xp.asarray, dtype=M.dtype)
        run = _jitted(num_iter_max, tol, xp)
        log_plan, n_iter, err, trace = run(a, b, M, as_array(rho[0]), as_array(rho[1]))
        n_iter = int(n_iter)
        return log_plan, n_iter, err, [float(x) for x in to_numpy(trace)[: n_iter + 1]]
    return _mm(a, b, M, rho[0], rho[1], num_iter_max, tol, xp, unrolled)


def mm_potentials(plan, a, b, M, rho, xp):
    """Dual potentials of a plan: ``f = -rho_a log(P1 / a)``, ``g = -rho_b log(P^T 1 / b)``.

    On a row (column) of zero weight, where any value below the c-transform is optimal,
    ``f`` is the c-transform ``min_j M_ij - g_j`` (and ``g`` likewise).
    """
    rows, cols = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
    pos_a, pos_b = (a > 0) & (rows > 0), (b > 0) & (cols > 0)
    ones_a, ones_b = xp.ones_like(a), xp.ones_like(b)
    g = -rho[1] * xp.log(xp.where(pos_b, cols, ones_b) / xp.where(pos_b, b, ones_b))
    f = -rho[0] * xp.log(xp.where(pos_a, rows, ones_a) / xp.where(pos_a, a, ones_a))
    f_bar = xp.min(M - g[None, :], axis=1)
    f = xp.where(pos_a, f, f_bar)
    g_bar = xp.min(M - f[:, None], axis=0)
    return f, xp.where(pos_b, g, g_bar)


def _kl(p, q, xp):
    positive = p > 0
    ratio = xp.where(positive, p, xp.ones_like(p)) / xp.where(q > 0, q, xp.ones_like(q))
    return xp.sum(xp.where(positive, p * xp.log(ratio), xp.zeros_like(p)) - p + q)


def unbalanced_primal(plan, a, b, M, rho, xp):
    """``(<P, M> + rho_a KL(P1 | a) + rho_b KL(P^T 1 | b), <P, M>)`` (finite rho)."""
    linear = xp.sum(plan * M)
    rows, cols = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
    return linear + rho[0] * _kl(rows, a, xp) + rho[1] * _kl(cols, b, xp), linear
