# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Exact OT between many pairs of small histograms on shared supports, or of point clouds,
in one compiled call.

For each pair (i, j) of a block, with weights :math:`a = H_i` and :math:`b = H'_j`, the
solver computes

.. math::

    W(a, b) = \\min_{P \\ge 0,\\; P 1 = \\tilde a,\\; P^\\top 1 = \\tilde b}
    \\langle P, M_{I J} \\rangle

on the nonzero bins :math:`I = \\{k : a_k > 0\\}`, :math:`J = \\{l : b_l > 0\\}` (a zero
bin carries no flow), with :math:`\\tilde b = b_J \\, (\\sum a_I / \\sum b_J)` rescaled to
the mass of :math:`\\tilde a = a_I`, as the per-pair path of ``otkit.pairwise`` does (point
clouds, solve_cloud_pairs: the points of positive weight are the bins, and the pair's cost
is computed from them, _pairs_clouds.h).  The whole block runs without the GIL: the
sub-cost is gathered into one scratch buffer, the network simplex of _network_simplex.pyx
runs on a tree allocated once for the block (its tree, pivots, exact pricing and big-M
driver, shared through _simplex_tree.pxd, _simplex_driver.pxd and _dense_simplex.pxd; only
the block search differs: whole rows, one vectorized minimum each, which on 32 x 32
problems takes ~12% fewer pivots and half the bookkeeping), and each solution is certified
in C (_pairs_certificate.pxd) with the criteria and tolerances of
``otkit.lp._certificate.certify_solution``:

- primal feasibility: no flow left on the artificial arcs, no negative flow, and the row and
  column sums of the plan within ``primal_rel`` (n + m) max(sum a, sum b) of the marginals
  (n, m: the numbers of nonzero bins);
- complementary slackness on the plan's support and dual feasibility on all arcs,
  :math:`M_{ij} - u_i - v_j \\ge -\\tau_{ij}` with :math:`\\tau_{ij} = \\mathrm{dual\\_rel}
  (|M_{ij}| + |u_i| + |v_j|) + \\mathrm{dual\\_floor}`, for the duals centred as
  ``_center_duals`` centres them (:math:`a^\\top u = b^\\top v`); in numeric big-M mode,
  the duals of the solver's last exact pass (centred before it, up to rounding), whose
  margins at a quarter of :math:`\\tau` already prove dual feasibility
  (_pairs_certificate.pxd).

A pair that is not certified (or whose sub-cost exceeds ``max_cost``, which emd2 rescales)
gets a status other than CERTIFIED and a NaN value: the caller solves it again on the
per-pair path, so no uncertified number is returned.  No state is shared between calls, so
blocks run concurrently on threads; a pair's value depends only on the pair (the tree is
initialised afresh for each, without warm start), whatever block it is in.

The start is Vogel's approximation method (_pairs_vogel.h: each step, the line of largest
penalty sends what it can on its cheapest arc; cursors on the rows and columns of the full
cost in cost order, sorted once per cost, _pairs_orders.py), the forest of its arcs hung
from the artificial root (_pairs_crash.h); on costs of over VOGEL_LIMIT entries the
least-cost greedy flow over the cheapest 1/8 of the arcs (filtered once per first
histogram), then the nodes with mass left matched (each source to its cheapest sink with
demand left); the artificial tree when the full cost has over 16 times the pair's arcs
(the scan would cost more than it saves).  In numeric big-M mode the block search and
the exact pass run as compiled loops over the rows (_pairs_pricing.h; the same arcs as the
general ones), the pivots and the driver are those of _pairs_simplex.pxd (the shared ones
without node depths), and the certificate's dual pass is the solver's last exact pass
(see _pairs_certificate.pxd).

