/* Pricing kernel of the network simplex, in C so that the compiler vectorizes it
 * (``#pragma omp simd`` needs only -fopenmp-simd, no OpenMP runtime).
 *
 * A segment is a run of consecutive arcs (i, j0 .. j0 + len - 1) of one source row i, with
 * reduced costs rc_j = C_ij + pi_i - pi_{sink j}.  Basic (tree) arcs are not masked out:
 * their reduced cost is zero up to rounding, far above the entering threshold, and the
 * caller checks the one arc it picks.
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

#define OTKIT_CHUNK 64

/* Lower the running minimum ``*best`` with the reduced costs of a segment.  When it is
 * lowered, ``*where`` gets the offset of the chunk of OTKIT_CHUNK arcs that holds the new
 * minimum, so that the arc itself is found by scanning that chunk only. */
OTKIT_MULTIVERSION
static void otkit_segment_min(const double *cost, const double *pi_sink, double pi_source,
                              int64_t len, double *best, int64_t *where)
{
    double running = *best;
    for (int64_t start = 0; start < len; start += OTKIT_CHUNK) {
        int64_t stop = start + OTKIT_CHUNK < len ? start + OTKIT_CHUNK : len;
        double chunk = running;
#pragma omp simd reduction(min : chunk)
        for (int64_t k = start; k < stop; ++k) {
            double rc = cost[k] + pi_source - pi_sink[k];
            chunk = rc < chunk ? rc : chunk;
        }
        if (chunk < running) {
            running = chunk;
            *where = start;
        }
    }
    *best = running;
}

/* Offset of the arc with the smallest reduced cost among the first ``len`` arcs. */
static int64_t otkit_segment_argmin(const double *cost, const double *pi_sink, double pi_source,
                                    int64_t len)
{
    int64_t best_k = 0;
    double best = cost[0] + pi_source - pi_sink[0];
    for (int64_t k = 1; k < len; ++k) {
        double rc = cost[k] + pi_source - pi_sink[k];
        if (rc < best) {
            best = rc;
            best_k = k;
        }
    }
    return best_k;
}

#endif
