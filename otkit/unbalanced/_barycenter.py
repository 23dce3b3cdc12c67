r"""Entropic unbalanced barycenter on a fixed support (Chizat et al. 2018, Section 5.2).

The barycenter of histograms ``A[:, k]`` with weights ``w`` (summing to 1) is::

    q = argmin_q  sum_k w_k UOT(A[:, k], q),
    UOT(a, q) = min_{P >= 0} <P, M> + eps KL(P | 1) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | q).

For fixed plans the ``q`` part is ``sum_k w_k rho_b KL(s_k | q)`` with ``s_k = P_k^T 1``,
minimized by the mean ``q = sum_k w_k s_k``. With the potentials of problem ``k`` the
marginals are ``s_k = q^lam_b (K^T u_k)^(1 - lam_b)``, ``lam = rho / (rho + eps)``, ``K =
exp(-M / eps)``, ``u_k = exp(f_k / eps)``, so the mean is the fixed point of the power mean::

    q = (sum_k w_k (K^T u_k)^(1 - lam_b))^(1 / (1 - lam_b)).

One iteration is therefore: the damped row update of each problem, ``f_k = lam_a (eps log
A_k - eps log K v_k)``; the power mean ``q``; the damped column update against ``q``,
``g_k = lam_b (eps log q - eps log K^T u_k)``. It runs in the log domain with the dense
softmins of :mod:`otkit.bregman._sinkhorn_loop` and the driver ``iterate`` (so also under
``jax.jit``); the error is POT's relative change of ``q``,
``max |q - q_prev| / max(max q, max q_prev, 1)``.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from .._boundary import as_backend, check_barycentric_weights
from .._validation import check_finite, check_ndim, check_not_empty
from ..backend import (
    device_of,
    get_namespace,
    is_jax_namespace,
    is_traced,
    jit,
    logsumexp,
    result_float_dtype,
    stop_gradient,
    to_numpy,
)
from ..bregman._sinkhorn_loop import (
    dense_geometry,
    iterate,
    log_weights,
    softmin_cols,
    softmin_rows,
)
from ._checks import check_choice, check_iterations, check_reg, check_reg_m, print_trace
from ._sinkhorn import IGNORED_OPTIONS, METHODS, warn_unimplemented_method

__all__ = [
    "barycenter_unbalanced",
    "barycenter_unbalanced_sinkhorn",
    "barycenter_unbalanced_stabilized",
]


_MIN_ITERATIONS = 12  # POT's 'sinkhorn' method stops at iteration index > 10


def _loop(A, M, eps, lam_a, lam_b, log_w, num_iter_max, tol, xp):
    geometry = dense_geometry(M, eps, xp)
    eps_log_A = eps * log_weights(A, xp)
    zeros = xp.zeros((A.shape[0], 1), dtype=A.dtype, device=device_of(A))

    def advance(state):
        _, g, log_q = state
        f = lam_a * (eps_log_A + softmin_rows(geometry, g, zeros, eps, xp))
        log_Ktu = softmin_cols(geometry, f, zeros, eps, xp) / (-eps)
        mean = logsumexp(log_w[None, :] + (1.0 - lam_b) * log_Ktu, axis=1, xp=xp)
        new_log_q = mean / (1.0 - lam_b)
        g = (lam_b * eps) * (new_log_q[:, None] - log_Ktu)
        q, q_prev = xp.exp(new_log_q), xp.exp(log_q)
        scale = xp.maximum(xp.maximum(xp.max(q), xp.max(q_prev)), xp.ones_like(q[0]))
        err = xp.max(xp.abs(q - q_prev)) / scale
        return (f, g, new_log_q), stop_gradient(err, xp)

    zero = xp.zeros_like(A)
    state = (zero, zero, xp.zeros_like(A[:, 0]))  # POT's start: u = v = q = 1
    err = xp.asarray(math.inf, dtype=A.dtype)
    traced = is_traced(A, M, eps, log_w)
    # The change of q can be small while the potentials still move: as POT, no stop before
    # _MIN_ITERATIONS (tol = 0 never stops early), then the tolerance.
    first = min(_MIN_ITERATIONS, num_iter_max)
    state, n_first, err, trace = iterate(advance, state, err, first, 0.0, xp, traced)
    state, n_iter, err, rest = iterate(advance, state, err, num_iter_max - first, tol, xp, traced)
    if isinstance(trace, list):
        return state, n_first + n_iter, err, trace + rest[1:]
    return state, n_first + n_iter, err, xp.concat([trace, rest[1:]])


@functools.lru_cache(maxsize=32)
def _jitted(num_iter_max, tol, xp):
    def run(A, M, eps, lam_a, lam_b, log_w):
        return _loop(A, M, eps, lam_a, lam_b, log_w, num_iter_max, tol, xp)

    return jit(run, xp)


def _prepare(A, M, reg, reg_m, weights):
    eps = check_reg(reg)
    rho = check_reg_m(reg_m, finite=True)
    xp = get_namespace(A=A, M=M, weights=weights)
    A = np.asarray(A) if isinstance(A, (list, tuple)) else A
    device = next((device_of(x) for x in (A, M) if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, A, M, device=device)
    A, M = as_backend(A, xp, dtype, device), as_backend(M, xp, dtype, device)
    check_ndim(A, "A", 2)
    check_not_empty(A, "A")
    check_ndim(M, "M", 2)
    dim = int(A.shape[0])
    if tuple(M.shape) != (dim, dim):
        raise ValueError(f"M.shape == {tuple(M.shape)}, expected ({dim}, {dim}) to match A")
    if not is_traced(A, M):
        check_finite(to_numpy(M), "M")
        A_host = to_numpy(A)
        check_finite(A_host, "A")
        if np.any(A_host < 0):
            raise ValueError(f"A has negative entries (min {A_host.min():.3g}); must be >= 0")
        if not np.all(A_host.sum(axis=0) > 0):
            raise ValueError("every histogram (column) of A needs a positive mass")
    w = check_barycentric_weights(weights, int(A.shape[1]), xp, dtype, device)
    return xp, eps, rho, A, M, w


def _barycenter(A, M, reg, reg_m, method, weights, numItermax, stopThr, verbose, log, warn,
                kwargs):  # fmt: skip
    method = check_choice(method, "method", METHODS)
    warn_unimplemented_method(
        method, ("sinkhorn_reg_scaling", "sinkhorn_translation_invariant"), stacklevel=3
    )
    numItermax, stopThr = check_iterations(numItermax, stopThr)
    unknown = set(kwargs) - IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    xp, eps, rho, A, M, w = _prepare(A, M, reg, reg_m, weights)
    lam_a, lam_b = (r / (r + eps) for r in rho)
    log_w = log_weights(w, xp)
    traced = is_traced(A, M, eps, w)
    if is_jax_namespace(xp) and not traced:
        as_array = functools.partial(xp.asarray, dtype=A.dtype)
        run = _jitted(int(numItermax), float(stopThr), xp)
        state, n_iter, err, trace = run(A, M, *map(as_array, (eps, lam_a, lam_b)), log_w)
        n_iter = int(n_iter)
        trace = [float(x) for x in to_numpy(trace)[: n_iter + 1]]
    else:
        state, n_iter, err, trace = _loop(
            A, M, eps, lam_a, lam_b, log_w, int(numItermax), float(stopThr), xp
        )
    f, g, log_q = state
    every = 10 if method == "sinkhorn_stabilized" else 1  # POT records every 10th there
    errors = trace[1:][::every]  # the first entry is the inf before any iteration
    if not traced:
        n_iter, err = int(n_iter), float(to_numpy(err))
        if verbose:
            print_trace(errors, every)
        if warn and not err < stopThr:
            warnings.warn(
                f"barycenter_unbalanced did not converge: relative change {err:.3e} >= "
                f"stopThr={stopThr:g} after {n_iter} iterations; increase numItermax",
                UserWarning,
                stacklevel=3,
            )
    q = xp.exp(log_q)
    if not log:
        return q
    return q, {
        "err": errors,
        "n_iter": n_iter,
        "niter": n_iter - 1,
        "logu": f / eps,
        "logv": g / eps,
        "f": f,
        "g": g,
        "converged": (err < stopThr) if traced else bool(err < stopThr),
    }


def barycenter_unbalanced(
    A,
    M,
    reg,
    reg_m,
    method="sinkhorn",
    weights=None,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    warn=True,
    **kwargs,
):
    return _barycenter(A, M, reg, reg_m, method, weights, numItermax, stopThr, verbose, log,
                       warn, kwargs)  # fmt: skip


def barycenter_unbalanced_sinkhorn(
    A,
    M,
    reg,
    reg_m,
    weights=None,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    warn=True,
):
    return _barycenter(A, M, reg, reg_m, "sinkhorn", weights, numItermax, stopThr, verbose,
                       log, warn, {})  # fmt: skip


def barycenter_unbalanced_stabilized(
    A,
    M,
    reg,
    reg_m,
    weights=None,
    tau=1e3,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    warn=True,
):
    check_reg(tau, "tau", allow_traced=False)  # POT's absorption threshold: not needed here
    return _barycenter(A, M, reg, reg_m, "sinkhorn_stabilized", weights, numItermax, stopThr,
                       verbose, log, warn, {})  # fmt: skip


_DOC = r"""

    Computes

    .. math::
        q^\star = \arg\min_q \sum_k w_k\, \mathrm{UOT}_\varepsilon(A_{:, k}, q),

    .. math::
        \mathrm{UOT}_\varepsilon(a, q) = \min_{\gamma \ge 0} \langle\gamma, M\rangle_F
        + \varepsilon\, \mathrm{KL}(\gamma \,\|\, \mathbf 1)
        + \rho_a \mathrm{KL}(\gamma \mathbf 1 \,\|\, a)
        + \rho_b \mathrm{KL}(\gamma^\top \mathbf 1 \,\|\, q),

    (generalized KL, entropy reference :math:`c = 1` as POT) by the generalized Sinkhorn
    iteration of Chizat et al. (2018): for each histogram the damped update of its row
    potential, then :math:`q` as the power mean
    :math:`q = (\sum_k w_k (K^\top u_k)^{1 - \lambda_b})^{1/(1 - \lambda_b)}`,
    :math:`\lambda = \rho / (\rho + \varepsilon)`, :math:`K = e^{-M/\varepsilon}`, then the
    damped update of each column potential against :math:`q`. At the fixed point
    :math:`q = \sum_k w_k \gamma_k^\top \mathbf 1`, the optimality condition in :math:`q`.
    All of it runs in the log domain (no under- or overflow at small ``reg``).

    Parameters
    ----------
    A : (dim, n_hists) array
        The histograms, non-negative, any masses (each positive).
    M : (dim, dim) array
        Cost matrix of the common support, finite.
    reg : float
        Entropic regularization :math:`\varepsilon > 0`.
    reg_m : float or pair of floats
        Marginal penalties :math:`\rho > 0`, finite: one number, or
        ``(rho_a, rho_b)`` for the histograms' side and the barycenter's side.
