# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The inputs of the batch solver of many small dense problems (_simplex_batch.pyx): the
checks of its collections and pairs, and the cost of a pair of point clouds as it computes
it (_pairs_clouds.h)."""
import numpy as np
from libc.stdint cimport int64_t, uint8_t

cdef extern from "_pairs_clouds.h" nogil:
    void otkit_cloud_cost(const double *x, int n, const double *y, int m, int d, int root,
                          double *out, double *peak_out, double *sum_out)

__all__ = ["check_bins", "check_pairs", "cloud_cost"]


def check_bins(const int64_t[::1] starts, const int64_t[::1] bins, const double[::1] weights,
               int64_t n_bins, const int64_t[::1] used, str name):
    """The nonzero bins of N histograms: histogram k has bins[starts[k]:starts[k + 1]]
    (in [0, n_bins), each a positive weight; checked on the histograms used[q] only, the
    others unread; bins None: clouds, whose points have no bins to check); returns the
    most bins of one histogram of all N (the start's rule depends on it, so that a pair's
    value does not depend on the other pairs of the call)."""
    cdef int64_t k, q, h, count, most = 0
    if starts.shape[0] < 2 or starts[0] != 0 or starts[starts.shape[0] - 1] != weights.shape[0]:
        raise ValueError(f"{name}: starts must run from 0 to the number of weights")
    if bins is not None and weights.shape[0] != bins.shape[0]:
        raise ValueError(f"{name}: bins and weights must have one length")
    for k in range(starts.shape[0] - 1):
        count = starts[k + 1] - starts[k]
        if count < 1:
            raise ValueError(f"{name}[{k}] has no positive weight")
        most = max(most, count)
    cdef uint8_t[::1] seen = np.zeros(starts.shape[0], dtype=np.uint8)
    for q in range(used.shape[0]):
        h = used[q]
        if seen[h]:
            continue
        seen[h] = 1
        for k in range(starts[h], starts[h + 1]):
            if bins is not None and not 0 <= bins[k] < n_bins:
                raise ValueError(f"{name}: bin index {bins[k]} out of range [0, {n_bins})")
            if not weights[k] > 0.0:
                raise ValueError(f"{name}: weights of the nonzero bins must be positive")
    return most


def check_pairs(const int64_t[::1] starts_a, const int64_t[::1] starts_b,
                const int64_t[::1] first, const int64_t[::1] second):
    """The pairs (first[k], second[k]): one length, indices within the collections."""
    cdef int64_t k, n_first = starts_a.shape[0] - 1, n_second = starts_b.shape[0] - 1
    if second.shape[0] != first.shape[0]:
        raise ValueError("first and second must have one length")
    for k in range(first.shape[0]):
        if not (0 <= first[k] < n_first and 0 <= second[k] < n_second):
            raise ValueError(f"pair {k}: index out of range")


def cloud_cost(const double[:, ::1] x, const double[:, ::1] y, bint root=False):
    """The (n, m) cost between the points x (n, d) and y (m, d) as solve_cloud_pairs computes
    it (squared Euclidean; ``root``: Euclidean), with its largest entry and sum."""
    if x.shape[1] != y.shape[1] or x.shape[1] < 1 or x.shape[0] < 1 or y.shape[0] < 1:
        raise ValueError("x and y must be non-empty, with one number (>= 1) of features")
    out = np.empty((x.shape[0], y.shape[0]))
    cdef double[:, ::1] out_v = out
    cdef double peak, total
    otkit_cloud_cost(&x[0, 0], <int> x.shape[0], &y[0, 0], <int> y.shape[0], <int> x.shape[1],
                     root, &out_v[0, 0], &peak, &total)
    return out, peak, total
