"""Sinkhorn divergences between point clouds: debiased, biased and unbalanced."""

from __future__ import annotations

import math
import sys

import numpy as np

from .._validation import (
    balance_low_precision_masses,
    check_integer,
    check_real,
    downcast_low_precision,
    low_precision_eps,
    nan_unless,
    upcast_low_precision,
)
from ..backend import (
    is_numpy_namespace,
    is_traced,
    stop_gradient,
    to_numpy,
)
from ..utils._warnings import warn_collectable
from ._clouds import cost_spec, positive_parameter, prepare_clouds, solve_clouds
from ._divergence_core import (
    attach_gradients,
    host_problem,
    large_eps_threshold,
    large_epsilon_expansion,
    times_power_of_two,
    to_namespace,
    unscale,
)
from ._implicit_online import attach_implicit_linear
from ._pointcloud import diameter

__all__ = ["check_options", "divergence", "sinkhorn_divergence", "warn_not_converged"]

VALUES = ("regularized", "linear")


def _finish(out, keys, xp, dtype, traced):
    """Errors, iteration counts and convergence of the listed problems."""
    errs = [out[k]["err"] for k in keys]
    n_iters = [out[k]["n_iter"] for k in keys]
    if traced:
        err = errs[0]
        for e in errs[1:]:
            err = xp.maximum(err, e)
        # Invalid traced input arrives all NaN (prepare_clouds, positive_parameter); the
        # loops' zero-weight masks can end at once with a zero error: NaN, not convergence.
        (err,) = nan_unless(~xp.isnan(out["ab"]["value"]), (err,), xp)
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
    grad="implicit",
):
    r"""Sinkhorn divergence between two weighted point clouds, with exact gradients.

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
    matrix-vector products per iteration instead of two exp passes); for the squared
    Euclidean cost with positive weights (NumPy or CPU torch input)
    the annealing, that loop and the value and gradients run on one kernel
    :math:`a_i b_j \exp((f_i + g_j - C_{ij}) / \varepsilon)` written by one matrix product
    from the points (no cost matrix; one exp per entry per stage). Otherwise the costs are
    never stored.

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
    grad : {'implicit', 'envelope'}, default='implicit'
        The gradient of ``value='linear'``: 'implicit' differentiates the plans at the
        fixed point (the gradient of the value returned; conjugate gradient on the
        adjoint system, a few passes over the costs, only when a gradient is asked for),
        'envelope' gives the gradient of the regularized value instead (cheaper, not that
        of the linear value). The regularized value's gradient is the envelope one either
        way (it is exact there).

    Returns
    -------
    value : 0-d array
        In cost units (:math:`W_p^p`-like), in the namespace, dtype and device of
        ``X_s``. Differentiable (torch, JAX, also under ``jax.jit``) with respect to the
        points and the weights, with the gradient of the value returned (exact at the
        optimum, also unbalanced), without keeping the iterations in memory: by the
        envelope theorem for the regularized value, by implicit differentiation for
        ``value='linear'`` (see ``grad``). Second derivatives are not supported.
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

    - float32 input is solved in float64 (on its device; results, potentials and
      gradients returned in float32, differentiable through the cast) where float32
      cannot resolve :math:`\varepsilon`: below :math:`2^{10} u_{32} D` (the plan's
      entries would be off by more than 1e-3), or where its rounding would keep the
      marginal error above ``stopThr`` (``max(||a||, ||b||) u_32 D / eps > stopThr / 2``).
      Not under ``jax.jit`` (values unknown), nor on JAX without ``jax_enable_x64``.
    - :math:`\varepsilon < 2^{10} u D` with u of float64 (of the input's dtype where
      there is no float64) is a ValueError naming ``reg`` or ``blur``: the potentials are
      rounded to more than :math:`\varepsilon` there, and the plan
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

    Under ``jax.jit`` (values unknown) none of this applies (no scaling, no range checks);
    invalid values (weights off the simplex, NaN or infinite points, a traced ``reg``,
    ``blur`` or ``reach`` not finite and > 0) make the value and its gradients NaN.

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
    return divergence(
        X_s, X_t, a, b, reg=reg, blur=blur, p=p, metric=metric, debias=debias, reach=reach,
        rho=rho, value=value, scaling=scaling, numItermax=numItermax, stopThr=stopThr,
        batch_size=batch_size, diameter=diameter, log=bool(log), warn=warn, grad=grad,
    )  # fmt: skip


def divergence(X_s, X_t, a, b, *, reg, blur, p, metric, debias, reach, rho, value, scaling,
               numItermax, stopThr, batch_size, diameter, log, warn, grad):  # fmt: skip
    """:func:`sinkhorn_divergence`, whose ``log`` may also be 'potentials': a log with the
    keys 'reg', 'n_stages', 'n_iter', 'err', 'expansion' and (without the expansion) the
    potentials 'f', 'g', 'f_aa', 'g_bb' only (what :class:`otkit.SamplesLoss` reads)."""
    scaling, stopThr, numItermax, spec, exponent, reg, blur, reach, rho = check_options(
        reg=reg, blur=blur, p=p, metric=metric, reach=reach, rho=rho, value=value, grad=grad,
        scaling=scaling, numItermax=numItermax, stopThr=stopThr, batch_size=batch_size,
    )  # fmt: skip
    balanced = reach is None and rho is None
    low_eps = low_precision_eps(a, b)
    low, low_xp, (X_s, X_t, a, b) = upcast_low_precision(X_s, X_t, a, b)
    a, b = balance_low_precision_masses(a, b, low_eps)
    xp, dtype, device, X_s, X_t, a, b = prepare_clouds(X_s, X_t, a, b, balanced)
    traced = is_traced(X_s, X_t, a, b, reg, blur, rho, reach)
    implicit = value == "linear" and grad == "implicit" and not is_numpy_namespace(xp)
    # sxp: the namespace of the solve and of the arithmetic on its results (NumPy for small
    # float64 CPU torch problems, whose few hundred small operations are cheaper there).
    host = None if traced or implicit else host_problem(X_s, X_t, a, b, xp)
    if host is not None and dtype == xp.float32:
        # NumPy views are solved in float64 (as the torch path solves small float32 problems
        # on the host): keep float32's default stopThr and its large-eps rules.
        host = host if _float32_rules_agree(host[1], spec, exponent, reg, blur, balanced) else None
        stopThr = 1e-4 if stopThr is None else stopThr
    sxp, (sX_s, sX_t, sa, sb) = (xp, (X_s, X_t, a, b)) if host is None else host
    eps, out, config, log2_factor, log2_scale = solve_clouds(
        sX_s, sX_t, sa, sb, spec=spec, exponent=exponent, reg=reg, blur=blur, rho=rho,
        reach=reach, debias=debias, scaling=scaling, num_iter_max=numItermax, tol=stopThr,
        xp=sxp, dtype=dtype if host is None else sX_s.dtype,
        device=device if host is None else None,
        diameter_value=positive_parameter(diameter, "diameter"),
    )  # fmt: skip
    keys = ("ab", "aa", "bb") if debias else ("ab",)
    expanded = isinstance(out, tuple)
    if expanded:
        total, grads, values = large_epsilon_expansion(*out, eps, spec, debias, value, sxp)
        err, n_iter = 0.0, 0
    else:
        total = _combine(out, keys, value, eps, sa, sb, sxp)
        grads = _combine_grads(out, keys, eps, sa, sb, sxp)
        err, n_iter = _finish(out, keys, sxp, dtype, traced)
    if debias and value == "regularized" and (spec.kind == "cosine" or spec.p <= 2.0):
        # S_eps >= 0 when exp(-C / eps) is a positive definite kernel (|x - y|^p, p <= 2;
        # cosine): a negative value is rounding of the three terms; the gradient is kept.
        total = sxp.maximum(total, 0.0) if host is not None else xp.clip(total, min=0.0)
    total, grads = unscale(total, grads, log2_factor, log2_scale, sxp)
    if spec.kind == "cosine":
        grads = (_cosine_scale(grads[0], sX_s, sxp), _cosine_scale(grads[1], sX_t, sxp),
                 *grads[2:])  # fmt: skip
    largest = float(xp.finfo(dtype).max)
    if not traced and not abs(float(to_numpy(stop_gradient(total, sxp)))) <= largest:
        raise ValueError(
            f"the divergence overflows {dtype}: the points (X_s, X_t) are too far apart for "
            "the cost ||x - y||^p to be represented; rescale them"
        )
    if host is not None:
        total, grads = to_namespace((total, tuple(grads)), xp, device)  # (a list: kept)
        if log and expanded:
            values = to_namespace(values, xp, device)
        elif log is True:
            out = to_namespace(out, xp, device)
        elif log:  # 'potentials': only they are read
            out = {key: to_namespace({name: out[key][name] for name in ("f", "g")
                                      if name in out[key]}, xp, device)
                   for key in keys}  # fmt: skip
    total = xp.astype(total, dtype)
    if implicit and not expanded:
        total = _implicit_linear(total, out, keys, eps, spec, (X_s, X_t, a, b), log2_factor,
                                 log2_scale, xp)  # fmt: skip
    else:
        pairs = [(_cast(g, xp, dtype), v) for g, v in zip(grads, (X_s, X_t, a, b))]
        total = attach_gradients(total, pairs, xp)
    converged = err <= config.tol
    user_eps = times_power_of_two(eps, log2_factor) if log2_factor else eps
    if not traced and not converged and warn:
        warn_not_converged(err, config.tol, n_iter, user_eps)
    if not log:
        return downcast_low_precision(total, low, low_xp)
    if log == "potentials":
        info = {"reg": user_eps, "n_stages": config.n_stages, "n_iter": n_iter, "err": err,
                "expansion": expanded}  # fmt: skip
        if not expanded:
            scale = times_power_of_two(1.0, log2_factor)
            for key, problem, field in (("f", "ab", "f"), ("g", "ab", "g"), ("f_aa", "aa", "f"),
                                        ("g_bb", "bb", "f")):  # fmt: skip
                if problem in out:
                    info[key] = _cast_scaled(out[problem][field], scale, xp, dtype)
        return downcast_low_precision((total, info), low, low_xp)
    if expanded:
        info = _expansion_log(values, user_eps, rho, reach, exponent, log2_factor, xp, dtype)
    else:
        scale = times_power_of_two(1.0, log2_factor)
        rho_user = _user_rho(rho, reach, exponent)
        info = _make_log(
            out, keys, user_eps, rho_user, err, n_iter, converged, config, scale, xp, dtype
        )
    return downcast_low_precision((total, info), low, low_xp)


def check_options(*, reg, blur, p, metric, reach, rho, value, grad, scaling, numItermax,
                  stopThr, batch_size):  # fmt: skip
    """The options of :func:`sinkhorn_divergence` checked: (scaling, stopThr, numItermax,
    spec, exponent of the blur rule, reg, blur, reach, rho)."""
    if value not in VALUES:
        raise ValueError(f"value must be 'regularized' or 'linear', got {value!r}")
    if grad not in ("implicit", "envelope"):
        raise ValueError(f"grad must be 'implicit' or 'envelope', got {grad!r}")
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
    return scaling, stopThr, numItermax, spec, exponent, reg, blur, reach, rho


def warn_not_converged(err, tol, n_iter, eps):
    """The warning of a solve that stopped above ``stopThr`` (``eps`` in the user's units)."""
    warn_collectable(
        f"sinkhorn_divergence did not converge: marginal error {err:.3e} > "
        f"stopThr={tol:g} after {n_iter} iterations at eps={eps:g}; "
        "increase numItermax or the blur",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _float32_rules_agree(views, spec, exponent, reg, blur, balanced):
    """Whether float32 input solved in float64 meets neither float32's large-eps expansion
    (eps above u^(-1/3) times the cost range D: 2.6e2 D) nor its unbalanced limit (u^(-1/2) D):
    eps at most half of them (the default eps, 0.05 times the costs' spread, always is)."""
    if reg is None and blur is None:
        return True
    if spec.kind == "cosine":
        return False
    x, y = (np.asarray(v, dtype=np.float64) for v in views[:2])
    cost_range = float(diameter(x, y, spec, np))
    try:
        eps = reg if reg is not None else exponent * blur**exponent
    except OverflowError:
        return False
    u = float(np.finfo(np.float32).eps)
    limit = large_eps_threshold(u) if balanced else u**-0.5
    return 0 < cost_range < math.inf and eps <= 0.5 * limit * cost_range


def _implicit_linear(total, out, keys, eps, spec, user, log2_factor, log2_scale, xp):
    """The linear value with the implicit gradient of its plans (no n x m storage)."""
    x, y, rho = out["working"]
    problems = [(1.0, "ab", out["ab"]["f"], out["ab"]["g"])]
    problems += [(-0.5, k, out[k]["f"], out[k]["f"]) for k in keys[1:]]

    def unscale_grads(grads, user):
        _, grads = unscale(xp.asarray(0.0), grads, log2_factor, log2_scale, xp)
        if spec.kind == "cosine":
            return (_cosine_scale(grads[0], user[0], xp), _cosine_scale(grads[1], user[1], xp),
                    *grads[2:])  # fmt: skip
        return grads

    return attach_implicit_linear(total, user, (x, y, eps, rho, spec), problems, unscale_grads, xp)


def _user_rho(rho, reach, exponent):
    if reach is None:
        return rho
    try:
        return exponent * reach**exponent
    except OverflowError:
        return math.inf


def _user_stacklevel():
    """The ``stacklevel`` that makes a warning issued by the caller of this function name the
    first frame outside otkit: the user's line, whether it called :func:`sinkhorn_divergence`
    or :class:`otkit.SamplesLoss` (whose call goes through several otkit frames)."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("otkit."):
        frame, level = frame.f_back, level + 1
    return level


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


def _cast_scaled(v, scale, xp, dtype):
    return xp.astype(v * scale, dtype) if scale != 1.0 else xp.astype(v, dtype)


def _make_log(out, keys, eps, rho, err, n_iter, converged, config, scale, xp, dtype):
    def cast(v):
        return _cast_scaled(v, scale, xp, dtype)

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
