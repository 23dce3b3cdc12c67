"""The solve behind the point-cloud divergences: annealing, the loops, dual values, gradients.

Everything here runs on detached arrays (no autodiff through the iterations). The result is
the dual value of each entropic problem at the computed potentials and its partial
derivatives with respect to the points and the weights; by the envelope theorem these are
the gradients of the optimal value, which the public functions attach in one
differentiable step (:func:`attach_gradients`).

For a KL marginal penalty ``rho`` (``rho = None``: balanced), with
``phi(f) = rho (1 - exp(-f / rho))`` (``f`` when balanced), the dual objective of
``OT_eps(a, b)`` (Sejourne et al. 2019) is

    D(f, g) = <a, phi(f)> + <b, phi(g)> - eps (<a (x) b, exp((f + g - C) / eps)> - m_a m_b)

and, with ``r_i = exp((f_i - T(g)_i) / eps)`` the ratio of the i-th row of the plan to
``a_i``, its partial derivatives are

    dD/dx_i = a_i r_i sum_j pi_ij grad_x C(x_i, y_j),     dD/da_i = phi(f_i) - eps (r_i - m_b).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..backend import (
    device_of,
    fori_loop,
    from_numpy,
    host_view,
    inplace_ops,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    jit,
    logsumexp,
    numpy_namespace,
    stop_gradient,
    to_numpy,
)
from ._dense_pair import dense_pair, dense_self, host_pair
from ._divergence_expansion import large_epsilon_expansion
from ._divergence_scales import (
    SMALL_EPS,
    check_scales,
    has_float64,
    large_eps_threshold,
    point_scale,
    promote_float32,
    scaled_parameter,
    solve_dtype,
    times_power_of_two,
    unscale,
)
from ._pointcloud import (
    CostSpec,
    cost_block,
    diameter,
    online_softmin,
    softmin_cols_online,
    softmin_rows_online,
    transport_pass,
)
from ._sinkhorn_loop import log_weights, sinkhorn_log_loop, symmetric_log_loop
from ._sinkhorn_numpy import stabilized_sinkhorn

__all__ = [
    "SMALL_EPS", "SolveConfig", "attach_gradients", "check_scales", "epsilon_stages",
    "has_float64", "host_problem", "large_eps_threshold", "large_epsilon_expansion",
    "point_scale", "promote_float32", "scaled_parameter", "solve_divergence", "solve_dtype",
    "times_power_of_two", "to_namespace", "unscale", "use_dense_cost"
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class SolveConfig:
    """Static settings of a solve (hashable: one compiled program per config on JAX)."""

    spec: CostSpec
    balanced: bool
    debias: bool
    n_stages: int
    num_iter_max: int
    tol: float
    same_clouds: bool = False
    dense: bool = False  # the (x, y) problem on a stored cost (see ``use_dense_cost``)
    stored: bool = False  # every cost stored on the host (small problems: ``_HostCosts``)
    value_only: bool = False  # the (x, y) value only (its linear cost and gradients may be
    # left out: on the host kernel of _dense_pair)


# The (x, y) problem stores its cost and kernel (two n x m buffers) up to this size (on the
# host kernel of _dense_pair: the float64 kernel, the float32 one of the annealing and the
# float32 copy of the loop's start, as much memory as two float64 buffers).
DENSE_BYTES = 2**28


def use_dense_cost(n, m, itemsize, balanced, spec, traced, xp):
    """Whether the (x, y) problem runs the stabilized scaling loop on a stored cost.

    Eager NumPy or torch, balanced, no batch size asked for, and an n x m buffer of at most
    ``DENSE_BYTES`` (256 MiB: n = m = 5792 in float64). An iteration is then two
    matrix-vector products, an order of magnitude cheaper than the two exp passes of the
    online log-domain iteration; the annealing stages, the self terms (a few iterations
    each) and the dual values stay online.
    """
    eager = (is_numpy_namespace(xp) or is_torch_namespace(xp)) and not traced
    return eager and balanced and spec.block == 0 and n * m * itemsize <= DENSE_BYTES


def epsilon_stages(diameter_p, eps, scaling, p, xp, dtype, device, traced):
    """Annealing values eps_t = eps_0 q^(p t) > eps, t < K, with eps_0 = p diameter^p.

    The blur sigma (eps = p sigma^p) shrinks by ``scaling`` per stage, from the diameter (as
    GeomLoss). K is exact for concrete values; under JAX tracing it is fixed by a ratio
    eps_0 / eps of at most 1e8 (eps_0 is clipped to it, and extra stages run at eps).
    """
    if scaling is None:
        return xp.zeros((0,), dtype=dtype, device=device), 0
    ratio_per_stage = scaling**p
    eps0 = p * diameter_p
    if traced or is_traced(eps0, eps):
        n_stages = math.ceil(math.log(1e-8) / math.log(ratio_per_stage))
    else:
        start, final = float(eps0), float(eps)
        if not start > final:
            return xp.zeros((0,), dtype=dtype, device=device), 0
        n_stages = math.ceil(math.log(final / start) / math.log(ratio_per_stage))

    def as_array(v):
        if is_traced(v):  # (under vmap, asarray(tracer, device=...) is refused)
            return xp.astype(v, dtype)
        return xp.asarray(v, dtype=dtype, device=device)

    eps0 = xp.minimum(as_array(eps0), as_array(eps * ratio_per_stage ** (-n_stages)))
    powers = as_array([ratio_per_stage**t for t in range(n_stages)])
    return xp.maximum(eps0 * powers, as_array(eps)), n_stages


def _phi(f, rho, xp):
    # -rho expm1(-f / rho), not rho (1 - exp(-f / rho)): no cancellation when rho >> |f|
    return f if rho is None else -rho * xp.expm1(-f / rho)


def _capped_exp(x, xp):
    """exp(min(x, 700)) (NumPy's minimum: array-api-compat's clip costs more on small arrays)."""
    return xp.exp(np.minimum(x, 700.0) if type(x) is np.ndarray else xp.clip(x, max=700.0))


def _pair_dual(x, y, a, b, f, g, eps, rho, spec, xp, log_a=None, log_b=None):
    """Dual value, linear cost <P, C> and partial derivatives at the pair (f, g)."""
    log_a = log_weights(a, xp) if log_a is None else log_a
    log_b = log_weights(b, xp) if log_b is None else log_b
    row_T, row_grad, row_cost = transport_pass(x, y, log_b + g / eps, eps, spec, xp)
    col_T, col_grad, _ = transport_pass(y, x, log_a + f / eps, eps, spec, xp)
    r = _capped_exp((f - row_T) / eps, xp)
    s = _capped_exp((g - col_T) / eps, xp)
    mass_a, mass_b = xp.sum(a), xp.sum(b)
    row_mass = a * r
    phi_f, phi_g = _phi(f, rho, xp), _phi(g, rho, xp)
    value = xp.sum(a * phi_f) + xp.sum(b * phi_g) - eps * (xp.sum(row_mass) - mass_a * mass_b)
    return {
        "value": value,
        "linear": xp.sum(row_mass * row_cost),
        "grad_x": row_mass[:, None] * row_grad,
        "grad_y": (b * s)[:, None] * col_grad,
        "grad_a": phi_f - eps * (r - mass_b),
        "grad_b": phi_g - eps * (s - mass_a),
    }


def _self_dual(x, a, f, eps, rho, spec, xp, log_a=None):
    """The same at the symmetric pair (f, f) of OT_eps(a, a): x is in both slots."""
    log_a = log_weights(a, xp) if log_a is None else log_a
    T, grad, cost = transport_pass(x, x, log_a + f / eps, eps, spec, xp)
    r = _capped_exp((f - T) / eps, xp)
    mass = xp.sum(a)
    row_mass = a * r
    phi = _phi(f, rho, xp)
    return {
        "value": 2.0 * xp.sum(a * phi) - eps * (xp.sum(row_mass) - mass * mass),
        "linear": xp.sum(row_mass * cost),
        "grad_x": 2.0 * row_mass[:, None] * grad,
        "grad_a": 2.0 * (phi - eps * (r - mass)),
    }


def _solve(x, y, a, b, eps, rho, stages, config, xp):
    spec = config.spec
    rho = None if config.balanced else rho
    n, m = x.shape[0], y.shape[0]
    traced = is_traced(x, y, a, b, eps, rho)
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    if config.stored:
        self_terms = config.debias or config.same_clouds
        costs = _HostCosts(x, y, spec, eps, self_terms, log_a, log_b)
    else:
        costs = _OnlineCosts(x, y, spec, xp)

    def damping(e):
        return 1.0 if rho is None else rho / (rho + e)

    zeros = functools.partial(xp.zeros, dtype=x.dtype, device=device_of(x))
    state = (zeros((n,)), zeros((n,)), zeros((m,)))

    # The (x, y) problem on the host kernel of _dense_pair (squared Euclidean NumPy or CPU
    # torch views, positive weights) anneals there, and identical clouds solve from f_aa
    # (_solve_same): only the self terms anneal here then.
    host = None
    if config.dense and not config.stored and not config.same_clouds:
        host = host_pair(x, y, a, b, spec)
    cross = host is None and not config.same_clouds

    def anneal(t, state):
        f, f_aa, f_bb = state
        e = stages[t]
        lam = damping(e)
        if cross:
            g = lam * costs.softmin("yx", log_a + f / e, e)
            f = lam * costs.softmin("xy", log_b + g / e, e)
        if config.debias:
            f_aa = 0.5 * (f_aa + lam * costs.softmin("xx", log_a + f_aa / e, e))
            if not config.same_clouds:  # (there f_bb is f_aa: unused)
                f_bb = 0.5 * (f_bb + lam * costs.softmin("yy", log_b + f_bb / e, e))
        return f, f_aa, f_bb

    if config.n_stages:  # (JAX traces the body even for an empty loop)
        state = fori_loop(0, config.n_stages, anneal, state, xp=xp)
    f, f_aa, f_bb = state
    lam = damping(eps)
    if config.same_clouds:
        return _solve_same(x, a, f_aa, eps, rho, lam, traced, config, costs, xp)
    if host is not None:
        levels = [float(e) for e in to_numpy(stages)[: config.n_stages]]
        ab = dense_pair(host, float(eps), levels, config.num_iter_max, config.tol,
                        moments=not config.value_only)  # fmt: skip
        out = {"ab": ab if is_numpy_namespace(xp) else to_namespace(ab, xp, device_of(x))}
    else:
        if config.dense and not (config.stored and n * m <= LOG_DOMAIN_PAIRS):
            f, g, n_iter, err, trace = _dense_pair(x, y, a, b, eps, f, config, xp)
        else:
            f, g, n_iter, err, trace = _log_pair(costs, a, b, eps, rho, f, lam, config, xp)
        out = {"ab": _pair_dual(x, y, a, b, f, g, eps, rho, spec, xp, log_a, log_b)}
        out["ab"].update(f=f, g=g, n_iter=n_iter, err=err, trace=trace)
    if config.debias and host is not None:  # (the self terms on their host kernels too)
        for name, points, weights, start in (("aa", 0, 2, f_aa), ("bb", 1, 3, f_bb)):
            views = (host[points], host[points], host[weights], host[weights])
            term = dense_self(views, float(eps), host_view(start), config.num_iter_max,
                              config.tol)  # fmt: skip
            out[name] = _self_term(term, xp, x)
    elif config.debias:
        for name, which, points, weights, log_w, start in (
            ("aa", "xx", x, a, log_a, f_aa),
            ("bb", "yy", y, b, log_b, f_bb),
        ):

            def softmin(h, which=which, log_w=log_w):
                return costs.softmin(which, log_w + h / eps, eps)

            potential, self_iter, self_err, self_trace = symmetric_log_loop(
                weights, eps, start, config.num_iter_max, config.tol, xp, softmin, lam, traced
            )
            out[name] = _self_dual(points, weights, potential, eps, rho, spec, xp, log_w)
            out[name].update(f=potential, n_iter=self_iter, err=self_err, trace=self_trace)
    return out


class _OnlineCosts:
    """The c-transforms of a solve with the costs recomputed block by block from the points
    (any namespace, also traced): ``softmin(which, h, e)`` is
    ``T_i = -e log sum_j exp(h_j - C(u_i, v_j) / e)`` for the pair of clouds ``which``
    ('xy', 'yx', 'xx' or 'yy')."""

    def __init__(self, x, y, spec, xp):
        cols = dataclasses.replace(spec, block=spec.block_cols) if spec.block_cols else spec
        self.pairs = {"xy": (x, y, spec), "yx": (y, x, cols), "xx": (x, x, spec),
                      "yy": (y, y, spec)}  # fmt: skip
        self.geometry, self.xp = (x, y, spec), xp
        self.rows, self.cols = softmin_rows_online, softmin_cols_online

    def softmin(self, which, h, e):
        u, v, spec = self.pairs[which]
        return online_softmin(u, v, h, e, spec, self.xp)


# Largest n * m, n^2 and m^2 of a problem whose costs are stored on the host (the NumPy
# solve of NumPy input and of small CPU torch input): 128 KiB per matrix in float64.
STORED_PAIRS = 2**14
# Below this n * m, the balanced (x, y) problem on stored costs runs the log-domain loop
# (two exp passes, few operations per iteration) rather than the stabilized scaling loop
# (two matrix-vector products, more operations): the measured crossover, n = m = 64.
LOG_DOMAIN_PAIRS = 2**12


class _HostCosts:
    """The same c-transforms on costs stored once per solve (NumPy arrays, small problems).

    On a few dozen points a solve is a few hundred c-transforms of a few hundred entries
    each: their cost is the number of array operations, and the online pass rebuilds the
    scores from the points (about twenty operations) where a stored cost needs eight. The
    log-kernels ``-C / eps`` of the final eps are kept too, those of the (x, y) problem
    with the log-weights of the other side added (``log_a``, ``log_b``: the loop's, which
    :meth:`rows` and :meth:`cols` then do not add again); the annealing stages scale the
    costs instead. No floor before ``exp``: on a few hundred entries subnormal results cost
    nothing measurable.
    """

    def __init__(self, x, y, spec, eps, self_terms, log_a, log_b):
        cost = cost_block(x, y, spec, np)
        self.costs = {"xy": cost, "yx": np.ascontiguousarray(cost.T)}
        if self_terms:
            self.costs.update(xx=cost_block(x, x, spec, np), yy=cost_block(y, y, spec, np))
        self.eps = eps
        self.kernels = {key: c * (-1.0 / eps) for key, c in self.costs.items()}
        self.kernels["xy+"] = self.kernels["xy"] + log_b
        self.kernels["yx+"] = self.kernels["yx"] + log_a
        self.buffers = {key: np.empty_like(c) for key, c in self.costs.items()}
        self.geometry = self

    def softmin(self, which, h, e):
        buffer = self.buffers[which]
        if e == self.eps:
            np.add(self.kernels[which], h, out=buffer)
        else:
            np.multiply(self.costs[which], -1.0 / e, out=buffer)
            buffer += h
        return _softmin_of_scores(buffer, e)

    @staticmethod
    def rows(geometry, g, log_b, eps, xp):
        """Dense-softmin signature of :mod:`otkit._sinkhorn_loop`: f (n, 1) from g (m, 1)."""
        buffer = geometry.buffers["xy"]
        np.add(geometry.kernels["xy+"], g[:, 0] / eps, out=buffer)
        return _softmin_of_scores(buffer, eps)[:, None]

    @staticmethod
    def cols(geometry, f, log_a, eps, xp):
        """g (m, 1) from f (n, 1)."""
        buffer = geometry.buffers["yx"]
        np.add(geometry.kernels["yx+"], f[:, 0] / eps, out=buffer)
        return _softmin_of_scores(buffer, eps)[:, None]


def _softmin_of_scores(scores, e):
    """-e log sum_j exp(scores_ij) by rows, overwriting the (r, s) NumPy array ``scores``."""
    top = np.maximum.reduce(scores, axis=1)
    scores -= top[:, None]
    np.exp(scores, out=scores)
    total = np.log(np.add.reduce(scores, axis=1))
    total += top
    total *= -e
    return total


def _fits_stored(n, m, config):
    """Whether a host solve stores its costs: small enough, and no batch size asked for."""
    return config.spec.block == 0 and max(n, m) ** 2 <= STORED_PAIRS


def _log_pair(costs, a, b, eps, rho, f, lam, config, xp):
    """The (x, y) problem by the log-domain loop on the online or stored costs; (n,), (m,)
    potentials.

    Balanced problems are over-relaxed with the adaptive factor (:mod:`otkit._relaxation`):
    at blur 0.05 on the unit sphere it cuts the iterations at the final eps about fourfold.
    Unbalanced ones are over-relaxed too and take the best translation (f + t, g - t)
    before each iteration (``translate``): at reach 0.3, blur 0.01 on GeomLoss's ten points
    of the 1-D gradient flow, the 11,512 plain iterations to a residual of 1e-12 become 270
    (945 with the translation alone).
    """
    _, g, n_iter, err, trace, f = sinkhorn_log_loop(
        a,
        b[:, None],
        costs.geometry,
        eps,
        f[:, None],
        config.num_iter_max,
        config.tol,
        xp,
        softmin_rows=costs.rows,
        softmin_cols=costs.cols,
        damping=lam,
        omega=None,
        return_next=True,
        translate=None if config.balanced else rho,
    )
    return f[:, 0], g[:, 0], n_iter, err, trace


def _stored_cost(x, y, spec, xp):
    """The (n, m) cost; the squared Euclidean one in a single buffer, updated in place."""
    if not spec.squared_euclidean:
        return cost_block(x, y, spec, xp)
    ops = inplace_ops(xp)
    cost = ops.multiply(xp.matmul(x, xp.matrix_transpose(y)), -2.0)
    cost = ops.add(cost, xp.sum(x * x, axis=1)[:, None])
    cost = ops.add(cost, xp.sum(y * y, axis=1)[None, :])
    return ops.clip_min(cost, 0.0)


def _dense_pair(x, y, a, b, eps, f0, config, xp):
    """The (x, y) problem by the stabilized scaling loop on the stored cost matrix
    (over-relaxed with the adaptive factor, as the online loop)."""
    cost = _stored_cost(x, y, config.spec, xp)
    # Zero weights: their kernel slices vanish (0 / 0 scalings, a rebuild at every iteration,
    # NumPy warnings; one zero weight in 500 made a torch solve 15 times slower).
    if not (bool(xp.all(a > 0)) and bool(xp.all(b > 0))):
        return _on_support(a, b, cost, float(eps), f0, config, xp)
    _, f, g, n_iter, trace, _ = stabilized_sinkhorn(
        a, b, cost, float(eps), f0, config.num_iter_max, config.tol, omega=None, xp=xp
    )
    return f, g, n_iter, trace[-1], trace


def _on_support(a, b, cost, eps, f0, config, xp):
    """:func:`_dense_pair`'s solve on the points of positive weight (NumPy or eager torch);
    the potentials of the others: the c-transforms of the solve's over the support."""
    rows, cols = xp.nonzero(a > 0)[0], xp.nonzero(b > 0)[0]
    a_sub, b_sub = xp.take(a, rows, axis=0), xp.take(b, cols, axis=0)
    sub = xp.take(xp.take(cost, rows, axis=0), cols, axis=1)
    _, f_sub, g_sub, n_iter, trace, _ = stabilized_sinkhorn(
        a_sub, b_sub, sub, eps, xp.take(f0, rows, axis=0), config.num_iter_max, config.tol,
        omega=None, xp=xp,
    )  # fmt: skip
    f, g = xp.zeros_like(a), xp.zeros_like(b)
    f[rows], g[cols] = f_sub, g_sub
    zero_rows, zero_cols = xp.nonzero(~(a > 0))[0], xp.nonzero(~(b > 0))[0]
    if zero_rows.shape[0]:
        block = xp.take(xp.take(cost, zero_rows, axis=0), cols, axis=1)
        scores = (g_sub[None, :] - block) / eps + xp.log(b_sub)[None, :]
        f[zero_rows] = -eps * logsumexp(scores, axis=1, xp=xp)
    if zero_cols.shape[0]:
        block = xp.take(xp.take(cost, rows, axis=0), zero_cols, axis=1)
        scores = (f_sub[:, None] - block) / eps + xp.log(a_sub)[:, None]
        g[zero_cols] = -eps * logsumexp(scores, axis=0, xp=xp)
    return f, g, n_iter, trace[-1], trace


