"""Free-support Wasserstein barycenters and displacement (McCann) interpolation."""

from __future__ import annotations

import numpy as np

from .._boundary import input_float_dtype
from .._validation import check_finite, check_ndim, check_nonnegative_weights, check_sums_to_one
from ..backend import device_of, from_numpy, get_namespace, result_float_dtype, to_numpy
from ..utils._costs import dist
from ._emd import emd

__all__ = ["displacement_interpolation", "free_support_barycenter"]


def free_support_barycenter(
    measures_locations,
    measures_weights,
    X_init,
    b=None,
    weights=None,
    numItermax=100,
    stopThr=1e-7,
    verbose=False,
    log=None,
    numThreads=1,
):
    r"""Wasserstein-2 barycenter with free support locations and fixed weights.

    Minimises over the k atom locations :math:`X` of the barycenter :math:`\sum_l b_l
    \delta_{X_l}`

    .. math::
        \min_X \sum_{i=1}^N w_i\, W_2^2\Big(\sum_l b_l \delta_{X_l},\;
        \sum_j a_{ij} \delta_{X_{ij}}\Big)

    by the fixed-point iteration of Cuturi & Doucet (2014, Algorithm 2 with step 1): with
    :math:`\gamma_i` the exact optimal plan from the barycenter to measure i (otkit's network
    simplex), every atom moves to the weighted mean of its images,

    .. math::
        X \leftarrow \operatorname{diag}(1/b) \sum_i w_i\, \gamma_i X_i .

    Each step does not increase the objective; the loop stops when
    :math:`\|X^{new} - X\|_F^2 <` ``stopThr`` or after ``numItermax`` steps.

    Parameters
    ----------
    measures_locations : list of N (k_i, d) arrays
        Atoms of the input measures.
    measures_weights : list of N (k_i,) arrays
        Their weights (non-negative, each summing to 1).
    X_init : (k, d) array
        Initial barycenter atoms.
    b : (k,) array, optional
        Barycenter weights (uniform by default).
    weights : (N,) array, optional
        Barycentric coordinates (uniform by default).
    numItermax : int, default=100
        Maximum number of fixed-point steps.
    stopThr : float, default=1e-7
        Threshold on the squared displacement of the atoms.
    verbose : bool, default=False
        Print the displacement at each step.
    log : bool, optional
        Also return a dict with ``displacement_square_norms`` (one per step) and ``n_iter``.
    numThreads : int, default=1
        Accepted for POT compatibility.

    Returns
    -------
    X : (k, d) array
        Barycenter atoms, in the library, dtype and device of ``X_init``.
    log : dict
        Only if ``log`` is true.

    Raises
    ------
    ValueError
        Lists of different lengths, shapes that disagree with ``X_init``, non-finite atoms,
        weights (``measures_weights[i]``, ``b``, ``weights``) that are negative or do not sum
        to 1, a zero entry of ``b``.

    References
    ----------
    .. [1] M. Cuturi, A. Doucet. Fast computation of Wasserstein barycenters. ICML 2014.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [1.0]])
    >>> X = ot.free_support_barycenter([x, x + 2.0], [ot.unif(2), ot.unif(2)], x.copy())
    >>> X.ravel().tolist()
    [1.0, 2.0]
    """
    if len(measures_locations) == 0 or len(measures_locations) != len(measures_weights):
        raise ValueError(
            "measures_locations and measures_weights must be non-empty lists of the same length, "
            f"got {len(measures_locations)} and {len(measures_weights)}"
        )
    xp = get_namespace(X_init=X_init, b=b, weights=weights)
    device = device_of(X_init)
    dtype = result_float_dtype(xp, X_init, device=device)
    check_ndim(X_init, "X_init", 2)
    k, d = X_init.shape
    n_measures = len(measures_locations)
    locations, masses = [], []
    for i, (loc, mass) in enumerate(zip(measures_locations, measures_weights)):
        loc_np, mass_np = to_numpy(loc), to_numpy(mass)
        if loc_np.ndim != 2 or loc_np.shape[1] != d:
            raise ValueError(
                f"measures_locations[{i}].shape == {loc_np.shape}, expected (k_{i}, {d}) "
                "to match X_init.shape[1]"
            )
        if mass_np.shape != (loc_np.shape[0],):
            raise ValueError(
                f"measures_weights[{i}].shape == {mass_np.shape}, expected ({loc_np.shape[0]},)"
            )
        check_finite(loc_np, f"measures_locations[{i}]")
        check_nonnegative_weights(mass_np, f"measures_weights[{i}]")
        check_sums_to_one(mass_np, f"measures_weights[{i}]", input_float_dtype(mass))
        locations.append(loc_np)
        masses.append(mass_np)
    b_np = np.full(k, 1.0 / k) if b is None else to_numpy(b)
    w_np = np.full(n_measures, 1.0 / n_measures) if weights is None else to_numpy(weights)
    if b_np.shape != (k,):
        raise ValueError(f"b.shape == {b_np.shape}, expected ({k},) to match X_init.shape[0]")
    if w_np.shape != (n_measures,):
        raise ValueError(f"weights.shape == {w_np.shape}, expected ({n_measures},)")
    check_nonnegative_weights(b_np, "b")
    check_nonnegative_weights(w_np, "weights")
    check_sums_to_one(b_np, "b", input_float_dtype(b))
    check_sums_to_one(w_np, "weights", input_float_dtype(weights))
    if np.any(b_np == 0):
        raise ValueError("b has zero entries: an atom without mass has no barycentric position")

    X = to_numpy(X_init).copy()
    check_finite(X, "X_init")
    displacements = []
    for _ in range(int(numItermax)):
        target_sum = np.zeros_like(X)
        for loc, mass, w_i in zip(locations, masses, w_np):
            plan = emd(b_np, mass, dist(X, loc), numItermax=max(100000, 50 * (k + len(mass)) ** 2))
            target_sum += w_i * (plan @ loc)
        X_new = target_sum / b_np[:, None]
        displacement = float(np.sum((X_new - X) ** 2))
        displacements.append(displacement)
        X = X_new
        if verbose:
            print(
                f"free_support_barycenter: step {len(displacements)}, displacement {displacement:.3e}"
            )
        if displacement < stopThr:
            break
    out = from_numpy(X, xp, dtype=dtype, device=device)
    if log:
        return out, {"displacement_square_norms": displacements, "n_iter": len(displacements)}
    return out