"""

_TAIL = r"""
    weights : (n_hists,) array, optional
        Barycentric weights, non-negative, summing to 1 (default uniform).
    numItermax : int, default=1000
        Maximum number of iterations.
    stopThr : float, default=1e-6
        Stop when the relative change of :math:`q` in one iteration,
        :math:`\max|q - q_{prev}| / \max(\max q, \max q_{prev}, 1)`, is below it, after
        12 iterations at least (as POT's 'sinkhorn' method: the change of :math:`q` can be
        small while the potentials still move).
    verbose : bool, default=False
        Print the error of each iteration after the solve (POT's table).
    log : bool, default=False
        Also return a dict with POT's keys ``err`` (the change of :math:`q` at each
        iteration; every 10th for 'sinkhorn_stabilized', as POT), ``niter`` (the index of
        the last iteration, as POT: ``n_iter - 1``), ``logu``, ``logv`` ((dim, n_hists)
        log-scalings, :math:`\gamma_k = \mathrm{diag}(u_k) K \mathrm{diag}(v_k)`), and
        otkit's ``n_iter``, ``f``, ``g`` (potentials, cost units), ``converged``.
    warn : bool, default=True
        Warn when ``stopThr`` is not reached.

    Returns
    -------
    q : (dim,) array
        The barycenter, in the namespace, dtype and device of ``A``.
    log : dict
        Only with ``log=True``.

    Raises
    ------
    ValueError
        ``reg`` not > 0, ``reg_m`` not > 0 or infinite, negative or non-finite entries,
        a histogram of zero mass, weights that do not sum to 1, shapes that disagree.
    TypeError
        Arrays of different libraries, unexpected keyword arguments.

    Notes
    -----
    Backends: NumPy, array API libraries, torch (differentiable through the iterations)
    and JAX (also under ``jax.jit``; no reverse-mode through its ``while_loop``).

    References
    ----------
    .. [1] L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard. Scaling algorithms for
       unbalanced optimal transport problems. Math. Comp. 87(314), 2018.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> A = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> ot.unbalanced.{name}(A, M, 0.1, 1.0).round(3)
    array([0.32 , 0.744])
