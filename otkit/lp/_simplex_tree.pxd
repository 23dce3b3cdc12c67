# cython: language_level=3
#
# Spanning-tree basis and pivoting of otkit's network simplex, shared by the dense solver
# (_network_simplex.pyx: arcs i * m + j of the complete bipartite graph, costs C row-major)
# and the sparse one (_sparse_simplex.pyx: an append-only list of arcs i -> j).  Everything
# here is `cdef inline`, compiled into each module that cimports it: no call crosses a
# module boundary.  The design is described in _network_simplex.pyx's module docstring;
# what differs between the two modes is behind three accessors (an arc's source, sink and
# cost: `cost` is indexed by arc in both modes, `tail`/`head` are NULL in dense mode) and
# three function pointers (block pricing, exact pricing, lower bound of M).
#
# Nodes: sources 0 .. n - 1, sinks n .. n + m - 1, the artificial root n + m.  Reduced cost
# rc(s -> t) = cost + pi_s - pi_t, in two parts: real (pi) and symbolic (big = +-W).
cimport cython
from libc.math cimport fabs, ldexp, ilogb, INFINITY
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport malloc, free

# Result codes, numbered as POT's (so scripts testing ``log["result_code"]`` keep working).
cdef enum:
    STATUS_INFEASIBLE = 0
    STATUS_OPTIMAL = 1
    STATUS_UNBOUNDED = 2
    STATUS_MAX_ITER_REACHED = 3

cdef enum:
    MAX_TINY = 50       # exact-threshold pivots within rounding before the threshold widens
    MAX_RECENTRE = 8    # rounds of recentring the duals and pricing again

# Tolerances (C constants, so that both modules read the same values):
# - REL_TOL: the exact pass enters an arc when its reduced cost is below -REL_TOL (|C_ij| +
#   |pi_s| + |pi_t|) (plus ABS_TOL, and the potentials' rounding bounds after MAX_TINY): the
#   sum C + pi_s - pi_t is rounded twice and the tree potentials once each on recomputation
#   (compensated sums: each pi the double nearest the exact path sum, see
#   recompute_potentials), so a tie (true reduced cost 0) is within 2 ulps of that scale;
#   8 ulps leaves a factor 4, and the certificate (32 ulps of the returned duals' scale,
#   _certificate.py) accepts what this pass leaves.
# - ABS_TOL: below the normal range rounding is absolute: 8 subnormal ulps.
# - BLOCK_TOL: threshold of the block search on stale potentials (the pivots shift them,
#   adding rounding): ~450 ulps, so that it neither chases rounding nor stops on tree arcs
#   after most pivots.
# - W_FACTOR: the symbolic M.  Potentials carry +-W in `big`, W a power of two 2**20 times
#   the bound R = (n + m + 2) max|C| + max|warm start| on the real parts (path sums of at
#   most n + m costs from an artificial arc; costs stay below 2**512 and the warm start
#   below 2**900, so W stays finite).  Then +-2W decides the sign and the order of every
#   reduced cost whose big parts do not cancel, while the real part still orders arcs of
#   the same sign to ~2**-32 R (an arc -2M + x is worth entering first when x is lowest:
#   the warm start); sums such as -W + 2W stay exact (small multiples of a power of two).
cdef extern from *:
    """
    #define OTKIT_REL_TOL (8.0 * 2.220446049250313e-16)
    #define OTKIT_ABS_TOL (8.0 * 4.9406564584124654e-324)
    #define OTKIT_BLOCK_TOL 1e-13
    #define OTKIT_W_FACTOR 1048576.0
    """
    const double REL_TOL "OTKIT_REL_TOL"
    const double ABS_TOL "OTKIT_ABS_TOL"
    const double BLOCK_TOL "OTKIT_BLOCK_TOL"
    const double W_FACTOR "OTKIT_W_FACTOR"


ctypedef struct Tree

