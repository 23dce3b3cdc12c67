"""The generic log-domain Sinkhorn loop, on any array-API namespace.

Potentials ``f`` (n, k) and ``g`` (m, k) are in cost units and the plan of problem ``l`` is
``P_ij = a_i b_jl exp((f_il + g_jl - C_ij) / eps)``.  One iteration is two exact
c-transforms (softmins)::

    f_i <- -eps log sum_j b_j exp((g_j - C_ij) / eps)
    g_j <- -eps log sum_i a_i exp((f_i - C_ij) / eps)

computed with the backend's fused ``logsumexp``, so nothing under- or overflows whatever
``eps``.  After a ``g`` update the column marginals are exact and the row marginals are
``a_i exp((f_i - f'_i) / eps)`` where ``f'`` is the next ``f`` update: the stopping test
therefore costs O(n), not an extra pass over the cost matrix.

Eagerly the loop is a Python loop that stops at the tolerance.  When the inputs are JAX
tracers (``jax.jit``) it is ``jax.lax.while_loop`` (tolerance-based) or, for unrolled
reverse-mode autodiff, a masked ``fori_loop`` (updates freeze once converged).

The softmins are parameters (DESIGN §5): the dense ones below by default, the online
point-cloud ones of :mod:`otkit._pointcloud` (cost blocks recomputed from the points) for
``empirical_sinkhorn`` and the divergences. ``damping`` turns the same loop into unbalanced
Sinkhorn, and :func:`symmetric_log_loop` solves the self-transport terms of the debiased
divergence with the same driver, :func:`iterate`.
"""

from __future__ import annotations

import math

from .backend import fori_loop, is_traced, logsumexp, stop_gradient, while_loop

__all__ = [
    "iterate",
    "log_weights",
    "sinkhorn_log_loop",
    "softmin_cols",
    "softmin_rows",
    "symmetric_log_loop",
]


def log_weights(w, xp):
    """log(w) with -inf for zero weights, with a finite gradient everywhere."""
    positive = w > 0
    safe = xp.where(positive, w, xp.ones_like(w))
    return xp.where(positive, xp.log(safe), xp.full_like(w, -math.inf))


def softmin_rows(C, g, log_b, eps, xp):
    """f_il = -eps log sum_j exp(log b_jl + (g_jl - C_ij) / eps); g, log_b are (m, k)."""
    if g.shape[1] == 1:  # 2-D reductions are much faster than (n, m, 1) ones
        scores = (g[:, 0][None, :] - C) / eps + log_b[:, 0][None, :]
        return -eps * logsumexp(scores, axis=1, xp=xp)[:, None]
    scores = (g[None, :, :] - C[:, :, None]) / eps + log_b[None, :, :]
    return -eps * logsumexp(scores, axis=1, xp=xp)


def softmin_cols(C, f, log_a, eps, xp):
    """g_jl = -eps log sum_i exp(log a_i + (f_il - C_ij) / eps); f is (n, k), log_a (n, 1)."""
    if f.shape[1] == 1:
        scores = (f[:, 0][:, None] - C) / eps + log_a
        return -eps * logsumexp(scores, axis=0, xp=xp)[:, None]
    scores = (f[:, None, :] - C[:, :, None]) / eps + log_a[:, None, :]
    return -eps * logsumexp(scores, axis=0, xp=xp)


def _row_error(a_col, f, f_next, eps, xp):
    """L2 norm of (row marginal - a) of the state (f, g) whose next row update is f_next."""
    ratio = xp.exp(xp.clip((f - f_next) / eps, max=700.0)) - 1.0
    residual = xp.where(a_col > 0, a_col * ratio, xp.zeros_like(ratio))
    err = xp.sqrt(xp.sum(residual * residual))
    # A NaN would end the loop as if converged; treat it as "far from converged".
    return xp.where(xp.isnan(err), xp.full_like(err, math.inf), err)