Profile (callgrind, the 4,950 pairs of the first 100 8 x 8 digits, squared grid cost, 99
calls of solve_pairs as ``pairwise`` makes them, per pair): 210 k instructions and 127.7
pivots from the artificial tree; 176.9 k and 85.6 pivots with the greedy crash alone;
157.2 k and 76.2 pivots with the matching; 124.0 k and 32.5 pivots with VAM (34.4 on the
124,750 pairs of 500 digits, against 79.9); now 120.3 k: VAM 30.5 k, its forest 5.1 k and
potentials 2.0 k, pivots ~24 k (~750 each), the row search 23.8 k plus 4.2 k around it,
exact pass 7.4 k, gather 6.9 k, certificate 4.3 k, the rest ~12 k.  The steps: the dual
pass skipped when the exact pass proved it (-7.8 k), the nodes with mass left matched in
the crash (-4.7 k), the row search's candidate checked without dividing its arc index
(-1.6 k), the certificate's support checks and the value in one pass (-1.2 k), the crash's
potentials by the plain recurrence (-1.2 k), the depth-free pivot and one recomputation
of the potentials less (-3.7 k), VAM instead of the greedy (-33.2 k), the sub-cost
gathered with its range in one vectorized pass (-3.1 k; -2.6 k with the abs as a select),
the bins checked on the pairs' histograms only (-0.9 k: pairwise calls once per row).
``pairwise`` on the 500 digits, CPU time (medians of 3 interleaved runs, 2 cores): 2.69 s
with VAM against 3.37 s with the greedy (load ~1.1-1.7); the last two steps not measurable
(solve_pairs' calls: 2.70 s against 2.70 s, load 2.2-3.3; the gather's loads bound both).
Tried and left out: the start's potentials set while the forest is built (-0.16 k only:
its tops' branches cost what the thread walk saved); the row search's and the pivot's (in
_pairs_pricing.h, _pairs_simplex.pxd); with the greedy's matching, the greedy over the
cheapest 1/16 or 1/4 of the arcs (+3.5 k, +1.6 k) or all of them; VAM with other ties or
penalties (42.9 to 64.2 pivots), lazy ones (60.3) or a tournament tree (_pairs_vogel.h); a
warm start from the pair's own optimal duals (no fewer pivots from the artificial tree).

