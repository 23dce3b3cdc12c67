# cython: language_level=3
#
# Dense pricing and driver of otkit's network simplex (arcs i * m + j of the complete
# bipartite graph, costs C row-major), for the one-problem solver (_network_simplex.pyx,
# whose module-level copies of the pricing and of the body of ``network_simplex`` these
# are: ``dense_solve`` is that body without its Python) and the batch solver of many small
# problems (_simplex_batch.pyx).  Everything here is `cdef inline`, compiled into each
# module that cimports it.  The algorithm is described in _network_simplex.pyx's module
# docstring; the tree and the pivot live in _simplex_tree.pxd.
from libc.math cimport sqrt, fabs, INFINITY
from libc.stdint cimport int64_t

from ._simplex_driver cimport solve_and_recentre
from ._simplex_tree cimport (
    ABS_TOL, REL_TOL, Tree, block_candidate, exact_candidate, symbolic_w,
    tree_artificial_flow, tree_bind, tree_init,
)

# Numeric M (faster) unless M + 2 max|warm start| exceeds this many times the mean |C|: its
# rounding, at the scale of M, would then swamp the tolerance of typical arcs.
cdef extern from *:
    """
    #define OTKIT_WIDE_RANGE 1024.0
    """
    const double WIDE_RANGE "OTKIT_WIDE_RANGE"

cdef extern from "_pricing.h" nogil:
    enum: OTKIT_CHUNK
    void otkit_segment_min(const double *cost, const double *pi_sink, double pi_source,
                           const double *big_sink, double big_source, int64_t length,
                           double *best, int64_t *where)
    int64_t otkit_segment_argmin(const double *cost, const double *pi_sink, double pi_source,
                                 const double *big_sink, double big_source, int64_t length)
    int64_t otkit_row_min_margin(const double *cost, const double *pi_sink, double pi_source,
                                 const double *big_sink, double big_source,
                                 const double *err_sink, double err_source, double err_weight,
                                 int64_t length, double rel_tol, double abs_tol, double *best)
    void otkit_abs_max_sum(const double *x, int64_t length, double *peak, double *total)
    double otkit_dual_margin(const double *cost, int64_t n, int64_t m, int64_t ld,
                             const double *u, const double *v, double rel, double floor_,
                             int64_t *row)