"""

_METHOD = r"""
    method : str, default='sinkhorn'
        POT's names 'sinkhorn', 'sinkhorn_stabilized', 'sinkhorn_reg_scaling' and
        'sinkhorn_translation_invariant'; all run the same log-domain iteration (the
        barycenter is unique: they differ in POT only in safeguards and speed).
"""

_TAU = r"""
    tau : float, default=1e3
        POT's absorption threshold (> 0); accepted for compatibility, not needed in the log
        domain.
"""

barycenter_unbalanced.__doc__ = (
    "Entropic unbalanced barycenter of histograms on a common support (POT's name)."
    + _DOC + _METHOD + _TAIL.replace("{name}", "barycenter_unbalanced")
)  # fmt: skip
barycenter_unbalanced_sinkhorn.__doc__ = (
    "Entropic unbalanced barycenter by generalized Sinkhorn (POT's name, log domain)."
    + _DOC + _TAIL.replace("{name}", "barycenter_unbalanced_sinkhorn")
)  # fmt: skip
barycenter_unbalanced_stabilized.__doc__ = (
    "Entropic unbalanced barycenter, POT's stabilized method (the same log-domain solve)."
    + _DOC + _TAIL.replace("    numItermax :", _TAU.lstrip("\n") + "    numItermax :", 1)
    .replace("{name}", "barycenter_unbalanced_stabilized")
)  # fmt: skip
