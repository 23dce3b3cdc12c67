# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled iterations of the scaling loops of :mod:`otkit.bregman._dense_pair` (the C
kernels are in _dense_sweep.h): one pass over the stored kernel per iteration, the GIL
released.

:class:`ScalingSweep` holds the scalings (u, v) of the over-relaxed loop and advances them
one iteration at a time; :class:`SelfSweep` holds the scaling s of the averaged self-term
loop. Both leave the exceptional cases (a scaling out of range) to the caller. The arrays
they bind (the kernel, the weights) and their own buffers stay in place for their
lifetime: their addresses are taken once.
"""
import numpy as np
from libc.stdint cimport int64_t, uintptr_t

__all__ = ["ScalingSweep", "SelfSweep"]

cdef extern from "_dense_sweep.h" nogil:
    int otkit_sweep_f64(const double *K, int64_t n, int64_t m, const double *a,
                        const double *b, const double *u, const double *v, double *rows,
                        double *cols, double *u_new, double *v_new, double *acc, double w,
                        double lo, double hi, int rows_given, double *err)
    int otkit_sweep_f32(const float *K, int64_t n, int64_t m, const float *a,
                        const float *b, const float *u, const float *v, float *rows,
                        float *cols, float *u_new, float *v_new, double *acc, double w,
                        double lo, double hi, int rows_given, double *err)
    int otkit_self_f64(const double *K, int64_t n, const double *a, const double *s,
                       const double *p, double *s_new, double *p_new, double lo, double hi,
                       double *err)
    int otkit_self_f32(const float *K, int64_t n, const float *a, const float *s,
                       const float *p, float *s_new, float *p_new, double lo, double hi,
                       double *err)


cdef void *_address(array, dtype, shape, name) except NULL:
    """The data address of a C-contiguous, writeable-or-not array of ``dtype`` and
    ``shape`` (else TypeError naming it)."""
    if not (isinstance(array, np.ndarray) and array.dtype == dtype and array.shape == shape
            and array.flags.c_contiguous and array.size > 0):
        raise TypeError(f"{name} must be a non-empty C-contiguous {dtype} array of shape "
                        f"{shape}")
    return <void *><uintptr_t>array.__array_interface__["data"][0]


def _dtype_of(kernel):
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 2:
        raise TypeError("kernel must be a 2-D NumPy array")
    if kernel.dtype != np.float64 and kernel.dtype != np.float32:
        raise TypeError("kernel must be float64 or float32")
    return kernel.dtype


cdef class ScalingSweep:
    """The iterates (u, v) of the over-relaxed scaling loop on the (n, m) ``kernel``
    (C-contiguous float64 or float32, the dtype of ``a`` and ``b``; read at every step, so
    the caller may rewrite it in place) with the scaling range ``(1 / bound, bound)``.

    :meth:`step` computes, in one pass over the kernel, ``rows = K v``, the squared
    errors ``||u rows - a||^2`` (the current u) and ``||v cols - b||^2`` (the column sums
    ``cols`` of the last step), ``u' = relax(u, a / rows, w)``, ``cols = u' K`` and
    ``v' = relax(v, b / cols, w)``, where ``relax(p, e, w) = e exp(clip((w - 1)
    log(e / p), -1, 1))`` (``e`` at w = 1); it returns ``(code, err_rows, err_cols)``.
    Code 0: (u', v') become (u, v) at :meth:`commit`. Code 1: u' left the range (``u_next``; ``cols``
    and v' are not computed); code 2: v' did (``u_next``, ``v_next`` and ``cols``
    computed); (u, v) are unchanged in both. ``step(w, True)`` redoes the updates at
    another factor from the same ``rows`` (its errors are then not those of the
    iteration). ``u``, ``v``, ``u_next``, ``v_next``, ``rows`` and ``cols`` are the sweep's
    own buffers, rewritten by later steps.
    """

    cdef object _kernel, _a, _b, _acc, _rows, _cols
    cdef list _u, _v
    cdef void *pk
    cdef void *pa
    cdef void *pb
    cdef void *pu[2]
    cdef void *pv[2]
    cdef void *prows
    cdef void *pcols
    cdef double *pacc
    cdef int current, single
    cdef int64_t n, m
    cdef double lo, hi

    def __init__(self, kernel, a, b, double bound):
        dtype = _dtype_of(kernel)
        n, m = kernel.shape
        self.pk = _address(kernel, dtype, (n, m), "kernel")
        self.pa = _address(a, dtype, (n,), "a")
        self.pb = _address(b, dtype, (m,), "b")
        self._kernel, self._a, self._b = kernel, a, b
        self.n, self.m = n, m
        self.single = dtype == np.float32
        self._u = [np.ones(n, dtype=dtype), np.ones(n, dtype=dtype)]
        self._v = [np.ones(m, dtype=dtype), np.ones(m, dtype=dtype)]
        for k in range(2):
            self.pu[k] = _address(self._u[k], dtype, (n,), "u")
            self.pv[k] = _address(self._v[k], dtype, (m,), "v")
        self._rows = np.empty(n, dtype=dtype)
        self._cols = np.array(b, dtype=dtype)
        self._acc = np.empty(m, dtype=np.float64)
        self.prows = _address(self._rows, dtype, (n,), "rows")
        self.pcols = _address(self._cols, dtype, (m,), "cols")
        self.pacc = <double *>_address(self._acc, np.float64, (m,), "acc")
        self.current = 0
        self.lo, self.hi = 1.0 / bound, bound

    @property
    def u(self):
        return self._u[self.current]

    @property
    def v(self):
        return self._v[self.current]

    @property
    def u_next(self):
        return self._u[1 - self.current]

    @property
    def v_next(self):
        return self._v[1 - self.current]

    @property
    def rows(self):
        return self._rows

    @property
    def cols(self):
        return self._cols

    def set(self, u, v, cols):
        """Copy (u, v, cols) into the sweep's buffers (after a step taken by the caller)."""
        self._u[self.current][...] = u
        self._v[self.current][...] = v
        self._cols[...] = cols

    def step(self, double w, bint rows_given=False):
        cdef int code, c = self.current, given = rows_given
        cdef double err[2]
        with nogil:
            if self.single:
                code = otkit_sweep_f32(<float *>self.pk, self.n, self.m, <float *>self.pa,
                                       <float *>self.pb, <float *>self.pu[c],
                                       <float *>self.pv[c], <float *>self.prows,
                                       <float *>self.pcols, <float *>self.pu[1 - c],
                                       <float *>self.pv[1 - c], self.pacc, w, self.lo,
                                       self.hi, given, err)
            else:
                code = otkit_sweep_f64(<double *>self.pk, self.n, self.m, <double *>self.pa,
                                       <double *>self.pb, <double *>self.pu[c],
                                       <double *>self.pv[c], <double *>self.prows,
                                       <double *>self.pcols, <double *>self.pu[1 - c],
                                       <double *>self.pv[1 - c], self.pacc, w, self.lo,
                                       self.hi, given, err)
        return code, err[0], err[1]

    def commit(self):
        """Take (u', v') of the last step (code 0) as (u, v)."""
        self.current = 1 - self.current


