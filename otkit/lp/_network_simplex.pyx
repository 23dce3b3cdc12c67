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

- the tree is held as parent / first-child / sibling links with node depths, so the pivot
  cycle is found by climbing to the apex and the moved subtree is walked without a stack;
- strongly feasible initial tree through the artificial root, and Cunningham's leaving-arc
  rule (last blocking arc from the apex), which excludes cycling;
- block-search pricing over the row-major arc order with a rotating start, vectorized (tree
  arcs are not masked: their reduced cost is zero up to rounding, above the threshold);
- potentials are shifted on the moved subtree only, then recomputed exactly from the final
  tree so that the returned duals carry no accumulated rounding.

Reduced cost convention: rc(s -> t) = cost + pi_s - pi_t; the returned duals are
u_i = -pi_i and v_j = pi_{n + j}, so rc_ij = C_ij - u_i - v_j >= 0 at optimality.
"""
import numpy as np
from libc.math cimport sqrt, fabs, INFINITY
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

# Result codes, numbered as POT's (so scripts testing ``log["result_code"]`` keep working).
cdef enum:
    STATUS_INFEASIBLE = 0
    STATUS_OPTIMAL = 1
    STATUS_UNBOUNDED = 2
    STATUS_MAX_ITER_REACHED = 3

INFEASIBLE = STATUS_INFEASIBLE
OPTIMAL = STATUS_OPTIMAL
UNBOUNDED = STATUS_UNBOUNDED
MAX_ITER_REACHED = STATUS_MAX_ITER_REACHED

cdef double REL_TOL = 1e-13   # relative tolerance on reduced costs of entering arcs


cdef struct Tree:
    int n, m, n_nodes, root
    int *parent
    int *first_child
    int *next_sibling
    int *prev_sibling
    int *depth
    int64_t *arc          # arc to the parent: i * m + j for real arcs, -1 for artificial
    uint8_t *up           # 1 if the arc points from the node to its parent
    double *flow          # flow on the arc to the parent
    double *pi            # node potentials
    double *art_cost      # cost of each node's artificial arc to the root


cdef inline void _unlink(Tree *T, int x) noexcept nogil:
    cdef int p = T.prev_sibling[x], nx = T.next_sibling[x]
    if p != -1:
        T.next_sibling[p] = nx
    else:
        T.first_child[T.parent[x]] = nx
    if nx != -1:
        T.prev_sibling[nx] = p


cdef inline void _link(Tree *T, int par, int x) noexcept nogil:
    cdef int first = T.first_child[par]
    T.parent[x] = par
    T.prev_sibling[x] = -1
    T.next_sibling[x] = first
    if first != -1:
        T.prev_sibling[first] = x
    T.first_child[par] = x


cdef inline double _tree_arc_cost(Tree *T, const double *C, int x) noexcept nogil:
    if T.arc[x] >= 0:
        return C[T.arc[x]]
    return T.art_cost[x]


cdef void _recompute_potentials(Tree *T, const double *C) noexcept nogil:
    """Exact potentials from the tree: pi_root = 0 and rc = 0 on every tree arc."""
    cdef int root = T.root, x = T.first_child[root], par
    cdef double c
    if x == -1:
        return
    while True:
        par = T.parent[x]
        c = _tree_arc_cost(T, C, x)
        T.pi[x] = T.pi[par] - c if T.up[x] else T.pi[par] + c
        T.depth[x] = T.depth[par] + 1
        if T.first_child[x] != -1:
            x = T.first_child[x]
            continue
        while x != root and T.next_sibling[x] == -1:
            x = T.parent[x]
        if x == root:
            return
        x = T.next_sibling[x]


cdef extern from "_pricing.h" nogil:
    enum: OTKIT_CHUNK
    void otkit_segment_min(const double *cost, const double *pi_sink, double pi_source,
                           int64_t length, double *best, int64_t *where)
    int64_t otkit_segment_argmin(const double *cost, const double *pi_sink, double pi_source,
                                 int64_t length)


cdef inline bint _is_tree_arc(Tree *T, int64_t arc, int s, int t) noexcept nogil:
    return (T.parent[s] == t and T.arc[s] == arc) or (T.parent[t] == s and T.arc[t] == arc)


cdef int64_t _find_entering_arc(Tree *T, const double *C, int64_t block_size,
                                int64_t *cursor, double *entering_rc) noexcept nogil:
    """Block-search pricing: most negative reduced cost in the first block that has one
    below the threshold.

    Blocks are scanned segment by segment (a segment stays within one row) by a vectorized
    minimum that also reports which chunk of the segment holds it.  Returns -2 when the best
    arc is a tree arc whose reduced cost drifted below the threshold through rounding of
    the potentials (the caller then recomputes them exactly).
    """
    cdef int n = T.n, m = T.m, i, j, seg, best_i = -1, best_j = 0, chunk_len
    cdef int64_t n_arcs = <int64_t> n * m, scanned = 0, in_block = 0, base, arc
    cdef int64_t where = 0, best_start = 0
    cdef double best = 0.0, previous, tol
    cdef const double *pi_sink = T.pi + n
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
        otkit_segment_min(C + base, pi_sink + j, T.pi[i], seg, &best, &where)
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
                                                  T.pi[best_i], chunk_len)
                tol = REL_TOL * (fabs(C[arc]) + fabs(T.pi[best_i])
                                 + fabs(pi_sink[arc - <int64_t> best_i * m]))
                if best < -tol:
                    if _is_tree_arc(T, arc, best_i, n + <int> (arc - <int64_t> best_i * m)):
                        return -2
                    cursor[0] = <int64_t> i * m + j
                    entering_rc[0] = best
                    return arc
    return -1


cdef void _pivot(Tree *T, int64_t e_in, double rc_in) noexcept nogil:
    """Push flow around the cycle closed by arc e_in and update the tree."""
    cdef int m = T.m
    cdef int s = <int> (e_in // m), t = T.n + <int> (e_in % m)
    cdef int x, y, apex, out_node = -1, q, r, prev, nxt, old_up
    cdef bint out_on_source_side = False, carry_up
    cdef double delta = INFINITY, sigma, carry_flow, old_flow
    cdef int64_t carry_arc, old_arc
    # Apex of the cycle: lowest common ancestor of s and t.
    x = s
    y = t
    while x != y:
        if T.depth[x] > T.depth[y]:
            x = T.parent[x]
        elif T.depth[y] > T.depth[x]:
            y = T.parent[y]
        else:
            x = T.parent[x]
            y = T.parent[y]
    apex = x
    # Cycle orientation: apex -> ... -> s -> t -> ... -> apex.  Blocking arcs are the
    # backward ones; the leaving arc is the last blocking arc met from the apex on.
    x = s
    while x != apex:
        if T.up[x] and T.flow[x] < delta:
            delta = T.flow[x]
            out_node = x
            out_on_source_side = True
        x = T.parent[x]
    x = t
    while x != apex:
        if not T.up[x] and T.flow[x] <= delta:
            delta = T.flow[x]
            out_node = x
            out_on_source_side = False
        x = T.parent[x]
    if delta > 0.0:
        x = s
        while x != apex:
            T.flow[x] += -delta if T.up[x] else delta
            x = T.parent[x]
        x = t
        while x != apex:
            T.flow[x] += delta if T.up[x] else -delta
            x = T.parent[x]
    # The subtree under the leaving arc is re-hung from the entering arc: reverse the stem
    # from q (the entering endpoint inside it) up to out_node.
    if out_on_source_side:
        q = s
        r = t
    else:
        q = t
        r = s
    carry_arc = e_in
    carry_up = q == s
    carry_flow = delta
    prev = r
    x = q
    while True:
        nxt = T.parent[x]
        old_arc = T.arc[x]
        old_up = T.up[x]
        old_flow = T.flow[x]
        _unlink(T, x)
        _link(T, prev, x)
        T.arc[x] = carry_arc
        T.up[x] = carry_up
        T.flow[x] = carry_flow
        if x == out_node:
            break
        carry_arc = old_arc
        carry_up = not old_up
        carry_flow = old_flow
        prev = x
        x = nxt
    # Shift potentials on the moved subtree so that the entering arc gets rc = 0, and
    # refresh depths (the stem reversal changes them non-uniformly).
    sigma = rc_in if q == t else -rc_in
    T.pi[q] += sigma
    T.depth[q] = T.depth[r] + 1
    x = q
    while True:
        if T.first_child[x] != -1:
            x = T.first_child[x]
        else:
            while x != q and T.next_sibling[x] == -1:
                x = T.parent[x]
            if x == q:
                break
            x = T.next_sibling[x]
        T.pi[x] += sigma
        T.depth[x] = T.depth[T.parent[x]] + 1


def network_simplex(const double[::1] a, const double[::1] b, const double[:, ::1] C,
                    int64_t max_iter, const double[::1] u_init=None,
                    const double[::1] v_init=None, double block_factor=1.0):
    """Solve the balanced transportation problem by the primal network simplex.

    Parameters
    ----------
    a : (n,) float64, positive entries
    b : (m,) float64, positive entries, same total as ``a`` up to rounding
    C : (n, m) float64, C-contiguous, finite
    max_iter : int
        Maximum number of pivots.
    u_init, v_init : (n,), (m,) float64, optional
        Dual potentials used to price the initial artificial tree (warm start).
    block_factor : float
        Block size of the pricing, as a multiple of sqrt(n * m).

    Returns
    -------
    rows, cols : int64 arrays
        Indices of the basic arcs that carry flow.
    flows : float64 array
        Their flows.
    u, v : float64 arrays
        Optimal dual potentials, C_ij - u_i - v_j >= 0.
    status : int
        OPTIMAL, MAX_ITER_REACHED (see module constants).
    n_iter : int
        Number of pivots.
    """
    cdef int n = a.shape[0], m = b.shape[0], i, j, x
    cdef int n_nodes = n + m + 1
    cdef int64_t n_arcs = <int64_t> n * m, n_iter = 0, e_in, cursor = 0, block_size
    cdef int64_t n_recomputed = 0
    cdef double rc_in, art, scale = 0.0, shift_scale = 0.0
    cdef int status
    cdef bint has_u = u_init is not None, has_v = v_init is not None
    cdef Tree T
    cdef const double *Cp
    if C.shape[0] != n or C.shape[1] != m:
        raise ValueError("C must have shape (a.size, b.size)")
    if n == 0 or m == 0:
        raise ValueError("empty problem")
    Cp = &C[0, 0]
    block_size = <int64_t> (block_factor * sqrt(<double> n_arcs))
    if block_size < 10:
        block_size = 10
    if block_size > n_arcs:
        block_size = n_arcs

    T.n = n
    T.m = m
    T.n_nodes = n_nodes
    T.root = n + m
    T.parent = <int *> malloc(n_nodes * sizeof(int))
    T.first_child = <int *> malloc(n_nodes * sizeof(int))
    T.next_sibling = <int *> malloc(n_nodes * sizeof(int))
    T.prev_sibling = <int *> malloc(n_nodes * sizeof(int))
    T.depth = <int *> malloc(n_nodes * sizeof(int))
    T.arc = <int64_t *> malloc(n_nodes * sizeof(int64_t))
    T.up = <uint8_t *> malloc(n_nodes * sizeof(uint8_t))
    T.flow = <double *> malloc(n_nodes * sizeof(double))
    T.pi = <double *> malloc(n_nodes * sizeof(double))
    T.art_cost = <double *> malloc(n_nodes * sizeof(double))
    if (T.parent == NULL or T.first_child == NULL or T.next_sibling == NULL
            or T.prev_sibling == NULL or T.depth == NULL or T.arc == NULL or T.up == NULL
            or T.flow == NULL or T.pi == NULL or T.art_cost == NULL):
        _free_tree(&T)
        raise MemoryError("network simplex: cannot allocate the tree of %d nodes" % n_nodes)

    with nogil:
        # A unit of flow routed source -> root -> sink costs 2 * art; the direct arc costs at
        # most max|C - u0 - v0|, so art above that bound makes every optimal basis free of
        # artificial flow.  (General min-cost flow needs (n + m) max|C| because paths can be
        # long; in a complete bipartite graph every source-sink pair has its own arc.)  A
        # small art keeps the potentials, and so their rounding errors, at the scale of C.
        for x in range(n_arcs):
            if fabs(Cp[x]) > scale:
                scale = fabs(Cp[x])
        if has_u:
            for i in range(n):
                if fabs(u_init[i]) > shift_scale:
                    shift_scale = fabs(u_init[i])
        if has_v:
            for j in range(m):
                if fabs(v_init[j]) > shift_scale:
                    shift_scale = fabs(v_init[j])
        scale = scale + 2.0 * shift_scale
        if scale == 0.0:
            scale = 1.0
        art = scale
        # Strongly feasible start: sources send their supply to the root, the root feeds
        # every sink; all these arcs carry positive flow.
        for x in range(n_nodes):
            T.first_child[x] = -1
            T.next_sibling[x] = -1
            T.prev_sibling[x] = -1
        T.parent[T.root] = -1
        T.depth[T.root] = 0
        T.pi[T.root] = 0.0
        T.arc[T.root] = -1
        T.flow[T.root] = 0.0
        T.up[T.root] = 0
        T.art_cost[T.root] = 0.0
        for x in range(n_nodes - 2, -1, -1):
            _link(&T, T.root, x)
            T.depth[x] = 1
            T.arc[x] = -1
            if x < n:
                T.up[x] = 1
                T.flow[x] = a[x]
                T.art_cost[x] = art + (u_init[x] if has_u else 0.0)
                T.pi[x] = -T.art_cost[x]
            else:
                T.up[x] = 0
                T.flow[x] = b[x - n]
                T.art_cost[x] = art + (v_init[x - n] if has_v else 0.0)
                T.pi[x] = T.art_cost[x]

        status = STATUS_OPTIMAL
        while True:
            e_in = _find_entering_arc(&T, Cp, block_size, &cursor, &rc_in)
            if e_in == -2:
                # Exact potentials give tree arcs |rc| of a few ulps, so this cannot repeat.
                _recompute_potentials(&T, Cp)
                n_recomputed += 1
                continue
            if e_in < 0:
                break
            if n_iter >= max_iter:
                status = STATUS_MAX_ITER_REACHED
                break
            _pivot(&T, e_in, rc_in)
            n_iter += 1
        _recompute_potentials(&T, Cp)

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
    _free_tree(&T)
    return rows[:k], cols[:k], flows[:k], u, v, status, n_iter


cdef void _free_tree(Tree *T) noexcept:
    free(T.parent)
    free(T.first_child)
    free(T.next_sibling)
    free(T.prev_sibling)
    free(T.depth)
    free(T.arc)
    free(T.up)
    free(T.flow)
    free(T.pi)
    free(T.art_cost)
