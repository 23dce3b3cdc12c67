"""The balanced (x, y) problem of a point-cloud divergence on a stored kernel, on the host.

For the squared Euclidean cost on eager NumPy arrays (and CPU torch tensors outside
autograd, through zero-copy views), :func:`dense_pair` replaces the three parts of the
generic solve of the (x, y) problem: the annealing by online c-transforms (two exp passes
per stage), the stabilized scaling loop on the stored cost and the dual value by two more
exp passes (:func:`otkit.bregman._pointcloud.transport_pass`). Everything runs on one
stabilized kernel

    K_ij = a_i b_j exp((f_i + g_j - C_ij) / e),

written for the potentials (f, g) of the moment by one BLAS product of (n, d + 2) by
(d + 2, m) factors, since ``(f_i + g_j - |x_i - y_j|^2) / e + log a_i + log b_j`` is
``alpha_i + beta_j + 2 <x_i, y_j> / e`` with ``alpha_i = (f_i - |x_i|^2) / e + log a_i``
and ``beta_j = (g_j - |y_j|^2) / e + log b_j``; no cost matrix is stored. Then

- an annealing stage at e is one such kernel (one exp per entry) and two matrix-vector
  products: the column sums ``s = 1 K`` give the exact c-transform ``g <- g - e log(s / b)``
  and the row sums ``r = K (b / s)`` the exact ``f <- f - e log(r / a)``; the same iteration
  as the log-domain stage (two exp per entry), up to rounding and to the exponent floor;
- the loop at eps is the over-relaxed stabilized scaling loop of
  :func:`otkit.bregman._sinkhorn_numpy.stabilized_sinkhorn` (the same updates and stopping
  rule), its adaptive relaxation factor re-estimated every 10 iterations instead of 20
  (``WINDOW``); it runs compiled (:mod:`otkit.bregman._dense_sweep`, GIL released), one
  pass over the kernel per iteration: for each block of rows, the row sums ``K v``, the
  relaxed row updates, then their share of the column sums ``u K`` while the rows are in
  cache; then the relaxed column updates. The errors are those of the NumPy iteration
  (the row error with the previous u, the column error with the previous column sums),
  so the iterates and the stopping decisions are the same up to rounding;
- on kernels of at least ``SINGLE_MIN_SIZE`` entries (float64 points), the loop's first
  iterations run on a float32 copy of the kernel (:func:`_single_precision_start`: twice
  the lanes; a sweep takes 0.72 of the float64 one's time at 200 x 200 points, 0.53 at
  500 x 500) until the error is within ``max(tol, 2^-16 ||(a, b)||)``; the float64 loop
  goes on from its scalings and stops by the same test, so the result meets the
  tolerance in float64 as before, its value moved within the tolerance's reach;
- the dual value, the linear cost and the envelope gradients come from the final plan
  ``P = diag(u) K diag(v)`` by matrix products: its row and column sums, ``P y``,
  ``P^T x`` and ``P |y|^2`` (no exp pass).

A stage whose sums leave the scaling range (a kernel row or column underflowed) is redone
by the exact log-domain c-transforms; the loop rebuilds its kernel by an exact half step
as the stabilized loop does (the compiled loop returns here for it). :func:`dense_self`
runs the averaged loop of the self term OT_eps(a, a) the same way (one matrix-vector
product per iteration, compiled too).

On issue 16's clouds (200 to 500 points, reg 0.1) an annealing stage costs one float32
exp per entry where the online stage costs two float64 ones (the floor and the exp in one
compiled pass, its sums in one compiled call), and an iteration at eps one compiled pass
over the kernel: the fused pass costs about the two BLAS matrix-vector products it
replaces (both are bound by the arithmetic here, not by memory) but none of the 25 NumPy
vector operations around them (about 40 us per iteration). Measured in process CPU time,
old and new interleaved, 3 repeats each (2 shared cores, load 2.3 to 2.9),
``otkit.pairwise`` of the 4,950 divergences of 100 clouds: median 20.1 s with the NumPy
loop, 14.3 s compiled (-29%; two earlier sets, before the compiled stage sums: -32% and
-23%, the timings' noise); the iterations at eps are the same (5,363 on 126 pairs) and
the values within 2e-15 relative. The float32 start, on 80 random pairs of the same
clouds: 3,206 iterations at eps (3,089 in float32) against 3,204, the values within 2e-10
relative of the float64 loop's; ``otkit.pairwise`` of 45 of the clouds (990 pairs),
interleaved, 2 repeats: 2.21 s of CPU against 2.31 s without it.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import host_view
from ._dense_sweep import (
    ABSORB,
    DONE,
    END_RELAXED,
    ScalingSweep,
    Schedule,
    SelfSweep,
    StageSums,
    floor_exp,
    single_copy,
)
from ._pointcloud import CostSpec, _numpy_softmin
from ._relaxation import GUARD, OMEGA_MAX, WARMUP
from ._sinkhorn_numpy import _limits

__all__ = ["dense_pair", "dense_self", "host_pair"]


def host_pair(x, y, a, b, spec):
    """NumPy views of (x, y, a, b) when :func:`dense_pair` applies, else None: the squared
    Euclidean cost, positive weights, one floating dtype, arrays on the host (NumPy, or
    CPU torch tensors outside autograd)."""
    if not spec.squared_euclidean:
        return None
    views = [host_view(v) for v in (x, y, a, b)]
    if any(v is None for v in views) or len({v.dtype for v in views}) != 1:
        return None
    if views[0].dtype not in (np.float32, np.float64):
        return None
    if not (np.minimum.reduce(views[2]) > 0 and np.minimum.reduce(views[3]) > 0):
        return None
    return views


class _Kernel:
    """Writes K = (a_i b_j exp((f_i + g_j - C_ij) / e))_ij into one (n, m) buffer of the
    ``work`` dtype (that of the points by default); ``like``: a :class:`_Kernel` of the
    same points and weights, whose logarithms and squared norms are taken."""

    def __init__(self, x, y, a, b, work=None, like=None):
        (n, d), m = x.shape, y.shape[0]
        work = x.dtype if work is None else np.dtype(work)
        self.x, self.y, self.a, self.b = x, y, a, b
        if like is None:
            self.log_a, self.log_b = np.log(a), np.log(b)
            self.x_sq = np.einsum("ij,ij->i", x, x)
            self.y_sq = np.einsum("ij,ij->i", y, y)
        else:
            self.log_a, self.log_b, self.x_sq, self.y_sq = (
                like.log_a,
                like.log_b,
                like.x_sq,
                like.y_sq,
            )
        self.left = np.empty((n, d + 2), dtype=work)
        self.left[:, :d] = x
        self.left[:, d + 1] = 1.0
        self.right = np.empty((d + 2, m), dtype=work)
        self.right[d] = 1.0
        self.buffer = np.empty((n, m), dtype=work)
        self.bound, self.floor = _limits(work, np)
        self.ones = np.ones(n, dtype=work)
        # (the weights as the compiled sweeps take them: contiguous, of the kernel's dtype)
        self.a_c = np.ascontiguousarray(a, dtype=work)
        self.b_c = np.ascontiguousarray(b, dtype=work)
        self._stage = None
        # max |<x_i, y_j>|: the exponents are at least min alpha + min beta - 2 reach / e
        self.reach = (
            math.sqrt(float(np.maximum.reduce(self.x_sq) * np.maximum.reduce(self.y_sq)))
            if like is None
            else like.reach
        )

    @property
    def stage(self):
        """The annealing stage's sums on the buffer (:class:`StageSums`, made at first use)."""
        if self._stage is None:
            self._stage = StageSums(self.buffer, self.a, self.b, self.bound)
        return self._stage

    def build(self, f, g, e):
        """The kernel for the potentials (f, g) at e (the exponents floored)."""
        d = self.x.shape[1]
        alpha = (f - self.x_sq) * (1.0 / e)
        alpha += self.log_a
        beta = (g - self.y_sq) * (1.0 / e)
        beta += self.log_b
        self.left[:, d] = alpha
        np.multiply(self.y.T, 2.0 / e, out=self.right[:d])
        self.right[d + 1] = beta
        kernel = np.matmul(self.left, self.right, out=self.buffer)
        # Potentials far from consistent at e (a stage much smaller than the last) overflow:
        # the sums are then out of range, and the callers take the exact half steps.
        if kernel.dtype == np.float32:  # (floor and exp in one compiled pass)
            return floor_exp(kernel, self.floor)
        lowest = np.minimum.reduce(alpha) + np.minimum.reduce(beta) - 2.0 * self.reach / e
        if not lowest > self.floor:  # (a bound: no pass when no exponent can be below)
            np.maximum(kernel, self.floor, out=kernel)
        with np.errstate(over="ignore"):
            return np.exp(kernel, out=kernel)

    def in_range(self, s):
        """Whether every entry of ``s`` lies in [1 / bound, bound] (False on NaN)."""
        return bool(np.minimum.reduce(s) > 1.0 / self.bound and np.maximum.reduce(s) < self.bound)

    def exact_rows(self, g, e):
        """f = T_e(g), the exact log-domain c-transform on the rows."""
        return _numpy_softmin(self.x, self.y, self.log_b + g / e, e, _SQUARED)

    def exact_cols(self, f, e):
        """g = T_e(f) on the columns."""
        return _numpy_softmin(self.y, self.x, self.log_a + f / e, e, _SQUARED)


