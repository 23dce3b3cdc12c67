r"""One call for every solver, on point clouds: ``solve_sample``.

The methods are a few lines over the solvers: exact and dense entropic OT build the cost
matrix and call :func:`otkit.solve`; '1d' sorts (:func:`otkit.wasserstein_1d`); 'sliced'
projects (:func:`otkit.sliced_wasserstein_distance`); 'online' recomputes costs by blocks
(:func:`otkit.sinkhorn_divergence`). Every value is in cost units: :math:`W_p^p`-like, never
a p-th root.
"""

from __future__ import annotations

from functools import partial

from .._boundary import as_backend, weights_or_uniform
from .._validation import check_ndim, check_not_empty
from ..backend import device_of, get_namespace, is_traced, stop_gradient
from ..bregman._sinkhorn_loop import log_weights
from ..lp._one_d import (
    emd_1d,
    namespace_dtype_device,
    wasserstein_1d,
    wasserstein_1d_potentials,
    weights_or_none,
)
from ..sliced._sliced import sliced_wasserstein_distance
from ..utils._costs import dist
from ..utils._result import OTResult
from ._progress import progress
from ._solve import (
    EXACT_METHODS,
    GRADS,
    SINKHORN_METHODS,
    check_choice,
    check_iteration_options,
    check_reg,
    is_regularized,
    solve,
)

__all__ = ["SAMPLE_METHODS", "solve_sample"]

SAMPLE_METHODS = ("exact", "sinkhorn", "1d", "sliced", "online")
_DENSE_METHODS = EXACT_METHODS + SINKHORN_METHODS
# The 1D cost |x - y|^q that each metric of otkit.dist is on the real line.
_EXPONENT_1D = {"sqeuclidean": 2.0, "euclidean": 1.0, "cityblock": 1.0, "minkowski": 1.0}
_EXPONENT_SLICED = {"sqeuclidean": 2.0, "euclidean": 1.0}
_RESULT_FIELDS = (
    "value", "value_linear", "potentials", "status", "converged", "n_iter", "errors", "log",
)  # fmt: skip


