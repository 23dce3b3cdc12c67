"""Exact OT between point clouds without the cost matrix (``emd2_lazy``, ``emd_lazy``)."""

from __future__ import annotations

import warnings

import numpy as np

from .._boundary import as_backend, input_float_dtype, weights_or_uniform
from .._validation import (
    check_choice,
    check_equal_mass,
    check_finite,
    check_integer,
    check_ndim,
    check_nonnegative_weights,
    check_not_empty,
    check_real,
    mass_tolerance,
)
from ..backend import (
    call_host,
    device_of,
    get_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_traced,
    result_float_dtype,
    stop_gradient,
    to_numpy,
)
from ._emd import RESULT_MESSAGES
from ._lazy_certificate import METRICS, PointCost
from ._multiscale import NOT_CERTIFIED, solve_multiscale
from ._one_d import SparsePlan
from ._sparse_simplex import OPTIMAL

__all__ = ["emd2_lazy", "emd_lazy"]

_DOC_PARAMETERS = r"""
    X_a : (n, d) array
        Source points (a 1-D array is n points on the line), finite.
    X_b : (m, d) array
        Target points, same dimension d.
    a : (n,) array or list, optional
        Source weights, non-negative; None or empty means uniform.
    b : (m,) array or list, optional
        Target weights, same total mass as ``a``; None or empty means uniform.
    metric : {'sqeuclidean', 'euclidean', 'cityblock', 'minkowski'}, default='sqeuclidean'
        Ground metric d(x, y), as :func:`otkit.dist` (``'minkowski'`` with ``p``).
    numItermax : int, default=100000
        Maximum number of pivots of each sparse solve.
    log : bool, default=False
        Also return a dict (see Returns).
    center_dual : bool, default=True
        Shift the duals so that :math:`a^\top u = b^\top v`.
    check_marginals : bool, default=True
        Check that ``a`` and ``b`` have the same mass (relative 1e-6); if False ``b`` is
        rescaled to the mass of ``a``.
    potentials_init : tuple (u, v) of (n,) and (m,) arrays, optional
        Dual potentials that warm-start the finest level (they never change the optimum).
    p : float, default=2.0
        Exponent of ``metric='minkowski'``: :math:`(\sum_k |x_k - y_k|^p)^{1/p}`, 1 <= p.
    power : float, default=1.0
        The cost is :math:`d(x, y)^{\mathrm{power}}`: ``metric='euclidean', power=q`` gives
        :math:`|x - y|^q` and W_q^q.
    coarse_size : int, default=256
        Number of cells of the coarsest level (solved dense); problems with at most
        ``coarse_size**2`` pairs are solved dense directly.
    neighbors : int, default=8
        Nearest targets of each source added as candidate arcs at each level.
    max_rounds : int, default=50
        Rounds of the optimality certificate before giving up (result code 4, a warning).
    hierarchy : {'kd', 'grid'}, default='kd'
        Partition of the clouds into the levels: ``'kd'``, balanced median cuts along the
        widest coordinate (cells adapt to clustered clouds, any d); ``'grid'``, the quadtree
        (octree in 3-D) of the common bounding box, cut at midpoints (cells aligned with
        pixel grids; on uniform 2-D clouds about 40% faster, on clustered clouds slower:
        many cells stay empty). The result is the same optimum either way."""

_DOC_LOG = """``cost``, ``u``, ``v`` (duals: :math:`c(x_i, y_j) - u_i - v_j \\ge 0` on all pairs,
        with equality on the support; also for zero-weight points), ``warning`` (None when
        optimal), ``result_code`` (1 optimal, 3 numItermax reached, 4 certificate not closed),
        ``n_iter`` (pivots), ``levels`` (of the hierarchy), ``n_arcs`` (arcs of the final
        sparse solve), ``certificate_rounds``"""


def _options(metric, p, power, numItermax, coarse_size, neighbors, max_rounds, hierarchy):
    metric = check_choice(metric, "metric", METRICS)
    if metric == "minkowski":
        p = check_real(p, "p", minimum=1, allow_traced=False)
    power = check_real(power, "power", minimum=0, inclusive=(False, True), allow_traced=False)
    return {
        "cost": PointCost(metric, p, power),
        "num_iter_max": check_integer(numItermax, "numItermax", minimum=1, allow_traced=False),
        "coarse_size": check_integer(coarse_size, "coarse_size", minimum=1, allow_traced=False),
        "neighbors": check_integer(neighbors, "neighbors", minimum=0, allow_traced=False),
        "max_rounds": check_integer(max_rounds, "max_rounds", minimum=0, allow_traced=False),
        "hierarchy": check_choice(hierarchy, "hierarchy", ("kd", "grid")),
    }


