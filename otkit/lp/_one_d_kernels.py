r"""Kernels of exact 1D optimal transport, along the last axis, in array-API standard calls.

For sorted positions :math:`x_1 \le \dots \le x_n` with weights :math:`a` and
:math:`y_1 \le \dots \le y_m` with weights :math:`b` of the same total mass, and a cost
:math:`c(x, y) = h(x - y)` with :math:`h` convex, the matrix :math:`C_{ij} = h(x_i - y_j)` is a
Monge matrix (:math:`C_{ij} + C_{i'j'} \le C_{ij'} + C_{i'j}` for :math:`i < i'`, :math:`j < j'`),
and the monotone ("north-west corner") coupling is optimal [1]_. It pairs the quantile
functions: with cumulative weights :math:`A_i = \sum_{k \le i} a_k` and
:math:`B_j = \sum_{k \le j} b_k`, the interval :math:`(A_{i-1}, A_i] \cap (B_{j-1}, B_j]` of
quantile levels carries the mass of the pair :math:`(i, j)`.

The coupling is a *staircase path* of :math:`K = n + m - 1` cells from :math:`(1, 1)` to
:math:`(n, m)`: merging the interior levels :math:`A_1..A_{n-1}` and :math:`B_1..B_{m-1}`
(a stable sort of the two sorted runs, so that on a tie :math:`A` comes first), each level
moves one step down (an :math:`A`) or right (a :math:`B`), and cell :math:`k` carries the
mass between the :math:`k`-th and the :math:`(k+1)`-th merged levels (zero on a tie). The
path leaves row :math:`i` at column :math:`J_i = \#\{j : B_j < A_i\}` and column :math:`j` at
row :math:`I_j = \#\{i : A_i \le B_j\}`.

The path is a spanning tree of the bipartite graph, so it also fixes dual potentials:
complementary slackness :math:`u_i + v_j = C_{ij}` on the path gives
:math:`u_{i+1} - u_i = C_{i+1,J_i} - C_{i,J_i}` and
:math:`v_{j+1} - v_j = C_{I_j,j+1} - C_{I_j,j}`, and the Monge property makes them feasible
(:math:`u_i + v_j \le C_{ij}` everywhere): reduced costs only grow away from the path.

Everything here is vectorised over leading batch dimensions: sorts, one merge, cumulative
sums and gathers; no Python loop over points or batches, so the same code runs eagerly on
every backend and under ``jax.jit`` / ``jax.vmap``.

References
----------
.. [1] A. J. Hoffman. On simple linear programming problems. Proc. Symp. Pure Math. 7, 1963.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from ..backend import device_of, jit, stop_gradient

__all__ = [
    "Coupling",
    "Solution",
    "attach_weight_gradients",
    "centre_potentials",
    "compiled",
    "coupling_cells",
    "coupling_cost",
    "cumulative_from_zero",
    "cumulative_weights",
    "dense_plans",
    "effective_weights",
    "gather_last",
    "ground_cost",
    "ground_cost_slope",
    "index_dtype",
    "monotone_coupling",
    "overlap_plan",
    "pot_gauge",
    "solve_1d",
    "sorted_potentials",
    "without_gradient",
]


class Coupling(NamedTuple):
    """The monotone coupling of two sorted measures, as the K = n + m - 1 cells of its
    staircase path: cell k pairs sorted point ``rows[..., k]`` with sorted point
    ``cols[..., k]`` and carries ``masses[..., k]``. ``down_cols`` (..., n - 1) and
    ``right_rows`` (..., m - 1) are the ranks J and I of the module docstring (None unless
    asked for). Arrays lack the batch dimensions when the levels are shared by the batch."""

    rows: object
    cols: object
    masses: object
    down_cols: object = None
    right_rows: object = None


def index_dtype(xp):
    """The default integer dtype of ``xp`` (int64, or int32 for JAX without x64)."""
    return xp.__array_namespace_info__().default_dtypes()["integral"]


def ground_cost(diff, p: float, xp):
    """h(t) = |t|^p, with exact special cases for p = 1 and p = 2."""
    if p == 1:
        return xp.abs(diff)
    if p == 2:
        return diff * diff
    return xp.abs(diff) ** p


def ground_cost_slope(diff, p: float, xp):
    """h'(t) = p |t|^(p-1) sign(t) (0 at t = 0, a subgradient for p = 1)."""
    if p == 1:
        return xp.sign(diff)
    if p == 2:
        return 2.0 * diff
    return p * xp.abs(diff) ** (p - 1.0) * xp.sign(diff)


def gather_last(x, indices, xp):
    """``x[..., indices]``: ``indices`` is 1-D (shared by every batch) or has x's batch shape."""
    if indices.ndim == 1:
        return xp.take(x, indices, axis=x.ndim - 1)
    return xp.take_along_axis(x, indices, axis=-1)


