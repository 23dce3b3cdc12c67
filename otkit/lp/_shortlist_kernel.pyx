# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled passes of the shortlist method over a dense cost matrix (kernels: _shortlist.h).

``select`` picks the candidate arcs (the k smallest reduced costs of every row and column),
``price`` finds the arcs that violate dual feasibility, ``feasible_arcs`` adds arcs that
carry a feasible flow.  All run without the GIL and without n x m temporaries.
"""
import numpy as np
from libc.stdint cimport int64_t

__all__ = ["col_ctransform", "feasible_arcs", "price", "row_ctransform", "select"]

cdef extern from "_shortlist.h" nogil:
    void otkit_shortlist_select(const double *C, int64_t n, int64_t m, const double *u,
                                const double *v, int64_t k_row, int64_t k_col,
                                int64_t *row_cols, int64_t *row_count, int64_t *col_rows,
                                int64_t *col_count, double *row_value, double *col_value,
                                int64_t *col_worst, double *col_limit)
    int64_t otkit_shortlist_price(const double *C, int64_t n, int64_t m, const double *u,
                                  const double *v, double rel_tol, double abs_tol,
                                  int64_t per_row, int64_t *out_rows, int64_t *out_cols,
                                  double *out_margin, double *scratch_value,
                                  int64_t *scratch_index, int64_t *n_negative)
    int64_t otkit_shortlist_feasible(const int64_t *rows, const int64_t *cols,
                                     const int64_t *order, int64_t n_arcs, double *supply,
                                     int64_t n, double *demand, int64_t m, int64_t *out_rows,
                                     int64_t *out_cols)
    void otkit_shortlist_row_ctransform(const double *C, int64_t n, int64_t m, const double *v,
                                        double *u)
    void otkit_shortlist_col_ctransform(const double *C, int64_t m, const int64_t *rows,
                                        int64_t n_rows, const double *u, double *v)


def _check(const double[:, ::1] C, const double[::1] u, const double[::1] v):
    if u.shape[0] != C.shape[0] or v.shape[0] != C.shape[1]:
        raise ValueError(
            f"u.shape == ({u.shape[0]},), v.shape == ({v.shape[0]},): expected "
            f"({C.shape[0]},), ({C.shape[1]},) to match C"
        )
    if C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError("C must not be empty")


def select(const double[:, ::1] C, const double[::1] u, const double[::1] v, int64_t k_row,
           int64_t k_col):
    """The ``k_row`` smallest C_ij - u_i - v_j of each row and the ``k_col`` smallest of each
    column, as arcs (rows, cols): int64 arrays, row arcs first, duplicates possible."""
    _check(C, u, v)
    cdef int64_t n = C.shape[0], m = C.shape[1]
    k_row = max(0, min(k_row, m))
    k_col = max(0, min(k_col, n))
    row_cols = np.empty(n * k_row, dtype=np.int64)
    row_count = np.empty(n, dtype=np.int64)
    col_rows = np.empty(m * k_col, dtype=np.int64)
    col_count = np.empty(m, dtype=np.int64)
    row_value = np.empty(max(k_row, 1), dtype=np.float64)
    col_value = np.empty(max(m * k_col, 1), dtype=np.float64)
    col_worst = np.empty(m, dtype=np.int64)
    col_limit = np.empty(m, dtype=np.float64)
    cdef int64_t[::1] rc = row_cols if n * k_row else np.empty(1, dtype=np.int64)
    cdef int64_t[::1] rn = row_count, cn = col_count, cw = col_worst
    cdef int64_t[::1] cr = col_rows if m * k_col else np.empty(1, dtype=np.int64)
    cdef double[::1] rv = row_value, cv = col_value, cl = col_limit
    with nogil:
        otkit_shortlist_select(&C[0, 0], n, m, &u[0], &v[0], k_row, k_col, &rc[0], &rn[0],
                               &cr[0], &cn[0], &rv[0], &cv[0], &cw[0], &cl[0])
    # every row (column) has min(k, m) entries (n), so the lists are full
    rows = np.concatenate([np.repeat(np.arange(n, dtype=np.int64), k_row),
                           col_rows])
    cols = np.concatenate([row_cols, np.repeat(np.arange(m, dtype=np.int64), k_col)])
    return rows, cols


def price(const double[:, ::1] C, const double[::1] u, const double[::1] v, double rel_tol,
          double abs_tol, int64_t per_row):
    """Arcs whose margin (C_ij - u_i - v_j) + rel_tol (|C_ij| + |u_i| + |v_j|) + abs_tol is
    negative: the ``per_row`` most negative of each row, as (rows, cols, margins), and the
    number of negative margins in all."""
    _check(C, u, v)
    if per_row < 1:
        raise ValueError(f"per_row must be positive, got {per_row}")
    cdef int64_t n = C.shape[0], m = C.shape[1], written, negative = 0
    per_row = min(per_row, m)
    rows = np.empty(n * per_row, dtype=np.int64)
    cols = np.empty(n * per_row, dtype=np.int64)
    margins = np.empty(n * per_row, dtype=np.float64)
    scratch_value = np.empty(per_row, dtype=np.float64)
    scratch_index = np.empty(per_row, dtype=np.int64)
    cdef int64_t[::1] r = rows, c = cols, si = scratch_index
    cdef double[::1] g = margins, sv = scratch_value
    with nogil:
        written = otkit_shortlist_price(&C[0, 0], n, m, &u[0], &v[0], rel_tol, abs_tol, per_row,
                                        &r[0], &c[0], &g[0], &sv[0], &si[0], &negative)
    return rows[:written], cols[:written], margins[:written], int(negative)


def feasible_arcs(const int64_t[::1] rows, const int64_t[::1] cols, const double[::1] costs,
                  const double[::1] a, const double[::1] b):
    """Arcs that carry a feasible flow for the marginals (a, b): those of a greedy flow on
    the given arcs by increasing cost, then north-west corner arcs for the mass left."""
    cdef int64_t n_arcs = rows.shape[0], n = a.shape[0], m = b.shape[0], written
    if cols.shape[0] != n_arcs or costs.shape[0] != n_arcs:
        raise ValueError("rows, cols and costs must have one length")
    order = np.argsort(costs, kind="stable").astype(np.int64, copy=False)
    supply = np.array(a, dtype=np.float64)
    demand = np.array(b, dtype=np.float64)
    out_rows = np.empty(n_arcs + n + m, dtype=np.int64)
    out_cols = np.empty(n_arcs + n + m, dtype=np.int64)
    cdef const int64_t[::1] o = order
    cdef double[::1] s = supply, d = demand
    cdef int64_t[::1] orow = out_rows, ocol = out_cols
    cdef const int64_t *rp = &rows[0] if n_arcs else NULL
    cdef const int64_t *cp = &cols[0] if n_arcs else NULL
    cdef const int64_t *op = &o[0] if n_arcs else NULL
    with nogil:
        written = otkit_shortlist_feasible(rp, cp, op, n_arcs, &s[0], n, &d[0], m, &orow[0],
                                           &ocol[0])
    return out_rows[:written], out_cols[:written]


def row_ctransform(const double[:, ::1] C, const double[::1] v):
    """u_i = min_j (C_ij - v_j) for every row i: (n,) float64."""
    cdef int64_t n = C.shape[0], m = C.shape[1]
    if v.shape[0] != m or n == 0 or m == 0:
        raise ValueError(f"v.shape == ({v.shape[0]},), expected ({m},) to match C (non-empty)")
    u = np.empty(n, dtype=np.float64)
    cdef double[::1] out = u
    with nogil:
        otkit_shortlist_row_ctransform(&C[0, 0], n, m, &v[0], &out[0])
    return u


def col_ctransform(const double[:, ::1] C, const int64_t[::1] rows, const double[::1] u):
    """v_j = min_r (C_{rows[r], j} - u_r) over the listed rows: (m,) float64."""
    cdef int64_t n = C.shape[0], m = C.shape[1], n_rows = rows.shape[0], r
    if u.shape[0] != n_rows or n_rows == 0 or m == 0:
        raise ValueError(f"u.shape == ({u.shape[0]},), expected ({n_rows},) to match rows")
    for r in range(n_rows):
        if rows[r] < 0 or rows[r] >= n:
            raise ValueError(f"rows must lie in [0, {n}), got {rows[r]}")
    v = np.empty(m, dtype=np.float64)
    cdef double[::1] out = v
    with nogil:
        otkit_shortlist_col_ctransform(&C[0, 0], m, &rows[0], n_rows, &u[0], &out[0])
    return v
