r"""GeomLoss's Sinkhorn loss in GeomLoss's units, computed by :func:`sinkhorn_divergence`.

GeomLoss's cost is :math:`\|x - y\|^p / p` with :math:`\varepsilon = \mathrm{blur}^p` and
:math:`\rho = \mathrm{reach}^p`; otkit's divergence uses :math:`\|x - y\|^p` with
:math:`\varepsilon = p\,\mathrm{blur}^p`, :math:`\rho = p\,\mathrm{reach}^p`: the same
problem multiplied by p (same plans), so values and potentials are divided by p here.
"""

from __future__ import annotations

import inspect

from ..backend import is_numpy_namespace, stop_gradient, to_numpy
from ..bregman._divergence import divergence, sinkhorn_divergence

__all__ = ["geomloss_output", "sinkhorn_loss"]


# sinkhorn_divergence's defaults of the options that SamplesLoss does not set itself (its
# internal ``divergence`` has none).
_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(sinkhorn_divergence).parameters.items()
    if name in ("reg", "metric", "rho", "value", "numItermax", "stopThr", "warn", "grad")
}


def _mass(w, xp):
    return None if w is None else xp.sum(w)


def _shift_weight_gradients(value, c, a, b, xp):
    """``value`` unchanged, with ``c`` added to the gradient in a and ``-c`` in b."""
    if is_numpy_namespace(xp) or a is None or b is None:
        return value
    sg = stop_gradient
    sa, sb = xp.sum(a), xp.sum(b)
    return value + sg(c, xp) * ((sa - sg(sa, xp)) - (sb - sg(sb, xp)))


def sinkhorn_loss(a, x, b, y, *, p, blur, reach, debias, scaling, diameter, potentials,
                  batch_size, verbose, options, xp):  # fmt: skip
    """GeomLoss's ``SamplesLoss('sinkhorn', ...)`` value (0-d) or potentials ((n,), (m,))."""
    options = {**_DEFAULTS, **options}
    value, log = divergence(
        x, y, a, b, p=p, blur=blur, reach=reach, debias=debias, scaling=scaling,
        diameter=diameter, batch_size=batch_size, log="potentials", **options,
    )  # fmt: skip
    if verbose:
        print(
            f"SamplesLoss('sinkhorn'): eps = {float(log['reg']) / p:.3g} (blur^p), "
            f"{log['n_stages']} annealing stages, {log['n_iter']} iterations at the final eps, "
            f"marginal error {float(to_numpy(log['err'])):.2e}"
        )
    balanced = reach is None
    if log["expansion"]:
        if potentials:
            raise ValueError(
                f"blur={blur!r} is so large that the value comes from the expansion in "
                "1/eps, without potentials: use a smaller blur or loss='energy'"
            )
        f = g = None
    elif not (potentials or (balanced and a is not None and b is not None)):
        f = g = None  # the value reads them only for the weights' gradient shift
    else:
        f, g = log["f"], log["g"]
        if debias:
            f, g = f - log["f_aa"], g - log["g_bb"]
    return geomloss_output(value, f, g, a, b, p, blur, balanced, debias, potentials, xp)


def geomloss_output(value, f, g, a, b, p, blur, balanced, debias, potentials, xp):
    """The value (0-d) or the potentials of a Sinkhorn loss in GeomLoss's units, from otkit's
    ``value`` and debiased potentials ``f``, ``g`` (None without potentials), all in otkit's
    units (cost |x - y|^p: divided by p here)."""
    if f is not None:
        f, g = f / p, g / p
    weights_a = xp.ones(f.shape, dtype=f.dtype) / f.shape[0] if a is None and f is not None else a
    weights_b = xp.ones(g.shape, dtype=g.dtype) / g.shape[0] if b is None and g is not None else b
    shift = None
    if balanced and f is not None:
        # Balanced potentials are defined up to (F + c, G - c): take the symmetric choice
        # <a, F> = <b, G> (GeomLoss's symmetric loop lands near it, its c depends on the
        # annealing path).
        sa, sb = stop_gradient(weights_a, xp), stop_gradient(weights_b, xp)
        ff, gg = stop_gradient(f, xp), stop_gradient(g, xp)
        shift = (xp.sum(sb * gg) - xp.sum(sa * ff)) / (xp.sum(sa) + xp.sum(sb))
        f, g = f + shift, g - shift
    if potentials:
        return f, g
    value = value / p
    if not debias:
        try:
            eps = float(blur) ** p
        except OverflowError:
            raise ValueError(f"blur={blur!r} overflows eps = blur^p with p={p!r}") from None
        # GeomLoss's OT_eps is <a, F> + <b, G> (balanced) or (rho + eps/2)(<a, 1 - e^(-F/rho)>
        # + <b, 1 - e^(-G/rho)>): otkit's KL-form value plus eps ((m_a + m_b)/2 - m_a m_b).
        ma = _mass(a, xp) if a is not None else 1.0
        mb = _mass(b, xp) if b is not None else 1.0
        term = eps * ((ma + mb) / 2 - ma * mb)
        if balanced and not isinstance(term, float):
            term = stop_gradient(term, xp)  # the weights stay on equal masses
        value = value + term
    if shift is not None:
        value = _shift_weight_gradients(value, shift, a, b, xp)
    return value
