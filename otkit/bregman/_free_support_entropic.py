"""Entropic free-support barycenters of point clouds: Sinkhorn plans, computed online."""

from __future__ import annotations

import functools
import warnings

from .._boundary import as_backend, input_float_dtype, weights_or_uniform
from .._validation import (
    check_finite,
    check_ndim,
    check_nonnegative_weights,
    check_not_empty,
    check_sums_to_one,
)
from ..backend import (
    device_of,
    fori_loop,
    get_namespace,
    is_jax_namespace,
    jit,
    result_float_dtype,
    stop_gradient,
    to_numpy,
)
from ._clouds import positive_parameter
from ._divergence_core import epsilon_stages
from ._pointcloud import (
    CostSpec,
    diameter,
    online_log_loop,
    softmin_cols_online,
    softmin_rows_online,
    transport_pass,
)
from ._sinkhorn_loop import log_weights, row_error

__all__ = ["free_support_sinkhorn_barycenter"]

# POT passes **kwargs to ``ot.bregman.sinkhorn``; these methods all compute the same plan,
# which otkit computes by its online log-domain loop whatever the name.
_SINKHORN_METHODS = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized")
# Factor of the blur per annealing stage of a cold start (as sinkhorn_divergence).
_ANNEALING = 0.5


def free_support_sinkhorn_barycenter(
    measures_locations,
    measures_weights,
    X_init,
    reg,
    b=None,
    weights=None,
    numItermax=100,
    numInnerItermax=1000,
    stopThr=1e-7,
    verbose=False,
    log=None,
    *,
    inner_tol=None,
    batch_size=None,
    warn=True,
    **kwargs,
):
    r"""Entropic Wasserstein barycenter with free support locations and fixed weights.

    Minimises over the k atom locations :math:`X` of :math:`\mu_X = \sum_i b_i
    \delta_{x_i}` the weighted sum of entropic transport costs to the N input measures
    :math:`\nu_l = \sum_j a_{lj} \delta_{y_{lj}}`,

    .. math::
        \min_X \sum_{l=1}^N w_l\, \mathrm{OT}_\varepsilon(\mu_X, \nu_l), \qquad
        \mathrm{OT}_\varepsilon(\mu, \nu) = \min_{P \in \Pi(\mu, \nu)} \langle P, C\rangle
        + \varepsilon\, \mathrm{KL}(P \,\|\, \mu \otimes \nu),

    with :math:`C_{ij} = \|x_i - y_{lj}\|^2`, by the fixed-point iteration of Cuturi &
    Doucet (2014) with entropic plans (POT's ``ot.bregman.free_support_sinkhorn_barycenter``).
    By the envelope theorem :math:`\nabla_{x_i} \mathrm{OT}_\varepsilon = 2 \sum_j
    P^l_{ij} (x_i - y_{lj})`, which vanishes for the whole sum when every atom sits at
    the weighted mean of its barycentric projections:

    .. math::
        x_i \leftarrow \sum_{l=1}^N w_l\, T_l(x_i), \qquad
        T_l(x_i) = \frac{1}{b_i} \sum_j P^l_{ij}\, y_{lj},

    where :math:`P^l` is the entropic plan between the current :math:`\mu_X` and
    :math:`\nu_l`. Each plan is found by log-domain Sinkhorn on costs recomputed block by
    block from the points (memory O((k + m) d + block m), never k x m). Each solve starts
    from the better (smaller marginal error) of two potentials: the one found on
    :math:`\nu_l` by the previous step (warm start) and one annealed from the diameter of
    the data (which wins after large moves of the atoms, where Sinkhorn at small
    :math:`\varepsilon` is slow to correct a stale potential). The loop stops when the
    squared displacement :math:`\|X^{new} - X\|_F^2` is below ``stopThr`` or after
    ``numItermax`` steps.

    The entropic term biases the barycenter towards smaller spread: the barycenter of N
    copies of one measure is not that measure but a contracted version of it (for a
    Gaussian :math:`N(m, \Sigma)`, :math:`N(m, \Sigma - \tfrac{\varepsilon}{2} I)`); as
    :math:`\varepsilon \to 0` the result tends to :func:`otkit.free_support_barycenter`'s
    from the same ``X_init`` (exponentially fast where the optimal plans are unique).

    Parameters
    ----------
    measures_locations : list of N (m_l, d) arrays
        Atoms of the input measures.
    measures_weights : list of N (m_l,) arrays
        Their weights: non-negative, each summing to 1 (None or an empty list: uniform).
    X_init : (k, d) array
        Initial barycenter atoms.
    reg : float
        :math:`\varepsilon`, in cost units (absolute, as POT).
    b : (k,) array, optional
        Barycenter weights: positive, summing to 1 (uniform by default).
    weights : (N,) array, optional
        Barycentric coordinates: non-negative, summing to 1 (uniform by default).
    numItermax : int, default=100
        Maximum number of fixed-point steps.
    numInnerItermax : int, default=1000
        Maximum number of Sinkhorn iterations per plan.
    stopThr : float, default=1e-7
        Threshold on the squared displacement of the atoms.
    verbose : bool, default=False
        Print the displacement at each step.
    log : bool, optional
        Also return a dict.
    inner_tol : float, optional
        L2 norm of the marginal error at which a Sinkhorn solve stops: 1e-9 in float64
        (POT's ``sinkhorn`` default), 1e-5 in float32.
    batch_size : int, optional
        Rows per cost block (chosen from the sizes by default).
    warn : bool, default=True
        Warn when a Sinkhorn solve of the last step does not reach ``inner_tol``.
    **kwargs
        POT's arguments for ``ot.bregman.sinkhorn``: ``method`` may be 'sinkhorn',
        'sinkhorn_log' or 'sinkhorn_stabilized' (the same plan: otkit always uses its online
        log-domain loop); anything else is a ``TypeError``.

    Returns
    -------
    X : (k, d) array
        Barycenter atoms, in the library and on the device of ``X_init``, in the floating
        dtype of ``X_init`` and the locations. No gradient flows through the iterations
        (the result is detached).
    log : dict
        Only if ``log`` is true: 'displacement_square_norms' (one per step, as POT),
        'n_iter' (steps), 'inner_n_iter' and 'inner_err' (Sinkhorn iterations and final
        marginal errors of the last step, one per measure; 0 for a measure of weight 0,
        which is skipped), 'converged' (the squared displacement went below ``stopThr``).

    Notes
    -----
    The barycentric projection is read from the plan whose rows sum exactly to ``b``
    (the one of the last row update), so it is a convex combination of the
    :math:`y_{lj}` even before Sinkhorn has converged. The atoms are shifted by the
    weighted mean of the inputs during the solve (the cost's ``|x|^2 + |y|^2 - 2 <x, y>``
    form loses digits far from the origin); the result is translation equivariant (up
    to rounding and the Sinkhorn tolerance): translating measure l by :math:`t_l` and ``X_init`` by
    :math:`\sum_l w_l t_l` translates the barycenter by :math:`\sum_l w_l t_l`.

    Backends: NumPy, PyTorch (any device) and JAX (each Sinkhorn solve compiled once per
    setting); not under ``jax.jit`` (the outer loop reads the displacement on the host).

    References
    ----------
    .. [1] M. Cuturi, A. Doucet. Fast computation of Wasserstein barycenters. ICML 2014.
    .. [2] M. Cuturi. Sinkhorn distances: lightspeed computation of optimal transport.
       NeurIPS 2013.
    .. [3] R. Cominetti, J. San Martin. Asymptotic analysis of the exponential penalty
       trajectory in linear programming. Mathematical Programming 67, 1994.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [4.0]])
    >>> X = ot.free_support_sinkhorn_barycenter(
    ...     [x, x + 2.0], [ot.unif(2), ot.unif(2)], x.copy(), reg=0.1)
    >>> np.round(X.ravel(), 6).tolist()
    [1.0, 5.0]
    """
    method = kwargs.pop("method", "sinkhorn")
    if kwargs:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    if method not in _SINKHORN_METHODS:
        raise ValueError(f"method must be one of {_SINKHORN_METHODS}, got {method!r}")
    eps = positive_parameter(reg, "reg")
    num_iter = _count(numItermax, "numItermax")
    num_inner = _count(numInnerItermax, "numInnerItermax")
    stop = _nonnegative(stopThr, "stopThr")
    xp, dtype, X, clouds, b, w = _prepare(measures_locations, measures_weights, X_init, b, weights)
    if inner_tol is None:
        tol = 1e-9 if dtype == xp.float64 else 1e-5
    else:
        tol = _nonnegative(inner_tol, "inner_tol")
    block = 0 if batch_size is None else _count(batch_size, "batch_size")
    spec = CostSpec("power", 2.0, block)

    # Shift everything by the weighted mean of the inputs (also the b-weighted mean of X
    # after one step): the cost and the result are unchanged, the rounding is not.
    center = sum(w_l * xp.sum(nu[:, None] * y, axis=0) for (y, nu), w_l in zip(clouds, w))
    clouds = [(y - center, nu) for y, nu in clouds]
    x = X - center
    solve = _inner_solver(num_inner, float(tol), spec, xp)
    eps_array = _scalar(eps, xp, dtype)
    potentials = [None] * len(clouds)
    displacements = []
    inner_n_iter, inner_err = [], []
    for _ in range(num_iter):
        x_new = xp.zeros_like(x)
        inner_n_iter, inner_err = [], []
        for index, ((y, nu), w_l) in enumerate(zip(clouds, w)):
            if w_l == 0.0:  # its plan does not enter the update
                inner_n_iter.append(0)
                inner_err.append(0.0)
                continue
            f0 = _initial_potential(x, y, b, nu, eps, potentials[index], spec, xp)
            g, projection, n_iter, err = solve(x, y, b, nu, eps_array, f0)
            potentials[index] = g
            inner_n_iter.append(int(n_iter))
            inner_err.append(float(err))
            x_new = x_new + w_l * projection
        displacement = float(xp.sum((x_new - x) ** 2))
        displacements.append(displacement)
        x = x_new
        if verbose:
            print(
                f"free_support_sinkhorn_barycenter: step {len(displacements)}, "
                f"displacement {displacement:.3e}"
            )
        if displacement < stop:
            break
    worst = max(inner_err, default=0.0)
    if warn and not worst <= tol:
        warnings.warn(
            f"free_support_sinkhorn_barycenter: the Sinkhorn solves of the last step reached "
            f"a marginal error of {worst:.3e} > inner_tol={tol:g} in numInnerItermax="
            f"{num_inner} iterations; increase numInnerItermax or reg",
            UserWarning,
            stacklevel=2,
        )
    out = x + center
    if not log:
        return out
    return out, {
        "displacement_square_norms": displacements,
        "n_iter": len(displacements),
        "inner_n_iter": inner_n_iter,
        "inner_err": inner_err,
        "converged": bool(displacements) and displacements[-1] < stop,
    }