References: R. K. Ahuja, T. L. Magnanti, J. B. Orlin, *Network Flows*, Prentice Hall,
1993, ch. 11 (the network simplex); N. V. Reinfeld, W. R. Vogel, *Mathematical
Programming*, Prentice-Hall, 1958 (VAM); M. Kusner et al., From word embeddings to document
distances, ICML 2015 (matrices of exact OT distances between histograms).
"""
import numpy as np
from libc.math cimport INFINITY
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc

from . import _pairs_orders
from ._pairs_inputs import check_bins, check_pairs

from ._pairs_certificate cimport pair_certified
from ._pairs_simplex cimport (
    PairTree, pairs_block_pricing, pairs_exact_pricing, pairs_solve, start_tree,
)
from ._simplex_driver cimport solve_and_recentre
from ._simplex_tree cimport (
    ABS_TOL, REL_TOL, STATUS_OPTIMAL, Tree, tree_alloc, tree_artificial_flow, tree_free,
    tree_init, tree_reuse,
)
from ._dense_simplex cimport dense_prepare

cdef extern from "_pairs_pricing.h" nogil:
    void otkit_pairs_gather(const double *M, int64_t ld, const int64_t *bins_a, int n,
                            const int64_t *bins_b, int m, double *out, double *peak_out,
                            double *sum_out)

cdef extern from "_pairs_clouds.h" nogil:
    void otkit_cloud_cost(const double *x, int n, const double *y, int m, int d, int root,
                          double *out, double *peak_out, double *sum_out)

cdef extern from "_pairs_vogel.h" nogil:
    ctypedef struct OtkitVogelLine:
        double key
    enum:
        OTKIT_VOGEL_BLOCK
    int otkit_pairs_vogel(int n, int m, const int64_t *bins_a, const int64_t *bins_b,
                          const int32_t *order_r, int64_t n_full, const int32_t *order_c,
                          int64_t m_full, const double *cost, int32_t *loc_a,
                          int32_t *loc_b, const double *a, const double *b, int *basic_s,
                          int *basic_t, double *basic_flow, double *residual,
                          OtkitVogelLine *lines, int *bbest, double *bkey)

cdef extern from "_pairs_crash.h" nogil:
    int otkit_pairs_forest(int n, int m, int n_basic, const int *basic_s,
                           const int *basic_t, const double *basic_flow,
                           const double *residual, int *parent, int64_t *arc, uint8_t *up,
                           double *flow, int *thread, int *rev_thread, int *last,
                           int *preorder)
    int64_t otkit_pairs_filter(const int32_t *src, const int32_t *dst, int64_t n_order,
                               const int32_t *loc_a, int32_t *out_src, int32_t *out_dst)
    int otkit_pairs_crash(int n, int m, const int32_t *src, const int32_t *dst,
                          int64_t n_order, const int32_t *loc_b, const double *cost,
                          const double *a, const double *b, int *parent, int64_t *arc,
                          uint8_t *up, double *flow, int *thread, int *rev_thread, int *last,
                          int *work, double *residual, double *basic_flow)

__all__ = [
    "CERTIFIED", "COST_RANGE", "NOT_CERTIFIED", "NOT_OPTIMAL", "solve_cloud_pairs", "solve_pairs",
]

# Status of a pair (int8): only CERTIFIED values are returned as they are.
cdef enum:
    PAIR_CERTIFIED = 0
    PAIR_NOT_OPTIMAL = 1     # the simplex stopped without an optimum (max_iter)
    PAIR_COST_RANGE = 2      # max |M_IJ| > max_cost: the caller's path rescales the costs
    PAIR_NOT_CERTIFIED = 3   # optimal for the simplex, but the certificate failed

# The crash start scans the arcs of the full cost in cost order, skipping those of bins
# that are zero in the pair: used when they are at most this many times the pair's arcs.
cdef enum:
    CRASH_RATIO = 16
# The crash takes the cheapest 1 / CRASH_SHARE of the arcs of the full cost only (on 8 x 8
# digits: 85.6 pivots per pair, 75.7 with all of them, but a scan that cost more than the
# pivots it saved; the mass it leaves goes on artificial arcs).
cdef enum:
    CRASH_SHARE = 8

CERTIFIED = PAIR_CERTIFIED
NOT_OPTIMAL = PAIR_NOT_OPTIMAL
COST_RANGE = PAIR_COST_RANGE
NOT_CERTIFIED = PAIR_NOT_CERTIFIED


cdef struct Scratch:
    double *cost    # the sub-cost M_IJ, row-major
    double *a       # a_I
    double *b       # b_J, rescaled
    double *u
    double *v
    double *sums    # row and column sums of the plan
    double *residual  # the crash's scratch: n + m doubles each, 3 (n + m) ints
    double *basic_flow
    int *work
    int *mark       # pairs_solve's: n + m + 1 ints


cdef struct Pairs:
    # what every pair of a call shares
    const double *M          # the full cost, n_full x ld
    int64_t ld
    const int32_t *src      # the arcs of M in cost order (bins), NULL: no crash
    const int32_t *dst
    int64_t n_order
    int32_t *first_src      # those of the current first histogram (otkit_pairs_filter)
    int32_t *first_dst
    int64_t n_first
    int32_t *loc_a          # bin -> index among the pair's nonzero bins, -1 elsewhere
    int32_t *loc_b
    const int32_t *order_r  # VAM's: the bins of M's rows, columns in cost order, NULL: greedy
    const int32_t *order_c
    int64_t n_full
    OtkitVogelLine *lines   # VAM's scratch
    int *bbest
    double *bkey
    int64_t max_iter
    double max_cost, primal_rel, dual_rel, dual_floor, block_factor
    # point clouds (solve_cloud_pairs; unused on histograms): features, cost (root:
    # Euclidean)
    int d, root


cdef void _filter(Pairs *P, const int64_t *bins_a, int n) noexcept nogil:
    """The crash's arcs of the pairs whose first histogram has nonzero bins bins_a."""
    cdef int i
    for i in range(n):
        P.loc_a[bins_a[i]] = i
    P.n_first = otkit_pairs_filter(P.src, P.dst, P.n_order, P.loc_a, P.first_src,
                                   P.first_dst)
    for i in range(n):
        P.loc_a[bins_a[i]] = -1