def cumulative_from_zero(x, xp):
    """Cumulative sums along the last axis with a leading 0 (K + 1 entries for K)."""
    zero = xp.zeros((*x.shape[:-1], 1), dtype=x.dtype, device=device_of(x))
    return xp.concat([zero, xp.cumulative_sum(x, axis=-1)], axis=-1)


def cumulative_weights(weights, size: int, xp, dtype, device):
    """Cumulative sums of ``weights`` along the last axis; for ``None`` (uniform weights of
    total 1), the exactly rounded levels ``k / size``, so that equal fractions of two uniform
    measures tie exactly."""
    if weights is None:
        levels = xp.arange(1, size + 1, dtype=dtype, device=device)
        return levels / size
    return xp.cumulative_sum(weights, axis=-1)


def monotone_coupling(cu, cv, xp, *, ranks: bool = False) -> Coupling:
    """The monotone coupling from cumulative weights ``cu`` (..., n) and ``cv`` (..., m).

    The total mass is ``cu[..., -1]``; ``cv`` is taken to have the same total (its last
    entry is not used, and its interior levels are clipped to the total, which absorbs the
    rounding of a rescaled ``cv``). Batch shapes of ``cu`` and ``cv`` must agree. ``ranks``
    also computes ``down_cols`` and ``right_rows`` (for the dual potentials).
    """
    n, m = cu.shape[-1], cv.shape[-1]
    total = cu[..., -1:]
    levels = xp.concat([cu[..., :-1], xp.minimum(cv[..., :-1], total)], axis=-1)
    # Two sorted runs: a stable sort merges them in linear time on NumPy (timsort), and
    # puts an A-level before an equal B-level (down before right).
    order = xp.argsort(levels, axis=-1, stable=True)
    merged = xp.take_along_axis(levels, order, axis=-1)
    masses = xp.concat([merged, total], axis=-1) - xp.concat(
        [xp.zeros_like(total), merged], axis=-1
    )
    down_steps = xp.astype(order < n - 1, index_dtype(xp))
    rows = cumulative_from_zero(down_steps, xp)
    path = xp.arange(n + m - 1, dtype=rows.dtype, device=device_of(rows))
    down_cols = right_rows = None
    if ranks:
        # Merged positions of the levels: the down steps (in row order), then the right
        # steps (in column order). Before the i-th down step come i down steps.
        positions = xp.argsort(1 - down_steps, axis=-1, stable=True)
        down_cols = positions[..., : n - 1] - path[: n - 1]
        right_rows = positions[..., n - 1 :] - path[: m - 1]
    return Coupling(rows, path - rows, masses, down_cols, right_rows)


def coupling_cost(xs, ys, coupling: Coupling, p: float, xp):
    """sum over the cells of mass * h(xs[row] - ys[col]): (...,)."""
    diff = gather_last(xs, coupling.rows, xp) - gather_last(ys, coupling.cols, xp)
    return xp.sum(coupling.masses * ground_cost(diff, p, xp), axis=-1)


def sorted_potentials(xs, ys, coupling: Coupling, p: float, xp):
    """Dual potentials (u, v) of the sorted points: u_1 = 0, v_1 = C_11, and the increments
    of complementary slackness along the path."""
    at_down_cols = gather_last(ys, coupling.down_cols, xp)
    du = ground_cost(xs[..., 1:] - at_down_cols, p, xp) - ground_cost(
        xs[..., :-1] - at_down_cols, p, xp
    )
    at_right_rows = gather_last(xs, coupling.right_rows, xp)
    dv = ground_cost(at_right_rows - ys[..., 1:], p, xp) - ground_cost(
        at_right_rows - ys[..., :-1], p, xp
    )
    u = cumulative_from_zero(du, xp)
    v = ground_cost(xs[..., :1] - ys[..., :1], p, xp) + cumulative_from_zero(dv, xp)
    return u, v


def overlap_plan(cu, cv, xp):
    """Dense monotone plans (..., n, m) of cumulative weights (..., n) and (..., m): the
    length of the overlap of the quantile intervals (cu[i-1], cu[i]] and (cv[j-1], cv[j]];
    O(n m) like the output."""
    total = cu[..., -1:]
    cu = xp.concat([cu[..., :-1], total], axis=-1)
    cv = xp.concat([xp.minimum(cv[..., :-1], total), total], axis=-1)
    zero = xp.zeros_like(total)
    cu_start = xp.concat([zero, cu[..., :-1]], axis=-1)
    cv_start = xp.concat([zero, cv[..., :-1]], axis=-1)
    ends = xp.minimum(cu[..., :, None], cv[..., None, :])
    starts = xp.maximum(cu_start[..., :, None], cv_start[..., None, :])
    return xp.maximum(ends - starts, xp.zeros_like(ends))


