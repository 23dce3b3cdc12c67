r"""Exact optimal transport on the real line, by sorting: ``emd_1d``, ``emd2_1d``,
``wasserstein_1d`` and the dual potentials ``wasserstein_1d_potentials``.

The kernels live in :mod:`otkit._one_d_kernels`; this module validates at the boundary,
sorts, and attaches gradients. Everything runs in the caller's namespace with standard
calls, so NumPy, array-API libraries, torch and JAX (also under ``jax.jit``, ``jax.grad`` and
``jax.vmap``) share one code path. float16 and bfloat16 inputs are computed in float32 and
the results cast back to their dtype, as in :func:`otkit.sinkhorn`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .._validation import (
    downcast_low_precision,
    low_precision_eps,
    nan_unless,
    traced_validity,
    upcast_low_precision,
)
from ..backend import (
    device_of,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
)
from ._one_d_inputs import (
    METRICS_1D,
    _prepare_batched,
    _prepare_emd_1d,
    as_result,
    mass_rtol,
    weights_need_gradient,
)
from ._one_d_kernels import (
    attach_weight_gradients,
    centre_potentials,
    compiled,
    coupling_cells,
    dense_plans,
    effective_weights,
    solve_1d,
    without_gradient,
)

__all__ = [
    "METRICS_1D",
    "PlanTuple",
    "SparsePlan",
    "emd2_1d",
    "emd_1d",
    "wasserstein_1d",
    "wasserstein_1d_potentials",
]


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


class PlanTuple(NamedTuple):
    """One plan of ``wasserstein_1d(..., return_plans="coo_tuple")`` in coordinate form, in
    the caller's array library: ``plan[rows[k], cols[k]] = data[k]`` for the ``n + m - 1``
    cells of the monotone coupling (zero-mass cells included). Fields as POT's."""

    data: Any
    rows: Any
    cols: Any


# --- validation ------------------------------------------------------------------------------


def _upcast(x, y, a, b):
    """float16/bfloat16 inputs as float32: ``(low, low_xp, (x, y, a, b), low_eps)`` with
    ``low`` the dtype of the results (None: no cast back), as
    :func:`otkit._validation.upcast_low_precision`, and ``low_eps`` the machine epsilon of
    low-precision weights (for :func:`mass_rtol`)."""
    low_eps = low_precision_eps(a, b)
    low, low_xp, arrays = upcast_low_precision(x, y, a, b)
    return low, low_xp, arrays, low_eps


def _downcast(result, low, xp):
    """``result`` (arrays, plans, and tuples or dicts of them) with its float32 arrays cast
    to ``low``; unchanged when ``low`` is None. scipy.sparse has no float16: a NumPy sparse
    plan stays float32."""
    if low is None:
        return result
    if isinstance(result, (SparsePlan, PlanTuple)):
        return result._replace(data=downcast_low_precision(result.data, low, xp))
    if isinstance(result, (tuple, list)):
        return type(result)(_downcast(r, low, xp) for r in result)
    if isinstance(result, dict):
        return {key: _downcast(r, low, xp) for key, r in result.items()}
    if is_numpy_namespace(xp) and not isinstance(result, (np.ndarray, np.generic)):
        return result  # a scipy.sparse.coo_array
    return downcast_low_precision(result, low, xp)


def _nan_if_invalid(x, y, a, b, check_marginals, xp, low_eps=0.0):
    """Traced inputs (``jax.jit``, ``vmap``, ``grad``: no exception possible): the value
    checks of the eager path as one flag, and the inputs all NaN when it is False (so the
    gradients are NaN too). Returns ``(x, y, a, b, valid)``; ``valid`` is None eagerly (the
    checks have raised already)."""
    if not is_traced(x, y, a, b):
        return x, y, a, b, None
    rtol = mass_rtol(a, b, max(x.shape[-1], y.shape[-1]), low_eps)
    valid = traced_validity(
        xp,
        finite=(x, y),
        weights=(a, b),
        same_mass=(a, b, rtol) if check_marginals else None,
        mass_axis=-1,
    )
    return (*nan_unless(valid, (x, y, a, b), xp), valid)


def _nan_outputs(valid, outputs, xp):
    """``outputs`` (arrays or None) all NaN unless ``valid``; unchanged when it is None."""
    return outputs if valid is None else nan_unless(valid, outputs, xp)


