# cython: language_level=3
#
# The certificate of the batch solver of many small dense problems (_simplex_batch.pyx):
# certify_solution's checks (otkit.lp._certificate) in C, on the solution its tree holds.
from libc.math cimport fabs, isfinite
from libc.stdint cimport int64_t

from ._dense_simplex cimport otkit_dual_margin
from ._simplex_tree cimport Tree


cdef inline bint pair_certified(Tree *T, const double *cost, const double *a, const double *b,
                                const double *u, const double *v, double *sums,
                                double artificial_flow, double primal_rel, double dual_rel,
                                double dual_floor, bint proven, double *value) noexcept nogil:
    """certify_solution's checks on the solution held by the tree (support: its arcs with
    positive flow, as network_simplex returns them; duals u, v; cost: the pair's n x m
    cost, a, b its marginals; sums: n + m doubles of scratch); ``value`` gets
    <P, C> when they pass (the dual pass, the last, writes nothing).

    ``proven``: the duals are u = -pi, v = pi of the solver's last exact pass, which found
    every margin rc_ij + REL_TOL s_ij + ABS_TOL >= 0 (s_ij = |C_ij| + |pi_i| + |pi_j|), and
    dual_rel >= 2 REL_TOL, dual_floor >= 2 ABS_TOL: then the dual pass is skipped.  Its
    reduced costs (C_ij - u_i) - v_j and scales are the same floating-point operations as
    the exact pass's (C_ij + pi_i) - pi_j (negation is exact), so each rc_ij >= -(REL_TOL
    s_ij + ABS_TOL)(1 + 2 eps) >= -(dual_rel s_ij + dual_floor): the pass would accept."""
    cdef int n = T.n, m = T.m, i, j, x
    cdef int64_t row = -1
    cdef double mass_a = 0.0, mass_b = 0.0, primal_tol, worst = 0.0, rc, tau, c, total = 0.0
    for i in range(n):
        mass_a += a[i]
    for j in range(m):
        mass_b += b[j]
    primal_tol = primal_rel * (n + m) * (mass_a if mass_a > mass_b else mass_b)
    for i in range(n):
        if not isfinite(u[i]):
            return False
    for j in range(m):
        if not isfinite(v[j]):
            return False
    if not isfinite(artificial_flow) or fabs(artificial_flow) > primal_tol:
        return False
    for x in range(n + m):
        sums[x] = 0.0
    # One pass over the support: the plan's sums, complementary slackness, the value.
    for x in range(n + m):
        if T.arc[x] >= 0 and T.flow[x] > 0.0:
            i = <int> (T.arc[x] // m)
            j = <int> (T.arc[x] % m)
            # (the support holds positive flows only: the negative-flow check is moot)
            sums[i] += T.flow[x]
            sums[n + j] += T.flow[x]
            c = cost[T.arc[x]]
            total += T.flow[x] * c
            rc = c - u[i] - v[j]
            tau = dual_rel * (fabs(c) + fabs(u[i]) + fabs(v[j])) + dual_floor
            if fabs(rc) > tau:
                return False
    for i in range(n):
        worst = max(worst, fabs(sums[i] - a[i]))
    for j in range(m):
        worst = max(worst, fabs(sums[n + j] - b[j]))
    if worst > primal_tol:
        return False
    value[0] = total
    if proven:
        return True
    return otkit_dual_margin(cost, n, m, m, u, v, dual_rel, dual_floor, &row) >= 0.0