cdef inline int64_t dense_block_pricing(Tree *T, int64_t block_size, int64_t *cursor,
                                       double *entering_rc, double *entering_big) noexcept nogil:
    """Block-search pricing: most negative reduced cost in the first block that has one
    below the threshold.

    Blocks are scanned segment by segment (a segment stays within one row) by a vectorized
    minimum that also reports which chunk of the segment holds it.  Returns -2 when the best
    arc is a tree arc whose reduced cost drifted below the threshold through rounding of
    the potentials (the caller then recomputes them exactly).  The reduced cost of the
    entering arc is returned in two parts: real (``entering_rc``) and symbolic
    (``entering_big``, 0 or +-2W).
    """
    cdef int n = T.n, m = T.m, i, j, seg, best_i = -1, best_j = 0, chunk_len
    cdef int64_t n_arcs = <int64_t> n * m, scanned = 0, in_block = 0, base, arc
    cdef int64_t where = 0, best_start = 0, found
    cdef double best = 0.0, previous
    cdef const double *C = T.cost
    cdef const double *pi_sink = T.pi + n
    cdef const double *big_sink = T.big + n if T.symbolic else NULL
    i = <int> (cursor[0] // m)
    j = <int> (cursor[0] % m)
    while scanned < n_arcs:
        seg = m - j
        if seg > block_size - in_block:
            seg = <int> (block_size - in_block)
        if seg > n_arcs - scanned:
            seg = <int> (n_arcs - scanned)
        base = <int64_t> i * m + j
        previous = best
        otkit_segment_min(C + base, pi_sink + j, T.pi[i], big_sink + j if T.symbolic else NULL,
                          T.big[i], seg, &best, &where)
        if best < previous:
            best_i = i
            best_j = j
            best_start = where
            chunk_len = seg - <int> where
            if chunk_len > OTKIT_CHUNK:
                chunk_len = OTKIT_CHUNK
        scanned += seg
        in_block += seg
        j += seg
        if j == m:
            j = 0
            i += 1
            if i == n:
                i = 0
        if in_block == block_size or scanned == n_arcs:
            in_block = 0
            if best_i >= 0:
                base = <int64_t> best_i * m + best_j + best_start
                arc = base + otkit_segment_argmin(C + base, pi_sink + best_j + best_start,
                                                  T.pi[best_i],
                                                  big_sink + best_j + best_start
                                                  if T.symbolic else NULL,
                                                  T.big[best_i], chunk_len)
                found = block_candidate(T, arc, best, cursor, <int64_t> i * m + j,
                                        entering_rc, entering_big)
                if found != -1:
                    return found
    return -1


cdef inline int64_t dense_exact_pricing(Tree *T, double *entering_rc,
                                       double *entering_big) noexcept nogil:
    """Full pricing pass with a per-arc threshold: the arc whose reduced cost is furthest
    below -(REL_TOL (|C_ij| + |pi_s| + |pi_t|) + ABS_TOL), -1 if none (optimal), -2 if that
    arc is a tree arc (see exact_candidate)."""
    cdef int n = T.n, m = T.m, i, best_i = -1
    cdef int64_t k, best_k = -1
    cdef double best = 0.0
    cdef const double *C = T.cost
    for i in range(n):
        k = otkit_row_min_margin(C + <int64_t> i * m, T.pi + n, T.pi[i],
                                 T.big + n if T.symbolic else NULL, T.big[i],
                                 T.err + n, T.err[i], T.err_weight, m, REL_TOL, ABS_TOL, &best)
        if k >= 0:
            best_i = i
            best_k = k
    if best_i < 0:
        return -1
    return exact_candidate(T, <int64_t> best_i * m + best_k, entering_rc, entering_big)

cdef inline double dense_cross_bound(Tree *T) noexcept nogil:
    """Smallest M keeping C_ij + pi_i - pi_j + 2M >= 0 over the pairs (source under +W,
    sink under -W); 0 if there is none (one O(nm) pass)."""
    cdef int n = T.n, m = T.m, i, j
    cdef double worst = -INFINITY, shift
    cdef bint any_pair = False
    cdef const double *Cp = T.cost
    for i in range(n):
        if T.big[i] > 0.0:
            for j in range(m):
                if T.big[n + j] < 0.0:
                    any_pair = True
                    shift = -0.5 * (Cp[<int64_t> i * m + j] + T.pi[i] - T.pi[n + j])
                    if shift > worst:
                        worst = shift
    return worst if any_pair else 0.0


cdef inline int64_t dense_prepare(Tree *T, const double *C, const double *u_init,
                                  const double *v_init, double block_factor, int mode,
                                  double peak, double total, double *art) noexcept nogil:
    """Bind the T.n x T.m costs C (row-major) to an allocated tree and choose the big-M mode:
    ``mode`` 1 symbolic, 0 numeric, -1 chosen from the cost range ``peak`` = max|C| and
    ``total`` = sum|C| (computed here when negative) and from the warm start ``u_init``,
    ``v_init`` (either may be NULL).  ``art`` gets the real part of the artificial costs;
    returns the block size of the pricing (block_factor sqrt(n m), at least 10)."""
    cdef int n = T.n, m = T.m, i, j
    cdef int64_t n_arcs = <int64_t> n * m, block_size
    cdef double bound, warm = 0.0
    block_size = <int64_t> (block_factor * sqrt(<double> n_arcs))
    if block_size < 10:
        block_size = 10
    if block_size > n_arcs:
        block_size = n_arcs
    tree_bind(T, n_arcs, C, NULL, NULL, dense_block_pricing, dense_exact_pricing,
              dense_cross_bound)
    if peak < 0.0 or total < 0.0:
        otkit_abs_max_sum(C, n_arcs, &peak, &total)
    bound = peak
    bound *= n + m + 2
    if u_init != NULL:
        for i in range(n):
            if fabs(u_init[i]) > warm:
                warm = fabs(u_init[i])
    if v_init != NULL:
        for j in range(m):
            if fabs(v_init[j]) > warm:
                warm = fabs(v_init[j])
    if mode == -1:
        mode = bound / (n + m + 2) + 2.0 * warm > WIDE_RANGE * (total / n_arcs)
    T.symbolic = mode == 1
    art[0] = 0.0
    if T.symbolic:
        T.W = symbolic_w(bound + warm)
    else:
        # Numeric M (the artificial arcs' cost): a unit routed source -> root -> sink costs
        # 2 art, a direct arc at most max|C - u0 - v0|, so no optimal basis keeps artificial
        # flow; the potentials carry +-art, rounded at that scale.
        T.W = 0.0
        art[0] = bound / (n + m + 2) + 2.0 * warm
        if art[0] == 0.0:
            art[0] = 1.0
    return block_size


cdef inline int dense_solve(Tree *T, const double *a, const double *b, const double *C,
                            int64_t max_iter, const double *u_init, const double *v_init,
                            double block_factor, int mode, double peak, double total,
                            int64_t *n_iter, double *artificial_flow) noexcept nogil:
    """Solve the dense problem of the T.n x T.m costs C from the strongly feasible
    artificial tree (``tree_init``): ``network_simplex`` without its Python (see
    ``dense_prepare`` for the arguments).  Pivots to optimality, then M at its smallest
    feasible value and the duals centred.  Returns the status; ``n_iter`` gets the number
    of pivots and ``artificial_flow`` the flow left on the artificial arcs."""
    cdef int64_t cursor = 0, block_size
    cdef double art
    cdef int status
    block_size = dense_prepare(T, C, u_init, v_init, block_factor, mode, peak, total, &art)
    tree_init(T, a, b, art, u_init, v_init)
    n_iter[0] = 0
    status = solve_and_recentre(T, block_size, &cursor, max_iter, n_iter, a, b, INFINITY)
    artificial_flow[0] = tree_artificial_flow(T)
    return status
