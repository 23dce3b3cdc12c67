"""Exact optimal transport (``emd``, ``emd2``) through otkit's network simplex."""

from __future__ import annotations

import math
import warnings
from functools import partial

import numpy as np

from .._boundary import input_float_dtype, prepare_problem
from .._validation import (
    balance_low_precision_masses,
    check_integer,
    check_transport_values,
    downcast_low_precision,
    low_precision_eps,
    upcast_low_precision,
)
from ..backend import (
    call_host,
    is_jax_namespace,
    is_numpy_namespace,
    is_traced,
    stop_gradient,
    to_numpy,
)
from ..utils._warnings import warn_collectable
from ._certificate import certify_solution
from ._certificate_kernel import abs_max_sum
from ._network_simplex import MAX_ITER_REACHED, OPTIMAL, network_simplex
from ._shortlist import solve_shortlist

__all__ = ["check_result", "emd", "emd2"]

# Result code of a solve that stopped as optimal but failed the optimality certificate
# (primal or dual feasibility, see _certificate.py), even after a restart.
NOT_CERTIFIED = 4
# Costs above this are divided by a power of two (exact) before the solve: the simplex's
# symbolic big-M needs the real parts of its potentials (path sums of costs) far below 2**1000.
_MAX_COST = 2.0**512
# Dense problems with at least this many arcs and sides (after zero weights are left out)
# go to the shortlist method (_shortlist.py) first: below, the dense simplex is as fast
# (measured on 2-D clouds; with ~10 columns every arc is a candidate).
_SHORTLIST_MIN_ARCS = 2_000_000
_SHORTLIST_MIN_SIDE = 100


def takes_shortlist(n_rows, n_cols):
    """Whether problems of n_rows x n_cols nonzero bins (ints or arrays) go to the
    shortlist method first (``pairwise`` sends such pairs to ``emd2`` rather than to its
    batch's dense simplex)."""
    return (np.multiply(n_rows, n_cols) >= _SHORTLIST_MIN_ARCS) & (
        np.minimum(n_rows, n_cols) >= _SHORTLIST_MIN_SIDE
    )


RESULT_MESSAGES = {
    0: "Problem infeasible: check that a and b have the same total mass.",
    OPTIMAL: None,
    2: "Problem unbounded.",
    MAX_ITER_REACHED: (
        "numItermax reached before optimality: the returned plan is not optimal and may not "
        "satisfy the marginals. Increase numItermax."
    ),
    NOT_CERTIFIED: (
        "The network simplex stopped, but its solution failed the optimality check "
        "(primal or dual feasibility to a few ulps of each cost): the plan and the cost may "
        "not be optimal. Check M for extreme values."
    ),
}


def check_result(result_code: int):
    """Warning message of a network-simplex result code (``None`` when optimal)."""
    message = RESULT_MESSAGES.get(int(result_code), f"unknown result code {result_code}")
    if message is not None:
        warn_collectable(message, UserWarning, stacklevel=4)
    return message


def _center_duals(u: np.ndarray, v: np.ndarray, a: np.ndarray, b: np.ndarray):
    r"""Shift dual potentials so that :math:`a^\top u = b^\top v` (fast host version of
    :func:`otkit.utils.center_ot_dual`, without checks).

    (u + c, v - c) is dual feasible and has the same objective for every c when the masses
    agree; this choice splits the objective evenly between the two sides.
    """
    c = (b @ v - a @ u) / (a.sum() + b.sum())
    return u + c, v - c