def solve_sample(
    X_a,
    X_b,
    a=None,
    b=None,
    metric: str = "sqeuclidean",
    reg=None,
    *,
    method: str | None = None,
    lazy: bool = False,
    debias: bool = False,
    reach=None,
    p: float = 2,
    n_projections: int = 50,
    projections=None,
    seed=None,
    batch_size: int | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
    potentials_init=None,
    grad: str = "autodiff",
    verbose: bool = False,
) -> OTResult:
    r"""Solve optimal transport between two weighted point clouds; return an OTResult.

    The problem of :func:`otkit.solve` for the cost :math:`C_{ij} = c(x_i, y_j)` of
    :func:`otkit.dist` with ``metric``, by the method chosen:

    ========== ===================================================== =========================
    method     what runs                                             ``value``
    ========== ===================================================== =========================
    'exact'    :func:`otkit.solve` (network simplex) on ``dist``     :math:`\langle P, C\rangle`
    'sinkhorn' :func:`otkit.solve` (dense Sinkhorn) on ``dist``      :math:`\mathrm{OT}_\varepsilon`
    'online'   :func:`otkit.sinkhorn_divergence`, costs by blocks    :math:`\mathrm{OT}_\varepsilon`
    '1d'       :func:`otkit.wasserstein_1d`, one problem per feature :math:`W_q^q`
    'sliced'   :func:`otkit.sliced_wasserstein_distance`             :math:`SW_q^q`
    ========== ===================================================== =========================

    with :math:`\mathrm{OT}_\varepsilon = \langle P, C\rangle + \varepsilon\,
    \mathrm{KL}(P \,\|\, a \otimes b)` and ``value_linear`` :math:`= \langle P, C\rangle`.

    **Units are the same whatever the method**: ``value`` is in the units of the cost, so
    for ``metric='sqeuclidean'`` exact OT gives :math:`W_2^2`, '1d' gives :math:`W_2^2`
    (equal to exact OT on 1-D data) and 'sliced' gives :math:`SW_2^2`, *the square* of
    :func:`otkit.sliced_wasserstein_distance` (and of POT's ``solve_sample`` value for
    'sliced', which is :math:`SW_p`). The distance itself is ``log["sliced_distance"]``.

    Parameters
    ----------
    X_a : (n, d) array
        Source points (a 1-D array is read as d = 1).
    X_b : (m, d) array
        Target points, same d.
    a : (n,) array, optional
        Source weights (uniform when None or empty).
    b : (m,) array, optional
        Target weights, same total mass as ``a`` (uniform when None or empty).
    metric : str, default='sqeuclidean'
        Ground cost, one of ``otkit.METRICS`` for 'exact' and 'sinkhorn'. On the real line
        ('1d', 'sliced' along each direction) 'sqeuclidean' is :math:`|x - y|^2` (q = 2) and
        the others are :math:`|x - y|` (q = 1); 'sliced' takes 'sqeuclidean' or
        'euclidean', 'online' 'sqeuclidean', 'euclidean' or 'cosine'.
    reg : float, optional
        Entropic regularization :math:`\varepsilon` in cost units; None or 0: unregularized.
    method : {'exact', 'sinkhorn', '1d', 'sliced', 'online'}, optional
        None picks 'exact' without ``reg``, and 'sinkhorn' (or 'online' when ``lazy``) with
        it. The Sinkhorn variants of :func:`otkit.solve` ('sinkhorn_log', 'greenkhorn', ...)
        and 'emd' are accepted too.
    lazy : bool, default=False
        Never form the (n, m) cost matrix: entropic OT runs 'online' (memory
        O((n + m) d + batch_size m)); the result then has no plan.
    debias : bool, default=False
        Entropic OT only: ``value`` is the Sinkhorn divergence
        :math:`\mathrm{OT}_\varepsilon(a, b) - \tfrac12 \mathrm{OT}_\varepsilon(a, a) -
        \tfrac12 \mathrm{OT}_\varepsilon(b, b)` (``value_linear`` combines the linear parts
        alike), from :func:`otkit.sinkhorn_divergence` (symmetric updates for the self
        terms, its default tolerance, envelope gradients) whatever the entropic method; the
        potentials are those of (a, b), and dense methods form the plan from them. No effect
        on the unregularized methods, whose self terms are zero.
    reach : float, optional
        Unbalanced entropic OT, 'online' only (GeomLoss's reach, as
        :func:`otkit.sinkhorn_divergence`); ``NotImplementedError`` for the other methods.
    p : float, default=2
        Exponent of ``metric='minkowski'`` in :func:`otkit.dist`.
    n_projections : int, default=50
        Number of random directions ('sliced').
    projections : (d, L) array, optional
        Directions to use ('sliced'), as :func:`otkit.sliced_wasserstein_distance` (columns;
        POT's ``solve_sample`` documents rows).
    seed : int or numpy.random.Generator, optional
        Source of the random directions ('sliced').
    batch_size : int, optional
        Rows per cost block ('online').
    max_iter, tol, potentials_init, grad, verbose
        As in :func:`otkit.solve` ('online' uses the tolerance and iteration count of
        :func:`otkit.sinkhorn_divergence` and its envelope gradients, also for
        'autodiff'; '1d' and 'sliced' do not iterate, and are differentiable natively).
        ``potentials_init`` is for 'exact' and 'sinkhorn' only.

    Returns
    -------
    result : OTResult
        In the library, dtype and device of ``X_a``. '1d' on d > 1 features gives a value
        of shape (d,) (one problem per feature, as POT) and potentials of shapes (n, d),
        (m, d); its plan is computed on first access (d = 1 only). 'sliced' and 'online'
        give no plan; 'sliced' gives no potentials; ``log`` holds the underlying log.

    Raises
    ------
    ValueError
        An unknown ``method``, ``metric`` or ``grad``; ``reg < 0``; ``reg`` with '1d' or
        'sliced' (or without it for 'sinkhorn' and 'online'); ``lazy`` with 'exact';
        ``X_a`` and ``X_b`` of different dimensions; weights that do not match the points.
    NotImplementedError
        ``reach`` with a method other than 'online'.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [1.0]]); y = x + 2.0
    >>> float(ot.solve_sample(x, y).value)  # W_2^2
    4.0
    >>> float(ot.solve_sample(x, y, method="1d").value)
    4.0
    >>> round(float(ot.solve_sample(x, y, method="sliced", seed=0).value), 6)  # SW_2^2
    4.0
    """
    eps = check_reg(reg)
    check_choice(grad, "grad", GRADS)
    check_iteration_options(max_iter, tol)
    method = _method_for(method, eps, lazy, debias, reach, potentials_init)
    xp, X, Y, a, b = _prepare_samples(X_a, X_b, a, b)
    if method == "online" or (debias and method in SINKHORN_METHODS):
        options = {"numItermax": max_iter, "stopThr": tol, "batch_size": batch_size}
        result = _solve_online(X, Y, a, b, metric, eps, debias, reach, options, grad, verbose)
        if method == "online":
            return result
        # A dense method with debias: the divergence's potentials give the plan in one pass.
        plan = _plan_from_potentials(*result.potentials, dist(X, Y, metric=metric), eps, a, b)
        fields = {name: getattr(result, name) for name in _RESULT_FIELDS}
        return OTResult(**fields, plan=plan, method=method)
    if method == "1d":
        return _solve_1d(X, Y, a, b, metric, grad, xp, verbose)
    if method == "sliced":
        options = {"n_projections": n_projections, "projections": projections, "seed": seed}
        return _solve_sliced(X, Y, a, b, metric, options, grad, xp, verbose)
    options = {
        "max_iter": max_iter,
        "tol": tol,
        "grad": grad,
        "method": "emd" if method == "exact" else method,
    }
    return solve(
        dist(X, Y, metric=metric, p=p), a, b, eps,
        potentials_init=potentials_init, verbose=verbose, **options,
    )  # fmt: skip


