r"""The shortlist method: exact OT on a dense cost matrix through a sparse candidate set.

Most of the n m arcs of a transport problem never carry mass: on point clouds the optimal
plan sends each point to a few of its cheapest partners.  The shortlist method (Gottschlich
& Schuhmacher 2014) solves the problem restricted to a small candidate set of arcs and then
checks the dense problem's optimality conditions against the restricted duals (Schmitzer
2016, the certificate view):

1. approximate duals :math:`(u^0, v^0)`: the warm start if given, else :math:`v^0` is the
   c-transform :math:`v^0_j = \min_i C_{ij} - u_i` over the sampled rows of the optimal
   row duals of the problem between every other source and target (each carrying the
   mass of its neighbour too; solved the same way, recursively, dense below 250,000
   arcs), and :math:`u^0` the c-transform of :math:`v^0` (computed by the pass of step 2).
   The candidates of a plain "k cheapest arcs" shortlist miss the arcs of clouds
   transported far (shifted or clustered clouds exchange mass between distant regions);
   those of the reduced costs :math:`C_{ij} - u^0_i - v^0_j` do not;
2. candidates: the ``k`` smallest reduced costs of every row and of every column, picked
   in one compiled pass over C (each list starts from an estimate of its final limit: a
   running mean of the rows' for a row, the coarse problem's rows for a column, so that
   few entries are pushed and dropped), plus the arcs of the north-west corner rule over
   the mass that the greedy flow on the candidates (by increasing reduced cost, the
   "matrix minimum" rule) leaves, so that the restricted problem is feasible.  It is
   solved by otkit's resumable sparse network simplex
   (:class:`otkit.lp._sparse_simplex.SparseNetworkSimplex`) from a crash basis: the
   forest of that greedy flow, the mass it leaves on artificial arcs (a quarter to a
   third fewer pivots than from the artificial basis on 2-D clouds with random weights,
   the same with uniform weights).  The nodes are numbered so that nearby points have
   nearby numbers (a kd partition of the rows by their costs to a few landmark columns,
   and of the columns alike): the tree walks and the gathers of potentials then stay in
   cache, which halves the time of the pivots (and the sample of step 1, taken in that
   order, is well spread);
3. every arc of C is priced against its duals :math:`(u, v)` with the exact pass's per-arc
   test of the dense simplex,

   .. math::
       C_{ij} - u_i - v_j + \tau (|C_{ij}| + |u_i| + |v_j|) + \tau_0 < 0,
       \qquad \tau = 8\,\epsilon,

   and the ``per_row`` most negative arcs of each row are added; the solve resumes from
   its current basis.  When no arc is negative, (u, v) is dual feasible for the full
   problem and complementary to the plan, so the plan is optimal for the full problem
   (and the dense solver's certificate, run by the caller, checks it once more).

On 2-D clouds at n = 5000 this takes 1 to 3 pricing rounds and 2 to 3 pivots per node
(the dense simplex: ~20).  Costs with massive ties (small integers) can need many rounds:
past _PIVOT_BUDGET pivots per node the method gives up and the caller runs the dense
solver.  Memory: the subsampled cost matrix of step 1 (a quarter of C, then a sixteenth
...) and O((n + m) k) for the arcs.

References
----------
.. [1] C. Gottschlich, D. Schuhmacher. The shortlist method for fast computation of the Earth
   Mover's Distance and finding optimal solutions to transportation problems. PLoS ONE 9(10),
   e110214, 2014.
.. [2] B. Schmitzer. A sparse multiscale algorithm for dense optimal transport. J. Math.
   Imaging Vis. 56, 2016.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from ._network_simplex import network_simplex
from ._shortlist_kernel import col_ctransform, corner_arcs, gather, kd_order, price, select
from ._sparse_simplex import MAX_ITER_REACHED, OPTIMAL, SparseNetworkSimplex

__all__ = ["ShortlistResult", "solve_shortlist"]

# The exact pass's per-arc tolerance of the network simplex (REL_TOL, ABS_TOL in
# _simplex_tree.pxd): "no arc prices out" means the same here as for the dense solver.
_REL_TOL = 8.0 * float(np.finfo(np.float64).eps)
_ABS_TOL = 8.0 * float(np.finfo(np.float64).smallest_subnormal)
# Candidates per row and per column, violators added per row and round (measured on 2-D
# clouds at n = 5000: k = 8 takes more rounds, k = 20 a slower selection for no fewer pivots).
_K = 12
_PER_ROW = 10
# Duals are guessed from every _STEP-th source and target, recursively down to this size.
_STEP = 2
_COARSE_ARCS = 250_000
# Pivots (per node) after which the method gives up while arcs still price out: on 2-D
# clouds it needs 3 to 5 per node; costs with massive ties can take 20 (the dense solver
# is faster there).
_PIVOT_BUDGET = 8
# ... or as soon as this fraction of all arcs prices out (the guessed duals carry no
# information: seen with small integer costs, a third of the arcs; clouds: below 1%) on a
# problem large enough for the guess to be informed (small ones are quick anyway).
_HOPELESS = 0.2
_HOPELESS_MIN_ARCS = 1_000_000
# Start the sparse solve from the greedy flow's basis (SparseNetworkSimplex.crash).
_CRASH = True
# Where the selection's lists start (see select): a row's from _ROW_FACTOR times the
# typical k-th smallest reduced cost of the rows before it; a column's from _COL_FACTOR
# times its _COL_SAMPLE-th smallest over the coarse problem's rows (_guess_column_duals).
_ROW_FACTOR = 3.0
_COL_SAMPLE = 3
_COL_STRIDE = 4
_COL_FACTOR = 2.0
# Landmarks of the cost embedding that orders the nodes (_locality_order).
_LANDMARKS = 4


class ShortlistResult(NamedTuple):
    """Plan support (rows, cols, flows), duals u, v, status and pivots of all rounds."""

    rows: np.ndarray
    cols: np.ndarray
    flows: np.ndarray
    u: np.ndarray
    v: np.ndarray
    status: int
    n_iter: int
    rounds: int


def solve_shortlist(
    a,
    b,
    M,
    num_iter_max,
    warm=None,
    *,
    k=None,
    per_row=None,
    max_rounds=50,
    order=None,
    timings=None,
    crash=None,
):
    """Solve the balanced problem (a, b, M) by the shortlist method.

    Parameters
    ----------
    a : (n,) float64 array
        Supplies, positive.
    b : (m,) float64 array
        Demands, positive, of a's mass (up to rounding).
    M : (n, m) float64 array, C-contiguous
        Costs, finite, below 2**512 in magnitude.
    num_iter_max : int
        Pivots allowed over all rounds.
    warm : tuple of (n,) and (m,) float64 arrays, optional
        Warm-start potentials: they choose the candidates (smallest reduced costs) and
        the crash basis, and price the sparse solver's initial basis.  Without them, they
        are guessed from a subsampled problem (see _guess_column_duals).
    k : int, default=_K
        Candidates per row and per column.
    per_row : int, default=_PER_ROW
        Violating arcs added per row and round.
    max_rounds : int, default=50
        Pricing rounds before giving up.
    order : tuple of (n,) and (m,) int arrays, optional
        Numbering of the rows and columns for the sparse solver (permutations); by default
        from a kd partition of the rows (columns) by their costs to a few landmark columns
        (rows), see _locality_order.
    timings : dict, optional
        If given, CPU seconds of each phase are added to it (keys ``guess``, ``select``,
        ``solve``, ``price``) with the rounds, pivots and arcs of the last call.
    crash : bool, default=_CRASH
        Start the sparse solve from the greedy flow's basis (else from the artificial one).

    Returns
    -------
    result : ShortlistResult or None
        ``status`` OPTIMAL (no arc of M prices out against ``u, v``) or MAX_ITER_REACHED
        (``num_iter_max`` pivots made: the plan is not optimal); None when the method
        cannot conclude (the restricted problem infeasible, no progress, ``max_rounds``
        rounds, more than _PIVOT_BUDGET (n + m) pivots with arcs still pricing out, more
        than a fraction _HOPELESS of all arcs pricing out, or any of these on the coarse
        problem of the guess):
        the caller then solves the dense problem.  ``n_iter`` counts the pivots
        on this problem, not those of the guess.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = solve_shortlist(np.array([0.5, 0.5]), np.array([0.5, 0.5]), M, 100, k=1)
    >>> float(res.flows @ M[res.rows, res.cols]), res.status
    (0.0, 1)
    """
    clock = _Clock(timings)
    k = _K if k is None else k
    per_row = _PER_ROW if per_row is None else per_row
    crash = _CRASH if crash is None else crash
    n, m = M.shape
    # The solver numbers the nodes in the order of `order` (solver node i is row
    # row_order[i]): nearby points get nearby numbers, which the pivots' tree walks and the
    # pricing's gathers of potentials read far faster than a random numbering.
    row_order, col_order = _locality_order(M) if order is None else order
    row_rank, col_rank = _inverse(row_order), _inverse(col_order)
    col_start = None
    if warm is None:
        guess = _guess_column_duals(
            a, b, M, num_iter_max, row_order, col_order, k=k, per_row=per_row, crash=crash
        )
        clock.lap("guess")
        if guess is None:
            # the method gave up on the coarse problem: it would here too (costs with
            # massive ties), so the dense solver gets this one at once
            clock.done(rounds=0, pivots=0, arcs=0)
            return None
        v0, col_start = guess
        u0 = None  # its c-transform, computed by the selection pass
    else:
        u0, v0 = warm
    rows, cols, u0 = select(M, u0, v0, k, k, _ROW_FACTOR, col_start)
    # distinct arcs, by source then sink in the solver's numbering (the pricing's order)
    keys = np.sort(row_rank[rows] * m + col_rank[cols])
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    rows, cols = np.divmod(keys, m)
    a_solver, b_solver = a[row_order], b[col_order]
    u0, v0 = u0[row_order], v0[col_order]
    costs = M[row_order[rows], col_order[cols]]
    # The greedy flow by increasing reduced cost (the "matrix minimum" rule), and the arcs
    # of the north-west corner rule over the mass it leaves (nearby nodes in this
    # numbering): with them the restricted problem is feasible.
    greedy_order = np.argsort(costs - u0[rows] - v0[cols])
    corner_rows, corner_cols = corner_arcs(rows, cols, greedy_order, a_solver, b_solver)
    solver = SparseNetworkSimplex(a_solver, b_solver, (u0, v0))
    solver.add_arcs(rows, cols, costs)
    solver.add_arcs(corner_rows, corner_cols, M[row_order[corner_rows], col_order[corner_cols]])
    if crash:
        # The crash basis: the greedy flow's forest, the mass it leaves on artificial arcs
        # (not the corner's arcs: the pivots place that mass far better).
        solver.crash(greedy_order)
    clock.lap("select")

    def duals():
        u_solver, v_solver = solver.duals()
        u, v = np.empty(n), np.empty(m)
        u[row_order], v[col_order] = u_solver, v_solver
        return u, v

    def answer(u, v, status, rounds):
        plan_rows, plan_cols, flows = solver.plan()
        return ShortlistResult(
            row_order[plan_rows], col_order[plan_cols], flows, u, v, status, solver.n_pivots, rounds
        )

    previous = None
    result = None
    for rounds in range(max_rounds + 1):
        pivots_before = solver.n_pivots
        status = solver.solve(max(0, num_iter_max - pivots_before))
        clock.lap("solve")
        if status == MAX_ITER_REACHED:
            result = answer(*duals(), status, rounds)
            break
        if status != OPTIMAL:
            break  # infeasible restricted problem: should not happen (feasible arcs)
        u, v = duals()
        bad_rows, bad_cols, _, count = price(M, u, v, _REL_TOL, _ABS_TOL, per_row)
        clock.lap("price")
        if count == 0:
            result = answer(u, v, status, rounds)
            break
        stalled = (
            previous is not None
            and solver.n_pivots == pivots_before
            and np.array_equal(previous[0], u)
            and np.array_equal(previous[1], v)
        )
        hopeless = solver.n_pivots > _PIVOT_BUDGET * (n + m) or (
            n * m >= _HOPELESS_MIN_ARCS and count > _HOPELESS * n * m
        )
        if stalled or hopeless:
            # the violators are arcs of the solve already (rounding, not pivots), or the
            # candidates miss too much (ties everywhere: integer costs): the dense solver
            break
        previous = (u, v)
        solver.add_arcs(row_rank[bad_rows], col_rank[bad_cols], M[bad_rows, bad_cols])
    clock.done(rounds=rounds, pivots=solver.n_pivots, arcs=solver.n_arcs)
    return result


class _Clock:
    """CPU seconds per phase, added to a dict (nothing when there is none)."""

    def __init__(self, timings):
        self.timings = timings
        self.start = time.process_time()

    def lap(self, phase):
        if self.timings is not None:
            now = time.process_time()
            self.timings[phase] = self.timings.get(phase, 0.0) + now - self.start
            self.start = now

    def done(self, **counts):
        if self.timings is not None:
            self.timings.update(counts)


def _guess_column_duals(a, b, M, num_iter_max, row_order, col_order, **options):
    """Approximate optimal column duals and where each column's candidates end.

    The duals are the c-transform v_j = min_i (C_ij - u_i) over the sampled rows i of the
    optimal row duals u of the problem between every _STEP-th source and target in the
    locality order (a well spread sample, each carrying the mass of its group; solved the
    same way, recursively, dense once it has _COARSE_ARCS arcs or fewer).  The same pass
    finds the _COL_SAMPLE-th smallest C_ij - u_i of each column over the sampled rows: the
    column's candidates are looked for below _COL_FACTOR times that gap above v_j (with
    twice as many rows, about 2 _COL_SAMPLE reduced costs lie below the gap itself).
    Zeros and no bound when M itself is that small; None when the shortlist gave up on the
    coarse problem.  A heuristic: both only choose the candidates and steer the first
    pivots."""
    n, m = M.shape
    if n * m <= _COARSE_ARCS:
        return np.zeros(m), None
    rows, cols = row_order[::_STEP].copy(), col_order[::_STEP].copy()
    # each sampled node carries the mass of its group of _STEP consecutive nodes (nearby
    # points): the sample keeps the mass of every region, so the flows between regions
    # (clusters that exchange mass) and hence the duals' jumps stay as in the full problem
    a_sub = np.add.reduceat(a[row_order], np.arange(0, n, _STEP))
    b_sub = np.add.reduceat(b[col_order], np.arange(0, m, _STEP))
    b_sub *= a_sub.sum() / b_sub.sum()
    M_sub = gather(M, rows, cols)
    if M_sub.size <= _COARSE_ARCS:
        u_sub = network_simplex(a_sub, b_sub, M_sub, num_iter_max)[3]
    else:
        # the sample is numbered in the locality order already
        order = (np.arange(rows.size), np.arange(cols.size))
        result = solve_shortlist(a_sub, b_sub, M_sub, num_iter_max, order=order, **options)
        if result is None:
            return None
        u_sub = result.u
    v, smallest = col_ctransform(M, rows, u_sub, min(_COL_SAMPLE, rows.size), _COL_STRIDE)
    # the next double up: a column whose gap is 0 (ties) still takes its zeros
    bound = np.nextafter(_COL_FACTOR * np.maximum(smallest[-1] - v, 0.0), np.inf)
    return v, bound


def _locality_order(M):
    """Permutations of the rows and columns that put nearby points next to each other.

    Without the points, a row is located by its costs to _LANDMARKS columns spread over the
    index range (a cost embedding, as landmark multidimensional scaling), and a column by
    its costs to as many rows; the rows (columns) are then sorted along a kd partition of
    these coordinates.  Only the speed depends on it."""
    n, m = M.shape
    landmark_cols = np.unique(np.linspace(0, m - 1, _LANDMARKS).astype(np.int64))
    landmark_rows = np.unique(np.linspace(0, n - 1, _LANDMARKS).astype(np.int64))
    row_points = gather(M, np.arange(n, dtype=np.int64), landmark_cols)
    col_points = np.ascontiguousarray(M[landmark_rows].T)
    return kd_order(row_points, _depth(n)), kd_order(col_points, _depth(m))


def _depth(size):
    return max(1, int(np.ceil(np.log2(max(size, 2)))))


def _inverse(permutation):
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(permutation.size)
    return inverse
