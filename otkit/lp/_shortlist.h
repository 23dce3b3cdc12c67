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

/* The ``k_row`` smallest reduced costs C_ij - u_i - v_j of every row (row_cols: n * k_row
 * column indices, row by row) and the ``k_col`` smallest of every column (col_rows:
 * m * k_col row indices, column by column), in one pass over C.  Scratch: col_value
 * (m * k_col doubles), col_worst (m), col_limit (m doubles), row_value (k_row doubles).
 * Lists are shorter than k where a row (column) has fewer entries; the counts come back in
 * row_count (n) and col_count (m). */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_shortlist_select(const double *C, int64_t n, int64_t m, const double *u,
                                         const double *v, int64_t k_row, int64_t k_col,
                                         int64_t *row_cols, int64_t *row_count,
                                         int64_t *col_rows, int64_t *col_count,
                                         double *row_value, double *col_value,
                                         int64_t *col_worst, double *col_limit)
{
    int64_t i, j, start, stop;
    for (j = 0; j < m; ++j) {
        col_count[j] = 0;
        col_worst[j] = 0;
        col_limit[j] = k_col > 0 ? INFINITY : -INFINITY;
    }
    for (i = 0; i < n; ++i) {
        const double *c = C + i * m;
        double ui = u[i];
        double row_limit = k_row > 0 ? INFINITY : -INFINITY;
        int64_t count = 0, worst = 0;
        for (start = 0; start < m; start += OTKIT_SL_SELECT_CHUNK) {
            stop = start + OTKIT_SL_SELECT_CHUNK < m ? start + OTKIT_SL_SELECT_CHUNK : m;
            double low = INFINITY;
            /* below the row's limit or below the column's: the smaller of the two gaps */
#pragma omp simd reduction(min : low)
            for (j = start; j < stop; ++j) {
                double r = c[j] - ui - v[j];
                double gap_row = r - row_limit, gap_col = r - col_limit[j];
                double gap = gap_row < gap_col ? gap_row : gap_col;
                low = gap < low ? gap : low;
            }
            if (!(low < 0.0))
                continue;
            for (j = start; j < stop; ++j) {
                double r = c[j] - ui - v[j];
                if (r < row_limit)
                    otkit_sl_push(row_value, row_cols + i * k_row, &count, k_row, &worst,
                                  &row_limit, r, j);
                if (r < col_limit[j])
                    otkit_sl_push(col_value + j * k_col, col_rows + j * k_col, col_count + j,
                                  k_col, col_worst + j, col_limit + j, r, i);
            }
        }
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
#pragma omp simd reduction(min : low)
            for (j = start; j < stop; ++j) {
                double ac = c[j] < 0 ? -c[j] : c[j];
                double av = v[j] < 0 ? -v[j] : v[j];
                double margin = (c[j] - ui - v[j]) + (rel_tol * (ac + au + av) + abs_tol);
                low = margin < low ? margin : low;
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

/* Greedy feasible flow on arcs sorted by cost: each arc carries min(residual supply,
 * residual demand).  The supplies and demands left over (rounding, or masses the arcs
 * cannot reach) are then joined by the north-west corner rule over the nodes that still
 * have some, so that the arcs written (``order``'s arcs that carried flow, then the
 * corner's) carry a feasible flow.  ``supply``/``demand`` are modified (residuals).
 * Returns the number of arcs written to out_rows/out_cols (capacity n_arcs + n + m). */
OTKIT_STATIC int64_t otkit_shortlist_feasible(const int64_t *rows, const int64_t *cols,
                                              const int64_t *order, int64_t n_arcs,
                                              double *supply, int64_t n, double *demand,
                                              int64_t m, int64_t *out_rows, int64_t *out_cols)
{
    int64_t k, written = 0, i = 0, j = 0;
    for (k = 0; k < n_arcs; ++k) {
        int64_t r = rows[order[k]], c = cols[order[k]];
        double f = supply[r] < demand[c] ? supply[r] : demand[c];
        if (f > 0.0) {
            supply[r] -= f;
            demand[c] -= f;
            out_rows[written] = r;
            out_cols[written] = c;
            written += 1;
        }
    }
    /* north-west corner over the residuals: rows and columns with mass left, in order */
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

/* c-transforms, the dual-feasible extension of potentials known on part of the nodes:
 * u_i = min_j (C_ij - v_j) for every row (row_ctransform), and
 * v_j = min_{r < n_rows} (C_{rows[r] j} - u_r) over the listed rows (col_ctransform). */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_shortlist_row_ctransform(const double *C, int64_t n, int64_t m,
                                                 const double *v, double *u)
{
    for (int64_t i = 0; i < n; ++i) {
        const double *c = C + i * m;
        double low = INFINITY;
#pragma omp simd reduction(min : low)
        for (int64_t j = 0; j < m; ++j) {
            double r = c[j] - v[j];
            low = r < low ? r : low;
        }
        u[i] = low;
    }
}

OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_shortlist_col_ctransform(const double *C, int64_t m, const int64_t *rows,
                                                 int64_t n_rows, const double *u, double *v)
{
    for (int64_t j = 0; j < m; ++j)
        v[j] = INFINITY;
    for (int64_t r = 0; r < n_rows; ++r) {
        const double *c = C + rows[r] * m;
        double ur = u[r];
#pragma omp simd
        for (int64_t j = 0; j < m; ++j) {
            double x = c[j] - ur;
            v[j] = x < v[j] ? x : v[j];
        }
    }
}

#endif
