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
  ~450 ulps, for potentials that drift) finds no arc, they are recomputed exactly from the
  tree and one full pass prices every arc against its own threshold (8 ulps of
  |C_ij| + |pi_s| + |pi_t|): the simplex stops only when that pass finds nothing, so the
  returned duals are exactly the ones checked.  Pivots of that pass on reduced costs within
  the potentials' own rounding bound are counted, and after MAX_TINY of them the threshold
  includes that bound (otherwise ties can make two arcs enter in turn forever);
- at the end, M gets the smallest value that keeps the reduced costs between the two
  kinds of subtrees non-negative (one O(nm) pass), which gives finite duals, and the duals
  are centred (a.u = b.v); both are shifts of the real parts of the artificial costs (free
  once no flow is left on them), after which the potentials are recomputed at their final
  size and every arc is priced again, so that the returned duals are feasible to a few ulps
  of their own magnitude.

Reduced cost convention: rc(s -> t) = cost + pi_s - pi_t; the returned duals are
u_i = -pi_i and v_j = pi_{n + j}, so rc_ij = C_ij - u_i - v_j >= 0 at optimality.
"""
import numpy as np
from libc.math cimport sqrt, fabs, ldexp, ilogb, INFINITY
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

# The exact pass enters an arc when its reduced cost is below -REL_TOL (|C_ij| + |pi_s| +
# |pi_t|) (plus ABS_TOL, and the potentials' rounding bounds after MAX_TINY): the sum
# C + pi_s - pi_t is rounded three times and the tree potentials once more on recomputation,
# so a tie (true reduced cost 0) is below 4 ulps of that scale; 8 ulps leaves a factor 2.
cdef double REL_TOL = 8.0 * 2.220446049250313e-16
# Below the normal range rounding is absolute: 8 subnormal ulps.
cdef double ABS_TOL = 8.0 * 4.9406564584124654e-324
# Threshold of the block search on stale potentials (the pivots shift them, adding rounding):
# ~450 ulps, so that it neither chases rounding nor stops on tree arcs after most pivots.
cdef double BLOCK_TOL = 1e-13
cdef int64_t MAX_TINY = 50  # exact-pass pivots within rounding before its threshold widens
# The symbolic M: potentials carry +-W in `big`, W a power of two 2**20 times the bound
# R = (n + m + 2) max|C| + max|warm start| on the real parts (path sums of at most n + m
# costs from an artificial arc; the caller clips the warm start and rescales costs above
# 2**512, so W stays finite).  Then +-2W decides the sign and the order of every reduced cost
# whose big parts do not cancel, while the real part still orders arcs of the same sign to
# ~2**-32 R (an arc -2M + x is worth entering first when x is lowest: the warm start); sums
# such as -W + 2W stay exact (small multiples of a power of two).
cdef double W_FACTOR = 2.0 ** 20
cdef int MAX_RECENTRE = 8   # rounds of recentring the duals and pricing again
# Numeric M (faster) unless M + 2 max|warm start| exceeds this many times the mean |C|: its
# rounding, at the scale of M, would then swamp the tolerance of typical arcs.
cdef double WIDE_RANGE = 1024.0


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
    double *pi            # node potentials, real part
    double *err           # rounding bound of pi, in units of eps: sum of |pi| along the path
    double err_weight     # 0: thresholds at the arcs' own scale; 1: with err (anti-cycling)
    int64_t tiny_pivots   # pivots on a reduced cost within the rounding bound of the pi
    double *big           # node potentials, symbolic part: sigma * W, sigma = +-1
    double W              # the value standing for M (0 in numeric mode: big stays 0)
    bint symbolic         # big-M symbolic (W > 0) or numeric (in art_cost, faster pricing)
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
    """Exact potentials from the tree: pi_root = 0 and rc = 0 on every tree arc.

    Only the children of the root hang from artificial arcs (cost M + art_cost): their
    symbolic part is -W (source, arc to the root) or +W (sink); the others inherit it."""
    cdef int root = T.root, x = T.first_child[root], par
    cdef double c
    if x == -1:
        return
    while True:
        par = T.parent[x]
        c = _tree_arc_cost(T, C, x)
        T.pi[x] = T.pi[par] - c if T.up[x] else T.pi[par] + c
        T.err[x] = T.err[par] + fabs(T.pi[x])
        if par == root:
            T.big[x] = -T.W if T.up[x] else T.W
        else:
            T.big[x] = T.big[par]
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
                           const double *big_sink, double big_source, int64_t length,
                           double *best, int64_t *where)
    int64_t otkit_segment_argmin(const double *cost, const double *pi_sink, double pi_source,
                                 const double *big_sink, double big_source, int64_t length)
    int64_t otkit_row_min_margin(const double *cost, const double *pi_sink, double pi_source,
                                 const double *big_sink, double big_source,
                                 const double *err_sink, double err_source, double err_weight,
                                 int64_t length, double rel_tol, double abs_tol, double *best)
    void otkit_abs_max_sum(const double *x, int64_t length, double *peak, double *total)


cdef inline bint _is_tree_arc(Tree *T, int64_t arc, int s, int t) noexcept nogil:
    return (T.parent[s] == t and T.arc[s] == arc) or (T.parent[t] == s and T.arc[t] == arc)


cdef int64_t _find_entering_arc(Tree *T, const double *C, int64_t block_size,
                                int64_t *cursor, double *entering_rc,
                                double *entering_big) noexcept nogil:
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
    cdef int64_t where = 0, best_start = 0
    cdef double best = 0.0, previous, tol
    cdef const double *pi_sink = T.pi + n
    cdef const double *big_sink = T.big + n if T.symbolic else NULL
    cdef int t_node
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
                t_node = n + <int> (arc - <int64_t> best_i * m)
                # A loose threshold on stale potentials (they drift by many ulps over the
                # pivots): arcs within it are left to the exact pass that decides the end.
                tol = (BLOCK_TOL * (fabs(C[arc]) + fabs(T.pi[best_i]) + fabs(T.pi[t_node]))
                       + ABS_TOL)
                if best < -tol:
                    if _is_tree_arc(T, arc, best_i, t_node):
                        return -2
                    cursor[0] = <int64_t> i * m + j
                    entering_rc[0] = C[arc] + T.pi[best_i] - T.pi[t_node]
                    entering_big[0] = T.big[best_i] - T.big[t_node]
                    return arc
    return -1


cdef int64_t _find_entering_exact(Tree *T, const double *C, double *entering_rc,
                                 double *entering_big) noexcept nogil:
    """Full pricing pass with a per-arc threshold: the arc whose reduced cost is furthest
    below -(REL_TOL (|C_ij| + |pi_s| + |pi_t|) + ABS_TOL), -1 if none (optimal), -2 if that
    arc is a tree arc (rounding beyond the threshold: the caller stops and certifies)."""
    cdef int n = T.n, m = T.m, i, best_i = -1
    cdef int64_t k, best_k = -1
    cdef double best = 0.0
    for i in range(n):
        k = otkit_row_min_margin(C + <int64_t> i * m, T.pi + n, T.pi[i],
                                 T.big + n if T.symbolic else NULL, T.big[i],
                                 T.err + n, T.err[i], T.err_weight, m, REL_TOL, ABS_TOL, &best)
        if k >= 0:
            best_i = i
            best_k = k
    if best_i < 0:
        return -1
    if _is_tree_arc(T, <int64_t> best_i * m + best_k, best_i, n + <int> best_k):
        return -2
    entering_rc[0] = C[<int64_t> best_i * m + best_k] + T.pi[best_i] - T.pi[n + best_k]
    entering_big[0] = T.big[best_i] - T.big[n + best_k]
    if entering_big[0] == 0.0 and entering_rc[0] >= -ABS_TOL:
        return -1  # the vector loop's rounding only: nothing to enter
    return <int64_t> best_i * m + best_k


cdef void _pivot(Tree *T, int64_t e_in, double rc_in, double big_in) noexcept nogil:
    """Push flow around the cycle closed by arc e_in and update the tree (the rounding
    bounds err are left stale: only the exact pass reads them, after a recomputation)."""
    cdef int m = T.m
    cdef int s = <int> (e_in // m), t = T.n + <int> (e_in % m)
    cdef int x, y, apex, out_node = -1, q, r, prev, nxt, old_up
    cdef bint out_on_source_side = False, carry_up
    cdef double delta = INFINITY, sigma, sigma_big, carry_flow, old_flow
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
    sigma_big = big_in if q == t else -big_in
    T.pi[q] += sigma
    T.depth[q] = T.depth[r] + 1
    x = _next_in_subtree(T, q, q)
    while x != -1:
        T.pi[x] += sigma
        T.depth[x] = T.depth[T.parent[x]] + 1
        x = _next_in_subtree(T, x, q)
    if sigma_big != 0.0:  # symbolic mode, between the two kinds of subtrees only
        x = q
        while x != -1:
            T.big[x] += sigma_big
            x = _next_in_subtree(T, x, q)


cdef inline int _next_in_subtree(Tree *T, int x, int q) noexcept nogil:
    """Next node after x in a preorder walk of the subtree rooted at q, -1 at its end."""
    if T.first_child[x] != -1:
        return T.first_child[x]
    while x != q and T.next_sibling[x] == -1:
        x = T.parent[x]
    if x == q:
        return -1
    return T.next_sibling[x]


cdef int _run_simplex(Tree *T, const double *Cp, int64_t block_size, int64_t *cursor,
                      int64_t max_iter, int64_t *n_iter, bint fresh,
                      bint start_exact) noexcept nogil:
    """Pivot until a full pricing pass with exact potentials finds no entering arc.

    Block search picks the arcs; when it finds none (-1) the potentials are recomputed
    from the tree and one exact pass (per-arc thresholds) decides: an arc to enter, or
    optimal.  A tree arc that drifted below its threshold (-2) only asks for a recompute.
    start_exact: begin with that pass (after a recentring; never on the initial tree,
    where block search picks a better path)."""
    cdef int64_t e_in, max_tiny = MAX_TINY
    cdef double rc_in = 0.0, big_in = 0.0, err_in
    cdef bint exact = start_exact, from_exact = False
    while True:
        if exact:
            e_in = _find_entering_exact(T, Cp, &rc_in, &big_in)
            exact = False
            from_exact = True
            if e_in < 0:
                # No arc below its threshold with exact potentials: optimal.  (A tree arc
                # below its threshold, -2, cannot happen with exact potentials: its reduced
                # cost is one rounding; if it did, the certificate says so.)
                return STATUS_OPTIMAL
        else:
            from_exact = False
            e_in = _find_entering_arc(T, Cp, block_size, cursor, &rc_in, &big_in)
            if e_in == -1 or (e_in == -2 and fresh):
                # Nothing found, or a tree arc below threshold with exact potentials: let
                # an exact pass with exact potentials decide.
                if not fresh:
                    _recompute_potentials(T, Cp)
                    fresh = True
                exact = True
                continue
            if e_in == -2:
                _recompute_potentials(T, Cp)
                fresh = True
                continue
        if n_iter[0] >= max_iter:
            _recompute_potentials(T, Cp)
            return STATUS_MAX_ITER_REACHED
        # Rounding bound of rc_in, in eps units.  Thresholds at each arc's own scale
        # (|C| + |pi_s| + |pi_t|) are what the certificate asks for, but potentials summed
        # along tree paths can carry more rounding than that where they cancel: an arc whose
        # reduced cost is 0 up to that rounding may then enter, and its reverse next, forever
        # (seen on integer costs with ties).  After MAX_TINY such pivots from the exact pass
        # its thresholds also count the potentials' rounding bounds, so that only truly
        # improving arcs enter (the block search's loose threshold is far above them).
        err_in = (fabs(Cp[e_in]) + fabs(T.pi[e_in // T.m]) + fabs(T.pi[T.n + e_in % T.m])
                  + T.err[e_in // T.m] + T.err[T.n + e_in % T.m])
        if from_exact and big_in == 0.0 and fabs(rc_in) <= REL_TOL * err_in:
            T.tiny_pivots += 1
            if T.tiny_pivots > max_tiny:
                T.err_weight = 1.0
        _pivot(T, e_in, rc_in, big_in)
        n_iter[0] += 1
        fresh = False


cdef bint _recentre(Tree *T, const double *Cp, const double[::1] a,
                    const double[::1] b) noexcept nogil:
    """Give M its value and centre the duals; False when that moves nothing.

    M: the smallest value that keeps C_ij + pi_i - pi_j + 2M >= 0 on the arcs from sources
    under +W to sinks under -W (arcs the other way have -2M and would have entered; arcs
    within one kind do not depend on M).  Centring: pi -> pi - c with c chosen so that
    a.u = b.v.  Both shift each kind of subtree by a constant, applied through the real
    parts of the artificial costs (the caller recomputes the potentials)."""
    cdef int n = T.n, m = T.m, i, j, x
    cdef double worst = -INFINITY, shift, c, delta, a_u = 0.0, b_v = 0.0, mass = 0.0
    cdef bint any_pair = False
    for i in range(n):
        if T.big[i] > 0.0:
            for j in range(m):
                if T.big[n + j] < 0.0:
                    any_pair = True
                    shift = -0.5 * (Cp[<int64_t> i * m + j] + T.pi[i] - T.pi[n + j])
                    if shift > worst:
                        worst = shift
    if not any_pair:
        worst = 0.0
    for i in range(n):
        a_u -= a[i] * (T.pi[i] + (worst if T.big[i] > 0.0 else -worst))
        mass += a[i]
    for j in range(m):
        b_v += b[j] * (T.pi[n + j] + (worst if T.big[n + j] > 0.0 else -worst))
        mass += b[j]
    c = (b_v - a_u) / mass
    if worst == 0.0 and c == 0.0:
        return False
    x = T.first_child[T.root]
    while x != -1:
        delta = (worst if T.big[x] > 0.0 else -worst) - c
        if T.up[x]:
            T.art_cost[x] -= delta
        else:
            T.art_cost[x] += delta
        x = T.next_sibling[x]
    return True


def network_simplex(const double[::1] a, const double[::1] b, const double[:, ::1] C,
                    int64_t max_iter, const double[::1] u_init=None,
                    const double[::1] v_init=None, double block_factor=1.0, symbolic=None,
                    double peak=-1.0, double total=-1.0):
    """Solve the balanced transportation problem by the primal network simplex.

    Parameters
    ----------
    a : (n,) float64, positive entries
    b : (m,) float64, positive entries, same total as ``a`` up to rounding
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
    cdef int64_t n_arcs = <int64_t> n * m, n_iter = 0, cursor = 0, block_size, pivots
    cdef double artificial_flow = 0.0, bound = 0.0, warm = 0.0, art = 0.0
    cdef int mode = -1 if symbolic is None else (1 if symbolic else 0)
    cdef int status
    cdef bint has_u = u_init is not None, has_v = v_init is not None
    cdef Tree T
    cdef const double *Cp
    if C.shape[0] != n or C.shape[1] != m:
        raise ValueError("C must have shape (a.size, b.size)")
    if n == 0 or m == 0:
        raise ValueError("empty problem")
    if (has_u and u_init.shape[0] != n) or (has_v and v_init.shape[0] != m):
        raise ValueError("u_init, v_init must have shapes (a.size,), (b.size,)")
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
    T.err_weight = 0.0
    T.tiny_pivots = 0
    T.parent = <int *> malloc(n_nodes * sizeof(int))
    T.first_child = <int *> malloc(n_nodes * sizeof(int))
    T.next_sibling = <int *> malloc(n_nodes * sizeof(int))
    T.prev_sibling = <int *> malloc(n_nodes * sizeof(int))
    T.depth = <int *> malloc(n_nodes * sizeof(int))
    T.arc = <int64_t *> malloc(n_nodes * sizeof(int64_t))
    T.up = <uint8_t *> malloc(n_nodes * sizeof(uint8_t))
    T.flow = <double *> malloc(n_nodes * sizeof(double))
    T.pi = <double *> malloc(n_nodes * sizeof(double))
    T.err = <double *> malloc(n_nodes * sizeof(double))
    T.big = <double *> malloc(n_nodes * sizeof(double))
    T.art_cost = <double *> malloc(n_nodes * sizeof(double))
    if (T.parent == NULL or T.first_child == NULL or T.next_sibling == NULL
            or T.prev_sibling == NULL or T.depth == NULL or T.arc == NULL or T.up == NULL
            or T.flow == NULL or T.pi == NULL or T.err == NULL or T.big == NULL
            or T.art_cost == NULL):
        _free_tree(&T)
        raise MemoryError("network simplex: cannot allocate the tree of %d nodes" % n_nodes)

    with nogil:
        # Strongly feasible start: sources send their supply to the root, the root feeds
        # every sink; all these arcs carry positive flow.  Artificial arcs cost M + u_init_i
        # (source i) or M + v_init_j (sink j), M symbolic: every real arc starts with reduced
        # cost -2M + (C_ij - u_init_i - v_init_j), so arcs tight for the warm start enter
        # first, and no optimal basis keeps flow on an artificial arc.
        if peak < 0.0 or total < 0.0:
            otkit_abs_max_sum(Cp, n_arcs, &peak, &total)
        bound = peak
        bound *= n + m + 2
        if has_u:
            for i in range(n):
                if fabs(u_init[i]) > warm:
                    warm = fabs(u_init[i])
        if has_v:
            for j in range(m):
                if fabs(v_init[j]) > warm:
                    warm = fabs(v_init[j])
        if mode == -1:
            mode = bound / (n + m + 2) + 2.0 * warm > WIDE_RANGE * (total / n_arcs)
        T.symbolic = mode == 1
        if T.symbolic:
            T.W = ldexp(1.0, ilogb(W_FACTOR * (bound + warm) + 1.0) + 1)
        else:
            # Numeric M (the artificial arcs' cost): a unit routed source -> root -> sink
            # costs 2 art, a direct arc at most max|C - u0 - v0|, so no optimal basis keeps
            # artificial flow; the potentials carry +-art, rounded at that scale.
            T.W = 0.0
            art = bound / (n + m + 2) + 2.0 * warm
            if art == 0.0:
                art = 1.0
        for x in range(n_nodes):
            T.first_child[x] = -1
            T.next_sibling[x] = -1
            T.prev_sibling[x] = -1
        T.parent[T.root] = -1
        T.depth[T.root] = 0
        T.pi[T.root] = 0.0
        T.err[T.root] = 0.0
        T.big[T.root] = 0.0
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
                T.err[x] = fabs(T.pi[x])
                T.big[x] = -T.W
            else:
                T.up[x] = 0
                T.flow[x] = b[x - n]
                T.art_cost[x] = art + (v_init[x - n] if has_v else 0.0)
                T.pi[x] = T.art_cost[x]
                T.err[x] = fabs(T.pi[x])
                T.big[x] = T.W

        # Pivot to optimality; then move M to its smallest feasible value and centre the
        # duals (a.u = b.v), by changing the real parts of the artificial costs (free: no
        # flow is left on them), recompute the potentials from the tree at their final size
        # and price every arc again with them.  The reduced costs are then exact to a few
        # ulps of the returned duals, not of the larger intermediate potentials (1e15 with
        # "forbidden" arcs in the tree, which centring can cancel).  A round that pivots
        # can move the centre again, so rounds go on until one makes no pivot (usually the
        # second); they are capped, and the caller's certificate judges what comes out.
        status = _run_simplex(&T, Cp, block_size, &cursor, max_iter, &n_iter, True, False)
        if not T.symbolic and status == STATUS_OPTIMAL and _recentre(&T, Cp, a, b):
            # Numeric M: centre only (all potentials move alike, nothing to price again),
            # so that the tree arcs' reduced costs are rounded at the scale of the duals.
            _recompute_potentials(&T, Cp)
        for _ in range(MAX_RECENTRE if T.symbolic else 0):
            if status != STATUS_OPTIMAL or not _recentre(&T, Cp, a, b):
                break
            _recompute_potentials(&T, Cp)
            pivots = n_iter
            status = _run_simplex(&T, Cp, block_size, &cursor, max_iter, &n_iter, True, True)
            if n_iter == pivots:
                break  # the recentred potentials priced every arc: final
        for x in range(n + m):
            if T.arc[x] < 0:
                artificial_flow += T.flow[x]

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
    return rows[:k], cols[:k], flows[:k], u, v, status, n_iter, artificial_flow, bool(T.symbolic)


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
    free(T.err)
    free(T.big)
    free(T.art_cost)
