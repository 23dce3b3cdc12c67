"""Sinkhorn divergences between point clouds: debiased, biased and unbalanced."""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._boundary import as_backend, weights_or_uniform
from .._validation import (
    check_equal_mass,
    check_finite,
    check_integer,
    check_nonnegative_weights,
    check_real,
)
from ..backend import (
    device_of,
    get_namespace,
    is_numpy_namespace,
    is_traced,
    result_float_dtype,
    stop_gradient,
    to_numpy,
)
from ._divergence_core import (
    SolveConfig,
    attach_gradients,
    check_scales,
    epsilon_stages,
    large_epsilon_expansion,
    point_scale,
    scaled_parameter,
    solve_divergence,
    times_power_of_two,
    unscale,
    use_dense_cost,
)
from ._pointcloud import CostSpec, cost_std, diameter

__all__ = ["positive_parameter", "prepare_clouds", "sinkhorn_divergence", "solve_clouds"]

VALUES = ("regularized", "linear")


def cost_spec(metric, p, block=0):
    """(CostSpec, exponent of the blur rule) from the (metric, p) pair."""
    if metric is None:
        p = 2.0 if p is None else p
        p = check_real(p, "p", minimum=0, inclusive=(False, True), allow_traced=False)
        return CostSpec("power", p, block), p
    implied = {"sqeuclidean": 2.0, "euclidean": 1.0}
    if metric in implied:
        if p is not None and float(p) != implied[metric]:
            raise ValueError(
                f"metric={metric!r} is the cost ||x - y||^{implied[metric]:g}, but p={p!r}; "
                "pass metric=None to use ||x - y||^p"
            )
        return CostSpec("power", implied[metric], block), implied[metric]
    if metric == "cosine":
        if p is not None:
            raise ValueError("p has no meaning for metric='cosine'")
        return CostSpec("cosine", 1.0, block), 1.0
    raise ValueError(f"metric must be None, 'sqeuclidean', 'euclidean' or 'cosine', got {metric!r}")


def positive_parameter(value, name):
    """A finite number > 0 (None and traced values pass through)."""
    return check_real(value, name, minimum=0, inclusive=(False, True), allow_none=True)


def _points(X, name, xp, dtype, device):
    X = as_backend(X, xp, dtype, device)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must be an (n, d) array of points, got shape {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}); nothing to transport")
    return X


def prepare_clouds(X_s, X_t, a, b, balanced, check_mass=True):
    """Namespace, dtype, device, (n, d) points and weights; value checks when eager."""
    xp = get_namespace(X_s=X_s, X_t=X_t, a=a, b=b)
    device = next((device_of(v) for v in (X_s, X_t, a, b) if device_of(v) is not None), None)
    dtype = result_float_dtype(xp, X_s, X_t, a, b, device=device)
    X_s = _points(X_s, "X_s", xp, dtype, device)
    X_t = _points(X_t, "X_t", xp, dtype, device)
    if X_s.shape[1] != X_t.shape[1]:
        raise ValueError(
            f"X_s and X_t must have the same dimension: X_s.shape == {tuple(X_s.shape)}, "
            f"X_t.shape == {tuple(X_t.shape)}"
        )
    n, m = X_s.shape[0], X_t.shape[0]
    a = weights_or_uniform(a, n, xp, dtype, device)
    b = weights_or_uniform(b, m, xp, dtype, device)
    for w, name, size, points in ((a, "a", n, "X_s"), (b, "b", m, "X_t")):
        if tuple(w.shape) != (size,):
            raise ValueError(
                f"{name}.shape == {tuple(w.shape)}, expected ({size},) to match {points}.shape[0]"
            )
    if not is_traced(X_s, X_t, a, b):
        check_finite(to_numpy(X_s), "X_s")
        check_finite(to_numpy(X_t), "X_t")
        a_np, b_np = to_numpy(a), to_numpy(b)
        check_nonnegative_weights(a_np, "a")
        check_nonnegative_weights(b_np, "b")
        if balanced and check_mass:
            check_equal_mass(a_np, b_np, 1e-6 if dtype == xp.float64 else 1e-4)
    return xp, dtype, device, X_s, X_t, a, b


