/* The cost matrix of a pair of point clouds, computed from the points, for the batch solver
 * (_simplex_batch.pyx's solve_cloud_pairs).
 *
 * The squared Euclidean cost is summed over the features in order from direct differences,
 * C_ij = (((x_i0 - y_j0)^2 + (x_i1 - y_j1)^2) + ...), which is how otkit.dist computes it on
 * small clouds (the same floating-point operations, so the same bits: ISO C compiles no
 * fused multiply-adds); the Euclidean cost is its correctly rounded square root.
 */
#ifndef OTKIT_PAIRS_CLOUDS_H
#define OTKIT_PAIRS_CLOUDS_H

#include <math.h>
#include <stdint.h>

/* The n x m cost (row-major, into out) between the points x (n x d, row-major) and y
 * (m x d): squared Euclidean, or Euclidean when root; *peak_out gets its largest entry,
 * *sum_out the sum of its entries (all >= 0, or NaN from non-finite points). */
static void otkit_cloud_cost(const double *x, int n, const double *y, int m, int d, int root,
                             double *out, double *peak_out, double *sum_out)
{
    double peak = 0.0, total = 0.0;
    for (int i = 0; i < n; ++i) {
        const double *xi = x + (int64_t)i * d;
        double *o = out + (int64_t)i * m;
        for (int j = 0; j < m; ++j) {
            const double *yj = y + (int64_t)j * d;
            double diff = xi[0] - yj[0], c = diff * diff;
            for (int k = 1; k < d; ++k) {
                diff = xi[k] - yj[k];
                c += diff * diff;
            }
            if (root)
                c = sqrt(c);
            o[j] = c;
            peak = c > peak ? c : peak;
            total += c;
        }
    }
    *peak_out = isnan(total) ? total : peak;
    *sum_out = total;
}

#endif