def dense_plans(solution, xp):
    """Dense monotone plans (*batch, n, m) of a :class:`Solution` (solved with
    ``plan_data``), in the caller's point order."""
    plans = overlap_plan(solution.cu, solution.cv, xp)
    shape = (*solution.value.shape, *plans.shape[-2:])
    plans = xp.broadcast_to(plans, shape)
    for perm, axis in ((solution.perm_x, -2), (solution.perm_y, -1)):
        if perm is None:
            continue
        inverse = xp.argsort(perm, axis=-1)
        if inverse.ndim == 1:  # one measure: a plain gather, no (n, m) index array
            plans = xp.take(plans, inverse, axis=plans.ndim + axis)
        else:
            inverse = inverse[..., :, None] if axis == -2 else inverse[..., None, :]
            plans = xp.take_along_axis(plans, xp.broadcast_to(inverse, shape), axis=axis)
    return plans


def coupling_cells(solution, xp):
    """(masses, rows, cols) of the K = n + m - 1 cells of the monotone coupling of a
    :class:`Solution` (solved with ``plan_data``), rows and columns in the caller's point
    order, each of shape (*batch, K); zero-mass cells included, so that the shape does not
    depend on the values."""
    rows, cols, masses = solution.coupling[:3]
    if solution.perm_x is not None:
        rows = gather_last(solution.perm_x, rows, xp)
    if solution.perm_y is not None:
        cols = gather_last(solution.perm_y, cols, xp)
    shape = (*solution.value.shape, masses.shape[-1])
    return tuple(xp.broadcast_to(cells, shape) for cells in (masses, rows, cols))


# --- the solver shared by the public functions ------------------------------------------------


class Solution(NamedTuple):
    value: Any  # (*batch,) W_p^p
    u: Any  # (*batch, n) or None: potentials in the caller's point order (see pot_gauge)
    v: Any
    coupling: Any  # Coupling in sorted order, or None (uniform equal-size shortcut)
    cu: Any  # cumulative weights of the sorted points (cv rescaled to cu's total)
    cv: Any
    perm_x: Any  # argsort of x (None when the input was already sorted)
    perm_y: Any


def _sort(values, weights, xp, presorted: bool, keep_perm: bool):
    """Sorted values, weights in the same order, and the permutation (or None)."""
    if presorted:
        return values, weights, None
    if weights is None and not keep_perm:
        return xp.sort(values, axis=-1, stable=False), None, None
    perm = xp.argsort(values, axis=-1, stable=False)
    values = gather_last(values, perm, xp)
    if weights is not None:
        if weights.ndim < perm.ndim:
            weights = xp.broadcast_to(weights, perm.shape)
        weights = gather_last(weights, perm, xp)
    return values, weights, perm


def _unsort(sorted_values, perm, xp):
    """Inverse of ``gather_last(x, perm)``: values back in the caller's point order."""
    if perm is None:
        return sorted_values
    inverse = xp.argsort(perm, axis=-1)
    return gather_last(sorted_values, inverse, xp)


def _summed_in_order(weights, size: int, xp, dtype, device):
    """Total mass (..., 1) summed one term at a time in the sorted order, as POT's
    cumulative sums round it (uniform weights: ``size`` terms ``1 / size``)."""
    if weights is None:
        weights = xp.full((size,), 1.0 / size, dtype=dtype, device=device)
    return xp.cumulative_sum(weights, axis=-1)[..., -1:]


def pot_gauge(u, v, a_sorted, b_sorted, xp):
    r"""Shift sorted potentials (u, v) by a constant into POT's convention: f vanishes at
    the largest point of u when :math:`\sum a \le \sum b` (summed in the sorted order),
    otherwise g vanishes at the largest point of v.

    This is the gradient that automatic differentiation of POT's quantile formula yields:
    the last cumulative level of the smaller total closes an interval of zero length (on
    equal totals, POT's choice depends on how its sort orders them; a stable sort gives
    this one). The shifted pair stays optimal, and :math:`a^\top f + b^\top g` is the
    optimal value.
    """
    n, m = u.shape[-1], v.shape[-1]
    total_a = _summed_in_order(a_sorted, n, xp, u.dtype, device_of(u))
    total_b = _summed_in_order(b_sorted, m, xp, u.dtype, device_of(u))
    shift = xp.where(total_a <= total_b, -u[..., -1:], v[..., -1:])
    return u + shift, v - shift


