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

__all__ = [
    "batched_scaling",
    "complete_potentials",
    "greenkhorn_host",
    "log_c_transform",
    "scaling_on_support",
    "scattered_plan",
    "stabilized_sinkhorn",
    "support_kernel",
]


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


def log_c_transform(C, potential, log_weights, eps, axis, overwrite=False):
    """Exact log-domain c-transform along ``axis`` (1: rows from g, 0: columns from f);
    ``overwrite=True``: ``C`` (then a temporary of the caller) is the work buffer."""
    if axis == 1:
        potential, log_weights = potential[None, :], log_weights[None, :]
    else:
        potential, log_weights = potential[:, None], log_weights[:, None]
    overwrite = overwrite and np.result_type(potential, C) == C.dtype
    scores = np.subtract(potential, C, out=C if overwrite else None)
    np.divide(scores, eps, out=scores)
    np.add(scores, log_weights, out=scores)
    top = scores.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    np.subtract(scores, top, out=scores)
    sums = np.exp(scores, out=scores).sum(axis=axis, keepdims=True)
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


# Entries of C per block of rows in the builds below: 2**16 (512 KiB in float64) keep a block
# in the core's cache through the several passes made on it (each pass over the whole kernel
# costs a trip to memory; by blocks, one trip per sweep), in few enough NumPy calls.
_BLOCK_ENTRIES = 1 << 16


