/* Certificate scan of the lazy exact solver (driven by _lazy_scanner.py, wrapped by
 * _lazy_scan.pyx): for every source row i of a block, find the targets j whose reduced cost
 * r_ij = c(x_i, y_j) - u_i - v_j is below -tau_ij, tau_ij = DUAL_ULPS eps (|c| + |u_i| + |v_j|)
 * + extra_tol, and keep the k most negative of each row (an insertion buffer).
 *
 * The targets come permuted into cells of a kd partition ("chunks" of consecutive indices).
 * Per (row, chunk):
 *
 * 1. pruning (sqeuclidean only, optional): with f_i = |x_i|^2 - u_i, g_j = |y_j|^2 - v_j
 *    (centred points), r_ij = f_i + g_j - 2 x_i.y_j, and for the chunk's centre q, radius
 *    rho >= |y_j - q| and anchor z,
 *        r_ij >= L_iQ = f_i + B'_Q - 2 x_i.q - 2 rho |x_i - z|,
 *        B'_Q = min_j (g_j - 2 z.y_j) + 2 z.q,
 *    (Cauchy-Schwarz on -2 (x_i - z).(y_j - q)).  The chunk is skipped when the computed
 *    L_iQ >= margin_i, a bound on the rounding of L and of the recheck below, so a skipped
 *    pair has r_ij >= 0 >= -tau_ij in the arithmetic of the recheck.  Before the rows, a
 *    block R of consecutive rows (w, sigma >= |x_i - w|, anchor s) tests each chunk once:
 *        L_iQ >= L_RQ = A_R - 2 w.(q - s) - 2 sigma |q - s| + B'_Q - 2 rho (|w - z| + sigma),
 *        A_R = min_{i in R} (f_i - 2 x_i.s),
 *    and its rows test only the chunks that pass (the driver numbers rows spatially, so
 *    that blocks are small).
 * 2. prefilter, vectorized over the chunk: sqeuclidean by the expansion f_i + g_j - 2 x_i.y_j
 *    compared with a per-row rounding bound row_err_i (every violator lies below it); other
 *    costs by r_ij + tau_ij / 2 < 0 from the coordinates.
 * 3. exact recheck of the candidates from the original coordinates (as PointCost.pairs).
 */
#ifndef OTKIT_LAZY_SCAN_H
#define OTKIT_LAZY_SCAN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define OTKIT_SCAN_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define OTKIT_SCAN_MULTIVERSION
#endif

#define OTKIT_SCAN_CHUNK 256 /* the longest chunk; the driver splits longer cells */

enum { OTKIT_SQEUCLIDEAN = 0, OTKIT_EUCLIDEAN = 1, OTKIT_CITYBLOCK = 2, OTKIT_MINKOWSKI = 3 };

typedef struct {
    int64_t n, m, d, k;
    int metric;
    double p, power, dual_rel, extra_tol;
    const double *X;  /* n x d, original coordinates */
    const double *Y;  /* m x d, original coordinates, permuted */
    const double *Ys; /* d x m, original coordinates, permuted (other costs) */
    const double *u;  /* n */
    const double *v;  /* m, permuted */
    /* sqeuclidean (power 1): expansion on centred points */
    const double *Xc;      /* n x d */
    const double *Yc;      /* d x m, permuted */
    const double *f;       /* n */
    const double *g;       /* m, permuted */
    const double *row_err; /* n */
    /* chunks: targets chunk_start[c] .. chunk_start[c + 1] - 1 */
    int64_t n_chunks;
    const int64_t *chunk_start;
    int prune;
    const double *q;           /* d x n_chunks */
    const double *z;           /* d x n_chunks */
    const double *bound_const; /* n_chunks: B'_Q */
    const double *radius;      /* n_chunks */
    const double *margin;      /* n */
    /* row blocks of pruning: rows b * row_block .. (b + 1) * row_block - 1 */
    int64_t row_block;
    const double *w;           /* d x n_blocks: a point of the block */
    const double *anchor;      /* d x n_blocks: s_R */
    const double *sigma;       /* n_blocks: >= |x_i - w| */
    const double *block_low;   /* n_blocks: A_R */
    const double *block_margin; /* n_blocks */
    int64_t n_blocks;
    /* outputs, per row: k columns (permuted) and reduced costs, most negative first */
    int64_t *out_cols;
    double *out_rc;
    int64_t *out_count; /* violators found in the row (all of them, not only k) */
} otkit_scan_t;

