/* Kernels of the shortlist method for dense costs (see _shortlist.py): one pass over C to
 * pick the candidate arcs, one pass to price every arc against the sparse solve's duals.
 *
 * Both read C row by row (C-contiguous, n rows of m costs) and never allocate anything of
 * size n m.  A chunk of OTKIT_SL_CHUNK entries is first tested with a vectorized minimum
 * (``#pragma omp simd``, compiled with -fopenmp-simd); only the rare chunks that hold a
 * candidate are walked one entry at a time.
 */
#ifndef OTKIT_SHORTLIST_H
#define OTKIT_SHORTLIST_H

#include <math.h>
#include <stdint.h>

#include "_pricing.h" /* OTKIT_MULTIVERSION, OTKIT_STATIC */

#define OTKIT_SL_CHUNK 64
/* Shorter chunks for the selection: in its first rows most column lists still take new
 * entries, and a chunk with one such entry is walked entry by entry. */
#define OTKIT_SL_SELECT_CHUNK 16

/* A bounded list of the ``size`` smallest values seen (unordered), with the position of
 * its largest entry: ``limit`` is +inf until the list is full, then that largest value. */
static inline void otkit_sl_push(double *value, int64_t *index, int64_t *count, int64_t size,
                                 int64_t *worst, double *limit, double x, int64_t at)
{
    int64_t k;
    if (*count < size) {
        value[*count] = x;
        index[*count] = at;
        *count += 1;
        if (*count < size)
            return;
    } else {
        value[*worst] = x;
        index[*worst] = at;
    }
    *worst = 0;
    for (k = 1; k < size; ++k)
        if (value[k] > value[*worst])
            *worst = k;
    *limit = value[*worst];
}

/* One row i of the selection: its entries r_j = (c_j - v_j) - ui below *row_limit go to the
 * row's list (row_cols, row_value; the limit becomes the list's largest once it is full),
 * and with ``columns`` those below col_limit[j] to column j's list.  Returns the row's
 * count.  ``columns`` is a constant at each call: one specialized loop each. */
static inline __attribute__((always_inline)) int64_t
otkit_sl_scan_row(const double *c, int64_t m, double ui, const double *v, int64_t i,
                  int64_t k_row, int64_t *row_cols, double *row_value, double *row_limit,
                  int64_t k_col, int64_t *col_rows, int64_t *col_count, double *col_value,
                  int64_t *col_worst, double *col_limit, const int columns)
{
    int64_t count = 0, worst = 0, start, stop, j;
    double limit = *row_limit;
    for (start = 0; start < m; start += OTKIT_SL_SELECT_CHUNK) {
        stop = start + OTKIT_SL_SELECT_CHUNK < m ? start + OTKIT_SL_SELECT_CHUNK : m;
        double low = INFINITY;
        /* below the row's limit or below the column's: the smaller of the two gaps */
#pragma omp simd reduction(min : low)
        for (j = start; j < stop; ++j) {
            double gap = ((c[j] - v[j]) - ui) - limit;
            if (columns) {
                double gap_col = ((c[j] - v[j]) - ui) - col_limit[j];
                gap = gap < gap_col ? gap : gap_col;
            }
            low = gap < low ? gap : low;
        }
        if (!(low < 0.0))
            continue;
        for (j = start; j < stop; ++j) {
            double r = (c[j] - v[j]) - ui;
            if (r < limit)
                otkit_sl_push(row_value, row_cols, &count, k_row, &worst, &limit, r, j);
            if (columns && r < col_limit[j])
                otkit_sl_push(col_value + j * k_col, col_rows + j * k_col, col_count + j,
                              k_col, col_worst + j, col_limit + j, r, i);
        }
    }
    *row_limit = limit;
    return count;
}

