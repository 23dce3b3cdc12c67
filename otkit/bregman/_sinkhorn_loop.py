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

On a dense cost the log-kernel ``K = -C / eps`` is built once per solve, so an update is
one broadcast add and one fused ``logsumexp`` (in place in a scratch buffer on eager torch
without autograd: see :func:`otkit.backend.logsumexp_add`).

Over-relaxation (:mod:`otkit._relaxation`) extrapolates each half step past its exact
update: the column marginals are then no longer exact, so the error is the stacked row and
column error of the measured pair, still O(n + m) from the two softmins of the iteration.

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

import numpy as np

from ..backend import (
    device_of,
    fori_loop,
    is_traced,
    logsumexp,
    logsumexp_add,
    stop_gradient,
    while_loop,
    workspace_like,
)
from ._relaxation import relax, schedule_start, schedule_step

__all__ = [
    "best_translation",
    "dense_geometry",
    "iterate",
    "log_weights",
    "row_error",
    "sinkhorn_log_loop",
    "softmin_cols",
    "softmin_rows",
    "symmetric_log_loop",
]


def log_weights(w, xp):
    """log(w) with -inf for zero weights, with a finite gradient everywhere."""
    if type(w) is np.ndarray and w.size and np.minimum.reduce(w, axis=None) > 0:
        return np.log(w)  # (no autodiff on NumPy: the masks are for zero weights only)
    positive = w > 0
    safe = xp.where(positive, w, xp.ones_like(w))
    return xp.where(positive, xp.log(safe), xp.full_like(w, -math.inf))


def dense_geometry(C, eps, xp):
    """What the dense softmins work on: the log-kernel ``-C / eps`` and a scratch buffer.

    Built once per solve (not ``(g - C) / eps`` at every update); the buffer is None where
    in-place work does not apply (JAX, autograd).
    """
    log_kernel = C / (-eps)
    return log_kernel, workspace_like(log_kernel, xp)


def softmin_rows(geometry, g, log_b, eps, xp):
    """f_il = -eps log sum_j exp(log b_jl + (g_jl - C_ij) / eps); g, log_b are (m, k)."""
    log_kernel, workspace = geometry
    shift = g / eps + log_b
    if g.shape[1] == 1:  # 2-D reductions are much faster than (n, m, 1) ones
        lse = logsumexp_add(log_kernel, shift[:, 0][None, :], 1, xp, workspace=workspace)
        return -eps * lse[:, None]
    return -eps * logsumexp(log_kernel[:, :, None] + shift[None, :, :], axis=1, xp=xp)


def softmin_cols(geometry, f, log_a, eps, xp):
    """g_jl = -eps log sum_i exp(log a_i + (f_il - C_ij) / eps); f is (n, k), log_a (n, 1)."""
    log_kernel, workspace = geometry
    shift = f / eps + log_a
    if f.shape[1] == 1:
        lse = logsumexp_add(log_kernel, shift, 0, xp, workspace=workspace)
        return -eps * lse[:, None]
    return -eps * logsumexp(log_kernel[:, :, None] + shift[:, None, :], axis=0, xp=xp)


# The loop's parameters of the same names default to these.
_dense_rows, _dense_cols = softmin_rows, softmin_cols


def _squared_residual(weights, p, p_next, eps, xp, positive=False):
    """Squared L2 norm of ``weights (exp((p - p_next) / eps) - 1)``: the marginal error of a
    state whose exact update of this potential is ``p_next``. ``positive``: every weight is
    known to be > 0 (no mask needed for the rows of zero weight)."""
    ratio = xp.exp(xp.minimum((p - p_next) / eps, 700.0)) - 1.0
    if positive:
        residual = weights * ratio
    else:
        residual = xp.where(weights > 0, weights * ratio, xp.zeros_like(ratio))
    if type(residual) is np.ndarray:  # one BLAS dot, without numpy.sum's Python layers
        residual = residual.ravel()
        return residual @ residual
    return xp.sum(residual * residual)


def _finite_error(squared, xp):
    err = xp.sqrt(squared)
    # A NaN would end the loop as if converged; treat it as "far from converged".
    return xp.where(xp.isnan(err), xp.full_like(err, math.inf), err)