def _working_copies(X_s, X_t, a, b, spec, xp):
    """Detached float64 (NumPy) copies; centred (translation-invariant costs) or normalized."""
    if is_numpy_namespace(xp):
        X_s, X_t, a, b = (np.asarray(v, dtype=np.float64) for v in (X_s, X_t, a, b))
    X_s, X_t, a, b = (stop_gradient(v, xp) for v in (X_s, X_t, a, b))
    if spec.kind == "cosine":
        return _normalized(X_s, xp), _normalized(X_t, xp), a, b
    center = (xp.mean(X_s, axis=0) + xp.mean(X_t, axis=0)) / 2.0
    return X_s - center, X_t - center, a, b


def _normalized(X, xp):
    squared = xp.sum(X * X, axis=1)[:, None]
    positive = squared > 0
    scale = xp.where(positive, 1.0 / xp.sqrt(xp.where(positive, squared, 1.0)), 0.0)
    return X * scale


def solve_clouds(
    X_s,
    X_t,
    a,
    b,
    *,
    spec,
    exponent,
    reg,
    blur,
    rho,
    debias,
    scaling,
    num_iter_max,
    reach=None,
    tol,
    xp,
    dtype,
    device,
    diameter_value=None,
):
    """Solve on prepared inputs, on points divided by a power of two s (eagerly).

    The costs are positively homogeneous (C(s x, s y) = s^p C(x, y)), so the problem is
    solved at eps / s^p on points of size about 1 and the values are multiplied back by
    ``2**log2_factor`` = s^p by the caller: points at 1e150 or 1e-150 neither overflow nor
    underflow. Returns (eps, out, config, log2_factor, log2_scale) with eps scaled; ``out``
    is the core's result dict, or the working (x, y, a, b) when eps is so large that the
    expansion in 1 / eps is to be used instead (see ``check_scales``).
    """
    x, y, wa, wb = _working_copies(X_s, X_t, a, b, spec, xp)
    traced = is_traced(x, y, wa, wb, reg, blur, rho, reach)
    log2_scale = point_scale(x, y, spec, traced, xp)
    if log2_scale:
        x, y = x * 2.0**-log2_scale, y * 2.0**-log2_scale
    if reg is not None:
        eps = reg if traced else scaled_parameter(reg, "reg", exponent, log2_scale, False)
    elif blur is not None:
        eps = (
            exponent * blur**exponent
            if traced
            else scaled_parameter(blur, "blur", exponent, log2_scale, True)
        )
    else:
        eps = 0.05 * cost_std(x, y, spec, xp)
        if not traced:
            eps = float(eps)
            if not eps > 0:  # every pair at the same cost: any eps gives the same answer
                eps = 1.0
    work_dtype = x.dtype
    # The number of stages is exact when the diameter and eps are concrete, even under jit.
    stages_traced = traced
    if diameter_value is None:
        diameter_p = diameter(x, y, spec, xp)
    else:
        if log2_scale:
            diameter_value = math.ldexp(diameter_value, -log2_scale)
        diameter_p = diameter_value**exponent
        stages_traced = traced and is_traced(diameter_p, eps)
    if tol is None:
        tol = 1e-6 if work_dtype == xp.float64 else 1e-4
    same = not traced and _same_clouds(X_s, X_t, a, b, xp)
    itemsize = 4 if work_dtype == xp.float32 else 8
    if reach is not None:
        rho = (
            exponent * reach**exponent
            if traced
            else scaled_parameter(reach, "reach", exponent, log2_scale, True)
        )
    elif rho is not None and not traced:
        rho = scaled_parameter(rho, "rho", exponent, log2_scale, False)
    dense = use_dense_cost(x.shape[0], y.shape[0], itemsize, rho is None, spec, traced, xp)
    expand = False
    if not traced:
        eps_name = "reg" if reg is not None else "blur" if blur is not None else "reg (default)"
        rho_name = "reach" if reach is not None else "rho"
        cost_range = diameter(x, y, spec, xp) if diameter_value is not None else diameter_p
        expand = check_scales(eps, rho, cost_range, eps_name, rho_name, work_dtype, xp)
    n_stages = 0
    if not expand:
        stages, n_stages = epsilon_stages(
            diameter_p, eps, scaling, exponent, xp, work_dtype, device, stages_traced
        )
    config = SolveConfig(
        spec, rho is None, debias, n_stages, int(num_iter_max), float(tol), same, dense
    )
    factor = exponent * log2_scale
    if expand:
        return eps, (x, y, wa, wb), config, factor, log2_scale
    out = solve_divergence(x, y, wa, wb, eps, rho, stages, config, xp)
    return eps, out, config, factor, log2_scale


