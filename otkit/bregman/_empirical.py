"""POT's ``empirical_sinkhorn*``: entropic OT between point clouds, dense or online."""

from __future__ import annotations

import functools
import warnings

from .._validation import check_integer, check_real, nan_unless
from ..backend import get_namespace, is_jax_namespace, is_traced, jit, stop_gradient, to_numpy
from ..utils._costs import dist
from ._clouds import _normalized, cost_spec, positive_parameter, prepare_clouds
from ._divergence import sinkhorn_divergence
from ._lazy_plan import sinkhorn_lazy_plan
from ._pointcloud import online_log_loop
from ._sinkhorn import check_method, sinkhorn, sinkhorn2
from ._sinkhorn_loop import log_weights

__all__ = ["empirical_sinkhorn", "empirical_sinkhorn2", "empirical_sinkhorn_divergence"]

_METRICS = ("sqeuclidean", "euclidean", "cosine")
# The options POT's empirical functions pass on to ot.sinkhorn (its per-method parameters).
# The online loop reaches the same fixed point whatever the method, so they are checked and
# otherwise unused there, as POT's lazy path ignores them.
_POT_SINKHORN_OPTIONS = frozenset({"method", "tau", "print_period", "epsilon0", "numInnerItermax"})


def _check_online_options(kwargs, allowed=frozenset()):
    """Check the keyword options of an online (point-cloud) solve; unknown ones are errors."""
    unknown = set(kwargs) - _POT_SINKHORN_OPTIONS - allowed
    if unknown:
        raise TypeError(
            f"unexpected keyword argument(s) for the online solver: {', '.join(sorted(unknown))}"
            " (options of otkit.sinkhorn other than POT's need isLazy=False)"
        )
    if "method" in kwargs:
        check_method(kwargs["method"])