def _host_error(squared):
    """:func:`_finite_error` as a Python float (eager CPU loops: reading a 0-d array costs
    about as much as one array operation, and the float arithmetic nothing)."""
    err = math.sqrt(float(squared))
    return math.inf if math.isnan(err) else err


class _Scalars:
    """The namespace functions that the relaxation schedule (:mod:`otkit._relaxation`) calls,
    on Python floats and bools: eager CPU loops keep the schedule's five numbers on the host,
    where a step costs about a microsecond instead of the ~25 0-d array operations."""

    minimum, maximum, sqrt, remainder = min, max, math.sqrt, math.fmod

    @staticmethod
    def where(condition, x, y):
        return x if condition else y

    @staticmethod
    def full_like(_, value):
        return float(value)

    @staticmethod
    def zeros_like(_):
        return 0.0

    @staticmethod
    def ones_like(_):
        return 1.0


def row_error(a_col, f, f_next, eps, xp):
    """L2 norm of (row marginal - a) of the state (f, g) whose next row update is f_next."""
    return _finite_error(_squared_residual(a_col, f, f_next, eps, xp), xp)


def _with_last(trace, err, n_iter, xp):
    """The trace with its entry ``n_iter`` (the last one) replaced by ``err``."""
    if isinstance(trace, list):
        return [*trace[:-1], err if isinstance(err, float) else float(stop_gradient(err, xp))]
    positions = xp.arange(trace.shape[0])
    return xp.where(positions == n_iter, stop_gradient(err, xp), trace)