def _same_clouds(X_s, X_t, a, b, xp):
    """True when both measures are the same (same points, same weights, same order)."""
    if X_s is X_t and a is b:
        return True
    if X_s.shape != X_t.shape:
        return False
    return bool(xp.all(X_s == X_t)) and bool(xp.all(a == b))


def _finish(out, keys, xp, dtype, traced):
    """Errors, iteration counts and convergence of the listed problems."""
    errs = [out[k]["err"] for k in keys]
    n_iters = [out[k]["n_iter"] for k in keys]
    if traced:
        err = errs[0]
        for e in errs[1:]:
            err = xp.maximum(err, e)
        return err, n_iters[0]
    return max(float(to_numpy(e)) for e in errs), max(int(to_numpy(i)) for i in n_iters)


def sinkhorn_divergence(
    X_s,
    X_t,
    a=None,
    b=None,
    *,
    reg=None,
    blur=None,
    p=None,
    metric=None,
    debias=True,
    reach=None,
    rho=None,
    value="regularized",
    scaling=0.5,
    numItermax=1000,
    stopThr=None,
    batch_size=None,
    diameter=None,
    log=False,
    warn=True,
):
    r"""Sinkhorn divergence between two weighted point clouds, with envelope gradients.

    With :math:`\mathrm{OT}_\varepsilon(\alpha, \beta) = \min_P \langle P, C\rangle +
    \varepsilon\,\mathrm{KL}(P \,\|\, \alpha\otimes\beta)` (+ the marginal penalties
    :math:`\rho\,\mathrm{KL}(P1 \,\|\, \alpha) + \rho\,\mathrm{KL}(P^\top 1 \,\|\, \beta)`
    when unbalanced), returns the debiased divergence (Feydy et al. 2019; Sejourne et al.
    2019 for the unbalanced mass term)

    .. math::
        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta)
        + \tfrac{\varepsilon}{2} (m(\alpha) - m(\beta))^2,

    which is >= 0, zero iff :math:`\alpha = \beta`, tends to :math:`W_p^p` as
    :math:`\varepsilon \to 0` and to an MMD as :math:`\varepsilon \to \infty`; with
    ``debias=False`` the biased :math:`\mathrm{OT}_\varepsilon(\alpha, \beta)`; with
    ``value='linear'`` POT's :math:`\bar S` made of the linear costs
    :math:`\langle P, C\rangle` of the three plans (no entropy, no mass term).

    The costs are recomputed block by block from the points (memory
    O((n + m) d + block m)); the solve anneals :math:`\varepsilon` from the diameter of the
    data (the blur :math:`\sigma` shrinks by ``scaling`` per stage, one Sinkhorn iteration
    per stage) and then iterates at :math:`\varepsilon` until the marginal error is at
    most ``stopThr``: the achieved error is reported, and a warning is issued when it is
    not reached. The self terms use the averaged symmetric update. In balanced problems the
    (α, β) iteration is over-relaxed with an adaptive factor (Thibault et al. 2017; about
    four times fewer iterations at blur 0.05 on the unit sphere) and, on eager NumPy and
    torch input without ``batch_size`` whose n x m cost fits in 256 MiB, it runs the
    stabilized scaling loop of :func:`otkit.sinkhorn` on the stored cost (two
    matrix-vector products per iteration instead of two exp passes); otherwise the costs
    are never stored.

    Parameters
    ----------
    X_s, X_t : (n, d), (m, d) arrays
        The points (1-D arrays are read as d = 1).
    a, b : (n,), (m,) arrays, optional
        Non-negative weights (uniform by default). Balanced problems need equal masses.
    reg : float, optional
        :math:`\varepsilon` in cost units.
    blur : float, optional
        GeomLoss's blur :math:`\sigma`: :math:`\varepsilon = p\,\sigma^p` (for p = 2 the
        kernel is :math:`\exp(-\|x - y\|^2 / 2\sigma^2)`). Without ``reg`` and ``blur``,
        :math:`\varepsilon` is 0.05 times the standard deviation of the cost over all
        pairs (computed without the cost matrix).
    p : float, optional
        Exponent of the cost :math:`\|x - y\|^p` (2 by default).
    metric : {None, 'sqeuclidean', 'euclidean', 'cosine'}, default=None
        'sqeuclidean' is p = 2, 'euclidean' p = 1 (POT's names); 'cosine' is
        :math:`1 - \cos(x, y)` (its blur rule is :math:`\varepsilon = \sigma`).
    debias : bool, default=True
        :math:`S_\varepsilon` (True) or :math:`\mathrm{OT}_\varepsilon` (False).
    reach : float, optional
        Unbalanced transport, GeomLoss-style: :math:`\rho = p\,\mathrm{reach}^p` in cost
        units (the same rule as ``blur``, so that plans match GeomLoss's, whose costs
        carry a factor 1/p). Independent of :math:`\varepsilon`.
    rho : float, optional
        The marginal penalty :math:`\rho` directly, in cost units (instead of ``reach``).
    value : {'regularized', 'linear'}, default='regularized'
        'linear' gives POT's :math:`\bar S` (``empirical_sinkhorn_divergence``).
    scaling : float or None, default=0.5
        Factor of the blur per annealing stage, in (0, 1); None: no annealing.
    numItermax : int, default=1000
        Iterations at the final :math:`\varepsilon`, per problem.
    stopThr : float, optional
        L2 norm of the marginal error (for unbalanced problems, of the fixed-point residual
        in mass units) to reach: 1e-6 in float64, 1e-4 in float32 by default.
    batch_size : int, optional
        Rows per cost block (default: 2**16 / m on NumPy, a block that stays in the L2
        cache; 2**21 / m on torch and JAX). Given, no cost matrix is ever stored.
    diameter : float, optional
        Start of the annealing, in point units (default: the diagonal of the bounding box;
        give it under ``jax.jit`` to fix the number of stages exactly).
    log : bool, default=False
        Also return a dict: 'reg' (:math:`\varepsilon`), 'rho', 'f', 'g' (the potentials
        of :math:`\mathrm{OT}_\varepsilon(\alpha, \beta)` on X_s and X_t), 'f_aa', 'g_bb'
        (self terms), 'ot_ab', 'ot_aa', 'ot_bb' (regularized values), 'value_linear',
        'err' (largest final marginal error), 'n_iter' (largest iteration count at the
        final :math:`\varepsilon`), 'n_stages', 'converged', 'expansion' (True when the
        value comes from the expansion in :math:`1/\varepsilon`, see Notes; the log then
        has no potentials).
    warn : bool, default=True
        Warn when ``stopThr`` is not reached.

    Returns
    -------
    value : 0-d array
        In cost units (:math:`W_p^p`-like), in the namespace, dtype and device of
        ``X_s``. Differentiable (torch, JAX, also under ``jax.jit``) with respect to the
        points and the weights: the gradients are the envelope-theorem ones (exact at the
        optimum, correct in the unbalanced case), attached in one step without keeping the
        iterations in memory. For ``value='linear'`` the gradient is that of the
        regularized value, as for POT's ``sinkhorn2``. Second derivatives are not
        supported.
    log : dict
        Only with ``log=True``.

    Raises
    ------
    ValueError
        Bad options, shapes or weights; ``p`` not a positive finite number; an
        :math:`\varepsilon` (``reg``, ``blur``) or :math:`\rho` (``reach``, ``rho``) that
        cannot be represented at the scale of the points, or a value that overflows the
        dtype (see Notes: Extreme scales).

    Notes
    -----
    :math:`\nabla_{x_i} S_\varepsilon / a_i` is the displacement that moves :math:`x_i`
    toward :math:`\beta` (a Brenier-like map at small blur): a gradient flow steps
    :math:`x_i \leftarrow x_i - \tau\,\nabla_{x_i} S / a_i`.

    GeomLoss users: ``SamplesLoss("sinkhorn", p=2, blur=s)`` is
    ``sinkhorn_divergence(x, y, blur=s) / 2`` (same plans; GeomLoss's cost is
    :math:`\|x - y\|^2 / 2`); see :class:`SamplesLoss`.

    **Extreme scales.** The points are centred and divided by a power of two s near their
    largest coordinate before the solve (the costs are homogeneous:
    :math:`S_\varepsilon(s\alpha, s\beta) = s^p S_{\varepsilon/s^p}(\alpha, \beta)`), so
    points at 1e150 or 1e-150 give the value scaled by :math:`s^p`; a value beyond the
    largest float of the dtype is a ValueError naming the points. With D the range of the
    costs (the bounding box diagonal to the power p) and u the unit roundoff of the working dtype:

    - :math:`\varepsilon < 2^{10} u D` is a ValueError naming ``reg`` or ``blur``: the
      potentials are rounded to more than :math:`\varepsilon` there, and the plan
      :math:`\exp((f + g - C)/\varepsilon)` would be noise (``blur=1e-10`` used to return
      -4.7e283). For the :math:`\varepsilon \to 0` limit :math:`W_p^p`, use
      :func:`otkit.emd2`.
    - :math:`\varepsilon > u^{-1/3} D` (1.6e5 D in float64), balanced: the log-sum-exp of the
      loop would round the potentials to about :math:`\varepsilon u`, so the value is the
      expansion :math:`S_\varepsilon = m\,\mathrm{MMD} - \frac{m}{2\varepsilon}
      (\langle\alpha\otimes\beta, \tilde C^2\rangle - \frac12\langle\alpha\otimes\alpha,
      \tilde C^2\rangle - \frac12\langle\beta\otimes\beta, \tilde C^2\rangle)` instead,
      where :math:`\mathrm{MMD} = \frac12\langle\hat\alpha - \hat\beta, -C(\hat\alpha -
      \hat\beta)\rangle` for the normalized measures of mass m and :math:`\tilde C` is the
      cost doubly centred under the pair of measures (error :math:`O(D^3/\varepsilon^2)`,
      about :math:`u^{2/3} D` at the switch, as the loop's rounding there; the gradients
      are those of the MMD term). It reaches the energy distance exactly at
      ``reg=inf``-like values (``reg=1e300``, ``blur=1e300``) instead of 0 or a negative
      number. ``value='linear'`` uses :math:`1/\varepsilon` in place of
      :math:`1/(2\varepsilon)`; ``debias=False`` gives
      :math:`m\langle\hat\alpha\otimes\hat\beta, C\rangle - \frac{m}{2\varepsilon}
      \langle\hat\alpha\otimes\hat\beta, \tilde C^2\rangle + \varepsilon m (m - 1 - \log m)`.
    - unbalanced: :math:`\varepsilon > u^{-1/2} D` is a ValueError (no expansion there), as
      is a ``reach``/``rho`` that overflows or underflows at the scale of the points; the
      marginal term :math:`-\rho\,\mathrm{expm1}(-f/\rho)` keeps huge reaches exact (they
      tend to the balanced value).

    Under ``jax.jit`` (values unknown) none of this applies: no scaling, no checks.

    The debiased regularized value is clamped at 0 for the costs whose Gibbs kernel
    :math:`\exp(-C/\varepsilon)` is positive definite (:math:`\|x - y\|^p` with
    :math:`p \le 2`, cosine), where :math:`S_\varepsilon \ge 0` holds exactly and a negative
    value can only be rounding of the three terms; the gradient is kept as computed.

    References
    ----------
    .. [1] J. Feydy, T. Sejourne, F.-X. Vialard, S. Amari, A. Trouve, G. Peyre.
       Interpolating between optimal transport and MMD using Sinkhorn divergences.
       AISTATS 2019.
    .. [2] T. Sejourne, J. Feydy, F.-X. Vialard, A. Trouve, G. Peyre. Sinkhorn divergences
       for unbalanced optimal transport. arXiv:1910.12958, 2019.
    .. [3] J. Feydy. Geometric data analysis, beyond convolutions. PhD thesis, 2020.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.random.default_rng(0).normal(size=(50, 2))
    >>> float(ot.sinkhorn_divergence(x, x, blur=0.1))
    0.0
    """
    if value not in VALUES:
        raise ValueError(f"value must be 'regularized' or 'linear', got {value!r}")
    if reg is not None and blur is not None:
        raise ValueError("pass reg (epsilon in cost units) or blur (sigma), not both")
    if reach is not None and rho is not None:
        raise ValueError("pass reach (rho = p reach^p) or rho (cost units), not both")
    scaling = check_real(scaling, "scaling", minimum=0, maximum=1, inclusive=(False, False),
                         allow_none=True, allow_traced=False)  # fmt: skip
    block = check_integer(batch_size, "batch_size", minimum=1, allow_none=True) or 0
    stopThr = check_real(stopThr, "stopThr", minimum=0, allow_none=True, allow_traced=False)
    numItermax = check_integer(numItermax, "numItermax", allow_traced=False)
    spec, exponent = cost_spec(metric, p, block)
    reg, blur = positive_parameter(reg, "reg"), positive_parameter(blur, "blur")
    reach, rho = positive_parameter(reach, "reach"), positive_parameter(rho, "rho")
    balanced = reach is None and rho is None
    xp, dtype, device, X_s, X_t, a, b = prepare_clouds(X_s, X_t, a, b, balanced)
    traced = is_traced(X_s, X_t, a, b, reg, blur, rho, reach)
    eps, out, config, log2_factor, log2_scale = solve_clouds(
        X_s, X_t, a, b, spec=spec, exponent=exponent, reg=reg, blur=blur, rho=rho,
        reach=reach, debias=debias, scaling=scaling, num_iter_max=numItermax, tol=stopThr,
        xp=xp, dtype=dtype, device=device,
        diameter_value=positive_parameter(diameter, "diameter"),
    )  # fmt: skip
    keys = ("ab", "aa", "bb") if debias else ("ab",)
    expanded = isinstance(out, tuple)
    if expanded:
        total, grads, values = large_epsilon_expansion(*out, eps, spec, debias, value, xp)
        err, n_iter = 0.0, 0
    else:
        total = _combine(out, keys, value, eps, a, b, xp)
        grads = _combine_grads(out, keys, eps, a, b, xp)
        err, n_iter = _finish(out, keys, xp, dtype, traced)
    if debias and value == "regularized" and (spec.kind == "cosine" or spec.p <= 2.0):
        # S_eps >= 0 when exp(-C / eps) is a positive definite kernel (|x - y|^p, p <= 2;
        # cosine): a negative value is rounding of the three terms; the gradient is kept.
        total = xp.clip(total, min=0.0)
    total, grads = unscale(total, grads, log2_factor, log2_scale, xp)
    if spec.kind == "cosine":
        grads = (_cosine_scale(grads[0], X_s, xp), _cosine_scale(grads[1], X_t, xp), *grads[2:])
    largest = float(xp.finfo(dtype).max)
    if not traced and not abs(float(to_numpy(stop_gradient(total, xp)))) <= largest:
        raise ValueError(
            f"the divergence overflows {dtype}: the points (X_s, X_t) are too far apart for "
            "the cost ||x - y||^p to be represented; rescale them"
        )
    total = xp.astype(total, dtype)
    total = attach_gradients(
        total,
        [(_cast(g, xp, dtype), v) for g, v in zip(grads, (X_s, X_t, a, b))],
        xp,
    )
    converged = err <= config.tol
    user_eps = times_power_of_two(eps, log2_factor) if log2_factor else eps
    if not traced and not converged and warn:
        warnings.warn(
            f"sinkhorn_divergence did not converge: marginal error {err:.3e} > "
            f"stopThr={config.tol:g} after {n_iter} iterations at eps={user_eps:g}; "
            "increase numItermax or the blur",
            UserWarning,
            stacklevel=2,
        )
    if not log:
        return total
    if expanded:
        return total, _expansion_log(values, user_eps, rho, reach, exponent, log2_factor, xp, dtype)
    scale = times_power_of_two(1.0, log2_factor)
    rho_user = _user_rho(rho, reach, exponent)
    return total, _make_log(
        out, keys, user_eps, rho_user, err, n_iter, converged, config, scale, xp, dtype
    )


