r"""Unbalanced OT by majorization-minimization (Chapel et al. 2021): the iterations.

**KL penalties.** The problem is ``min_{P >= 0} F(P) = <P, M> + rho_a KL(P 1 | a) +
rho_b KL(P^T 1 | b) + reg KL(P | c)`` (generalized KL; ``reg = 0``: exact unbalanced OT),
convex. With the current plan ``Q`` (row sums ``q``, column sums ``r``), Jensen's
inequality for the convex ``x log x`` with weights ``Q_ij / q_i`` bounds the row term::

    p_i log p_i <= sum_j P_ij log(P_ij q_i / Q_ij),      p_i = sum_j P_ij,

with equality at ``P = Q``; likewise for the columns. The bound ``G(P | Q) >= F(P)`` is
separable in the entries, and ``dG / dP_ij = 0`` gives the multiplicative update::

    P_ij <- Q_ij^((rho_a + rho_b) / s) (a_i / q_i)^(rho_a / s) (b_j / r_j)^(rho_b / s)
            c_ij^(reg / s) exp(-M_ij / s),                        s = rho_a + rho_b + reg.

Each step decreases ``F`` (majorization), zeros stay zero and the iterates converge to a
minimizer (Chapel et al. 2021, Prop. 3). With the potentials ``f_i = -rho_a log(q_i / a_i)``
and ``g_j = -rho_b log(r_j / b_j)`` the ``reg = 0`` update reads ``P <- P exp((f + g - M) /
s)``: its fixed points are the KKT points ``f_i + g_j = M_ij`` on the support of ``P``. It
runs in the log domain (no underflow when ``M / s`` is large).

**Squared L2 penalties.** ``F(P) = <P, M> + rho_a / 2 |P 1 - a|^2 + rho_b / 2 |P^T 1 - b|^2
+ reg / 2 |P - c|^2`` is a quadratic ``1/2 <P, H P> - <N, P>`` whose Hessian ``H`` has
non-negative entries, with ``N_ij = rho_a a_i + rho_b b_j + reg c_ij - M_ij``. For such
quadratics ``(H P)_ij / P_ij`` majorizes the Hessian by a diagonal (Lee and Seung 2001), and
minimizing the separable bound over ``P >= 0`` gives::

    P_ij <- P_ij max(N_ij, 0) / (rho_a q_i + rho_b r_j + reg P_ij).

Both run with the generic driver :func:`otkit.bregman._sinkhorn_loop.iterate`, so also under
``jax.jit``. The stopping test is the change of the plan per step: its L1 norm for
:func:`otkit.solve`, its Frobenius norm (POT's) for ``mm_unbalanced``.
"""

from __future__ import annotations

import functools
import math

from ..backend import is_jax_namespace, is_traced, jit, logsumexp, stop_gradient, to_numpy
from ..bregman._sinkhorn_loop import iterate, log_weights
from ._checks import generalized_kl

__all__ = ["mm_iterations", "mm_potentials", "mm_unbalanced_log", "primal_value",
           "unbalanced_primal"]  # fmt: skip

DIVERGENCES = ("kl", "l2")


def _masked_log_ratio(log_w, log_s, positive_w, positive_s, xp):
    """log(w / s) where w > 0 and s > 0; -inf where w = 0 (that row must be empty); 0 where
    only s = 0 (the row is empty already and stays so)."""
    safe_w = xp.where(positive_w, log_w, xp.zeros_like(log_w))
    safe_s = xp.where(positive_s, log_s, xp.zeros_like(log_s))
    ratio = xp.where(positive_s, safe_w - safe_s, xp.zeros_like(log_w))
    return xp.where(positive_w, ratio, xp.full_like(log_w, -math.inf))


def _kl_step(log_plan, log_a, log_b, log_c, M, rho_a, rho_b, reg, xp):
    s = rho_a + rho_b + reg
    log_q = logsumexp(log_plan, axis=1, xp=xp)
    log_r = logsumexp(log_plan, axis=0, xp=xp)
    row = _masked_log_ratio(log_a, log_q, log_a > -math.inf, log_q > -math.inf, xp)
    col = _masked_log_ratio(log_b, log_r, log_b > -math.inf, log_r > -math.inf, xp)
    new = ((rho_a + rho_b) / s) * log_plan + (rho_a / s) * row[:, None]
    new = new + (rho_b / s) * col[None, :] - M / s
    return new if log_c is None else new + (reg / s) * log_c


def _l2_step(plan, numerator, rho_a, rho_b, reg, xp):
    q, r = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
    denominator = rho_a * q[:, None] + rho_b * r[None, :]
    if reg is not None:
        denominator = denominator + reg * plan
    positive = denominator > 0
    safe = xp.where(positive, denominator, xp.ones_like(denominator))
    return xp.where(positive, plan * numerator / safe, xp.zeros_like(plan))


def _change(new, old, norm, xp):
    diff = xp.abs(new - old)
    return xp.sum(diff) if norm == "l1" else xp.sqrt(xp.sum(diff * diff))