def _aligned_cumulatives(a_sorted, b_sorted, n, m, xp, dtype, device):
    """Cumulative weights, ``cv`` rescaled to ``cu``'s total and both with one batch shape
    (or both 1-D when the coupling is shared by the batch)."""
    cu = cumulative_weights(a_sorted, n, xp, dtype, device)
    cv = cumulative_weights(b_sorted, m, xp, dtype, device)
    if b_sorted is not None or a_sorted is not None:
        cv = cv * (cu[..., -1:] / cv[..., -1:])
    if cu.ndim != cv.ndim:
        batch = cu.shape[:-1] if cu.ndim > cv.ndim else cv.shape[:-1]
        cu = xp.broadcast_to(cu, (*batch, n))
        cv = xp.broadcast_to(cv, (*batch, m))
    return cu, cv


def solve_1d(x, y, a, b, p: float, xp, *, presorted=False, duals=False, plan_data=False):
    """W_p^p between the measures (x, a) and (y, b) along the last axis.

    ``x`` (*batch, n), ``y`` (*batch, m); ``a``, ``b`` None (uniform), (n,)/(m,) or with the
    batch shape. Weights must carry no gradient here (see :func:`attach_weight_gradients`).
    ``duals`` also computes the potentials; ``plan_data`` keeps what a plan needs.
    """
    n, m = x.shape[-1], y.shape[-1]
    dtype, device = x.dtype, device_of(x)
    keep = duals or plan_data
    xs, a_sorted, perm_x = _sort(x, a, xp, presorted, keep)
    ys, b_sorted, perm_y = _sort(y, b, xp, presorted, keep)
    if a is None and b is None and n == m and not keep:
        # Uniform weights of equal count: the coupling pairs the k-th smallest points.
        value = xp.mean(ground_cost(xs - ys, p, xp), axis=-1)
        return Solution(value, None, None, None, None, None, perm_x, perm_y)
    cu, cv = _aligned_cumulatives(a_sorted, b_sorted, n, m, xp, dtype, device)
    coupling = monotone_coupling(cu, cv, xp, ranks=duals)
    value = coupling_cost(xs, ys, coupling, p, xp)
    u = v = None
    if duals:
        xs_fixed, ys_fixed = stop_gradient(xs, xp), stop_gradient(ys, xp)
        u, v = sorted_potentials(xs_fixed, ys_fixed, coupling, p, xp)
        u, v = pot_gauge(u, v, a_sorted, b_sorted, xp)
        u, v = _unsort(u, perm_x, xp), _unsort(v, perm_y, xp)
    return Solution(value, u, v, coupling, cu, cv, perm_x, perm_y)


def without_gradient(x, xp):
    """``x`` without gradient (None stays None)."""
    return None if x is None else stop_gradient(x, xp)


def attach_weight_gradients(value, a, b, u, v, xp, *, centred: bool = False):
    r"""``value`` with gradient :math:`(u, v)` with respect to ``(a, b)``, or
    :math:`(u - \bar u, v - \bar v)` with ``centred``.

    The optimal value is a maximum over dual pairs of :math:`a^\top u + b^\top v`, linear
    in the weights for a fixed pair: by the envelope theorem its derivative along any
    mass-preserving direction is given by the optimal potentials, whatever constant they are
    shifted by. The added terms are exactly zero in value.
    """
    for w, potential in ((a, u), (b, v)):
        if w is not None:
            if centred:
                potential = potential - xp.mean(potential, axis=-1, keepdims=True)
            fixed = stop_gradient(potential, xp)
            value = value + xp.sum((w - stop_gradient(w, xp)) * fixed, axis=-1)
    return value


def centre_potentials(u, v, a, b, xp):
    """Shift (u, v) by a constant so that a.u = b.v, which splits the value a.u + b.v
    evenly (the shifted pair stays optimal when a and b have the same mass)."""
    a_dot_u = xp.sum(a * u, axis=-1, keepdims=True)
    b_dot_v = xp.sum(b * v, axis=-1, keepdims=True)
    mass = xp.sum(a, axis=-1, keepdims=True) + xp.sum(b, axis=-1, keepdims=True)
    shift = (b_dot_v - a_dot_u) / mass
    return u + shift, v - shift


def effective_weights(a, b, n: int, m: int, xp, dtype, device):
    """Explicit weights (uniform for None), ``b`` rescaled to the mass of ``a``."""
    if a is None:
        a = xp.full((n,), 1.0 / n, dtype=dtype, device=device)
    if b is None:
        b = xp.full((m,), 1.0 / m, dtype=dtype, device=device)
    return a, b * (xp.sum(a, axis=-1, keepdims=True) / xp.sum(b, axis=-1, keepdims=True))


def compiled(body, xp, **settings):
    """``body(*arrays)`` with its keyword ``settings`` bound (and ``xp=xp``), compiled once
    per setting with ``jax.jit`` on JAX, where eager dispatch would compile every operation
    anew for every new shape; unchanged on the other libraries."""
    return _compiled(body, xp, tuple(sorted(settings.items())))


@functools.lru_cache(maxsize=128)
def _compiled(body, xp, settings):
    return jit(functools.partial(body, xp=xp, **dict(settings)), xp)