def sinkhorn_log_loop(
    a,
    b,
    C,
    eps,
    f0,
    num_iter_max,
    tol,
    xp,
    unrolled=False,
    *,
    softmin_rows=softmin_rows,
    softmin_cols=softmin_cols,
    damping=1.0,
    return_next=False,
):
    """Solve the k problems (a, b[:, l], C) from the row potential ``f0``.

    Parameters
    ----------
    a : (n,) array
    b : (m, k) array
    C : (n, m) array, or any object that the two softmins understand (a point-cloud
        geometry for the online solver)
    eps : float or 0-d array
    f0 : (n, k) array
        Initial row potential (cost units); the column potential is its c-transform.
    num_iter_max : int
    tol : float
        Stop when the L2 norm of the row-marginal error is <= tol.
    unrolled : bool
        Under JAX tracing, use a fixed-length masked loop (reverse-mode differentiable).
    softmin_rows, softmin_cols : callable
        The c-transforms ``softmin_rows(C, g, log_b, eps, xp)`` -> (n, k) and
        ``softmin_cols(C, f, log_a, eps, xp)`` -> (m, k); the dense ones by default.
    damping : float or 0-d array
        Each update is multiplied by it: 1 for balanced OT, rho / (rho + eps) for the KL
        marginal penalty rho (unbalanced OT). The error is then the fixed-point residual
        ``a (exp((f - f_next) / eps) - 1)``, in mass units, zero at the optimum.
    return_next : bool
        Also return ``f_next``, the (damped) row update computed from the returned ``g``.

    Returns
    -------
    f, g : (n, k), (m, k) arrays
        Potentials of the last measured state (its column marginals are exact).
    n_iter : int or 0-d int array
    err : 0-d array
        Row-marginal error of (f, g).
    trace : list of float, or (num_iter_max + 1,) array under tracing (NaN past ``n_iter``)
    f_next : (n, k) array, only with ``return_next``
    """
    log_a = log_weights(a, xp)[:, None]
    log_b = log_weights(b, xp)
    a_col = a[:, None]

    def half_steps(f):
        g = damping * softmin_cols(C, f, log_a, eps, xp)
        return g, damping * softmin_rows(C, g, log_b, eps, xp)

    def advance(state):
        _, _, f_next = state
        g, f_after = half_steps(f_next)
        return (f_next, g, f_after), _row_error(a_col, f_next, f_after, eps, xp)

    g, f_next = half_steps(f0)
    state = (f0, g, f_next)
    err = _row_error(a_col, f0, f_next, eps, xp)
    geometry = C if isinstance(C, tuple) else (C,)  # a point cloud is an (x, y, ...) tuple
    traced = is_traced(a, b, f0, eps, *geometry)
    state, n_iter, err, trace = iterate(
        advance, state, err, num_iter_max, tol, xp, traced, unrolled
    )
    f, g, f_next = state
    if return_next:
        return f, g, n_iter, err, trace, f_next
    return f, g, n_iter, err, trace


def symmetric_log_loop(a, eps, f0, num_iter_max, tol, xp, softmin, damping=1.0, traced=False):
    """Self-transport OT_eps(a, a) by the averaged update f <- (f + damping * T(f)) / 2.

    ``f0`` is an (n,) array and ``softmin(f)`` the (n,) c-transform of ``f`` against ``a``
    on the same cloud. The averaged
    (symmetric) iteration converges fast where the alternating one oscillates (Feydy et al.
    2019, sec. 3.1); the error is the residual ``a (exp((f - damping T(f)) / eps) - 1)``.
    Returns ``(f, n_iter, err, trace)``.
    """
    a_col = a[:, None]

    def advance(state):
        f, update = state
        f = 0.5 * (f + update)
        update = damping * softmin(f)
        return (f, update), _row_error(a_col, f[:, None], update[:, None], eps, xp)

    update = damping * softmin(f0)
    err = _row_error(a_col, f0[:, None], update[:, None], eps, xp)
    state, n_iter, err, trace = iterate(
        advance, (f0, update), err, num_iter_max, tol, xp, traced, False
    )
    return state[0], n_iter, err, trace


def iterate(advance, state, err, num_iter_max, tol, xp, traced, unrolled=False):
    """Run ``state, err = advance(state)`` until ``err <= tol`` or ``num_iter_max`` steps.

    A Python loop eagerly; ``while_loop`` (or a masked ``fori_loop`` when ``unrolled``)
    under JAX tracing. ``state`` is a tuple of arrays. Returns ``(state, n_iter, err,
    trace)``.
    """
    if not traced:
        trace = [float(stop_gradient(err, xp))]
        n_iter = 0
        while n_iter < num_iter_max and not trace[-1] <= tol:
            state, err = advance(state)
            n_iter += 1
            trace.append(float(stop_gradient(err, xp)))
        return state, n_iter, err, trace

    trace = xp.full((num_iter_max + 1,), math.nan, dtype=err.dtype)
    positions = xp.arange(num_iter_max + 1)
    trace = xp.where(positions == 0, err, trace)
    zero = xp.asarray(0, dtype=xp.int32)

    if unrolled:

        def masked_body(_, carry):
            it, state, err, trace = carry
            done = err <= tol
            new_state, new_err = advance(state)
            it = xp.where(done, it, it + 1)
            trace = xp.where((positions == it) & ~done, new_err, trace)
            state = tuple(xp.where(done, old, new) for old, new in zip(state, new_state))
            return it, state, xp.where(done, err, new_err), trace

        carry = fori_loop(0, num_iter_max, masked_body, (zero, state, err, trace), xp=xp)
    else:

        def cond(carry):
            it, _, err, _ = carry
            return (it < num_iter_max) & (err > tol)

        def body(carry):
            it, state, _, trace = carry
            state, err = advance(state)
            it = it + 1
            return it, state, err, xp.where(positions == it, err, trace)

        carry = while_loop(cond, body, (zero, state, err, trace), xp=xp)
    n_iter, state, err, trace = carry
    return state, n_iter, err, trace
