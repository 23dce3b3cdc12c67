r"""The point-cloud methods of ``solve_sample`` that do not form a cost matrix: '1d'
(sorting), 'sliced' and 'max_sliced' (projections), 'online' and 'geomloss' (Sinkhorn on
costs recomputed by blocks), exact OT with ``lazy=True`` (the multiscale solver of
:func:`otkit.emd2_lazy`, a sparse plan), with their lazy plans and the barycentric displacements
:math:`T(x_i) - x_i`, :math:`T(x_i) = \sum_j P_{ij} y_j / \sum_j P_{ij}`.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .._boundary import weights_or_uniform
from ..backend import (
    device_of,
    from_numpy,
    get_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    stop_gradient,
    to_numpy,
)
from ..bregman._sinkhorn_loop import log_weights
from ..lp import emd2_lazy, emd_1d, wasserstein_1d, wasserstein_1d_potentials
from ..lp._lazy_certificate import METRICS as LAZY_METRICS
from ..sliced._sliced import max_sliced_wasserstein_distance, sliced_wasserstein_distance
from ..utils._costs import METRICS
from ..utils._result import OTResult
from ._citations import citation_for
from ._entropic import entropy_shift
from ._progress import progress

__all__ = [
    "barycentric_maps",
    "exponent",
    "solve_1d",
    "solve_lazy_exact",
    "solve_online",
    "solve_sliced",
]

# The 1D cost |x - y|^q that each metric of otkit.dist is on the real line.
_EXPONENT_1D = {"sqeuclidean": 2.0, "euclidean": 1.0, "cityblock": 1.0, "minkowski": 1.0}
_EXPONENT_SLICED = {"sqeuclidean": 2.0, "euclidean": 1.0, "cityblock": 1.0}


class UnknownMetricError(ValueError, NotImplementedError):
    """An unknown metric name: a ValueError, and a NotImplementedError as POT raises."""


def exponent(metric, method, exponents):
    """The exponent q of ``metric`` for ``method``: NotImplementedError (as POT) for a metric
    of :func:`otkit.dist` the method lacks, :class:`UnknownMetricError` (both a ValueError and
    POT's NotImplementedError) for a name that is no metric."""
    if metric in exponents:
        return exponents[metric]
    error = NotImplementedError if metric in METRICS else UnknownMetricError
    raise error(
        f"metric must be one of {', '.join(map(repr, exponents))} for method={method!r}, "
        f"got {metric!r}"
    )


def _rows_and_cols(plan, lazy, batch_size, X, Y, xp):
    """(P Y, row sums, P^T X, column sums), from a dense plan or a lazy one by row blocks."""
    if plan is not None:
        return (xp.matmul(plan, Y), xp.sum(plan, axis=1), xp.matmul(xp.matrix_transpose(plan), X),
                xp.sum(plan, axis=0))  # fmt: skip
    moved_a, mass_a, moved_b, mass_b = [], [], None, None
    n = lazy.shape[0]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        block = stop_gradient(lazy[start:stop, :], xp)
        moved_a.append(xp.matmul(block, Y))
        mass_a.append(xp.sum(block, axis=1))
        part = xp.matmul(xp.matrix_transpose(block), X[start:stop, :])
        moved_b = part if moved_b is None else moved_b + part
        mass_b = xp.sum(block, axis=0) if mass_b is None else mass_b + xp.sum(block, axis=0)
    return xp.concat(moved_a, axis=0), xp.concat(mass_a), moved_b, mass_b


def _displacement(moved, mass, points, xp):
    """moved / mass - points, and 0 where the mass is 0 (no transport from that point)."""
    positive = mass > 0
    safe = xp.where(positive, mass, xp.ones_like(mass))
    return xp.where(positive[:, None], moved / safe[:, None] - points, xp.zeros_like(points))


def barycentric_maps(X, Y, plan=None, lazy=None, plan_factory=None, batch_size=100):
    """``(a_to_b, b_to_a)``: callables computing the barycentric displacements (detached)."""
    xp = get_namespace(X=X)
    X, Y = stop_gradient(X, xp), stop_gradient(Y, xp)
    cache = {}

    def parts():
        if not cache:
            dense = plan if plan is not None or plan_factory is None else plan_factory()
            dense = None if dense is None else stop_gradient(dense, xp)
            cache["parts"] = _rows_and_cols(dense, lazy, batch_size, X, Y, xp)
        return cache["parts"]

    def a_to_b():
        moved, mass, _, _ = parts()
        return _displacement(moved, mass, X, xp)

    def b_to_a():
        _, _, moved, mass = parts()
        return _displacement(moved, mass, Y, xp)

    return a_to_b, b_to_a


def _closed_form(method, value, grad, xp, verbose, citation, **fields):
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
        citation=citation,
        **fields,
    )


