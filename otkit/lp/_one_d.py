r"""Exact optimal transport on the real line, by sorting: ``emd_1d``, ``emd2_1d``,
``wasserstein_1d`` and the dual potentials ``wasserstein_1d_potentials``.

The kernels live in :mod:`otkit._one_d_kernels`; this module validates at the boundary,
sorts, and attaches gradients. Everything runs in the caller's namespace with standard
calls, so NumPy, array-API libraries, torch and JAX (also under ``jax.jit``, ``jax.grad`` and
``jax.vmap``) share one code path.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .._boundary import as_backend, input_float_dtype
from .._validation import check_finite, check_not_empty, mass_tolerance
from ..backend import (
    device_of,
    get_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    result_float_dtype,
    to_numpy,
)
from ._one_d_kernels import (
    attach_weight_gradients,
    centre_potentials,
    compiled,
    effective_weights,
    overlap_plan,
    solve_1d,
    without_gradient,
)

__all__ = [
    "METRICS_1D",
    "SparsePlan",
    "emd2_1d",
    "emd_1d",
    "wasserstein_1d",
    "wasserstein_1d_potentials",
]

METRICS_1D = ("sqeuclidean", "euclidean", "cityblock", "minkowski")


class SparsePlan(NamedTuple):
    """A transport plan in coordinate (COO) form, in the caller's array library: entry
    ``k`` is ``plan[rows[k], cols[k]] = data[k]``. Returned by ``emd_1d(..., dense=False)``
    on libraries other than NumPy (NumPy gets a ``scipy.sparse.coo_array``). It holds the
    ``n + m - 1`` cells of the monotone coupling, zero-mass cells included, so that its
    shape does not depend on the values (as ``jax.jit`` requires)."""

    data: Any
    rows: Any
    cols: Any
    shape: tuple[int, int]


# --- validation ------------------------------------------------------------------------------


def check_exponent(p, name: str = "p") -> float:
    """``p`` as a float, or a ValueError unless 1 <= p < inf (the monotone coupling is
    optimal only for convex costs |x - y|^p)."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number >= 1, got {p!r}") from None
    if not (1.0 <= value < math.inf):
        raise ValueError(f"{name} must be a finite number >= 1, got {p!r}")
    return value


def _exponent_of_metric(metric: str, p) -> float:
    """The exponent q of the 1D cost |x - y|^q that ``metric`` denotes (as POT)."""
    if metric == "sqeuclidean":
        return 2.0
    if metric in ("euclidean", "cityblock"):
        return 1.0
    if metric == "minkowski":
        return check_exponent(p)
    raise ValueError(f"metric must be one of {METRICS_1D} for 1D transport, got {metric!r}")


def _is_uniform(w) -> bool:
    """None, an empty list or an empty array means uniform weights (as POT)."""
    if w is None:
        return True
    if isinstance(w, (list, tuple)):
        return len(w) == 0
    shape = getattr(w, "shape", None)
    return shape is not None and len(shape) == 1 and int(shape[0]) == 0


def _for_checks(x, xp):
    """(namespace, array) in which to check the values of ``x``: NumPy on the host for NumPy
    and JAX arrays (eager JAX would compile every reduction for every new shape), the
    array's own library otherwise (no device-to-host copy for torch on a GPU)."""
    if is_numpy_namespace(xp) or is_jax_namespace(xp):
        return np, to_numpy(x, dtype=None)
    return xp, x


def check_values(x, name: str, xp) -> None:
    """ValueError naming ``x`` when it holds NaN or infinities."""
    ns, values = _for_checks(x, xp)
    if not bool(ns.all(ns.isfinite(values))):
        check_finite(to_numpy(x), name)


def check_weights(w, name: str, xp) -> None:
    """ValueError naming ``w`` unless it is finite, non-negative and of positive mass along
    its last axis."""
    check_values(w, name, xp)
    ns, values = _for_checks(w, xp)
    if bool(ns.any(values < 0)):
        raise ValueError(
            f"{name} has negative entries (min {float(ns.min(values)):.3g}); weights must be >= 0"
        )
    if not bool(ns.all(ns.sum(values, axis=-1) > 0)):
        raise ValueError(f"{name} sums to zero; weights must have positive total mass")


