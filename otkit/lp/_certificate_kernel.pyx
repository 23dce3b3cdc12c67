# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Fused kernels of the optimality certificate (see _certificate.py).

One call checks a whole solution: finite duals, flow on the artificial arcs, negative flows,
marginals, complementary slackness on the support, then dual feasibility on all n m arcs in
one pass over M (C or Fortran order; no temporaries).  Failures come back as a code and the
numbers a message needs; the caller formats it.
"""
import numpy as np
from libc.math cimport fabs, isfinite
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free

cdef extern from "_pricing.h" nogil:
    double otkit_dual_margin(const double *cost, int64_t n, int64_t m, int64_t ld,
                             const double *u, const double *v, double rel, double floor_,
                             int64_t *row)
    void otkit_abs_max_sum(const double *x, int64_t length, double *peak, double *total)

# Codes of certify(): what failed.
OK = 0
NOT_FINITE = 1
ARTIFICIAL = 2
NEGATIVE_FLOW = 3
MARGINALS = 4
SLACKNESS = 5
DUAL = 6
STRIDED = 7  # M is neither C nor Fortran ordered: the caller checks dual feasibility


def abs_max_sum(const double[:, :] M):
    """(max |M_ij|, sum |M_ij|) in one vectorized pass (any strides; C order is fastest)."""
    cdef int64_t n = M.shape[0], m = M.shape[1]
    cdef double peak = 0.0, total = 0.0
    if n == 0 or m == 0:
        return 0.0, 0.0
    if M.strides[1] == sizeof(double) and M.strides[0] == m * sizeof(double):
        otkit_abs_max_sum(&M[0, 0], n * m, &peak, &total)
        return peak, total
    abs_m = np.abs(np.asarray(M))
    return float(abs_m.max()), float(abs_m.sum())


def certify(const double[::1] a, const double[::1] b, const double[:, :] M,
            const int64_t[::1] rows, const int64_t[::1] cols, const double[::1] flows,
            const double[::1] u, const double[::1] v, double artificial_flow,
            double primal_rel, double dual_rel, double dual_floor):
    """Check a transport solution; return (code, i, j, value, tolerance), code OK if
    certified (see the module constants; i, j locate the failure where one applies).

    The primal tolerance is primal_rel max(sum a, sum b); the dual tolerance of arc (i, j)
    is dual_rel (|M_ij| + |u_i| + |v_j|) + dual_floor."""
    cdef int64_t n = M.shape[0], m = M.shape[1], k, i, j, row = -1
    cdef int64_t ld
    cdef double worst = 0.0, rc, tau, low, mass_a = 0.0, mass_b = 0.0, primal_tol
    cdef double *sums
    if a.shape[0] != n or b.shape[0] != m or u.shape[0] != n or v.shape[0] != m:
        raise ValueError("certify: a, b, u, v must match the shape of M")
    if rows.shape[0] != flows.shape[0] or cols.shape[0] != flows.shape[0]:
        raise ValueError("certify: rows, cols and flows must have one length")
    for i in range(n):
        mass_a += a[i]
    for j in range(m):
        mass_b += b[j]
    primal_tol = primal_rel * max(mass_a, mass_b)
    for i in range(n):
        if not isfinite(u[i]):
            return NOT_FINITE, -1, -1, 0.0, 0.0
    for j in range(m):
        if not isfinite(v[j]):
            return NOT_FINITE, -1, -1, 0.0, 0.0
    if not isfinite(artificial_flow) or fabs(artificial_flow) > primal_tol:
        return ARTIFICIAL, -1, -1, artificial_flow, primal_tol
    for k in range(flows.shape[0]):
        if flows[k] < -primal_tol:
            return NEGATIVE_FLOW, rows[k], cols[k], flows[k], primal_tol
    sums = <double *> calloc(n + m, sizeof(double))
    if sums == NULL:
        raise MemoryError("certificate: cannot allocate the marginals")
    for k in range(flows.shape[0]):
        if not (0 <= rows[k] < n and 0 <= cols[k] < m):
            free(sums)
            raise ValueError("certify: support index out of range")
        sums[rows[k]] += flows[k]
        sums[n + cols[k]] += flows[k]
    for i in range(n):
        worst = max(worst, fabs(sums[i] - a[i]))
    for j in range(m):
        worst = max(worst, fabs(sums[n + j] - b[j]))
    free(sums)
    if worst > primal_tol:
        return MARGINALS, -1, -1, worst, primal_tol
    for k in range(flows.shape[0]):
        i = rows[k]
        j = cols[k]
        rc = M[i, j] - u[i] - v[j]
        tau = dual_rel * (fabs(M[i, j]) + fabs(u[i]) + fabs(v[j])) + dual_floor
        if fabs(rc) > tau:
            return SLACKNESS, i, j, rc, tau
    if n == 0 or m == 0:
        return OK, -1, -1, 0.0, 0.0
    if M.strides[1] == sizeof(double) and M.strides[0] % sizeof(double) == 0:
        ld = M.strides[0] // sizeof(double)
        with nogil:
            low = otkit_dual_margin(&M[0, 0], n, m, ld, &u[0], &v[0], dual_rel, dual_floor,
                                    &row)
        if low < 0.0:
            return _locate(M, u, v, row, -1, dual_rel, dual_floor)
    elif M.strides[0] == sizeof(double) and M.strides[1] % sizeof(double) == 0:
        ld = M.strides[1] // sizeof(double)  # Fortran order: rows of M.T, duals swapped
        with nogil:
            low = otkit_dual_margin(&M[0, 0], m, n, ld, &v[0], &u[0], dual_rel, dual_floor,
                                    &row)
        if low < 0.0:
            return _locate(M, u, v, -1, row, dual_rel, dual_floor)
    else:
        return STRIDED, -1, -1, 0.0, 0.0
    return OK, -1, -1, 0.0, 0.0


cdef _locate(const double[:, :] M, const double[::1] u, const double[::1] v, int64_t row,
             int64_t col, double dual_rel, double dual_floor):
    """The arc with the lowest margin in row ``row`` (or column ``col``) of M."""
    cdef int64_t i, j, best_i = -1, best_j = -1
    cdef int64_t i0 = 0 if row < 0 else row, i1 = M.shape[0] if row < 0 else row + 1
    cdef int64_t j0 = 0 if col < 0 else col, j1 = M.shape[1] if col < 0 else col + 1
    cdef double rc, tau, margin, lowest = 0.0, best_rc = 0.0, best_tau = 0.0
    for i in range(i0, i1):
        for j in range(j0, j1):
            rc = M[i, j] - u[i] - v[j]
            tau = dual_rel * (fabs(M[i, j]) + fabs(u[i]) + fabs(v[j])) + dual_floor
            margin = rc + tau
            if best_i < 0 or margin < lowest:
                lowest, best_i, best_j, best_rc, best_tau = margin, i, j, rc, tau
    return DUAL, best_i, best_j, best_rc, best_tau
