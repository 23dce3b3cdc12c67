r"""One call for every solver, on point clouds: ``solve_sample``.

The methods are a few lines over the solvers: exact and dense entropic (or unbalanced) OT
build the cost matrix and run :func:`otkit.solve`; '1d' sorts (:func:`otkit.wasserstein_1d`);
'sliced' and 'max_sliced' project; 'online' and 'geomloss' recompute costs by blocks
(:func:`otkit.sinkhorn_divergence`); 'gaussian' is a closed form. Every value is in cost
units: :math:`W_p^p`-like, never a p-th root. The arguments are POT's (``ot.solve_sample``),
in POT's order.
"""

from __future__ import annotations

from .._boundary import as_backend
from .._validation import check_integer, check_ndim, check_not_empty, check_real
from ..lp._one_d_inputs import namespace_dtype_device, weights_or_none
from ..utils._costs import dist
from ..utils._result import OTResult, with_changes
from ._checks import (
    GRADS,
    check_choice,
    check_iteration_options,
    check_n_threads,
    check_reg,
    check_reg_type,
    check_unbalanced_type,
    is_regularized,
    warn_n_threads,
)
from ._gaussian import solve_gaussian
from ._sample_methods import (
    barycentric_maps,
    solve_1d,
    solve_lazy_exact,
    solve_online,
    solve_sliced,
)
from ._solve import EXACT_METHODS, SINKHORN_METHODS, solve_matrix

__all__ = ["SAMPLE_METHODS", "solve_sample"]

SAMPLE_METHODS = ("exact", "sinkhorn", "mm", "1d", "sliced", "max_sliced", "online",
                  "gaussian", "geomloss")  # fmt: skip
_GEOMLOSS = ("geomloss", "geomloss_auto", "geomloss_tensorized", "geomloss_online",
             "geomloss_multiscale")  # fmt: skip
_DENSE_METHODS = EXACT_METHODS + SINKHORN_METHODS + ("mm", "lbfgsb")
_LAZY_METHODS = ("online",) + _GEOMLOSS
# POT's methods that otkit does not implement, and what to use instead.
_ALTERNATIVES = {
    "lowrank": "method='sinkhorn' (dense) or lazy=True (online Sinkhorn, O((n + m) d) memory)",
    "factored": "method='exact' or 'sinkhorn', or otkit.free_support_barycenter for a support",
    "nystroem": "lazy=True (online Sinkhorn, exact kernel by blocks) or method='sinkhorn'",
    "gaussian_hd": "method='gaussian' (full covariances)",
    "bsp": "method='exact' (network simplex) or 'sliced'",
}
_POT_DEFAULT_RANK = 100
_EXACT_LAZY = "exact_lazy"  # internal: exact OT by emd2_lazy (lazy=True, no reg)
_ONLINE_REACH_EXPONENT = {"sqeuclidean": 2.0, "euclidean": 1.0}


