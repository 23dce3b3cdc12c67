/* Pricing kernels of the sparse-arc network simplex: the same sums as _pricing.h's, over an
 * arc list (tail, head, cost) instead of a row of the cost matrix, so the potentials of
 * both ends are gathered.  Reduced cost of arc k:
 *     rc_k = (cost_k + pi[tail_k] - pi_sink[head_k]) + (big[tail_k] - big_sink[head_k]),
 * the real part first (exact when the big parts cancel), the symbolic big-M part (+-W)
 * after; the sparse solver is always symbolic.  Tree arcs are not masked (their reduced
 * cost is zero up to rounding, far above the thresholds; the caller checks the arc it
 * picks).
 */
#ifndef OTKIT_SPARSE_PRICING_H
#define OTKIT_SPARSE_PRICING_H

#include <stdint.h>

#include "_pricing.h" /* OTKIT_MULTIVERSION, OTKIT_STATIC, OTKIT_CHUNKED_MIN */

static inline __attribute__((always_inline)) double
otkit_arc_rc(const double *cost, const int32_t *tail, const int32_t *head, const double *pi,
             const double *pi_sink, const double *big, const double *big_sink, int64_t k)
{
    double rc = cost[k] + pi[tail[k]] - pi_sink[head[k]];
    rc += big[tail[k]] - big_sink[head[k]];
    return rc;
}

/* Margin of arc k against its own threshold (negative: the arc may enter):
 * rc_k + rel_tol (|cost_k| + |pi_s| + w err_s + |pi_t| + w err_t) + abs_tol, err being the
 * potentials' rounding bounds in units of eps and w = err_weight 0 or 1. */
static inline __attribute__((always_inline)) double
otkit_arc_margin(const double *cost, const int32_t *tail, const int32_t *head, const double *pi,
                 const double *pi_sink, const double *big, const double *big_sink,
                 const double *err, const double *err_sink, double err_weight, double rel_tol,
                 double abs_tol, int64_t k)
{
    double rc = otkit_arc_rc(cost, tail, head, pi, pi_sink, big, big_sink, k);
    double c = cost[k] < 0 ? -cost[k] : cost[k];
    double ps = pi[tail[k]], pt = pi_sink[head[k]];
    double abs_source = (ps < 0 ? -ps : ps) + err_weight * err[tail[k]];
    double p = pt < 0 ? -pt : pt;
    return rc + (rel_tol * (c + abs_source + p + err_weight * err_sink[head[k]]) + abs_tol);
}

/* Arc k's reduced cost (margin = 0) or margin (margin = 1; err, err_sink unread
 * otherwise); ``margin`` is a constant in each caller, so each gets its own loop. */
static inline __attribute__((always_inline)) double
otkit_arc_value(const double *cost, const int32_t *tail, const int32_t *head, const double *pi,
                const double *pi_sink, const double *big, const double *big_sink,
                const double *err, const double *err_sink, double err_weight, double rel_tol,
                double abs_tol, int64_t k, const int margin)
{
    if (margin)
        return otkit_arc_margin(cost, tail, head, pi, pi_sink, big, big_sink, err, err_sink,
                                err_weight, rel_tol, abs_tol, k);
    return otkit_arc_rc(cost, tail, head, pi, pi_sink, big, big_sink, k);
}

#define OTKIT_ARC_ARGS cost, tail, head, pi, pi_sink, big, big_sink, err, err_sink, err_weight, \
    rel_tol, abs_tol

/* Lower the running minimum ``*best`` with the values of arcs 0 .. len - 1 (``*where``: the
 * chunk that holds the new minimum). */
static inline __attribute__((always_inline)) void
otkit_arcs_min_impl(const double *cost, const int32_t *tail, const int32_t *head,
                    const double *pi, const double *pi_sink, const double *big,
                    const double *big_sink, const double *err, const double *err_sink,
                    double err_weight, double rel_tol, double abs_tol, int64_t len, double *best,
                    int64_t *where, const int margin)
{
    OTKIT_CHUNKED_MIN(len, best, where, otkit_arc_value(OTKIT_ARC_ARGS, k, margin));
}

/* Offset of the arc of lowest value among arcs 0 .. len - 1 (len >= 1). */
static inline __attribute__((always_inline)) int64_t
otkit_arcs_argmin_impl(const double *cost, const int32_t *tail, const int32_t *head,
                       const double *pi, const double *pi_sink, const double *big,
                       const double *big_sink, const double *err, const double *err_sink,
                       double err_weight, double rel_tol, double abs_tol, int64_t len,
                       const int margin)
{
    int64_t best_k = 0;
    double best = otkit_arc_value(OTKIT_ARC_ARGS, 0, margin);
    for (int64_t k = 1; k < len; ++k) {
        double value = otkit_arc_value(OTKIT_ARC_ARGS, k, margin);
        if (value < best) {
            best = value;
            best_k = k;
        }
    }
    return best_k;
}

/* Block search: lower ``*best`` with the reduced costs of arcs 0 .. len - 1 (``*where``: the
 * chunk that holds the new minimum). */
OTKIT_MULTIVERSION
OTKIT_STATIC void otkit_arcs_min(const double *cost, const int32_t *tail, const int32_t *head,
                                 const double *pi, const double *pi_sink, const double *big,
                                 const double *big_sink, int64_t len, double *best,
                                 int64_t *where)
{
    otkit_arcs_min_impl(cost, tail, head, pi, pi_sink, big, big_sink, 0, 0, 0.0, 0.0, 0.0, len,
                        best, where, 0);
}

/* Offset of the arc with the smallest reduced cost among the first ``len`` arcs. */
OTKIT_STATIC int64_t otkit_arcs_argmin(const double *cost, const int32_t *tail,
                                       const int32_t *head, const double *pi,
                                       const double *pi_sink, const double *big,
                                       const double *big_sink, int64_t len)
{
    return otkit_arcs_argmin_impl(cost, tail, head, pi, pi_sink, big, big_sink, 0, 0, 0.0, 0.0,
                                  0.0, len, 0);
}

/* Exact pricing of arcs 0 .. len - 1: the arc of lowest margin (see otkit_arc_margin), if
 * that margin is below ``*best`` (which is lowered to it); -1 otherwise. */
OTKIT_MULTIVERSION
OTKIT_STATIC int64_t otkit_arcs_min_margin(const double *cost, const int32_t *tail,
                                           const int32_t *head, const double *pi,
                                           const double *pi_sink, const double *big,
                                           const double *big_sink, const double *err,
                                           const double *err_sink, double err_weight,
                                           int64_t len, double rel_tol, double abs_tol,
                                           double *best)
{
    int64_t where = -1;
    otkit_arcs_min_impl(OTKIT_ARC_ARGS, len, best, &where, 1);
    if (where < 0)
        return -1;
    int64_t chunk = len - where < OTKIT_CHUNK ? len - where : OTKIT_CHUNK;
    return where + otkit_arcs_argmin_impl(cost + where, tail + where, head + where, pi, pi_sink,
                                          big, big_sink, err, err_sink, err_weight, rel_tol,
                                          abs_tol, chunk, 1);
}

#undef OTKIT_ARC_ARGS

#endif
