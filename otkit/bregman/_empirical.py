"""POT's ``empirical_sinkhorn*``: entropic OT between point clouds, dense or online."""

from __future__ import annotations

import functools
import warnings

from ..backend import get_namespace, is_jax_namespace, is_traced, jit, stop_gradient, to_numpy
from ..utils._costs import dist
from ._divergence import cost_spec, prepare_clouds, sinkhorn_divergence
from ._pointcloud import online_log_loop
from ._sinkhorn import sinkhorn, sinkhorn2
from ._sinkhorn_loop import log_weights

__all__ = ["empirical_sinkhorn", "empirical_sinkhorn2", "empirical_sinkhorn_divergence"]

_METRICS = ("sqeuclidean", "euclidean", "cosine")


def _blocks(batchSize):
    if isinstance(batchSize, tuple) and len(batchSize) == 2:
        rows, cols = batchSize
    elif isinstance(batchSize, int) and not isinstance(batchSize, bool):
        rows = cols = batchSize
    else:
        raise ValueError(f"batchSize must be an int or a pair of ints, got {batchSize!r}")
    if not (int(rows) > 0 and int(cols) > 0):
        raise ValueError(f"batchSize must be positive, got {batchSize!r}")
    return int(rows), int(cols)


def _check_metric(metric):
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS} for point clouds, got {metric!r}")


@functools.lru_cache(maxsize=16)
def _jitted_online(num_iter_max, tol, spec, xp):
    def run(x, y, a, b, eps, f0):
        return online_log_loop(a, b, x, y, spec, eps, f0, num_iter_max, tol, xp)

    return jit(run, xp)


def _online_potentials(X_s, X_t, reg, a, b, metric, numIterMax, stopThr, batchSize, warmstart):
    _check_metric(metric)
    rows, cols = _blocks(batchSize)
    spec, _ = cost_spec(metric, None, rows)
    spec = type(spec)(spec.kind, spec.p, rows, cols)
    xp, dtype, device, X_s, X_t, a, b = prepare_clouds(X_s, X_t, a, b, True)
    x, y, wa, wb = (stop_gradient(v, xp) for v in (X_s, X_t, a, b))
    if spec.kind == "cosine":
        from ._divergence import _normalized

        x, y = _normalized(x, xp), _normalized(y, xp)
    f0 = xp.zeros((x.shape[0], 1), dtype=dtype, device=device)
    if warmstart is not None:
        log_u = xp.asarray(warmstart[0], dtype=dtype, device=device)
        f0 = (reg * (log_u - log_weights(wa, xp)))[:, None]
    if is_jax_namespace(xp):
        run = _jitted_online(int(numIterMax), float(stopThr), spec, xp)
        f, g, n_iter, err, trace = run(x, y, wa, wb[:, None], xp.asarray(reg, dtype=dtype), f0)
    else:
        f, g, n_iter, err, trace = online_log_loop(
            wa, wb[:, None], x, y, spec, reg, f0, int(numIterMax), float(stopThr), xp
        )
    return xp, wa, wb, f[:, 0], g[:, 0], n_iter, err, trace


def empirical_sinkhorn(
    X_s,
    X_t,
    reg,
    a=None,
    b=None,
    metric="sqeuclidean",
    numIterMax=10000,
    stopThr=1e-9,
    isLazy=False,
    batchSize=100,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    **kwargs,
):
    r"""Entropic OT plan between point clouds (POT's ``ot.bregman.empirical_sinkhorn``).

    The problem of :func:`otkit.sinkhorn` with ``M = dist(X_s, X_t, metric)``. With
    ``isLazy=False`` the cost matrix is built and :func:`otkit.sinkhorn` returns the plan.
    With ``isLazy=True`` the costs are recomputed by blocks of ``batchSize`` rows (memory
    O((n + m) d + batchSize max(n, m)), never n x m) in the same log-domain loop, on the
    caller's backend and device, and, as POT, the log-scalings ``(log_u, log_v)`` are
    returned instead of the plan: :math:`\gamma_{ij} = \exp(\log u_i + \log v_j -
    M_{ij} / \mathrm{reg})`.

    Parameters
    ----------
    X_s, X_t : (n, d), (m, d) arrays
    reg : float
        :math:`\varepsilon`, in cost units.
    a, b : (n,), (m,) arrays, optional
        Weights (uniform by default), with equal masses.
    metric : {'sqeuclidean', 'euclidean', 'cosine'}, default='sqeuclidean'
    numIterMax : int, default=10000
    stopThr : float, default=1e-9
        L2 norm of the marginal error to reach.
    isLazy : bool, default=False
    batchSize : int or (int, int), default=100
        Rows of X_s (and of X_t) per cost block when ``isLazy``.
    verbose, warn : bool
    log : bool, default=False
        Also return a dict; lazily: 'f', 'g' (potentials in cost units), 'u', 'v' (POT's
        log-scalings), 'n_iter' ('niter'), 'err' (marginal-error trace), 'converged'.
    warmstart : pair of arrays, optional
        POT's log-scalings ``(log_u, log_v)``.
    **kwargs
        Passed to :func:`otkit.sinkhorn` (dense path).

    Returns
    -------
    gamma : (n, m) array, or ``(log_u, log_v)`` when ``isLazy``.
    log : dict, only with ``log=True``.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [1.0]])
    >>> log_u, log_v = ot.empirical_sinkhorn(x, x, 1.0, isLazy=True, batchSize=1)
    >>> log_u.shape
    (2,)
    """
    if not isLazy:
        _check_metric(metric)
        M = dist(X_s, X_t, metric=metric)
        return sinkhorn(
            a, b, M, reg, numItermax=numIterMax, stopThr=stopThr, verbose=verbose, log=log,
            warn=warn, warmstart=warmstart, **kwargs,
        )  # fmt: skip
    if kwargs:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    xp, wa, wb, f, g, n_iter, err, trace = _online_potentials(
        X_s, X_t, reg, a, b, metric, numIterMax, stopThr, batchSize, warmstart
    )
    log_u = f / reg + log_weights(wa, xp)
    log_v = g / reg + log_weights(wb, xp)
    traced = is_traced(f)
    converged = err <= stopThr if traced else bool(float(to_numpy(err)) <= stopThr)
    if not traced and not converged and warn:
        warnings.warn(
            f"Sinkhorn did not converge: marginal error {float(to_numpy(err)):.3e} > "
            f"stopThr={stopThr:g} after {int(n_iter)} iterations; increase numIterMax or reg",
            UserWarning,
            stacklevel=2,
        )
    if not log:
        return log_u, log_v
    info = {
        "f": f,
        "g": g,
        "u": log_u,
        "v": log_v,
        "n_iter": n_iter,
        "niter": n_iter,
        "err": trace,
        "converged": converged,
    }
    return log_u, log_v, info