def _value_body(x, y, a, b, *, xp, p, presorted, weight_gradients, centred):
    """W_p^p, differentiable in the positions and, with ``weight_gradients``, the weights
    (gradient: POT's potentials, see :func:`pot_gauge`, or centred ones with ``centred``)."""
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
    return attach_weight_gradients(
        solution.value, a, b, solution.u, solution.v, xp, centred=centred
    )


def _value(x, y, a, b, p, presorted, centred, xp):
    """Run :func:`_value_body`, with weight gradients when the weights may need them."""
    weight_gradients = weights_need_gradient(xp, a, b)
    settings = {"presorted": presorted, "weight_gradients": weight_gradients}
    body = compiled(_value_body, xp, p=p, centred=centred, **settings)
    return as_result(body(x, y, a, b), xp)


def _potentials_body(x, y, a, b, *, xp, p, presorted):
    """Potentials (f, g) in the caller's point order, shifted so that a.f = b.g."""
    x, y, a, b = (without_gradient(v, xp) for v in (x, y, a, b))
    solution = solve_1d(x, y, a, b, p, xp, presorted=presorted, duals=True)
    a, b = effective_weights(a, b, x.shape[-1], y.shape[-1], xp, x.dtype, device_of(x))
    return centre_potentials(solution.u, solution.v, a, b, xp)


def _plan_body(x, y, a, b, *, xp, p, dense, log, presorted=False):
    """The plans in the caller's point order, dense (*batch, n, m) or as the coupling's
    cells (data, rows, cols), and with ``log`` the cost and the potentials (shifted so that
    a.u = b.v; 1-D input only)."""
    x, y, a, b = (without_gradient(v, xp) for v in (x, y, a, b))
    solution = solve_1d(x, y, a, b, p, xp, presorted=presorted, duals=log, plan_data=True)
    plan = dense_plans(solution, xp) if dense else coupling_cells(solution, xp)
    if not log:
        return plan, None
    a, b = effective_weights(a, b, x.shape[0], y.shape[0], xp, x.dtype, device_of(x))
    u, v = centre_potentials(solution.u, solution.v, a, b, xp)
    return plan, (solution.value, u, v)


def _scipy_coo(data, rows, cols, shape):
    """A ``scipy.sparse.coo_array`` of the cells of positive mass."""
    from scipy.sparse import coo_array

    keep = data > 0
    return coo_array((data[keep], (rows[keep], cols[keep])), shape=shape)


def _plan_and_log(x, y, a, b, exponent, dense, log, xp):
    """Run :func:`_plan_body`; a sparse plan becomes a ``coo_array`` or a SparsePlan."""
    plan, extra = compiled(_plan_body, xp, p=exponent, dense=dense, log=log)(x, y, a, b)
    if not dense:
        shape = (x.shape[0], y.shape[0])
        if is_numpy_namespace(xp):
            plan = _scipy_coo(*plan, shape)
        else:
            plan = SparsePlan(*plan, shape)
    return plan, extra


def _plans_mode(return_plans):
    """``return_plans`` as False, True or "coo_tuple"; ValueError for anything else."""
    if isinstance(return_plans, str):
        if return_plans == "coo_tuple":
            return return_plans
    elif isinstance(return_plans, (bool, np.bool_, int, np.integer)) and return_plans in (0, 1):
        return bool(return_plans)
    raise ValueError(f"return_plans must be False, True or 'coo_tuple', got {return_plans!r}")


def _sparse_plan(data, rows, cols, shape, mode, xp):
    """One sparse plan of ``wasserstein_1d``, as POT returns it for this library."""
    if mode == "coo_tuple":
        return PlanTuple(data, rows, cols)
    if is_numpy_namespace(xp):
        return _scipy_coo(data, rows, cols, shape)
    # torch (the namespace is torch's own, through array-api-compat): a sparse COO tensor.
    # The cells are valid indices by construction: no invariant check (nor its warning).
    return xp.sparse_coo_tensor(xp.stack([rows, cols]), data, size=shape, check_invariants=False)


