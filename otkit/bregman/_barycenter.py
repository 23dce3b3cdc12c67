r"""Entropic Wasserstein barycenters of histograms on a fixed support (iterative Bregman
projections), plain and debiased: ``barycenter`` and ``barycenter_debiased``.

For histograms :math:`a_1, \dots, a_N` (the columns of ``A``), weights :math:`w` on the simplex
and the Gibbs kernel :math:`K = e^{-M / \varepsilon}`, the entropic barycenter minimises
:math:`\sum_k w_k W_\varepsilon(b, a_k)` with
:math:`W_\varepsilon(b, a) = \min_{P 1 = b, P^\top 1 = a} \langle P, M\rangle - \varepsilon H(P)`.
Its optimal plans are :math:`P_k = \mathrm{diag}(u_k) K \mathrm{diag}(v_k)` and the iterative
Bregman projections of Benamou et al. (2015) alternate the two constraint sets::

    v_k <- a_k / (K^T u_k)                    (columns of every plan match a_k)
    b   <- prod_k (K v_k)^{w_k}                (common row marginal: weighted geometric mean)
    u_k <- b / (K v_k)                         (rows of every plan match b)

The debiased barycenter (Janati et al. 2020) minimises
:math:`\sum_k w_k S_\varepsilon(b, a_k)` with the Sinkhorn divergence
:math:`S_\varepsilon(b, a) = W_\varepsilon(b, a) - \tfrac12 W_\varepsilon(a, a)
- \tfrac12 W_\varepsilon(b, b)`. Writing :math:`b = d \odot K d` for the symmetric scaling
:math:`d` of :math:`W_\varepsilon(b, b)`, the optimality condition multiplies the geometric
mean by :math:`d`; :math:`d` follows the damped symmetric fixed point
:math:`d \leftarrow \sqrt{d \odot b / (K d)}` within the same loop. It removes the entropic
blur: the barycenter of identical inputs is that input.

The loop (:mod:`otkit._bregman_loop`; in place on NumPy: :mod:`otkit._barycenter_numpy`)
is written once for any linear kernel operator (a dense matrix here, separable Gaussian
convolutions in :mod:`otkit._convolutional`), batched over the N inputs (a leading axis), in
the exponential domain (matrix products) or the log domain (log-sum-exp of
``log K + log x``, which never under- or overflows). This module holds the dense kernel,
the checks at the boundary and the public functions.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import NamedTuple

import numpy as np

from .._boundary import as_backend, check_barycentric_weights, input_float_dtype
from .._validation import (
    check_choice,
    check_finite,
    check_integer,
    check_ndim,
    check_not_empty,
    check_real,
    mass_tolerance,
)
from ..backend import (
    contiguous,
    device_of,
    from_numpy,
    get_namespace,
    host_view,
    inplace_ops,
    is_jax_namespace,
    is_numpy_namespace,
    is_traced,
    jit,
    logsumexp,
    logsumexp_add,
    requires_grad,
    result_float_dtype,
    stop_gradient,
    to_numpy,
    workspace_like,
)
from ._barycenter_numpy import bregman_projections_inplace
from ._bregman_loop import (
    iterative_bregman_projections,
    log_of,
    measure_schedule,
)
from ._sinkhorn import _check_reg

__all__ = [
    "BARYCENTER_METHODS",
    "DenseKernel",
    "barycenter",
    "barycenter_debiased",
    "check_barycenter_options",
    "check_barycentric_weights",
    "check_histograms",
    "finish",
    "loop_namespace",
    "run_solver",
    "solve_loop",
    "warn_not_converged",
]

BARYCENTER_METHODS = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized")
# POT options without effect here (the log domain is the stabilisation).
_IGNORED_OPTIONS = frozenset({"stabThr", "tau", "print_period"})


# --- kernel operators -----------------------------------------------------------------------


class DenseKernel(NamedTuple):
    """The Gibbs kernel of a dense cost matrix, acting on a batch ``(N, d)`` of vectors.

    ``apply(x)[n] = K x[n]``, ``apply_t(x)[n] = K^T x[n]``; ``log_apply(y)[n] =
    log(K exp(y[n]))`` computed as a log-sum-exp (and ``log_apply_t`` for ``K^T``).
    """

    kernel: object  # K, (d, d)
    kernel_t: object  # K^T (a transposed view: BLAS reads it in place)
    log_kernel: object  # -M / eps
    log_kernel_t: object
    # A (d, d) buffer for the log-sum-exps, one vector at a time (NumPy, torch without
    # autograd); None: one batched log-sum-exp over a (N, d, d) temporary.
    workspace: object = None

    @classmethod
    def from_cost(cls, M, eps, xp, log_domain):
        log_kernel = M / (-eps)
        if log_domain:
            # A contiguous transpose: the log-sum-exp reduces along the last axis.
            log_kernel_t = contiguous(xp.permute_dims(log_kernel, (1, 0)), xp)
            # Below 64 x 64 bins the batched log-sum-exp's fewer calls win.
            small = log_kernel.shape[0] * log_kernel.shape[1] < 64 * 64
            workspace = None if small or is_traced(M) else workspace_like(log_kernel, xp)
            return cls(None, None, log_kernel, log_kernel_t, workspace)
        # In place where the library allows it: a second d x d temporary costs more in page
        # faults than the exponential itself at d = 200.
        kernel = inplace_ops(xp, requires_grad(M)).exp(log_kernel)
        return cls(kernel, xp.permute_dims(kernel, (1, 0)), None, None)

    def apply(self, x, xp):
        return x @ self.kernel_t

    def apply_t(self, x, xp):
        return x @ self.kernel

    def apply_into(self, x, out):
        """NumPy only: ``apply`` written into ``out``."""
        np.matmul(x, self.kernel_t, out=out)

    def apply_t_into(self, x, out):
        np.matmul(x, self.kernel, out=out)

    def log_apply(self, y, xp):
        return self._log_apply(self.log_kernel, y, xp)

    def log_apply_t(self, y, xp):
        return self._log_apply(self.log_kernel_t, y, xp)

    def _log_apply(self, log_kernel, y, xp):
        if self.workspace is None or requires_grad(y):
            return logsumexp(log_kernel[None, :, :] + y[:, None, :], axis=2, xp=xp)
        rows = [
            logsumexp_add(log_kernel, y[k, None, :], 1, xp, workspace=self.workspace)
            for k in range(y.shape[0])
        ]
        return xp.stack(rows)


# --- boundary -------------------------------------------------------------------------------


def check_barycenter_options(method, numItermax, stopThr, kwargs):
    """Check the solver options; returns the method that runs ('sinkhorn_stabilized', POT's
    absorption-stabilized loop, runs as 'sinkhorn_log': the same fixed point, stable at any
    reg)."""
    method = check_choice(method, "method", BARYCENTER_METHODS)
    check_integer(numItermax, "numItermax", minimum=1, allow_traced=False)
    check_real(stopThr, "stopThr", minimum=0, allow_traced=False)
    unknown = set(kwargs) - _IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return "sinkhorn_log" if method == "sinkhorn_stabilized" else method


def check_finite_fast(x_np, name):
    """``check_finite`` behind a one-pass test: a finite sum means finite entries."""
    if not math.isfinite(float(np.sum(x_np))):
        check_finite(x_np, name)


def check_histograms(A_np, axis, name, dtype):
    """Finite, non-negative histograms each summing to 1 (``axis`` runs over the bins)."""
    sums = A_np.sum(axis=axis).ravel()
    if not math.isfinite(float(sums.sum())):  # a finite sum means finite entries
        check_finite(A_np, name)
    low = A_np.min()
    if low < 0:
        raise ValueError(f"{name} has negative entries (min {low:.3g}); must be >= 0")
    size = A_np.size // max(sums.size, 1)
    if float(np.abs(sums - 1.0).max()) > mass_tolerance(dtype, size):
        raise ValueError(
            f"each histogram of {name} must sum to 1 (lie on the simplex), got sums "
            f"{np.round(sums, 8).tolist()}"
        )


def warn_not_converged(name, err, stopThr, n_iter, method, eps):
    warnings.warn(
        f"{name} did not converge: error {float(err):.3e} > stopThr={stopThr:g} after "
        f"{int(n_iter)} iterations (method={method!r}, reg={float(eps):g}). Increase "
        "numItermax or reg"
        + (", or use method='sinkhorn_log'" if method == "sinkhorn" else "")
        + ".",
        UserWarning,
        stacklevel=4,
    )


def _prepare_dense(A, M, reg, weights):
    eps = _check_reg(reg)
    xp = get_namespace(A=A, M=M, weights=weights)
    if isinstance(A, (list, tuple)):
        A = np.asarray(A)
    device = next((device_of(x) for x in (A, M) if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, A, M, device=device)
    input_dtype = input_float_dtype(A, M)
    A = as_backend(A, xp, dtype, device)
    M = as_backend(M, xp, dtype, device)
    check_ndim(A, "A", 2)
    check_not_empty(A, "A")
    check_ndim(M, "M", 2)
    d, n_hists = int(A.shape[0]), int(A.shape[1])
    if tuple(M.shape) != (d, d):
        raise ValueError(f"M.shape == {tuple(M.shape)}, expected ({d}, {d}) to match A.shape[0]")
    if not is_traced(A, M):
        check_finite_fast(to_numpy(M, dtype=None), "M")
        check_histograms(to_numpy(A, dtype=None), 0, "A", input_dtype)
    w = check_barycentric_weights(weights, n_hists, xp, dtype, device)
    return xp, eps, A, M, w


@functools.lru_cache(maxsize=32)
def _compiled_dense(num_iter_max, tol, log_domain, debiased, xp):
    def run(A_rows, M, eps, w):
        op = DenseKernel.from_cost(M, eps, xp, log_domain)
        return iterative_bregman_projections(
            A_rows, w, op, num_iter_max, tol, xp, log_domain=log_domain, debiased=debiased
        )

    return jit(run, xp)


def loop_namespace(xp):
    """NumPy itself for NumPy input: NumPy 2 implements the standard calls used here, and
    array-api-compat's wrappers cost a few microseconds a call (a third of a sweep at
    d = 200)."""
    return np if is_numpy_namespace(xp) else xp


def solve_loop(make_op, A, w, settings, compiled, xp, method, traced):
    """Run the loop on the kernel ``make_op(log_domain)``; ``settings`` is (numItermax,
    stopThr, debiased, verbose) and ``compiled`` a pair (factory of the jitted loop for eager
    JAX input, its arguments)."""
    num_iter_max, tol, debiased, verbose = settings

    def run_eager(log_domain):
        op = make_op(log_domain)
        if not log_domain:
            out = _inplace_on_host(A, w, op, num_iter_max, tol, debiased, verbose, xp)
            if out is not None:
                return out
        return iterative_bregman_projections(
            A,
            w,
            op,
            num_iter_max,
            tol,
            xp,
            log_domain=log_domain,
            debiased=debiased,
            verbose=verbose,
        )

    return run_solver(run_eager, compiled[0], compiled[1], xp, method, traced, debiased)


def _inplace_on_host(A, w, op, num_iter_max, tol, debiased, verbose, xp):
    """The in-place NumPy loop on NumPy input, and on CPU torch tensors that autograd does
    not record through zero-copy views (results back as tensors: torch's allocating loop was
    1.6-3.6x slower); None for any other input."""
    views = [host_view(x) for x in (A, w)]
    op_views = [None if x is None else host_view(x) for x in op]
    if any(v is None for v in views) or any(
        v is None for v, x in zip(op_views, op) if x is not None
    ):
        return None
    out = bregman_projections_inplace(
        *views, type(op)(*op_views), num_iter_max, tol, debiased=debiased, verbose=verbose
    )
    if not is_numpy_namespace(xp):
        for key in ("b", "u", "v", "d", "err"):
            if out[key] is not None:
                out[key] = from_numpy(np.asarray(out[key]), xp)
    return out


def run_solver(run_eager, run_compiled, args, xp, method, traced, debiased):
    """Eager JAX runs the compiled loop; 'sinkhorn' falls back to the log domain when the
    exponential domain under- or overflows (a non-finite error or barycenter)."""
    if is_jax_namespace(xp) and not traced:
        out = dict(run_compiled(method == "sinkhorn_log")(*args))
        n_iter = out["n_iter"] = int(out["n_iter"])
        # The sweeps the eager loop measures: the first ones, every few, the last.
        measure_all, every = measure_schedule(method == "sinkhorn_log", debiased)
        first = range(1, min(n_iter, measure_all) + 1)
        sweeps = sorted({n_iter, *first, *range(every, n_iter + 1, every)})
        full = to_numpy(out["trace"])
        out["trace"] = [float(full[i]) for i in sweeps]
    else:
        # The exponential domain may divide 0 by 0 once it underflows: detected below.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            out = run_eager(method == "sinkhorn_log")
    if method == "sinkhorn" and not traced and not _finite_result(out, xp):
        out = run_solver(run_eager, run_compiled, args, xp, "sinkhorn_log", traced, debiased)
        out["log_domain_fallback"] = True
    return out


def _finite_result(out, xp):
    # Bins of b may underflow to 0 in far tails (harmless); NaN or inf is a failure.
    b = stop_gradient(out["b"], xp)
    err = float(stop_gradient(out["err"], xp))
    return math.isfinite(err) and bool(xp.all(xp.isfinite(b)))


def _dense(A, M, reg, weights, method, numItermax, stopThr, verbose, log, warn, kw, debiased):
    method = check_barycenter_options(method, numItermax, stopThr, kw)
    xp, eps, A, M, w = _prepare_dense(A, M, reg, weights)
    xp = loop_namespace(xp)
    traced = is_traced(A, M, w, eps)
    A_rows = xp.permute_dims(A, (1, 0))  # (N, d): the batch axis first
    numItermax, stopThr = int(numItermax), float(stopThr)

    def run_compiled(log_domain):
        return _compiled_dense(numItermax, stopThr, log_domain, debiased, xp)

    eps_arg = eps if traced else xp.asarray(eps, dtype=A.dtype)
    out = solve_loop(
        lambda log_domain: DenseKernel.from_cost(M, eps, xp, log_domain),
        A_rows,
        w,
        (numItermax, stopThr, debiased, verbose),
        (run_compiled, (A_rows, M, eps_arg, w)),
        xp,
        method,
        traced,
    )
    name = "barycenter_debiased" if debiased else "barycenter"
    return finish(out, xp, traced, log, warn, name, stopThr, method, eps, lambda x: x.T)


def finish(out, xp, traced, log, warn, name, stopThr, method, eps, to_user_layout):
    """Warn on non-convergence, assemble the POT-style log."""
    err = out["err"]
    if not traced:
        err = float(stop_gradient(err, xp))
    converged = err <= stopThr  # a 0-d array under jax.jit, a bool eagerly
    if not traced and not converged and warn:
        warn_not_converged(name, err, stopThr, out["n_iter"], method, eps)
    if not log:
        return out["b"]
    log_domain = method == "sinkhorn_log" or out.get("log_domain_fallback", False)
    u, v = out["u"], out["v"]
    log_u, log_v = (u, v) if log_domain else (log_of(u, xp), log_of(v, xp))
    entry = {
        "err": out["trace"],
        "n_iter": out["n_iter"],
        "niter": out["n_iter"],
        "converged": converged,
        "log_u": to_user_layout(log_u),
        "log_v": to_user_layout(log_v),
        "log_domain": bool(log_domain),
    }
    if out["d"] is not None:
        d = out["d"][0, ...]
        entry["log_d"] = d if log_domain else log_of(d, xp)
    return out["b"], entry


_DOC_PARAMETERS = r"""
    Parameters
    ----------
    A : (d, N) array
        The N input histograms, in columns: non-negative, each summing to 1.
    M : (d, d) array
        Ground cost between the d bins (finite).
    reg : float
        Entropic regularization :math:`\varepsilon > 0`, in the units of ``M``.
    weights : (N,) array, optional
        Barycentric weights, non-negative, summing to 1 (uniform by default).
    method : {'sinkhorn', 'sinkhorn_log', 'sinkhorn_stabilized'}, default='sinkhorn'
        'sinkhorn': scaling iterations with matrix products (fast); if the scalings under- or
        overflow (small ``reg``), the solve is rerun in the log domain instead of returning
        zeros or NaN (eagerly; under ``jax.jit`` use 'sinkhorn_log' at small ``reg``).
        'sinkhorn_log': log-sum-exp iterations, stable at any ``reg``, O(d^2) memory on
        NumPy and torch without autograd (one histogram at a time), O(N d^2) otherwise.
        'sinkhorn_stabilized' (POT's name) runs 'sinkhorn_log'.
    numItermax : int, default=10000
        Maximum number of sweeps.
    stopThr : float, default=1e-4
        Stop when :math:`\sum_k w_k \|P_k \mathbf 1 - b\|_1 \le` ``stopThr`` (the plans'
        marginals on the inputs' side are exact after each sweep); the debiased version
        adds the residual :math:`\|d \odot K d - b\|_1` of its symmetric problem.
    verbose : bool, default=False
        Print the error every 20 measures (eagerly).
    log : bool, default=False
        Also return a dict: ``err`` (the error trace: a list with one entry per sweep in
        the log domain; in the exponential domain, where measuring costs a fifth of a sweep at
        small sizes, one per 5 sweeps, plus each of the first 20 sweeps for the plain
        barycenter; under ``jax.jit``, an array over sweeps padded with NaN), ``n_iter`` (and
        POT's ``niter``), ``converged``,
        ``log_u``, ``log_v`` ((d, N) log-scalings of the plans
        :math:`P_k = \mathrm{diag}(u_k) K \mathrm{diag}(v_k)`), ``log_domain`` (whether the
        log-domain iteration produced the result) and, debiased only, ``log_d``.
    warn : bool, default=True
        One ``UserWarning`` if ``stopThr`` is not reached.

    Returns
    -------
    b : (d,) array
        The barycenter, in the library, dtype and device of ``A`` (its mass is 1 up to the
        tolerance).
    log : dict
        Only if ``log=True``.

    Raises
    ------
    ValueError
        reg not a positive finite number, histograms off the simplex, weights that do not
        sum to 1 or are negative, shapes that disagree, unknown method.

    Notes
    -----
    Backends: NumPy, array API libraries, torch (differentiable by unrolled autodiff through
    the iterations; CPU tensors that need no gradient run the in-place NumPy loop on
    zero-copy views) and JAX (eager input runs a compiled loop; under ``jax.jit`` the loop is
    ``jax.lax.while_loop``: not reverse-differentiable, and the value checks are skipped).
    The batch of N histograms goes through one matrix product per half-step; the log domain
    takes its log-sum-exps one histogram at a time in a reused buffer from 64 x 64 bins on
    (NumPy, torch without autograd).
"""


def barycenter(
    A,
    M,
    reg,
    weights=None,
    method="sinkhorn",
    numItermax=10000,
    stopThr=1e-4,
    verbose=False,
    log=False,
    warn=True,
    **kwargs,
):
    r"""Entropic Wasserstein barycenter of histograms (iterative Bregman projections).

    .. math::
        b^\star = \arg\min_{b} \sum_{k=1}^N w_k\, W_\varepsilon(b, a_k), \qquad
        W_\varepsilon(b, a) = \min_{P \mathbf 1 = b,\ P^\top \mathbf 1 = a}
        \langle P, M\rangle_F - \varepsilon H(P)

    with :math:`H(P) = -\sum_{ij} P_{ij}(\log P_{ij} - 1)`, as POT (the Gibbs kernel is
    :math:`e^{-M/\varepsilon}`). The solution is blurred by the entropy; see
    :func:`barycenter_debiased` for the debiased version.
    """
    return _dense(
        A, M, reg, weights, method, numItermax, stopThr, verbose, log, warn, kwargs, False
    )


def barycenter_debiased(
    A,
    M,
    reg,
    weights=None,
    method="sinkhorn",
    numItermax=10000,
    stopThr=1e-4,
    verbose=False,
    log=False,
    warn=True,
    **kwargs,
):
    r"""Debiased entropic Wasserstein barycenter of histograms (Janati et al. 2020).

    .. math::
        b^\star = \arg\min_{b} \sum_{k=1}^N w_k\, S_\varepsilon(b, a_k), \qquad
        S_\varepsilon(b, a) = W_\varepsilon(b, a) - \tfrac12 W_\varepsilon(a, a)
        - \tfrac12 W_\varepsilon(b, b)

    The Sinkhorn divergence :math:`S_\varepsilon` vanishes on equal inputs, so the barycenter
    of identical histograms is that histogram and weights (1, 0, ...) return the first
    input: the entropic blur of :func:`barycenter` is gone.
    """
    return _dense(A, M, reg, weights, method, numItermax, stopThr, verbose, log, warn, kwargs, True)


_REFERENCES = r"""
    References
    ----------
    .. [1] J.-D. Benamou, G. Carlier, M. Cuturi, L. Nenna, G. Peyre. Iterative Bregman
       projections for regularized transportation problems. SIAM J. Sci. Comput. 37(2), 2015.
    .. [2] H. Janati, M. Cuturi, A. Gramfort. Debiased Sinkhorn barycenters. ICML 2020.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.linspace(0.0, 1.0, 5)[:, None]
    >>> A = np.zeros((5, 2)); A[0, 0] = A[4, 1] = 1.0
    >>> b = ot.barycenter(A, ot.dist(x, x), 0.01)
    >>> int(np.argmax(b))
    2
"""

barycenter.__doc__ += _DOC_PARAMETERS + _REFERENCES
barycenter_debiased.__doc__ += _DOC_PARAMETERS + _REFERENCES