def check_same_mass(a, b, names, rtol: float, xp, hint: str = "") -> None:
    """ValueError unless the weights ``a`` and ``b`` (None: uniform, mass 1) have the same
    total mass along the last axis, to a relative tolerance ``rtol``."""
    if a is None and b is None:
        return
    mass_a = 1.0 if a is None else to_numpy(_total(a, xp))
    mass_b = 1.0 if b is None else to_numpy(_total(b, xp))
    mass_a, mass_b = np.broadcast_arrays(mass_a, mass_b)
    bad = np.abs(mass_a - mass_b) > rtol * np.maximum(mass_a, mass_b)
    if np.any(bad):
        where = np.argwhere(bad)[0]
        at = f" (first at batch index {tuple(int(i) for i in where)})" if where.size else ""
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same total mass: "
            f"sum({names[0]}) = {float(mass_a[tuple(where)])!r}, "
            f"sum({names[1]}) = {float(mass_b[tuple(where)])!r}{at} "
            f"(relative tolerance {rtol:.1e}){hint}"
        )


def _total(w, xp):
    ns, values = _for_checks(w, xp)
    return ns.sum(values, axis=-1)


def namespace_dtype_device(named: dict):
    """Namespace, result dtype and device of the named arguments, positions listed first
    (so that NumPy weights beside torch/JAX positions follow the positions' device)."""
    xp = get_namespace(**named)
    device = next((device_of(v) for v in named.values() if device_of(v) is not None), None)
    dtype = result_float_dtype(xp, *named.values(), device=device)
    return xp, dtype, device


def weights_or_none(w, name: str, size: int, batch_shape, xp, dtype, device, matches: str):
    """Weights with the transport axis last, or None for uniform. ``w`` has shape (size,)
    or (size, *batch_shape) (transport axis first, as the user passes it); ``matches``
    names the positions it must match, for the error message."""
    if _is_uniform(w):
        return None
    w = as_backend(w, xp, dtype, device)
    full = (size, *batch_shape)
    if tuple(w.shape) not in ((size,), full):
        expected = f"({size},)" if not batch_shape else f"({size},) or {full}"
        raise ValueError(
            f"{name}.shape == {tuple(w.shape)}, expected {expected} to match {matches}"
        )
    return w if w.ndim == 1 else xp.moveaxis(w, 0, -1)


def weights_need_gradient(xp, *weights) -> bool:
    """Whether a weight vector may be differentiated: a torch tensor that requires grad, or
    a JAX tracer (under ``jax.grad``/``jax.jit``). NumPy has no autodiff."""
    present = [w for w in weights if w is not None]
    if is_torch_namespace(xp):
        return any(bool(getattr(w, "requires_grad", False)) for w in present)
    if is_jax_namespace(xp):
        return is_traced(*present)
    return False


def as_result(x, xp):
    """A 0-d NumPy result as a NumPy scalar, as POT returns; other results unchanged."""
    if is_numpy_namespace(xp) and getattr(x, "ndim", None) == 0:
        return x[()]
    return x


# --- preparation at the public boundary ------------------------------------------------------


def _positions_1d(x, name: str, xp, dtype, device):
    """``x`` of shape (n,) or (n, 1) as a 1-D array of ``xp``."""
    x = as_backend(x, xp, dtype, device)
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)):
        raise ValueError(
            f"{name} must be a 1-D array or of shape (n, 1) (points on the real line), "
            f"got shape {tuple(x.shape)}"
        )
    check_not_empty(x, name)
    return xp.reshape(x, (x.shape[0],))


def _check_sorted(x, name: str, xp) -> None:
    ns, values = _for_checks(x, xp)
    if values.shape[-1] > 1 and not bool(ns.all(values[..., 1:] >= values[..., :-1])):
        raise ValueError(
            f"{name} must be sorted in increasing order along axis 0 when require_sort=False"
        )