def _self_term(pair, xp, like):
    """The self term's dict (as :func:`_self_dual`) from :func:`dense_self`'s pair form: the
    points are in both slots, so their derivatives are twice those of one slot."""
    term = {key: pair[key] for key in ("value", "linear", "f", "n_iter", "err", "trace")}
    term.update(grad_x=2.0 * pair["grad_x"], grad_a=2.0 * pair["grad_a"])
    return term if is_numpy_namespace(xp) else to_namespace(term, xp, device_of(like))


def _solve_same(x, a, f, eps, rho, lam, traced, config, costs, xp):
    """OT_eps(a, a) for every term when the two clouds are the same: S is exactly 0.

    The alternating iteration is slow on identical clouds (its linearization has
    eigenvalues near 1 when the plan is near the identity); the averaged one is fast.
    """
    host = None
    if config.balanced and not config.stored:
        host = host_pair(x, x, a, a, config.spec)
    if host is not None:  # (the same loop on the host kernel: see _dense_pair.dense_self)
        ab = dense_self(host, float(eps), host_view(f), config.num_iter_max, config.tol)
        out = {"ab": ab if is_numpy_namespace(xp) else to_namespace(ab, xp, device_of(x))}
        if config.debias:
            out["aa"] = out["bb"] = _self_term(ab, xp, x)
        return out
    log_a = log_weights(a, xp)

    def softmin(h):
        return costs.softmin("xx", log_a + h / eps, eps)

    f, n_iter, err, trace = symmetric_log_loop(
        a, eps, f, config.num_iter_max, config.tol, xp, softmin, lam, traced
    )
    info = {"f": f, "g": f, "n_iter": n_iter, "err": err, "trace": trace}
    out = {"ab": {**_pair_dual(x, x, a, a, f, f, eps, rho, config.spec, xp), **info}}
    if config.debias:
        self_term = {**_self_dual(x, a, f, eps, rho, config.spec, xp), **info}
        out["aa"] = out["bb"] = self_term
    return out


