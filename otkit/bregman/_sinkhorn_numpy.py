"""Eager Sinkhorn solvers: the stabilized scaling loop (NumPy or torch) and greenkhorn (NumPy).

Stabilized scaling (Schmitzer 2019, "Stabilized sparse scaling algorithms", §3.2): the
potentials ``f, g`` (cost units) are kept apart from scalings ``u, v`` and the stabilized
kernel ``K_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)`` is built once; iterations are then the
matrix-vector products of the exponential domain on ``u, v``, which stay close to 1::

    u <- a / (K v),    v <- b / (K^T u),    plan = diag(u) K diag(v).

When a scaling leaves [1e-50, 1e50] ([2.3e-10, 4.3e9] in float32), or becomes 0 or inf because
a row or column of the kernel underflowed, it is absorbed into the potentials and the kernel
is rebuilt by an *exact* log-domain half step (the shift by the row or column maximum makes
every row, or column, of the new kernel hold an entry equal to its weight).  The iteration is
therefore the log-domain iteration up to rounding, never loses mass, and costs two mat-vecs per
iteration between rebuilds.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import inplace_ops
from ._relaxation import relax, schedule_start, schedule_step

__all__ = ["batched_scaling", "greenkhorn_host", "log_c_transform", "stabilized_sinkhorn"]


def _limits(dtype, xp):
    """(scaling bound, exponent floor) for a floating dtype.

    Scalings are absorbed once they leave [1/bound, bound]: 1e50 in float64, and the fourth
    root of the largest value in narrower types (products of two scalings and a kernel entry
    must stay finite). Kernel exponents below the floor are raised to it: it keeps the kernel
    (an entry times a weight) out of the subnormal range, slow in BLAS, while staying
    negligible next to the row maximum 1 (e^-690 in float64, e^-69 in float32).
    """
    if xp is np and dtype in _NUMPY_LIMITS:
        return _NUMPY_LIMITS[dtype]
    info = xp.finfo(dtype)
    bound = min(1e50, float(info.max) ** 0.25)
    floor = math.log(float(info.smallest_normal)) + 18.0
    if xp is np:
        _NUMPY_LIMITS[dtype] = bound, floor
    return bound, floor


_NUMPY_LIMITS: dict = {}  # _limits by NumPy dtype (finfo costs microseconds per call)


def log_c_transform(C, potential, log_weights, eps, axis):
    """Exact log-domain c-transform along ``axis`` (1: rows from g, 0: columns from f)."""
    if axis == 1:
        scores = (potential[None, :] - C) / eps + log_weights[None, :]
    else:
        scores = (potential[:, None] - C) / eps + log_weights[:, None]
    top = scores.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    sums = np.exp(scores - top).sum(axis=axis, keepdims=True)
    return np.squeeze(-eps * (np.log(sums) + top), axis=axis)


def _normalized_kernel(C, potential, weights, other_log_weights, eps, axis, floor, xp):
    """Exact potential update along ``axis`` and the kernel whose slices sum to ``weights``.

    ``axis=1``: rows, f from g (``potential``); ``axis=0``: columns, g from f.  The kernel
    ``exp((potential - C) / eps + log w - top)`` is built in one buffer, shifted by its slice
    maxima ``top`` (every slice keeps an entry 1 before normalization), so u = v = 1 after.
    """
    ops = inplace_ops(xp)
    kernel = C * (-1.0 / eps)
    shift = potential / eps + other_log_weights
    kernel = ops.add(kernel, shift[None, :] if axis == 1 else shift[:, None])
    top = xp.max(kernel, axis=axis)
    kernel = ops.add(kernel, -(top[:, None] if axis == 1 else top[None, :]))
    kernel = ops.exp(ops.clip_min(kernel, floor))
    sums = xp.sum(kernel, axis=axis)
    ratio = weights / sums
    kernel = ops.multiply(kernel, ratio[:, None] if axis == 1 else ratio[None, :])
    return kernel, -eps * (top + xp.log(sums))


def _report(verbose, n_iter, err):
    """``verbose``: False, True (print every 200 iterations) or a callable
    ``verbose(n_iter, marginal_error)``, called at every iteration (progress bars)."""
    if callable(verbose):
        verbose(n_iter, err)
    elif verbose and n_iter % 200 == 0:
        print(f"{n_iter:5d} | {err:.3e}")


def _norm(x, xp):
    return float(xp.sqrt(xp.sum(x * x)))


def _in_range(x, bound, xp):
    return bool(xp.all(x > 1.0 / bound) and xp.all(x < bound))


def _relaxed_scaling(previous, exact, w, xp):
    """The scaling of the over-relaxed potential (:mod:`otkit._relaxation`): eps log(u) is
    the potential, so the relaxation acts on log(u) with the overshoot capped at 1."""
    if w == 1.0:
        return exact
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return xp.exp(relax(xp.log(previous), xp.log(exact), w, 1.0, xp))


def stabilized_sinkhorn(a, b, C, eps, f0, num_iter_max, tol, verbose=False, omega=1.0, xp=np):
    """Stabilized Sinkhorn on positive weights (zero weights must be removed beforehand).

    Runs eagerly on NumPy or torch arrays (``xp``), in their dtype and on their device.

    Parameters
    ----------
    a, b : (n,), (m,) arrays, positive
    C : (n, m) array
    eps : float
    f0 : (n,) array
        Initial row potential; the first step is an exact log-domain c-transform.
    num_iter_max : int
    tol : float
        Stop when the L2 norm of the row-marginal error is < tol (columns are exact).
    verbose : bool or callable, default=False
        True prints the error every 200 iterations; a callable is called as
        ``verbose(n_iter, err)`` at every iteration (``otkit.solve``'s progress bar).
    omega : float or None, default=1.0
        Over-relaxation (:mod:`otkit._relaxation`): 1 is plain Sinkhorn, a float in (1, 2) a
        fixed factor, None the adaptive one. Relaxed, the columns are not exact: the error
        is the stacked row and column error (``u @ kernel`` of the last v update gives it),
        and the solve ends with an exact v update (the last error is then the row error).
    xp : namespace, default=numpy

    Returns
    -------
    plan : (n, m) array
    f, g : potentials of the returned plan (cost units)
    n_iter : int
    trace : list of float
        Row-marginal error before each iteration and of the returned state.
    n_rebuilds : int
    """
    bound, floor = _limits(C.dtype, xp)
    log_a, log_b = xp.log(a), xp.log(b)
    kernel, g = _normalized_kernel(C, f0, b, log_a, eps, 0, floor, xp)
    f = f0
    if xp is np and omega == 1.0 and not verbose and not callable(verbose):
        return _plain_numpy_loop(
            a, b, C, eps, kernel, f, g, num_iter_max, tol, bound, floor, log_a, log_b
        )
    n_rebuilds = 1
    u, v = xp.ones_like(a), xp.ones_like(b)
    trace = []
    n_iter = 0
    relaxed, schedule, w, col_sums = omega != 1.0, None, 1.0, b
    while True:
        row_sums = kernel @ v
        err = _norm(u * row_sums - a, xp)
        if relaxed:
            err = math.hypot(err, _norm(v * col_sums - b, xp))
        if math.isnan(err):
            err = math.inf
        trace.append(err)
        _report(verbose, n_iter, err)
        if err < tol or n_iter >= num_iter_max:
            break
        if relaxed:
            error = np.asarray(err)
            schedule = (
                schedule_start(error, omega, np)
                if schedule is None
                else schedule_step(schedule, error, omega is None, np)
            )
            w = float(schedule[0])
        with np.errstate(divide="ignore", over="ignore"):
            u = _relaxed_scaling(u, a / row_sums, w, xp)
        if not _in_range(u, bound, xp):
            g = g + eps * xp.log(v)
            kernel, f = _normalized_kernel(C, g, a, log_b, eps, 1, floor, xp)
            n_rebuilds += 1
            u, v = xp.ones_like(a), xp.ones_like(b)
        col_sums = u @ kernel
        with np.errstate(divide="ignore", over="ignore"):
            v = _relaxed_scaling(v, b / col_sums, w, xp)
        if not _in_range(v, bound, xp):
            f = f + eps * xp.log(u)
            kernel, g = _normalized_kernel(C, f, b, log_a, eps, 0, floor, xp)
            n_rebuilds += 1
            u, v = xp.ones_like(a), xp.ones_like(b)
            col_sums = b
        n_iter += 1
    if relaxed:  # end as plain Sinkhorn: exact columns, and the row error of that state
        with np.errstate(divide="ignore", over="ignore"):
            v = b / (u @ kernel)
        if not _in_range(v, bound, xp):
            f = f + eps * xp.log(u)
            kernel, g = _normalized_kernel(C, f, b, log_a, eps, 0, floor, xp)
            u, v = xp.ones_like(a), xp.ones_like(b)
        err = _norm(u * (kernel @ v) - a, xp)
        trace[-1] = err if math.isfinite(err) else math.inf
    ops = inplace_ops(xp)
    plan = ops.multiply(ops.multiply(kernel, u[:, None]), v[None, :])
    return plan, f + eps * xp.log(u), g + eps * xp.log(v), n_iter, trace, n_rebuilds


def _plain_numpy_loop(a, b, C, eps, kernel, f, g, num_iter_max, tol, bound, floor, log_a, log_b):
    """The loop of :func:`stabilized_sinkhorn` for NumPy without relaxation or reports: the
    same operations in the same order (the same values, bit for bit), with fewer calls per
    iteration, which dominate on small problems: the norm and range tests call the ufuncs
    directly (``min > 1 / bound`` holds exactly when every entry does, NaN included), and
    one ``errstate`` covers the whole loop (only the scaling updates can divide by zero or
    overflow; a rebuild starts from scalings in range)."""
    low, smallest, largest, total = 1.0 / bound, np.minimum.reduce, np.maximum.reduce, np.add.reduce
    u, v = np.ones_like(a), np.ones_like(b)
    trace = []
    n_iter = 0
    n_rebuilds = 1
    with np.errstate(divide="ignore", over="ignore"):
        while True:
            row_sums = kernel @ v
            residual = u * row_sums
            residual -= a
            residual *= residual
            err = math.sqrt(total(residual))
            if math.isnan(err):
                err = math.inf
            trace.append(err)
            if err < tol or n_iter >= num_iter_max:
                break
            u = a / row_sums
            if not (smallest(u) > low and largest(u) < bound):
                g = g + eps * np.log(v)
                kernel, f = _normalized_kernel(C, g, a, log_b, eps, 1, floor, np)
                n_rebuilds += 1
                u, v = np.ones_like(a), np.ones_like(b)
            v = b / (u @ kernel)
            if not (smallest(v) > low and largest(v) < bound):
                f = f + eps * np.log(u)
                kernel, g = _normalized_kernel(C, f, b, log_a, eps, 0, floor, np)
                n_rebuilds += 1
                u, v = np.ones_like(a), np.ones_like(b)
            n_iter += 1
    plan = np.multiply(kernel, u[:, None], out=kernel)
    plan = np.multiply(plan, v[None, :], out=plan)
    return plan, f + eps * np.log(u), g + eps * np.log(v), n_iter, trace, n_rebuilds


def _divergence(target, current):
    """rho(t, c) = c - t + t log(t / c), the greedy score of Altschuler et al. (2017)."""
    # Written as t (r - log1p(r)) with r = (c - t) / t: no cancellation near convergence.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = (current - target) / target
        out = target * (ratio - np.log1p(ratio))
    return np.where(np.isnan(out), np.inf, out)


def greenkhorn_host(a, b, C, eps, f0, num_iter_max, tol, verbose=False):
    """Greenkhorn (greedy coordinate Sinkhorn) in the log domain on positive weights.

    One iteration is a sweep of ``n + m`` greedy updates: the row or column whose marginal is
    farthest from its target (in the score rho above) gets its exact c-transform.  Row and
    column sums are updated in O(n + m) per step and recomputed after each sweep.

    Returns ``(plan, f, g, n_iter, trace)``; the trace holds the L2 norm of the stacked row
    and column marginal errors after each sweep.
    """
    n, m = C.shape
    log_a, log_b = np.log(a), np.log(b)
    f = np.array(f0, dtype=np.float64)
    g = log_c_transform(C, f, log_a, eps, axis=0)

    def full_plan():
        exponent = (f[:, None] + g[None, :] - C) / eps + log_a[:, None] + log_b[None, :]
        return np.exp(exponent)

    plan = full_plan()
    trace = []
    n_iter = 0
    while True:
        rows, cols = plan.sum(axis=1), plan.sum(axis=0)
        err = float(np.sqrt(np.sum((rows - a) ** 2) + np.sum((cols - b) ** 2)))
        trace.append(err if math.isfinite(err) else math.inf)
        _report(verbose, n_iter, err)
        if err < tol or n_iter >= num_iter_max:
            break
        row_scores, col_scores = _divergence(a, rows), _divergence(b, cols)
        for _ in range(n + m):
            i, j = int(np.argmax(row_scores)), int(np.argmax(col_scores))
            if row_scores[i] >= col_scores[j]:
                if row_scores[i] <= 0.0:
                    break
                scores = (g - C[i]) / eps + log_b
                top = scores.max()
                f[i] = -eps * (top + math.log(np.exp(scores - top).sum()))
                new_row = np.exp((f[i] + g - C[i]) / eps + log_a[i] + log_b)
                cols += new_row - plan[i]
                plan[i] = new_row
                rows[i] = new_row.sum()
                row_scores[i] = _divergence(a[i], rows[i])
                col_scores = _divergence(b, cols)
            else:
                if col_scores[j] <= 0.0:
                    break
                scores = (f - C[:, j]) / eps + log_a
                top = scores.max()
                g[j] = -eps * (top + math.log(np.exp(scores - top).sum()))
                new_col = np.exp((f + g[j] - C[:, j]) / eps + log_a + log_b[j])
                rows += new_col - plan[:, j]
                plan[:, j] = new_col
                cols[j] = new_col.sum()
                col_scores[j] = _divergence(b[j], cols[j])
                row_scores = _divergence(a, rows)
        plan = full_plan()  # removes the rounding accumulated by the incremental sums
        n_iter += 1
    return plan, f, g, n_iter, trace


# Largest cost range (in units of eps) for the shared-kernel batched loop: its kernel entries
# stay above e^-100 and the scalings within about e^(+-100) of the weights (float64 holds
# e^709), so nothing underflows or overflows; wider ranges go to the log-domain loop.
BATCHED_RANGE = 100.0


def batched_scaling(a, b, C, eps, num_iter_max, tol):
    """Plain Sinkhorn for the k columns of ``b`` at once on one kernel (two matrix products
    per iteration), from the zero start; None when the cost range exceeds ``BATCHED_RANGE``
    eps (the caller then runs the log-domain loop).

    The same iteration, stopping rule and outputs as ``sinkhorn_log_loop`` with
    ``omega = 1``: the state (f, g = T(f)) is measured by the L2 norm over all columns of
    its row-marginal error. ``a`` (n,), ``b`` (m, k), ``C`` (n, m) float64 NumPy arrays
    (zero weights allowed); returns ``f`` (n, k), ``g`` (m, k) in cost units (on rows or
    columns of zero weight, the c-transform of the other potential), ``n_iter``, ``err``,
    ``trace``.
    """
    low = float(C.min())
    if not (float(C.max()) - low) / eps <= BATCHED_RANGE:
        return None
    kernel = np.exp(-(C - low) / eps)
    a_col = a[:, None]
    u = np.broadcast_to(a_col, (a.shape[0], b.shape[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = b / (kernel.T @ u)
        rows = kernel @ v
        err = float(np.linalg.norm(u * rows - a_col))
        trace, n_iter = [err], 0
        while n_iter < num_iter_max and not err < tol:
            u = a_col / rows
            v = b / (kernel.T @ u)
            rows = kernel @ v
            err = float(np.linalg.norm(u * rows - a_col))
            trace.append(err)
            n_iter += 1
        cols = kernel.T @ u
        # u = a is the start f = low for the kernel exp(-(C - low) / eps), i.e. f = 0 for
        # exp(-C / eps): the iteration commutes with (f + c, g - c), so g takes the +low.
        f = np.where(a_col > 0, eps * np.log(u / a_col), -eps * np.log(rows))
        g = np.where(b > 0, eps * np.log(v / b), -eps * np.log(cols)) + low
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(g))):
        return None
    return f, g, n_iter, err, trace
