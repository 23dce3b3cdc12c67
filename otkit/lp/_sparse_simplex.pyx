# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Network simplex on a sparse set of arcs, resumable after arcs are added (internal).

The problem is the transportation problem restricted to a given arc set A:

.. math::

    \\min_{P \\ge 0} \\sum_{(i, j) \\in A} C_{ij} P_{ij}
    \\quad \\text{s.t.} \\quad \\sum_{j : (i, j) \\in A} P_{ij} = a_i, \\;
    \\sum_{i : (i, j) \\in A} P_{ij} = b_j,

with dual :math:`\\max a \\cdot u + b \\cdot v` s.t. :math:`C_{ij} - u_i - v_j \\ge 0` on A.
It is solved by the same primal network simplex as the dense problem (_network_simplex.pyx,
whose tree, pivot and driver it shares through _simplex_tree.pxd and _simplex_driver.pxd;
Ahuja, Magnanti & Orlin, *Network Flows*, 1993, ch. 11): a strongly feasible spanning
tree through an artificial root, Cunningham's leaving-arc rule, block pricing with a
rotating start, an exact final pass with per-arc thresholds (ulps of |C_ij| + |pi_i| +
|pi_j|) on recomputed potentials, and the duals recentred (a.u = b.v) and priced again at
their final size.

What differs from the dense solver:

- arcs are an append-only list (tail int32, head int32, cost float64, capacity doubling),
  so the arc indices held by the tree stay valid when arcs are added, and ``solve`` can be
  called again after ``add_arcs``: it resumes from the current basis (the potentials of the
  last solve price the new arcs), which is what a multiscale or arc-generation scheme needs;
- the big-M is always symbolic: on a sparse graph a path between a source and a sink may
  take n + m arcs, so no numeric M of the costs' scale is safe, and with M a formal infinity
  the simplex minimizes the flow left on the artificial arcs first.  An optimum that leaves
  mass there (beyond the rounding of the flows) means that the arcs cannot carry the
  marginals: the status is INFEASIBLE, never a plan that silently misses mass;
- W, the power of two standing for M, is raised (all symbolic parts rescaled, exactly) when
  added arcs widen the cost range;
- the first ``solve`` may start from a crash basis instead of the artificial one
  (``crash``): the forest of a greedy flow on given arcs (each arc carries the least of the
  supply and demand left at its ends, so each exhausts one of them and the arcs form a
  forest), each tree hung from the root by an artificial arc that carries the mass the
  greedy flow left there, or none (_shortlist_crash.h).