def solve_1d(X, Y, a, b, metric, grad, xp, verbose):
    q = exponent(metric, "1d", _EXPONENT_1D)
    n, m, d = X.shape[0], Y.shape[0], X.shape[1]
    x, y = (X[:, 0], Y[:, 0]) if d == 1 else (X, Y)
    plan_factory, maps = None, (None, None)
    if d == 1:
        ground = "sqeuclidean" if q == 2.0 else "euclidean"
        plan_factory = partial(emd_1d, x, y, a, b, metric=ground)
        maps = barycentric_maps(X, Y, plan_factory=plan_factory)
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
        citation_for("1d"),
        potentials=wasserstein_1d_potentials(x, y, a, b, p=q),
        marginals=marginals,
        plan_factory=plan_factory,
        a_to_b=maps[0],
        b_to_a=maps[1],
    )


def solve_sliced(X, Y, a, b, metric, options, grad, xp, verbose, maximize=False):
    r"""'sliced' (:math:`SW_q^q`, the mean of the projected :math:`W_q^q`) or 'max_sliced'
    (:math:`\max_\theta W_q^q`), in cost units: no q-th root, so no infinite derivative at
    0; the distances themselves are ``log['sliced_distance']``."""
    method = "max_sliced" if maximize else "sliced"
    q = exponent(metric, method, _EXPONENT_SLICED)
    function = max_sliced_wasserstein_distance if maximize else sliced_wasserstein_distance
    distance, log = function(X, Y, a, b, p=q, log=True, **options)
    value = distance**q if maximize else xp.mean(log["projected_emds"])
    log = {**log, "sliced_distance": distance}
    return _closed_form(method, value, grad, xp, verbose, citation_for(method), log=log)


def solve_online(X, Y, a, b, metric, eps, debias, rho, reg_type, options, grad, verbose,
                 method):  # fmt: skip
    """Entropic OT by :func:`otkit.sinkhorn_divergence` (costs by blocks), with a lazy plan."""
    from ..bregman._divergence import sinkhorn_divergence
    from ..bregman._lazy_plan import sinkhorn_lazy_plan

    options = {key: value for key, value in options.items() if value is not None}
    value, log = sinkhorn_divergence(
        X, Y, a, b, reg=eps, metric=metric, debias=debias, rho=rho, log=True, **options
    )
    xp = get_namespace(X=X)
    converged = log["converged"]
    status = None
    if not is_traced(value, log["err"]):
        status = "converged" if converged else "max_iter_reached"
        with progress(verbose, None, desc=method) as report:
            report(log["n_iter"], log["err"])
            report.close(status)
    value_linear = log["value_linear"]
    if reg_type == "entropy" and not debias:  # the debiased value has no such shift
        value = value + _uniform_if_none_shift(a, b, X, Y, eps, xp)
    if grad == "detach":
        value, value_linear = stop_gradient(value, xp), stop_gradient(value_linear, xp)
    f, g = log["f"], log["g"]
    wa = weights_or_uniform(a, X.shape[0], xp, X.dtype, device_of(X))
    wb = weights_or_uniform(b, Y.shape[0], xp, X.dtype, device_of(X))
    log_u = stop_gradient(f, xp) / eps + log_weights(stop_gradient(wa, xp), xp)
    log_v = stop_gradient(g, xp) / eps + log_weights(stop_gradient(wb, xp), xp)
    lazy = sinkhorn_lazy_plan(stop_gradient(X, xp), stop_gradient(Y, xp), log_u, log_v,
                              metric, eps)  # fmt: skip
    batch_size = options.get("batch_size") or 100
    a_to_b, b_to_a = barycentric_maps(X, Y, lazy=lazy, batch_size=batch_size)
    key = "unbalanced_online" if rho is not None else ("debiased" if debias else "online")
    return OTResult(
        potentials=(f, g),
        value=value,
        value_linear=value_linear,
        log=log,
        lazy_plan=lazy,
        status=status,
        batch_size=batch_size,
        converged=converged,
        n_iter=log["n_iter"],
        errors=[log["err"]],
        method=method,
        a_to_b=a_to_b,
        b_to_a=b_to_a,
        citation=citation_for(key),
    )


def _uniform_if_none_shift(a, b, X, Y, eps, xp):
    wa = weights_or_uniform(a, X.shape[0], xp, X.dtype, device_of(X))
    wb = weights_or_uniform(b, Y.shape[0], xp, X.dtype, device_of(X))
    return entropy_shift(wa, wb, eps, xp)


# --- exact OT without the cost matrix (lazy=True) ------------------------------------------


def _scatter_sum(values, index, size, xp):
    """``out[index[k]] += values[k]`` into a zero array of ``size`` rows (detached):
    traceable on JAX, on the host elsewhere (O(n + m) entries, so the copy is cheap)."""
    shape = (size,) + tuple(values.shape[1:])
    if is_jax_namespace(xp):
        return xp.zeros(shape, dtype=values.dtype).at[index].add(values)
    out = np.zeros(shape)
    np.add.at(out, to_numpy(index, dtype=np.int64), to_numpy(values))
    return from_numpy(out, xp, dtype=values.dtype, device=device_of(values))


