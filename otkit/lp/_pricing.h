/* Pricing kernel of the network simplex, in C so that the compiler vectorizes it
 * (``#pragma omp simd`` needs only -fopenmp-simd, no OpenMP runtime).
 *
 * A segment is a run of consecutive arcs (i, j0 .. j0 + len - 1) of one source row i, with
 * reduced costs rc_j = (C_ij + pi_i - pi_{sink j}) + (big_i - big_{sink j}).  Potentials
 * are split into a real part pi and a symbolic big-M part big (+-W, W a power of two far
 * above any real part): the real part is summed first, so it keeps full precision whenever
 * the big parts cancel (both ends under the same kind of artificial arc), and the sign of
 * the sum is that of the big part when they do not.  Basic (tree) arcs are not masked out:
 * their reduced cost is zero up to rounding, far above the entering threshold, and the
 * caller checks the one arc it picks.  A NULL ``big_sink`` means no symbolic part (the
 * solver's numeric big-M mode): the same sums without it.
 */
#ifndef OTKIT_PRICING_H
#define OTKIT_PRICING_H

#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* AVX2 where the CPU has it, chosen at load time; the SSE2 baseline otherwise. */
#define OTKIT_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define OTKIT_MULTIVERSION
#endif

/* Each module that includes this header uses some of its kernels only. */
#if defined(__GNUC__)
#define OTKIT_STATIC static __attribute__((unused))
#else
#define OTKIT_STATIC static
#endif

#define OTKIT_CHUNK 64

/* Lower the running minimum ``*best`` with VALUE, an expression of the index k, over
 * k = 0 .. len - 1: a vectorized minimum chunk by chunk.  When it is lowered, ``*where`` gets
 * the offset of the chunk of OTKIT_CHUNK items that holds the new minimum, so that the item
 * itself is found by scanning that chunk only.  (Shared with _sparse_pricing.h.) */
#define OTKIT_CHUNKED_MIN(len, best, where, VALUE)                                              \
    do {                                                                                        \
        double otkit_running = *(best);                                                         \
        for (int64_t otkit_start = 0; otkit_start < (len); otkit_start += OTKIT_CHUNK) {        \
            int64_t otkit_stop =                                                                \
                otkit_start + OTKIT_CHUNK < (len) ? otkit_start + OTKIT_CHUNK : (len);          \
            double otkit_chunk = otkit_running;                                                 \
            _Pragma("omp simd reduction(min : otkit_chunk)")                                    \
            for (int64_t k = otkit_start; k < otkit_stop; ++k) {                                \
                double otkit_value = (VALUE);                                                   \
                otkit_chunk = otkit_value < otkit_chunk ? otkit_value : otkit_chunk;            \
            }                                                                                   \
            if (otkit_chunk < otkit_running) {                                                  \
                otkit_running = otkit_chunk;                                                    \
                *(where) = otkit_start;                                                         \
            }                                                                                   \
        }                                                                                       \
        *(best) = otkit_running;                                                                \
    } while (0)

static inline __attribute__((always_inline)) double
otkit_segment_rc(const double *cost, const double *pi_sink, double pi_source,
                 const double *big_sink, double big_source, int64_t k, const int symbolic)
{
    double rc = cost[k] + pi_source - pi_sink[k];
    if (symbolic)
        rc += big_source - big_sink[k];
    return rc;
}

/* Lower the running minimum ``*best`` with the reduced costs of a segment (``*where``: the
 * chunk that holds the new minimum). */
static inline __attribute__((always_inline)) void
otkit_segment_min_impl(const double *cost, const double *pi_sink, double pi_source,
                       const double *big_sink, double big_source, int64_t len, double *best,
                       int64_t *where, const int symbolic)
{
    OTKIT_CHUNKED_MIN(len, best, where,
                      otkit_segment_rc(cost, pi_sink, pi_source, big_sink, big_source, k,
                                       symbolic));
}

OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_segment_min(const double *cost, const double *pi_sink, double pi_source,
                              const double *big_sink, double big_source, int64_t len,
                              double *best, int64_t *where)
{
    /* Two specialized copies of the loop (symbolic is a constant in each). */
    if (big_sink)
        otkit_segment_min_impl(cost, pi_sink, pi_source, big_sink, big_source, len, best, where,
                               1);
    else
        otkit_segment_min_impl(cost, pi_sink, pi_source, big_sink, big_source, len, best, where,
                               0);
}

/* Offset of the arc with the smallest reduced cost among the first ``len`` arcs. */
OTKIT_STATIC int64_t otkit_segment_argmin(const double *cost, const double *pi_sink,
                                          double pi_source,
                                    const double *big_sink, double big_source, int64_t len)
{
    int64_t best_k = 0;
    double best = cost[0] + pi_source - pi_sink[0] + (big_sink ? big_source - big_sink[0] : 0.0);
    for (int64_t k = 1; k < len; ++k) {
        double rc = cost[k] + pi_source - pi_sink[k] + (big_sink ? big_source - big_sink[k] : 0.0);
        if (rc < best) {
            best = rc;
            best_k = k;
        }
    }
    return best_k;
}

/* Exact pricing of one row: the arc whose reduced cost is lowest below its own tolerance,
 * rc_j + rel_tol * (|C_ij| + |pi_i| + |pi_j| + w (err_i + err_j)) + abs_tol (the most
 * negative such margin), err being the rounding bounds of the potentials in units of eps and
 * w = err_weight 0 or 1.
 * Used for the full pass that decides optimality, where the threshold must be per arc:
 * the block search compares the minimum reduced cost with the tolerance of the one arc that
 * holds it, which hides an arc of cost ~1 tied with a cost-1e15 arc.  Returns the offset, or
 * -1 when every margin is >= *best (which is lowered to the margin found). */