def _row_blocks(n_rows, width):
    step = max(1, _BLOCK_ENTRIES // max(width, 1))
    return [(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def _restricted(C, rows, cols, start, stop, out):
    """``C[rows[start:stop]][:, cols]`` (None: every row, or column), in ``out`` when the
    columns are taken (``C`` itself is never written)."""
    block = C[start:stop] if rows is None else C.take(rows[start:stop], axis=0)
    if cols is None:
        return block
    # mode='clip' (the indices are valid): 'raise' would copy through a buffer
    return np.take(block, cols, axis=1, out=out, mode="clip")


def support_kernel(C, rows, cols, potential, weights, other_log_weights, eps, axis, floor, fold):
    """:func:`_normalized_kernel` of ``C`` restricted to ``rows`` x ``cols`` (index arrays,
    or None for all), built from ``C`` by blocks of rows without a restricted copy of ``C``.

    The same operations on every entry (the slice sums are accumulated block by block:
    equal up to rounding). ``axis=1`` (rows) takes one sweep over the blocks; ``axis=0``
    (columns) two, the column maxima being complete only after the first. ``fold=True``
    (``axis=0``) skips the pass that scales the columns to their weights when the ratios
    ``weights / sums`` lie within the square root of the scaling bound of
    :func:`_limits` ([1e-25, 1e25] in float64): they are returned as the initial column
    scaling instead (the plan ``diag(u) kernel diag(v)`` is unchanged); else None.

    Returns ``(kernel, other_potential, column_scaling)``.
    """
    r = C.shape[0] if rows is None else rows.size
    s = C.shape[1] if cols is None else cols.size
    kernel = np.empty((r, s), dtype=C.dtype)
    scale = -1.0 / eps
    shift = potential / eps + other_log_weights
    blocks = _row_blocks(r, C.shape[1])
    if axis == 1:
        top, sums = np.empty(r, dtype=C.dtype), np.empty(r, dtype=C.dtype)
        for start, stop in blocks:
            block = kernel[start:stop]
            np.multiply(_restricted(C, rows, cols, start, stop, block), scale, out=block)
            np.add(block, shift, out=block)
            top[start:stop] = np.maximum.reduce(block, axis=1)
            np.subtract(block, top[start:stop, None], out=block)
            np.maximum(block, floor, out=block)
            np.exp(block, out=block)
            sums[start:stop] = np.add.reduce(block, axis=1)
            np.multiply(block, (weights[start:stop] / sums[start:stop])[:, None], out=block)
        return kernel, -eps * (top + np.log(sums)), None
    top = None
    for start, stop in blocks:
        block = kernel[start:stop]
        np.multiply(_restricted(C, rows, cols, start, stop, block), scale, out=block)
        np.add(block, shift[start:stop, None], out=block)
        block_top = np.maximum.reduce(block, axis=0)
        top = block_top if top is None else np.maximum(top, block_top, out=top)
    sums = None
    for start, stop in blocks:
        block = kernel[start:stop]
        np.subtract(block, top, out=block)
        np.maximum(block, floor, out=block)
        np.exp(block, out=block)
        block_sums = np.add.reduce(block, axis=0)
        sums = block_sums if sums is None else np.add(sums, block_sums, out=sums)
    ratio = weights / sums
    limit = math.sqrt(_limits(C.dtype, np)[0])  # far from where the loop rebuilds
    if fold and np.minimum.reduce(ratio) > 1.0 / limit and np.maximum.reduce(ratio) < limit:
        # kernel_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) with g = -eps (top + log b); the
        # scaling v = ratio moves g to -eps (top + log sums), the value of the scaled kernel
        return kernel, -eps * (top + np.log(weights)), ratio
    return np.multiply(kernel, ratio, out=kernel), -eps * (top + np.log(sums)), None


def scattered_plan(kernel, u, v, rows, cols, shape):
    """The (n, m) plan ``diag(u) kernel diag(v)`` on ``rows`` x ``cols`` (None: all), zero
    elsewhere, written by blocks of its rows (the kernel may be overwritten): each entry is
    ``kernel_ij * u_i * v_j`` in that order, as in the loop."""
    if rows is None and cols is None:
        plan = np.multiply(kernel, u[:, None], out=kernel)
        return np.multiply(plan, v, out=plan)
    n, m = shape
    # Rows and columns of zero weight read row or column 0 of the kernel (finite), times 0.
    u_full, v_full = u, v
    if rows is not None:
        u_full = np.zeros(n, dtype=u.dtype)
        u_full[rows] = u
        row_index = np.zeros(n, dtype=np.intp)
        row_index[rows] = np.arange(rows.size)
    if cols is not None:
        v_full = np.zeros(m, dtype=v.dtype)
        v_full[cols] = v
        col_index = np.zeros(m, dtype=np.intp)
        col_index[cols] = np.arange(cols.size)
    plan = np.empty(shape, dtype=kernel.dtype)
    for start, stop in _row_blocks(n, m):
        block = plan[start:stop]
        if rows is None:
            source = kernel[start:stop]
        else:
            source = kernel.take(row_index[start:stop], axis=0, mode="clip")
        if cols is None:
            np.multiply(source, u_full[start:stop, None], out=block)
        else:  # the row scaling on the narrower block, before the columns are spread
            np.multiply(source, u_full[start:stop, None], out=source)
            np.take(source, col_index, axis=1, out=block, mode="clip")
        np.multiply(block, v_full, out=block)
    return plan


def scaling_on_support(a, b, C, eps, f0, num_iter_max, tol, complete=True):
    """:func:`stabilized_sinkhorn` (NumPy, no relaxation or reports) on the rows and columns
    of positive weight of ``(a, b, C)``, without copying ``C`` to them: the kernel is built
    from ``C`` by :func:`support_kernel` (also at rebuilds) and the (n, m) plan written by
    :func:`scattered_plan`, each in one or two sweeps over blocks of rows.

    The potentials on bins of zero weight are the c-transforms of the other potential
    (:func:`log_c_transform`) with ``complete=True``, NaN otherwise (for callers that read
    only the plan; the solve never reads them).

    Returns ``(plan, f, g, n_iter, trace)``.
    """
    rows = None if np.minimum.reduce(a) > 0 else np.flatnonzero(a > 0)
    cols = None if np.minimum.reduce(b) > 0 else np.flatnonzero(b > 0)
    a_s = a if rows is None else a[rows]
    b_s = b if cols is None else b[cols]
    f0_s = f0 if rows is None else f0[rows]
    bound, floor = _limits(C.dtype, np)

    def rebuild(potential, weights, other_log_weights, axis):
        return support_kernel(
            C, rows, cols, potential, weights, other_log_weights, eps, axis, floor, False
        )[:2]

    kernel, g, ratio = support_kernel(C, rows, cols, f0_s, b_s, np.log(a_s), eps, 0, floor, True)
    v = np.ones_like(b_s) if ratio is None else ratio
    kernel, u, v, f, g, n_iter, trace, _ = _plain_numpy_loop(
        a_s, b_s, eps, kernel, f0_s, g, v, num_iter_max, tol, bound, rebuild
    )
    plan = scattered_plan(kernel, u, v, rows, cols, C.shape)
    f_s, g_s = f + eps * np.log(u), g + eps * np.log(v)
    if rows is None and cols is None:
        return plan, f_s, g_s, n_iter, trace
    f_full, g_full = _on_all_bins(f_s, rows, a.size), _on_all_bins(g_s, cols, b.size)
    if complete:
        complete_potentials(C, a, b, eps, f_full, g_full, rows, cols)
    return plan, f_full, g_full, n_iter, trace


def _on_all_bins(values, index, size):
    if index is None:
        return values
    out = np.full(size, np.nan, dtype=values.dtype)
    out[index] = values
    return out


def complete_potentials(C, a, b, eps, f, g, rows, cols):
    """Fill ``f`` and ``g`` in place on the bins of zero weight (``rows``, ``cols``: those of
    positive weight, None for all) with the c-transform of the other potential over the
    support, which the solve leaves out."""
    rows = np.arange(a.size) if rows is None else rows
    cols = np.arange(b.size) if cols is None else cols
    zero_rows, zero_cols = np.flatnonzero(~(a > 0)), np.flatnonzero(~(b > 0))
    if zero_cols.size:
        block = C.take(zero_cols, axis=1).take(rows, axis=0)  # the few columns first
        g[zero_cols] = log_c_transform(block, f[rows], np.log(a[rows]), eps, 0, overwrite=True)
    if zero_rows.size:
        block = C.take(zero_rows, axis=0).take(cols, axis=1)
        f[zero_rows] = log_c_transform(block, g[cols], np.log(b[cols]), eps, 1, overwrite=True)


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
        and once it is below ``tol`` an exact v update ends the relaxation: plain
        iterations follow until the row error is below ``tol`` too (the last error is the
        row error).
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

        def rebuild(potential, weights, other_log_weights, axis):
            return _normalized_kernel(
                C, potential, weights, other_log_weights, eps, axis, floor, np
            )

        kernel, u, v, f, g, n_iter, trace, n_rebuilds = _plain_numpy_loop(
            a, b, eps, kernel, f, g, np.ones_like(b), num_iter_max, tol, bound, rebuild
        )
        plan = np.multiply(kernel, u[:, None], out=kernel)
        plan = np.multiply(plan, v[None, :], out=plan)
        return plan, f + eps * np.log(u), g + eps * np.log(v), n_iter, trace, n_rebuilds
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
        if relaxed and (err < tol or n_iter >= num_iter_max):
            # End as plain Sinkhorn: exact columns; the row error of that state (the next
            # check) decides, and it can exceed the relaxed pair's stacked error, slightly
            # (1.09e-6 after 1e-6 on two clouds of ~440 points): plain iterations go on.
            relaxed, w = False, 1.0
            with np.errstate(divide="ignore", over="ignore"):
                v = b / (u @ kernel)
            if not _in_range(v, bound, xp):
                f = f + eps * xp.log(u)
                kernel, g = _normalized_kernel(C, f, b, log_a, eps, 0, floor, xp)
                n_rebuilds += 1
                u, v = xp.ones_like(a), xp.ones_like(b)
            continue
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
    ops = inplace_ops(xp)
    plan = ops.multiply(ops.multiply(kernel, u[:, None]), v[None, :])
    return plan, f + eps * xp.log(u), g + eps * xp.log(v), n_iter, trace, n_rebuilds


def _plain_numpy_loop(a, b, eps, kernel, f, g, v, num_iter_max, tol, bound, rebuild):
    """The loop of :func:`stabilized_sinkhorn` for NumPy without relaxation or reports: the
    same operations in the same order (the same values, bit for bit), with fewer calls per
    iteration, which dominate on small problems: the norm and range tests call the ufuncs
    directly (``min > 1 / bound`` holds exactly when every entry does, NaN included), and
    one ``errstate`` covers the whole loop (only the scaling updates can divide by zero or
    overflow; a rebuild starts from scalings in range).

    ``v`` is the initial column scaling (ones after :func:`_normalized_kernel`; the column
    ratios when :func:`support_kernel` left them out of the kernel) and
    ``rebuild(potential, weights, other_log_weights, axis)`` the normalized kernel and the
    other potential (:func:`_normalized_kernel`'s arguments after ``C``). Returns
    ``(kernel, u, v, f, g, n_iter, trace, n_rebuilds)``: the plan is
    ``diag(u) kernel diag(v)``, the potentials ``f + eps log u``, ``g + eps log v``.
    """
    log_a, log_b = np.log(a), np.log(b)
    low, smallest, largest, total = 1.0 / bound, np.minimum.reduce, np.maximum.reduce, np.add.reduce
    u = np.ones_like(a)
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
                kernel, f = rebuild(g, a, log_b, 1)
                n_rebuilds += 1
                u, v = np.ones_like(a), np.ones_like(b)
            v = b / (u @ kernel)
            if not (smallest(v) > low and largest(v) < bound):
                f = f + eps * np.log(u)
                kernel, g = rebuild(f, b, log_a, 0)
                n_rebuilds += 1
                u, v = np.ones_like(a), np.ones_like(b)
            n_iter += 1
    return kernel, u, v, f, g, n_iter, trace, n_rebuilds


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
# Kernels of at least this many entries take their column sums as (u^T K)^T, which reads K
# by rows: with one BLAS thread, 1024 x 1024 kernels 0.43 ms against 0.83 for K^T u with
# k = 2 columns, 1.6 against 2.9 with 30; 256 x 256 with 100 columns, 0.29 against 0.31;
# but 64 x 64 with 500 columns 0.107 against 0.097.
_ROW_MAJOR_SUMS = 1 << 16


def batched_scaling(a, b, C, eps, num_iter_max, tol):
    r"""Plain Sinkhorn for the k columns of ``b`` at once on one kernel (two matrix products
    per iteration), from the zero start; None when the cost range exceeds ``BATCHED_RANGE``
    eps (the caller then runs the log-domain loop).

    The same iteration, stopping rule and outputs as ``sinkhorn_log_loop`` with
    ``omega = 1``: the state (f, g = T(f)) is measured by the L2 norm over all columns of
    its row-marginal error. ``a`` (n,), ``b`` (m, k), ``C`` (n, m) float64 NumPy arrays
    (zero weights allowed); returns ``f`` (n, k), ``g`` (m, k) in cost units (on rows or
    columns of zero weight, the c-transform of the other potential), ``n_iter``, ``err``,
    ``trace``, and a function giving the plans' linear costs <P_l, C> (k,) from the
    scalings, :math:`\sum_i u_{il} \sum_j (K_{ij} C_{ij}) v_{jl}` (one matrix product,
    where the plans themselves take k n m exponentials: a caller that needs only these
    costs calls it and skips them).
    """
    low = float(C.min())
    if not (float(C.max()) - low) / eps <= BATCHED_RANGE:
        return None
    kernel = np.exp(-(C - low) / eps)
    a_col = a[:, None]
    u = np.broadcast_to(a_col, (a.shape[0], b.shape[1]))
    by_rows = kernel.size >= _ROW_MAJOR_SUMS

    def column_sums(u):
        return (u.T @ kernel).T if by_rows else kernel.T @ u

    with np.errstate(divide="ignore", invalid="ignore"):
        v = b / column_sums(u)
        rows = kernel @ v
        err = float(np.linalg.norm(u * rows - a_col))
        trace, n_iter = [err], 0
        while n_iter < num_iter_max and not err < tol:
            u = a_col / rows
            v = b / column_sums(u)
            rows = kernel @ v
            err = float(np.linalg.norm(u * rows - a_col))
            trace.append(err)
            n_iter += 1
        cols = column_sums(u)
        # u = a is the start f = low for the kernel exp(-(C - low) / eps), i.e. f = 0 for
        # exp(-C / eps): the iteration commutes with (f + c, g - c), so g takes the +low.
        f = np.where(a_col > 0, eps * np.log(u / a_col), -eps * np.log(rows))
        g = np.where(b > 0, eps * np.log(v / b), -eps * np.log(cols)) + low
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(g))):
        return None

    def linear_costs():
        return np.sum(u * ((kernel * C) @ v), axis=0)

    return f, g, n_iter, err, trace, linear_costs