def solve_sample(
    X_a,
    X_b,
    a=None,
    b=None,
    metric: str = "sqeuclidean",
    reg=None,
    c=None,
    reg_type: str = "KL",
    unbalanced=None,
    unbalanced_type: str = "KL",
    lazy: bool = False,
    batch_size: int | None = None,
    method: str | None = None,
    n_threads=1,
    max_iter: int | None = None,
    plan_init=None,
    rank: int = 100,
    scaling: float = 0.95,
    potentials_init=None,
    X_init=None,
    tol: float | None = None,
    verbose: bool = False,
    grad: str = "autodiff",
    random_state=None,
    debias=False,
    n_projections: int = 50,
    projections=None,
    scaler=None,
    *,
    reach=None,
    p: float = 2,
    seed=None,
) -> OTResult:
    r"""Solve optimal transport between two weighted point clouds; return an OTResult.

    The problem of :func:`otkit.solve` for the cost :math:`C_{ij} = c(x_i, y_j)` of
    :func:`otkit.dist` with ``metric``, by the method chosen:

    ============= ================================================== ===========================
    method        what runs                                          ``value``
    ============= ================================================== ===========================
    'exact'       :func:`otkit.solve` (network simplex) on ``dist``  :math:`\langle P, C\rangle`
    'sinkhorn'    :func:`otkit.solve` (dense Sinkhorn) on ``dist``    :math:`\mathrm{OT}_\varepsilon`
    'mm'          :func:`otkit.solve` (unbalanced, MM) on ``dist``    unbalanced objective
    'online'      :func:`otkit.sinkhorn_divergence`, costs by blocks :math:`\mathrm{OT}_\varepsilon`
    'geomloss'    the same (POT's GeomLoss route), ``scaling``        :math:`\mathrm{OT}_\varepsilon`
    '1d'          :func:`otkit.wasserstein_1d`, one problem per        :math:`W_q^q`
                  feature
    'sliced'      :func:`otkit.sliced_wasserstein_distance`           :math:`SW_q^q`
    'max_sliced'  :func:`otkit.max_sliced_wasserstein_distance`       :math:`\max_\theta W_q^q`
    'gaussian'    Bures-Wasserstein closed form                       :math:`W_2^2` of the fits
    ============= ================================================== ===========================

    with :math:`\mathrm{OT}_\varepsilon = \langle P, C\rangle + \varepsilon\,
    \mathrm{KL}(P \,\|\, a \otimes b)` and ``value_linear`` :math:`= \langle P, C\rangle`.
    'gaussian' fits :math:`\mathcal N(m, \Sigma)` to each weighted   sample (``reg`` added to
    the covariances) and returns

    .. math::
        W_2^2 = \|m_a - m_b\|^2 + \operatorname{tr}\Sigma_a + \operatorname{tr}\Sigma_b
        - 2\operatorname{tr}\big(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}\big)^{1/2},

    with the linear Monge map :math:`T(x) = m_b + A(x - m_a)` as ``a_to_b``.

    **Units are the same whatever the method**: ``value`` is in the units of the cost, so
    for ``metric='sqeuclidean'`` exact OT gives :math:`W_2^2`, '1d' and 'gaussian' give
    :math:`W_2^2` and 'sliced' gives :math:`SW_2^2`, *the square* of
    :func:`otkit.sliced_wasserstein_distance` (and of POT's ``solve_sample`` value for
    'sliced' and 'max_sliced', which is :math:`SW_p`). The distanc  e itself is
    ``log["sliced_distance"]``.

    Parameters
    ----------
    X_a : (n, d) array
        Source points (a 1-D array is read as d = 1).
    X_b : (m, d) array
        Target points, same d.
    a : (n,) array, optional
        Source weights (uniform when None or empty).
    b : (m,) array, optional
        Target weights, same total mass as ``a`` unless unbalanced (uniform when None).
    metric : str, default='sqeuclidean'
        Ground cost, one of ``otkit.METRICS`` for the dense methods. On the real line
        ('1d', 'sliced' along each direction) 'sqeuclidean' is :math:`|x - y|^2` (q = 2) and
        'euclidean', 'cityblock' are :math:`|x - y|` (q = 1); 'online' and 'geomloss' take
        'sqeuclidean', 'euclidean' or 'cosine'; 'gaussian' 'sqeuclidean' only.
    reg : float, optional
        Entropic regularization :math:`\varepsilon` in cost units; None or 0: unregularized.
        For 'gaussian', the ridge added to both covariances (default 1e-6, as POT).
    c, reg_type, unbalanced, unbalanced_type, n_threads, plan_init
        As in :func:`otkit.solve`, for the dense methods. 'online' and 'geomloss' take
        ``unbalanced`` (one KL penalty :math:`\rho`) and ``reg_type``; ``c`` needs the dense
        path.
    lazy : bool, default=False
        Never form the (n, m) cost matrix: entropic OT runs 'online' (memory
        O((n + m) d + batch_size m)) and the result has a ``lazy_plan`` instead of a plan;
        balanced exact OT (no ``reg``, ``method`` None, 'exact' or 'emd') runs
        :func:`otkit.emd2_lazy` (multiscale network simplex certified on all pairs, memory
        O((n + m) k); metrics 'sqeuclidean', 'euclidean', 'cityblock', 'minkowski'): the
        value, potentials and gradients of the dense exact method, the plan as
        ``sparse_plan`` (``scipy.sparse.coo_array`` on NumPy, a torch sparse COO tensor on
        torch, an :class:`otkit.lp.SparsePlan` elsewhere; ``plan`` densifies it on access).
    batch_size : int, optional
        Rows per cost block ('online', 'geomloss') and per block of the lazy plan.
    method : str, optional
        One of the table above (any case), or a method of :func:`otkit.solve`
        ('emd', 'sinkhorn_log', 'greenkhorn', ..., 'lbfgsb'). None picks 'exact' without
        ``reg``, 'sinkhorn' with it ('online' when ``lazy``), 'mm' for unbalanced OT
        without ``reg``. 'geomloss_online', 'geomloss_tensorized', 'geomloss_auto' and
        'geomloss_multiscale' choose blocks, one block, the default and blocks. POT's
        'lowrank', 'factored', 'nystroem', 'gaussian_hd' and 'bsp' raise
        ``NotImplementedError`` naming an alternative.
    max_iter, tol, potentials_init, verbose
        As in :func:`otkit.solve` ('online' and 'geomloss' use the tolerance of
        :func:`otkit.sinkhorn_divergence` by default). ``potentials_init`` is for the dense
        methods only.
    rank : int, default=100
        POT's rank of 'lowrank', 'factored', 'nystroem' and 'gaussian_hd', which otkit
        does not implement: any other value raises ``NotImplementedError``.
    scaling : float, default=0.95
        Ratio of the blur between two annealing stages of 'geomloss' (POT's), in (0, 1).
    X_init : array, optional
        POT's initial support of 'factored': ``NotImplementedError`` when given.
    grad : {'autodiff', 'envelope', 'detach', 'last_step'}, default='autodiff'
        As in :func:`otkit.solve` for the dense methods; 'online' and 'geomloss' have the
        envelope gradients of :func:`otkit.sinkhorn_divergence` for every choice but
        'detach'; '1d', 'sliced' and 'gaussian' are differentiable natively.
    random_state : int or numpy.random.Generator, optional
        Source of the random directions ('sliced', 'max_sliced'); ``seed`` is otkit's name.
    debias : bool, default=False
        ``value`` :math:`= \mathrm{OT}(a, b) - \tfrac12 \mathrm{OT}(a, a) - \tfrac12
        \mathrm{OT}(b, b)` (``value_linear`` alike), POT's meaning: for entropic OT the
        Sinkhorn divergence of :func:`otkit.sinkhorn_divergence` (symmetric updates for the
        self terms), whatever the entropic method, with the plan of (a, b) from its
        potentials for dense methods; no effect on the unregularized methods, whose self
        terms are zero. POT's ``debias='split'`` raises ``NotImplementedError``.
    n_projections : int, default=50
        Number of random directions ('sliced', 'max_sliced').
    projections : (d, L) array, optional
        Directions to use, as :func:`otkit.sliced_wasserstein_distance` (columns).
    scaler : optional
        Preprocessing of both clouds by :func:`otkit.utils.apply_scaler` (an object with
        ``transform`` or a callable), before anything else.
    reach : float, optional, keyword-only
        otkit's: unbalanced OT with :math:`\rho = q\,\mathrm{reach}^q` for the cost
        :math:`\|x - y\|^q` ('sqeuclidean': q = 2, 'euclidean': q = 1), GeomLoss's reach.
    p : float, default=2, keyword-only
        Exponent of ``metric='minkowski'`` in :func:`otkit.dist`.
    seed : int or numpy.random.Generator, optional, keyword-only
        otkit's name for ``random_state``.

    Returns
    -------
    result : OTResult
        In the library, dtype and device of ``X_a``. '1d' on d > 1 features gives a value
        of shape (d,) (one problem per feature, as POT) and potentials of shapes (n, d),
        (m, d); its plan is computed on first access (d = 1 only). 'sliced' and
        'gaussian' give no plan and no potentials; 'online' and 'geomloss' give a
        ``lazy_plan``; ``a_to_b`` and ``b_to_a`` are the barycentric displacements of the
        plan (the Monge map for 'gaussian'); ``log`` holds the underlying log.

    Raises
    ------
    ValueError
        An unknown ``method``, ``metric`` or ``grad``; ``reg < 0``; ``reg`` with '1d' or
        the sliced methods (or without it for 'sinkhorn', 'online' and 'geomloss');
        ``X_a`` and ``X_b`` of different dimensions; weights that do not match the points.
    NotImplementedError
        The methods, options and metrics named above.

    Notes
    -----
    Differences from POT's ``ot.solve_sample``: 'sliced' and 'max_sliced' values are the
    p-th powers of POT's; lazy entropic OT ('online') returns ``value`` (POT: None) and
    potentials in cost units (POT: log-scalings); a method name never turns on the lazy
    solver by itself (POT's ``method='sinkhorn'`` runs its lazy solver); lazy exact OT
    also takes ``method='exact'`` (POT: None only), its default pivot budget is
    :func:`otkit.solve`'s (1e6, POT: 1e5), its status is otkit's word ('optimal'; POT:
    'Converged') and its value differentiable on torch (POT: detached); 'geomloss' runs
    otkit's own point-cloud solver (no GeomLoss needed) and has ``value_linear``; the
    scaler is applied to both clouds.

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
    >>> round(float(ot.solve_sample(x, y, method="gaussian", reg=0.0).value), 6)
    4.0
    """
    if scaler is not None:
        X_a, X_b = _scaled(X_a, X_b, scaler)
    eps = check_reg(reg)
    check_choice(grad, "grad", GRADS)
    max_iter, tol = check_iteration_options(max_iter, tol)
    check_n_threads(n_threads)
    batch_size = check_integer(batch_size, "batch_size", minimum=1, allow_none=True)
    seed = _random_state(random_state, seed)
    method = _method_for(method, eps, lazy, debias, unbalanced, reach, potentials_init, rank,
                         X_init)  # fmt: skip
    xp, X, Y, a, b = _prepare_samples(X_a, X_b, a, b)
    if method == "gaussian":
        if unbalanced is not None or reach is not None:
            raise NotImplementedError("method='gaussian' is balanced OT (no unbalanced)")
        if not (isinstance(metric, str) and metric.lower() == "sqeuclidean"):
            raise NotImplementedError(
                f"method='gaussian' is the closed form for metric='sqeuclidean', got {metric!r}"
            )
        return solve_gaussian(X, Y, a, b, eps, grad)
    if method in ("1d", "sliced", "max_sliced"):
        if unbalanced is not None or reach is not None:
            raise NotImplementedError(f"method={method!r} is balanced OT (no unbalanced)")
        if method == "1d":
            return solve_1d(X, Y, a, b, metric, grad, xp, verbose)
        options = {"n_projections": n_projections, "projections": projections, "seed": seed}
        return solve_sliced(X, Y, a, b, metric, options, grad, xp, verbose,
                            maximize=method == "max_sliced")  # fmt: skip
    if method == _EXACT_LAZY:
        if unbalanced is not None or reach is not None:
            raise NotImplementedError(
                "lazy exact OT (emd2_lazy) is balanced; unbalanced OT needs lazy=False"
            )
        warn_n_threads(n_threads, stacklevel=2)
        return solve_lazy_exact(X, Y, a, b, metric, p, max_iter, potentials_init, grad,
                                verbose, xp)  # fmt: skip
    rho = _online_rho(unbalanced, reach, metric)
    if method in _LAZY_METHODS or (debias and method in SINKHORN_METHODS):
        if c is not None:
            raise NotImplementedError(
                "c (an (n, m) reference) needs the dense path: lazy=False and debias=False"
            )
        reg_type = check_reg_type(reg_type, True, rho is not None)
        if reg_type not in ("kl", "entropy"):
            raise NotImplementedError(f"reg_type={reg_type!r} needs the dense path (lazy=False)")
        if check_unbalanced_type(unbalanced_type, rho) not in (None, "kl"):
            raise NotImplementedError(
                f"unbalanced_type={unbalanced_type!r} needs the dense path (lazy=False)"
            )
        options = {"numItermax": max_iter, "stopThr": tol, "batch_size": batch_size}
        if method == "geomloss_tensorized":
            options["batch_size"] = None
        elif method in ("geomloss_online", "geomloss_multiscale") and batch_size is None:
            options["batch_size"] = 100
        if method in _GEOMLOSS:
            options["scaling"] = _check_scaling(scaling)
        label = "geomloss" if method in _GEOMLOSS else "online"
        result = solve_online(X, Y, a, b, metric, eps, bool(debias), rho, reg_type, options,
                              grad, verbose, label)  # fmt: skip
        if method in _LAZY_METHODS:
            return result
        # A dense method with debias: the divergence's potentials give the plan in one pass.
        plan = result.lazy_plan[:, :]
        a_to_b, b_to_a = barycentric_maps(X, Y, plan=plan)
        return with_changes(result, plan=plan, lazy_plan=None, method=method, a_to_b=a_to_b,
                            b_to_a=b_to_a)  # fmt: skip
    dense_method = {"exact": "emd"}.get(method, method)
    result = solve_matrix(
        dist(X, Y, metric=metric, p=p), a, b, eps, c, reg_type, rho, unbalanced_type,
        dense_method, n_threads, max_iter, plan_init, potentials_init, tol, verbose, grad,
        stacklevel=3,
    )  # fmt: skip
    a_to_b, b_to_a = barycentric_maps(X, Y, plan=result.plan)
    return with_changes(result, a_to_b=a_to_b, b_to_a=b_to_a)