static inline double otkit_scan_pair_cost(const otkit_scan_t *s, const double *x,
                                          const double *y)
{
    double acc = 0.0;
    int64_t d = s->d;
    if (s->metric <= OTKIT_EUCLIDEAN) {
        for (int64_t k = 0; k < d; ++k) {
            double t = x[k] - y[k];
            acc += t * t;
        }
        if (s->metric == OTKIT_EUCLIDEAN)
            acc = sqrt(acc);
    } else if (s->metric == OTKIT_CITYBLOCK) {
        for (int64_t k = 0; k < d; ++k)
            acc += fabs(x[k] - y[k]);
    } else {
        for (int64_t k = 0; k < d; ++k)
            acc += pow(fabs(x[k] - y[k]), s->p);
        acc = pow(acc, 1.0 / s->p);
    }
    return s->power == 1.0 ? acc : pow(acc, s->power);
}

/* Insert (col, rc) into the row's buffer, sorted ascending, of at most k entries. */
static inline void otkit_scan_insert(int64_t *cols, double *rcs, int64_t filled, int64_t k,
                                     int64_t col, double rc)
{
    int64_t at = filled < k ? filled : k - 1;
    if (filled >= k && !(rc < rcs[k - 1]))
        return;
    while (at > 0 && rc < rcs[at - 1]) {
        cols[at] = cols[at - 1];
        rcs[at] = rcs[at - 1];
        --at;
    }
    cols[at] = col;
    rcs[at] = rc;
}

/* Exact recheck of pair (i, j); returns 1 and inserts it when it violates. */
static inline int otkit_scan_recheck(const otkit_scan_t *s, int64_t i, int64_t j,
                                     int64_t *cols, double *rcs, int64_t filled)
{
    double c = otkit_scan_pair_cost(s, s->X + i * s->d, s->Y + j * s->d);
    double r = c - s->u[i] - s->v[j];
    double tol = s->dual_rel * (fabs(c) + fabs(s->u[i]) + fabs(s->v[j])) + s->extra_tol;
    if (r < -tol) {
        otkit_scan_insert(cols, rcs, filled, s->k, j, r);
        return 1;
    }
    return 0;
}

/* Rows row_start .. row_stop - 1; returns the number of pairs evaluated (not pruned), -1 if
 * out of memory. */