# Block pricing: an arc whose reduced cost is below the loose threshold, -1 if none, -2 if
# the best one is a tree arc (stale potentials: the caller recomputes them).  The entering
# arc's reduced cost comes back in two parts, real and symbolic (0 or +-2W).
ctypedef int64_t (*block_pricing_fn)(Tree *T, int64_t block_size, int64_t *cursor,
                                     double *entering_rc, double *entering_big) noexcept nogil
# Exact pricing with per-arc thresholds: the arc furthest below its own, -1 if none.
ctypedef int64_t (*exact_pricing_fn)(Tree *T, double *entering_rc,
                                     double *entering_big) noexcept nogil
# Smallest M keeping C + pi_s - pi_t + 2M >= 0 on the arcs from sources under +W to sinks
# under -W (0 if there is no such arc).
ctypedef double (*cross_bound_fn)(Tree *T) noexcept nogil


ctypedef struct Tree:
    int n, m, n_nodes, root
    int64_t n_arcs
    const double *cost    # cost of each arc: C row-major (dense) or the arc list (sparse)
    const int32_t *tail   # source of each arc (sparse), NULL in dense mode (arc = i * m + j)
    const int32_t *head   # sink of each arc as 0 <= j < m (sparse), NULL in dense mode
    block_pricing_fn block_pricing
    exact_pricing_fn exact_pricing
    cross_bound_fn cross_bound
    char *storage         # the one allocation that holds the node arrays below
    int *parent
    int *thread           # preorder successor (cyclic: the last node's is the root)
    int *rev_thread       # preorder predecessor
    int *last             # last node of each subtree in preorder (AMO 11.3 tree indices)
    int *depth
    int64_t *arc          # arc to the parent (index into cost), -1 for artificial
    uint8_t *up           # 1 if the arc points from the node to its parent
    double *flow          # flow on the arc to the parent
    double *pi            # node potentials, real part
    double *lo            # pi + lo: the path sum carried to twice the precision (recompute)
    double *err           # REL_TOL err bounds the rounding left in pi + lo (see recompute)
    double err_weight     # 0: thresholds at the arcs' own scale; 1: with err (anti-cycling)
    int64_t tiny_pivots   # pivots on a reduced cost within the rounding bound of the pi
    bint fine             # end game: block search on fresh potentials, exact thresholds
    const double *supply  # a and b while solve_and_recentre runs (numeric M centres the
    const double *demand  # potentials before each exact pass), else NULL
    double *big           # node potentials, symbolic part: sigma * W, sigma = +-1
    double W              # the value standing for M (0 in numeric mode: big stays 0)
    bint symbolic         # big-M symbolic (W > 0) or numeric (in art_cost, faster pricing)
    double *art_cost      # cost of each node's artificial arc to the root