def _check_interval(x):
    """Iterations between two reads of the error on the host: 1 on the CPU; 10 on an
    accelerator, where each read is a synchronization that stalls the queue of kernels."""
    device = device_of(x)
    return 1 if device is None or "cpu" in str(device).lower() else 10


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
    softmin_rows=None,
    softmin_cols=None,
    damping=1.0,
    omega=1.0,
    return_next=False,
    translate=None,
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
        Stop when the L2 norm of the row-marginal error is below tol (of the stacked row and
        column errors with over-relaxation); as POT, tol = 0 runs ``num_iter_max`` iterations.
    unrolled : bool
        Under JAX tracing, use a fixed-length masked loop (reverse-mode differentiable).
    softmin_rows, softmin_cols : callable, optional
        The c-transforms ``softmin_rows(C, g, log_b, eps, xp)`` -> (n, k) and
        ``softmin_cols(C, f, log_a, eps, xp)`` -> (m, k). By default ``C`` is a dense cost
        matrix, replaced once by :func:`dense_geometry` for the dense softmins.
    damping : float or 0-d array
        Each update is multiplied by it: 1 for balanced OT, rho / (rho + eps) for the KL
        marginal penalty rho (unbalanced OT). The error is then the fixed-point residual
        ``a (exp((f - f_next) / eps) - 1)``, in mass units, zero at the optimum.
    omega : float or None
        Over-relaxation: 1 is plain Sinkhorn; a factor in (1, 2) moves each potential
        ``omega`` times its exact update from where it was (the overshoot capped at eps);
        None estimates the optimal factor from the observed rate of convergence. Falls back
        to 1 for good if the error grows tenfold over its minimum (:mod:`otkit._relaxation`).
    return_next : bool
        Also return ``f_next``, the (damped) row update computed from the returned ``g``.
    translate : float or 0-d array, optional
        Unbalanced problems (``damping = rho / (rho + eps)``) only: the marginal penalty
        rho, shared by both marginals. Each iteration then starts by moving the pair
        (f, g) to the best translation (f + t, g - t) of the dual objective, in closed
        form (:func:`best_translation`). The plain unbalanced iteration shrinks the error
        along that direction only by ``damping**2`` per iteration (0.998 at eps / rho =
        1e-3: thousands of iterations); the extra step, exact block ascent of the dual as
        the two updates are, removes it, and the fixed point is unchanged (T. Sejourne,
        F.-X. Vialard, G. Peyre, Faster unbalanced optimal transport: translation
        invariant Sinkhorn and 1-D Frank-Wolfe, AISTATS 2022). Combines with
        over-relaxation (the pair is translated before the relaxed updates).

    Returns
    -------
    f, g : (n, k), (m, k) arrays
        Potentials of the last measured state (its column marginals are exact: a relaxed
        solve ends with the exact update of g).
    n_iter : int or 0-d int array
    err : 0-d array
        Marginal error of (f, g).
    trace : list of float, or (num_iter_max + 1,) array under tracing (NaN past ``n_iter``)
    f_next : (n, k) array, only with ``return_next``
    """
    if softmin_rows is None:
        C, softmin_rows, softmin_cols = dense_geometry(C, eps, xp), _dense_rows, _dense_cols
    log_a = log_weights(a, xp)[:, None]
    log_b = log_weights(b, xp)
    a_col = a[:, None]
    geometry = C if isinstance(C, tuple) else (C,)  # a point cloud is an (x, y, ...) tuple
    traced = is_traced(a, b, f0, eps, *geometry)
    check_every = 1 if traced else _check_interval(f0)
    measure = _Measure(a_col, b, eps, xp, host=not traced and check_every == 1)

    damped = not (isinstance(damping, float) and damping == 1.0)

    def update_cols(f):
        g = softmin_cols(C, f, log_a, eps, xp)
        return damping * g if damped else g

    def update_rows(g):
        f = softmin_rows(C, g, log_b, eps, xp)
        return damping * f if damped else f

    def shift(f, g):  # the best translation (f + t, g - t), as a (1, k) array
        return translation(log_a, log_b, f, g, translate, 0, xp)[None, :]

    g = update_cols(f0)
    f_next = update_rows(g)
    err = measure.rows(f0, f_next)

    def plain_advance(state):
        _, g, f_next = state
        if translate is not None:
            f_next = f_next + shift(f_next, g)
        g = update_cols(f_next)
        f_after = update_rows(g)
        return (f_next, g, f_after), measure.rows(f_next, f_after)

    if omega == 1.0:
        advance, state = plain_advance, (f0, g, f_next)
    else:
        advance, state = _overrelaxed(
            update_cols, update_rows, measure, eps, omega, xp, (f0, g, f_next, err),
            None if translate is None else shift,
        )  # fmt: skip
    state, n_iter, err, trace = iterate(
        advance, state, err, num_iter_max, tol, xp, traced, unrolled, check_every
    )
    f, g, f_next = state[:3]
    if omega != 1.0:
        # End as plain Sinkhorn does, on (f, T(f)): exact columns (a plan of the right mass
        # even unconverged) and the row error of that pair. It can exceed the stacked error
        # of the relaxed pair, slightly (1.09e-6 after 1e-6): plain iterations go on then
        # (not when unrolled, whose masked loop would double the steps it records).
        g = update_cols(f)
        f_next = update_rows(g)
        err = measure.rows(f, f_next)
        trace = _with_last(trace, err, n_iter, xp)
        if not unrolled:
            state, n_iter, err, trace = iterate(
                plain_advance, (f, g, f_next), err, num_iter_max, tol, xp, traced,
                check_every=check_every, resume=(n_iter, trace),
            )  # fmt: skip
            f, g, f_next = state
    err = measure.as_array(err, f)
    if return_next:
        return f, g, n_iter, err, trace, f_next
    return f, g, n_iter, err, trace


class _Measure:
    """The loop's marginal errors: Python floats in eager CPU loops (``host``), where reading
    a 0-d array back costs no more than an array operation and the stopping test and the
    relaxation schedule then run on floats; 0-d arrays under tracing and on accelerators
    (no synchronization per iteration). Eagerly, the masks for rows or columns of zero
    weight are left out when every weight is positive."""

    def __init__(self, a_col, b, eps, xp, host):
        self.a_col, self.b, self.eps, self.xp, self.host = a_col, b, eps, xp, host
        self.positive_a = host and bool(xp.all(a_col > 0))
        self.positive_b = host and b is not None and bool(xp.all(b > 0))
        self.schedule_xp = _Scalars if host else xp

    def _finish(self, squared):
        if self.host:  # (detached: a tensor that autograd records warns when read)
            return _host_error(stop_gradient(squared, self.xp))
        return _finite_error(squared, self.xp)

    def rows(self, f, f_next):
        """Row-marginal error of the state (f, T(f)) whose next row update is f_next."""
        squared = _squared_residual(self.a_col, f, f_next, self.eps, self.xp, self.positive_a)
        return self._finish(squared)

    def stacked(self, f, f_exact, g, g_exact):
        """L2 norm of the stacked row and column errors of a relaxed pair."""
        xp, eps = self.xp, self.eps
        squared = _squared_residual(self.a_col, f, f_exact, eps, xp, self.positive_a)
        squared = squared + _squared_residual(self.b, g, g_exact, eps, xp, self.positive_b)
        return self._finish(squared)

    def detached(self, err):
        return err if self.host else stop_gradient(err, self.xp)

    def as_array(self, err, like):
        """The error as the 0-d array of ``like``'s dtype and device the callers expect."""
        if not isinstance(err, float):
            return err
        return self.xp.asarray(err, dtype=like.dtype, device=device_of(like))