/* The ``k_row`` smallest reduced costs (C_ij - v_j) - u_i of every row (row_cols: n * k_row
 * column indices, row by row) and the ``k_col`` smallest of every column (col_rows:
 * m * k_col row indices, column by column), in one pass over C.  With ``ctransform``, u is
 * an output: u_i = min_j (C_ij - v_j) (the c-transform of v), computed from each row just
 * before the row is scanned (it is in cache then), so that both take one pass over C.
 *
 * Most of the cost is in the entries that beat a list's running limit before the list
 * holds its final values, so the limits start low where that is safe:
 * - a row's list starts from ``row_factor`` times a running mean of the rows' final limits
 *   (0: from infinity); a row that gets fewer than k_row entries so is scanned again from
 *   infinity, so that every row list is exact;
 * - column j's list starts from col_start[j] (NULL: infinity); a column that has fewer
 *   than k_col entries below it keeps those (all its entries below col_start[j]: the
 *   smallest ones).
 * Scratch: col_value (m * k_col doubles), col_worst (m), col_limit (m doubles), row_value
 * (k_row doubles).  The list sizes come back in row_count (n) and col_count (m). */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_shortlist_select(const double *C, int64_t n, int64_t m, double *u,
                                         const double *v, int ctransform, int64_t k_row,
                                         int64_t k_col, double row_factor,
                                         const double *col_start, int64_t *row_cols,
                                         int64_t *row_count, int64_t *col_rows,
                                         int64_t *col_count, double *row_value,
                                         double *col_value, int64_t *col_worst,
                                         double *col_limit)
{
    int64_t i, j;
    double typical = -1.0; /* running mean of the rows' final limits (-1: none yet) */
    for (j = 0; j < m; ++j) {
        col_count[j] = 0;
        col_worst[j] = 0;
        col_limit[j] = k_col <= 0 ? -INFINITY : col_start ? col_start[j] : INFINITY;
    }
    for (i = 0; i < n; ++i) {
        const double *c = C + i * m;
        if (ctransform) {
            double low = INFINITY;
#pragma omp simd reduction(min : low)
            for (j = 0; j < m; ++j) {
                double r = c[j] - v[j];
                low = r < low ? r : low;
            }
            u[i] = low;
        }
        double ui = u[i];
        double row_limit = INFINITY;
        if (k_row <= 0)
            row_limit = -INFINITY;
        else if (row_factor > 0.0 && typical >= 0.0)
            /* at least the next double above 0: rows of tied zeros take their zeros */
            row_limit = fmax(row_factor * typical, 4.9406564584124654e-324);
        int64_t count = otkit_sl_scan_row(c, m, ui, v, i, k_row, row_cols + i * k_row,
                                          row_value, &row_limit, k_col, col_rows, col_count,
                                          col_value, col_worst, col_limit, 1);
        if (k_row > 0 && count < k_row && count < m) {
            /* the start was too low for this row: the row alone again (it is in cache) */
            row_limit = INFINITY;
            count = otkit_sl_scan_row(c, m, ui, v, i, k_row, row_cols + i * k_row, row_value,
                                      &row_limit, 0, NULL, NULL, NULL, NULL, NULL, 0);
        }
        if (k_row > 0 && row_limit < INFINITY && row_limit >= 0.0)
            typical = typical < 0.0 ? row_limit : 0.9 * typical + 0.1 * row_limit;
        row_count[i] = count;
    }
}

/* Price every arc: margin_ij = (C_ij - u_i - v_j) + rel_tol (|C_ij| + |u_i| + |v_j|) + abs_tol,
 * the exact pass's per-arc test of the network simplex (otkit_row_min_margin with exact
 * potentials).  For each row, the (at most) ``per_row`` arcs of most negative margin are
 * written to out_rows/out_cols/out_margin (capacity n * per_row; scratch: per_row doubles
 * and indices).  Returns the number written; *n_negative gets the number of negative
 * margins over all arcs. */
OTKIT_MULTIVERSION
OTKIT_STATIC int64_t otkit_shortlist_price(const double *C, int64_t n, int64_t m, const double *u,
                                           const double *v, double rel_tol, double abs_tol,
                                           int64_t per_row, int64_t *out_rows,
                                           int64_t *out_cols, double *out_margin,
                                           double *scratch_value, int64_t *scratch_index,
                                           int64_t *n_negative)
{
    int64_t i, j, k, start, stop, written = 0, negative = 0;
    for (i = 0; i < n; ++i) {
        const double *c = C + i * m;
        double ui = u[i], au = ui < 0 ? -ui : ui;
        double limit = 0.0; /* only negative margins are kept */
        int64_t count = 0, worst = 0;
        for (start = 0; start < m; start += OTKIT_SL_CHUNK) {
            stop = start + OTKIT_SL_CHUNK < m ? start + OTKIT_SL_CHUNK : m;
            double low = INFINITY;
            /* the reduced costs alone: a margin adds a non-negative tolerance to one, so a
             * chunk whose reduced costs are all >= 0 has no negative margin */
#pragma omp simd reduction(min : low)
            for (j = start; j < stop; ++j) {
                double r = c[j] - ui - v[j];
                low = r < low ? r : low;
            }
            if (!(low < 0.0))
                continue;
            for (j = start; j < stop; ++j) {
                double ac = c[j] < 0 ? -c[j] : c[j];
                double av = v[j] < 0 ? -v[j] : v[j];
                double margin = (c[j] - ui - v[j]) + (rel_tol * (ac + au + av) + abs_tol);
                if (margin < 0.0) {
                    negative += 1;
                    if (margin < limit || count < per_row)
                        otkit_sl_push(scratch_value, scratch_index, &count, per_row, &worst,
                                      &limit, margin, j);
                }
            }
        }
        for (k = 0; k < count; ++k) {
            out_rows[written] = i;
            out_cols[written] = scratch_index[k];
            out_margin[written] = scratch_value[k];
            written += 1;
        }
    }
    *n_negative = negative;
    return written;
}