cdef bint _crash(Tree *T, Scratch *S, const Pairs *P, const int64_t *bins_a,
                 const int64_t *bins_b, int m, double art) noexcept nogil:
    """The start in T: Vogel's approximation method (_pairs_vogel.h), or the greedy of
    _pairs_crash.h on costs too large to keep their orders (False, the tree half written,
    if none)."""
    cdef int j, ok, n_basic, N = T.n + m
    if P.order_r != NULL:
        n_basic = otkit_pairs_vogel(T.n, m, bins_a, bins_b, P.order_r, P.n_full, P.order_c,
                                    P.ld, S.cost, P.loc_a, P.loc_b, S.a, S.b, S.work,
                                    S.work + N, S.basic_flow, S.residual, P.lines, P.bbest,
                                    P.bkey)
        ok = n_basic >= 0 and otkit_pairs_forest(
            T.n, m, n_basic, S.work, S.work + N, S.basic_flow, S.residual, T.parent, T.arc,
            T.up, T.flow, T.thread, T.rev_thread, T.last, S.work + 2 * N)
    elif P.src != NULL:
        for j in range(m):
            P.loc_b[bins_b[j]] = j
        ok = otkit_pairs_crash(T.n, m, P.first_src, P.first_dst, P.n_first, P.loc_b, S.cost,
                               S.a, S.b, T.parent, T.arc, T.up, T.flow, T.thread,
                               T.rev_thread, T.last, S.work, S.residual, S.basic_flow)
        for j in range(m):
            P.loc_b[bins_b[j]] = -1
    else:
        return False
    if ok:
        start_tree(T, art)
    return ok


cdef int8_t _solve_pair(Tree *T, Scratch *S, Pairs *P, const int64_t *bins_a,
                        const double *weights_a, int n, const int64_t *bins_b,
                        const double *weights_b, int m, const double *points_x,
                        const double *points_y, double *value, int64_t *pivots) noexcept nogil:
    """One pair: its cost (gathered from M, or from the points of two clouds, points_x and
    points_y: then bins_a, bins_b are 0, 1, ...), solve, centre the duals, certify; the
    value when CERTIFIED."""
    cdef int i, j, x, status
    cdef int64_t n_iter = 0, cursor = 0, block_size
    cdef double art
    cdef double mass_a = 0.0, mass_b = 0.0, ratio, peak, total, artificial_flow = 0.0
    cdef double a_u = 0.0, b_v = 0.0, shift, cost = 0.0
    cdef bint proven
    for i in range(n):
        S.a[i] = weights_a[i]
        mass_a += weights_a[i]
    for j in range(m):
        mass_b += weights_b[j]
    ratio = mass_a / mass_b
    for j in range(m):
        S.b[j] = weights_b[j] * ratio
    if points_x == NULL:
        otkit_pairs_gather(P.M, P.ld, bins_a, n, bins_b, m, S.cost, &peak, &total)
    else:
        otkit_cloud_cost(points_x, n, points_y, m, P.d, P.root, S.cost, &peak, &total)
    if not peak <= P.max_cost:
        return PAIR_COST_RANGE
    tree_reuse(T, n, m)
    block_size = dense_prepare(T, S.cost, NULL, NULL, P.block_factor, -1, peak, total, &art)
    T.block_pricing = pairs_block_pricing
    T.exact_pricing = pairs_exact_pricing
    if not _crash(T, S, P, bins_a, bins_b, m, art):
        tree_init(T, S.a, S.b, art, NULL, NULL)
    if T.symbolic:
        status = solve_and_recentre(T, block_size, &cursor, P.max_iter, &n_iter, S.a, S.b,
                                    INFINITY)
    else:
        for x in range(n + m + 1):
            S.mark[x] = 0
        status = pairs_solve(T, block_size, &cursor, P.max_iter, &n_iter, S.a, S.b, S.mark)
    artificial_flow = tree_artificial_flow(T)
    pivots[0] = n_iter
    if status != STATUS_OPTIMAL:
        return PAIR_NOT_OPTIMAL
    # Duals u = -pi (sources), v = pi (sinks): those the last exact pass priced when it
    # proved dual feasibility (numeric M centres them before it: a.u = b.v up to rounding),
    # else centred so that a.u = b.v, as _center_duals does, for the certificate's pass.
    proven = ((<PairTree *> T).proven and P.dual_rel >= 2.0 * REL_TOL
              and P.dual_floor >= 2.0 * ABS_TOL)
    for i in range(n):
        S.u[i] = -T.pi[i]
    for j in range(m):
        S.v[j] = T.pi[n + j]
    if not proven:
        for i in range(n):
            a_u += S.a[i] * S.u[i]
        for j in range(m):
            b_v += S.b[j] * S.v[j]
        mass_b = 0.0
        for j in range(m):
            mass_b += S.b[j]
        shift = (b_v - a_u) / (mass_a + mass_b)
        for i in range(n):
            S.u[i] += shift
        for j in range(m):
            S.v[j] -= shift
    if not pair_certified(T, S.cost, S.a, S.b, S.u, S.v, S.sums, artificial_flow, P.primal_rel,
                          P.dual_rel, P.dual_floor, proven, &cost):
        return PAIR_NOT_CERTIFIED
    value[0] = cost
    return PAIR_CERTIFIED