def _scaled(X_a, X_b, scaler):
    """Both clouds through :func:`otkit.utils.apply_scaler` (POT scales only ``X_a``)."""
    try:
        from ..utils import apply_scaler
    except ImportError:  # pragma: no cover - only in a build without it
        raise NotImplementedError(
            "scaler= needs otkit.utils.apply_scaler, which this build of otkit lacks"
        ) from None
    return apply_scaler(X_a, X_b, scaler)


def _random_state(random_state, seed):
    if random_state is not None and seed is not None:
        raise ValueError("pass random_state (POT's name) or seed, not both")
    return seed if random_state is None else random_state


def _check_scaling(scaling):
    return check_real(scaling, "scaling", minimum=0, maximum=1, inclusive=(False, False))


def _online_rho(unbalanced, reach, metric):
    """The KL penalty rho in cost units: ``unbalanced``, or from ``reach`` (rho = q reach^q)."""
    if unbalanced is not None and reach is not None:
        raise ValueError("pass reach (rho = q reach^q) or unbalanced (rho in cost units), not both")
    if reach is None:
        return unbalanced
    if metric not in _ONLINE_REACH_EXPONENT:
        raise NotImplementedError(
            f"reach is defined for metric 'sqeuclidean' or 'euclidean', got {metric!r}; "
            "pass unbalanced=rho in cost units"
        )
    q = _ONLINE_REACH_EXPONENT[metric]
    reach = check_real(reach, "reach", minimum=0, inclusive=(False, True), allow_traced=False)
    return q * reach**q


