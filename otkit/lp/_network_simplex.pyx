# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Primal network simplex for the balanced transportation problem.

The problem is min <C, P> over P >= 0 with P 1 = a, P^T 1 = b, seen as a minimum-cost flow on
the complete bipartite graph (sources i -> sinks j, uncapacitated arcs of cost C_ij), plus an
artificial root joined to every node.  Only the n + m arcs of the spanning-tree basis carry
flow, so flows are stored per tree node (the arc to its parent) and the dense cost matrix is
the only n x m array: the solver's own memory is O(n + m).

Ingredients (Ahuja, Magnanti & Orlin, *Network Flows*, 1993, ch. 11; Kelly & O'Neill 1991 for
block pricing):

- the tree is held as parent links with node depths and the thread indices of AMO 11.3
  (preorder successor and predecessor, last node of each subtree), so the pivot cycle is
  found by climbing to the apex and the moved subtree is walked in time proportional to its
  size, its thread re-spliced from O(stem) pieces;
- strongly feasible initial tree through the artificial root, and Cunningham's leaving-arc
  rule (last blocking arc from the apex), which excludes cycling;
- symbolic big-M artificial costs: the cost of an artificial arc is M + c with M a formal
  infinity, so every potential is pi + sigma M with sigma = +-1 (the kind of artificial arc its
  subtree hangs from).  The real parts pi never carry a numeric big-M: with a numeric one
  (max |C|, say 1e15 when some entries are "forbidden") every reduced cost of an ordinary arc
  was the difference of two potentials of that size, and its rounding (~0.1 at 1e15) hid
  negative reduced costs of arcs of cost ~1.  The M part is held as +-W (a power of two far
  above every real part) so that the pricing stays one vectorized sum.  That costs ~40%
  more per pivot, so by default M is numeric (max|C|, in the real parts, W = 0: the same
  code without the symbolic sums) unless the cost range is wide (WIDE_RANGE); the caller's
  certificate catches the rest and asks for the symbolic mode;
- block-search pricing over the row-major arc order with a rotating start, vectorized (tree
  arcs are not masked: their reduced cost is zero up to rounding, above the threshold);
- potentials are shifted on the moved subtree only; when the block search (threshold
  ~450 ulps, for potentials that drift) finds no arc, they are recomputed from the tree
  by compensated sums (TwoSum: each potential the double nearest to its exact path sum,
  however deep the tree) and one full pass prices every arc against its own threshold
  (8 ulps of |C_ij| + |pi_s| + |pi_t|): the simplex stops only when that pass finds
  nothing, so the returned duals are exactly the ones checked, and an arc below the
  threshold truly improves (so ties cannot make two arcs enter in turn forever; pivots
  within the potentials' remaining rounding bound are still counted, and after MAX_TINY
  of them the threshold includes that bound).  Once that pass has found an arc, the
  block search goes on with the same thresholds on potentials recomputed after every
  pivot, a block at a time (grids have many arcs a few ulps below it);
- at the end, M gets the smallest value that keeps the reduced costs between the two
  kinds of subtrees non-negative (one O(nm) pass), which gives finite duals, and the duals
  are centred (a.u = b.v); both are shifts of the real parts of the artificial costs (free
  once no flow is left on them), after which the potentials are recomputed at their final
  size and every arc is priced again, so that the returned duals are feasible to a few ulps
  of their own magnitude (numeric M centres the potentials before each full pass, so its
  last one prices them at that scale too).

The tree and the pivot live in _simplex_tree.pxd, the driver (pricing, recentring) in
_simplex_driver.pxd, both shared with the sparse-arc solver (_sparse_simplex.pyx); the
dense pricing and the solver body (``dense_solve``) in _dense_simplex.pxd, shared with the
batch solver (_simplex_batch.pyx); this module is their Python entry point.