def _mm(a, b, M, rho_a, rho_b, reg, c, start, div, norm, num_iter_max, tol, xp, unrolled):
    """Iterate from ``start`` (a log-plan for 'kl', a plan for 'l2'); ``reg`` None: 0."""
    if div == "kl":
        log_a, log_b = log_weights(a, xp), log_weights(b, xp)
        log_c = None if reg is None else log_weights(c, xp)
        reg_value = 0.0 if reg is None else reg

        def advance(state):
            (log_plan,) = state
            new = _kl_step(log_plan, log_a, log_b, log_c, M, rho_a, rho_b, reg_value, xp)
            change = _change(xp.exp(new), xp.exp(log_plan), norm, xp)
            return (new,), stop_gradient(change, xp)

    else:
        numerator = rho_a * a[:, None] + rho_b * b[None, :] - M
        if reg is not None:
            numerator = numerator + reg * c
        numerator = xp.where(numerator > 0, numerator, xp.zeros_like(numerator))

        def advance(state):
            (plan,) = state
            new = _l2_step(plan, numerator, rho_a, rho_b, reg, xp)
            return (new,), stop_gradient(_change(new, plan, norm, xp), xp)

    err = xp.asarray(math.inf, dtype=M.dtype)
    traced = is_traced(a, b, M, start, c)
    (state,), n_iter, err, trace = iterate(
        advance, (start,), err, num_iter_max, tol, xp, traced, unrolled
    )
    return state, n_iter, err, trace


@functools.lru_cache(maxsize=32)
def _jitted(div, norm, with_reg, num_iter_max, tol, xp):
    def run(a, b, M, rho_a, rho_b, reg, c, start):
        return _mm(a, b, M, rho_a, rho_b, reg if with_reg else None, c, start, div, norm,
                   num_iter_max, tol, xp, False)  # fmt: skip

    return jit(run, xp)


def mm_iterations(a, b, M, rho, reg, c, start, div, norm, num_iter_max, tol, xp, unrolled):
    """Run MM; returns ``(state, n_iter, err, trace)`` (state: log-plan for 'kl', plan for
    'l2'; ``reg`` None or 0 for no regularization; ``c`` the reference when ``reg`` > 0).

    ``err`` is the change of the plan at the last step (``norm`` 'l1' or 'fro'); the first
    trace entry is ``inf`` (no change measured before the first step).
    """
    reg = None if reg is None or (not is_traced(reg) and float(reg) == 0.0) else reg
    c = None if reg is None else c
    if is_jax_namespace(xp) and not is_traced(a, b, M, start, c):
        as_array = functools.partial(xp.asarray, dtype=M.dtype)
        run = _jitted(div, norm, reg is not None, num_iter_max, tol, xp)
        reg_arg = as_array(0.0 if reg is None else reg)
        c_arg = M if c is None else c
        state, n_iter, err, trace = run(
            a, b, M, as_array(rho[0]), as_array(rho[1]), reg_arg, c_arg, start
        )
        n_iter = int(n_iter)
        return state, n_iter, err, [float(x) for x in to_numpy(trace)[: n_iter + 1]]
    return _mm(a, b, M, rho[0], rho[1], reg, c, start, div, norm, num_iter_max, tol, xp,
               unrolled)  # fmt: skip


def _start(a, b, xp):
    """a (x) b rescaled to the geometric mean of the two masses (positive on the support)."""
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    shift = 0.5 * (xp.log(xp.sum(a)) + xp.log(xp.sum(b)))
    return log_a[:, None] + log_b[None, :] - shift


def mm_unbalanced_log(a, b, M, rho, num_iter_max, tol, xp, unrolled=False):
    """Log-plan of the exact KL-unbalanced problem by MM; returns (log_plan, n_iter, err, trace).

    ``rho`` is a pair of finite penalties; ``err`` the L1 change of the plan at the last step.
    The first trace entry is ``inf`` (no change measured before the first step).
    """
    start = _start(a, b, xp)
    return mm_iterations(a, b, M, rho, None, None, start, "kl", "l1", num_iter_max, tol, xp,
                         unrolled)  # fmt: skip


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


def primal_value(plan, a, b, M, rho, reg, c, div, xp):
    """``(F(P), <P, M>)`` for the KL or the squared-L2 penalties (``reg`` 0: none)."""
    linear = xp.sum(plan * M)
    rows, cols = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
    if div == "kl":
        total = linear + rho[0] * generalized_kl(rows, a, xp)
        total = total + rho[1] * generalized_kl(cols, b, xp)
        if reg:
            total = total + reg * generalized_kl(plan, c, xp)
        return total, linear
    d_rows, d_cols = rows - a, cols - b
    total = linear + 0.5 * (rho[0] * xp.sum(d_rows * d_rows) + rho[1] * xp.sum(d_cols * d_cols))
    if reg:
        d_plan = plan - c
        total = total + 0.5 * reg * xp.sum(d_plan * d_plan)
    return total, linear


def unbalanced_primal(plan, a, b, M, rho, xp):
    """``(<P, M> + rho_a KL(P1 | a) + rho_b KL(P^T 1 | b), <P, M>)`` (finite rho)."""
    return primal_value(plan, a, b, M, rho, 0.0, None, "kl", xp)