def _batched_plans(x, y, a, b, p, presorted, mode, xp):
    """The optimal plans of ``wasserstein_1d``: one per batch entry, in C order, or the plan
    itself for 1-D input. Sparse (scipy ``coo_array``, torch sparse COO tensor, or
    PlanTuple for "coo_tuple") where the library has a sparse type, dense otherwise."""
    shape = (x.shape[-1], y.shape[-1])
    dense = mode is True and not (is_numpy_namespace(xp) or is_torch_namespace(xp))
    body = compiled(_plan_body, xp, p=p, dense=dense, log=False, presorted=presorted)
    out, _ = body(x, y, a, b)
    batch = tuple(x.shape[:-1])
    count = math.prod(batch)
    if dense:
        flat = xp.reshape(out, (count, *shape))
        plans = [flat[k, ...] for k in range(count)]
    else:
        data, rows, cols = (xp.reshape(cells, (count, cells.shape[-1])) for cells in out)
        plans = [
            _sparse_plan(data[k, :], rows[k, :], cols[k, :], shape, mode, xp) for k in range(count)
        ]
    return plans if batch else plans[0]


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
    While JAX traces (``jax.jit``, ``jax.vmap``, ``jax.grad``) values cannot raise: input
    that would raise a ValueError (non-finite positions, invalid weights, different masses)
    makes the outputs and gradients NaN instead; shape checks always run.
    With tied positions several plans are optimal; the one returned pairs tied points in
    the order of a sort. Every backend runs the same standard array calls (on JAX, compiled
    with ``jax.jit`` once per shape).
    float16 and bfloat16 inputs are computed in float32 and the results (log included) cast
    back to their dtype; the mass check allows for weights rounded to that precision. A
    NumPy sparse plan stays float32 (scipy.sparse has no float16).

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
    low, low_xp, (x_a, x_b, a, b), low_eps = _upcast(x_a, x_b, a, b)
    prepared = _prepare_emd_1d(x_a, x_b, a, b, metric, p, check_marginals, low_eps)
    xp, x, y, a, b, exponent = prepared
    x, y, a, b, valid = _nan_if_invalid(x, y, a, b, check_marginals, xp, low_eps)
    plan, extra = _plan_and_log(x, y, a, b, exponent, dense, log, xp)
    if dense:
        (plan,) = _nan_outputs(valid, (plan,), xp)
    if not log:
        return _downcast(plan, low, low_xp)
    cost, u, v = _nan_outputs(valid, extra, xp)
    return _downcast((plan, {"cost": as_result(cost, xp), "u": u, "v": v}), low, low_xp)


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
        NumPy input; float16 and bfloat16 are computed in float32, as in :func:`emd_1d`).
    log : dict
        Only if ``log=True``.

    Examples
    --------
    >>> import otkit as ot
    >>> float(ot.emd2_1d([2.0, 0.0], [0.0, 3.0]))
    0.5
    """
    low, low_xp, (x_a, x_b, a, b), low_eps = _upcast(x_a, x_b, a, b)
    prepared = _prepare_emd_1d(x_a, x_b, a, b, metric, p, check_marginals, low_eps)
    xp, x, y, a, b, exponent = prepared
    x, y, a, b, valid = _nan_if_invalid(x, y, a, b, check_marginals, xp, low_eps)
    (value,) = _nan_outputs(valid, (_value(x, y, a, b, exponent, False, True, xp),), xp)
    if not log:
        return _downcast(value, low, low_xp)
    plan, (_, u, v) = _plan_and_log(x, y, a, b, exponent, dense, True, xp)
    u, v = _nan_outputs(valid, (u, v), xp)
    if dense:
        (plan,) = _nan_outputs(valid, (plan,), xp)
    return _downcast((value, {"G": plan, "u": u, "v": v}), low, low_xp)


def wasserstein_1d(
    u_values,
    v_values,
    u_weights=None,
    v_weights=None,
    p: float = 1,
    require_sort: bool = True,
    return_plans: bool | str = False,
):
    r"""Optimal transport cost :math:`W_p^p` between (batches of) measures on the real line.

    .. math::
        W_p^p(\mu, \nu) = \int_0^1 \left|F_\mu^{-1}(t) - F_\nu^{-1}(t)\right|^p \, dt

    where :math:`F^{-1}` are the quantile functions of
    :math:`\mu = \sum_i a_i \delta_{u_i}` and :math:`\nu = \sum_j b_j \delta_{v_j}`. The
    integral is exact: it is a sum over the at most :math:`n + m - 1` intervals of levels on
    which both quantile functions are constant. Cost :math:`O((n + m) \log(n + m))` per
    measure pair, vectorised over the batch (no Python loop).

    Differentiable with respect to positions and weights on torch and JAX, and works under
    ``jax.jit``, ``jax.grad`` and ``jax.vmap``. The positions get the gradient of the cost of
    the optimal coupling held fixed. The weights get optimal dual potentials :math:`(f, g)`
    (:math:`f_i + g_j \le |u_i - v_j|^p`), in POT's convention: :math:`f` vanishes at the
    largest point of ``u_values`` when :math:`\sum_i a_i \le \sum_j b_j` (summed in
    increasing order of the positions), otherwise :math:`g` vanishes at the largest point of
    ``v_values``; either way :math:`a^\top f + b^\top g = W_p^p`. Potentials are defined up
    to a constant :math:`(f + c, g - c)`, so this is the exact derivative along every
    direction that keeps the two masses equal (:func:`emd2_1d` and :func:`otkit.emd2` give
    the centred pair :math:`(f - \bar f, g - \bar g)` instead).

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
    return_plans : {False, True, "coo_tuple"}, default=False
        Also return the optimal plans (n, m), without gradient: with True, a
        ``scipy.sparse.coo_array`` for NumPy input, a torch sparse COO tensor for torch
        input, a dense array for other libraries (JAX); with ``"coo_tuple"``, a
        :class:`PlanTuple` ``(data, rows, cols)`` of the ``n + m - 1`` cells of the coupling
        in the caller's library (zero-mass cells included, so its shape is fixed under
        ``jax.jit``).

    Returns
    -------
    cost : array of shape (...)
        :math:`W_p^p` for every batch entry (0-d for 1-D input: a NumPy scalar for NumPy
        input), in the library, dtype and device of the positions.
    plans : list of plans, or a plan
        Only with ``return_plans``: one plan per batch entry (the batch dimensions
        flattened in C order), or the plan itself for 1-D input.

    Raises
    ------
    ValueError
        Non-finite positions, negative or non-finite weights, masses that differ, batch shapes
        that disagree, empty input, ``p < 1``, unsorted input with ``require_sort=False``.

    Notes
    -----
    While JAX traces, input that would raise a ValueError (non-finite positions, invalid
    weights, different masses) makes the values NaN instead, for the whole batch; the
    sorting check of ``require_sort=False`` is skipped. float16 and bfloat16 inputs are
    computed in float32 and the results cast back to their dtype, as in :func:`emd_1d`.
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
    >>> cost, plan = ot.wasserstein_1d(np.array([0.0, 1.0]), np.array([0.5, 1.0, 3.0]),
    ...                                return_plans=True)
    >>> plan.toarray().round(3)
    array([[0.333, 0.167, 0.   ],
           [0.   , 0.167, 0.333]])
    """
    mode = _plans_mode(return_plans)
    low, low_xp, inputs, low_eps = _upcast(u_values, v_values, u_weights, v_weights)
    xp, x, y, a, b, p = _prepare_batched(*inputs, p, require_sort, low_eps)
    x, y, a, b, valid = _nan_if_invalid(x, y, a, b, True, xp, low_eps)
    presorted = not require_sort
    (value,) = _nan_outputs(valid, (_value(x, y, a, b, p, presorted, False, xp),), xp)
    if mode is False:
        return _downcast(value, low, low_xp)
    return _downcast((value, _batched_plans(x, y, a, b, p, presorted, mode, xp)), low, low_xp)


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
        Potential of each source point, in cost units (no gradient), in the dtype of the
        positions (float16 and bfloat16: computed in float32, as in :func:`emd_1d`).
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
    low, low_xp, inputs, low_eps = _upcast(u_values, v_values, u_weights, v_weights)
    xp, x, y, a, b, p = _prepare_batched(*inputs, p, require_sort, low_eps)
    x, y, a, b, valid = _nan_if_invalid(x, y, a, b, True, xp, low_eps)
    f, g = compiled(_potentials_body, xp, p=p, presorted=not require_sort)(x, y, a, b)
    f, g = _nan_outputs(valid, (f, g), xp)
    if f.ndim > 1:
        f, g = xp.moveaxis(f, -1, 0), xp.moveaxis(g, -1, 0)
    return _downcast((f, g), low, low_xp)