Reduced cost convention: rc(s -> t) = cost + pi_s - pi_t; the returned duals are
u_i = -pi_i and v_j = pi_{n + j}, so rc_ij = C_ij - u_i - v_j >= 0 at optimality.
"""
import numpy as np
from libc.stdint cimport int64_t

from ._dense_simplex cimport dense_solve
from ._simplex_tree cimport (
    STATUS_INFEASIBLE, STATUS_MAX_ITER_REACHED, STATUS_OPTIMAL, STATUS_UNBOUNDED, Tree,
    tree_alloc, tree_free,
)

INFEASIBLE = STATUS_INFEASIBLE
OPTIMAL = STATUS_OPTIMAL
UNBOUNDED = STATUS_UNBOUNDED
MAX_ITER_REACHED = STATUS_MAX_ITER_REACHED


def network_simplex(const double[::1] a, const double[::1] b, const double[:, ::1] C,
                    int64_t max_iter, const double[::1] u_init=None,
                    const double[::1] v_init=None, double block_factor=1.0, symbolic=None,
                    double peak=-1.0, double total=-1.0):
    """Solve the balanced transportation problem by the primal network simplex.

    Parameters
    ----------
    a : (n,) float64, positive entries (zeros are allowed: their nodes hang from the root
        by arcs pointing away from it, as the strongly feasible tree asks; emd removes them)
    b : (m,) float64, positive entries (zeros allowed), same total as ``a`` up to rounding
    C : (n, m) float64, C-contiguous, finite, max |C| below 2**512 (the caller rescales)
        and warm start below 2**900
    max_iter : int
        Maximum number of pivots.
    u_init, v_init : (n,), (m,) float64, optional
        Dual potentials used to price the initial artificial tree (warm start): the real
        parts of the artificial costs.  They change the path, never the optimum.
    block_factor : float
        Block size of the pricing, as a multiple of sqrt(n * m).
    symbolic : bool or None
        Big-M symbolic (exact on any cost range, ~40% slower) or numeric (M = max|C| +
        2 max|warm start| inside the potentials: their rounding is at that scale).  None
        picks symbolic when max|C| + 2 max|warm| > WIDE_RANGE mean|C|.
    peak, total : float
        max|C| and the sum of |C| if the caller has them (negative: computed here).

    Returns
    -------
    rows, cols : int64 arrays
        Indices of the basic arcs that carry flow.
    flows : float64 array
        Their flows.
    u, v : float64 arrays
        Dual potentials, C_ij - u_i - v_j >= 0 at optimality, centred: a.u = b.v.
    status : int
        OPTIMAL, MAX_ITER_REACHED (see module constants).
    n_iter : int
        Number of pivots.
    artificial_flow : float
        Total flow left on the artificial arcs (0 up to rounding when optimal).
    symbolic : bool
        The mode used (numeric duals are not centred: the caller centres them).
    """
    cdef int n = a.shape[0], m = b.shape[0], i, j, x
    cdef int n_nodes = n + m + 1
    cdef int64_t n_iter = 0
    cdef double artificial_flow = 0.0
    cdef int mode = -1 if symbolic is None else (1 if symbolic else 0)
    cdef int status
    cdef bint has_u = u_init is not None, has_v = v_init is not None
    cdef const double *u_ptr = NULL
    cdef const double *v_ptr = NULL
    cdef Tree T
    if C.shape[0] != n or C.shape[1] != m:
        raise ValueError("C must have shape (a.size, b.size)")
    if n == 0 or m == 0:
        raise ValueError("empty problem")
    if (has_u and u_init.shape[0] != n) or (has_v and v_init.shape[0] != m):
        raise ValueError("u_init, v_init must have shapes (a.size,), (b.size,)")
    if has_u:
        u_ptr = &u_init[0]
    if has_v:
        v_ptr = &v_init[0]
    if not tree_alloc(&T, n, m):
        raise MemoryError("network simplex: cannot allocate the tree of %d nodes" % n_nodes)
    with nogil:
        # Optimal, then M at its smallest feasible value and the duals centred (a.u = b.v).
        status = dense_solve(&T, &a[0], &b[0], &C[0, 0], max_iter, u_ptr, v_ptr,
                             block_factor, mode, peak, total, &n_iter, &artificial_flow)

    rows = np.empty(n + m, dtype=np.int64)
    cols = np.empty(n + m, dtype=np.int64)
    flows = np.empty(n + m, dtype=np.float64)
    u = np.empty(n, dtype=np.float64)
    v = np.empty(m, dtype=np.float64)
    cdef int64_t[::1] rows_v = rows, cols_v = cols
    cdef double[::1] flows_v = flows, u_v = u, v_v = v
    cdef int k = 0
    for x in range(n + m):
        if T.arc[x] >= 0 and T.flow[x] > 0.0:
            rows_v[k] = T.arc[x] // m
            cols_v[k] = T.arc[x] % m
            flows_v[k] = T.flow[x]
            k += 1
    for i in range(n):
        u_v[i] = -T.pi[i]
    for j in range(m):
        v_v[j] = T.pi[n + j]
    tree_free(&T)
    return rows[:k], cols[:k], flows[:k], u, v, status, n_iter, artificial_flow, bool(T.symbolic)