def _method_for(method, eps, lazy, debias, reach, potentials_init):
    regularized = is_regularized(eps)
    if method is None:
        method = ("online" if lazy else "sinkhorn") if regularized else "exact"
    check_choice(method, "method", SAMPLE_METHODS + _DENSE_METHODS)
    if method == "emd":
        method = "exact"
    if lazy and method in _DENSE_METHODS:
        if method in EXACT_METHODS:
            raise ValueError(
                "lazy=True never forms the cost matrix, which exact OT needs; use reg > 0 "
                "(entropic OT, method='online'), method='1d' or method='sliced'"
            )
        method = "online"
    if method in ("1d", "sliced") and regularized:
        raise ValueError(f"reg is not used by method={method!r} (unregularized); got reg={eps!r}")
    if method == "online" and not regularized:
        raise ValueError(f"method='online' is entropic OT and needs reg > 0, got reg={eps!r}")
    if reach is not None and method != "online":
        raise NotImplementedError(
            f"unbalanced OT (reach=...) is not implemented for method={method!r}; use "
            "method='online' (entropic, point clouds)"
        )
    if potentials_init is not None and (method not in _DENSE_METHODS or debias and regularized):
        raise ValueError(
            "potentials_init is used by the 'exact' and 'sinkhorn' methods (without debias), "
            f"not by method={method!r}{' with debias=True' if debias else ''}"
        )
    return method


def _prepare_samples(X_a, X_b, a, b):
    """Namespace, (n, d) and (m, d) points, and weights (None for uniform)."""
    xp, dtype, device = namespace_dtype_device({"X_a": X_a, "X_b": X_b, "a": a, "b": b})
    X = _points(X_a, "X_a", xp, dtype, device)
    Y = _points(X_b, "X_b", xp, dtype, device)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X_a and X_b must have the same number of features: X_a.shape == "
            f"{tuple(X.shape)}, X_b.shape == {tuple(Y.shape)}"
        )
    a = weights_or_none(a, "a", X.shape[0], (), xp, dtype, device, "X_a.shape[0]")
    b = weights_or_none(b, "b", Y.shape[0], (), xp, dtype, device, "X_b.shape[0]")
    return xp, X, Y, a, b


def _points(X, name, xp, dtype, device):
    X = as_backend(X, xp, dtype, device)
    if X.ndim == 1:
        X = xp.reshape(X, (X.shape[0], 1))
    check_ndim(X, name, 2)
    check_not_empty(X, name)
    return X