def solve_pairs(const int64_t[::1] starts_a, const int64_t[::1] bins_a,
                const double[::1] weights_a, const int64_t[::1] starts_b,
                const int64_t[::1] bins_b, const double[::1] weights_b,
                const double[:, ::1] M, const int64_t[::1] first, const int64_t[::1] second,
                int64_t max_iter, double max_cost, double primal_rel, double dual_rel,
                double dual_floor, double block_factor=1.0):
    """Exact OT of the pairs (first[k], second[k]) of two collections of histograms.

    Parameters
    ----------
    starts_a, bins_a, weights_a : (N + 1,), (nnz,), (nnz,) arrays (int64, int64, float64)
        The nonzero bins of the N histograms of the first collection, row by row (CSR):
        histogram k has weights weights_a[s:e] on bins bins_a[s:e], s, e = starts_a[k],
        starts_a[k + 1]; every histogram has at least one.
    starts_b, bins_b, weights_b : (N' + 1,), (nnz',), (nnz',) arrays
        The second collection, likewise.
    M : (n, n') float64 array, C-contiguous
        Ground cost between the bins of the two collections (finite).
    first, second : (k,) int64 arrays
        The pairs: histograms first[k] of the first collection and second[k] of the second.
    max_iter : int
        Maximum number of pivots per pair.
    max_cost : float
        Largest |M_ij| on the pair's bins solved here (above: status COST_RANGE).
    primal_rel, dual_rel, dual_floor : float
        The certificate's tolerances: primal primal_rel (n + m) max(mass) for n x m pairs
        (primal_rel is per node), dual dual_rel (|M_ij| + |u_i| + |v_j|) + dual_floor.
    block_factor : float, default=1.0
        Block size of the pricing, as a multiple of sqrt(n m).

    Returns
    -------
    values : (k,) float64 array
        W = <P, M> of each certified pair (cost units); NaN where the status is not
        CERTIFIED.
    status : (k,) int8 array
        CERTIFIED, NOT_OPTIMAL, COST_RANGE or NOT_CERTIFIED (module constants).
    pivots : (k,) int64 array
        Number of pivots of each pair (0 where the status is COST_RANGE).

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.lp._simplex_batch import solve_pairs
    >>> M = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 1.0], [4.0, 1.0, 0.0]])
    >>> H = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])  # rows: nonzero bins 0, 1 and 2
    >>> starts, bins, weights = np.array([0, 2, 3]), np.array([0, 1, 2]), H[H > 0]
    >>> values, status, _ = solve_pairs(starts, bins, weights, starts, bins, weights, M,
    ...                                 np.array([0]), np.array([1]), 1000, 2.0**512,
    ...                                 1.4e-14, 7.1e-15, 1e-322)
    >>> values, status  # W = 0.5 * 4 + 0.5 * 1
    (array([2.5]), array([0], dtype=int8))
    """
    cdef int64_t n = M.shape[0], m = M.shape[1], most_a, most_b
    cdef Pairs P
    check_pairs(starts_a, starts_b, first, second)
    most_a = check_bins(starts_a, bins_a, weights_a, n, first, "first collection")
    most_b = check_bins(starts_b, bins_b, weights_b, m, second, "second collection")
    if first.shape[0] == 0:
        return _no_pairs()
    P.M = &M[0, 0]
    P.ld = m
    # The start: VAM's orders of M, or (above VOGEL_LIMIT entries) the greedy's arcs, those
    # of M in cost order (the cheapest 1 / CRASH_SHARE), with room for those of one first
    # histogram.
    cdef int32_t[:, ::1] order_r_v, order_c_v
    cdef int32_t[::1] src_v, dst_v, first_src_v, first_dst_v
    P.src = P.dst = P.first_src = P.first_dst = NULL
    P.order_r = P.order_c = NULL
    P.n_order = 0
    P.n_full = n
    if n * m <= CRASH_RATIO * most_a * most_b and n * m <= _pairs_orders.VOGEL_LIMIT:
        order_r_v, order_c_v = _pairs_orders.cached_order(np.asarray(M),
                                                          _pairs_orders.vogel_order)
        P.order_r = &order_r_v[0, 0]
        P.order_c = &order_c_v[0, 0]
    elif n * m <= CRASH_RATIO * most_a * most_b:
        P.n_order = (n * m + CRASH_SHARE - 1) // CRASH_SHARE
        src_v, dst_v = _pairs_orders.cached_order(np.asarray(M), _pairs_orders.crash_order,
                                                  P.n_order)
        first_src_v = np.empty(P.n_order, dtype=np.int32)
        first_dst_v = np.empty(P.n_order, dtype=np.int32)
        P.src = &src_v[0]
        P.dst = &dst_v[0]
        P.first_src = &first_src_v[0]
        P.first_dst = &first_dst_v[0]
    return _solve_all(&P, starts_a, bins_a, weights_a, starts_b, bins_b, weights_b, first,
                      second, most_a, most_b, n, m, NULL, NULL, max_iter, max_cost,
                      primal_rel, dual_rel, dual_floor, block_factor)


