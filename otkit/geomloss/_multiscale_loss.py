r"""``SamplesLoss(backend='multiscale')``: a coarse-to-fine Sinkhorn solve with kernel truncation.

Working in otkit's units (cost :math:`\|x - y\|^p`, :math:`\varepsilon = p\,\mathrm{blur}^p`;
the values are divided by p at the end, as in :mod:`._sinkhorn_loss`):

1. Both clouds are cut into grid clusters of cell size s (``cluster_scale``;
   :mod:`._clusters`): the coarse measures are the cluster masses at the weighted centroids.
2. The ε-scaling runs on the coarse measures while :math:`\varepsilon_t > p s^p` (the blur
   is above the cluster scale; GeomLoss's switch), with the same symmetric stage as the
   online engine (one update of the (x, y) pair and the averaged self updates).
3. The coarse potentials are extrapolated to the points by one c-transform against the
   coarse dual of the other side, :math:`f_i = -\lambda\varepsilon \log \sum_J B_J
   \exp((G_J - C(x_i, \bar y_J)) / \varepsilon)` (:math:`\lambda = \rho / (\rho +
   \varepsilon)`, 1 when balanced).
4. The remaining stages and the final iterations (to ``stopThr``) run on the points, each
   c-transform restricted to the cluster pairs kept by the truncation test of
   :mod:`._clusters` (recomputed at every stage from the current potentials). At the final
   ε the kept set is checked against the converged potentials and, where they keep a pair
   that was neglected, enlarged and the loop resumed: on return every neglected entry
   satisfies :math:`\pi_{ij} < a_i b_j e^{-\tau}`.
5. Values and envelope gradients come from one truncated transport pass per problem, as in
   :mod:`otkit.bregman._divergence_core`.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_real
from ..backend import from_numpy, is_traced, to_numpy
from ..bregman._clouds import (
    _same_clouds,
    _working_copies,
    cost_spec,
    positive_parameter,
    prepare_clouds,
)
from ..bregman._divergence import _combine, _combine_grads
from ..bregman._divergence_core import (
    attach_gradients,
    check_scales,
    epsilon_stages,
    point_scale,
    scaled_parameter,
    times_power_of_two,
    unscale,
)
from ..bregman._pointcloud import diameter as cost_diameter
from ..bregman._pointcloud import online_softmin
from ..bregman._sinkhorn_loop import log_weights, sinkhorn_log_loop, symmetric_log_loop
from ._clusters import (
    default_cluster_scale,
    grid_clusters,
    keep_mask,
    plan_from_mask,
    planned_softmin,
    planned_transport,
    point_blocks,
)
from ._sinkhorn_loss import geomloss_output, sinkhorn_loss

__all__ = ["check_multiscale_options", "multiscale_loss"]

# Cluster pairs above this count (K_x K_y) would make the truncation masks the memory hog.
MAX_CLUSTER_PAIRS = 2**26
# Rounds of (solve, check the kept set against the new potentials) at the final epsilon.
MAX_ROUNDS = 4
# The final solves keep the pairs up to (truncate + MARGIN) eps and are accepted when their
# potentials keep nothing else up to truncate eps: pairs near the threshold do not flip the
# kept set back and forth as the potentials settle.
MARGIN = 1.0
# The first round at the final epsilon starts from the last stage's potentials, which are
# still far from the solution: it keeps the pairs up to (truncate + FIRST_MARGIN) eps, runs
# WARMUP iterations, and its potentials then choose the kept set afresh (MARGIN).
FIRST_MARGIN = 30.0
WARMUP = 10
# Later rounds that end unconverged run at most FIRST_CAP iterations, then GROWTH times more
# each round; the kept set is corrected (enlarged) between rounds.
FIRST_CAP = 50
GROWTH = 2


def check_multiscale_options(cluster_scale, truncate):
    """``(cluster_scale, truncate)`` as floats or None; a ValueError names a bad one."""
    cluster_scale = check_real(cluster_scale, "cluster_scale", minimum=0, inclusive=(False, True),
                               allow_none=True, allow_traced=False)  # fmt: skip
    truncate = check_real(truncate, "truncate", minimum=0, allow_none=True, allow_traced=False)
    return cluster_scale, truncate


class _Side:
    """One cloud sorted by cluster (fine arrays) and its coarse measure."""

    def __init__(self, points, weights, clusters, xp, device):
        dtype = points.dtype
        self.clusters = clusters
        order = from_numpy(clusters.order, xp, device=device)
        inverse = np.empty_like(clusters.order)
        inverse[clusters.order] = np.arange(clusters.order.shape[0])
        self.inverse = from_numpy(inverse, xp, device=device)
        self.x = xp.take(points, order, axis=0)
        self.w = xp.take(weights, order, axis=0)
        self.log_w = log_weights(self.w, xp)
        self.coarse_x = from_numpy(clusters.centroids, xp, dtype=dtype, device=device)
        coarse_w = from_numpy(clusters.masses, xp, dtype=dtype, device=device)
        self.coarse_log_w = log_weights(coarse_w, xp)
        self.blocks = point_blocks(clusters, np.asarray(to_numpy(self.x)))

    def unsort(self, values, xp):
        return xp.take(values, self.inverse, axis=0)


def _rows(geometry, g, log_b, eps, xp):
    x, y, spec, row_plan, _ = geometry
    return planned_softmin(x, y, log_b[:, 0] + g[:, 0] / eps, eps, spec, row_plan, xp)[:, None]


def _cols(geometry, f, log_a, eps, xp):
    x, y, spec, _, col_plan = geometry
    return planned_softmin(y, x, log_a[:, 0] + f[:, 0] / eps, eps, spec, col_plan, xp)[:, None]


class _Engine:
    """The coarse-to-fine solve on the working (centred, rescaled, detached) arrays."""

    def __init__(self, sx, sy, spec, rho, truncate, config, xp, device):
        self.sx, self.sy, self.spec, self.rho = sx, sy, spec, rho
        self.truncate, self.xp, self.device = truncate, xp, device
        self.num_iter_max, self.tol, self.debias = config
        self.largest, self.kept = 0, []

    def damping(self, e):
        return 1.0 if self.rho is None else self.rho / (self.rho + e)

    def softmin(self, x, y, h, e):
        return online_softmin(x, y, h, e, self.spec, self.xp)

    def masks(self, rows, cols, f, g, e, margin=0.0):
        """The truncation mask of (rows, cols) at the potentials (f, g) (None: keep all),
        with the threshold (truncate + margin) eps."""
        if self.truncate is None:
            return None
        return keep_mask(rows.blocks, cols.blocks, to_numpy(f), to_numpy(g),
                         (self.truncate + margin) * float(e), self.spec.p)  # fmt: skip

    def plans(self, rows, cols, keep):
        """Row-direction and column-direction block plans of a mask."""
        xp, device = self.xp, self.device
        forward = plan_from_mask(keep, rows.blocks, cols.blocks, xp, device)
        backward = None
        if cols is not rows:
            keep_t = None if keep is None else np.ascontiguousarray(keep.T)
            backward = plan_from_mask(keep_t, cols.blocks, rows.blocks, xp, device)
        for plan in (forward, backward):
            if plan is not None:
                self.largest = max(self.largest, plan.largest)
        self.kept.append(forward.kept)
        return forward, backward

    # -- the stages ---------------------------------------------------------------------
    def coarse_stage(self, state, e):
        sx, sy, lam = self.sx, self.sy, self.damping(e)
        f, g, f_aa, g_bb = state
        g = lam * self.softmin(sy.coarse_x, sx.coarse_x, sx.coarse_log_w + f / e, e)
        f = lam * self.softmin(sx.coarse_x, sy.coarse_x, sy.coarse_log_w + g / e, e)
        if self.debias:
            f_aa = 0.5 * (f_aa + lam * self.softmin(sx.coarse_x, sx.coarse_x,
                                                    sx.coarse_log_w + f_aa / e, e))  # fmt: skip
            g_bb = 0.5 * (g_bb + lam * self.softmin(sy.coarse_x, sy.coarse_x,
                                                    sy.coarse_log_w + g_bb / e, e))  # fmt: skip
        return f, g, f_aa, g_bb

    def extrapolate(self, state, e):
        """Fine potentials: one c-transform of the coarse duals of the other side."""
        sx, sy, lam = self.sx, self.sy, self.damping(e)
        f, g, f_aa, g_bb = state
        fine = [
            lam * self.softmin(sx.x, sy.coarse_x, sy.coarse_log_w + g / e, e),
            lam * self.softmin(sy.x, sx.coarse_x, sx.coarse_log_w + f / e, e),
            None,
            None,
        ]
        if self.debias:
            fine[2] = lam * self.softmin(sx.x, sx.coarse_x, sx.coarse_log_w + f_aa / e, e)
            fine[3] = lam * self.softmin(sy.x, sy.coarse_x, sy.coarse_log_w + g_bb / e, e)
        return tuple(fine)

    def fine_stage(self, state, e):
        sx, sy, lam, spec, xp = self.sx, self.sy, self.damping(e), self.spec, self.xp
        f, g, f_aa, g_bb = state
        forward, backward = self.plans(sx, sy, self.masks(sx, sy, f, g, e))
        g = lam * planned_softmin(sy.x, sx.x, sx.log_w + f / e, e, spec, backward, xp)
        f = lam * planned_softmin(sx.x, sy.x, sy.log_w + g / e, e, spec, forward, xp)
        if self.debias:
            f_aa, g_bb = (self._self_step(side, h, e, lam) for side, h in ((sx, f_aa), (sy, g_bb)))
        return f, g, f_aa, g_bb

    def _self_step(self, side, h, e, lam):
        plan, _ = self.plans(side, side, self.masks(side, side, h, h, e))
        update = planned_softmin(side.x, side.x, side.log_w + h / e, e, self.spec, plan, self.xp)
        return 0.5 * (h + lam * update)

    # -- the final epsilon --------------------------------------------------------------
    def settle(self, solve, mask, state):
        """Solve at the final eps on a kept set that the converged potentials confirm.

        ``solve(keep, state, cap)`` runs the loop on the pairs of ``keep`` (None: all pairs)
        for at most ``cap`` iterations -> (state, n_iter, err, trace, plans); ``mask(state,
        margin)`` is the truncation mask of a state. The first round runs ``WARMUP``
        iterations on the pairs kept up to (truncate + ``FIRST_MARGIN``) eps by the starting
        potentials; its potentials then choose the kept set afresh. Every later round that
        converges ends the solve when its potentials keep no neglected pair (the guarantee
        of the module note: it holds whatever the kept sets before), else adds them; one
        that ends unconverged adds the pairs its potentials keep and the next round may run
        ``GROWTH`` times longer. A round that stalls (the kept pairs cannot carry the
        transport), or a check past ``MAX_ROUNDS``, makes the next one read every pair; a
        round that spends the iterations ends the solve unchecked (reported as not
        converged).
        """
        keep, n_iter, checks, cap = mask(state, FIRST_MARGIN), 0, 0, WARMUP
        first = True
        while True:
            budget = max(self.num_iter_max - n_iter, 1)
            limit = budget if keep is None else min(cap, budget)
            state, it, err, trace, plans = solve(keep, state, limit)
            n_iter += int(it)
            if keep is None:
                return state, n_iter, err, plans
            if float(to_numpy(err)) <= self.tol:
                if not np.any(mask(state, 0.0) & ~keep):
                    return state, n_iter, err, plans
                checks += 1
                keep = None if checks >= MAX_ROUNDS else keep | mask(state, MARGIN)
            elif n_iter >= self.num_iter_max:
                return state, n_iter, err, plans
            elif _stalled(trace, self.tol):
                keep = None
            elif first:
                keep, cap = mask(state, MARGIN), FIRST_CAP
            else:
                keep, cap = keep | mask(state, MARGIN), GROWTH * cap
            first = False

    def final_pair(self, f, g, eps):
        sx, sy, xp, lam = self.sx, self.sy, self.xp, self.damping(eps)

        def solve(keep, state, cap):
            forward, backward = self.plans(sx, sy, keep)
            geometry = (sx.x, sy.x, self.spec, forward, backward)
            _, g2, it, err, trace, f2 = sinkhorn_log_loop(
                sx.w, sy.w[:, None], geometry, eps, state[0][:, None], cap, self.tol, xp,
                softmin_rows=_rows, softmin_cols=_cols, damping=lam,
                omega=None, return_next=True, translate=self.rho,
            )  # fmt: skip
            return (f2[:, 0], g2[:, 0]), it, err, trace, (forward, backward)

        def mask(state, margin):
            return self.masks(sx, sy, state[0], state[1], eps, margin)

        (f, g), n_iter, err, plans = self.settle(solve, mask, (f, g))
        return f, g, n_iter, err, plans

    def final_self(self, side, h, eps):
        lam = self.damping(eps)

        def solve(keep, h, cap):
            plan, _ = self.plans(side, side, keep)

            def softmin(v):
                return planned_softmin(side.x, side.x, side.log_w + v / eps, eps, self.spec,
                                       plan, self.xp)  # fmt: skip

            h, it, err, trace = symmetric_log_loop(side.w, eps, h, cap, self.tol, self.xp,
                                                   softmin, lam, False)  # fmt: skip
            return h, it, err, trace, plan

        def mask(h, margin):
            return self.masks(side, side, h, h, eps, margin)

        return self.settle(solve, mask, h)

    # -- values and envelope gradients --------------------------------------------------
    def phi(self, f):
        return f if self.rho is None else -self.rho * self.xp.expm1(-f / self.rho)

    def pair_dual(self, f, g, eps, plans):
        sx, sy, xp, spec = self.sx, self.sy, self.xp, self.spec
        row_t, row_grad, row_cost = planned_transport(sx.x, sy.x, sy.log_w + g / eps, eps,
                                                      spec, plans[0], xp)  # fmt: skip
        col_t, col_grad, _ = planned_transport(sy.x, sx.x, sx.log_w + f / eps, eps, spec,
                                               plans[1], xp)  # fmt: skip
        r = xp.exp(xp.clip((f - row_t) / eps, max=700.0))
        s = xp.exp(xp.clip((g - col_t) / eps, max=700.0))
        mass_a, mass_b = xp.sum(sx.w), xp.sum(sy.w)
        row_mass = sx.w * r
        return {
            "value": xp.sum(sx.w * self.phi(f))
            + xp.sum(sy.w * self.phi(g))
            - eps * (xp.sum(row_mass) - mass_a * mass_b),
            "linear": xp.sum(row_mass * row_cost),
            "grad_x": row_mass[:, None] * row_grad,
            "grad_y": (sy.w * s)[:, None] * col_grad,
            "grad_a": self.phi(f) - eps * (r - mass_b),
            "grad_b": self.phi(g) - eps * (s - mass_a),
        }

    def self_dual(self, side, h, eps, plan):
        xp = self.xp
        t, grad, cost = planned_transport(side.x, side.x, side.log_w + h / eps, eps, self.spec,
                                          plan, xp)  # fmt: skip
        r = xp.exp(xp.clip((h - t) / eps, max=700.0))
        mass = xp.sum(side.w)
        row_mass = side.w * r
        return {
            "value": 2.0 * xp.sum(side.w * self.phi(h)) - eps * (xp.sum(row_mass) - mass * mass),
            "linear": xp.sum(row_mass * cost),
            "grad_x": 2.0 * row_mass[:, None] * grad,
            "grad_a": 2.0 * (self.phi(h) - eps * (r - mass)),
        }

    def solve(self, stages, eps, coarse_eps):
        """Potentials and dual terms, in sorted order; see the module note."""
        xp, sx, sy = self.xp, self.sx, self.sy

        def zeros(side):
            return xp.zeros_like(side.coarse_log_w)

        state, fine = (zeros(sx), zeros(sy), zeros(sx), zeros(sy)), False
        for e in stages:
            if not fine and e > coarse_eps:
                state = self.coarse_stage(state, e)
                continue
            if not fine:
                state, fine = self.extrapolate(state, e), True
            state = self.fine_stage(state, e)
        if not fine:
            state = self.extrapolate(state, eps)
        f, g, f_aa, g_bb = state
        f, g, n_iter, err, plans = self.final_pair(f, g, eps)
        self.read = plans[0].kept
        out = {"ab": {**self.pair_dual(f, g, eps, plans), "f": f, "g": g}}
        errors, iterations = [float(to_numpy(err))], [n_iter]
        if self.debias:
            for key, side, h in (("aa", sx, f_aa), ("bb", sy, g_bb)):
                h, it, err, plan = self.final_self(side, h, eps)
                out[key] = {**self.self_dual(side, h, eps, plan), "f": h}
                errors.append(float(to_numpy(err)))
                iterations.append(it)
        return out, max(errors), max(iterations)


def _stalled(trace, tol):
    """Whether a loop ended above ``tol`` without progress over the second half of a long
    run: the kept pairs then do not carry a feasible transport (a short run is not judged)."""
    if not trace[-1] > tol or len(trace) < 50:
        return False
    return not trace[-1] < 0.1 * trace[len(trace) // 2]


def _working_problem(X_s, X_t, a, b, spec, exponent, blur, reach, diameter, cluster_scale, xp):
    """Working arrays, scaled parameters and the cluster scale (see ``solve_clouds``)."""
    x, y, wa, wb, _ = _working_copies(X_s, X_t, a, b, spec, xp)
    log2_scale = point_scale(x, y, spec, False, xp)
    if log2_scale:
        x, y = x * 2.0**-log2_scale, y * 2.0**-log2_scale
    eps = scaled_parameter(blur, "blur", exponent, log2_scale, True)
    rho = None if reach is None else scaled_parameter(reach, "reach", exponent, log2_scale, True)
    box = float(cost_diameter(x, y, spec, xp)) ** (1.0 / exponent)
    span = box if diameter is None else float(np.ldexp(diameter, -log2_scale))
    if cluster_scale is None:
        scale = default_cluster_scale(span, x.shape[1])
    else:
        scale = float(np.ldexp(cluster_scale, -log2_scale))
    return x, y, wa, wb, log2_scale, eps, rho, span**exponent, box**exponent, scale


def multiscale_loss(a, x, b, y, *, p, blur, reach, debias, scaling, diameter, potentials,
                    cluster_scale, truncate, batch_size, verbose, options, xp):  # fmt: skip
    """GeomLoss's multiscale ``SamplesLoss('sinkhorn')`` value (0-d) or potentials ((n,), (m,)).

    Falls back to the online engine (:func:`._sinkhorn_loss.sinkhorn_loss`) under JAX tracing
    (data-dependent cluster shapes), on identical clouds (the exact 0) and where the value
    comes from the large-ε expansion.
    """

    def online():
        return sinkhorn_loss(
            a, x, b, y, p=p, blur=blur, reach=reach, debias=debias, scaling=scaling,
            diameter=diameter, potentials=potentials, batch_size=batch_size, verbose=verbose,
            options=options, xp=xp,
        )  # fmt: skip

    if is_traced(a, x, b, y, blur, reach):
        return online()
    unknown = set(options) - {"stopThr", "numItermax"}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    spec, exponent = cost_spec(None, p, batch_size or 0)
    blur, reach = positive_parameter(blur, "blur"), positive_parameter(reach, "reach")
    diameter = positive_parameter(diameter, "diameter")
    scaling = check_real(scaling, "scaling", minimum=0, maximum=1, inclusive=(False, False),
                         allow_none=True, allow_traced=False)  # fmt: skip
    balanced = reach is None
    _, dtype, device, X_s, X_t, wa, wb = prepare_clouds(x, y, a, b, balanced)
    if _same_clouds(X_s, X_t, wa, wb, xp):
        return online()
    xw, yw, aw, bw, log2_scale, eps, rho, diameter_p, cost_range, scale = _working_problem(
        X_s, X_t, wa, wb, spec, exponent, blur, reach, diameter, cluster_scale, xp
    )
    work_dtype = xw.dtype
    if check_scales(eps, rho, cost_range, "blur", "reach", work_dtype, xp):
        return online()
    tol = options.get("stopThr")
    tol = (1e-6 if work_dtype == xp.float64 else 1e-4) if tol is None else float(tol)
    num_iter_max = int(options.get("numItermax", 1000))
    stages, n_stages = epsilon_stages(diameter_p, eps, scaling, exponent, xp, work_dtype,
                                      device, False)  # fmt: skip
    stages = [float(e) for e in to_numpy(stages)]
    x_np, y_np = to_numpy(xw), to_numpy(yw)
    origin = np.minimum(x_np.min(axis=0), y_np.min(axis=0))
    cx = grid_clusters(x_np, to_numpy(aw), scale, origin)
    cy = grid_clusters(y_np, to_numpy(bw), scale, origin)
    k_x, k_y = cx.centroids.shape[0], cy.centroids.shape[0]
    if max(k_x, k_y) ** 2 > MAX_CLUSTER_PAIRS:
        raise ValueError(
            f"cluster_scale={cluster_scale!r} cuts the clouds into {k_x} x {k_y} clusters, more "
            f"than the {MAX_CLUSTER_PAIRS} cluster pairs the truncation masks may hold; use a "
            "larger cluster_scale"
        )
    sx, sy = _Side(xw, aw, cx, xp, device), _Side(yw, bw, cy, xp, device)
    engine = _Engine(sx, sy, spec, rho, truncate, (num_iter_max, tol, debias), xp, device)
    # (the first errors from extrapolated potentials may overflow to inf: harmless)
    with np.errstate(over="ignore"):
        out, err, n_iter = engine.solve(stages, eps, exponent * scale**exponent)
    keys = ("ab", "aa", "bb") if debias else ("ab",)
    total = _combine(out, keys, "regularized", eps, sx.w, sy.w, xp)
    grad_x, grad_y, grad_a, grad_b = _combine_grads(out, keys, eps, sx.w, sy.w, xp)
    grads = (sx.unsort(grad_x, xp), sy.unsort(grad_y, xp), sx.unsort(grad_a, xp),
             sy.unsort(grad_b, xp))  # fmt: skip
    if debias and p <= 2:  # S_eps >= 0 (positive definite Gibbs kernel): clamp rounding
        total = xp.clip(total, min=0.0)
    factor = exponent * log2_scale
    total, grads = unscale(total, grads, factor, log2_scale, xp)
    value_scale = times_power_of_two(1.0, factor)
    pairs = [(xp.astype(gr, dtype), v) for gr, v in zip(grads, (X_s, X_t, wa, wb))]
    total = attach_gradients(xp.astype(total, dtype), pairs, xp)

    def potential(key, name, side):
        return xp.astype(side.unsort(out[key][name], xp) * value_scale, dtype)

    f, g = potential("ab", "f", sx), potential("ab", "g", sy)
    f_aa = potential("aa", "f", sx) if debias else None
    g_bb = potential("bb", "f", sy) if debias else None
    converged = err <= tol
    if verbose or not converged:
        message = (
            f"SamplesLoss('sinkhorn', backend='multiscale'): {k_x} x {k_y} clusters at scale "
            f"{scale * 2.0**log2_scale:.3g}, {n_stages} annealing stages, {n_iter} "
            f"iterations at the final eps reading {100 * engine.read:.3g}% of the (x, y) "
            f"pairs, largest block {engine.largest} pairs, marginal error {err:.2e}"
        )
        if verbose:
            print(message)
        if not converged:
            import warnings

            warnings.warn(f"did not converge: {message}", UserWarning, stacklevel=4)
    if debias:
        f, g = f - f_aa, g - g_bb
    return geomloss_output(total, f, g, a, b, p, blur, balanced, debias, potentials, xp)