def _solve_host(
    a,
    b,
    M,
    *,
    num_iter_max,
    check_marginals,
    center_dual,
    potentials_init,
    input_dtype,
    build_plan=True,
):
    """Validate values, solve on the host and certify the result. All arrays are NumPy
    float64.

    The dense plan is only built when ``build_plan`` (an ``emd2`` without gradients needs
    none).  Large problems go to the shortlist method first (_shortlist.py), and to the
    dense simplex when it gives up or fails the certificate.  Every result is checked by
    :func:`certify_solution`; a failed check of the dense simplex is retried (symbolic
    big-M, no warm start), and reported as ``NOT_CERTIFIED`` if it still fails."""
    # max and sum of |M| in one compiled pass: a finite sum also proves M finite
    peak, total = abs_max_sum(M)
    check_transport_values(
        a, b, M, input_dtype, check_marginals, cost_known_finite=math.isfinite(total)
    )
    _check_potentials_values(potentials_init)
    # The solver needs a balanced problem: b is rescaled to a's mass (a no-op for matching
    # masses), and zero-weight rows/columns are left out (their duals are restored below).
    b = b * (a.sum() / b.sum())
    rows = np.flatnonzero(a > 0)
    cols = np.flatnonzero(b > 0)
    full = rows.size == a.size and cols.size == b.size
    M_sub = np.ascontiguousarray(M if full else M[np.ix_(rows, cols)], dtype=np.float64)
    # Huge costs are divided by a power of two (exact, barring underflow of entries 2**-1270
    # times smaller than the largest), solved and certified, and the results scaled back.
    scale = _cost_scale(peak)
    # The solver's cost range (max and sum of |M|), when M_sub is M: one pass less.
    cost_range = {"peak": peak, "total": total} if full and scale == 1.0 else {}
    if scale != 1.0:
        M = M * scale
        M_sub = M_sub * scale
    warm = None
    if potentials_init is not None:
        warm = _warm_start(
            potentials_init[0][rows] * scale, potentials_init[1][cols] * scale, M_sub
        )
    a_sub, b_sub = np.ascontiguousarray(a[rows]), np.ascontiguousarray(b[cols])
    total_iter = 0
    solved = False
    if takes_shortlist(*M_sub.shape):
        # A sparse candidate set, grown until no arc of M prices out (see _shortlist.py);
        # the dense solver below if it cannot conclude or its result fails the certificate.
        found = solve_shortlist(a_sub, b_sub, M_sub, int(num_iter_max), warm)
        if found is not None:
            tree_rows, tree_cols, flows, u_sub, v_sub, status, n_iter, _ = found
            total_iter += n_iter
            u, v = _complete_duals(M, rows, cols, u_sub, v_sub)
            if center_dual:
                u, v = _center_duals(u, v, a, b)
            solved = status != OPTIMAL or (
                certify_solution(a, b, M, rows[tree_rows], cols[tree_cols], flows, u, v) is None
            )
    if not solved:
        tree_rows, tree_cols, flows, u, v, status, n_iter = _solve_dense(
            a, b, M, rows, cols, a_sub, b_sub, M_sub, warm, cost_range, num_iter_max, center_dual
        )
        total_iter += n_iter
    G = None
    if build_plan:
        G = np.zeros(M.shape, dtype=np.float64)
        G[rows[tree_rows], cols[tree_cols]] = flows
    cost = float(np.dot(flows, M_sub[tree_rows, tree_cols]))
    if scale != 1.0:
        cost, u, v = cost / scale, u / scale, v / scale
        if not (np.isfinite(cost) and np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
            raise ValueError(
                f"M has entries up to {np.max(np.abs(M)) / scale:.3g}: the optimal cost or the "
                "dual potentials overflow float64; rescale M"
            )
    return G, u, v, cost, int(status), int(total_iter)


def _solve_dense(
    a, b, M, rows, cols, a_sub, b_sub, M_sub, warm, cost_range, num_iter_max, center_dual
):
    """The dense network simplex on (a_sub, b_sub, M_sub), certified on (a, b, M): returns
    the plan's support (indices into the sub-problem), flows, the completed duals, the
    status and the pivots of all attempts."""
    total_iter = 0
    # The solver's own choice first (numeric big-M unless the cost range is wide), then the
    # symbolic big-M (exact on any range) if the certificate fails, then without warm start.
    attempts = [(warm, None), (warm, True)] + ([(None, True)] if warm is not None else [])
    used_symbolic = False
    for k, (start, symbolic) in enumerate(attempts):
        if k == 1 and used_symbolic:
            continue  # the first try was already symbolic
        tree_rows, tree_cols, flows, u_sub, v_sub, status, n_iter, art, used_symbolic = (
            network_simplex(
                a_sub,
                b_sub,
                M_sub,
                int(num_iter_max),
                *(start or (None, None)),
                symbolic=symbolic,
                **cost_range,
            )
        )
        total_iter += n_iter
        u, v = _complete_duals(M, rows, cols, u_sub, v_sub)
        if center_dual:
            u, v = _center_duals(u, v, a, b)
        if status != OPTIMAL:
            break
        failure = certify_solution(a, b, M, rows[tree_rows], cols[tree_cols], flows, u, v, art)
        if failure is None:
            break
        # A numeric big-M rounds at its own scale, and the warm start only steers the pivots
        # but huge or badly centred potentials cost precision: try the next way.
    else:
        status = NOT_CERTIFIED
        # One warning, with the detail (check_result is skipped for this code).
        warn_collectable(
            f"{RESULT_MESSAGES[NOT_CERTIFIED]} Optimality certificate failed: {failure}.",
            UserWarning,
            stacklevel=5,
        )
    return tree_rows, tree_cols, flows, u, v, status, total_iter


def _cost_scale(peak):
    """Power of two that brings max|M| into [2**255, 2**256) when it is above _MAX_COST;
    else 1.  The target keeps the scale (2**-768 at least) a normal float: under JAX's
    callbacks subnormals flush to zero."""
    if peak <= _MAX_COST:
        return 1.0
    return float(np.ldexp(1.0, 256 - int(np.frexp(peak)[1])))


def _warm_start(u0, v0, M_sub):
    """Warm-start potentials made safe for the pricing: centred, then clipped.

    (u0 - c, v0 + c) prices every arc alike, so the ranges of u0 and v0 are centred on each
    other.  The potentials of any spanning-tree basis are path sums of at most n + m costs,
    so after centring they lie within (n + m) max|M|; values beyond carry no pricing
    information and would only cost precision (1e17 next to costs ~1 leaves no digit), so
    they are clipped.  The warm start only orders the first pivots: never the optimum."""
    c = 0.25 * ((u0.max() + u0.min()) - (v0.max() + v0.min()))
    bound = (u0.size + v0.size) * float(np.max(np.abs(M_sub)))
    u0 = np.clip(u0 - c, -bound, bound)
    v0 = np.clip(v0 + c, -bound, bound)
    return np.ascontiguousarray(u0), np.ascontiguousarray(v0)


def _check_potentials_values(potentials_init):
    if potentials_init is None:
        return
    for k, p in enumerate(potentials_init):
        if not np.all(np.isfinite(p)):
            raise ValueError(f"potentials_init[{k}] must be finite (it has NaN or inf entries)")


def _complete_duals(M, rows, cols, u_sub, v_sub):
    """Duals of zero-weight rows/columns: the largest values that keep C - u - v >= 0."""
    n, m = M.shape
    if rows.size == n and cols.size == m:
        return u_sub, v_sub
    u = np.full(n, np.nan)
    v = np.full(m, np.nan)
    u[rows] = u_sub
    v[cols] = v_sub
    # (masks, not np.setdiff1d: ~50 us a call on 64 bins)
    zero = np.ones(max(n, m), dtype=bool)
    zero[cols] = False
    zero_cols = np.flatnonzero(zero[:m])
    if zero_cols.size:
        v[zero_cols] = np.min(M[rows][:, zero_cols] - u_sub[:, None], axis=0)
    zero[:] = True
    zero[rows] = False
    zero_rows = np.flatnonzero(zero[:n])
    if zero_rows.size:
        u[zero_rows] = np.min(M[zero_rows, :] - v[None, :], axis=1)
    return u, v


def _solve(a, b, M, potentials, xp, dtype, device, input_dtype, need_plan=True, **options):
    """Run the host solver with gradients attached; returns (cost, G, u, v, code, n_iter).

    NumPy input has no autodiff, so when the caller does not want the plan (``emd2``) it is
    never built: the extra memory is then O(n m) bytes instead of O(n m) floats."""
    n, m = M.shape
    warm = potentials is not None
    if is_numpy_namespace(xp) and not need_plan:
        _, u, v, cost, status, n_iter = _solve_host(
            to_numpy(a),
            to_numpy(b),
            to_numpy(M),
            potentials_init=tuple(to_numpy(p) for p in potentials) if warm else None,
            input_dtype=input_dtype,
            build_plan=False,
            **options,
        )
        if status != NOT_CERTIFIED:  # already warned, with the detail
            check_result(status)
        u, v = u.astype(dtype, copy=False), v.astype(dtype, copy=False)
        return dtype.type(cost), None, u, v, status, n_iter

    def host_fn(a_np, b_np, M_np, *potential_args):
        G, u, v, cost, status, n_iter = _solve_host(
            a_np,
            b_np,
            M_np,
            potentials_init=potential_args if warm else None,
            input_dtype=input_dtype,
            **options,
        )
        if status != NOT_CERTIFIED:  # already warned, with the detail
            check_result(status)
        grads = (u - u.mean(), v - v.mean(), G) + tuple(np.zeros_like(p) for p in potential_args)
        return cost, grads, (G, u, v, np.int32(status), np.int32(n_iter))

    args = (a, b, M) + (tuple(potentials) if warm else ())
    if is_jax_namespace(xp) and not is_traced(*args):
        # Eager JAX: check values here, so the user sees a ValueError rather than an
        # error wrapped by the callback machinery.
        _validate_host_values(
            a, b, M, input_dtype, options["check_marginals"], potentials if warm else None
        )
    aux_specs = (((n, m), "float"), ((n,), "float"), ((m,), "float"), ((), "int"), ((), "int"))
    cost, (G, u, v, code, n_iter) = call_host(host_fn, args, xp, dtype, device, aux_specs)
    return cost, G, u, v, code, n_iter


def _check_num_threads(numThreads):
    """POT's rule: a positive int, "max" or None; anything but 1 is deprecated there."""
    is_max = numThreads is None or (isinstance(numThreads, str) and numThreads.lower() == "max")
    # as POT: a ValueError for every bad value (a string included); True counts as 1
    if not is_max and (not isinstance(numThreads, (int, np.integer)) or numThreads < 1):
        raise ValueError(f'numThreads must be a positive int or "max", got {numThreads!r}')
    if is_max or numThreads != 1:
        warnings.warn(
            "numThreads is deprecated (as in POT 0.9.7) and ignored: the network simplex runs "
            "on one thread.",
            DeprecationWarning,
            stacklevel=3,
        )


def _check_processes(processes, n_problems):
    """POT warns (UserWarning) for processes > 1 with several target histograms."""
    if isinstance(processes, bool) or not isinstance(processes, (int, float, np.number)):
        raise TypeError(f"processes must be a number, got {type(processes).__name__}")
    if processes > 1 and n_problems is not None:
        warnings.warn(
            "processes is deprecated (as in POT) and ignored: the target histograms are "
            "solved in turn; run several processes outside otkit if needed.",
            UserWarning,
            stacklevel=3,
        )


def _validate_host_values(a, b, M, input_dtype, check_marginals, potentials=None):
    check_transport_values(to_numpy(a), to_numpy(b), to_numpy(M), input_dtype, check_marginals)
    if potentials is not None:
        _check_potentials_values(tuple(to_numpy(p) for p in potentials))


def _is_sparse_cost(M):
    """A ``scipy.sparse`` cost or a torch sparse COO/CSR tensor (the LP restricted to its
    stored entries), told by the type's module and the layout's name so that dense calls
    import neither scipy nor torch."""
    module = type(M).__module__
    if module.startswith("scipy.sparse"):
        return True
    layout = str(getattr(M, "layout", "")) if module.startswith("torch") else ""
    return layout in ("torch.sparse_coo", "torch.sparse_csr")


def _check_cost_given(M):
    if M is None:
        raise TypeError("M must be an (n, m) cost matrix, got None")


def _make_log(cost, u, v, code, n_iter, traced):
    log = {"cost": cost, "u": u, "v": v, "result_code": code, "n_iter": n_iter}
    log["warning"] = None if traced else RESULT_MESSAGES.get(int(code))
    if not traced:
        log["result_code"] = int(code)
        log["n_iter"] = int(n_iter)
    return log


def emd(
    a,
    b,
    M,
    numItermax=100000,
    log=False,
    center_dual=True,
    numThreads=1,
    check_marginals=True,
    potentials_init=None,
):
    r"""Exact optimal transport plan between two histograms (earth mover's distance).

    Solves the Kantorovich linear program

    .. math::
        \gamma^\star = \arg\min_{\gamma \ge 0} \langle \gamma, M \rangle_F
        \quad\text{s.t.}\quad \gamma \mathbf{1} = a,\; \gamma^\top \mathbf{1} = b

    with otkit's network simplex (a Cython implementation of the primal network simplex
    with block-search pricing and a strongly feasible spanning-tree basis).

    Parameters
    ----------
    a : (n,) array or list
        Source weights, non-negative. Empty (``[]``) or ``None`` means uniform.
    b : (m,) array or list
        Target weights, non-negative, same total mass as ``a``. Empty means uniform.
    M : (n, m) array or sparse matrix
        Ground cost matrix, finite.  Any range works: entries of 1e15 ("forbidden" arcs)
        next to costs of order 1 give the LP optimum, and costs above 2**512 are divided by
        a power of two (exact) for the solve.  A ``scipy.sparse`` matrix or a torch sparse
        COO/CSR tensor restricts the LP to its stored entries (POT's sparse ``emd``): the
        plan is then sparse in the same library.
    numItermax : int, default=100000
        Maximum number of pivots of the simplex.
    log : bool, default=False
        If True, also return a dict with the cost, the duals and the solver status.
    center_dual : bool, default=True
        Shift the duals by a constant so that :math:`a^\top u = b^\top v`.
    numThreads : int or "max", default=1
        Accepted for POT compatibility and ignored (the solver runs on one thread); as in
        POT 0.9.7, a value other than 1 issues a ``DeprecationWarning`` and a value that is
        not a positive int, "max" or None is a ``ValueError``.
    check_marginals : bool, default=True
        Check that ``a`` and ``b`` have the same mass (relative tolerance 1e-6, looser for
        float32 input). If False, ``b`` is rescaled to the mass of ``a`` without a check.
    potentials_init : tuple (u, v) of arrays, optional
        Dual potentials of shapes (n,) and (m,) (for example from an earlier solve or from
        Sinkhorn) used to price the initial basis: arcs tight for them enter first.  They
        must be finite; they steer the pivots but never change the optimum (values far
        outside the range of M are clipped).

    Returns
    -------
    gamma : (n, m) array
        Optimal plan, in the library, dtype and device of ``M`` (no gradient).
    log : dict
        Only if ``log=True``: ``cost`` (:math:`\langle\gamma, M\rangle`), ``u`` and ``v`` (dual
        potentials, :math:`u_i + v_j \le M_{ij}` with equality on the support of gamma, also
        for zero-weight rows and columns), ``warning`` (None when optimal),
        ``result_code`` (1 optimal, 3 numItermax reached, 4 optimality not certified) and
        ``n_iter`` (pivots made).

    Raises
    ------
    ValueError
        Non-finite ``M`` or ``potentials_init``, negative or non-finite weights, masses that
        differ, shapes that disagree, empty input, or an optimal cost (or duals) beyond the
        float64 range.
    TypeError
        Arrays of different libraries, ``M`` missing (None).

    Notes
    -----
    Every solution is certified before it is returned: the plan meets the marginals (and no
    mass is left on the solver's artificial arcs), the duals satisfy
    :math:`M_{ij} - u_i - v_j \ge -\tau_{ij}` on all n m arcs (one pass in blocks) and
    equality on the support, with :math:`\tau_{ij} = 32\,\epsilon\,(|M_{ij}| + |u_i| +
    |v_j|)`.  A failed check is retried without the warm start; if it still fails,
    ``log["result_code"]`` is 4, ``log["warning"]`` says so and a ``UserWarning`` gives
    the detail.  Reaching ``numItermax`` issues a ``UserWarning``, sets
    ``log["warning"]`` and ``log["result_code"] = 3``; the returned plan is then not
    optimal.  Large problems (n m >= 2e6) are first solved by the shortlist method [3]_ (a
    sparse candidate set of arcs, every arc of M priced against its duals until none is
    negative; the dense simplex otherwise): the same optimum, several times faster.

    References
    ----------
    .. [1] R. K. Ahuja, T. L. Magnanti, J. B. Orlin. *Network Flows*, ch. 11, 1993.
    .. [2] N. Bonneel, M. van de Panne, S. Paris, W. Heidrich. Displacement interpolation
       using Lagrangian mass transport. ACM TOG 30(6), 2011.
    .. [3] C. Gottschlich, D. Schuhmacher. The shortlist method for fast computation of the
       Earth Mover's Distance. PLoS ONE 9, 2014.

    Examples
    --------
    >>> import otkit as ot
    >>> ot.emd([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]])
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    _check_cost_given(M)
    _check_num_threads(numThreads)
    numItermax = check_integer(numItermax, "numItermax", allow_traced=False)
    if _is_sparse_cost(M):
        from ._emd_sparse import emd_sparse

        return emd_sparse(a, b, M, numItermax, log, center_dual, check_marginals, potentials_init)
    low, low_xp, (a, b, M) = _upcast(a, b, M)
    xp, dtype, device, a, b, M, potentials = prepare_problem(a, b, M, potentials_init)
    cost, G, u, v, code, n_iter = _solve(
        a,
        b,
        M,
        potentials,
        xp,
        dtype,
        device,
        input_float_dtype(a, b, M),
        num_iter_max=numItermax,
        check_marginals=check_marginals,
        center_dual=center_dual,
    )
    if log:
        traced = is_traced(G)
        log = _make_log(stop_gradient(cost, xp), u, v, code, n_iter, traced)
        return downcast_low_precision((G, log), low, low_xp)
    return downcast_low_precision(G, low, low_xp)


def emd2(
    a,
    b,
    M,
    processes=1,
    numItermax=100000,
    log=False,
    return_matrix=False,
    center_dual=True,
    numThreads=1,
    check_marginals=True,
    potentials_init=None,
):
    r"""Exact optimal transport cost (earth mover's distance), differentiable.

    Same problem as :func:`emd`; returns the optimal value
    :math:`\min_\gamma \langle\gamma, M\rangle_F` instead of the plan (W_p^p for the cost
    ``M_ij = |x_i - y_j|^p``).

    Gradients: on torch (``backward()``) and JAX (``jax.grad``, also under ``jax.jit`` and
    ``jax.vmap``), the gradient with respect to ``(a, b, M)`` is
    :math:`(u - \bar u,\; v - \bar v,\; \gamma^\star)` where :math:`u, v` are the optimal duals
    (centred so that they are tangent to the simplex).

    Parameters
    ----------
    a : (n,) array or list
        Source weights (empty means uniform).
    b : (m,) or (m, k) array or list
        Target weights; a 2-D ``b`` solves ``k`` problems that share ``a`` and ``M``.
    M : (n, m) array or sparse matrix
        Ground cost matrix; a ``scipy.sparse`` matrix or a torch sparse COO/CSR tensor
        restricts the LP to its stored entries (on torch the cost is differentiable w.r.t.
        the stored values: the plan at those entries).
    processes : int, default=1
        Accepted for POT compatibility and ignored: problems are solved in turn. As POT, a
        value above 1 with a 2-D ``b`` issues a ``UserWarning`` (deprecated there).
    numItermax : int, default=100000
        Maximum number of pivots.
    log : bool, default=False
        Also return the log dict of :func:`emd`, as POT: ``[cost, log]`` (a list), and for a
        2-D ``b`` a list of k such pairs.
    return_matrix : bool, default=False
        Put the optimal plan in the log under ``"G"`` (implies ``log``-style output).
    center_dual, numThreads, check_marginals, potentials_init
        As in :func:`emd`.

    Returns
    -------
    cost : 0-d array
        :math:`\langle\gamma^\star, M\rangle_F`, in the library, dtype and device of ``M``.
        With ``log`` or ``return_matrix``: the list ``[cost, log]``. For a 2-D ``b``, as
        POT: a list of the k costs (or of the k ``[cost, log]`` pairs); ``xp.stack`` of the
        costs gives a (k,) array, differentiable as each cost.

    Examples
    --------
    >>> import otkit as ot
    >>> float(ot.emd2([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]]))
    0.0
    """
    _check_cost_given(M)
    _check_num_threads(numThreads)
    numItermax = check_integer(numItermax, "numItermax", allow_traced=False)
    if _is_sparse_cost(M):
        from ._emd_sparse import emd2_sparse

        return emd2_sparse(
            a, b, M, numItermax, log, return_matrix, center_dual, check_marginals, potentials_init
        )
    low, low_xp, (a, b, M) = _upcast(a, b, M)
    xp, dtype, device, a, b, M, potentials = prepare_problem(
        a, b, M, potentials_init, b_ndims=(1, 2)
    )
    _check_processes(processes, b.shape[1] if b.ndim == 2 else None)
    solve = partial(
        _solve,
        xp=xp,
        dtype=dtype,
        device=device,
        input_dtype=input_float_dtype(a, b, M),
        num_iter_max=numItermax,
        check_marginals=check_marginals,
        center_dual=center_dual,
    )
    columns = [b] if b.ndim == 1 else [b[:, k] for k in range(b.shape[1])]
    results = []
    for column in columns:
        cost, G, u, v, code, n_iter = solve(a, column, M, potentials, need_plan=return_matrix)
        if log or return_matrix:
            entry = _make_log(stop_gradient(cost, xp), u, v, code, n_iter, is_traced(G))
            if return_matrix:
                entry["G"] = G
            results.append([cost, entry])
        else:
            results.append(cost)
    return downcast_low_precision(results[0] if b.ndim == 1 else results, low, low_xp)


def _upcast(a, b, M):
    """float16/bfloat16 problems in float32 (weights rounded to 2 bytes balanced first);
    ``(low, low_xp, (a, b, M))`` as :func:`otkit._validation.upcast_low_precision`."""
    low_eps = low_precision_eps(a, b)
    low, low_xp, (M, a, b) = upcast_low_precision(M, a, b)
    a, b = balance_low_precision_masses(a, b, low_eps)
    return low, low_xp, (a, b, M)