def solve_cloud_pairs(const int64_t[::1] starts_a, const double[:, ::1] points_a,
                      const double[::1] weights_a, const int64_t[::1] starts_b,
                      const double[:, ::1] points_b, const double[::1] weights_b,
                      const int64_t[::1] first, const int64_t[::1] second, str metric,
                      int64_t max_iter, double max_cost, double primal_rel, double dual_rel,
                      double dual_floor, double block_factor=1.0):
    """Exact OT of the pairs (first[k], second[k]) of two collections of point clouds.

    As :func:`solve_pairs`, with each pair's cost computed from its points
    (``metric='sqeuclidean'``: :math:`C_{ij} = \\sum_k (x_{ik} - y_{jk})^2`, summed over
    the features in order, as :func:`otkit.dist` sums them on small clouds; ``'euclidean'``:
    its square root; _pairs_clouds.h), each solved from the artificial tree: the start's
    orders by cost would be sorted for each pair, which cost more than the pivots they save
    (VAM: 46.5 pivots instead of 115 on clouds of 10 to 30 points in the plane, but 30.0
    against 23.4 us a pair, sorts of random keys being dominated by mispredicted branches;
    30 to 80 points in 3-D: 304 against 154 us; the greedy's second stage alone, each source
    to its cheapest sinks, 82 pivots but 23.4 us, and 164 us).

    Parameters
    ----------
    starts_a, points_a, weights_a : (N + 1,), (nnz, d), (nnz,) arrays (int64, float64)
        The N clouds of the first collection, one after the other: cloud k has the points
        points_a[s:e] with the positive weights weights_a[s:e], s, e = starts_a[k],
        starts_a[k + 1] (at least one point each).
    starts_b, points_b, weights_b : (N' + 1,), (nnz', d), (nnz',) arrays
        The second collection, likewise (the same d).
    first, second, max_iter, max_cost, primal_rel, dual_rel, dual_floor, block_factor
        As in :func:`solve_pairs`.
    metric : {'sqeuclidean', 'euclidean'}
        The ground cost.

    Returns
    -------
    values, status, pivots : (k,) arrays
        As in :func:`solve_pairs` (COST_RANGE also where a cost is not finite).

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.lp._simplex_batch import solve_cloud_pairs
    >>> x = np.array([[0.0], [1.0], [3.0]])  # clouds {0, 1} and {3}
    >>> starts, w = np.array([0, 2, 3]), np.array([0.5, 0.5, 1.0])
    >>> values, status, _ = solve_cloud_pairs(starts, x, w, starts, x, w, np.array([0]),
    ...                                       np.array([1]), "sqeuclidean", 1000, 2.0**512,
    ...                                       1.4e-14, 7.1e-15, 1e-322)
    >>> values, status  # W = 0.5 * 9 + 0.5 * 4
    (array([6.5]), array([0], dtype=int8))
    """
    cdef int64_t most_a, most_b
    cdef Pairs P
    if metric not in ("sqeuclidean", "euclidean"):
        raise ValueError(f"metric must be 'sqeuclidean' or 'euclidean', got {metric!r}")
    if points_a.shape[1] != points_b.shape[1] or points_a.shape[1] < 1:
        raise ValueError("points_a and points_b must have one number (>= 1) of features")
    if points_a.shape[0] != weights_a.shape[0] or points_b.shape[0] != weights_b.shape[0]:
        raise ValueError("points and weights must have one length")
    check_pairs(starts_a, starts_b, first, second)
    check_bins(starts_a, None, weights_a, 0, first, "first collection")
    check_bins(starts_b, None, weights_b, 0, second, "second collection")
    if first.shape[0] == 0:
        return _no_pairs()
    # the scratch for the largest clouds of the pairs (each pair starts from the artificial
    # tree: nothing depends on the others)
    most_a = np.diff(starts_a)[first].max()
    most_b = np.diff(starts_b)[second].max()
    iota = np.arange(max(most_a, most_b), dtype=np.int64)
    P.d = <int> points_a.shape[1]
    P.root = metric == "euclidean"
    P.M = NULL  # (no full cost: each pair's is computed)
    P.ld = P.n_full = 0
    P.src = P.dst = P.first_src = P.first_dst = NULL
    P.order_r = P.order_c = NULL
    P.n_order = 0
    return _solve_all(&P, starts_a, iota, weights_a, starts_b, iota, weights_b, first, second,
                      most_a, most_b, most_a, most_b, &points_a[0, 0], &points_b[0, 0],
                      max_iter, max_cost, primal_rel, dual_rel, dual_floor, block_factor)