def _method_for(method, eps, lazy, debias, unbalanced, reach, potentials_init, rank, X_init):
    regularized = is_regularized(eps)
    balanced = unbalanced is None and reach is None
    if isinstance(method, str):
        method = method.lower()
        if method in _ALTERNATIVES:
            raise NotImplementedError(
                f"method={method!r} (POT's) is not implemented in otkit; use "
                f"{_ALTERNATIVES[method]}"
            )
    if rank != _POT_DEFAULT_RANK:
        raise NotImplementedError(
            f"rank={rank!r} sets the rank of POT's 'lowrank', 'factored', 'nystroem' and "
            "'gaussian_hd' methods, which otkit does not implement (see method)"
        )
    if X_init is not None:
        raise NotImplementedError(
            "X_init is the initial support of POT's method='factored', which otkit does not "
            f"implement; use {_ALTERNATIVES['factored']}"
        )
    if isinstance(debias, str):
        raise NotImplementedError(
            f"debias={debias!r} (POT's sample splitting) is not implemented; use debias=True"
        )
    if method is None:
        if regularized:
            method = "online" if lazy else "sinkhorn"
        else:
            method = "exact" if balanced else "mm"
    check_choice(method, "method", SAMPLE_METHODS + _DENSE_METHODS + _GEOMLOSS)
    if method == "emd":
        method = "exact"
    if lazy and method == "exact" and not regularized and balanced:
        method = _EXACT_LAZY
    elif lazy and method in _DENSE_METHODS:
        if method not in SINKHORN_METHODS:
            raise NotImplementedError(
                "lazy=True never forms the cost matrix, and otkit has no lazy solver for "
                f"method={method!r} with these options (lazy exact OT is balanced and "
                "unregularized); use lazy=False, reg > 0 (entropic OT, method='online'), "
                "method='1d' or method='sliced'"
            )
        method = "online"
    if method in ("1d", "sliced", "max_sliced") and regularized:
        raise ValueError(f"reg is not used by method={method!r} (unregularized); got reg={eps!r}")
    if method in _LAZY_METHODS and not regularized:
        raise ValueError(f"method={method!r} is entropic OT and needs reg > 0, got reg={eps!r}")
    dense = method in _DENSE_METHODS + (_EXACT_LAZY,) and not (debias and regularized)
    if potentials_init is not None and not dense:
        raise ValueError(
            "potentials_init is used by the dense methods ('exact', 'sinkhorn', ...) without "
            f"debias, not by method={method!r}{' with debias=True' if debias else ''}"
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
