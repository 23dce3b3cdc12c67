# cython: language_level=3
#
# The pivot and driver of the batch solver of many small dense problems (_simplex_batch.pyx)
# in numeric big-M mode: those of _simplex_tree.pxd and _simplex_driver.pxd, the same pivots
# in the same order (the same trees and flows), without the node depths.  The shared pivot
# finds the apex of the cycle by depths and must then refresh them over the whole moved
# subtree (non-uniformly: the stem is reversed); here the apex is found by walking up from
# both ends in turn, each walk stamping its nodes, until one meets the other's stamp.  On
# 8 x 8 digits (s and t ~7 deep, the apex ~3, ~18 nodes moved a pivot) that saved ~1 k
# instructions a pair, and the driver ~2.8 k more (one recomputation of the potentials less
# before the exact pass).  Symbolic mode keeps the shared pivot and driver.  Also here: the
# start's root and plain potentials, and the batch's row search: in general (symbolic mode)
# and in numeric mode (its compiled loops over the rows, _pairs_pricing.h), and exact pass.
# Tried: s's whole path to the root marked and both paths kept in arrays (+2 k a pair: the
# walk to the root cost more than the depths it saved), the ratio test fused into the depth
# walk (+2 k), the tree's arrays in locals in the pivot (+1.1 k, spills).
cimport cython
from libc.math cimport fabs
from libc.stdint cimport int64_t

from ._dense_simplex cimport (
    OTKIT_CHUNK, dense_exact_pricing, otkit_segment_argmin, otkit_segment_min,
)
from ._simplex_driver cimport count_tiny_pivot, recentre, search_blocks
from ._simplex_tree cimport (
    ABS_TOL, BLOCK_TOL, MAX_TINY, REL_TOL, STATUS_MAX_ITER_REACHED, STATUS_OPTIMAL, Tree,
    block_candidate, exact_candidate, push_around_cycle, recompute_potentials,
    rehang_subtree,
)

cdef extern from "_pairs_pricing.h" nogil:
    int otkit_rows_below(const double *cost, const double *pi_source, const double *pi_sink,
                         int n, int m, int row, int count, int rows, double *best, int *at,
                         int *where)
    int64_t otkit_rows_min_margin(const double *cost, const double *pi_source,
                                  const double *pi_sink, int n, int m, double rel_tol,
                                  double abs_tol)


cdef struct PairTree:
    # The tree (first: a Tree * to it is a PairTree *), and what the exact pass proved.
    Tree tree
    # The last exact pass found every margin rc_ij + REL_TOL (|C_ij| + |pi_i| + |pi_j|) +
    # ABS_TOL >= 0 (numeric mode, err_weight 0): see pair_certified (_pairs_certificate.pxd).
    bint proven


