# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled iterations of the scaling loops of :mod:`otkit.bregman._dense_pair` (the C
kernels are in _dense_sweep.h and _dense_exp.h): one pass over the stored kernel per
iteration, the GIL released.

:class:`ScalingSweep` holds the scalings (u, v) of the over-relaxed loop and advances them
one iteration at a time (:meth:`ScalingSweep.step`) or until an event
(:meth:`ScalingSweep.run`, with the relaxation factor of :class:`Schedule`);
:class:`SelfSweep` holds the scaling s of the averaged self-term loop; :class:`StageSums`
gives an annealing stage's updates from its kernel, :func:`floor_exp` writes a float32
kernel's exponentials and :func:`single_copy` a float64 kernel's float32 copy. They leave
the exceptional cases (a scaling out of range) to the caller. The arrays they bind (the
kernel, the weights) and their own buffers stay in place for their lifetime: their
addresses are taken once.
"""
import numpy as np
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer
from libc.math cimport INFINITY, fmod, hypot, isnan, pow, sqrt
from libc.stdint cimport int64_t

__all__ = [
    "ABSORB", "DONE", "END_RELAXED", "FULL", "GIVEN", "ROWS", "Schedule", "ScalingSweep",
    "SelfSweep", "StageSums", "floor_exp", "single_copy",
]

# Modes of ScalingSweep.step: the whole iteration, its updates from the stored row sums,
# the row sums and errors only.
cdef enum:
    MODE_FULL = 0
    MODE_GIVEN = 1
    MODE_ROWS = 2
FULL, GIVEN, ROWS = MODE_FULL, MODE_GIVEN, MODE_ROWS
# Events of ScalingSweep.run.
DONE, END_RELAXED, ABSORB = 0, 1, 2


cdef extern from "_dense_sweep.h" nogil:
    int otkit_sweep_f64(const double *K, int64_t n, int64_t m, const double *a,
                        const double *b, const double *u, const double *v, double *rows,
                        double *cols, double *u_new, double *v_new, double *acc, double w,
                        double lo, double hi, int mode, double *err)
    int otkit_sweep_f32(const float *K, int64_t n, int64_t m, const float *a,
                        const float *b, const float *u, const float *v, float *rows,
                        float *cols, float *u_new, float *v_new, double *acc, double w,
                        double lo, double hi, int mode, double *err)
    double otkit_step_f64(double *p, const double *d, double e, int64_t size)
    double otkit_step_f32(float *p, const double *d, double e, int64_t size)
    int otkit_stage_f64(const double *K, int64_t n, int64_t m, const double *a,
                        const double *b, double lo, double hi, double *acc, double *ratio,
                        double *dg, double *df)
    int otkit_stage_f32(const float *K, int64_t n, int64_t m, const double *a,
                        const double *b, double lo, double hi, double *acc, float *ratio,
                        double *dg, double *df)
    int otkit_self_f64(const double *K, int64_t n, const double *a, const double *s,
                       const double *p, double *s_new, double *p_new, double lo, double hi,
                       double *err)
    int otkit_self_f32(const float *K, int64_t n, const float *a, const float *s,
                       const float *p, float *s_new, float *p_new, double lo, double hi,
                       double *err)


cdef void *_address(array, dtype, shape, name) except NULL:
    """The data address of a C-contiguous, writeable-or-not array of ``dtype`` and
    ``shape`` (else TypeError naming it); read through the buffer protocol (a microsecond
    less than ``__array_interface__``, which builds a dict)."""
    cdef Py_buffer view
    cdef void *data
    if not (isinstance(array, np.ndarray) and array.dtype == dtype and array.shape == shape
            and array.flags.c_contiguous and array.size > 0):
        raise TypeError(f"{name} must be a non-empty C-contiguous {dtype} array of shape "
                        f"{shape}")
    PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS)
    data = view.buf
    PyBuffer_Release(&view)  # (the caller keeps the array)
    return data


def _dtype_of(kernel):
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 2:
        raise TypeError("kernel must be a 2-D NumPy array")
    if kernel.dtype != np.float64 and kernel.dtype != np.float32:
        raise TypeError("kernel must be float64 or float32")
    return kernel.dtype


cdef class Schedule:
    """The adaptive over-relaxation factor of :func:`otkit.bregman._relaxation.schedule_start`
    / ``schedule_step`` on floats: after ``warmup`` iterations, then every ``window``, the
    factor is re-estimated from the contraction rate of the error over the window,
    ``w <- omega(w, (err / mark)^(1 / window))`` (when the error fell); an error above
    ``guard`` times the best one while relaxed turns the relaxation off for good.
    :meth:`start` takes the first error (the factor stays 1)."""

    cdef public double w, t, best, mark
    cdef public bint off, started
    cdef double warmup, window, guard, omega_max

    def __init__(self, double warmup, double window, double guard, double omega_max):
        self.warmup, self.window, self.guard, self.omega_max = warmup, window, guard, omega_max
        self.w, self.t, self.best, self.mark = 1.0, 0.0, INFINITY, INFINITY
        self.off = self.started = False

    cdef void _start(self, double err) noexcept:
        self.w, self.t, self.best, self.mark = 1.0, 0.0, err, err
        self.off, self.started = False, True

    cdef double _omega(self, double rate) noexcept:
        # (the arithmetic of optimal_omega; min / max as Python's: the first on ties)
        cdef double mu = (rate + self.w - 1.0) / (sqrt(rate) * self.w)
        cdef double mu2 = mu * mu, omega
        if 0.9999 < mu2:
            mu2 = 0.9999
        omega = 2.0 / (1.0 + sqrt(1.0 - mu2))
        if 1.0 > omega:
            omega = 1.0
        if self.omega_max < omega:
            omega = self.omega_max
        return omega

    cdef bint _due_next(self) noexcept:
        cdef double t = self.t + 1.0
        return t == self.warmup or (
            t > self.warmup and fmod(t - self.warmup, self.window) == 0.0
        )

    cdef double _step(self, double err) noexcept:
        cdef bint first, due
        self.t += 1.0
        self.off = self.off or (self.w > 1.0 and err > self.guard * self.best)
        if err < self.best:
            self.best = err
        first = self.t == self.warmup
        due = first or (self.t > self.warmup and fmod(self.t - self.warmup, self.window) == 0.0)
        if due:
            if err > 0.0 and err < self.mark:
                self.w = self._omega(pow(err / self.mark, 1.0 / (self.warmup if first
                                                                   else self.window)))
            self.mark = err
        if self.off:
            self.w = 1.0
        return self.w

    def start(self, double err):
        self._start(err)

    def due_next(self):
        """Whether the next :meth:`step` re-estimates the factor."""
        return self._due_next()

    def step(self, double err):
        """The factor after the error ``err`` of the next iteration."""
        return self._step(err)


cdef class ScalingSweep:
    """The iterates (u, v) of the over-relaxed scaling loop on the (n, m) ``kernel``
    (C-contiguous float64 or float32, the dtype of ``a`` and ``b``; read at every step, so
    the caller may rewrite it in place) with the scaling range ``(1 / bound, bound)``.

    :meth:`step` computes, in one pass over the kernel, ``rows = K v``, the squared
    errors ``||u rows - a||^2`` (the current u) and ``||v cols - b||^2`` (the column sums
    ``cols`` of the last step), ``u' = relax(u, a / rows, w)``, ``cols = u' K`` and
    ``v' = relax(v, b / cols, w)``, where ``relax(p, e, w) = e exp(clip((w - 1)
    log(e / p), -1, 1))`` (``e`` at w = 1); it returns ``(code, err_rows, err_cols)``.
    Code 0: (u', v') become (u, v) at :meth:`commit`. Code 1: u' left the range
    (``u_next``; ``cols`` and v' are not computed); code 2: v' did (``u_next``, ``v_next`` and ``cols``
    computed); (u, v) are unchanged in both. ``step(w, GIVEN)`` takes the updates from
    the ``rows`` of the last step (at another factor, or after ``step(w, ROWS)``, which
    computes the rows and the errors only); its errors are then not those of the
    iteration. ``u``, ``v``, ``u_next``, ``v_next``, ``rows`` and ``cols`` are the sweep's
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

    cdef int _sweep(self, double w, int mode, double *err) noexcept nogil:
        cdef int c = self.current
        if self.single:
            return otkit_sweep_f32(<float *>self.pk, self.n, self.m, <float *>self.pa,
                                   <float *>self.pb, <float *>self.pu[c], <float *>self.pv[c],
                                   <float *>self.prows, <float *>self.pcols,
                                   <float *>self.pu[1 - c], <float *>self.pv[1 - c], self.pacc,
                                   w, self.lo, self.hi, mode, err)
        return otkit_sweep_f64(<double *>self.pk, self.n, self.m, <double *>self.pa,
                               <double *>self.pb, <double *>self.pu[c], <double *>self.pv[c],
                               <double *>self.prows, <double *>self.pcols,
                               <double *>self.pu[1 - c], <double *>self.pv[1 - c], self.pacc,
                               w, self.lo, self.hi, mode, err)

    def step(self, double w, int mode=FULL):
        cdef int code
        cdef double err[2]
        if mode != FULL and mode != GIVEN and mode != ROWS:
            raise ValueError(f"mode must be FULL, GIVEN or ROWS, got {mode}")
        with nogil:
            code = self._sweep(w, mode, err)
        return code, err[0], err[1]

    def run(self, Schedule schedule, bint relaxed, double tol, long num_iter_max,
            long n_iter, list trace):
        """Iterate until an event: returns ``(event, code, n_iter, w)``.

        Each iteration is one :meth:`step` (``ROWS`` then ``GIVEN`` where ``schedule``
        re-estimates the factor, ``FULL`` elsewhere) at the factor ``schedule.w`` (1 when
        not ``relaxed``); its marginal error (the rows', and the columns' too when
        ``relaxed``; NaN counted as inf) is appended to ``trace``, then the schedule steps
        (started at the first error). Events: ``DONE`` (the error appended is below
        ``tol``, or ``n_iter`` reached ``num_iter_max``), ``END_RELAXED`` (``relaxed`` and
        the same test: nothing appended, (u, v) unchanged), ``ABSORB`` (the updates at
        factor ``w`` left the range, ``code`` of :meth:`step`; the iteration is not
        counted). ``n_iter`` counts the iterations committed.
        """
        cdef int code, mode
        cdef double err[2]
        cdef double w, new_w, e
        cdef bint split
        while True:
            w = schedule.w if relaxed else 1.0
            split = relaxed and schedule.started and schedule._due_next()
            mode = MODE_ROWS if split else MODE_FULL
            with nogil:
                code = self._sweep(w, mode, err)
            e = sqrt(err[0])
            if relaxed:
                e = hypot(e, sqrt(err[1]))
            if isnan(e):
                e = INFINITY
            if relaxed and (e < tol or n_iter >= num_iter_max):
                return END_RELAXED, 0, n_iter, w
            trace.append(e)
            if e < tol or n_iter >= num_iter_max:
                return DONE, 0, n_iter, w
            new_w = w
            if relaxed:
                if schedule.started:
                    new_w = schedule._step(e)
                else:
                    schedule._start(e)
            if split or new_w != w:
                with nogil:
                    code = self._sweep(new_w, MODE_GIVEN, err)
            if code:
                return ABSORB, code, n_iter, new_w
            self.current = 1 - self.current
            n_iter += 1

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


cdef class StageSums:
    """The sums of an annealing stage on the (n, m) ``kernel`` (C-contiguous float64 or
    float32, read at every call; the weights ``a``, ``b`` any floating dtype) with the
    scaling range ``(1 / bound, bound)``: :meth:`compute` returns ``(dg, df)`` with
    ``dg = log(c / b)`` for the column sums ``c = 1 K`` and ``df = log(r / a)`` for the row
    sums ``r = K (b / c)`` (sums accumulated in double, rounded to the kernel's dtype, as
    its products would leave them), or None when some ``b / c`` or ``a / r`` leaves the
    range. ``dg`` and ``df`` are the object's float64 buffers, rewritten at each call."""

    cdef object _kernel, _a, _b, _acc, _ratio, _dg, _df
    cdef void *pk
    cdef double *pa
    cdef double *pb
    cdef double *pacc
    cdef void *pratio
    cdef double *pdg
    cdef double *pdf
    cdef int64_t n, m
    cdef int single
    cdef double lo, hi

    def __init__(self, kernel, a, b, double bound):
        dtype = _dtype_of(kernel)
        n, m = kernel.shape
        self.pk = _address(kernel, dtype, (n, m), "kernel")
        self._kernel = kernel
        self._a = np.array(a, dtype=np.float64)  # (copies: contiguous float64)
        self._b = np.array(b, dtype=np.float64)
        self.pa = <double *>_address(self._a, np.float64, (n,), "a")
        self.pb = <double *>_address(self._b, np.float64, (m,), "b")
        self._acc = np.empty(m, dtype=np.float64)
        self._ratio = np.empty(m, dtype=dtype)
        self._dg = np.empty(m, dtype=np.float64)
        self._df = np.empty(n, dtype=np.float64)
        self.pacc = <double *>_address(self._acc, np.float64, (m,), "acc")
        self.pratio = _address(self._ratio, dtype, (m,), "ratio")
        self.pdg = <double *>_address(self._dg, np.float64, (m,), "dg")
        self.pdf = <double *>_address(self._df, np.float64, (n,), "df")
        self.n, self.m = n, m
        self.single = dtype == np.float32
        self.lo, self.hi = 1.0 / bound, bound

    def compute(self):
        cdef int code
        with nogil:
            if self.single:
                code = otkit_stage_f32(<float *>self.pk, self.n, self.m, self.pa, self.pb,
                                       self.lo, self.hi, self.pacc, <float *>self.pratio,
                                       self.pdg, self.pdf)
            else:
                code = otkit_stage_f64(<double *>self.pk, self.n, self.m, self.pa, self.pb,
                                       self.lo, self.hi, self.pacc, <double *>self.pratio,
                                       self.pdg, self.pdf)
        return None if code else (self._dg, self._df)

    def update(self, f, g, double e):
        """The stage's updates ``g -= e dg``, then ``f -= e df``, in place on the potentials
        ``f`` (n,) and ``g`` (m,) (both float64 or both float32: the arithmetic of NumPy's
        ``(g - e * dg).astype(g.dtype)``); returns ``max |f| + max |g|`` after them, or
        None (f, g unchanged) when :meth:`compute` does."""
        cdef bint single = np.asarray(g).dtype == np.float32
        dtype = np.float32 if single else np.float64
        cdef void *pf = _address(f, dtype, (self.n,), "f")
        cdef void *pg = _address(g, dtype, (self.m,), "g")
        cdef double top_f, top_g
        if self.compute() is None:
            return None
        with nogil:
            if single:
                top_g = otkit_step_f32(<float *>pg, self.pdg, e, self.m)
                top_f = otkit_step_f32(<float *>pf, self.pdf, e, self.n)
            else:
                top_g = otkit_step_f64(<double *>pg, self.pdg, e, self.m)
                top_f = otkit_step_f64(<double *>pf, self.pdf, e, self.n)
        return top_f + top_g


cdef extern from "_dense_exp.h" nogil:
    void otkit_floor_exp_f32(float *K, int64_t size, float floor)
    void otkit_single_copy(const double *K, int64_t size, float *out)


def floor_exp(kernel, double floor):
    """``kernel <- exp(max(kernel, floor))`` in place, in one pass, for a C-contiguous
    float32 ``kernel`` (returned)."""
    cdef float *pk = <float *>_address(kernel, np.float32, np.shape(kernel), "kernel")
    cdef int64_t size = kernel.size
    with nogil:
        otkit_floor_exp_f32(pk, size, <float>floor)
    return kernel


def single_copy(kernel):
    """A float32 copy of a C-contiguous float64 ``kernel``, its entries below the smallest
    normal float32 (about 1.2e-38) zero (subnormal arithmetic is slow), in one pass."""
    cdef const double *pk = <const double *>_address(kernel, np.float64, np.shape(kernel),
                                                     "kernel")
    out = np.empty(np.shape(kernel), dtype=np.float32)
    cdef float *po = <float *>_address(out, np.float32, np.shape(kernel), "out")
    cdef int64_t size = out.size
    with nogil:
        otkit_single_copy(pk, size, po)
    return out