def displacement_interpolation(xs, xt, G, t, threshold=0.0):
    r"""Displacement (McCann) interpolation between two point clouds along a transport plan.

    The measure at time :math:`t \in [0, 1]` puts mass :math:`G_{ij}` at
    :math:`(1 - t) x^s_i + t\, x^t_j` for every pair with :math:`G_{ij} > ` ``threshold``.
    With an optimal plan for the squared Euclidean cost (for example ``ot.emd``), this is the
    Wasserstein-2 geodesic between the two measures (McCann 1997); with an entropic plan it
    is its blurred counterpart.

    Parameters
    ----------
    xs : (n, d) array
        Source points.
    xt : (m, d) array
        Target points.
    G : (n, m) array
        Transport plan between them.
    t : float
        Time in [0, 1]: 0 gives the source measure, 1 the target.
    threshold : float, default=0.0
        Pairs with ``G_ij <= threshold`` are left out.

    Returns
    -------
    positions : (K, d) array
        Atoms of the interpolated measure (K pairs in the support of G).
    weights : (K,) array
        Their masses (the entries of G).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> xs, xt = np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])
    >>> G = ot.emd([0.5, 0.5], [0.5, 0.5], ot.dist(xs, xt))
    >>> positions, weights = ot.displacement_interpolation(xs, xt, G, 0.5)
    >>> positions.ravel().tolist(), weights.tolist()
    ([1.0, 2.0], [0.5, 0.5])
    """
    xp = get_namespace(xs=xs, xt=xt, G=G)
    device = device_of(xs)
    dtype = result_float_dtype(xp, xs, xt, G, device=device)
    xs_np, xt_np, G_np = to_numpy(xs), to_numpy(xt), to_numpy(G)
    check_ndim(xs_np, "xs", 2)
    check_ndim(xt_np, "xt", 2)
    if xs_np.shape[1] != xt_np.shape[1]:
        raise ValueError(
            f"xs and xt must have the same dimension, got {xs_np.shape} and {xt_np.shape}"
        )
    if G_np.shape != (xs_np.shape[0], xt_np.shape[0]):
        raise ValueError(
            f"G.shape == {G_np.shape}, expected ({xs_np.shape[0]}, {xt_np.shape[0]}) "
            "to match xs and xt"
        )
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t!r}")
    rows, cols = np.nonzero(G_np > threshold)
    positions = (1.0 - t) * xs_np[rows] + t * xt_np[cols]
    return (
        from_numpy(positions, xp, dtype=dtype, device=device),
        from_numpy(G_np[rows, cols], xp, dtype=dtype, device=device),
    )
