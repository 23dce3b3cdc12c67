r"""Exact Wasserstein-2 barycenter of measures on the real line, by averaging quantile
functions: ``barycenter_1d``.

On the real line the W2 geometry is flat in the quantile functions: with
:math:`Q_k = F_k^{-1}` the quantile function of measure :math:`\mu_k`,
:math:`W_2^2(\mu, \nu) = \int_0^1 |Q_\mu(t) - Q_\nu(t)|^2 dt`, so the barycenter of
:math:`\mu_1, \dots, \mu_N` with weights :math:`w` is the measure whose quantile function is
:math:`\sum_k w_k Q_k` (Agueh & Carlier 2011, §6.1). For discrete measures every
:math:`Q_k` is a step function that jumps at the cumulative weights of :math:`\mu_k`; on
each interval between consecutive jumps of *any* input, all :math:`Q_k` are constant, so the
barycenter is discrete, with one atom per interval: its mass is the interval's length and its
position the weighted average of the inputs' quantiles there.
"""

from __future__ import annotations

from .._boundary import as_backend, check_barycentric_weights
from .._validation import check_finite, check_nonnegative_weights
from ..backend import device_of, get_namespace, is_traced, result_float_dtype, to_numpy

__all__ = ["barycenter_1d"]


def _as_list(measures, name):
    """A list of the N measures' arrays: a list/tuple of 1-D arrays or the columns of a 2-D
    array."""
    if isinstance(measures, (list, tuple)):
        if len(measures) == 0:
            raise ValueError(f"{name} is empty: no measure to average")
        return list(measures)
    if getattr(measures, "ndim", None) != 2:
        raise ValueError(
            f"{name} must be a list of 1-D arrays or a 2-D array (n, N) of N measures in "
            f"columns, got shape {tuple(getattr(measures, 'shape', ()))}"
        )
    return [measures[:, k] for k in range(int(measures.shape[1]))]


def barycenter_1d(measures_locations, measures_weights=None, weights=None):
    r"""Exact Wasserstein-2 barycenter of 1D discrete measures (quantile averaging).

    .. math::
        \mu^\star = \arg\min_\mu \sum_{k=1}^N w_k\, W_2^2(\mu, \mu_k), \qquad
        Q_{\mu^\star} = \sum_{k=1}^N w_k\, Q_{\mu_k}

    where :math:`Q` is the quantile function (the barycenter of measures on the line
    averages their quantile functions, Agueh & Carlier 2011). The result is discrete: one
    atom per interval between consecutive cumulative weights of the inputs.

    Parameters
    ----------
    measures_locations : list of N (n_k,) arrays, or (n, N) array
        Atoms of the input measures (unsorted is fine); a 2-D array holds N measures of n
        atoms in columns.
    measures_weights : list of N (n_k,) arrays, or (n, N) array, optional
        Their masses (non-negative, each normalised to 1 here); uniform when None.
    weights : (N,) array, optional
        Barycentric weights, non-negative, summing to 1 (uniform by default).

    Returns
    -------
    positions : (K,) array
        Atoms of the barycenter, sorted, with :math:`K = \sum_k n_k - N + 1`.
    masses : (K,) array
        Their masses, summing to 1. Atoms where the inputs' cumulative weights tie get
        mass 0 (kept, so that the output shape depends only on the input shapes, as
        ``jax.jit`` requires).

    Raises
    ------
    ValueError
        Empty input, shapes that disagree, non-finite atoms, negative masses or masses of
        total zero, barycentric weights of the wrong shape or not on the simplex.

    Notes
    -----
    Backends: NumPy, array API libraries, torch and JAX (``jax.jit`` too, where the value
    checks are skipped). Sorting, one merge of the cumulative weights and a
    ``searchsorted`` per input: O(K log K). The positions are differentiable with respect
    to the input atoms (torch, JAX).

    References
    ----------
    .. [1] M. Agueh, G. Carlier. Barycenters in the Wasserstein space. SIAM J. Math. Anal.
       43(2), 2011.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x, masses = ot.barycenter_1d([np.array([0.0, 1.0]), np.array([3.0, 4.0, 5.0])])
    >>> x.tolist(), np.round(masses, 4).tolist()
    ([1.5, 2.0, 2.5, 3.0], [0.3333, 0.1667, 0.1667, 0.3333])
    """
    locations = _as_list(measures_locations, "measures_locations")
    n_measures = len(locations)
    if measures_weights is None:
        masses = [None] * n_measures
    else:
        masses = _as_list(measures_weights, "measures_weights")
        if len(masses) != n_measures:
            raise ValueError(
                f"measures_weights holds {len(masses)} measures, expected {n_measures} to "
                "match measures_locations"
            )
    named = {f"measures_locations[{k}]": x for k, x in enumerate(locations)}
    xp = get_namespace(**named, weights=weights, **{f"w{k}": m for k, m in enumerate(masses)})
    device = next((device_of(x) for x in locations if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, *locations, *[m for m in masses if m is not None], device=device)
    w = check_barycentric_weights(weights, n_measures, xp, dtype, device)

    sorted_locations, cumulatives = [], []
    for k, (x, mass) in enumerate(zip(locations, masses)):
        x = as_backend(x, xp, dtype, device)
        if x.ndim != 1 or int(x.shape[0]) == 0:
            raise ValueError(
                f"measures_locations[{k}] must be a non-empty 1-D array, got shape {tuple(x.shape)}"
            )
        n = int(x.shape[0])
        if mass is None:
            mass = xp.full((n,), 1.0 / n, dtype=dtype, device=device)
        else:
            mass = as_backend(mass, xp, dtype, device)
            if tuple(mass.shape) != (n,):
                raise ValueError(
                    f"measures_weights[{k}].shape == {tuple(mass.shape)}, expected ({n},) to "
                    f"match measures_locations[{k}]"
                )
        if not is_traced(x, mass):
            check_finite(to_numpy(x), f"measures_locations[{k}]")
            check_nonnegative_weights(to_numpy(mass), f"measures_weights[{k}]")
        order = xp.argsort(x)
        mass = xp.take(mass, order, axis=0)
        sorted_locations.append(xp.take(x, order, axis=0))
        cumulatives.append(xp.cumulative_sum(mass / xp.sum(mass)))

    # Jumps of every quantile function in (0, 1), merged: the barycenter's cumulative weights.
    interior = xp.sort(xp.concat([c[:-1] for c in cumulatives]))
    zero = xp.zeros((1,), dtype=dtype, device=device)
    one = xp.ones((1,), dtype=dtype, device=device)
    levels = xp.concat([zero, interior, one])
    out_masses = levels[1:] - levels[:-1]
    # Each input's quantile is constant on an interval: read it at the midpoint (a tie of
    # cumulative weights from different inputs gives an empty interval, read at its end).
    midpoints = 0.5 * (levels[1:] + levels[:-1])
    positions = xp.zeros_like(midpoints)
    for k, (x, cumulative) in enumerate(zip(sorted_locations, cumulatives)):
        index = xp.searchsorted(cumulative, midpoints, side="left")
        index = xp.clip(index, max=int(x.shape[0]) - 1)
        positions = positions + w[k] * xp.take(x, index, axis=0)
    return positions, out_masses
