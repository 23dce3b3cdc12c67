r"""Unbalanced OT on the line by Frank-Wolfe on the dual (Séjourné, Vialard, Peyré 2022).

The problem ``min_gamma W_p^p(gamma_1, gamma_2) + rho_a KL(gamma_1 | a) + rho_b KL(gamma_2 |
b)`` has the dual ``max_{f + g <= c} rho_a <a, 1 - e^(-f / rho_a)> + rho_b <b, 1 - e^(-g /
rho_b)>``, concave. Its linearization at ``(f, g)`` is ``<alpha, f'> + <beta, g'>`` with
``alpha = a e^(-f / rho_a)``, ``beta = b e^(-g / rho_b)``: maximized over ``f' + g' <= c``,
that is the dual of balanced 1D OT between ``alpha`` and ``beta``, bounded only when the two
have the same mass. The dual is also concave along the translations ``(f + t, g - t)``, and
its maximum in ``t`` equalizes the masses::

    t = tau (log sum alpha - log sum beta),     tau = rho_a rho_b / (rho_a + rho_b)

(``tau = rho_b`` when ``rho_a = inf``, and so on). One Frank-Wolfe iteration: translate,
take the optimal 1D potentials ``(f', g')`` of the normalized ``alpha, beta``
(:func:`otkit.wasserstein_1d_potentials`, by sorting), and step ``(f, g) += t_i (f' - f,
g' - g)`` with ``t_i = 2 / (2 + i)``. The constant left free in ``(f', g')`` does not matter:
the next translation removes it. The primal marginals are the translated ``alpha, beta``
and the linear cost is their 1D OT cost (:func:`otkit.wasserstein_1d`) times their mass.
"""

from __future__ import annotations

import functools
import math

from .._boundary import as_backend
from .._validation import check_finite
from ..backend import (
    device_of,
    get_namespace,
    is_jax_namespace,
    is_traced,
    jit,
    logsumexp,
    result_float_dtype,
    to_numpy,
)
from ..lp import wasserstein_1d, wasserstein_1d_potentials
from ..lp._one_d_inputs import check_exponent
from ._checks import check_choice, check_iterations, check_reg_m, generalized_kl
from ._sinkhorn import RETURN_COSTS

__all__ = ["uot_1d"]


def _translation(f, g, log_a, log_b, rho, xp):
    """The t maximizing the dual along (f + t, g - t): equal masses of alpha and beta."""
    rho_a, rho_b = rho
    if rho_a == math.inf and rho_b == math.inf:
        return xp.zeros_like(f[0])
    mass_a = logsumexp(log_a - f / rho_a, axis=0, xp=xp) if rho_a != math.inf else None
    mass_b = logsumexp(log_b - g / rho_b, axis=0, xp=xp) if rho_b != math.inf else None
    if rho_a == math.inf:
        return rho_b * (logsumexp(log_a, axis=0, xp=xp) - mass_b)
    if rho_b == math.inf:
        return rho_a * (mass_a - logsumexp(log_b, axis=0, xp=xp))
    return (rho_a * rho_b / (rho_a + rho_b)) * (mass_a - mass_b)


def _reweight(f, g, a, b, log_a, log_b, rho, xp):
    """Translated potentials, the normalized marginals alpha, beta and their mass."""
    t = _translation(f, g, log_a, log_b, rho, xp)
    f, g = f + t, g - t
    alpha = a if rho[0] == math.inf else a * xp.exp(-f / rho[0])
    beta = b if rho[1] == math.inf else b * xp.exp(-g / rho[1])
    mass = xp.sum(alpha, axis=0)
    return f, g, alpha / mass, beta / xp.sum(beta, axis=0), mass


def _log(w, xp):
    positive = w > 0
    return xp.where(positive, xp.log(xp.where(positive, w, xp.ones_like(w))), -math.inf)