def _user_rho(rho, reach, exponent):
    if reach is None:
        return rho
    try:
        return exponent * reach**exponent
    except OverflowError:
        return math.inf


def _cast(x, xp, dtype):
    return None if x is None else xp.astype(x, dtype)


def _cosine_scale(grad, X, xp):
    """The cosine gradients of the core are for unit rows: divide by ||x_i|| (0 if x_i = 0)."""
    norms = xp.sqrt(xp.sum(X * X, axis=1))
    positive = norms > 0
    return grad * xp.where(positive, 1.0 / xp.where(positive, norms, 1.0), 0.0)[:, None]


def _combine(out, keys, value, eps, a, b, xp):
    field = "value" if value == "regularized" else "linear"
    total = out["ab"][field]
    if "aa" in keys:
        total = total - 0.5 * (out["aa"][field] + out["bb"][field])
        if value == "regularized":
            total = total + 0.5 * eps * (xp.sum(a) - xp.sum(b)) ** 2
    return total


def _combine_grads(out, keys, eps, a, b, xp):
    ab = out["ab"]
    grad_x, grad_y, grad_a, grad_b = ab["grad_x"], ab["grad_y"], ab["grad_a"], ab["grad_b"]
    if "aa" in keys:
        gap = eps * (xp.sum(a) - xp.sum(b))
        grad_x = grad_x - 0.5 * out["aa"]["grad_x"]
        grad_y = grad_y - 0.5 * out["bb"]["grad_x"]
        grad_a = grad_a - 0.5 * out["aa"]["grad_a"] + gap
        grad_b = grad_b - 0.5 * out["bb"]["grad_a"] - gap
    return grad_x, grad_y, grad_a, grad_b


