# cython: language_level=3
#
# The driver of otkit's network simplex, shared by the dense and the sparse solver: pivot
# until an exact pricing pass finds no entering arc (run_simplex), then give the big M its
# value and centre the duals (recentre, solve_and_recentre).  The tree, its pivot and the
# tolerances are in _simplex_tree.pxd; everything is `cdef inline`, compiled into each
# module that cimports it.
cimport cython
from libc.math cimport fabs
from libc.stdint cimport int64_t

from ._simplex_tree cimport (
    MAX_RECENTRE, MAX_TINY, REL_TOL, STATUS_INFEASIBLE, STATUS_MAX_ITER_REACHED,
    STATUS_OPTIMAL, Tree, arc_sink, arc_source, pivot, recompute_potentials,
    tree_artificial_flow,
)


cdef inline int64_t search_blocks(Tree *T, int64_t block_size, int64_t *cursor,
                                  double *rc_in, double *big_in,
                                  int64_t *travelled) noexcept nogil:
    """One block of the search: an entering arc, -1 (none below its threshold once around
    all arcs since the last find), -2 (a tree arc below its threshold) or -3 (none in this
    block: the end game searches on, ``travelled`` counting the arcs seen)."""
    cdef int64_t start = cursor[0]
    cdef int64_t e_in = T.block_pricing(T, block_size, cursor, rc_in, big_in)
    if e_in == -3:
        travelled[0] += cursor[0] - start
        if cursor[0] <= start:
            travelled[0] += T.n_arcs
        if travelled[0] < T.n_arcs:
            return -3
        e_in = -1
    travelled[0] = 0
    return e_in


cdef inline void count_tiny_pivot(Tree *T, int64_t e_in, int s, int t, double rc_in,
                                  int64_t max_tiny) noexcept nogil:
    """Fresh potentials, exact thresholds: they prove an improvement while the potentials'
    remaining error (REL_TOL err, see recompute_potentials) is below their spare, i.e.
    unless the |pi| summed along the paths reach ~1e16 times the arc's scale.  Else a tie
    could enter and its reverse next, forever: after ``max_tiny`` pivots within that error
    the thresholds also count it (err_weight)."""
    cdef double scale = fabs(T.cost[e_in]) + fabs(T.pi[s]) + fabs(T.pi[t])
    if fabs(rc_in) <= REL_TOL * (scale + T.err[s] + T.err[t]):
        T.tiny_pivots += 1
        if T.tiny_pivots > max_tiny:
            T.err_weight = 1.0


cdef inline int run_simplex(Tree *T, int64_t block_size, int64_t *cursor, int64_t max_iter,
                            int64_t *n_iter, bint fresh, bint start_exact) noexcept nogil:
    """Pivot until a full pricing pass with exact potentials finds no entering arc.

    Block search picks the arcs; when it finds none (-1) the potentials are recomputed
    from the tree and one exact pass (per-arc thresholds) decides: an arc to enter, or
    optimal.  A tree arc that drifted below its threshold (-2) only asks for a recompute.
    Once that pass has entered an arc, the end game (``T.fine``) goes on to the end: the
    potentials are recomputed after every pivot (O(n + m)) and the block search uses the
    exact thresholds, a block at a time (-3), until it has been once around all arcs
    without a find and the exact pass decides again (on grids many arcs are a few ulps
    below them only: one exact pass over all arcs per pivot was quadratic).  Numeric M
    centres the potentials before each exact pass (see solve_and_recentre).
    fresh: the potentials are exact now.  start_exact: begin with that pass (after a
    recentring; never on the initial tree, where block search picks a better path)."""
    cdef int64_t e_in, max_tiny = MAX_TINY, travelled = 0
    cdef double rc_in = 0.0, big_in = 0.0
    cdef bint exact = start_exact, checked
    T.fine = False
    while True:
        if exact:
            if not T.symbolic and T.supply != NULL and recentre(T, T.supply, T.demand):
                # numeric M: the potentials carry +-M until centred, at the scale of M
                recompute_potentials(T)
            e_in = T.exact_pricing(T, &rc_in, &big_in)
            exact = False
            checked = True
            if e_in < 0:
                # No arc below its threshold with exact potentials: optimal.  (A tree arc
                # below its threshold, -2, cannot happen with exact potentials: its reduced
                # cost is one rounding; if it did, the certificate says so.)
                T.fine = False
                return STATUS_OPTIMAL
        else:
            if T.fine and not fresh:
                recompute_potentials(T)
                fresh = True
            checked = T.fine
            # End game: a block without an arc below its threshold (-3); the next blocks,
            # until the search has been once around all arcs since the last pivot.
            e_in = search_blocks(T, block_size, cursor, &rc_in, &big_in, &travelled)
            if e_in == -3:
                continue
            if e_in == -1 or (e_in == -2 and fresh):
                # Nothing found, or a tree arc below threshold with exact potentials: let
                # an exact pass with exact potentials decide.
                if not fresh:
                    recompute_potentials(T)
                    fresh = True
                exact = True
                continue
            if e_in == -2:
                recompute_potentials(T)
                fresh = True
                continue
        if n_iter[0] >= max_iter:
            recompute_potentials(T)
            T.fine = False
            return STATUS_MAX_ITER_REACHED
        if checked:
            if big_in == 0.0:
                count_tiny_pivot(T, e_in, arc_source(T, e_in), arc_sink(T, e_in), rc_in,
                                 max_tiny)
            T.fine = True
        pivot(T, e_in, rc_in, big_in)
        n_iter[0] += 1
        fresh = False