def _prepare(u_values, v_values, u_weights, v_weights):
    xp = get_namespace(
        u_values=u_values, v_values=v_values, u_weights=u_weights, v_weights=v_weights
    )
    arrays = [x for x in (u_values, v_values, u_weights, v_weights) if x is not None]
    device = next((device_of(x) for x in arrays if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, *arrays, device=device)
    u, v = (as_backend(x, xp, dtype, device) for x in (u_values, v_values))
    if u.ndim == 0 or v.ndim == 0 or u.shape[1:] != v.shape[1:]:
        raise ValueError(
            f"u_values and v_values must be (n, ...) and (m, ...) with the same batch shape, "
            f"got {tuple(u.shape)} and {tuple(v.shape)}"
        )
    weights = []
    for w, x, name in ((u_weights, u, "u_weights"), (v_weights, v, "v_weights")):
        if w is None:
            w = xp.full(x.shape, 1.0 / x.shape[0], dtype=dtype, device=device)
        w = as_backend(w, xp, dtype, device)
        if w.ndim == 1 and x.ndim > 1:
            w = xp.broadcast_to(xp.reshape(w, (-1,) + (1,) * (x.ndim - 1)), x.shape)
        if tuple(w.shape) != tuple(x.shape):
            raise ValueError(f"{name}.shape == {tuple(w.shape)}, expected {tuple(x.shape)}")
        if not is_traced(w):
            host = to_numpy(w)
            check_finite(host, name)
            if (host < 0).any() or not (host.sum(axis=0) > 0).all():
                raise ValueError(f"{name} must be >= 0 with a positive mass in each measure")
        weights.append(w)
    return xp, u, v, weights[0], weights[1]


def uot_1d(
    u_values,
    v_values,
    reg_m,
    u_weights=None,
    v_weights=None,
    p=2,
    require_sort=True,
    numItermax=10,
    returnCost="linear",
    log=False,
):
    r"""Unbalanced OT with KL marginal penalties on the line, by Frank-Wolfe on the dual.

    Approximates

    .. math::
        \mathrm{UOT}(\mu, \nu) = \min_{\gamma \ge 0}\ W_p^p(\pi^1_\#\gamma, \pi^2_\#\gamma)
        + \rho_a\, \mathrm{KL}(\pi^1_\#\gamma \,\|\, \mu)
        + \rho_b\, \mathrm{KL}(\pi^2_\#\gamma \,\|\, \nu)

    (generalized KL) by ``numItermax`` Frank-Wolfe steps on the dual
    :math:`\max_{f \oplus g \le |x - y|^p} \rho_a\langle\mu, 1 - e^{-f/\rho_a}\rangle +
    \rho_b\langle\nu, 1 - e^{-g/\rho_b}\rangle`, each made translation invariant by the
    optimal shift :math:`(f + t, g - t)`: a step solves one balanced 1D OT problem, by
    sorting, between the reweighted marginals :math:`\mu e^{-f/\rho_a}`,
    :math:`\nu e^{-g/\rho_b}` (normalized), with step size :math:`2/(2 + i)`.

    Parameters
    ----------
    u_values : (n,) or (n, ...) array
        Positions of the first measures (trailing dimensions: a batch).
    v_values : (m,) or (m, ...) array
        Positions of the second measures, same batch shape.
    reg_m : float or pair of floats
        Marginal penalties :math:`\rho > 0` (``inf``: that marginal is kept).
    u_weights, v_weights : array, optional
        Weights, of the shape of the positions (or 1-D, shared by the batch); uniform when
        None. Any masses.
    p : float, default=2
        Exponent of the cost :math:`|x - y|^p`, >= 1.
    require_sort : bool, default=True
        Sort the positions; if False they must already be sorted along axis 0.
    numItermax : int, default=10
        Number of Frank-Wolfe steps.
    returnCost : {'linear', 'total'}, default='linear'
        'linear': :math:`W_p^p` between the marginals of the plan (times their mass);
        'total': with the KL penalties.
    log : bool, default=False
        Also return a dict: ``f``, ``g`` (dual potentials, cost units), ``total_cost``,
        ``linear_cost``.

    Returns
    -------
    u_reweighted : array of the shape of ``u_values``
        First marginal of the plan, :math:`\mu e^{-f/\rho_a}`.
    v_reweighted : array of the shape of ``v_values``
        Second marginal of the plan.
    loss : 0-d array, or one value per batch entry
        In the namespace, dtype and device of the positions.
    log : dict
        Only with ``log=True``.

    Raises
    ------
    ValueError
        Shapes that disagree, negative weights, ``p`` < 1, ``reg_m`` not > 0, unknown
        ``returnCost``.

    Notes
    -----
    Every backend (POT's needs torch or JAX to differentiate for the potentials; otkit
    reads them off the sorted coupling). Gradients flow through the final 1D cost with
    respect to positions and weights, the potentials held fixed.

    References
    ----------
    .. [1] T. Séjourné, F.-X. Vialard, G. Peyré. Faster unbalanced optimal transport:
       translation invariant Sinkhorn and 1-D Frank-Wolfe. AISTATS 2022.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> u, v = np.array([0.0, 1.0]), np.array([0.5, 3.0])
    >>> _, _, loss = ot.unbalanced.uot_1d(u, v, 1.0, numItermax=20)
    >>> round(float(loss), 3)
    0.212
    """
    return_cost = check_choice(returnCost, "returnCost", RETURN_COSTS)
    numItermax, _ = check_iterations(numItermax, 0.0)
    p = check_exponent(p)
    rho = check_reg_m(reg_m)
    xp, u, v, a, b = _prepare(u_values, v_values, u_weights, v_weights)
    settings = (rho, float(p), int(numItermax), bool(require_sort))
    if is_jax_namespace(xp) and not is_traced(u, v, a, b):
        # One compiled program: eagerly, each of the many small operations of the loop
        # would be a separate dispatch.
        outputs = _jitted(settings, xp)(u, v, a, b)
    else:
        outputs = _frank_wolfe(u, v, a, b, *settings, xp)
    u_new, v_new, f, g, linear, total = outputs
    loss = linear if return_cost == "linear" else total
    if log:
        return u_new, v_new, loss, {"f": f, "g": g, "total_cost": total, "linear_cost": linear}
    return u_new, v_new, loss


def _frank_wolfe(u, v, a, b, rho, p, num_iter, require_sort, xp):
    """Marginals, potentials (caller's order), linear and total costs after ``num_iter``."""
    if require_sort:
        u_order, v_order = xp.argsort(u, axis=0), xp.argsort(v, axis=0)
        u, v = xp.take_along_axis(u, u_order, axis=0), xp.take_along_axis(v, v_order, axis=0)
        a, b = xp.take_along_axis(a, u_order, axis=0), xp.take_along_axis(b, v_order, axis=0)
    log_a, log_b = _log(a, xp), _log(b, xp)
    f, g = xp.zeros_like(a), xp.zeros_like(b)
    for i in range(num_iter):
        f, g, alpha, beta, _ = _reweight(f, g, a, b, log_a, log_b, rho, xp)
        f_dir, g_dir = wasserstein_1d_potentials(u, v, alpha, beta, p=p, require_sort=False)
        step = 2.0 / (2.0 + i)
        f, g = f + step * (f_dir - f), g + step * (g_dir - g)
    f, g, alpha, beta, mass = _reweight(f, g, a, b, log_a, log_b, rho, xp)
    linear = wasserstein_1d(u, v, alpha, beta, p=p, require_sort=False) * mass
    u_new, v_new = alpha * mass, beta * mass
    if require_sort:  # back to the caller's order
        u_back, v_back = xp.argsort(u_order, axis=0), xp.argsort(v_order, axis=0)
        f, g = xp.take_along_axis(f, u_back, axis=0), xp.take_along_axis(g, v_back, axis=0)
        u_new = xp.take_along_axis(u_new, u_back, axis=0)
        v_new = xp.take_along_axis(v_new, v_back, axis=0)
        a, b = xp.take_along_axis(a, u_back, axis=0), xp.take_along_axis(b, v_back, axis=0)
    total = linear
    for rho_side, new, ref in ((rho[0], u_new, a), (rho[1], v_new, b)):
        if rho_side != math.inf:
            total = total + rho_side * generalized_kl(new, ref, xp, axis=0)
    return u_new, v_new, f, g, linear, total


@functools.lru_cache(maxsize=32)
def _jitted(settings, xp):
    def run(u, v, a, b):
        return _frank_wolfe(u, v, a, b, *settings, xp)

    return jit(run, xp)