def _make_log(out, keys, eps, rho, err, n_iter, converged, config, scale, xp, dtype):
    def cast(v):
        return xp.astype(v * scale, dtype) if scale != 1.0 else xp.astype(v, dtype)

    log = {
        "reg": eps,
        "rho": rho,
        "f": cast(out["ab"]["f"]),
        "g": cast(out["ab"]["g"]),
        "ot_ab": cast(out["ab"]["value"]),
        "linear_ab": cast(out["ab"]["linear"]),
        "value_linear": cast(out["ab"]["linear"]),
        "err": err,
        "n_iter": n_iter,
        "n_stages": config.n_stages,
        "converged": converged,
        "expansion": False,
    }
    if "aa" in keys:
        log.update(
            f_aa=cast(out["aa"]["f"]),
            g_bb=cast(out["bb"]["f"]),
            ot_aa=cast(out["aa"]["value"]),
            ot_bb=cast(out["bb"]["value"]),
            linear_aa=cast(out["aa"]["linear"]),
            linear_bb=cast(out["bb"]["linear"]),
            value_linear=cast(
                out["ab"]["linear"] - 0.5 * (out["aa"]["linear"] + out["bb"]["linear"])
            ),
        )
    return log


def _expansion_log(values, eps, rho, reach, exponent, log2_factor, xp, dtype):
    """The log of a solve replaced by the expansion in 1 / eps (no potentials, no iterations)."""
    scale = times_power_of_two(1.0, log2_factor)
    log = {"reg": eps, "rho": _user_rho(rho, reach, exponent), "err": 0.0, "n_iter": 0,
           "n_stages": 0, "converged": True, "expansion": True}  # fmt: skip
    for key, v in values.items():
        log["ot_" + key] = xp.astype(v * scale, dtype)
    return log