_SQUARED = CostSpec()
# Iterations between two estimates of the relaxation factor (20 in the generic loops): the
# first estimate, after WARMUP plain iterations, is low (their error falls faster than the
# asymptotic rate), and re-estimating sooner gains. Measured from the annealed start on
# 20 pairs of issue 16's clouds, total iterations at eps: 981 (window 20), 899 (15),
# 850 (12), 824 (10), 865 (8, one pair at 101); at reg 0.02: 2625 and 2578; at reg 0.5:
# 429 and 390.
WINDOW = 10


# Kernels of at least this many entries (for float64 points) start the loop at eps in
# float32 (:func:`_single_precision_start`): a float32 sweep takes 0.72 (200 x 200 points)
# to 0.53 (500 x 500) of the float64 one's time; below, the saving is smaller than the
# copy of the kernel.
SINGLE_MIN_SIZE = 2**15
# Scaling range of that start, (2^-60, 2^60): wider than a float32 problem's (the fourth
# root of the largest float, for the products u_i K_ij v_j) since the sweep forms only
# K_ij v_j and u_i K_ij, with kernel entries at most about 1 (the kernel's columns sum to
# about b at the start); its row sums a_i / u_i stay above 2^-60 a_i, far from float32's
# subnormals (2^-126).
_SINGLE_BOUND = 2.0**60