Reduced cost convention: rc(i -> j) = C_ij + pi_i - pi_{n + j}; duals u_i = -pi_i,
v_j = pi_{n + j}.
"""
import numpy as np
from libc.math cimport sqrt, fabs, INFINITY
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport free, realloc

from ._simplex_driver cimport recentre, run_simplex, solve_and_recentre
from ._simplex_tree cimport (
    ABS_TOL, MAX_RECENTRE, REL_TOL, STATUS_INFEASIBLE, STATUS_MAX_ITER_REACHED, STATUS_OPTIMAL,
    Tree, block_candidate, exact_candidate, recompute_potentials, symbolic_w, tree_alloc,
    tree_bind, tree_free, tree_init,
)

__all__ = [
    "INFEASIBLE",
    "MAX_ITER_REACHED",
    "OPTIMAL",
    "SparseNetworkSimplex",
    "network_simplex_sparse",
]

INFEASIBLE = STATUS_INFEASIBLE
OPTIMAL = STATUS_OPTIMAL
MAX_ITER_REACHED = STATUS_MAX_ITER_REACHED

# Costs and warm starts are bounded so that W (2**20 times (n + m + 2) max|C| + max|warm|)
# stays finite, as the dense caller ensures by rescaling.
cdef double MAX_COST = 2.0 ** 512
cdef double MAX_WARM = 2.0 ** 900
# Flow left on the artificial arcs below this many ulps of (n + m) * mass is the flows'
# rounding (as the certificate's primal tolerance), above it the restricted problem is
# infeasible.
cdef double PRIMAL_ULPS = 64.0
cdef double EPS = 2.220446049250313e-16


cdef extern from "_shortlist_crash.h" nogil:
    int otkit_crash_forest(int n, int m, const int32_t *tail, const int32_t *head,
                           const int64_t *order, int64_t n_order, const double *a,
                           const double *b, int *parent, int64_t *arc, uint8_t *up,
                           double *flow, int *thread, int *rev_thread, int *last,
                           double *residual, int64_t *basic, double *basic_flow,
                           int64_t *offset, int64_t *incident, int *stack, int *preorder)


cdef extern from "_sparse_pricing.h" nogil:
    enum: OTKIT_CHUNK
    void otkit_arcs_min(const double *cost, const int32_t *tail, const int32_t *head,
                        const double *pi, const double *pi_sink, const double *big,
                        const double *big_sink, int64_t length, double *best, int64_t *where)
    int64_t otkit_arcs_argmin(const double *cost, const int32_t *tail, const int32_t *head,
                              const double *pi, const double *pi_sink, const double *big,
                              const double *big_sink, int64_t length)
    int64_t otkit_arcs_min_margin(const double *cost, const int32_t *tail,
                                  const int32_t *head, const double *pi,
                                  const double *pi_sink, const double *big,
                                  const double *big_sink, const double *err,
                                  const double *err_sink, double err_weight, int64_t length,
                                  double rel_tol, double abs_tol, double *best)


cdef inline void _lower(Tree *T, int64_t start, int64_t length, double *best,
                        int64_t *best_at, int64_t *chunk_len) noexcept nogil:
    """Lower ``best`` with the reduced costs of arcs start .. start + length - 1, and locate
    the chunk that holds a new minimum (its first arc and length)."""
    cdef int64_t where = 0
    cdef double previous = best[0]
    if length <= 0:
        return
    otkit_arcs_min(T.cost + start, T.tail + start, T.head + start, T.pi, T.pi + T.n, T.big,
                   T.big + T.n, length, best, &where)
    if best[0] < previous:
        best_at[0] = start + where
        chunk_len[0] = min(length - where, <int64_t> OTKIT_CHUNK)


cdef int64_t _find_entering_arc(Tree *T, int64_t block_size, int64_t *cursor,
                                double *entering_rc, double *entering_big) noexcept nogil:
    """Block search over the arc list from ``cursor`` on, wrapping around: the most
    negative reduced cost seen once a block ends with one below the loose threshold
    (see block_candidate); -1 if none, -2 if it is a tree arc."""
    cdef int64_t n_arcs = T.n_arcs, k = cursor[0], scanned = 0, length, head_part
    cdef int64_t best_at = -1, chunk_len = 0, arc, found
    cdef double best = 0.0
    while scanned < n_arcs:
        # The block: arcs k .. k + length - 1, continued from arc 0 if it passes the end.
        length = min(block_size, n_arcs - scanned)
        head_part = min(length, n_arcs - k)
        _lower(T, k, head_part, &best, &best_at, &chunk_len)
        _lower(T, 0, length - head_part, &best, &best_at, &chunk_len)
        k = (k + length) % n_arcs
        scanned += length
        if best_at >= 0:
            arc = best_at + otkit_arcs_argmin(T.cost + best_at, T.tail + best_at,
                                              T.head + best_at, T.pi, T.pi + T.n, T.big,
                                              T.big + T.n, chunk_len)
            found = block_candidate(T, arc, best, cursor, k, entering_rc, entering_big)
            if found != -1:
                return found
    return -1


cdef int64_t _find_entering_exact(Tree *T, double *entering_rc,
                                  double *entering_big) noexcept nogil:
    """Full pass with per-arc thresholds: the arc furthest below its own, -1 if none
    (optimal), -2 if it is a tree arc (see exact_candidate)."""
    cdef int n = T.n
    cdef double best = 0.0
    cdef int64_t arc = otkit_arcs_min_margin(T.cost, T.tail, T.head, T.pi, T.pi + n, T.big,
                                             T.big + n, T.err, T.err + n, T.err_weight,
                                             T.n_arcs, REL_TOL, ABS_TOL, &best)
    if arc < 0:
        return -1
    return exact_candidate(T, arc, entering_rc, entering_big)


cdef double _cross_bound(Tree *T) noexcept nogil:
    """Smallest M keeping C + pi_s - pi_t + 2M >= 0 on the arcs from sources under +W to
    sinks under -W; 0 if there is none."""
    cdef int n = T.n, s, t
    cdef int64_t k
    cdef double worst = -INFINITY, shift
    cdef bint any_pair = False
    for k in range(T.n_arcs):
        s = T.tail[k]
        t = n + T.head[k]
        if T.big[s] > 0.0 and T.big[t] < 0.0:
            any_pair = True
            shift = -0.5 * (T.cost[k] + T.pi[s] - T.pi[t])
            if shift > worst:
                worst = shift
    return worst if any_pair else 0.0


cdef bint _cross_violated(Tree *T) noexcept nogil:
    """Whether an arc from a source under +W to a sink under -W has a real reduced cost
    below its threshold (the exact pass does not see them: their symbolic part is +2W).

    The recentring prices them at zero or above, but the shift is rounded at the scale of
    the potentials before it, which a warm start or large intermediate potentials can put
    far above the final duals."""
    cdef int n = T.n, s, t
    cdef int64_t k
    cdef double rc
    for k in range(T.n_arcs):
        s = T.tail[k]
        t = n + T.head[k]
        if T.big[s] > 0.0 and T.big[t] < 0.0:
            rc = T.cost[k] + T.pi[s] - T.pi[t]
            if rc < -(REL_TOL * (fabs(T.cost[k]) + fabs(T.pi[s]) + fabs(T.pi[t])) + ABS_TOL):
                return True
    return False


cdef bint _off_centre(Tree *T, const double *a, const double *b) noexcept nogil:
    """Whether a.u - b.v exceeds the rounding of the potentials, 16 eps (a.|u| + b.|v|):
    the centring is computed from the potentials before it, possibly at a larger scale."""
    cdef int i, j, n = T.n
    cdef double gap = 0.0, scale = 0.0
    for i in range(n):
        gap -= a[i] * T.pi[i]
        scale += a[i] * fabs(T.pi[i])
    for j in range(T.m):
        gap -= b[j] * T.pi[n + j]
        scale += b[j] * fabs(T.pi[n + j])
    return fabs(gap) > 16.0 * EPS * scale


cdef int _solve(Tree *T, int64_t block_size, int64_t *cursor, int64_t max_iter,
                int64_t *n_iter, const double *a, const double *b,
                double infeasible_flow) noexcept nogil:
    """The shared driver, then more rounds of recentring while an arc between the two kinds
    of subtrees is priced below its threshold or the duals are off centre (at most
    MAX_RECENTRE)."""
    cdef int status = solve_and_recentre(T, block_size, cursor, max_iter, n_iter, a, b,
                                         infeasible_flow)
    for _ in range(MAX_RECENTRE):
        if status != STATUS_OPTIMAL:
            break
        if not (_cross_violated(T) or _off_centre(T, a, b)) or not recentre(T, a, b):
            break
        recompute_potentials(T)
        status = run_simplex(T, block_size, cursor, max_iter, n_iter, True, True)
    return status


def _vector(x, name, length=None):
    """``x`` as a contiguous float64 vector, finite, of the given length."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    if length is not None and x.shape[0] != length:
        raise ValueError(f"{name}.shape == {x.shape}, expected ({length},)")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (it has NaN or inf entries)")
    return x