@functools.lru_cache(maxsize=32)
def _jitted(config, xp):
    def run(x, y, a, b, eps, rho, stages):
        return _solve(x, y, a, b, eps, rho, stages, config, xp)

    return jit(run, xp)


# Largest n * m solved on the host for CPU torch input (a 128 x 128 problem).
HOST_PAIRS = 2**14


def _on_host(x, y, xp):
    if not is_torch_namespace(xp) or x.shape[0] * y.shape[0] > HOST_PAIRS:
        return False
    return device_of(x).type == "cpu"


def host_problem(x, y, a, b, xp):
    """``(numpy_namespace, NumPy views of (x, y, a, b))`` for a small eager float64 or float32
    problem on CPU torch tensors (the solve and the arithmetic on its results then run on
    NumPy, in the same dtype, float32 promoted to float64 by the solve where it cannot
    resolve eps as on torch: :func:`to_namespace` brings them back), else None."""
    if not _on_host(x, y, xp) or x.dtype not in (xp.float64, xp.float32):
        return None
    return numpy_namespace(), tuple(to_numpy(v, dtype=None) for v in (x, y, a, b))


def to_namespace(out, xp, device):
    """The NumPy arrays of ``out`` (nested dicts and tuples) moved to ``xp``, each floating
    array, NumPy scalar or 0-d array as an array on ``device``; other entries (Python
    numbers, lists such as the traces, None) kept."""
    if isinstance(out, dict):
        return {key: to_namespace(value, xp, device) for key, value in out.items()}
    if isinstance(out, tuple):
        return tuple(to_namespace(value, xp, device) for value in out)
    if isinstance(out, (np.ndarray, np.generic)) and out.dtype.kind == "f":
        return from_numpy(np.asarray(out), xp, device=device)
    return out