cdef class SelfSweep:
    """The scaling s of the averaged self-term loop on the symmetric (n, n) ``kernel``
    (C-contiguous, the dtype of ``a``) with the scaling range ``(1 / bound, bound)``,
    from ``s = 1`` and the products ``p = K s`` given by :meth:`start`.

    :meth:`step` computes ``s' = sqrt(s a / p)`` and, when s' lies in the range,
    ``p = K s'`` and returns the squared error ``||s' p - a||^2`` (s' is then the new s);
    else it returns None and changes nothing (s' in ``s_next``).
    """

    cdef object _kernel, _a
    cdef list _s, _p
    cdef void *pk
    cdef void *pa
    cdef void *ps[2]
    cdef void *pp[2]
    cdef int current, single
    cdef int64_t n
    cdef double lo, hi

    def __init__(self, kernel, a, double bound):
        dtype = _dtype_of(kernel)
        n = kernel.shape[0]
        self.pk = _address(kernel, dtype, (n, n), "kernel")
        self.pa = _address(a, dtype, (n,), "a")
        self._kernel, self._a = kernel, a
        self.n = n
        self.single = dtype == np.float32
        self._s = [np.ones(n, dtype=dtype), np.ones(n, dtype=dtype)]
        self._p = [np.empty(n, dtype=dtype), np.empty(n, dtype=dtype)]
        for k in range(2):
            self.ps[k] = _address(self._s[k], dtype, (n,), "s")
            self.pp[k] = _address(self._p[k], dtype, (n,), "p")
        self.current = 0
        self.lo, self.hi = 1.0 / bound, bound

    @property
    def s(self):
        return self._s[self.current]

    @property
    def p(self):
        return self._p[self.current]

    def start(self, p):
        """Restart from s = 1 with the products ``p = K 1`` (the kernel rewritten)."""
        self._s[self.current][...] = 1.0
        self._p[self.current][...] = p

    def step(self):
        cdef int code, c = self.current
        cdef double err = 0.0
        with nogil:
            if self.single:
                code = otkit_self_f32(<float *>self.pk, self.n, <float *>self.pa,
                                      <float *>self.ps[c], <float *>self.pp[c],
                                      <float *>self.ps[1 - c], <float *>self.pp[1 - c],
                                      self.lo, self.hi, &err)
            else:
                code = otkit_self_f64(<double *>self.pk, self.n, <double *>self.pa,
                                      <double *>self.ps[c], <double *>self.pp[c],
                                      <double *>self.ps[1 - c], <double *>self.pp[1 - c],
                                      self.lo, self.hi, &err)
        if code:
            return None
        self.current = 1 - c
        return err