def _blocks(batchSize):
    """``(rows, cols)`` from an integer >= 1 or a pair of them."""
    if isinstance(batchSize, (tuple, list)):
        if len(batchSize) != 2:
            raise ValueError(f"batchSize must be an int or a pair of ints, got {batchSize!r}")
        rows, cols = batchSize
    else:
        rows = cols = batchSize
    checked = (check_integer(v, "batchSize", minimum=1, allow_traced=False) for v in (rows, cols))
    return tuple(checked)


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
    reg = check_real(reg, "reg", minimum=0, inclusive=(False, True))
    reg = positive_parameter(reg, "reg")  # traced: NaN unless finite and > 0
    numIterMax = check_integer(numIterMax, "numIterMax", allow_traced=False)
    stopThr = check_real(stopThr, "stopThr", minimum=0, allow_traced=False)
    rows, cols = _blocks(batchSize)
    spec, _ = cost_spec(metric, None, rows)
    spec = type(spec)(spec.kind, spec.p, rows, cols)
    xp, dtype, device, X_s, X_t, a, b = prepare_clouds(X_s, X_t, a, b, True)
    x, y, wa, wb = (stop_gradient(v, xp) for v in (X_s, X_t, a, b))
    if spec.kind == "cosine":
        x, y = _normalized(x, xp), _normalized(y, xp)
    else:
        # Translation-invariant cost: centred points keep |x|^2 + |y|^2 - 2<x, y> from
        # cancelling catastrophically far from the origin (X + 1e8); same potentials.
        center = (xp.mean(x, axis=0) + xp.mean(y, axis=0)) / 2.0
        x, y = x - center, y - center
    f0 = xp.zeros((x.shape[0], 1), dtype=dtype, device=device)
    if warmstart is not None:
        log_u = xp.asarray(warmstart[0], dtype=dtype, device=device)
        if not is_traced(log_u, wa) and not bool(xp.all(xp.isfinite(log_u) | (wa <= 0))):
            raise ValueError(
                "warmstart must be finite: its first array holds NaN or inf at points of "
                "positive weight"
            )
        f0 = (reg * (log_u - log_weights(wa, xp)))[:, None]
    if is_jax_namespace(xp):
        run = _jitted_online(int(numIterMax), float(stopThr), spec, xp)
        f, g, n_iter, err, trace = run(x, y, wa, wb[:, None], xp.asarray(reg, dtype=dtype), f0)
    else:
        f, g, n_iter, err, trace = online_log_loop(
            wa, wb[:, None], x, y, spec, reg, f0, int(numIterMax), float(stopThr), xp
        )
    if is_traced(f):
        # Invalid traced input arrives as NaN (prepare_clouds, positive_parameter); the
        # loop's zero-weight masks can end it at once with f = f0 and err = 0: all NaN.
        poisoned = xp.isnan(xp.sum(wa) + xp.sum(wb) + reg)
        f, g, err, trace = nan_unless(~poisoned, (f, g, err, trace), xp)
    points = (stop_gradient(X_s, xp), stop_gradient(X_t, xp))
    return xp, *points, wa, wb, f[:, 0], g[:, 0], n_iter, err, trace


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
        log-scalings), 'n_iter' ('niter'), 'err' (marginal-error trace), 'converged' and,
        as POT, 'lazy_plan': the plan as a ``LazyTensor`` whose blocks are computed when
        indexed (``lazy_plan[:]`` dense, ``lazy_plan[i:j, k:l]`` a block, ``.shape``;
        see :func:`otkit.bregman._lazy_plan.sinkhorn_lazy_plan`; not under ``jax.jit``,
        where a log holds arrays only).
    warmstart : pair of arrays, optional
        POT's log-scalings ``(log_u, log_v)``.
    **kwargs
        Passed to :func:`otkit.sinkhorn` (dense path): POT's ``method``, ``tau``,
        ``print_period``, ``epsilon0``, ``numInnerItermax`` and otkit's options. With
        ``isLazy=True`` only POT's are accepted (every method reaches the same fixed
        point, so they are checked and unused, as POT ignores them there).

    Returns
    -------
    gamma : (n, m) array, or ``(log_u, log_v)`` when ``isLazy``.
    log : dict, only with ``log=True`` (lazily ``(log_u, log_v, log)``, as POT).

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
    _check_online_options(kwargs)
    xp, X_s, X_t, wa, wb, f, g, n_iter, err, trace = _online_potentials(
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
    if not traced:  # a jitted function returns arrays only
        info["lazy_plan"] = sinkhorn_lazy_plan(X_s, X_t, log_u, log_v, metric, reg)
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
    plan (as POT: without the entropic term). The dense path (``isLazy=False``) is
    :func:`otkit.sinkhorn2` on ``dist(X_s, X_t)``: by default the exact (implicit)
    gradient of this cost, ``grad=`` is passed on. With ``isLazy=True`` nothing of size
    n x m is stored, and unlike POT's lazy path the value stays differentiable (torch, JAX)
    with respect to ``X_s``, ``X_t``, ``a`` and ``b``: by default with the same exact
    (implicit) gradient, computed online (:func:`sinkhorn_divergence`'s ``grad``;
    ``grad='envelope'`` gives the gradient of the regularized value instead).

    Parameters are those of :func:`empirical_sinkhorn` (``**kwargs`` too); ``warmstart`` is
    used by the dense path only. With ``log=True`` the lazy path returns the log of
    :func:`sinkhorn_divergence` (``debias=False``) with POT's keys added: 'u', 'v'
    (log-scalings), 'niter' and 'lazy_plan'.

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
    grad = kwargs.pop("grad", "implicit")
    if grad not in ("implicit", "envelope"):
        raise ValueError(f"grad must be 'implicit' or 'envelope' with isLazy=True, got {grad!r}")
    _check_online_options(kwargs)
    _check_metric(metric)
    rows, _ = _blocks(batchSize)
    out = sinkhorn_divergence(
        X_s, X_t, a, b, reg=reg, metric=metric, debias=False, value="linear", scaling=None,
        numItermax=numIterMax, stopThr=stopThr, batch_size=rows, log=log, warn=warn,
        grad=grad,
    )  # fmt: skip
    if not log:
        return out
    value, info = out
    info.update(_pot_keys(X_s, X_t, a, b, info["f"], info["g"], metric, reg, lazy=True))
    info["niter"] = info["n_iter"]
    return value, info


def _pot_keys(X_s, X_t, a, b, f, g, metric, reg, lazy):
    """POT's log entries of one point-cloud problem from its potentials (cost units):
    'u', 'v' (log-scalings when ``lazy``, as POT's online path; scalings otherwise), 'log_u',
    'log_v' and, when ``lazy``, 'lazy_plan'."""
    xp, _, _, X_s, X_t, wa, wb = prepare_clouds(X_s, X_t, a, b, True, check_mass=False)
    X_s, X_t, f, g = (stop_gradient(v, xp) for v in (X_s, X_t, f, g))
    log_u = f / reg + log_weights(stop_gradient(wa, xp), xp)
    log_v = g / reg + log_weights(stop_gradient(wb, xp), xp)
    keys = {"log_u": log_u, "log_v": log_v}
    if lazy and is_traced(log_u):  # a jitted function returns arrays only
        keys.update(u=log_u, v=log_v)
    elif lazy:
        keys.update(
            u=log_u, v=log_v, lazy_plan=sinkhorn_lazy_plan(X_s, X_t, log_u, log_v, metric, reg)
        )
    else:
        keys.update(u=xp.exp(log_u), v=xp.exp(log_v))
    return keys


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
    block holds all rows. Gradients as :func:`empirical_sinkhorn2` with ``isLazy=True``
    (``grad`` in ``kwargs``: 'implicit' by default, or 'envelope'). ``warmstart``,
    ``verbose`` and POT's Sinkhorn options in ``kwargs`` (``method``, ``tau``,
    ``print_period``, ``epsilon0``, ``numInnerItermax``) are accepted and unused (the three
    problems are solved online by :func:`sinkhorn_divergence`); ``scaling`` sets its
    annealing. Other keywords are errors.

    Returns
    -------
    value : 0-d array
    log : dict, only with ``log=True``: POT's 'sinkhorn_loss_ab', 'sinkhorn_loss_a',
        'sinkhorn_loss_b', 'log_sinkhorn_ab', 'log_sinkhorn_a', 'log_sinkhorn_b' (each with
        'u', 'v' as POT's: the scalings, or with ``isLazy`` the log-scalings and a
        'lazy_plan'; and 'log_u', 'log_v'), and the log of :func:`sinkhorn_divergence`.

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
    grad = kwargs.pop("grad", "implicit")
    _check_online_options(kwargs)
    _check_metric(metric)
    value, info = sinkhorn_divergence(
        X_s, X_t, a, b, reg=reg, metric=metric, debias=True, value="linear",
        scaling=scaling, numItermax=numIterMax, stopThr=stopThr,
        batch_size=rows if is_lazy else None, log=True, warn=warn, grad=grad,
    )  # fmt: skip
    xp_value = value * 0.0
    value = _clip_at_zero(value, xp_value)
    if not log:
        return value
    info.update(
        sinkhorn_loss_ab=info["linear_ab"],
        sinkhorn_loss_a=info["linear_aa"],
        sinkhorn_loss_b=info["linear_bb"],
        log_sinkhorn_ab=_pot_keys(X_s, X_t, a, b, info["f"], info["g"], metric, reg, is_lazy),
        log_sinkhorn_a=_pot_keys(X_s, X_s, a, a, info["f_aa"], info["f_aa"], metric, reg, is_lazy),
        log_sinkhorn_b=_pot_keys(X_t, X_t, b, b, info["g_bb"], info["g_bb"], metric, reg, is_lazy),
    )
    return value, info


def _clip_at_zero(value, zero):
    """max(0, value), keeping the gradient where value > 0 (POT's convention)."""
    xp = get_namespace(value=value)
    return xp.where(value > 0, value, zero)