def _prepare_emd_1d(x_a, x_b, a, b, metric, p, check_marginals):
    exponent = _exponent_of_metric(metric, p)
    xp, dtype, device = namespace_dtype_device({"x_a": x_a, "x_b": x_b, "a": a, "b": b})
    x = _positions_1d(x_a, "x_a", xp, dtype, device)
    y = _positions_1d(x_b, "x_b", xp, dtype, device)
    a = weights_or_none(a, "a", x.shape[0], (), xp, dtype, device, "x_a")
    b = weights_or_none(b, "b", y.shape[0], (), xp, dtype, device, "x_b")
    if not is_traced(x, y, a, b):
        check_values(x, "x_a", xp)
        check_values(y, "x_b", xp)
        for w, name in ((a, "a"), (b, "b")):
            if w is not None:
                check_weights(w, name, xp)
        if check_marginals:
            rtol = mass_tolerance(input_float_dtype(a, b), max(x.shape[0], y.shape[0]))
            hint = "; normalise them or pass check_marginals=False"
            check_same_mass(a, b, ("a", "b"), rtol, xp, hint)
    return xp, x, y, a, b, exponent


def _prepare_batched(u_values, v_values, u_weights, v_weights, p, require_sort):
    p = check_exponent(p)
    named = {"u_values": u_values, "v_values": v_values}
    xp, dtype, device = namespace_dtype_device(
        {**named, "u_weights": u_weights, "v_weights": v_weights}
    )
    x = as_backend(u_values, xp, dtype, device)
    y = as_backend(v_values, xp, dtype, device)
    for values, name in ((x, "u_values"), (y, "v_values")):
        if values.ndim == 0:
            raise ValueError(f"{name} must have at least one dimension, got shape ()")
        check_not_empty(values, name)
    if tuple(x.shape[1:]) != tuple(y.shape[1:]):
        raise ValueError(
            f"u_values.shape == {tuple(x.shape)} and v_values.shape == {tuple(y.shape)}: "
            "the batch dimensions after the first must agree"
        )
    batch = tuple(x.shape[1:])
    a = weights_or_none(u_weights, "u_weights", x.shape[0], batch, xp, dtype, device, "u_values")
    b = weights_or_none(v_weights, "v_weights", y.shape[0], batch, xp, dtype, device, "v_values")
    if x.ndim > 1:
        x, y = xp.moveaxis(x, 0, -1), xp.moveaxis(y, 0, -1)
    if not is_traced(x, y, a, b):
        check_values(x, "u_values", xp)
        check_values(y, "v_values", xp)
        for w, name in ((a, "u_weights"), (b, "v_weights")):
            if w is not None:
                check_weights(w, name, xp)
        rtol = mass_tolerance(input_float_dtype(a, b), max(x.shape[-1], y.shape[-1]))
        check_same_mass(a, b, ("u_weights", "v_weights"), rtol, xp)
        if not require_sort:
            _check_sorted(x, "u_values", xp)
            _check_sorted(y, "v_values", xp)
    return xp, x, y, a, b, p


# --- computations (pure functions of arrays, compiled once per setting on JAX) ----------------


def _value_body(x, y, a, b, *, xp, p, presorted, weight_gradients):
    """W_p^p, differentiable in the positions and, with ``weight_gradients``, the weights."""
    solution = solve_1d(
        x,
        y,
        without_gradient(a, xp),
        without_gradient(b, xp),
        p,
        xp,
        presorted=presorted,
        duals=weight_gradients,
    )
    if not weight_gradients:
        return solution.value
    return attach_weight_gradients(solution.value, a, b, solution.u, solution.v, xp)


def _potentials_body(x, y, a, b, *, xp, p, presorted):
    """Potentials (f, g) in the caller's point order, shifted so that a.f = b.g."""
    x, y, a, b = (without_gradient(v, xp) for v in (x, y, a, b))
    solution = solve_1d(x, y, a, b, p, xp, presorted=presorted, duals=True)
    a, b = effective_weights(a, b, x.shape[-1], y.shape[-1], xp, x.dtype, device_of(x))
    return centre_potentials(solution.u, solution.v, a, b, xp)


def _plan_body(x, y, a, b, *, xp, p, dense, log):
    """The plan in the caller's point order, dense (n, m) or as COO cells (data, rows, cols),
    and with ``log`` the cost and the potentials (shifted so that a.u = b.v)."""
    x, y, a, b = (without_gradient(v, xp) for v in (x, y, a, b))
    solution = solve_1d(x, y, a, b, p, xp, duals=log, plan_data=True)
    if dense:
        sorted_plan = overlap_plan(solution.cu, solution.cv, xp)
        plan = xp.take(sorted_plan, xp.argsort(solution.perm_x), axis=0)
        plan = xp.take(plan, xp.argsort(solution.perm_y), axis=1)
    else:
        rows, cols, masses = solution.coupling[:3]
        plan = (masses, xp.take(solution.perm_x, rows), xp.take(solution.perm_y, cols))
    if not log:
        return plan, None
    a, b = effective_weights(a, b, x.shape[0], y.shape[0], xp, x.dtype, device_of(x))
    u, v = centre_potentials(solution.u, solution.v, a, b, xp)
    return plan, (solution.value, u, v)