def best_translation(a, b, f, g, rho, xp):
    """The t that maximizes the dual objective at (f + t, g - t), per problem (1, k).

    Only the marginal terms rho <a, 1 - exp(-f / rho)> + rho <b, 1 - exp(-g / rho)> move
    with t (the entropic term depends on f + g); they are largest where
    exp(-t / rho) <a, exp(-f / rho)> = exp(t / rho) <b, exp(-g / rho)>, i.e.
    t = rho / 2 (log <a, exp(-f / rho)> - log <b, exp(-g / rho)>). ``a`` is (n, 1), ``b``
    (m, k), ``f`` (n, k), ``g`` (m, k).
    """
    shift = translation(log_weights(a, xp), log_weights(b, xp), f, g, rho, 0, xp)
    return shift[None, :]


def translation(log_a, log_b, f, g, rho, axis, xp):
    """:func:`best_translation` from log-weights, the points along ``axis`` (the batched
    engine's problems are rows, this module's columns); the problems' axis is dropped."""
    left = logsumexp(log_a - f / rho, axis=axis, xp=xp)
    right = logsumexp(log_b - g / rho, axis=axis, xp=xp)
    return (0.5 * rho) * (left - right)


def _overrelaxed(update_cols, update_rows, measure, eps, omega, xp, start, shift=None):
    """``(advance, state)`` for ``iterate``: Sinkhorn over-relaxed by ``omega`` (None: adaptive;
    see :mod:`otkit._relaxation`) from ``start = (f0, T(f0), T(T(f0)), error of f0)``;
    ``shift(f, g)``, if given, is the translation applied before each iteration.

    The measured pair is (f, g) with g relaxed: its rows need T(g), its columns T(f), the two
    exact updates that the iteration computes anyway. The schedule runs on floats where the
    errors are floats (:class:`_Measure`).
    """
    adaptive = omega is None
    schedule_xp = measure.schedule_xp

    def advance(state):
        _, g_prev, f, *schedule = state
        w = schedule[0]
        if shift is not None:
            t = shift(f, g_prev)
            f, g_prev = f + t, g_prev - t
        g_exact = update_cols(f)
        g = relax(g_prev, g_exact, w, eps, xp)
        f_exact = update_rows(g)
        err = measure.stacked(f, f_exact, g, g_exact)
        # The factor is a tuning knob, not part of the solution: no gradient through it.
        schedule = schedule_step(tuple(schedule), measure.detached(err), adaptive, schedule_xp)
        return (f, g, relax(f, f_exact, schedule[0], eps, xp), *schedule), err

    f0, g, f_exact, err = start
    schedule = schedule_start(measure.detached(err), omega, schedule_xp)
    return advance, (f0, g, relax(f0, f_exact, schedule[0], eps, xp), *schedule)