def _no_pairs():
    return np.full(0, np.nan), np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64)


cdef tuple _solve_all(Pairs *P, const int64_t[::1] starts_a, const int64_t[::1] bins_a,
                      const double[::1] weights_a, const int64_t[::1] starts_b,
                      const int64_t[::1] bins_b, const double[::1] weights_b,
                      const int64_t[::1] first, const int64_t[::1] second, int64_t most_a,
                      int64_t most_b, int64_t n, int64_t m, const double *points_a,
                      const double *points_b, int64_t max_iter, double max_cost,
                      double primal_rel, double dual_rel, double dual_floor,
                      double block_factor):
    """(values, status, pivots) of the pairs (at least one), P's start set (its orders):
    the scratch allocated for n x m bins (histograms: bins_a, bins_b index them) or, when
    points_a is not NULL, for clouds of up to most_a, most_b points (P.d features; bins_a,
    bins_b: 0, 1, ..., for all pairs), then each pair solved (_solve_pair) without the
    GIL."""
    cdef int64_t n_pairs = first.shape[0], k, sa, sb
    cdef int64_t n_lines = most_a + most_b + OTKIT_VOGEL_BLOCK + 1
    cdef PairTree PT
    cdef Tree *T = &PT.tree
    cdef Scratch S
    cdef double *doubles
    cdef bint clouds = points_a != NULL
    values = np.full(n_pairs, np.nan)
    status = np.zeros(n_pairs, dtype=np.int8)
    pivots = np.zeros(n_pairs, dtype=np.int64)
    cdef double[::1] values_v = values
    cdef int8_t[::1] status_v = status
    cdef int64_t[::1] pivots_v = pivots
    P.max_iter = max_iter
    P.max_cost = max_cost
    P.primal_rel = primal_rel
    P.dual_rel = dual_rel
    P.dual_floor = dual_floor
    P.block_factor = block_factor
    doubles = <double *> malloc(sizeof(double) * (most_a * most_b + 6 * (most_a + most_b) + 2)
                                + sizeof(OtkitVogelLine) * n_lines
                                + sizeof(int) * (5 * (most_a + most_b) + 2)
                                + sizeof(int32_t) * (n + m + 2))
    if doubles == NULL or not tree_alloc(T, <int> most_a, <int> most_b):
        free(doubles)
        raise MemoryError("solve_pairs: cannot allocate the scratch buffers")
    S.residual = doubles + most_a * most_b + 3 * (most_a + most_b)
    S.basic_flow = S.residual + most_a + most_b
    P.bkey = S.basic_flow + most_a + most_b  # (VAM's: one per 16 nodes, and one)
    P.lines = <OtkitVogelLine *> (P.bkey + most_a + most_b + 2)
    S.work = <int *> (P.lines + n_lines)
    S.mark = S.work + 3 * (most_a + most_b)
    P.bbest = S.mark + most_a + most_b + 1
    P.loc_a = <int32_t *> (P.bbest + most_a + most_b + 1)
    P.loc_b = P.loc_a + n + 1
    for k in range(n + 1):
        P.loc_a[k] = -1
    for k in range(m + 1):
        P.loc_b[k] = -1
    S.cost = doubles
    S.a = S.cost + most_a * most_b
    S.b = S.a + most_a
    S.u = S.b + most_b
    S.v = S.u + most_a
    S.sums = S.v + most_b
    with nogil:
        for k in range(n_pairs):
            sa = starts_a[first[k]]
            sb = starts_b[second[k]]
            if clouds:
                status_v[k] = _solve_pair(
                    T, &S, P, &bins_a[0], &weights_a[sa], <int> (starts_a[first[k] + 1] - sa),
                    &bins_b[0], &weights_b[sb], <int> (starts_b[second[k] + 1] - sb),
                    points_a + sa * P.d, points_b + sb * P.d, &values_v[k], &pivots_v[k])
                continue
            if P.src != NULL and (k == 0 or first[k] != first[k - 1]):
                _filter(P, &bins_a[sa], <int> (starts_a[first[k] + 1] - sa))
            status_v[k] = _solve_pair(
                T, &S, P, &bins_a[sa], &weights_a[sa], <int> (starts_a[first[k] + 1] - sa),
                &bins_b[sb], &weights_b[sb], <int> (starts_b[second[k] + 1] - sb), NULL,
                NULL, &values_v[k], &pivots_v[k])
    tree_free(T)
    free(doubles)
    return values, status, pivots