def _plan_and_log(x, y, a, b, exponent, dense, log, xp):
    """Run :func:`_plan_body`; a sparse plan becomes a ``coo_array`` or a SparsePlan."""
    plan, extra = compiled(_plan_body, xp, p=exponent, dense=dense, log=log)(x, y, a, b)
    if not dense:
        data, rows, cols = plan
        shape = (x.shape[0], y.shape[0])
        if is_numpy_namespace(xp):
            from scipy.sparse import coo_array

            keep = data > 0
            plan = coo_array((data[keep], (rows[keep], cols[keep])), shape=shape)
        else:
            plan = SparsePlan(data, rows, cols, shape)
    return plan, extra


# --- public functions -------------------------------------------------------------------------


def emd_1d(
    x_a,
    x_b,
    a=None,
    b=None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    dense: bool = True,
    log: bool = False,
    check_marginals: bool = True,
):
    r"""Exact optimal transport plan between two measures on the real line.

    Solves the Kantorovich problem

    .. math::
        \gamma^\star = \arg\min_{\gamma \ge 0} \sum_{i,j} \gamma_{ij}\, |x_{a,i} - x_{b,j}|^q
        \quad\text{s.t.}\quad \gamma \mathbf{1} = a,\; \gamma^\top \mathbf{1} = b

    in :math:`O((n + m)\log(n + m))` (plus :math:`O(nm)` to write a dense plan): for a convex
    cost the monotone coupling, which matches the quantile functions
    :math:`F_a^{-1}(t)` and :math:`F_b^{-1}(t)` for every level :math:`t`, is optimal [1]_.

    Parameters
    ----------
    x_a : (n,) or (n, 1) array_like
        Source positions, finite.
    x_b : (m,) or (m, 1) array_like
        Target positions, finite.
    a : (n,) array_like, optional
        Source weights, non-negative; None or empty means uniform (1/n each).
    b : (m,) array_like, optional
        Target weights, same total mass as ``a``; None or empty means uniform.
    metric : {"sqeuclidean", "euclidean", "cityblock", "minkowski"}, default="sqeuclidean"
        Ground cost: :math:`|x - y|^2`, :math:`|x - y|`, :math:`|x - y|`, or
        :math:`|x - y|^p` for ``"minkowski"`` (as POT: the p-th power, not its root).
    p : float, default=1.0
        Exponent of ``"minkowski"``, ``1 <= p < inf``.
    dense : bool, default=True
        Return a dense (n, m) plan; otherwise a sparse one with at most ``n + m - 1``
        entries: a ``scipy.sparse.coo_array`` for NumPy input, a :class:`SparsePlan`
        (``data``, ``rows``, ``cols``, ``shape`` in the caller's library) otherwise.
    log : bool, default=False
        Also return a dict with ``cost`` (the optimal value) and the dual potentials ``u``,
        ``v`` (:math:`u_i + v_j \le |x_{a,i} - x_{b,j}|^q` with equality on the support of
        the plan, shifted so that :math:`a^\top u = b^\top v`).
    check_marginals : bool, default=True
        Check that ``a`` and ``b`` have the same mass (relative tolerance 1e-6, looser for
        float32); if False, ``b`` is rescaled to the mass of ``a``.

    Returns
    -------
    gamma : (n, m) array or sparse plan
        Optimal plan, in the library, floating dtype and device of the positions (no
        gradient: the plan is piecewise constant in the data).
    log : dict
        Only if ``log=True``.

    Raises
    ------
    ValueError
        Non-finite positions, negative or non-finite weights, masses that differ, shapes that
        disagree, empty input, an unknown metric or ``p < 1``.

    Notes
    -----
    Value checks are skipped while JAX traces (inside ``jax.jit``); shape checks always run.
    With tied positions several plans are optimal; the one returned pairs tied points in
    the order of a sort. Every backend runs the same standard array calls (on JAX, compiled
    with ``jax.jit`` once per shape).

    References
    ----------
    .. [1] G. Peyré, M. Cuturi. Computational Optimal Transport, Remark 2.30 and Prop. 2.17.
       Foundations and Trends in Machine Learning 11(5-6), 2019.

    Examples
    --------
    >>> import otkit as ot
    >>> ot.emd_1d([2.0, 0.0], [0.0, 3.0])
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    xp, x, y, a, b, exponent = _prepare_emd_1d(x_a, x_b, a, b, metric, p, check_marginals)
    plan, extra = _plan_and_log(x, y, a, b, exponent, dense, log, xp)
    if not log:
        return plan
    cost, u, v = extra
    return plan, {"cost": as_result(cost, xp), "u": u, "v": v}


def emd2_1d(
    x_a,
    x_b,
    a=None,
    b=None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    dense: bool = True,
    log: bool = False,
    check_marginals: bool = True,
):
    r"""Exact optimal transport cost between two measures on the real line, differentiable.

    The optimal value of the problem of :func:`emd_1d`,

    .. math::
        \min_{\gamma \in \Pi(a, b)} \sum_{i,j} \gamma_{ij}\, |x_{a,i} - x_{b,j}|^q
        = \int_0^1 \left|F_a^{-1}(t) - F_b^{-1}(t)\right|^q \, dt,

    that is :math:`W_q^q` (not its q-th root), computed by sorting.

    Gradients (torch ``backward()``, ``jax.grad``, also under ``jax.jit`` and ``jax.vmap``):
    with respect to the positions, those of the cost of the optimal plan held fixed
    (:math:`\sum_j \gamma_{ij} \partial_x c(x_{a,i}, x_{b,j})`); with respect to the weights,
    the optimal dual potentials centred to zero mean, :math:`(u - \bar u, v - \bar v)`, as
    :func:`otkit.emd2` (exact along mass-preserving directions). Unlike POT's, this function
    is differentiable.

    Parameters
    ----------
    x_a, x_b, a, b, metric, p, check_marginals
        As in :func:`emd_1d`.
    dense : bool, default=True
        Form of the plan put in the log (``log=True`` only).
    log : bool, default=False
        Also return a dict with the plan ``G`` and the potentials ``u``, ``v``
        (:math:`a^\top u = b^\top v`, and :math:`a^\top u + b^\top v` is the cost).

    Returns
    -------
    cost : 0-d array
        :math:`W_q^q`, in the library, dtype and device of the positions (a NumPy scalar for
        NumPy input).
    log : dict
        Only if ``log=True``.

    Examples
    --------
    >>> import otkit as ot
    >>> float(ot.emd2_1d([2.0, 0.0], [0.0, 3.0]))
    0.5
    """
    xp, x, y, a, b, exponent = _prepare_emd_1d(x_a, x_b, a, b, metric, p, check_marginals)
    weight_gradients = weights_need_gradient(xp, a, b)
    body = compiled(_value_body, xp, p=exponent, presorted=False, weight_gradients=weight_gradients)
    value = as_result(body(x, y, a, b), xp)
    if not log:
        return value
    plan, (_, u, v) = _plan_and_log(x, y, a, b, exponent, dense, True, xp)
    return value, {"G": plan, "u": u, "v": v}


def wasserstein_1d(
    u_values, v_values, u_weights=None, v_weights=None, p: float = 1, require_sort: bool = True
):
    r"""Optimal transport cost :math:`W_p^p` between (batches of) measures on the real line.

    .. math::
        W_p^p(\mu, \nu) = \int_0^1 \left|F_\mu^{-1}(t) - F_\nu^{-1}(t)\right|^p \, dt

    where :math:`F^{-1}` are the quantile functions of
    :math:`\mu = \sum_i a_i \delta_{u_i}` and :math:`\nu = \sum_j b_j \delta_{v_j}`. The
    integral is exact: it is a sum over the at most :math:`n + m - 1` intervals of levels on
    which both quantile functions are constant. Cost :math:`O((n + m) \log(n + m))` per
    measure pair, vectorised over the batch (no Python loop).

    Differentiable with respect to positions and weights on torch and JAX (the weight
    gradient is the centred dual potential, see :func:`wasserstein_1d_potentials`), and works
    under ``jax.jit``, ``jax.grad`` and ``jax.vmap``.

    Parameters
    ----------
    u_values : (n, ...) array_like
        Positions of the first measures; the dimensions after the first are batch dimensions.
    v_values : (m, ...) array_like
        Positions of the second measures, same batch dimensions as ``u_values``.
    u_weights : (n,) or (n, ...) array_like, optional
        Weights of the first measures (shared by the batch when 1-D); uniform when None.
    v_weights : (m,) or (m, ...) array_like, optional
        Weights of the second measures, same total mass as ``u_weights``; uniform when None.
    p : float, default=1
        Exponent of the ground cost :math:`|x - y|^p`, ``1 <= p < inf``.
    require_sort : bool, default=True
        Sort the positions; if False they must already be sorted along axis 0 (checked
        eagerly), with the weights in the same order.

    Returns
    -------
    cost : array of shape (...)
        :math:`W_p^p` for every batch entry (0-d for 1-D input: a NumPy scalar for NumPy
        input), in the library, dtype and device of the positions.

    Raises
    ------
    ValueError
        Non-finite positions, negative or non-finite weights, masses that differ, batch shapes
        that disagree, empty input, ``p < 1``, unsorted input with ``require_sort=False``.

    Notes
    -----
    Value checks (finite, non-negative, equal masses, sorted) are skipped while JAX traces.
    Unnormalised weights are allowed when both sides have the same mass: the result is then
    the cost of moving that mass (twice the mass, twice the cost).

    References
    ----------
    .. [1] F. Santambrogio. Optimal Transport for Applied Mathematicians, Prop. 2.17.
       Birkhäuser, 2015.
    .. [2] G. Peyré, M. Cuturi. Computational Optimal Transport, Remark 2.30, 2019.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> float(ot.wasserstein_1d(np.array([0.0, 1.0]), np.array([2.0, 3.0]), p=2))
    4.0
    >>> ot.wasserstein_1d(np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([[1.0, 0.0], [2.0, 0.0]]))
    array([1., 1.])
    """
    xp, x, y, a, b, p = _prepare_batched(u_values, v_values, u_weights, v_weights, p, require_sort)
    weight_gradients = weights_need_gradient(xp, a, b)
    body = compiled(
        _value_body, xp, p=p, presorted=not require_sort, weight_gradients=weight_gradients
    )
    return as_result(body(x, y, a, b), xp)


def wasserstein_1d_potentials(
    u_values, v_values, u_weights=None, v_weights=None, p: float = 1, require_sort: bool = True
):
    r"""Optimal dual potentials of 1D optimal transport, for (batches of) measures.

    Returns :math:`(f, g)` solving the dual of the problem of :func:`wasserstein_1d`,

    .. math::
        \max_{f_i + g_j \le |u_i - v_j|^p} \; a^\top f + b^\top g = W_p^p,

    read off the monotone coupling: complementary slackness
    :math:`f_i + g_j = |u_i - v_j|^p` along its staircase support (a spanning tree) fixes
    them up to a constant, chosen so that :math:`a^\top f = b^\top g`. They are the
    gradient of :math:`W_p^p` with respect to the weights (up to that constant), and a warm
    start for Sinkhorn or the network simplex (``potentials_init`` of :func:`otkit.emd`).

    Parameters
    ----------
    u_values, v_values, u_weights, v_weights, p, require_sort
        As in :func:`wasserstein_1d`.

    Returns
    -------
    f : array of the shape of ``u_values``
        Potential of each source point, in cost units (no gradient).
    g : array of the shape of ``v_values``
        Potential of each target point.

    Notes
    -----
    With zero-weight points, or ties in the cumulative weights, the optimal potentials are
    not unique; those returned are feasible everywhere (also at zero-weight points) and
    optimal.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> f, g = ot.wasserstein_1d_potentials(np.array([0.0, 1.0]), np.array([2.0, 3.0]), p=2)
    >>> f + g  # the cost 4 on the support {(0, 0), (1, 1)} of the optimal plan
    array([4., 4.])
    """
    xp, x, y, a, b, p = _prepare_batched(u_values, v_values, u_weights, v_weights, p, require_sort)
    f, g = compiled(_potentials_body, xp, p=p, presorted=not require_sort)(x, y, a, b)
    if f.ndim == 1:
        return f, g
    return xp.moveaxis(f, -1, 0), xp.moveaxis(g, -1, 0)