OTKIT_SCAN_MULTIVERSION
static int64_t otkit_lazy_scan(const otkit_scan_t *s, int64_t row_start, int64_t row_stop)
{
    double value[OTKIT_SCAN_CHUNK];
    const int64_t d = s->d, m = s->m, nc = s->n_chunks;
    const int sq = s->metric == OTKIT_SQEUCLIDEAN && s->power == 1.0;
    int64_t evaluated = 0, n_live = nc;
    int64_t *live = (int64_t *)malloc((nc > 0 ? nc : 1) * sizeof(int64_t));
    if (live == NULL)
        return -1;
    for (int64_t c = 0; c < nc; ++c)
        live[c] = c;
    int64_t block = -1;
    for (int64_t i = row_start; i < row_stop; ++i) {
        if (s->prune && i / s->row_block != block) {
            block = i / s->row_block;
            n_live = 0;
            for (int64_t c = 0; c < nc; ++c) {
                double wq = 0.0, qs2 = 0.0, wz2 = 0.0;
                for (int64_t k = 0; k < d; ++k) {
                    const double qk = s->q[k * nc + c], sk = s->anchor[k * s->n_blocks + block];
                    const double wk = s->w[k * s->n_blocks + block];
                    wq += wk * (qk - sk);
                    qs2 += (qk - sk) * (qk - sk);
                    wz2 += (wk - s->z[k * nc + c]) * (wk - s->z[k * nc + c]);
                }
                const double sg = s->sigma[block];
                double low = s->block_low[block] - 2.0 * wq - 2.0 * sg * sqrt(qs2)
                             + s->bound_const[c] - 2.0 * s->radius[c] * (sqrt(wz2) + sg);
                if (!(low >= s->block_margin[block]))
                    live[n_live++] = c;
            }
        }
        int64_t *cols = s->out_cols + i * s->k;
        double *rcs = s->out_rc + i * s->k;
        int64_t found = 0;
        const double *xc = sq ? s->Xc + i * d : s->X + i * d;
        for (int64_t live_at = 0; live_at < n_live; ++live_at) {
            const int64_t c = live[live_at];
            const int64_t lo = s->chunk_start[c], len = s->chunk_start[c + 1] - lo;
            if (s->prune) {
                double dot = 0.0, dist2 = 0.0;
                for (int64_t k = 0; k < d; ++k) {
                    double t = xc[k] - s->z[k * nc + c];
                    dot += xc[k] * s->q[k * nc + c];
                    dist2 += t * t;
                }
                double low = s->f[i] + s->bound_const[c] - 2.0 * dot
                             - 2.0 * s->radius[c] * sqrt(dist2);
                if (low >= s->margin[i])
                    continue;
            }
            evaluated += len;
            double lowest = INFINITY, threshold;
            if (sq) {
                const double fi = s->f[i];
                threshold = s->row_err[i];
#pragma omp simd
                for (int64_t t = 0; t < len; ++t)
                    value[t] = s->g[lo + t];
                for (int64_t k = 0; k < d; ++k) {
                    const double two_x = 2.0 * xc[k];
                    const double *yk = s->Yc + k * m + lo;
#pragma omp simd
                    for (int64_t t = 0; t < len; ++t)
                        value[t] -= two_x * yk[t];
                }
#pragma omp simd reduction(min : lowest)
                for (int64_t t = 0; t < len; ++t) {
                    value[t] += fi;
                    lowest = value[t] < lowest ? value[t] : lowest;
                }
            } else {
                const double ui = s->u[i], half_rel = 0.5 * s->dual_rel;
                threshold = 0.0;
#pragma omp simd
                for (int64_t t = 0; t < len; ++t)
                    value[t] = 0.0;
                for (int64_t k = 0; k < d; ++k) {
                    const double xk = s->X[i * d + k];
                    const double *yk = s->Ys + k * m + lo;
                    if (s->metric == OTKIT_CITYBLOCK) {
#pragma omp simd
                        for (int64_t t = 0; t < len; ++t)
                            value[t] += fabs(xk - yk[t]);
                    } else if (s->metric == OTKIT_MINKOWSKI) {
                        for (int64_t t = 0; t < len; ++t)
                            value[t] += pow(fabs(xk - yk[t]), s->p);
                    } else {
#pragma omp simd
                        for (int64_t t = 0; t < len; ++t)
                            value[t] += (xk - yk[t]) * (xk - yk[t]);
                    }
                }
                for (int64_t t = 0; t < len; ++t) {
                    double cost = value[t];
                    if (s->metric == OTKIT_EUCLIDEAN)
                        cost = sqrt(cost);
                    else if (s->metric == OTKIT_MINKOWSKI)
                        cost = pow(cost, 1.0 / s->p);
                    if (s->power != 1.0)
                        cost = pow(cost, s->power);
                    const double vj = s->v[lo + t];
                    /* half the tolerance: the recheck decides, with the full one */
                    value[t] = cost - ui - vj
                               + half_rel * (fabs(cost) + fabs(ui) + fabs(vj));
                    lowest = value[t] < lowest ? value[t] : lowest;
                }
            }
            if (!(lowest < threshold))
                continue;
            for (int64_t t = 0; t < len; ++t)
                if (value[t] < threshold)
                    found += otkit_scan_recheck(s, i, lo + t, cols, rcs, found);
        }
        s->out_count[i] = found;
    }
    free(live);
    return evaluated;
}

#endif