/* The arcs that complete a greedy flow to a feasible one.  The greedy flow takes the arcs in
 * ``order``, each carrying min(residual supply, residual demand); the supplies and demands
 * it leaves (masses its arcs cannot reach, or rounding) are then joined by the north-west
 * corner rule over the nodes that still have some, in index order.  Only the corner's arcs
 * are written to out_rows/out_cols (capacity n + m): with them, the arcs carry a feasible
 * flow, the greedy one followed by the corner's (the same rule, so that taking the arcs in
 * ``order`` and then the corner's reproduces it).  ``supply``/``demand`` are modified
 * (residuals).  Returns the number of arcs written. */
OTKIT_STATIC int64_t otkit_shortlist_corner(const int64_t *rows, const int64_t *cols,
                                            const int64_t *order, int64_t n_order,
                                            double *supply, int64_t n, double *demand,
                                            int64_t m, int64_t *out_rows, int64_t *out_cols)
{
    int64_t k, written = 0, i = 0, j = 0;
    for (k = 0; k < n_order; ++k) {
        int64_t r = rows[order[k]], c = cols[order[k]];
        double f = supply[r] < demand[c] ? supply[r] : demand[c];
        if (f > 0.0) {
            supply[r] -= f;
            demand[c] -= f;
        }
    }
    while (1) {
        while (i < n && !(supply[i] > 0.0))
            ++i;
        while (j < m && !(demand[j] > 0.0))
            ++j;
        if (i == n || j == m)
            break;
        double f = supply[i] < demand[j] ? supply[i] : demand[j];
        supply[i] -= f;
        demand[j] -= f;
        out_rows[written] = i;
        out_cols[written] = j;
        written += 1;
    }
    return written;
}

/* The c-transform, the dual-feasible extension of potentials known on part of the rows:
 * v_j = min_{r < n_rows} (C_{rows[r] j} - u_r) over the listed rows (the rows' own
 * c-transform is part of otkit_shortlist_select).  With ``smallest`` (n_small * m doubles,
 * n_small >= 1), also the n_small smallest values
 * of C_{rows[r] j} - u_r of each column j over every ``stride``-th listed row (r = 0,
 * stride, ...), ascending, level by level (smallest[q * m + j]: the q-th smallest of
 * column j), kept by a min/max insertion network that vectorizes over j. */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_shortlist_col_ctransform(const double *C, int64_t m, const int64_t *rows,
                                                 int64_t n_rows, const double *u, double *v,
                                                 double *smallest, int64_t n_small,
                                                 int64_t stride)
{
    for (int64_t j = 0; j < m; ++j)
        v[j] = INFINITY;
    if (smallest)
        for (int64_t j = 0; j < m * n_small; ++j)
            smallest[j] = INFINITY;
    for (int64_t r = 0; r < n_rows; ++r) {
        const double *c = C + rows[r] * m;
        double ur = u[r];
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) {
            double x = c[j] - ur;
            v[j] = x < v[j] ? x : v[j];
        }
        if (!smallest || r % stride != 0)
            continue;
        for (int64_t start = 0; start < m; start += OTKIT_SL_CHUNK) {
            int64_t stop = start + OTKIT_SL_CHUNK < m ? start + OTKIT_SL_CHUNK : m;
            double carry[OTKIT_SL_CHUNK];
#pragma omp simd
            for (int64_t j = start; j < stop; ++j)
                carry[j - start] = c[j] - ur;
            for (int64_t q = 0; q < n_small; ++q) {
                double *level = smallest + q * m;
#pragma omp simd
                for (int64_t j = start; j < stop; ++j) {
                    double x = carry[j - start], y = level[j];
                    level[j] = x < y ? x : y;
                    carry[j - start] = x < y ? y : x;
                }
            }
        }
    }
}

