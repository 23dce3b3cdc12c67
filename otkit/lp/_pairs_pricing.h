/* Row pricing of the batch solver of many small dense problems (_simplex_batch.pyx), numeric
 * big-M mode (no symbolic part): the rows of a small cost scanned one after the other in
 * one compiled loop, each a vectorized minimum of its reduced costs
 * rc_j = (C_ij + pi_i) - pi_{sink j} (the sums of _pricing.h, so the same bits), until a row
 * holds one below the running minimum.  One call, without the per-row calls and
 * bookkeeping of the general block search, for the usual case of blocks of one row.
 * Tried (8 x 8 digits, per pair): the column of the minimum found by a vectorized minimum
 * of the matching indices (int: +1.7 k instructions; double: +10 k) or four columns at a
 * time (+0.7 k) instead of the scalar search; blocks of 2 rows (70.9 pivots instead of
 * 76.2 after the greedy start, +1.6 k) or 4 (+4.5%); Dantzig's rule over all rows (54.7
 * pivots, 307 k: a full scan, ~32 rows a pivot, which keeping the reduced costs would not
 * remove); the best row's reduced costs kept to find the column (+0.5%); the scalar tail
 * replaced by the last 4 arcs (+0.3%).  Also here: the gather of a pair's sub-cost.
 */
#ifndef OTKIT_PAIRS_PRICING_H
#define OTKIT_PAIRS_PRICING_H

#include <math.h>
#include <stdint.h>

#include "_pricing.h"

/* Scans rows row, row + 1, ... (cyclic over the n rows of the row-major n x m cost), at most
 * count of them, in blocks of `rows` rows (the last one maybe shorter), for the first block
 * that lowers the running minimum *best of the reduced costs; then *best gets the lowest
 * value of that block, *at its row and *where its first column there, and the number of
 * rows scanned (to the end of that block) is returned; 0 if no block has one.  (Keeping
 * the reduced costs of the best row, to find the column by comparisons only, cost more than
 * summing that row again.) */
OTKIT_MULTIVERSION
OTKIT_STATIC int otkit_rows_below(const double *cost, const double *pi_source,
                                  const double *pi_sink, int n, int m, int row, int count,
                                  int rows, double *best, int *at, int *where)
{
    double running = *best;
    int best_row = -1, in_block = 0;
    for (int t = 1; t <= count; ++t) {
        const double *c = cost + (int64_t)row * m;
        double p = pi_source[row], low = running;
#pragma omp simd reduction(min : low)
        for (int k = 0; k < m; ++k) {
            double rc = c[k] + p - pi_sink[k];
            low = rc < low ? rc : low;
        }
        if (low < running) {
            running = low;
            best_row = row;
        }
        if ((++in_block == rows || t == count) && best_row >= 0) {
            int k = 0;
            c = cost + (int64_t)best_row * m;
            p = pi_source[best_row];
            while (k < m - 1 && c[k] + p - pi_sink[k] != running)
                ++k;
            *best = running;
            *at = best_row;
            *where = k;
            return t;
        }
        if (in_block == rows)
            in_block = 0;
        if (++row == n)
            row = 0;
    }
    return 0;
}

/* The exact pass of the numeric mode with the thresholds at the arcs' own scale (err_weight
 * 0): the arc of lowest margin rc_ij + (rel_tol (|C_ij| + |pi_i| + |pi_{sink j}|) + abs_tol)
 * over the n x m cost, its first in row-major order, if that margin is negative (-1 if
 * none): otkit_row_min_margin's answer over all rows (the same sums), with one vectorized
 * minimum per row and no chunk bookkeeping. */
OTKIT_MULTIVERSION
OTKIT_STATIC int64_t otkit_rows_min_margin(const double *cost, const double *pi_source,
                                           const double *pi_sink, int n, int m,
                                           double rel_tol, double abs_tol)
{
    double running = 0.0;
    int best_row = -1;
    for (int i = 0; i < n; ++i) {
        const double *c = cost + (int64_t)i * m;
        double p = pi_source[i], ap = p < 0 ? -p : p, low = running;
#pragma omp simd reduction(min : low)
        for (int k = 0; k < m; ++k) {
            double rc = c[k] + p - pi_sink[k];
            double ac = c[k] < 0 ? -c[k] : c[k];
            double as = pi_sink[k] < 0 ? -pi_sink[k] : pi_sink[k];
            double margin = rc + (rel_tol * (ac + ap + as) + abs_tol);
            low = margin < low ? margin : low;
        }
        if (low < running) {
            running = low;
            best_row = i;
        }
    }
    if (best_row < 0)
        return -1;
    const double *c = cost + (int64_t)best_row * m;
    double p = pi_source[best_row], ap = p < 0 ? -p : p;
    int k = 0;
    for (; k < m - 1; ++k) {
        double rc = c[k] + p - pi_sink[k];
        double ac = c[k] < 0 ? -c[k] : c[k];
        double as = pi_sink[k] < 0 ? -pi_sink[k] : pi_sink[k];
        if (rc + (rel_tol * (ac + ap + as) + abs_tol) == running)
            break;
    }
    return (int64_t)best_row * m + k;
}

/* The pair's sub-cost out[i * m + j] = M[bins_a[i] * ld + bins_b[j]] (row-major n x m),
 * with its largest |entry| and the sum of them (the cost range of dense_prepare), in one
 * pass, vectorized per row (on 8 x 8 digits 6.9 k instructions a pair, ~6.7 an entry,
 * against 9.8 k for the scalar gather then otkit_abs_max_sum; the same CPU time, within
 * ~1%: the compiler emulates the gather with scalar loads, which bound both; the abs as a
 * select, c < 0 ? -c : c, took 0.6 k more). */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_pairs_gather(const double *M, int64_t ld, const int64_t *bins_a, int n,
                                     const int64_t *bins_b, int m, double *out,
                                     double *peak_out, double *sum_out)
{
    double peak = 0.0, total = 0.0;
    for (int i = 0; i < n; ++i) {
        const double *row = M + bins_a[i] * ld;
        double *o = out + (int64_t)i * m, high = 0.0, sum = 0.0;
#pragma omp simd reduction(max : high) reduction(+ : sum)
        for (int j = 0; j < m; ++j) {
            double c = row[bins_b[j]], v = fabs(c);
            o[j] = c;
            high = v > high ? v : high;
            sum += v;
        }
        peak = high > peak ? high : peak;
        total += sum;
    }
    *peak_out = peak;
    *sum_out = total;
}

#endif