OTKIT_MULTIVERSION
OTKIT_STATIC int64_t otkit_row_min_margin(const double *cost, const double *pi_sink,
                                          double pi_source,
                                    const double *big_sink, double big_source,
                                    const double *err_sink, double err_source, double err_weight,
                                    int64_t len, double rel_tol, double abs_tol, double *best)
{
    int64_t best_start = -1, best_stop = 0;
    double running = *best;
    double abs_source = (pi_source < 0 ? -pi_source : pi_source) + err_weight * err_source;
    /* Vectorized minimum chunk by chunk, then the arc itself in the chunk that holds it. */
    for (int64_t start = 0; start < len; start += OTKIT_CHUNK) {
        int64_t stop = start + OTKIT_CHUNK < len ? start + OTKIT_CHUNK : len;
        double chunk = running;
        if (big_sink) {
#pragma omp simd reduction(min : chunk)
            for (int64_t k = start; k < stop; ++k) {
                double rc = (cost[k] + pi_source - pi_sink[k]) + (big_source - big_sink[k]);
                double c = cost[k] < 0 ? -cost[k] : cost[k];
                double p = pi_sink[k] < 0 ? -pi_sink[k] : pi_sink[k];
                double margin = rc + (rel_tol * (c + abs_source + p + err_weight * err_sink[k])
                                      + abs_tol);
                chunk = margin < chunk ? margin : chunk;
            }
        } else if (err_weight != 0.0) {
#pragma omp simd reduction(min : chunk)
            for (int64_t k = start; k < stop; ++k) {
                double rc = cost[k] + pi_source - pi_sink[k];
                double c = cost[k] < 0 ? -cost[k] : cost[k];
                double p = pi_sink[k] < 0 ? -pi_sink[k] : pi_sink[k];
                double margin = rc + (rel_tol * (c + abs_source + p + err_weight * err_sink[k])
                                      + abs_tol);
                chunk = margin < chunk ? margin : chunk;
            }
        } else {
#pragma omp simd reduction(min : chunk)
            for (int64_t k = start; k < stop; ++k) {
                double rc = cost[k] + pi_source - pi_sink[k];
                double c = cost[k] < 0 ? -cost[k] : cost[k];
                double p = pi_sink[k] < 0 ? -pi_sink[k] : pi_sink[k];
                double margin = rc + (rel_tol * (c + abs_source + p) + abs_tol);
                chunk = margin < chunk ? margin : chunk;
            }
        }
        if (chunk < running) {
            running = chunk;
            best_start = start;
            best_stop = stop;
        }
    }
    if (best_start < 0)
        return -1;
    *best = running;
    /* Argmin in that chunk (the caller checks the arc's margin again, in case the vector
     * and scalar loops round differently). */
    int64_t best_k = best_start;
    double lowest = 0.0;
    for (int64_t k = best_start; k < best_stop; ++k) {
        double rc = cost[k] + pi_source - pi_sink[k] + (big_sink ? big_source - big_sink[k] : 0.0);
        double c = cost[k] < 0 ? -cost[k] : cost[k];
        double p = pi_sink[k] < 0 ? -pi_sink[k] : pi_sink[k];
        double margin = rc + (rel_tol * (c + abs_source + p + err_weight * err_sink[k])
                              + abs_tol);
        if (k == best_start || margin < lowest) {
            lowest = margin;
            best_k = k;
        }
    }
    return best_k;
}

/* Largest |x_k| and sum of |x_k| (the cost range, for the choice of the big-M mode). */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_abs_max_sum(const double *x, int64_t len, double *peak_out, double *sum_out)
{
    double peak = 0.0, total = 0.0;
#pragma omp simd reduction(max : peak) reduction(+ : total)
    for (int64_t k = 0; k < len; ++k) {
        double v = x[k] < 0 ? -x[k] : x[k];
        peak = v > peak ? v : peak;
        total += v;
    }
    *peak_out = peak;
    *sum_out = total;
}

/* Dual feasibility of the certificate, one fused pass: the lowest margin
 *     (C_ij - u_i - v_j) + rel * (|C_ij| + |u_i| + |v_j|) + floor
 * over n rows of m entries (``ld`` entries apart), and in *row the row that holds it.  A
 * negative margin is an arc below its tolerance.  No temporaries: one read of C. */
OTKIT_MULTIVERSION
OTKIT_STATIC double otkit_dual_margin(const double *cost, int64_t n, int64_t m, int64_t ld,
                                const double *u, const double *v, double rel, double floor_,
                                int64_t *row)
{
    double lowest = 1.0 / 0.0;
    *row = -1;
    for (int64_t i = 0; i < n; ++i) {
        const double *c = cost + i * ld;
        double ui = u[i], au = ui < 0 ? -ui : ui;
        double low = 1.0 / 0.0;
#pragma omp simd reduction(min : low)
        for (int64_t j = 0; j < m; ++j) {
            double ac = c[j] < 0 ? -c[j] : c[j];
            double av = v[j] < 0 ? -v[j] : v[j];
            double margin = (c[j] - ui - v[j]) + (rel * (ac + au + av) + floor_);
            low = margin < low ? margin : low;
        }
        if (low < lowest) {
            lowest = low;
            *row = i;
        }
    }
    return lowest;
}

#endif
