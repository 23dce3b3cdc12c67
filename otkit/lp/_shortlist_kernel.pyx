# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled passes of the shortlist method over a dense cost matrix (kernels: _shortlist.h).

``select`` picks the candidate arcs (the k smallest reduced costs of every row and column)
and computes the rows' c-transform, ``price`` finds the arcs that violate dual
feasibility, ``corner_arcs`` adds arcs that complete a greedy flow to a feasible one,
``col_ctransform`` computes the columns' c-transform over some rows, ``gather`` a
submatrix, ``kd_order`` a locality order of points.  All run without the GIL and without
n x m temporaries.
"""
import numpy as np
from libc.stdint cimport int64_t

__all__ = [
    "col_ctransform",
    "corner_arcs",
    "gather",
    "kd_order",
    "price",
    "select",
]

cdef extern from "_shortlist.h" nogil:
    void otkit_shortlist_select(const double *C, int64_t n, int64_t m, double *u,
                                const double *v, int ctransform, int64_t k_row, int64_t k_col,
                                double row_factor, const double *col_start,
                                int64_t *row_cols, int64_t *row_count, int64_t *col_rows,
                                int64_t *col_count, double *row_value, double *col_value,
                                int64_t *col_worst, double *col_limit)
    int64_t otkit_shortlist_price(const double *C, int64_t n, int64_t m, const double *u,
                                  const double *v, double rel_tol, double abs_tol,
                                  int64_t per_row, int64_t *out_rows, int64_t *out_cols,
                                  double *out_margin, double *scratch_value,
                                  int64_t *scratch_index, int64_t *n_negative)
    int64_t otkit_shortlist_corner(const int64_t *rows, const int64_t *cols,
                                   const int64_t *order, int64_t n_order, double *supply,
                                   int64_t n, double *demand, int64_t m, int64_t *out_rows,
                                   int64_t *out_cols)
    void otkit_shortlist_col_ctransform(const double *C, int64_t m, const int64_t *rows,
                                        int64_t n_rows, const double *u, double *v,
                                        double *smallest, int64_t n_small, int64_t stride)
    void otkit_shortlist_gather(const double *C, int64_t m, const int64_t *rows,
                                int64_t n_rows, const int64_t *cols, const int64_t *by_col,
                                int64_t n_cols, double *out)
    void otkit_shortlist_kd_order(const double *points, int64_t d, int64_t *idx, int64_t size,
                                  int depth)


def _check(const double[:, ::1] C, const double[::1] u, const double[::1] v):
    if u.shape[0] != C.shape[0] or v.shape[0] != C.shape[1]:
        raise ValueError(
            f"u.shape == ({u.shape[0]},), v.shape == ({v.shape[0]},): expected "
            f"({C.shape[0]},), ({C.shape[1]},) to match C"
        )
    if C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError("C must not be empty")


def select(const double[:, ::1] C, u, const double[::1] v, int64_t k_row, int64_t k_col,
           double row_factor=0.0, col_start=None):
    """The ``k_row`` smallest (C_ij - v_j) - u_i of each row and the ``k_col`` smallest of
    each column, as arcs (rows, cols, u): int64 arrays, row arcs first, duplicates possible.

    ``u`` None: u is the c-transform of v, u_i = min_j (C_ij - v_j), computed in the same
    pass over C (and returned); otherwise u itself is returned.  ``row_factor`` > 0: each
    row's scan starts from that multiple of a running mean of the rows' k_row-th smallest
    values (rows where that finds too few are scanned again: the row lists are exact).
    ``col_start`` (m,): column j keeps only values below col_start[j] (its smallest ones:
    fewer than k_col where that bound is low)."""
    cdef int64_t n = C.shape[0], m = C.shape[1]
    cdef bint ctransform = u is None
    # a copy when given (the kernel's u is writable, for the c-transform)
    u = np.empty(n) if ctransform else np.array(u, dtype=np.float64)
    cdef double[::1] u_view = u
    cdef const double[::1] start_view
    cdef const double *start_ptr = NULL
    _check(C, u_view, v)
    if col_start is not None:
        col_start = np.ascontiguousarray(col_start, dtype=np.float64)
        if col_start.shape != (m,):
            raise ValueError(f"col_start.shape == {col_start.shape}, expected ({m},)")
        start_view = col_start
        start_ptr = &start_view[0]
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
        otkit_shortlist_select(&C[0, 0], n, m, &u_view[0], &v[0], ctransform, k_row, k_col,
                               row_factor, start_ptr, &rc[0], &rn[0], &cr[0], &cn[0], &rv[0],
                               &cv[0], &cw[0], &cl[0])
    # every row has min(k_row, m) entries; a column may have fewer (col_start)
    rows = np.repeat(np.arange(n, dtype=np.int64), k_row)
    cols = row_cols
    if col_start is None:
        rows = np.concatenate([rows, col_rows])
        cols = np.concatenate([cols, np.repeat(np.arange(m, dtype=np.int64), k_col)])
    else:
        keep = np.arange(k_col)[None, :] < col_count[:, None]
        rows = np.concatenate([rows, col_rows.reshape(m, k_col)[keep]])
        cols = np.concatenate([cols, np.repeat(np.arange(m, dtype=np.int64), col_count)])
    return rows, cols, u


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


def corner_arcs(const int64_t[::1] rows, const int64_t[::1] cols, const int64_t[::1] order,
                const double[::1] a, const double[::1] b):
    """The arcs (rows, cols) of the north-west corner rule over the mass that the greedy flow
    on the arcs ``order`` (indices into rows, cols, taken in turn, each carrying the least
    supply or demand left) leaves: with them the arcs carry the marginals (a, b)."""
    cdef int64_t n_order = order.shape[0], n = a.shape[0], m = b.shape[0], written, q
    if cols.shape[0] != rows.shape[0]:
        raise ValueError("rows and cols must have one length")
    for q in range(n_order):
        if order[q] < 0 or order[q] >= rows.shape[0]:
            raise ValueError(f"order must lie in [0, {rows.shape[0]}), got {order[q]}")
        if not (0 <= rows[order[q]] < n and 0 <= cols[order[q]] < m):
            raise ValueError(f"rows and cols must lie in [0, {n}) and [0, {m})")
    supply = np.array(a, dtype=np.float64)
    demand = np.array(b, dtype=np.float64)
    out_rows = np.empty(n + m, dtype=np.int64)
    out_cols = np.empty(n + m, dtype=np.int64)
    cdef double[::1] s = supply, d = demand
    cdef int64_t[::1] orow = out_rows, ocol = out_cols
    cdef const int64_t *rp = &rows[0] if rows.shape[0] else NULL
    cdef const int64_t *cp = &cols[0] if rows.shape[0] else NULL
    cdef const int64_t *op = &order[0] if n_order else NULL
    with nogil:
        written = otkit_shortlist_corner(rp, cp, op, n_order, &s[0], n, &d[0], m, &orow[0],
                                         &ocol[0])
    return out_rows[:written], out_cols[:written]


def col_ctransform(const double[:, ::1] C, const int64_t[::1] rows, const double[::1] u,
                   int64_t n_small=0, int64_t stride=1):
    """v_j = min_r (C_{rows[r], j} - u_r) over the listed rows: (m,) float64.

    With ``n_small`` > 0, also the ``n_small`` smallest of these values of each column over
    every ``stride``-th listed row, an (n_small, m) array (ascending down each column),
    in the same pass: (v, smallest)."""
    cdef int64_t n = C.shape[0], m = C.shape[1], n_rows = rows.shape[0], r
    if u.shape[0] != n_rows or n_rows == 0 or m == 0:
        raise ValueError(f"u.shape == ({u.shape[0]},), expected ({n_rows},) to match rows")
    if n_small < 0 or stride < 1:
        raise ValueError(f"n_small >= 0 and stride >= 1 expected, got {n_small}, {stride}")
    for r in range(n_rows):
        if rows[r] < 0 or rows[r] >= n:
            raise ValueError(f"rows must lie in [0, {n}), got {rows[r]}")
    v = np.empty(m, dtype=np.float64)
    smallest = np.empty((n_small, m), dtype=np.float64)
    cdef double[::1] out = v
    cdef double[:, ::1] small_view = smallest
    cdef double *small_ptr = &small_view[0, 0] if n_small > 0 else NULL
    with nogil:
        otkit_shortlist_col_ctransform(&C[0, 0], m, &rows[0], n_rows, &u[0], &out[0],
                                       small_ptr, n_small, stride)
    return (v, smallest) if n_small > 0 else v


def gather(const double[:, ::1] C, const int64_t[::1] rows, const int64_t[::1] cols):
    """The submatrix C[rows][:, cols], C-contiguous (rows and columns in any order)."""
    cdef int64_t n = C.shape[0], m = C.shape[1], n_rows = rows.shape[0], n_cols = cols.shape[0]
    cdef int64_t q
    for q in range(n_rows):
        if rows[q] < 0 or rows[q] >= n:
            raise ValueError(f"rows must lie in [0, {n}), got {rows[q]}")
    for q in range(n_cols):
        if cols[q] < 0 or cols[q] >= m:
            raise ValueError(f"cols must lie in [0, {m}), got {cols[q]}")
    out = np.empty((n_rows, n_cols), dtype=np.float64)
    if n_rows == 0 or n_cols == 0:
        return out
    by_col = np.argsort(cols).astype(np.int64, copy=False)
    cdef const int64_t[::1] by_col_view = by_col
    cdef double[:, ::1] o = out
    with nogil:
        otkit_shortlist_gather(&C[0, 0], m, &rows[0], n_rows, &cols[0], &by_col_view[0], n_cols,
                               &o[0, 0])
    return out


def kd_order(const double[:, ::1] points, int depth):
    """A permutation that puts nearby points (rows of ``points``) next to each other: the
    order of a kd-tree of ``depth`` median cuts, each along the widest coordinate of its
    part (the lower half, size // 2 points, first)."""
    cdef int64_t n = points.shape[0], d = points.shape[1]
    order = np.arange(n, dtype=np.int64)
    cdef int64_t[::1] idx = order
    if n > 1 and d > 0:
        with nogil:
            otkit_shortlist_kd_order(&points[0, 0], d, &idx[0], n, depth)
    return order