# Largest exponent (in absolute value, bounded from the potentials) for which an annealing
# stage of float64 points uses the float32 kernel: its rounding then moves each exponent by
# at most 2**-24 times it, 1e-3.
_FLOAT32_EXPONENT = 1e-3 * 2.0**24


def _anneal(kern, stages, fast=None):
    """(f, g) after one exact Sinkhorn iteration (g then f) at each stage, from (0, 0).

    ``fast``: the same kernel in float32 for float64 points, used where the exponents are
    small enough (``_FLOAT32_EXPONENT``): the stages only give the loop its start, and a
    float32 kernel costs about half the time (exp and products) for potentials within
    about 1e-3 e of the float64 ones, which the loop at eps removes with the rest of the
    start's error (measured on 60 pairs of issue 16's clouds: the same iterations at eps,
    values within 5e-16 relative).
    """
    dtype = kern.x.dtype
    f = np.zeros(kern.x.shape[0], dtype=dtype)
    g = np.zeros(kern.y.shape[0], dtype=dtype)
    size = kern.reach + np.maximum.reduce(kern.x_sq) + np.maximum.reduce(kern.y_sq)
    logs = -np.minimum.reduce(kern.log_a) - np.minimum.reduce(kern.log_b)
    top = 0.0  # max |f| + max |g|
    for e in stages:
        use = fast if fast is not None and (size + top) / e + logs < _FLOAT32_EXPONENT else kern
        # The column sums of the kernel give the exact g <- T(f) whatever g it was built
        # with, unless a column underflowed or overflowed (then b / sums is out of range).
        use.build(f, g, e)
        stage_top = use.stage.update(f, g, e)  # (compiled: 1 K, K (b / (1 K)), f and g)
        if stage_top is not None:
            top = stage_top
            continue
        g = kern.exact_cols(f, e)
        f = kern.exact_rows(g, e)
        top = np.maximum.reduce(np.abs(f)) + np.maximum.reduce(np.abs(g))
    return f, g