@cython.cdivision(True)
cdef inline bint recentre(Tree *T, const double *a, const double *b) noexcept nogil:
    """Give M its value and centre the duals; False when that moves nothing.

    M: the smallest value that keeps C_ij + pi_i - pi_j + 2M >= 0 on the arcs from sources
    under +W to sinks under -W (arcs the other way have -2M and would have entered; arcs
    within one kind do not depend on M).  Centring: pi -> pi - c with c chosen so that
    a.u = b.v.  Both shift each kind of subtree by a constant, applied through the real
    parts of the artificial costs (the caller recomputes the potentials)."""
    cdef int n = T.n, m = T.m, i, j, x
    cdef double worst = T.cross_bound(T), c, delta, a_u = 0.0, b_v = 0.0, mass = 0.0
    for i in range(n):
        a_u -= a[i] * (T.pi[i] + (worst if T.big[i] > 0.0 else -worst))
        mass += a[i]
    for j in range(m):
        b_v += b[j] * (T.pi[n + j] + (worst if T.big[n + j] > 0.0 else -worst))
        mass += b[j]
    c = (b_v - a_u) / mass
    if worst == 0.0 and c == 0.0:
        return False
    x = T.thread[T.root]
    while x != T.root:
        delta = (worst if T.big[x] > 0.0 else -worst) - c
        if T.up[x]:
            T.art_cost[x] -= delta
        else:
            T.art_cost[x] += delta
        x = T.thread[T.last[x]]
    return True


cdef inline int solve_and_recentre(Tree *T, int64_t block_size, int64_t *cursor,
                                   int64_t max_iter, int64_t *n_iter, const double *a,
                                   const double *b, double infeasible_flow) noexcept nogil:
    """Pivot to optimality; then move M to its smallest feasible value and centre the duals.

    Both change the real parts of the artificial costs (free: no flow is left on them);
    the potentials are then recomputed from the tree at their final size and every arc is
    priced again with them, so that the reduced costs are exact to a few ulps of the
    returned duals, not of the larger intermediate potentials (1e15 with "forbidden" arcs
    in the tree, which centring can cancel).  A round that pivots can move the centre
    again, so rounds go on until one makes no pivot (usually the second); they are capped,
    and the caller's certificate judges what comes out.  Numeric M: all potentials move
    alike (a shift that changes no pivot, even before the optimum: the root's inflow is
    its outflow), so run_simplex centres them before each exact pass, the last of which
    prices the returned duals at their own scale (with the +-M they carry until centred,
    arcs within 8 ulps of M passed as ties: on grids many are below the duals' threshold,
    and the certificate failed).  An optimum that leaves more than ``infeasible_flow`` on
    the artificial arcs (symbolic M) is INFEASIBLE, left as it is."""
    cdef int status
    cdef int64_t pivots
    T.supply = a
    T.demand = b
    status = run_simplex(T, block_size, cursor, max_iter, n_iter, True, False)
    if status == STATUS_OPTIMAL and tree_artificial_flow(T) > infeasible_flow:
        status = STATUS_INFEASIBLE
    for _ in range(MAX_RECENTRE if T.symbolic else 0):
        if status != STATUS_OPTIMAL or not recentre(T, a, b):
            break
        recompute_potentials(T)
        pivots = n_iter[0]
        status = run_simplex(T, block_size, cursor, max_iter, n_iter, True, True)
        if n_iter[0] == pivots:
            break  # the recentred potentials priced every arc: final
    T.supply = NULL
    T.demand = NULL
    return status