def solve_divergence(x, y, a, b, eps, rho, stages, config, xp):
    """Run the solve (compiled once per config on JAX) on detached inputs.

    Eager float32 input is solved in float64 where float32 cannot resolve eps to the
    tolerance (:func:`promote_float32`; the namespace must have float64): the results are
    then float64 arrays, which the caller casts to the input's dtype. Under JAX tracing
    (values unknown) the solve stays in the input's dtype.
    """
    x, y, a, b = (stop_gradient(v, xp) for v in (x, y, a, b))
    if x.dtype == xp.float32 and not is_traced(x, y, a, b, eps, rho) and has_float64(xp):
        cost_range = float(diameter(x, y, config.spec, xp))
        weight_norm = max(float(xp.sqrt(xp.sum(w * w))) for w in (a, b))
        if promote_float32(float(eps), cost_range, weight_norm, config.tol):
            x, y, a, b, stages = (xp.astype(v, xp.float64) for v in (x, y, a, b, stages))
    host = is_numpy_namespace(xp) or _on_host(x, y, xp)
    if host and _fits_stored(x.shape[0], y.shape[0], config):
        config = dataclasses.replace(config, stored=True)
    if _on_host(x, y, xp):
        # Tiny problems on the CPU: each of the few hundred small array operations of a solve
        # costs several times more through torch's dispatcher than on NumPy (zero-copy views).
        x_h, y_h, a_h, b_h, stages_h = (to_numpy(v) for v in (x, y, a, b, stages))
        out = _solve(x_h, y_h, a_h, b_h, float(eps), rho, stages_h, config, numpy_namespace())
        return to_namespace(out, xp, device_of(x))
    if is_jax_namespace(xp):
        rho_array = xp.asarray(1.0 if rho is None else rho, dtype=x.dtype)
        eps_array = xp.asarray(eps, dtype=x.dtype)
        return _jitted(config, xp)(x, y, a, b, eps_array, rho_array, stages)
    return _solve(x, y, a, b, eps, rho, stages, config, xp)


def attach_gradients(value, pairs, xp):
    """``value`` with the gradient ``grad`` for each (grad, array) pair, in one linear step.

    ``sg(value) + sum <sg(grad), array - sg(array)>``: the value is unchanged and autodiff
    sees the envelope gradients; nothing from the solve stays in the graph. Torch tensors
    that autograd does not record get no term (it would be zero, and four operations and
    a node of the backward graph each).
    """
    if is_numpy_namespace(xp):
        return value
    sg = stop_gradient
    out = sg(value, xp)
    torch_arrays = is_torch_namespace(xp)
    for grad, array in pairs:
        if grad is None or (torch_arrays and not array.requires_grad):
            continue
        out = out + xp.sum(sg(grad, xp) * (array - sg(array, xp)))
    return out