def empirical_sinkhorn2(
    X_s,
    X_t,
    reg,
    a=None,
    b=None,
    metric="sqeuclidean",
    numIterMax=10000,
    stopThr=1e-9,
    isLazy=False,
    batchSize=100,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    **kwargs,
):
    r"""Entropic OT cost between point clouds (POT's ``ot.bregman.empirical_sinkhorn2``).

    The linear cost :math:`\langle \gamma^\star, M\rangle` of :func:`empirical_sinkhorn`'s
    plan (as POT: without the entropic term). With ``isLazy=True`` nothing of size n x m
    is stored, and unlike POT's lazy path the value stays differentiable (torch, JAX) with
    respect to ``X_s``, ``X_t``, ``a`` and ``b``: the envelope gradients of the regularized
    value, as for :func:`otkit.sinkhorn2`.

    Parameters are those of :func:`empirical_sinkhorn`; ``warmstart`` is used by the dense
    path only. With ``log=True`` the lazy path returns the log of
    :func:`sinkhorn_divergence` (``debias=False``).

    Returns
    -------
    cost : 0-d array, in the namespace, dtype and device of ``X_s``.
    log : dict, only with ``log=True``.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [1.0]]); y = x + 1.0
    >>> round(float(ot.empirical_sinkhorn2(x, y, 0.1, isLazy=True)), 4)
    1.0
    """
    if not isLazy:
        _check_metric(metric)
        M = dist(X_s, X_t, metric=metric)
        return sinkhorn2(
            a, b, M, reg, numItermax=numIterMax, stopThr=stopThr, verbose=verbose, log=log,
            warn=warn, warmstart=warmstart, **kwargs,
        )  # fmt: skip
    if kwargs:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    _check_metric(metric)
    rows, _ = _blocks(batchSize)
    return sinkhorn_divergence(
        X_s, X_t, a, b, reg=reg, metric=metric, debias=False, value="linear", scaling=None,
        numItermax=numIterMax, stopThr=stopThr, batch_size=rows, log=log, warn=warn,
    )  # fmt: skip


def empirical_sinkhorn_divergence(
    X_s,
    X_t,
    reg,
    a=None,
    b=None,
    metric="sqeuclidean",
    numIterMax=10000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    **kwargs,
):
    r"""POT's Sinkhorn divergence :math:`\bar S` between point clouds.

    .. math::
        \bar S = \max\big(0,\ \langle\gamma_{ab}, M_{ab}\rangle
        - \tfrac12\langle\gamma_{aa}, M_{aa}\rangle
        - \tfrac12\langle\gamma_{bb}, M_{bb}\rangle\big)

    with the entropic plans of the three problems (linear costs only, as POT's
    ``ot.bregman.empirical_sinkhorn_divergence``); :func:`sinkhorn_divergence` gives the
    debiased divergence of Feydy et al. (with the entropic terms), which is the one with
    the guarantees (positive, zero iff equal). Computed online; ``isLazy=True`` (in
    ``kwargs``, as POT passes it on) sets blocks of ``batchSize`` rows, otherwise one
    block holds all rows. Gradients as :func:`empirical_sinkhorn2`. ``warmstart`` and
    ``verbose`` are accepted and ignored.

    Returns
    -------
    value : 0-d array
    log : dict, only with ``log=True``: POT's 'sinkhorn_loss_ab', 'sinkhorn_loss_a',
        'sinkhorn_loss_b' and the log of :func:`sinkhorn_divergence`.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [1.0]])
    >>> float(ot.empirical_sinkhorn_divergence(x, x, 0.1))
    0.0
    """
    is_lazy = kwargs.pop("isLazy", False)
    rows, _ = _blocks(kwargs.pop("batchSize", 100))
    scaling = kwargs.pop("scaling", 0.5)
    if kwargs:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    _check_metric(metric)
    value, info = sinkhorn_divergence(
        X_s, X_t, a, b, reg=reg, metric=metric, debias=True, value="linear",
        scaling=scaling, numItermax=numIterMax, stopThr=stopThr,
        batch_size=rows if is_lazy else None, log=True, warn=warn,
    )  # fmt: skip
    xp_value = value * 0.0
    value = _clip_at_zero(value, xp_value)
    if not log:
        return value
    info.update(
        sinkhorn_loss_ab=info["linear_ab"],
        sinkhorn_loss_a=info["linear_aa"],
        sinkhorn_loss_b=info["linear_bb"],
    )
    return value, info


def _clip_at_zero(value, zero):
    """max(0, value), keeping the gradient where value > 0 (POT's convention)."""
    xp = get_namespace(value=value)
    return xp.where(value > 0, value, zero)