def _indices(x, name, bound, other):
    """``x`` as an int32 vector of indices in [0, bound)."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    if x.size and x.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() >= bound):
        raise ValueError(f"{name} must lie in [0, {bound}) ({other}), got [{x.min()}, {x.max()}]")
    return np.ascontiguousarray(x, dtype=np.int32)


cdef class SparseNetworkSimplex:
    """Resumable network simplex on a growing set of arcs i -> j of costs C_ij.

    Parameters
    ----------
    a : (n,) array_like of float
        Supplies, non-negative, positive sum.
    b : (m,) array_like of float
        Demands, non-negative, the same sum as ``a`` (up to rounding; the caller checks).
    potentials_init : tuple of (n,) and (m,) arrays, optional
        Warm start (u, v): the initial artificial arcs are priced with them, so that arcs
        tight for them (C_ij - u_i - v_j small) enter first.  They steer the pivots, never
        the optimum.  Centred on each other here and clipped to (n + m) max|C| at the
        first ``solve``, as the dense solver's warm start.

    Notes
    -----
    ``add_arcs`` appends arcs (duplicates are kept: harmless), ``solve`` pivots from the
    current basis (the first call from the artificial start), ``plan`` and ``duals`` read
    the current basis.  ``n_iter`` counts the pivots of the last ``solve``, ``n_pivots``
    those of all calls.  The GIL is released while pivoting; one object must not be used
    from two threads at once.
    """

    cdef Tree T
    cdef int32_t *tails
    cdef int32_t *heads
    cdef double *costs
    cdef int64_t capacity, cursor, total_pivots, last_pivots
    cdef double peak, mass
    cdef bint started
    cdef object a_array, b_array

    def __cinit__(self):
        self.T.storage = NULL  # tree_free is safe on a tree that was never allocated
        self.tails = self.heads = NULL
        self.costs = NULL

    def __init__(self, a, b, potentials_init=None):
        cdef double[::1] u_view, v_view
        a = _vector(a, "a")
        b = _vector(b, "b")
        n, m = a.shape[0], b.shape[0]
        if n == 0 or m == 0:
            raise ValueError(f"empty problem: a.shape == {a.shape}, b.shape == {b.shape}")
        if np.any(a < 0) or np.any(b < 0):
            raise ValueError("a and b must be non-negative")
        if a.sum() <= 0:
            raise ValueError("a must have a positive sum")
        if n + m + 1 > 2**31 - 1:
            raise ValueError("too many nodes for int32 indices")
        self.a_array, self.b_array = a, b
        self.mass = max(float(a.sum()), float(b.sum()))
        self.started = False
        u0 = v0 = None
        if potentials_init is not None:
            if len(potentials_init) != 2:
                raise ValueError("potentials_init must be a pair (u, v)")
            u0 = _vector(potentials_init[0], "potentials_init[0]", n)
            v0 = _vector(potentials_init[1], "potentials_init[1]", m)
            shift = 0.25 * ((u0.max() + u0.min()) - (v0.max() + v0.min()))
            u0, v0 = u0 - shift, v0 + shift
            if max(np.abs(u0).max(), np.abs(v0).max()) > MAX_WARM:
                raise ValueError("potentials_init must lie within 2**900 once centred")
        if not tree_alloc(&self.T, n, m):
            raise MemoryError(f"sparse network simplex: cannot allocate {n + m + 1} nodes")
        self._bind(0)
        self.T.symbolic = True
        self.T.W = symbolic_w(0.0 if u0 is None else max(np.abs(u0).max(), np.abs(v0).max()))
        cdef double[::1] a_view = a, b_view = b
        if u0 is None:
            tree_init(&self.T, &a_view[0], &b_view[0], 0.0, NULL, NULL)
        else:
            u_view, v_view = u0, v0
            tree_init(&self.T, &a_view[0], &b_view[0], 0.0, &u_view[0], &v_view[0])

    def __dealloc__(self):
        tree_free(&self.T)
        free(self.tails)
        free(self.heads)
        free(self.costs)

    cdef void _bind(self, int64_t n_arcs):
        tree_bind(&self.T, n_arcs, self.costs, self.tails, self.heads, _find_entering_arc,
                  _find_entering_exact, _cross_bound)

    def add_arcs(self, rows, cols, costs):
        """Append arcs rows[k] -> cols[k] of cost costs[k].

        Parameters
        ----------
        rows : (k,) integer array
            Sources, in [0, n).
        cols : (k,) integer array
            Sinks, in [0, m).
        costs : (k,) float array
            Costs, finite, below 2**512 in magnitude.
        """
        n, m = self.T.n, self.T.m
        rows = _indices(rows, "rows", n, "the sources: a.size")
        cols = _indices(cols, "cols", m, "the sinks: b.size")
        costs = _vector(costs, "costs")
        if not rows.shape[0] == cols.shape[0] == costs.shape[0]:
            raise ValueError(
                f"rows, cols and costs must have one length, got {rows.shape[0]}, "
                f"{cols.shape[0]}, {costs.shape[0]}"
            )
        cdef int64_t k = rows.shape[0], new_capacity, start = self.T.n_arcs, q
        if k == 0:
            return
        peak = float(np.abs(costs).max())
        if peak >= MAX_COST:
            raise ValueError(f"costs must lie within 2**512 (rescale them), got {peak:.3g}")
        if start + k > self.capacity:
            new_capacity = max(2 * self.capacity, start + k, 16)
            self._grow(new_capacity)
        cdef const int32_t[::1] r = rows, c = cols
        cdef const double[::1] w = costs
        for q in range(k):
            self.tails[start + q] = r[q]
            self.heads[start + q] = c[q]
            self.costs[start + q] = w[q]
        self._bind(start + k)
        self.peak = max(self.peak, peak)

    cdef _grow(self, int64_t new_capacity):
        cdef int32_t *tails = <int32_t *> realloc(self.tails, new_capacity * sizeof(int32_t))
        if tails != NULL:
            self.tails = tails
        cdef int32_t *heads = <int32_t *> realloc(self.heads, new_capacity * sizeof(int32_t))
        if heads != NULL:
            self.heads = heads
        cdef double *costs = <double *> realloc(self.costs, new_capacity * sizeof(double))
        if costs != NULL:
            self.costs = costs
        self._bind(self.T.n_arcs)
        if tails == NULL or heads == NULL or costs == NULL:
            raise MemoryError(f"sparse network simplex: cannot store {new_capacity} arcs")
        self.capacity = new_capacity

    cdef void _prepare(self) noexcept:
        """Before a solve: clip the warm start (first solve) and raise W to the range."""
        cdef Tree *T = &self.T
        cdef int x
        cdef double bound = (T.n + T.m) * self.peak, warm = 0.0, W
        if not self.started:
            # The potentials of any basis are path sums of at most n + m costs: warm start
            # values beyond carry no pricing information and would only cost precision.
            for x in range(T.n + T.m):
                if T.art_cost[x] > bound:
                    T.art_cost[x] = bound
                elif T.art_cost[x] < -bound:
                    T.art_cost[x] = -bound
            self.started = True
        for x in range(T.n + T.m):
            warm = max(warm, fabs(T.art_cost[x]))
        W = symbolic_w((T.n + T.m + 2) * self.peak + warm)
        if W > T.W:
            T.W = W
        recompute_potentials(T)

    def crash(self, order):
        """Start from the basis of a greedy flow instead of the artificial one.

        The arcs are taken in the given order, each carrying the least of the supply and
        the demand left at its ends (the "matrix minimum" rule when the order is by
        increasing reduced cost); the forest of the arcs that carried flow is hung from the
        root (see _shortlist_crash.h), so that the first ``solve`` only corrects the greedy
        plan.  Mass that the arcs could not place stays on artificial arcs (driven out by
        the symbolic big-M, as from the artificial start).  The artificial arcs keep the
        costs that give the hanging nodes the real potentials of the warm start.

        Parameters
        ----------
        order : (k,) integer array
            Indices into the arcs added so far (any subset, in the order to take them).

        Returns
        -------
        crashed : bool
            False if the greedy flow did not give a strongly feasible basis (only possible
            if rounding broke the residuals' exactness): the artificial start is kept.
        """
        if self.started:
            raise ValueError("crash must come before the first solve")
        cdef Tree *T = &self.T
        order = _indices(order, "order", T.n_arcs, "the arcs added so far")
        order = np.ascontiguousarray(order, dtype=np.int64)
        cdef int64_t nodes = T.n + T.m, n_order = order.shape[0]
        cdef int x
        # tree_init's real potentials: -u0 (sources) and v0 (sinks), whichever way a
        # node's artificial arc points
        pi_start = np.array(<double[:nodes]> T.pi)
        residual, basic_flow = np.empty(nodes), np.empty(nodes)
        basic, incident = np.empty(nodes, dtype=np.int64), np.empty(2 * nodes, dtype=np.int64)
        offset = np.empty(nodes + 1, dtype=np.int64)
        stack, preorder = np.empty(nodes + 1, dtype=np.intc), np.empty(nodes + 1, dtype=np.intc)
        cdef const int64_t[::1] o = order
        cdef int64_t[::1] basic_v = basic, offset_v = offset, incident_v = incident
        cdef double[::1] residual_v = residual, flow_v = basic_flow, pi_v = pi_start
        cdef int[::1] stack_v = stack, preorder_v = preorder
        cdef double[::1] a_view = self.a_array, b_view = self.b_array, u_view, v_view
        cdef int crashed
        with nogil:
            crashed = otkit_crash_forest(
                T.n, T.m, T.tail, T.head, &o[0] if n_order else NULL, n_order, &a_view[0],
                &b_view[0], T.parent, T.arc, T.up, T.flow, T.thread, T.rev_thread, T.last,
                &residual_v[0], &basic_v[0], &flow_v[0], &offset_v[0], &incident_v[0],
                &stack_v[0], &preorder_v[0])
            if crashed:
                for x in range(nodes):
                    if T.parent[x] == T.root:
                        T.art_cost[x] = -pi_v[x] if T.up[x] else pi_v[x]
        if not crashed:
            # back to the artificial start with the same warm start
            u_view = np.ascontiguousarray(-pi_start[: T.n])
            v_view = np.ascontiguousarray(pi_start[T.n :])
            tree_init(T, &a_view[0], &b_view[0], 0.0, &u_view[0], &v_view[0])
        return bool(crashed)

    def solve(self, max_iter):
        """Pivot from the current basis until optimal on the current arcs.

        Parameters
        ----------
        max_iter : int
            Maximum number of pivots of this call.

        Returns
        -------
        status : int
            OPTIMAL (1), INFEASIBLE (0: the arcs cannot carry the marginals; the basis
            keeps the least mass on the artificial arcs and ``solve`` may resume after
            ``add_arcs``) or MAX_ITER_REACHED (3: ``solve`` may resume).
        """
        max_iter = int(max_iter)
        if max_iter < 0:
            raise ValueError(f"max_iter must be non-negative, got {max_iter}")
        cdef int64_t limit = max_iter, n_iter = 0, block_size
        cdef int status
        cdef double tol = PRIMAL_ULPS * EPS * (self.T.n + self.T.m) * self.mass
        cdef double[::1] a_view = self.a_array, b_view = self.b_array
        block_size = <int64_t> sqrt(<double> self.T.n_arcs)
        if block_size < 10:
            block_size = 10
        if block_size > self.T.n_arcs:
            block_size = self.T.n_arcs
        if self.cursor >= self.T.n_arcs:
            self.cursor = 0
        self._prepare()
        with nogil:
            status = _solve(&self.T, block_size, &self.cursor, limit, &n_iter, &a_view[0],
                            &b_view[0], tol)
        self.last_pivots = n_iter
        self.total_pivots += n_iter
        return int(status)

    def plan(self):
        """The basic arcs that carry flow: (rows, cols, flows), int64, int64, float64."""
        cdef Tree *T = &self.T
        rows = np.empty(T.n + T.m, dtype=np.int64)
        cols = np.empty(T.n + T.m, dtype=np.int64)
        flows = np.empty(T.n + T.m, dtype=np.float64)
        cdef int64_t[::1] rows_v = rows, cols_v = cols
        cdef double[::1] flows_v = flows
        cdef int x, k = 0
        for x in range(T.n + T.m):
            if T.arc[x] >= 0 and T.flow[x] > 0.0:
                rows_v[k] = T.tail[T.arc[x]]
                cols_v[k] = T.head[T.arc[x]]
                flows_v[k] = T.flow[x]
                k += 1
        return rows[:k], cols[:k], flows[:k]

    def duals(self):
        """Dual potentials (u, v): C_ij - u_i - v_j >= 0 (to a few ulps) on every arc when
        optimal, centred (a.u = b.v)."""
        cdef Tree *T = &self.T
        u = np.empty(T.n, dtype=np.float64)
        v = np.empty(T.m, dtype=np.float64)
        cdef double[::1] u_v = u, v_v = v
        cdef int i, j
        for i in range(T.n):
            u_v[i] = -T.pi[i]
        for j in range(T.m):
            v_v[j] = T.pi[T.n + j]
        return u, v

    @property
    def cost(self):
        """Cost of the current plan, sum of C_ij P_ij over its arcs."""
        cdef Tree *T = &self.T
        cdef double total = 0.0
        cdef int x
        for x in range(T.n + T.m):
            if T.arc[x] >= 0:
                total += T.flow[x] * T.cost[T.arc[x]]
        return total

    @property
    def n_arcs(self):
        """Number of arcs stored (duplicates included)."""
        return int(self.T.n_arcs)

    @property
    def n_pivots(self):
        """Pivots of all ``solve`` calls."""
        return int(self.total_pivots)

    @property
    def n_iter(self):
        """Pivots of the last ``solve`` call."""
        return int(self.last_pivots)


def network_simplex_sparse(a, b, rows, cols, costs, max_iter, potentials_init=None):
    """One-shot sparse solve: ``SparseNetworkSimplex`` with the arcs given, solved once.

    Returns
    -------
    rows, cols, flows : the plan's arcs with positive flow (COO triplets)
    u, v : the duals
    status : int (OPTIMAL, INFEASIBLE, MAX_ITER_REACHED)
    n_iter : int, the number of pivots
    """
    solver = SparseNetworkSimplex(a, b, potentials_init)
    solver.add_arcs(rows, cols, costs)
    status = solver.solve(max_iter)
    return (*solver.plan(), *solver.duals(), status, solver.n_iter)