def _exponent(metric, method, exponents):
    if metric not in exponents:
        raise ValueError(
            f"metric must be one of {', '.join(map(repr, exponents))} for method={method!r}, "
            f"got {metric!r}"
        )
    return exponents[metric]


def _closed_form(method, value, grad, xp, verbose, **fields):
    """OTResult of a method that does not iterate (exact by construction)."""
    with progress(verbose, None, desc=method) as report:
        report.close("optimal")
    value = stop_gradient(value, xp) if grad == "detach" else value
    return OTResult(
        value=value,
        value_linear=value,
        status="optimal",
        converged=True,
        n_iter=0,
        errors=[],
        method=method,
        **fields,
    )


def _solve_1d(X, Y, a, b, metric, grad, xp, verbose):
    q = _exponent(metric, "1d", _EXPONENT_1D)
    n, m, d = X.shape[0], Y.shape[0], X.shape[1]
    x, y = (X[:, 0], Y[:, 0]) if d == 1 else (X, Y)
    plan_factory = None
    if d == 1:
        ground = "sqeuclidean" if q == 2.0 else "euclidean"
        plan_factory = partial(emd_1d, x, y, a, b, metric=ground)
    marginals = tuple(
        w if w is not None else weights_or_uniform(None, size, xp, X.dtype, device_of(X))
        for w, size in ((a, n), (b, m))
    )
    return _closed_form(
        "1d",
        wasserstein_1d(x, y, a, b, p=q),
        grad,
        xp,
        verbose,
        potentials=wasserstein_1d_potentials(x, y, a, b, p=q),
        marginals=marginals,
        plan_factory=plan_factory,
    )


def _solve_sliced(X, Y, a, b, metric, options, grad, xp, verbose):
    q = _exponent(metric, "sliced", _EXPONENT_SLICED)
    distance, log = sliced_wasserstein_distance(X, Y, a, b, p=q, log=True, **options)
    # SW_q^q as the mean of the projected W_q^q: no q-th root, so no infinite derivative at 0.
    value = xp.mean(log["projected_emds"])
    log = {**log, "sliced_distance": distance}
    return _closed_form("sliced", value, grad, xp, verbose, log=log)


def _solve_online(X, Y, a, b, metric, eps, debias, reach, options, grad, verbose):
    try:  # the point-cloud solver is a separate, later layer than the matrix solvers
        from ..bregman._divergence import sinkhorn_divergence
    except ImportError:  # pragma: no cover - only in a build without it
        raise NotImplementedError(
            "method='online' (and lazy=True) needs otkit.sinkhorn_divergence, which this "
            "build of otkit lacks; use method='sinkhorn' (dense)"
        ) from None
    options = {key: value for key, value in options.items() if value is not None}
    value, log = sinkhorn_divergence(
        X, Y, a, b, reg=eps, metric=metric, debias=debias, reach=reach, log=True, **options
    )
    converged = log["converged"]
    status = None
    if not is_traced(value, log["err"]):
        status = "converged" if converged else "max_iter_reached"
        with progress(verbose, None, desc="online") as report:
            report(log["n_iter"], log["err"])
            report.close(status)
    value_linear = log["value_linear"]
    if grad == "detach":
        xp = get_namespace(X=X)
        value, value_linear = stop_gradient(value, xp), stop_gradient(value_linear, xp)
    return OTResult(
        value=value,
        value_linear=value_linear,
        potentials=(log["f"], log["g"]),
        status=status,
        converged=converged,
        n_iter=log["n_iter"],
        errors=[log["err"]],
        method="online",
        log=log,
    )


def _plan_from_potentials(f, g, C, eps, a, b):
    """P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps), potentials held fixed."""
    xp = get_namespace(C=C)
    n, m = C.shape
    a = weights_or_uniform(a, n, xp, C.dtype, device_of(C))
    b = weights_or_uniform(b, m, xp, C.dtype, device_of(C))
    f, g = stop_gradient(f, xp), stop_gradient(g, xp)
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    return xp.exp((f[:, None] + g[None, :] - C) / eps + log_a[:, None] + log_b[None, :])