@cython.cdivision(True)
cdef inline void pairs_pivot(Tree *T, int64_t e_in, double rc_in, int *mark,
                             int stamp) noexcept nogil:
    """_simplex_tree.pxd's ``pivot`` in numeric mode (dense arcs), without depths (left
    stale).  ``mark``: an int per node, none equal to ``stamp`` or ``stamp + 1`` before
    this call (the caller gives each pivot its own pair of stamps)."""
    cdef int s = <int> (e_in // T.m), t = T.n + <int> (e_in % T.m)
    cdef int x, y, apex, out_node, q, r, tail, s_mark = stamp, t_mark = stamp + 1
    cdef bint out_on_source_side
    cdef double delta, sigma
    # Apex: up from s and from t in turn (a walk at the root waits there), each stamping
    # its nodes, until one reaches a node the other has stamped (or the other's node).
    x = s
    y = t
    while True:
        if mark[x] == t_mark or x == y:
            apex = x
            break
        mark[x] = s_mark
        if T.parent[x] != -1:
            x = T.parent[x]
        if mark[y] == s_mark:
            apex = y
            break
        mark[y] = t_mark
        if T.parent[y] != -1:
            y = T.parent[y]
    # Cycle apex -> ... -> s -> t -> ... -> apex, the stem reversed and the subtree re-hung
    # from r: as in ``pivot``.
    out_node = push_around_cycle(T, s, t, apex, &delta, &out_on_source_side)
    if out_on_source_side:
        q = s
        r = t
    else:
        q = t
        r = s
    tail = rehang_subtree(T, e_in, q, r, out_node, out_on_source_side, delta)
    # The moved subtree (q .. tail in the thread) shifted so that the entering arc has rc 0.
    sigma = rc_in if q == t else -rc_in
    x = q
    while True:
        T.pi[x] += sigma
        if x == tail:
            break
        x = T.thread[x]


@cython.cdivision(True)
cdef inline int pairs_solve(Tree *T, int64_t block_size, int64_t *cursor, int64_t max_iter,
                            int64_t *n_iter, const double *a, const double *b,
                            int *mark) noexcept nogil:
    """_simplex_driver.pxd's ``solve_and_recentre`` in numeric mode (``run_simplex`` from
    a fresh tree; no recentring rounds after it), pivoting with ``pairs_pivot``.  One
    change: before an exact pass the potentials are centred from the pivots' potentials,
    then recomputed once (not recomputed, centred and recomputed: the centre only moves
    them all alike, and the exact pass prices the recomputed ones).  ``mark``: n + m + 1
    ints, all below 1."""
    cdef int64_t e_in, travelled = 0
    cdef double rc_in = 0.0, big_in = 0.0
    cdef bint exact = False, checked, fresh = True
    cdef int status
    T.supply = a
    T.demand = b
    T.fine = False
    while True:
        if exact:
            if recentre(T, a, b) or not fresh:
                recompute_potentials(T)
                fresh = True
            e_in = T.exact_pricing(T, &rc_in, &big_in)
            exact = False
            checked = True
            if e_in < 0:
                status = STATUS_OPTIMAL
                break
        else:
            if T.fine and not fresh:
                recompute_potentials(T)
                fresh = True
            checked = T.fine
            e_in = search_blocks(T, block_size, cursor, &rc_in, &big_in, &travelled)
            if e_in == -3:
                continue
            if e_in == -1 or (e_in == -2 and fresh):
                exact = True
                continue
            if e_in == -2:
                recompute_potentials(T)
                fresh = True
                continue
        if n_iter[0] >= max_iter:
            recompute_potentials(T)
            status = STATUS_MAX_ITER_REACHED
            break
        if checked:
            count_tiny_pivot(T, e_in, <int> (e_in // T.m), T.n + <int> (e_in % T.m), rc_in,
                             MAX_TINY)
            T.fine = True
        n_iter[0] += 1
        pairs_pivot(T, e_in, rc_in, mark, <int> (2 * n_iter[0]))
        fresh = False
    T.fine = False
    T.supply = NULL
    T.demand = NULL
    return status


cdef inline void start_potentials(Tree *T) noexcept nogil:
    """_simplex_tree.pxd's ``recompute_potentials`` without its compensated sums (pi_x =
    pi_parent -+ c, rounded at each step; err and lo 0), for the crash's start (either
    mode; depths set): the block search only needs potentials to a few ulps, and the exact
    pass, which decides the end, runs on recomputed ones (on 8 x 8 digits, ~32
    instructions a node against ~43)."""
    cdef int root = T.root, x = T.thread[root], par
    while x != root:
        par = T.parent[x]
        if T.arc[x] >= 0:
            T.pi[x] = T.pi[par] + (-T.cost[T.arc[x]] if T.up[x] else T.cost[T.arc[x]])
        else:
            T.pi[x] = T.pi[par] + (-T.art_cost[x] if T.up[x] else T.art_cost[x])
        T.lo[x] = 0.0
        T.err[x] = 0.0
        if par == root:
            T.big[x] = -T.W if T.up[x] else T.W
        else:
            T.big[x] = T.big[par]
        T.depth[x] = T.depth[par] + 1
        x = T.thread[x]


cdef inline void start_tree(Tree *T, double art) noexcept nogil:
    """A crash's tree (arcs, flows and thread written by _pairs_crash.h): the root's fields,
    the artificial arcs' cost ``art``, then the potentials (start_potentials)."""
    cdef int x, root = T.root
    T.parent[root] = -1
    T.depth[root] = 0
    T.pi[root] = 0.0
    T.lo[root] = 0.0
    T.err[root] = 0.0
    T.big[root] = 0.0
    T.arc[root] = -1
    T.flow[root] = 0.0
    T.up[root] = 0
    T.art_cost[root] = 0.0
    for x in range(root):
        T.art_cost[x] = art
    start_potentials(T)


cdef inline int64_t first_equal(const double *cost, const double *pi_sink, double pi_source,
                                const double *big_sink, double big_source, int64_t length,
                                double value) noexcept nogil:
    """The first arc of the chunk whose reduced cost is ``value``, the chunk's minimum as
    otkit_segment_min computed it (the same sums, so the same bits): otkit_segment_argmin's
    answer, without scanning the rest of the chunk."""
    cdef int64_t k
    cdef double rc
    for k in range(length):
        rc = cost[k] + pi_source - pi_sink[k]
        if big_sink != NULL:
            rc += big_source - big_sink[k]
        if rc == value:
            return k
    return otkit_segment_argmin(cost, pi_sink, pi_source, big_sink, big_source, length)


cdef inline int64_t rows_block_pricing(Tree *T, int64_t block_size, int64_t *cursor,
                                       double *entering_rc,
                                       double *entering_big) noexcept nogil:
    """_simplex_batch.pyx's _row_block_pricing in general: blocks of several rows, or
    symbolic mode."""
    cdef int n = T.n, m = T.m, rows = <int> ((block_size + m - 1) // m), t, i, best_i = -1
    cdef int start = <int> (cursor[0] // m), in_block = 0, length
    cdef int64_t where = 0, best_where = 0, base, arc, found
    cdef double best = 0.0, previous
    cdef const double *pi_sink = T.pi + n
    cdef const double *big_sink = T.big + n if T.symbolic else NULL
    for t in range(n):
        i = start + t
        if i >= n:
            i -= n
        previous = best
        otkit_segment_min(T.cost + <int64_t> i * m, pi_sink, T.pi[i], big_sink, T.big[i], m,
                          &best, &where)
        if best < previous:
            best_i = i
            best_where = where
        in_block += 1
        if (in_block == rows or t == n - 1) and best_i >= 0:
            in_block = 0
            base = <int64_t> best_i * m + best_where
            length = m - <int> best_where
            if length > OTKIT_CHUNK:
                length = OTKIT_CHUNK
            arc = base + first_equal(T.cost + base, pi_sink + best_where, T.pi[best_i],
                                      big_sink + best_where if T.symbolic else NULL,
                                      T.big[best_i], length, best)
            found = block_candidate(T, arc, best, cursor, <int64_t> ((i + 1) % n) * m,
                                    entering_rc, entering_big)
            if found != -1:
                return found
        elif in_block == rows:
            in_block = 0
    return -1


cdef inline int64_t pairs_block_pricing(Tree *T, int64_t block_size, int64_t *cursor,
                                        double *entering_rc,
                                        double *entering_big) noexcept nogil:
    """Block-search pricing in whole rows, for small problems: the dense pricing of
    _dense_simplex.pxd with blocks of ceil(block_size / m) rows, so that each row is one
    vectorized minimum and the bookkeeping is per row (the cursor is a row start).  In
    numeric mode the rows run in one compiled loop (_pairs_pricing.h), which stops only at
    the end of a block that lowers the running minimum (the same arcs, in the same order,
    as the general loop below, which serves symbolic mode)."""
    cdef int n = T.n, m = T.m, rows = <int> ((block_size + m - 1) // m), i, left = n, used
    cdef int at = 0, where = 0, t
    cdef int64_t arc
    cdef double best = 0.0, scale, tol
    if T.symbolic:
        return rows_block_pricing(T, block_size, cursor, entering_rc, entering_big)
    i = <int> (cursor[0] // m)
    while left > 0:
        used = otkit_rows_below(T.cost, T.pi, T.pi + n, n, m, i, left, rows, &best, &at,
                                &where)
        if used == 0:
            return -1
        left -= used
        i += used
        if i >= n:
            i -= n
        # block_candidate's verdict, numeric mode (no symbolic part: entering_big 0), on the
        # arc from source at to sink n + where, without dividing the arc index
        arc = <int64_t> at * m + where
        t = n + where
        scale = fabs(T.cost[arc]) + fabs(T.pi[at]) + fabs(T.pi[t])
        if T.fine:
            tol = REL_TOL * (scale + T.err_weight * (T.err[at] + T.err[t])) + ABS_TOL
        else:
            tol = BLOCK_TOL * scale + ABS_TOL
        if not best < -tol:
            if T.fine:
                cursor[0] = <int64_t> i * m
                return -3
            continue
        if (T.parent[at] == t and T.arc[at] == arc) or (T.parent[t] == at and T.arc[t] == arc):
            return -2
        cursor[0] = <int64_t> i * m
        entering_rc[0] = T.cost[arc] + T.pi[at] - T.pi[t]
        entering_big[0] = 0.0
        return arc
    return -1


cdef inline int64_t pairs_exact_pricing(Tree *T, double *entering_rc,
                                        double *entering_big) noexcept nogil:
    """The exact pass of _dense_simplex.pxd (dense_exact_pricing), in numeric mode with the
    thresholds at the arcs' own scale as one compiled loop over the rows (_pairs_pricing.h:
    the same arc)."""
    cdef int64_t arc
    (<PairTree *> T).proven = False
    if T.symbolic or T.err_weight != 0.0:
        return dense_exact_pricing(T, entering_rc, entering_big)
    arc = otkit_rows_min_margin(T.cost, T.pi, T.pi + T.n, T.n, T.m, REL_TOL, ABS_TOL)
    if arc < 0:
        (<PairTree *> T).proven = True
        return -1
    return exact_candidate(T, arc, entering_rc, entering_big)