def _schedule(window=None):
    """The adaptive relaxation factor of the loop (:class:`Schedule`, compiled): the
    arithmetic of :func:`otkit.bregman._relaxation.schedule_start` / ``schedule_step`` on
    floats, re-estimated every ``window`` (default ``WINDOW``) iterations."""
    return Schedule(WARMUP, WINDOW if window is None else window, GUARD, OMEGA_MAX)


def _relaxed(previous, exact, w):
    """The over-relaxed scaling ``exact (exact / previous)^(w - 1)``, the factor clipped to
    [1/e, e]: the potential eps log(u) moves (w - 1) times its exact step further, by at
    most eps (:func:`otkit.bregman._relaxation.relax`)."""
    if w == 1.0:
        return exact
    step = np.divide(exact, previous)
    np.log(step, out=step)
    step *= w - 1.0
    np.minimum(np.maximum(step, -1.0, out=step), 1.0, out=step)
    np.exp(step, out=step)
    step *= exact
    return step


def _norm(values, target):
    """||values - target||_2 (``values`` is overwritten)."""
    values -= target
    return math.sqrt(np.dot(values, values))


def _loop(kern, f, g, eps, num_iter_max, tol):
    """The over-relaxed stabilized scaling loop at eps from (f, T(f)) (see the module note).

    The iterations run in :meth:`ScalingSweep.run` (compiled: both products of an
    iteration from one pass over the kernel) until an event: the end of the relaxed phase
    (the plain step that ends it), a scaling out of range (absorbed here as before), the
    end of the loop.

    Returns ``(kernel, u, v, f, g, n_iter, trace)``: the plan is ``diag(u) kernel diag(v)``.
    """
    b = kern.b
    kernel = kern.build(f, g, eps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cols = kern.ones @ kernel
        v, col_sums = b / cols, cols  # (the exact column update: g + eps log v = T(f))
    if not kern.in_range(v):
        g = kern.exact_cols(f, eps)
        kernel = kern.build(f, g, eps)
        v, col_sums = np.ones_like(b), b
    sweep = ScalingSweep(kernel, kern.a_c, kern.b_c, kern.bound)
    sweep.set(1.0, v, col_sums)
    trace, n_iter, relaxed, schedule = [], 0, True, _schedule()
    if kernel.dtype == np.float64 and kernel.size >= SINGLE_MIN_SIZE:
        n_iter = _single_precision_start(kern, kernel, sweep, schedule, tol, num_iter_max, trace)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while True:
            event, code, n_iter, w = sweep.run(schedule, relaxed, tol, num_iter_max, n_iter, trace)
            if event == DONE:
                break
            if event == END_RELAXED:
                # End as plain Sinkhorn (exact columns), as the stabilized loop does.
                relaxed = False
                u = sweep.u
                v = b / (u @ kernel)
                if not kern.in_range(v):
                    f = f + eps * np.log(u)
                    g = kern.exact_cols(f, eps)
                    kernel = kern.build(f, g, eps)
                    u, v = 1.0, 1.0
                sweep.set(u, v, b)  # (the column sums no longer count)
                continue
            f, g, kernel = _absorb(kern, sweep, kernel, code, f, g, eps, w)
            n_iter += 1
    return kernel, sweep.u.copy(), sweep.v.copy(), f, g, n_iter, trace


def _single_precision_start(kern, kernel, sweep, schedule, tol, num_iter_max, trace):
    """The relaxed loop's first iterations on a float32 copy of the float64 ``kernel``,
    from and back into the state of ``sweep``: until the marginal error is below
    ``max(tol, 2^-16 ||(a, b)||)`` (or an event: the iteration limit, a scaling out of
    ``(1 / _SINGLE_BOUND, _SINGLE_BOUND)``); returns the iterations done, ``trace`` and
    ``schedule`` carried on.

    The float64 loop then goes on from (u, v), so the result is a float64 iterate that
    meets ``tol`` in float64 (the same test as without this start). The float32 iteration
    reaches the switch: its row and column sums are within about 2^-19 relative of the
    float64 ones (the kernel rounded to float32, the sums over 16 lanes), far below 2^-16.
    """
    bound = _SINGLE_BOUND
    v, cols = sweep.v, sweep.cols
    if not (np.minimum.reduce(v) > 1.0 / bound and np.maximum.reduce(v) < bound):
        return 0
    a, b = kern.a, kern.b
    single = ScalingSweep(single_copy(kernel), a.astype(np.float32), b.astype(np.float32), bound)
    single.set(sweep.u, v, cols)
    switch = max(tol, 2.0**-16 * math.sqrt(np.dot(a, a) + np.dot(b, b)))
    event, _, n_iter, _ = single.run(schedule, True, switch, num_iter_max, 0, trace)
    if event == ABSORB:
        trace.pop()  # (the float64 loop takes this iteration again from (u, v))
    u = single.u.astype(np.float64)
    sweep.set(u, single.v, u @ kernel)
    return n_iter


def _absorb(kern, sweep, kernel, code, f, g, eps, w):
    """The rest of an iteration whose new scaling left the range (``code`` of
    :meth:`ScalingSweep.step`): the potentials absorb the other scaling, the exact half step
    is taken in the log domain and the kernel rebuilt, as the stabilized loop does.
    Returns ``(f, g, kernel)``; the sweep holds the new (u, v, column sums)."""
    a, b = kern.a, kern.b
    if code == 1:  # u out of range: f = T(g + eps log v), then the column half step
        g = g + eps * np.log(sweep.v)
        f = kern.exact_rows(g, eps)
        kernel = kern.build(f, g, eps)
        u, v = np.ones_like(a), np.ones_like(b)
        col_sums = u @ kernel
        v = _relaxed(v, b / col_sums, w)
    else:
        u, v, col_sums = sweep.u_next.copy(), sweep.v_next, sweep.cols.copy()
    if not kern.in_range(v):
        f = f + eps * np.log(u)
        g = kern.exact_cols(f, eps)
        kernel = kern.build(f, g, eps)
        u, v = np.ones_like(a), np.ones_like(b)
        col_sums = b
    sweep.set(u, v, col_sums)
    return f, g, kernel


def _plan_dual(kern, kernel, u, v, f, g, eps, moments=True):
    """Dual value, <P, C> and the partial derivatives of :func:`_pair_dual`, from the plan
    P = diag(u) kernel diag(v) whose potentials are (f, g); the value only (one
    matrix-vector product, the same arithmetic) when not ``moments``."""
    x, y, a, b = kern.x, kern.y, kern.a, kern.b
    d = x.shape[1]
    row_mass = kernel @ v
    row_mass *= u
    mass_a, mass_b = np.add.reduce(a), np.add.reduce(b)
    value = a @ f + b @ g - eps * (np.add.reduce(row_mass) - mass_a * mass_b)
    if not moments:
        return {"value": value}
    # P [y, |y|^2] and P^T [x, 1], as products with the kernel
    right = np.empty((y.shape[0], d + 1), dtype=y.dtype)
    np.multiply(y, v[:, None], out=right[:, :d])
    np.multiply(kern.y_sq, v, out=right[:, d])
    row_moments = kernel @ right
    row_moments *= u[:, None]
    left = np.empty((d + 1, x.shape[0]), dtype=x.dtype)
    np.multiply(x.T, u, out=left[:d])
    left[d] = u
    col_moments = left @ kernel
    col_moments *= v
    col_mass = col_moments[d]
    p_y, p_x = row_moments[:, :d], col_moments[:d].T
    linear = (
        np.add.reduce(row_mass * kern.x_sq)
        + np.add.reduce(row_moments[:, d])
        - 2.0 * np.add.reduce(np.einsum("ij,ij->i", x, p_y))
    )
    return {
        "value": value,
        "linear": linear,
        "grad_x": 2.0 * (row_mass[:, None] * x - p_y),
        "grad_y": 2.0 * (col_mass[:, None] * y - p_x),
        "grad_a": f - eps * (row_mass / a - mass_b),
        "grad_b": g - eps * (col_mass / b - mass_a),
    }


def dense_pair(views, eps, stages, num_iter_max, tol, moments=True):
    """The balanced (x, y) problem at ``eps`` on the host views (x, y, a, b) of
    :func:`host_pair`, annealed through ``stages`` (floats above eps).

    Returns the dict of :func:`otkit.bregman._divergence_core._pair_dual` (NumPy arrays)
    with ``f``, ``g`` (the potentials of the returned plan), ``n_iter`` (iterations at eps),
    ``err`` (the last row-marginal error) and ``trace``; of its entries, ``value`` only
    (the same number) when not ``moments``.
    """
    kern = _Kernel(*views)
    fast = None
    if stages and views[0].dtype == np.float64:
        fast = _Kernel(*views, work=np.float32, like=kern)
    f, g = _anneal(kern, stages, fast)
    if not stages:
        f = np.zeros_like(kern.a)
        g = kern.exact_cols(f, eps)
    kernel, u, v, f, g, n_iter, trace = _loop(kern, f, g, eps, num_iter_max, tol)
    with np.errstate(divide="ignore"):
        f_out, g_out = f + eps * np.log(u), g + eps * np.log(v)
    out = _plan_dual(kern, kernel, u, v, f_out, g_out, eps, moments)
    out.update(f=f_out, g=g_out, n_iter=n_iter, err=trace[-1], trace=trace)
    return out


def dense_self(views, eps, f0, num_iter_max, tol):
    """OT_eps(a, a) on the host views (x, x, a, a) by the averaged update
    ``f <- (f + T(f)) / 2`` of :func:`otkit.bregman._sinkhorn_loop.symmetric_log_loop`
    from ``f0``, in the scaling domain: with the kernel K of the potentials (f0, f0) and
    ``f = f0 + eps log s``, ``T(f) = f0 - eps log(K s / a)``, so an iteration is
    ``s <- sqrt(s a / (K s))`` (one matrix-vector product instead of an exp pass) and the
    error ``||a (exp((f - T(f)) / eps) - 1)||`` is ``||s K s - a||``. A step whose scaling
    would leave [1 / bound, bound] is taken in the log domain instead (the exact T(f)),
    and the kernel rebuilt at the new f.

    Returns the dict of :func:`_plan_dual` for the pair (f, f) with ``f``, ``g`` (= f),
    ``n_iter``, ``err`` and ``trace``.
    """
    kern = _Kernel(*views)
    a = kern.a
    base = f0
    kernel = kern.build(base, base, eps)
    sweep = SelfSweep(kernel, kern.a_c, kern.bound)
    n_iter = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        products = kernel @ kern.ones  # (K s at s = 1)
        sweep.start(products)
        trace = [_norm(products, a)]
        while n_iter < num_iter_max and not trace[-1] < tol:
            err = sweep.step()  # s <- sqrt(s a / (K s)), then K s and the error
            if err is None:  # the same step in the log domain, from f (s is in range)
                f = base + eps * np.log(sweep.s)
                base = 0.5 * (f + kern.exact_rows(f, eps))
                kernel = kern.build(base, base, eps)
                products = kernel @ kern.ones
                sweep.start(products)
                err = _norm(products, a)
            else:
                err = math.sqrt(err)
            trace.append(math.inf if math.isnan(err) else err)
            n_iter += 1
        s = sweep.s.copy()
        f = base + eps * np.log(s)
    out = _plan_dual(kern, kernel, s, s, f, f, eps)
    out.update(f=f, g=f, n_iter=n_iter, err=trace[-1], trace=trace)
    return out