@cython.cdivision(True)
cdef inline int arc_source(Tree *T, int64_t arc) noexcept nogil:
    if T.tail != NULL:
        return T.tail[arc]
    return <int> (arc // T.m)


@cython.cdivision(True)
cdef inline int arc_sink(Tree *T, int64_t arc) noexcept nogil:
    if T.head != NULL:
        return T.n + T.head[arc]
    return T.n + <int> (arc % T.m)


cdef inline double symbolic_w(double bound) noexcept nogil:
    """The power of two that stands for M when the real parts stay within ``bound``."""
    return ldexp(1.0, ilogb(W_FACTOR * bound + 1.0) + 1)


cdef inline void tree_reuse(Tree *T, int n, int m) noexcept nogil:
    """Size the tree for n sources and m sinks, with a fresh anti-cycling state: after
    ``tree_alloc`` for at least n + m + 1 nodes, a tree serves problem after problem (its
    arrays keep their places; ``tree_init`` then sets every node)."""
    T.n = n
    T.m = m
    T.n_nodes = n + m + 1
    T.root = n + m
    T.err_weight = 0.0
    T.tiny_pivots = 0
    T.fine = False
    T.supply = NULL
    T.demand = NULL


cdef inline bint tree_alloc(Tree *T, int n, int m) noexcept nogil:
    """Allocate the node arrays, in one block (False, with nothing allocated, if that fails)."""
    cdef size_t nodes = n + m + 1
    cdef char *block = <char *> malloc(nodes * (6 * sizeof(double) + sizeof(int64_t)
                                                + 5 * sizeof(int) + sizeof(uint8_t)))
    T.storage = block
    if block == NULL:
        return False
    tree_reuse(T, n, m)
    # Widest types first: every array stays aligned.
    T.flow = <double *> block
    T.pi = T.flow + nodes
    T.lo = T.pi + nodes
    T.err = T.lo + nodes
    T.big = T.err + nodes
    T.art_cost = T.big + nodes
    T.arc = <int64_t *> (T.art_cost + nodes)
    T.parent = <int *> (T.arc + nodes)
    T.thread = T.parent + nodes
    T.rev_thread = T.thread + nodes
    T.last = T.rev_thread + nodes
    T.depth = T.last + nodes
    T.up = <uint8_t *> (T.depth + nodes)
    return True


cdef inline void tree_bind(Tree *T, int64_t n_arcs, const double *cost, const int32_t *tail,
                           const int32_t *head, block_pricing_fn block_pricing,
                           exact_pricing_fn exact_pricing,
                           cross_bound_fn cross_bound) noexcept nogil:
    """Give the tree its arcs (tail, head NULL in dense mode) and the mode's pricing."""
    T.n_arcs = n_arcs
    T.cost = cost
    T.tail = tail
    T.head = head
    T.block_pricing = block_pricing
    T.exact_pricing = exact_pricing
    T.cross_bound = cross_bound


cdef inline void tree_free(Tree *T) noexcept nogil:
    free(T.storage)
    T.storage = NULL


cdef inline void tree_init(Tree *T, const double *a, const double *b, double art,
                           const double *u_init, const double *v_init) noexcept nogil:
    """Strongly feasible start: every node hangs from the root by its artificial arc.

    Sources with mass send it up to the root, the root feeds every sink; these arcs carry
    positive flow.  A zero-mass source hangs by an arc root -> source of flow 0 instead (a
    tree is strongly feasible when its zero-flow arcs point away from the root, which
    Cunningham's rule needs to exclude cycling), a zero-mass sink likewise.  Artificial
    arcs cost M + art + u_init_i (source i up), M + art - u_init_i (source i down) or
    M + art + v_init_j (sink j): the real potentials are -art - u_init_i (or art -
    u_init_i) and art + v_init_j, so every real arc from a source with mass starts with
    reduced cost -2M + (C_ij - u_init_i - v_init_j) (M symbolic; 2 art numeric) and arcs
    tight for the warm start enter first.  ``u_init`` and
    ``v_init`` may be NULL (no warm start)."""
    cdef int n = T.n, x, root = T.root
    # Preorder root, 0, 1, ..., root - 1 (every other node a leaf under the root).
    for x in range(root):
        T.thread[x] = x + 1
        T.rev_thread[x] = x - 1
        T.last[x] = x
    T.thread[root] = 0 if root > 0 else root
    T.rev_thread[0] = root
    T.rev_thread[root] = root - 1 if root > 0 else root
    T.last[root] = root - 1 if root > 0 else root
    T.parent[T.root] = -1
    T.depth[T.root] = 0
    T.pi[T.root] = 0.0
    T.lo[T.root] = 0.0
    T.err[T.root] = 0.0
    T.big[T.root] = 0.0
    T.arc[T.root] = -1
    T.flow[T.root] = 0.0
    T.up[T.root] = 0
    T.art_cost[T.root] = 0.0
    for x in range(T.n_nodes - 2, -1, -1):
        T.parent[x] = root
        T.depth[x] = 1
        T.arc[x] = -1
        if x < n and a[x] != 0.0:
            T.up[x] = 1
            T.flow[x] = a[x]
            T.art_cost[x] = art + (u_init[x] if u_init != NULL else 0.0)
            T.pi[x] = -T.art_cost[x]
            T.big[x] = -T.W
        elif x < n:
            T.up[x] = 0
            T.flow[x] = 0.0
            T.art_cost[x] = art - (u_init[x] if u_init != NULL else 0.0)
            T.pi[x] = T.art_cost[x]
            T.big[x] = T.W
        else:
            T.up[x] = 0
            T.flow[x] = b[x - n]
            T.art_cost[x] = art + (v_init[x - n] if v_init != NULL else 0.0)
            T.pi[x] = T.art_cost[x]
            T.big[x] = T.W
        T.lo[x] = 0.0
        T.err[x] = 0.0  # -+ the stored artificial cost: exact


cdef inline double tree_arc_cost(Tree *T, int x) noexcept nogil:
    if T.arc[x] >= 0:
        return T.cost[T.arc[x]]
    return T.art_cost[x]


cdef inline bint is_tree_arc(Tree *T, int64_t arc, int s, int t) noexcept nogil:
    return (T.parent[s] == t and T.arc[s] == arc) or (T.parent[t] == s and T.arc[t] == arc)


cdef inline int64_t block_candidate(Tree *T, int64_t arc, double best, int64_t *cursor,
                                    int64_t resume_at, double *entering_rc,
                                    double *entering_big) noexcept nogil:
    """The block search's verdict on the best arc of the blocks so far (reduced cost
    ``best``): the arc, to enter (the cursor moves to ``resume_at``); -1 if it is above the
    loose threshold (scan on); -2 if it is a tree arc (stale potentials); in the end game,
    -3 instead of -1 (the cursor moves to ``resume_at``, where the caller searches again:
    this arc's ``best`` hides no later one).

    The threshold is loose (BLOCK_TOL of |C| + |pi_s| + |pi_t|), for potentials that drift
    by many ulps over the pivots: arcs within it are left to the exact pass that decides
    the end.  In the end game (``T.fine``: potentials recomputed before every search) it
    is that pass's own (REL_TOL, and err when counted): arcs that only that pass would
    see are found a block at a time.  (A block's lowest arc may hide one below its own,
    smaller threshold: the exact pass that ends the search finds that one.)"""
    cdef int s = arc_source(T, arc), t = arc_sink(T, arc)
    cdef double scale = fabs(T.cost[arc]) + fabs(T.pi[s]) + fabs(T.pi[t]), tol
    if T.fine:
        tol = REL_TOL * (scale + T.err_weight * (T.err[s] + T.err[t])) + ABS_TOL
    else:
        tol = BLOCK_TOL * scale + ABS_TOL
    if not best < -tol:
        if T.fine:
            cursor[0] = resume_at
            return -3
        return -1
    if is_tree_arc(T, arc, s, t):
        return -2
    cursor[0] = resume_at
    entering_rc[0] = T.cost[arc] + T.pi[s] - T.pi[t]
    entering_big[0] = T.big[s] - T.big[t]
    return arc


cdef inline int64_t exact_candidate(Tree *T, int64_t arc, double *entering_rc,
                                    double *entering_big) noexcept nogil:
    """The exact pass's verdict on the arc furthest below its threshold: the arc, to
    enter; -2 if it is a tree arc (rounding beyond the threshold: the caller stops and
    certifies); -1 if the vector loop's rounding alone put it there (nothing to enter)."""
    cdef int s = arc_source(T, arc), t = arc_sink(T, arc)
    if is_tree_arc(T, arc, s, t):
        return -2
    entering_rc[0] = T.cost[arc] + T.pi[s] - T.pi[t]
    entering_big[0] = T.big[s] - T.big[t]
    if entering_big[0] == 0.0 and entering_rc[0] >= -ABS_TOL:
        return -1
    return arc


cdef inline double tree_artificial_flow(Tree *T) noexcept nogil:
    cdef double total = 0.0
    cdef int x
    for x in range(T.n + T.m):
        if T.arc[x] < 0:
            total += T.flow[x]
    return total


cdef inline void recompute_potentials(Tree *T) noexcept nogil:
    """Potentials from the tree: pi_root = 0 and rc = 0 on every tree arc, each pi the
    double nearest to the exact path sum of the tree's costs.

    A plain recurrence pi_x = pi_parent -+ c rounds at every step and the roundings add up
    along the path, to thousands of ulps of an arc's scale |C| + |pi_s| + |pi_t| on deep
    trees (grids): the exact pass could then neither enter the arcs below that nor tell
    ties from improvements.  Compensated: TwoSum gives h + e = pi_parent -+ c exactly,
    t = e + lo_parent is the one rounding (at most eps/2 |t|, |t| ~ eps |pi|), and TwoSum
    splits h + t into pi_x, the nearest double, and its remainder lo_x; so pi_x + lo_x
    is the path sum up to E_x <= eps/2 sum |t| along the path.  Pricing with pi then errs
    by at most 3/2 eps of the scale (the sum's two roundings, pi_s and pi_t's half ulps)
    plus E_s + E_t: below REL_TOL = 8 eps of the scale, an arc truly improves while E_s +
    E_t stays under the 6.5 eps spare.  err_x = sum |t| makes REL_TOL err_x 16 times that
    bound of E_x (added to the thresholds when err_weight is 1).  Only the children of the
    root hang from artificial arcs (cost M + art_cost): their symbolic part is -W (arc to
    the root) or +W (from the root); the others inherit it."""
    cdef int root = T.root, x = T.thread[root], par
    cdef double c, p, h, z, e, t, s
    T.lo[root] = 0.0
    while x != root:
        par = T.parent[x]
        c = -tree_arc_cost(T, x) if T.up[x] else tree_arc_cost(T, x)
        p = T.pi[par]
        h = p + c  # TwoSum (Knuth): h + e == p + c exactly, no branch on magnitudes
        z = h - p
        e = (p - (h - z)) + (c - z)
        t = e + T.lo[par]
        s = h + t  # TwoSum: s + lo == h + t exactly
        z = s - h
        T.lo[x] = (h - (s - z)) + (t - z)
        T.pi[x] = s
        T.err[x] = T.err[par] + fabs(t)
        if par == root:
            T.big[x] = -T.W if T.up[x] else T.W
        else:
            T.big[x] = T.big[par]
        T.depth[x] = T.depth[par] + 1
        x = T.thread[x]


cdef inline int push_around_cycle(Tree *T, int s, int t, int apex, double *pushed,
                                  bint *on_source_side) noexcept nogil:
    """The ratio test on the cycle apex -> ... -> s -> t -> ... -> apex closed by the
    entering arc (s, t), and the flow pushed around it: returns the node whose parent arc
    leaves the tree, ``*on_source_side`` whether it lies on s's side, ``*pushed`` the flow.
    Blocking arcs are the backward ones; the leaving arc is the last blocking arc met from
    the apex on."""
    cdef int x, out_node = -1
    cdef double delta = INFINITY
    on_source_side[0] = False
    x = s
    while x != apex:
        if T.up[x] and T.flow[x] < delta:
            delta = T.flow[x]
            out_node = x
            on_source_side[0] = True
        x = T.parent[x]
    x = t
    while x != apex:
        if not T.up[x] and T.flow[x] <= delta:
            delta = T.flow[x]
            out_node = x
            on_source_side[0] = False
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
    pushed[0] = delta
    return out_node


cdef inline int rehang_subtree(Tree *T, int64_t e_in, int q, int r, int out_node,
                               bint q_is_source, double delta) noexcept nogil:
    """Re-hangs the subtree S under the leaving arc (that of ``out_node``) from the entering
    arc e_in = (q, r) or (r, q) (q inside S, r outside), which carries ``delta``: the stem
    v_0 = q, v_1 = parent of q, ..., v_k = out_node reversed, the thread and the subtree ends
    (``last``) updated.  Returns the last node of S in the new thread (S is q .. it)."""
    cdef int x, y, prev, nxt, old_up, old_parent = -1
    cdef int tail, after, before, before_next, out_last
    cdef bint carry_up
    cdef double carry_flow, old_flow
    cdef int64_t carry_arc, old_arc
    # Its new preorder (AMO 11.3) is made of pieces of the old one: the subtree of q, then
    # for each v_i (i >= 1) the part of its old subtree before that of v_{i-1} (v_i first)
    # and the part after it; so every stem node's subtree ends at the same node, `tail`.
    # Invariants at v_i: tail ends the pieces so far, before = old predecessor of v_{i-1},
    # after = old successor of the last node of v_{i-1}'s old subtree (read before any
    # write could reach it: each step writes inside v_{i-1}'s old subtree or before it).
    out_last = T.last[out_node]
    tail = T.last[q]
    after = T.thread[tail]
    before = T.rev_thread[q]
    carry_arc = e_in
    carry_up = q_is_source
    carry_flow = delta
    prev = r
    x = q
    while True:
        nxt = T.parent[x]
        if x != q:  # x = v_i, prev = v_{i-1}
            before_next = T.rev_thread[x]
            T.thread[tail] = x
            T.rev_thread[x] = tail
            tail = before
            if T.last[x] != T.last[prev]:  # a part after v_{i-1}'s subtree
                T.thread[tail] = after
                T.rev_thread[after] = tail
                tail = T.last[x]
                after = T.thread[tail]
            before = before_next
        old_arc = T.arc[x]
        old_up = T.up[x]
        old_flow = T.flow[x]
        T.parent[x] = prev
        T.arc[x] = carry_arc
        T.up[x] = carry_up
        T.flow[x] = carry_flow
        if x == out_node:
            old_parent = nxt
            break
        carry_arc = old_arc
        carry_up = not old_up
        carry_flow = old_flow
        prev = x
        x = nxt
    # Cut S (old thread: before, S, after) and close the gap in its old ancestors' indices.
    T.thread[before] = after
    T.rev_thread[after] = before
    y = old_parent
    while y != -1 and T.last[y] == out_last:
        T.last[y] = before
        y = T.parent[y]
    # Splice it in right after r (its first child); a leaf r passes its new last upwards.
    after = T.thread[r]
    T.thread[r] = q
    T.rev_thread[q] = r
    T.thread[tail] = after
    T.rev_thread[after] = tail
    if T.last[r] == r:
        y = r
        while y != -1 and T.last[y] == r:
            T.last[y] = tail
            y = T.parent[y]
    x = out_node
    while True:
        T.last[x] = tail
        if x == q:
            break
        x = T.parent[x]
    return tail


cdef inline void pivot(Tree *T, int64_t e_in, double rc_in, double big_in) noexcept nogil:
    """Push flow around the cycle closed by arc e_in and update the tree (the rounding
    bounds err are left stale: only the exact pass reads them, after a recomputation)."""
    cdef int s = arc_source(T, e_in), t = arc_sink(T, e_in)
    cdef int x, y, apex, out_node, q, r, tail
    cdef bint out_on_source_side
    cdef double delta, sigma, sigma_big
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
    out_node = push_around_cycle(T, s, t, apex, &delta, &out_on_source_side)
    # The subtree under the leaving arc is re-hung from the entering arc: q is the entering
    # endpoint inside it.
    if out_on_source_side:
        q = s
        r = t
    else:
        q = t
        r = s
    tail = rehang_subtree(T, e_in, q, r, out_node, out_on_source_side, delta)
    # Shift potentials on the moved subtree (q .. tail in the thread) so that the entering
    # arc gets rc = 0, and refresh depths (the stem reversal changes them non-uniformly).
    sigma = rc_in if q == t else -rc_in
    sigma_big = big_in if q == t else -big_in
    x = q
    if sigma_big != 0.0:  # symbolic mode, between the two kinds of subtrees only
        while True:
            T.pi[x] += sigma
            T.big[x] += sigma_big
            T.depth[x] = T.depth[T.parent[x]] + 1
            if x == tail:
                break
            x = T.thread[x]
    else:
        while True:
            T.pi[x] += sigma
            T.depth[x] = T.depth[T.parent[x]] + 1
            if x == tail:
                break
            x = T.thread[x]
