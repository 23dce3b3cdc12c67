"""POT's Bregman helpers: geometric means of histograms and KL projections on one marginal.

``geometricBar``, ``geometricMean``, ``projR`` and ``projC`` (POT's ``ot.bregman`` names) are
the building blocks of Bregman-projection algorithms (Benamou et al. 2015): the KL
barycenter of scaled kernels is a weighted geometric mean, and the KL projection of a plan
on the set of plans with a prescribed row (column) marginal rescales its rows (columns).
"""

from __future__ import annotations

from .._boundary import as_backend
from ..backend import device_of, get_namespace, result_float_dtype

__all__ = ["geometricBar", "geometricMean", "projC", "projR"]

# POT's floor on a row/column sum before dividing (an empty row stays empty).
_SUM_FLOOR = 1e-10


def _arrays(**named):
    """The named arguments as arrays of one namespace, dtype and device."""
    xp = get_namespace(**named)
    values = list(named.values())
    device = next((device_of(v) for v in values if device_of(v) is not None), None)
    dtype = result_float_dtype(xp, *values, device=device)
    return xp, [as_backend(v, xp, dtype, device) for v in values]


def _check_ndim(x, ndim, name, shape_text):
    if x.ndim != ndim:
        raise ValueError(f"{name} must be a {shape_text} array, got shape {tuple(x.shape)}")


def _rescale(gamma, target, name, axis):
    """``gamma`` with its sums along ``axis`` (0: rows, 1: columns) set to ``target``."""
    xp, (gamma, target) = _arrays(gamma=gamma, **{name: target})
    _check_ndim(gamma, 2, "gamma", "(n, m)")
    if tuple(target.shape) != (gamma.shape[axis],):
        raise ValueError(
            f"{name}.shape == {tuple(target.shape)}, expected ({gamma.shape[axis]},) to match "
            f"gamma.shape[{axis}]"
        )
    sums = xp.clip(xp.sum(gamma, axis=1 - axis), min=_SUM_FLOOR)
    factor = target / sums
    return gamma * (factor[:, None] if axis == 0 else factor[None, :])


def geometricBar(weights, alldistribT):
    r"""Weighted geometric mean of histograms (POT's ``ot.bregman.geometricBar``).

    .. math::
        \bar h_i = \prod_k (h_k)_i^{w_k} = \exp\Big(\sum_k w_k \log (h_k)_i\Big)

    Parameters
    ----------
    weights : (N,) array
        Weights :math:`w` of the N histograms (not normalized here).
    alldistribT : (d, N) array
        The histograms :math:`h_k` as columns, positive.

    Returns
    -------
    mean : (d,) array
        In the namespace, dtype and device of the inputs (0 where a histogram with positive
        weight is 0).

    Raises
    ------
    ValueError
        Shapes that disagree.

    References
    ----------
    .. [1] J.-D. Benamou, G. Carlier, M. Cuturi, L. Nenna, G. Peyre. Iterative Bregman
       projections for regularized transportation problems. SIAM J. Sci. Comput. 37(2), 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.bregman import geometricBar
    >>> geometricBar(np.array([0.5, 0.5]), np.array([[1.0, 4.0], [9.0, 1.0]])).round(12)
    array([2., 3.])
    """
    xp, (weights, distributions) = _arrays(weights=weights, alldistribT=alldistribT)
    _check_ndim(distributions, 2, "alldistribT", "(d, N)")
    _check_ndim(weights, 1, "weights", "(N,)")
    if weights.shape[0] != distributions.shape[1]:
        raise ValueError(
            f"weights.shape == {tuple(weights.shape)}, expected ({distributions.shape[1]},) "
            "to match alldistribT.shape[1] (one weight per histogram)"
        )
    return xp.exp(xp.log(distributions) @ weights)


def geometricMean(alldistribT):
    r"""Geometric mean of histograms (POT's ``ot.bregman.geometricMean``).

    .. math::
        \bar h_i = \Big(\prod_{k=1}^N (h_k)_i\Big)^{1/N}

    Parameters
    ----------
    alldistribT : (d, N) array
        The histograms :math:`h_k` as columns, positive.

    Returns
    -------
    mean : (d,) array
        In the namespace, dtype and device of ``alldistribT``.

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.bregman import geometricMean
    >>> geometricMean(np.array([[1.0, 4.0], [9.0, 1.0]])).round(12)
    array([2., 3.])
    """
    xp, (distributions,) = _arrays(alldistribT=alldistribT)
    _check_ndim(distributions, 2, "alldistribT", "(d, N)")
    return xp.exp(xp.mean(xp.log(distributions), axis=1))


def projR(gamma, p):
    r"""KL projection of a plan on the plans with row marginal ``p`` (POT's
    ``ot.bregman.projR``).

    .. math::
        \mathrm{proj}(\gamma)_{ij} = \gamma_{ij}\, \frac{p_i}{\max(\sum_l \gamma_{il},
        10^{-10})}

    the minimizer of :math:`\mathrm{KL}(\pi \,\|\, \gamma)` over
    :math:`\pi \mathbf 1 = p` (rows summing to less than 1e-10 are scaled as if they summed
    to 1e-10, as POT).

    Parameters
    ----------
    gamma : (n, m) array
        Non-negative plan.
    p : (n,) array
        Target row sums.

    Returns
    -------
    projection : (n, m) array
        In the namespace, dtype and device of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.bregman import projR
    >>> projR(np.array([[1.0, 3.0], [2.0, 2.0]]), np.array([0.5, 0.5])).tolist()
    [[0.125, 0.375], [0.25, 0.25]]
    """
    return _rescale(gamma, p, "p", axis=0)


def projC(gamma, q):
    r"""KL projection of a plan on the plans with column marginal ``q`` (POT's
    ``ot.bregman.projC``).

    .. math::
        \mathrm{proj}(\gamma)_{ij} = \gamma_{ij}\, \frac{q_j}{\max(\sum_l \gamma_{lj},
        10^{-10})}

    Parameters
    ----------
    gamma : (n, m) array
        Non-negative plan.
    q : (m,) array
        Target column sums.

    Returns
    -------
    projection : (n, m) array
        In the namespace, dtype and device of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.bregman import projC
    >>> projC(np.array([[1.0, 3.0], [1.0, 1.0]]), np.array([0.5, 0.5])).tolist()
    [[0.25, 0.375], [0.25, 0.125]]
    """
    return _rescale(gamma, q, "q", axis=1)