def _count(value, name):
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def _nonnegative(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if not number >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def _scalar(eps, xp, dtype):
    # A 0-d array on JAX (one compiled program for every eps), a Python float elsewhere
    # (the NumPy kernels of _pointcloud take a float).
    return xp.asarray(eps, dtype=dtype) if is_jax_namespace(xp) else eps


def _prepare(measures_locations, measures_weights, X_init, b, weights):
    """Namespace, dtype and the checked arrays: (xp, dtype, X, clouds, b, w)."""
    try:
        n_measures = len(measures_locations)
        n_weights = len(measures_weights)
    except TypeError:
        raise TypeError("measures_locations and measures_weights must be lists of arrays") from None
    if n_measures == 0 or n_measures != n_weights:
        raise ValueError(
            "measures_locations and measures_weights must be non-empty lists of the same "
            f"length, got {n_measures} and {n_weights}"
        )
    named = {f"measures_locations[{i}]": loc for i, loc in enumerate(measures_locations)}
    xp = get_namespace(X_init=X_init, **named, b=b, weights=weights)
    arrays = (X_init, *measures_locations)
    device = next((device_of(v) for v in arrays if device_of(v) is not None), None)
    dtype = result_float_dtype(xp, *arrays, device=device)
    X = stop_gradient(as_backend(X_init, xp, dtype, device), xp)
    host_dtype = input_float_dtype(X)
    check_ndim(X, "X_init", 2)
    check_not_empty(X, "X_init")
    check_finite(to_numpy(X), "X_init")
    k, d = X.shape
    clouds = []
    for i, (loc, mass) in enumerate(zip(measures_locations, measures_weights)):
        name, weight_name = f"measures_locations[{i}]", f"measures_weights[{i}]"
        if mass is not None and not isinstance(mass, (list, tuple)):
            try:
                get_namespace(X_init=X_init, weights=mass)
            except TypeError as error:
                raise TypeError(f"{weight_name}: {error}") from None
        y = stop_gradient(as_backend(loc, xp, dtype, device), xp)
        check_ndim(y, name, 2)
        check_not_empty(y, name)
        if y.shape[1] != d:
            raise ValueError(
                f"{name}.shape == {tuple(y.shape)}, expected (m_{i}, {d}) to match X_init.shape[1]"
            )
        check_finite(to_numpy(y), name)
        nu = stop_gradient(weights_or_uniform(mass, y.shape[0], xp, dtype, device), xp)
        if tuple(nu.shape) != (y.shape[0],):
            raise ValueError(
                f"{weight_name}.shape == {tuple(nu.shape)}, expected ({y.shape[0]},) to "
                f"match {name}.shape[0]"
            )
        nu_host = to_numpy(nu)
        check_nonnegative_weights(nu_host, weight_name)
        check_sums_to_one(nu_host, weight_name, host_dtype)
        clouds.append((y, nu))
    b = stop_gradient(weights_or_uniform(b, k, xp, dtype, device), xp)
    if tuple(b.shape) != (k,):
        raise ValueError(f"b.shape == {tuple(b.shape)}, expected ({k},) to match X_init.shape[0]")
    b_host = to_numpy(b)
    check_nonnegative_weights(b_host, "b")
    if (b_host == 0).any():
        raise ValueError("b has zero entries: an atom without mass has no barycentric position")
    check_sums_to_one(b_host, "b", host_dtype)
    if weights is None or (isinstance(weights, (list, tuple)) and len(weights) == 0):
        w_host = to_numpy([1.0 / n_measures] * n_measures)
    else:
        w_host = to_numpy(weights)
    if w_host.shape != (n_measures,):
        raise ValueError(
            f"weights.shape == {w_host.shape}, expected ({n_measures},): one per measure"
        )
    check_nonnegative_weights(w_host, "weights")
    check_sums_to_one(w_host, "weights", host_dtype)
    return xp, dtype, X, clouds, b, [float(v) for v in w_host]


def _initial_potential(x, y, b, nu, eps, g, spec, xp):
    """The row potential f0 (k, 1) that starts the Sinkhorn solve between x and y.

    Two candidates: ``eps`` annealed from the diameter of the data (the blur halves per
    stage, one Sinkhorn iteration per stage), and, after the first step, the warm start:
    the c-transform at the new atoms of the potential ``g`` found on y (which does not
    move) by the previous step. The one with the smaller marginal error wins. Near the
    fixed point the warm start is the previous solution and saves the iterations; after a
    large move of the atoms it can be many eps off, and Sinkhorn is very slow to correct
    that when the plan is close to a permutation (small eps), where annealing is not.
    """
    stages, _ = epsilon_stages(
        diameter(x, y, spec, xp), eps, _ANNEALING, 2.0, xp, x.dtype, device_of(x), False
    )
    start = _starter(spec, xp)
    eps = _scalar(eps, xp, x.dtype)
    return start(x, y, b, nu, eps, stages) if g is None else start(x, y, b, nu, eps, stages, g)


@functools.lru_cache(maxsize=16)
def _starter(spec, xp):
    """``start(x, y, b, nu, eps, stages[, g]) -> f0`` (compiled on JAX)."""

    def start(x, y, b, nu, eps, stages, g=None):
        geometry = (x, y, spec)
        log_nu = log_weights(nu, xp)[:, None]
        log_b = log_weights(b, xp)[:, None]

        def sweep(f, e):  # one Sinkhorn iteration at e
            g_new = softmin_cols_online(geometry, f, log_b, e, xp)
            return softmin_rows_online(geometry, g_new, log_nu, e, xp)

        f = xp.zeros((x.shape[0], 1), dtype=x.dtype, device=device_of(x))
        f = fori_loop(0, stages.shape[0], lambda t, f: sweep(f, stages[t]), f, xp=xp)
        if g is None:
            return f
        warm = softmin_rows_online(geometry, g, log_nu, eps, xp)
        b_col = b[:, None]
        warm_err = row_error(b_col, warm, sweep(warm, eps), eps, xp)
        annealed_err = row_error(b_col, f, sweep(f, eps), eps, xp)
        return xp.where(warm_err <= annealed_err, warm, f)

    return jit(start, xp)


@functools.lru_cache(maxsize=16)
def _inner_solver(num_iter_max, tol, spec, xp):
    """``solve(x, y, b, nu, eps, f0) -> (g, projection, n_iter, err)`` (compiled on JAX)."""

    def solve(x, y, b, nu, eps, f0):
        _, g, n_iter, err, _ = online_log_loop(
            b, nu[:, None], x, y, spec, eps, f0, num_iter_max, tol, xp
        )
        # Rows of the plan with potentials (T(g), g) are b_i pi_ij, pi_i. summing to 1: the
        # barycentric projection is sum_j pi_ij y_j = x_i - (1/2) sum_j pi_ij 2 (x_i - y_j).
        log_nu = log_weights(nu, xp)
        _, grad, _ = transport_pass(x, y, log_nu + g[:, 0] / eps, eps, spec, xp)
        return g, x - 0.5 * grad, n_iter, err

    return jit(solve, xp)