def symmetric_log_loop(a, eps, f0, num_iter_max, tol, xp, softmin, damping=1.0, traced=False):
    """Self-transport OT_eps(a, a) by the averaged update f <- (f + damping * T(f)) / 2.

    ``f0`` is an (n,) array and ``softmin(f)`` the (n,) c-transform of ``f`` against ``a``
    on the same cloud. The averaged
    (symmetric) iteration converges fast where the alternating one oscillates (Feydy et al.
    2019, sec. 3.1); the error is the residual ``a (exp((f - damping T(f)) / eps) - 1)``.
    Returns ``(f, n_iter, err, trace)``.
    """
    a_col = a[:, None]
    measure = _Measure(a_col, None, eps, xp, host=not traced and _check_interval(f0) == 1)

    def advance(state):
        f, update = state
        f = 0.5 * (f + update)
        update = damping * softmin(f)
        return (f, update), measure.rows(f[:, None], update[:, None])

    update = damping * softmin(f0)
    err = measure.rows(f0[:, None], update[:, None])
    state, n_iter, err, trace = iterate(
        advance, (f0, update), err, num_iter_max, tol, xp, traced, False
    )
    return state[0], n_iter, measure.as_array(err, f0), trace


def iterate(
    advance, state, err, num_iter_max, tol, xp, traced, unrolled=False, check_every=1,
    resume=None,
):  # fmt: skip
    """Run ``state, err = advance(state)`` until ``err < tol`` or ``num_iter_max`` steps.

    A Python loop eagerly; ``while_loop`` (or a masked ``fori_loop`` when ``unrolled``)
    under JAX tracing. ``state`` is a tuple of arrays; ``err`` a 0-d array, or a Python float
    in eager CPU loops (``advance`` then returns floats too). Eagerly the errors are read on
    the host every ``check_every`` iterations only (the trace still has one entry per
    iteration; the loop may run up to ``check_every - 1`` iterations past the first error
    under ``tol``). ``resume``: the ``(n_iter, trace)`` of an earlier call whose last error
    is ``err`` (not with ``unrolled``), counted on. Returns ``(state, n_iter, err, trace)``.
    """
    if not traced and resume is not None:
        n_iter, trace = resume[0], list(resume[1])
        if not trace[-1] < tol and n_iter < num_iter_max:
            state, more, err, tail = iterate(
                advance, state, err, num_iter_max - n_iter, tol, xp, False, False, check_every
            )
            n_iter, trace = n_iter + more, trace + tail[1:]
        return state, n_iter, err, trace
    if not traced and isinstance(err, float):  # errors measured on the host (_Measure)
        trace = [err]
        n_iter = 0
        while n_iter < num_iter_max and not trace[-1] < tol:
            state, err = advance(state)
            n_iter += 1
            trace.append(err)
        return state, n_iter, err, trace
    if not traced:
        trace = [float(stop_gradient(err, xp))]
        pending = []
        n_iter = 0
        while n_iter < num_iter_max and not trace[-1] < tol:
            state, err = advance(state)
            n_iter += 1
            pending.append(stop_gradient(err, xp))
            if len(pending) >= check_every or n_iter == num_iter_max:
                trace.extend(float(e) for e in pending)
                pending = []
        return state, n_iter, err, trace

    positions = xp.arange(num_iter_max + 1)
    if resume is not None:
        zero, trace = resume
    else:
        trace = xp.full((num_iter_max + 1,), math.nan, dtype=err.dtype)
        trace = xp.where(positions == 0, err, trace)
        zero = xp.asarray(0, dtype=xp.int32)

    if unrolled:

        def masked_body(_, carry):
            it, state, err, trace = carry
            done = err < tol
            new_state, new_err = advance(state)
            it = xp.where(done, it, it + 1)
            trace = xp.where((positions == it) & ~done, new_err, trace)
            state = tuple(xp.where(done, old, new) for old, new in zip(state, new_state))
            return it, state, xp.where(done, err, new_err), trace

        carry = fori_loop(0, num_iter_max, masked_body, (zero, state, err, trace), xp=xp)
    else:

        def cond(carry):
            it, _, err, _ = carry
            return (it < num_iter_max) & ~(err < tol)

        def body(carry):
            it, state, _, trace = carry
            state, err = advance(state)
            it = it + 1
            return it, state, err, xp.where(positions == it, err, trace)

        carry = while_loop(cond, body, (zero, state, err, trace), xp=xp)
    n_iter, state, err, trace = carry
    return state, n_iter, err, trace