def _coordinates(plan, xp):
    """(data, rows, cols) of the sparse plan of :func:`otkit.emd2_lazy`, in ``xp``."""
    if is_numpy_namespace(xp):  # a scipy.sparse.coo_array
        return plan.data, plan.row, plan.col
    return stop_gradient(plan.data, xp), plan.rows, plan.cols


def _dense_plan(data, rows, cols, shape, xp):
    if is_jax_namespace(xp):
        return xp.zeros(shape, dtype=data.dtype).at[rows, cols].add(data)
    out = np.zeros(shape)
    np.add.at(out, (to_numpy(rows, dtype=np.int64), to_numpy(cols, dtype=np.int64)),
              to_numpy(data))  # fmt: skip
    return from_numpy(out, xp, dtype=data.dtype, device=device_of(data))


def _sparse_result_plan(plan, data, rows, cols, shape, xp):
    """The plan as POT's ``OTResult.sparse_plan``: scipy COO on NumPy, a torch sparse COO
    tensor of the positive entries on torch, the :class:`otkit.lp.SparsePlan` elsewhere."""
    if not is_torch_namespace(xp):
        return plan
    from ..lp._emd_sparse import torch_sparse_coo

    keep = data > 0
    return torch_sparse_coo(data[keep], rows[keep], cols[keep], shape, like=data)


def _sparse_maps(X, Y, data, rows, cols, xp):
    """Barycentric displacements of a sparse plan, computed on first call."""
    X, Y = stop_gradient(X, xp), stop_gradient(Y, xp)
    cache = {}

    def parts():
        if not cache:
            weights = data[:, None]
            cache["a"] = (_scatter_sum(weights * xp.take(Y, cols, axis=0), rows, X.shape[0], xp),
                          _scatter_sum(data, rows, X.shape[0], xp))  # fmt: skip
            cache["b"] = (_scatter_sum(weights * xp.take(X, rows, axis=0), cols, Y.shape[0], xp),
                          _scatter_sum(data, cols, Y.shape[0], xp))  # fmt: skip
        return cache

    def a_to_b():
        return _displacement(*parts()["a"], X, xp)

    def b_to_a():
        return _displacement(*parts()["b"], Y, xp)

    return a_to_b, b_to_a


def solve_lazy_exact(X, Y, a, b, metric, p, max_iter, potentials_init, grad, verbose, xp):
    r"""Exact OT by :func:`otkit.emd2_lazy` (multiscale network simplex certified on all
    pairs; no (n, m) cost): value and potentials as the dense exact method, the plan sparse
    (``sparse_plan``; ``plan`` densifies it on access)."""
    from ._solve import _EMD_MAX_ITER, _EMD_STATUS

    if not isinstance(metric, str) or metric.lower() not in LAZY_METRICS:
        raise NotImplementedError(
            f"lazy exact OT (emd2_lazy) takes metric in {LAZY_METRICS}, got {metric!r}; "
            "use lazy=False"
        )
    budget = _EMD_MAX_ITER if max_iter is None else max_iter
    with progress(verbose, None, desc="emd_lazy") as report:
        value, log = emd2_lazy(X, Y, a, b, metric=metric.lower(), numItermax=budget, log=True,
                               return_matrix=True, potentials_init=potentials_init,
                               p=p)  # fmt: skip
        code, n_iter = log["result_code"], log["n_iter"]
        status = None if is_traced(code) else _EMD_STATUS.get(int(code), f"code {code}")
        if status is not None:
            report(int(n_iter))
        report.close(status)
    plan = log.pop("G")
    shape = (int(X.shape[0]), int(Y.shape[0]))
    data, rows, cols = _coordinates(plan, xp)
    if is_numpy_namespace(xp):
        data, rows, cols = (np.asarray(x) for x in (data, rows, cols))
    if grad == "detach":
        value = stop_gradient(value, xp)
    converged = (code == 1) if status is None else status == "optimal"
    a_to_b, b_to_a = _sparse_maps(X, Y, data, rows, cols, xp)
    return OTResult(
        potentials=(log["u"], log["v"]),
        value=value,
        value_linear=value,
        sparse_plan=_sparse_result_plan(plan, data, rows, cols, shape, xp),
        plan_factory=partial(_dense_plan, data, rows, cols, shape, xp),
        marginals=(_scatter_sum(data, rows, shape[0], xp), _scatter_sum(data, cols, shape[1], xp)),
        log=log,
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=[],
        method="emd_lazy",
        a_to_b=a_to_b,
        b_to_a=b_to_a,
        citation=citation_for("emd_lazy"),
    )
