# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled certificate scan of the lazy solver (the C kernel is _lazy_scan.h).

:class:`ScanKernel` binds the arrays of one certificate round (prepared, validated and kept
alive by otkit.lp._lazy_scanner) and scans blocks of source rows without the GIL, so that
several Python threads scan disjoint row blocks at once.
"""
import numpy as np
from libc.stdint cimport int64_t

__all__ = ["METRIC_CODES", "ScanKernel"]

METRIC_CODES = {"sqeuclidean": 0, "euclidean": 1, "cityblock": 2, "minkowski": 3}

cdef extern from "_lazy_scan.h" nogil:
    ctypedef struct otkit_scan_t:
        int64_t n, m, d, k
        int metric
        double p, power, dual_rel, extra_tol
        const double *X
        const double *Y
        const double *Ys
        const double *u
        const double *v
        const double *Xc
        const double *Yc
        const double *f
        const double *g
        const double *row_err
        int64_t n_chunks
        const int64_t *chunk_start
        int prune
        const double *q
        const double *z
        const double *bound_const
        const double *radius
        const double *margin
        int64_t row_block
        const double *w
        const double *anchor
        const double *sigma
        const double *block_low
        const double *block_margin
        int64_t n_blocks
        int64_t *out_cols
        double *out_rc
        int64_t *out_count
    int64_t otkit_lazy_scan(const otkit_scan_t *s, int64_t row_start, int64_t row_stop)


cdef const double *_ptr(object array, Py_ssize_t size):
    """Address of a C-contiguous float64 array of ``size`` items (NULL for None)."""
    cdef const double[::1] view
    if array is None:
        return NULL
    view = array.reshape(-1)
    if view.shape[0] != size:
        raise ValueError(f"scan kernel: expected {size} values, got {view.shape[0]}")
    if size == 0:
        return NULL
    return &view[0]


cdef class ScanKernel:
    """One round of the scan: the arrays are float64 C-contiguous (int64 for chunk starts,
    target columns permuted as the driver arranged them).  ``out_cols``, ``out_rc`` (n, k)
    and ``out_count`` (n,) are filled by :meth:`scan`."""

    cdef otkit_scan_t s
    cdef object keep
    cdef public object out_cols, out_rc, out_count

    def __init__(self, metric, double p, double power, double dual_rel, double extra_tol,
                 int64_t per_row, X, Y, Ys, u, v, Xc, Yc, f, g, row_err, chunk_start,
                 prune, q, z, bound_const, radius, margin, int64_t row_block=16, w=None,
                 anchor=None, sigma=None, block_low=None, block_margin=None):
        cdef int64_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
        cdef int64_t nc = chunk_start.shape[0] - 1
        cdef const int64_t[::1] starts = chunk_start
        if per_row < 1:
            raise ValueError("scan kernel: per_row must be >= 1")
        if nc < 0 or starts[0] != 0 or starts[nc] != m:
            raise ValueError("scan kernel: chunk_start must run from 0 to m")
        for c in range(nc):
            if not 0 < starts[c + 1] - starts[c] <= 256:
                raise ValueError("scan kernel: chunks must hold 1 to 256 targets")
        self.keep = (X, Y, Ys, u, v, Xc, Yc, f, g, row_err, chunk_start, q, z, bound_const,
                     radius, margin, w, anchor, sigma, block_low, block_margin)
        cdef int64_t n_blocks = (n + row_block - 1) // row_block if row_block > 0 else 0
        self.out_cols = np.zeros((n, per_row), dtype=np.int64)
        self.out_rc = np.zeros((n, per_row))
        self.out_count = np.zeros(n, dtype=np.int64)
        cdef int64_t[:, ::1] oc = self.out_cols
        cdef double[:, ::1] orc = self.out_rc
        cdef int64_t[::1] ocount = self.out_count
        self.s.n, self.s.m, self.s.d, self.s.k = n, m, d, per_row
        self.s.metric = METRIC_CODES[metric]
        self.s.p, self.s.power = p, power
        self.s.dual_rel, self.s.extra_tol = dual_rel, extra_tol
        self.s.X = _ptr(X, n * d)
        self.s.Y = _ptr(Y, m * d)
        self.s.u = _ptr(u, n)
        self.s.v = _ptr(v, m)
        sq = self.s.metric == 0 and power == 1.0
        self.s.Ys = NULL if sq else _ptr(Ys, m * d)
        self.s.Xc = _ptr(Xc, n * d) if sq else NULL
        self.s.Yc = _ptr(Yc, m * d) if sq else NULL
        self.s.f = _ptr(f, n) if sq else NULL
        self.s.g = _ptr(g, m) if sq else NULL
        self.s.row_err = _ptr(row_err, n) if sq else NULL
        self.s.n_chunks = nc
        self.s.chunk_start = &starts[0]
        self.s.prune = 1 if (prune and sq) else 0
        if self.s.prune:
            self.s.q = _ptr(q, nc * d)
            self.s.z = _ptr(z, nc * d)
            self.s.bound_const = _ptr(bound_const, nc)
            self.s.radius = _ptr(radius, nc)
            self.s.margin = _ptr(margin, n)
            if row_block < 1:
                raise ValueError("scan kernel: row_block must be >= 1")
            self.s.row_block, self.s.n_blocks = row_block, n_blocks
            self.s.w = _ptr(w, n_blocks * d)
            self.s.anchor = _ptr(anchor, n_blocks * d)
            self.s.sigma = _ptr(sigma, n_blocks)
            self.s.block_low = _ptr(block_low, n_blocks)
            self.s.block_margin = _ptr(block_margin, n_blocks)
        if n > 0:
            self.s.out_cols = &oc[0, 0]
            self.s.out_rc = &orc[0, 0]
            self.s.out_count = &ocount[0]

    def scan(self, int64_t row_start, int64_t row_stop):
        """Scan rows row_start .. row_stop - 1 (GIL released); returns the pairs evaluated."""
        cdef int64_t evaluated
        if not 0 <= row_start <= row_stop <= self.s.n:
            raise ValueError("scan kernel: row range out of bounds")
        with nogil:
            evaluated = otkit_lazy_scan(&self.s, row_start, row_stop)
        if evaluated < 0:
            raise MemoryError("scan kernel: cannot allocate the chunk list")
        return int(evaluated)
