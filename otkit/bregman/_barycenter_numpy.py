r"""The exponential-domain Bregman projections of :mod:`otkit._barycenter` on NumPy buffers.

The sweep is the one of :func:`otkit._bregman_loop.iterative_bregman_projections` (same
updates, same measured sweeps, same stopping test), written for NumPy input with every
update in place on buffers allocated once: at the sizes where a barycenter takes a
millisecond (a few hundred bins), the allocations and the calls of the generic loop cost
as much as the arithmetic.

Two savings beyond the buffers:

- the debiased loop keeps its symmetric scaling :math:`d` as the last row of the buffer of
  the :math:`v_k`, so one kernel product per sweep gives :math:`K v_k` and :math:`K d`;
- its error stacks the rows' residuals :math:`u_k \odot K v_k - b` and the symmetric one
  :math:`d \odot K d - b` in one buffer, reduced by one weighted sum.
"""

from __future__ import annotations

import math

import numpy as np

from ._bregman_loop import measure_schedule

__all__ = ["bregman_projections_inplace"]


def bregman_projections_inplace(A, w, op, num_iter_max, tol, *, debiased, verbose=False):
    """Exponential-domain iterative Bregman projections on NumPy arrays.

    The error is measured at the sweeps of :func:`otkit._bregman_loop.measure_schedule`
    (exponential domain), as the generic loop does.

    Parameters
    ----------
    A : (N, *grid) ndarray
        Input histograms along the first axis.
    w : (N,) ndarray
        Barycentric weights.
    op : kernel operator with ``apply_into(x, out)`` and ``apply_t_into(x, out)`` (x, out of
        shape (R, *grid)).
    num_iter_max : int
    tol : float
    debiased : bool
    verbose : bool, default=False

    Returns
    -------
    dict as :func:`otkit._bregman_loop.iterative_bregman_projections` (exponential domain).
    """
    measure_all, check_every = measure_schedule(False, debiased)
    n_hists, grid = int(A.shape[0]), tuple(A.shape[1:])
    size = math.prod(grid)
    rows = n_hists + 1 if debiased else n_hists
    dtype = A.dtype
    A_flat = A.reshape(n_hists, size)
    # One allocation for every buffer (rows x size each):
    # scalings[:N] = u (and scalings[N] = d while the error is measured); v_and_d[:N] = v,
    # v_and_d[N] = d, the one buffer the kernel multiplies each sweep; kernel_products =
    # K v_and_d; work[:N] = K^T u, then log K v; all of work: the residuals of the error.
    block = np.empty((4, rows, size), dtype=dtype)
    block[:2] = 1.0
    scalings, v_and_d, kernel_products, work = block
    b = np.empty(size, dtype=dtype)
    # The error's weights: w for the rows, 1 for the symmetric residual.
    row_weights = np.ones(rows, dtype=dtype)
    row_weights[:n_hists] = w

    u, v, kv = scalings[:n_hists], v_and_d[:n_hists], kernel_products[:n_hists]
    d = v_and_d[n_hists] if debiased else None

    def shaped(x):
        return x.reshape((x.shape[0],) + grid)

    # Views in the operator's layout, made once.
    u_grid, v_and_d_grid = shaped(u), shaped(v_and_d)
    scratch = work[:n_hists]
    products_grid, scratch_grid = shaped(kernel_products), shaped(scratch)

    def sweep(measure):
        op.apply_t_into(u_grid, scratch_grid)  # K^T u
        np.divide(A_flat, scratch, out=v)
        op.apply_into(v_and_d_grid, products_grid)  # K v (and K d)
        np.log(kv, out=scratch)
        np.matmul(w, scratch, out=b)
        np.exp(b, out=b)
        if debiased:
            np.multiply(b, d, out=b)
        err = None
        if measure:
            if debiased:
                scalings[n_hists] = d
            np.multiply(scalings, kernel_products, out=work)  # the plans' row marginals
            np.subtract(work, b, out=work)
            np.abs(work, out=work)
            err = row_weights @ work.sum(axis=1)
        # u = b / K v, and b / K d in the row below for d <- sqrt(d * b / K d).
        np.divide(b, kernel_products, out=scalings)
        if debiased:
            np.multiply(d, scalings[n_hists], out=d)
            np.sqrt(d, out=d)
        return err

    err = sweep(True)
    trace = [float(err)]
    n_iter = 1
    while n_iter < num_iter_max and trace[-1] > tol and math.isfinite(trace[-1]):
        n_iter += 1
        measure = n_iter <= measure_all or n_iter % check_every == 0 or n_iter == num_iter_max
        new_err = sweep(measure)
        if new_err is not None:
            err = new_err
            trace.append(float(err))
            if verbose and len(trace) % 20 == 0:
                print(f"{n_iter:5d} | {trace[-1]:.3e}")
    return {
        "b": b.reshape(grid),
        "u": shaped(u),
        "v": shaped(v),
        "d": d.reshape((1,) + grid) if debiased else None,
        "n_iter": n_iter,
        "err": err,
        "trace": trace,
    }