def _prepare(X_a, X_b, a, b, potentials_init):
    """Namespace, dtype, device and shapes; returns (xp, dtype, device, X_a, X_b, a, b, pots)."""
    pots = () if potentials_init is None else tuple(_pair(potentials_init))
    named = {"X_a": X_a, "X_b": X_b, "a": a, "b": b}
    named.update({f"potentials_init_{k}": x for k, x in enumerate(pots)})
    xp = get_namespace(**named)
    device = next((device_of(x) for x in (X_a, X_b, a, b) if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, X_a, X_b, a, b, device=device)
    points = []
    for x, name in ((X_a, "X_a"), (X_b, "X_b")):
        if x is None:
            raise TypeError(f"{name} must be an array of points, got None")
        x = as_backend(x, xp, dtype, device)
        check_ndim(x, name, (1, 2))
        check_not_empty(x, name)
        points.append(xp.reshape(x, (x.shape[0], 1)) if x.ndim == 1 else x)
    X_a, X_b = points
    if X_a.shape[1] != X_b.shape[1]:
        raise ValueError(
            f"X_b.shape == {tuple(X_b.shape)}: its points must have the dimension of X_a's "
            f"({X_a.shape[1]})"
        )
    n, m = int(X_a.shape[0]), int(X_b.shape[0])
    weights = []
    for w, size, name in ((a, n, "a"), (b, m, "b")):
        w = weights_or_uniform(w, size, xp, dtype, device)
        check_ndim(w, name, 1)
        if w.shape[0] != size:
            rows = "X_a" if name == "a" else "X_b"
            raise ValueError(
                f"{name}.shape == {tuple(w.shape)}, expected ({size},) to match {rows}"
            )
        weights.append(w)
    potentials = tuple(as_backend(x, xp, dtype, device) for x in pots)
    if potentials and (tuple(potentials[0].shape) != (n,) or tuple(potentials[1].shape) != (m,)):
        raise ValueError(
            f"potentials_init must be a pair of arrays of shapes ({n},) and ({m},), got "
            f"{tuple(potentials[0].shape)} and {tuple(potentials[1].shape)}"
        )
    return xp, dtype, device, X_a, X_b, weights[0], weights[1], potentials


def _pair(potentials_init):
    try:
        u0, v0 = potentials_init
    except (TypeError, ValueError):
        raise ValueError("potentials_init must be a pair (u, v) of dual potentials") from None
    return u0, v0


def _check_values(X_a, X_b, a, b, potentials, input_dtype, check_marginals):
    check_finite(X_a, "X_a")
    check_finite(X_b, "X_b")
    check_nonnegative_weights(a, "a")
    check_nonnegative_weights(b, "b")
    if check_marginals:
        check_equal_mass(a, b, mass_tolerance(input_dtype, max(a.size, b.size)))
    for k, x in enumerate(potentials):
        check_finite(x, f"potentials_init[{k}]")


def _basis_cells(rows, cols, n, m):
    """The support completed to n + m - 1 cells (a spanning tree, as a simplex basis) by
    zero-flow cells joining its connected components; returns the added (rows, cols)."""
    from scipy.sparse import coo_array  # scipy is imported on first use, not by `import otkit`
    from scipy.sparse.csgraph import connected_components

    graph = coo_array((np.ones(rows.size), (rows, n + cols)), shape=(n + m, n + m))
    count, label = connected_components(graph, directed=False)
    if count == 1 or rows.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    base = label[rows[0]]
    first = np.full(count, -1)
    first[label[::-1]] = np.arange(n + m)[::-1]  # one node per component, a column if any
    col_nodes = np.arange(n, n + m)
    first[label[col_nodes[::-1]]] = col_nodes[::-1]
    others = first[np.arange(count) != base]
    is_col = others >= n
    new_rows = np.where(is_col, rows[0], others)
    new_cols = np.where(is_col, others - n, cols[0])
    return new_rows.astype(np.int64), new_cols.astype(np.int64)


def _run(
    X_a,
    X_b,
    a,
    b,
    potentials,
    xp,
    dtype,
    device,
    input_dtype,
    options,
    check_marginals,
    center_dual,
):
    """Solve on the host with gradients attached; returns (cost, aux arrays)."""
    n, m = int(X_a.shape[0]), int(X_b.shape[0])
    cells = n + m - 1
    cost_fn = options.pop("cost")

    def host_fn(x_np, y_np, a_np, b_np, *pots):
        _check_values(x_np, y_np, a_np, b_np, pots, input_dtype, check_marginals)
        result = solve_multiscale(
            x_np,
            y_np,
            a_np,
            b_np,
            cost_fn,
            potentials_init=pots or None,
            center_dual=center_dual,
            **options,
        )
        rows, cols, flows = result.rows, result.cols, result.flows
        if rows.size > cells:  # not a vertex: keep the largest flows (never expected)
            keep = np.argsort(-flows)[:cells]
            rows, cols, flows = rows[keep], cols[keep], flows[keep]
        extra_rows, extra_cols = _basis_cells(rows, cols, n, m)
        pad = cells - rows.size - extra_rows.size
        rows = np.concatenate([rows, extra_rows, np.zeros(pad, np.int64)])
        cols = np.concatenate([cols, extra_cols, np.zeros(pad, np.int64)])
        flows = np.concatenate([flows, np.zeros(cells - flows.size)])
        support = flows > 0
        grad_x, grad_y = cost_fn.grad_points(
            x_np, y_np, rows[support], cols[support], flows[support]
        )
        u, v = result.u, result.v
        grads = (grad_x, grad_y, u - u.mean(), v - v.mean()) + tuple(np.zeros_like(p) for p in pots)
        info = np.array(
            [
                result.status,
                result.n_iter,
                result.log["levels"],
                result.log["arcs"][-1],
                result.log["certificate_rounds"],
            ],
            dtype=np.int64,
        )
        return result.cost, grads, (rows, cols, flows, u, v, info)

    args = (X_a, X_b, a, b) + tuple(potentials)
    if is_jax_namespace(xp) and not is_traced(*args):
        # eager JAX: a plain ValueError instead of one wrapped by the callback machinery
        _check_values(
            *(to_numpy(x) for x in args[:4]),
            tuple(to_numpy(x) for x in potentials),
            input_dtype,
            check_marginals,
        )
    specs = (
        ((cells,), "int"),
        ((cells,), "int"),
        ((cells,), "float"),
        ((n,), "float"),
        ((m,), "float"),
        ((5,), "int"),
    )
    return call_host(host_fn, args, xp, dtype, device, specs)


def _plan(rows, cols, flows, shape, xp):
    """coo_array of the positive cells on NumPy; a SparsePlan of n + m - 1 cells elsewhere."""
    if is_numpy_namespace(xp):
        rows, cols, flows = (np.asarray(to_numpy(x, dtype=None)) for x in (rows, cols, flows))
        keep = flows > 0
        from scipy.sparse import coo_array

        return coo_array((flows[keep], (rows[keep], cols[keep])), shape=shape)
    return SparsePlan(flows, rows, cols, shape)


def _log(cost, u, v, info, xp, traced):
    log = {"cost": cost, "u": u, "v": v}
    names = ("result_code", "n_iter", "levels", "n_arcs", "certificate_rounds")
    if traced:
        log.update({name: info[k] for k, name in enumerate(names)})
        log["warning"] = None
        return log
    values = [int(x) for x in to_numpy(info, dtype=np.int64)]
    log.update(dict(zip(names, values)))
    log["warning"] = (
        RESULT_MESSAGES.get(values[0])
        if values[0] != NOT_CERTIFIED
        else (
            "the optimality certificate did not close (max_rounds): the cost may be above the "
            "optimum"
        )
    )
    if values[0] not in (OPTIMAL, NOT_CERTIFIED):  # NOT_CERTIFIED warned already
        warnings.warn(log["warning"], UserWarning, stacklevel=4)
    return log


def _lazy(
    X_a,
    X_b,
    a,
    b,
    metric,
    numItermax,
    center_dual,
    check_marginals,
    potentials_init,
    p,
    power,
    coarse_size,
    neighbors,
    max_rounds,
    hierarchy,
):
    options = _options(metric, p, power, numItermax, coarse_size, neighbors, max_rounds, hierarchy)
    input_dtype = input_float_dtype(a, b, X_a, X_b)
    xp, dtype, device, X_a, X_b, a, b, pots = _prepare(X_a, X_b, a, b, potentials_init)
    cost, (rows, cols, flows, u, v, info) = _run(
        X_a,
        X_b,
        a,
        b,
        pots,
        xp,
        dtype,
        device,
        input_dtype,
        options,
        check_marginals,
        center_dual,
    )
    traced = is_traced(cost)
    plan = _plan(rows, cols, flows, (int(X_a.shape[0]), int(X_b.shape[0])), xp)
    return cost, plan, _log(stop_gradient(cost, xp), u, v, info, xp, traced)


def emd2_lazy(
    X_a,
    X_b,
    a=None,
    b=None,
    metric="sqeuclidean",
    numItermax=100000,
    log=False,
    return_matrix=True,
    center_dual=True,
    check_marginals=True,
    potentials_init=None,
    *,
    p=2.0,
    power=1.0,
    coarse_size=256,
    neighbors=8,
    max_rounds=50,
    hierarchy="kd",
):
    r"""Exact optimal transport cost between two point clouds, without the cost matrix.

    Solves

    .. math::
        \min_{\gamma \ge 0} \sum_{ij} \gamma_{ij}\, c(x_i, y_j)
        \quad\text{s.t.}\quad \gamma \mathbf{1} = a,\; \gamma^\top \mathbf{1} = b,
        \qquad c(x, y) = d(x, y)^{\mathrm{power}}

    coarse to fine (a kd-tree hierarchy of both clouds; the coarsest level dense, finer levels
    on sparse candidate arcs warm-started from the coarser duals), then certifies the result
    on all n m pairs: every reduced cost :math:`c(x_i, y_j) - u_i - v_j` is checked (never
    stored; a compiled scan on two threads that, for the squared Euclidean cost, skips whole
    blocks of pairs by a lower bound), violating pairs are added and the solve resumes until
    none is left, so the value is the optimum of the full problem, in O((n + m) k) memory.
    Each level is certified the same way before it is refined.  Large clouds need a
    ``numItermax`` above the default: a level of n points takes about 10 n pivots.

    Parameters
    ----------{params}

    Returns
    -------
    cost : 0-d array
        :math:`\langle\gamma^\star, C\rangle` (W_p^p for :math:`|x - y|^p`), in the library,
        dtype and device of the points. Differentiable on torch and JAX (also under
        ``jax.jit``): with respect to the points through the plan,
        :math:`\partial/\partial x_i = \sum_j \gamma_{ij} \nabla_x c(x_i, y_j)` (zero
        subgradient where x = y for non-smooth metrics), and to the weights
        :math:`(u - \bar u, v - \bar v)`.
    log : dict
        Returned (as ``(cost, log)``) when ``log`` or ``return_matrix`` is True, as POT:
        {log}; and ``G``, the plan as :func:`emd_lazy` returns it, when
        ``return_matrix``.

    Raises
    ------
    ValueError
        NaN or infinite points or weights, points of different dimensions, negative weights,
        masses that differ, empty clouds, an unknown ``metric``.
    TypeError
        Arrays of different libraries, points missing (None).

    Notes
    -----
    ``numItermax`` bounds each sparse solve; reaching it sets result code 3 with a warning.
    If ``max_rounds`` certificate rounds do not close, the result is optimal on the arcs seen
    but not certified: result code 4 and a ``UserWarning``.

    References
    ----------
    .. [1] B. Schmitzer. A sparse multiscale algorithm for dense optimal transport. J. Math.
       Imaging Vis. 56, 2016.
    .. [2] C. Gottschlich, D. Schuhmacher. The shortlist method for fast computation of the
       Earth Mover's Distance. PLoS ONE 9, 2014.

    Examples
    --------
    >>> import numpy as np
    >>> import otkit as ot
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]]); y = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> float(ot.lp.emd2_lazy(x, y, return_matrix=False))
    1.0
    """
    cost, plan, log_dict = _lazy(
        X_a, X_b, a, b, metric, numItermax, center_dual, check_marginals, potentials_init,
        p, power, coarse_size, neighbors, max_rounds, hierarchy
    )  # fmt: skip
    if return_matrix:
        log_dict["G"] = plan
    if log or return_matrix:
        return cost, log_dict
    return cost


def emd_lazy(
    X_a,
    X_b,
    a=None,
    b=None,
    metric="sqeuclidean",
    numItermax=100000,
    log=False,
    center_dual=True,
    check_marginals=True,
    potentials_init=None,
    *,
    p=2.0,
    power=1.0,
    coarse_size=256,
    neighbors=8,
    max_rounds=50,
    hierarchy="kd",
):
    r"""Exact optimal transport plan between two point clouds, as a sparse matrix.

    The problem and the solver of :func:`emd2_lazy`; returns the optimal plan (at most
    n + m - 1 positive entries) without ever forming the n x m cost or plan.

    Parameters
    ----------{params}

    Returns
    -------
    gamma : sparse (n, m) plan
        NumPy: a ``scipy.sparse.coo_array`` of the positive entries. torch and JAX: an
        :class:`otkit.lp.SparsePlan` ``(data, rows, cols, shape)`` of the n + m - 1 cells of an
        optimal basis (zero-flow cells included, so that the shape does not depend on the
        values, as ``jax.jit`` needs), in the library, dtype and device of the points.
    log : dict
        Only if ``log=True``: {log}.

    Examples
    --------
    >>> import numpy as np
    >>> import otkit as ot
    >>> x = np.array([[0.0], [1.0]]); y = np.array([[1.0], [0.0]])
    >>> ot.lp.emd_lazy(x, y).toarray()
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    _, plan, log_dict = _lazy(
        X_a, X_b, a, b, metric, numItermax, center_dual, check_marginals, potentials_init,
        p, power, coarse_size, neighbors, max_rounds, hierarchy
    )  # fmt: skip
    return (plan, log_dict) if log else plan


for _function in (emd2_lazy, emd_lazy):
    _function.__doc__ = _function.__doc__.replace("{params}", _DOC_PARAMETERS).replace(
        "{log}", _DOC_LOG
    )