/* out[r * n_cols + q] = C[rows[r] * m + cols[q]]: a submatrix of C (rows and columns in any
 * order), read row by row.  ``by_col`` (n_cols) lists the positions q by increasing
 * cols[q], so that each row is read forward (the writes land in one row of out). */
OTKIT_STATIC void otkit_shortlist_gather(const double *C, int64_t m, const int64_t *rows,
                                         int64_t n_rows, const int64_t *cols,
                                         const int64_t *by_col, int64_t n_cols, double *out)
{
    for (int64_t r = 0; r < n_rows; ++r) {
        const double *c = C + rows[r] * m;
        double *o = out + r * n_cols;
        for (int64_t q = 0; q < n_cols; ++q)
            o[by_col[q]] = c[cols[by_col[q]]];
    }
}

/* Whether point x comes before point y along coordinate ``axis`` (ties by index: a strict
 * order, so that selection is deterministic and duplicated points cost nothing more). */
static inline int otkit_sl_before(const double *points, int64_t d, int64_t axis, int64_t x,
                                  int64_t y)
{
    double px = points[x * d + axis], py = points[y * d + axis];
    return px < py || (px == py && x < y);
}

/* Rearrange idx[0 .. size - 1] so that idx[kth] is the point of rank kth along ``axis``,
 * those before it rank lower and those after it higher (quickselect, median-of-three). */
static void otkit_sl_select_kth(const double *points, int64_t d, int64_t axis, int64_t *idx,
                                int64_t size, int64_t kth)
{
    int64_t lo = 0, hi = size - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2, t;
        /* median of idx[lo], idx[mid], idx[hi] to idx[mid] */
        if (otkit_sl_before(points, d, axis, idx[mid], idx[lo])) {
            t = idx[mid]; idx[mid] = idx[lo]; idx[lo] = t;
        }
        if (otkit_sl_before(points, d, axis, idx[hi], idx[lo])) {
            t = idx[hi]; idx[hi] = idx[lo]; idx[lo] = t;
        }
        if (otkit_sl_before(points, d, axis, idx[hi], idx[mid])) {
            t = idx[hi]; idx[hi] = idx[mid]; idx[mid] = t;
        }
        int64_t pivot = idx[mid], i = lo, j = hi;
        while (i <= j) { /* Hoare partition around the pivot (no two points compare equal) */
            while (otkit_sl_before(points, d, axis, idx[i], pivot))
                ++i;
            while (otkit_sl_before(points, d, axis, pivot, idx[j]))
                --j;
            if (i <= j) {
                t = idx[i]; idx[i] = idx[j]; idx[j] = t;
                ++i;
                --j;
            }
        }
        if (kth <= j)
            hi = j;
        else if (kth >= i)
            lo = i;
        else
            return;
    }
}

/* A kd-tree order of n points in d dimensions (row-major): idx[0 .. n - 1] (any permutation
 * on entry) is cut into its lower size / 2 and upper points along its widest coordinate,
 * each part cut again, ``depth`` times; a part of one point is not cut.  Nearby points end
 * up at nearby places. */
static void otkit_shortlist_kd_order(const double *points, int64_t d, int64_t *idx,
                                     int64_t size, int depth)
{
    while (depth > 0 && size > 1) {
        int64_t axis = 0, k, q;
        double widest = -1.0;
        for (q = 0; q < d; ++q) {
            double low = INFINITY, high = -INFINITY;
            for (k = 0; k < size; ++k) {
                double x = points[idx[k] * d + q];
                low = x < low ? x : low;
                high = x > high ? x : high;
            }
            if (high - low > widest) {
                widest = high - low;
                axis = q;
            }
        }
        int64_t half = size / 2;
        otkit_sl_select_kth(points, d, axis, idx, size, half);
        otkit_shortlist_kd_order(points, d, idx, half, depth - 1);
        idx += half; /* the upper part: loop instead of recursing */
        size -= half;
        depth -= 1;
    }
}

#endif
