r"""Sliced and max-sliced Wasserstein distances: projections plus the 1D solver.

The point clouds are projected on all directions at once (one matrix product, laid out as
(L, n) so that every projection is sorted along contiguous memory), and the batched 1D
solver of :mod:`otkit._one_d` handles all projections without a Python loop.
"""

from __future__ import annotations

import math

import numpy as np

from .._boundary import as_backend, input_float_dtype
from .._validation import (
    balance_low_precision_masses,
    check_integer,
    check_ndim,
    check_not_empty,
    check_real,
    downcast_low_precision,
    low_precision_eps,
    mass_tolerance,
    nan_unless,
    traced_validity,
    upcast_low_precision,
)
from ..backend import is_traced, stop_gradient
from ..backend._shims import _is_torch_generator, randn_from_seed
from ..lp._one_d_inputs import (
    as_result,
    check_exponent,
    check_same_mass,
    check_values,
    check_weights,
    namespace_dtype_device,
    weights_need_gradient,
    weights_or_none,
)
from ..lp._one_d_kernels import (
    attach_weight_gradients,
    compiled,
    ground_cost_slope,
    solve_1d,
    without_gradient,
)
from ..utils._costs import _safe_root

__all__ = ["max_sliced_wasserstein_distance", "sliced_wasserstein_distance"]


def random_projections(n_features: int, n_projections: int, seed, xp, dtype, device):
    """(d, L) directions drawn uniformly on the unit sphere from ``seed``: Gaussian vectors
    divided by their norms.

    An int seed (or a ``numpy.random.RandomState``) draws the numbers of
    ``numpy.random.RandomState(seed).randn(d, L)`` on the host, as POT does on NumPy input,
    so every library gets the same directions for the same seed; a ``numpy.random.Generator``
    (or None) draws with NumPy, a ``torch.Generator`` with torch. The global random state is
    never used or changed.
    """
    draws = randn_from_seed((n_features, n_projections), seed, xp, dtype, device)
    norms = xp.sqrt(xp.sum(draws**2, axis=0, keepdims=True))
    # A zero draw has probability zero; keep the column finite regardless.
    return draws / xp.where(norms > 0, norms, xp.ones_like(norms))


def _check_n_projections(n_projections) -> int:
    return check_integer(n_projections, "n_projections", minimum=1, allow_traced=False)


def _check_seed(seed):
    """None, a NumPy ``RandomState`` or ``Generator``, a ``torch.Generator`` as given; an
    integer (also a NumPy integer or 0-d array) in [0, 2**32 - 1] as an int."""
    if seed is None or _is_torch_generator(seed):
        return seed
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    try:
        return check_integer(
            seed, "seed", maximum=2**32 - 1, allow_traced=False, integral_floats=False
        )
    except TypeError:
        raise TypeError(
            "seed must be None, an int, a numpy.random.RandomState, a numpy.random.Generator "
            f"or a torch.Generator, got {type(seed).__name__}"
        ) from None


def _scaled(X, Y, scaler, xp, dtype, device):
    """``otkit.utils.apply_scaler`` applied to both clouds (POT's ``scaler=``)."""
    if scaler is None:
        return X, Y
    from ..utils import apply_scaler

    X, Y = apply_scaler(X, Y, scaler=scaler)
    X, Y = as_backend(X, xp, dtype, device), as_backend(Y, xp, dtype, device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"scaler must map X_s and X_t to 2-D arrays with the same number of features, "
            f"got shapes {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    return X, Y


def _prepare(X_s, X_t, a, b, n_projections, p, projections, seed, scaler):
    p = check_exponent(p)
    named = {"X_s": X_s, "X_t": X_t, "a": a, "b": b, "projections": projections}
    xp, dtype, device = namespace_dtype_device(named)
    X = as_backend(X_s, xp, dtype, device)
    Y = as_backend(X_t, xp, dtype, device)
    check_ndim(X, "X_s", 2)
    check_ndim(Y, "X_t", 2)
    check_not_empty(X, "X_s")
    check_not_empty(Y, "X_t")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X_s and X_t must have the same number of features: X_s.shape == "
            f"{tuple(X.shape)}, X_t.shape == {tuple(Y.shape)}"
        )
    X, Y = _scaled(X, Y, scaler, xp, dtype, device)
    n, m, d = X.shape[0], Y.shape[0], X.shape[1]
    a = weights_or_none(a, "a", n, (), xp, dtype, device, "X_s.shape[0]")
    b = weights_or_none(b, "b", m, (), xp, dtype, device, "X_t.shape[0]")
    if projections is None:
        L = _check_n_projections(n_projections)
        theta = random_projections(d, L, _check_seed(seed), xp, dtype, device)
    else:
        theta = as_backend(projections, xp, dtype, device)
        check_ndim(theta, "projections", 2)
        if theta.shape[0] != d or theta.shape[1] == 0:
            raise ValueError(
                f"projections.shape == {tuple(theta.shape)}, expected ({d}, n_projections) "
                "to match the number of features of X_s"
            )
    rtol = mass_tolerance(input_float_dtype(a, b), max(n, m))
    if is_traced(X, Y, a, b, theta):
        # No exception possible: invalid values make the inputs (hence the gradients) NaN,
        # and the outputs too, through ``valid`` (the root maps a NaN to 0).
        valid = traced_validity(
            xp, finite=(X, Y, theta), weights=(a, b), same_mass=(a, b, rtol), mass_axis=-1
        )
        X, Y, a, b, theta = nan_unless(valid, (X, Y, a, b, theta), xp)
        return xp, X, Y, a, b, p, theta, valid
    check_values(X, "X_s", xp)
    check_values(Y, "X_t", xp)
    check_values(theta, "projections", xp)
    for w, name in ((a, "a"), (b, "b")):
        if w is not None:
            check_weights(w, name, xp)
    check_same_mass(a, b, ("a", "b"), rtol, xp)
    return xp, X, Y, a, b, p, theta, None


def _project(X, theta, xp):
    """Projections of the rows of X on the columns of theta, laid out as (L, n)."""
    return xp.matmul(xp.matrix_transpose(theta), xp.matrix_transpose(X))


def _sliced_body(X, Y, a, b, theta, *, xp, p, reduction, weight_gradients):
    """(SW_p or max-SW_p over the directions, W_p^p along each direction), differentiable."""
    x, y = _project(X, theta, xp), _project(Y, theta, xp)
    fixed_a, fixed_b = without_gradient(a, xp), without_gradient(b, xp)
    solution = solve_1d(x, y, fixed_a, fixed_b, p, xp, duals=weight_gradients)
    projected = solution.value
    if weight_gradients:
        projected = attach_weight_gradients(projected, a, b, solution.u, solution.v, xp)
    reduced = xp.mean(projected) if reduction == "mean" else xp.max(projected)
    return _safe_root(reduced, p, xp), projected


def _sliced(X, Y, a, b, theta, p, reduction, xp, valid=None):
    weight_gradients = weights_need_gradient(xp, a, b)
    body = compiled(_sliced_body, xp, p=p, reduction=reduction, weight_gradients=weight_gradients)
    value, projected = body(X, Y, a, b, theta)
    if valid is not None:
        value, projected = nan_unless(valid, (value, projected), xp)
    return as_result(value, xp), projected


def sliced_wasserstein_distance(
    X_s,
    X_t,
    a=None,
    b=None,
    n_projections: int = 50,
    p: float = 2,
    projections=None,
    seed=None,
    log: bool = False,
    scaler=None,
):
    r"""Sliced Wasserstein distance :math:`SW_p` (the p-th root, as POT), Monte Carlo.

    .. math::
        SW_p(\mu, \nu) = \left( \mathbb{E}_{\theta \sim \mathcal{U}(\mathbb{S}^{d-1})}
        W_p^p(\theta_\# \mu, \theta_\# \nu) \right)^{1/p}
        \approx \left( \frac{1}{L} \sum_{l=1}^{L}
        W_p^p(\theta_{l\#} \mu, \theta_{l\#} \nu) \right)^{1/p}

    where :math:`\theta_\# \mu` is the image of :math:`\mu` by :math:`x \mapsto \langle
    \theta, x \rangle` and each 1D cost is exact (:func:`otkit.wasserstein_1d`). Note the
    p-th root: the result is a distance, in the units of ``X_s`` (unlike ``emd2`` and
    ``wasserstein_1d``, which return :math:`W_p^p`).

    Differentiable with respect to the points and the weights on torch and JAX; works
    under ``jax.jit``, ``jax.grad`` and ``jax.vmap`` (with ``seed`` fixed, the projections
    are constants of the trace; there, input that would raise a ValueError makes the value,
    ``log["projected_emds"]`` and the gradients NaN). The gradient with respect to the
    weights is that of the mean of the projected costs through the 1D dual potentials, in
    the convention of :func:`otkit.wasserstein_1d` (POT's).

    Parameters
    ----------
    X_s : (n, d) array_like
        Source samples.
    X_t : (m, d) array_like
        Target samples, same dimension ``d``.
    a : (n,) array_like, optional
        Source weights (uniform when None).
    b : (m,) array_like, optional
        Target weights, same total mass as ``a`` (uniform when None).
    n_projections : int, default=50
        Number of random directions L.
    p : float, default=2
        Exponent of the ground cost, ``1 <= p < inf``.
    projections : (d, L) array_like, optional
        Directions to use (columns, used as given, normally unit vectors); ``n_projections``
        and ``seed`` are then ignored.
    seed : int, numpy.random.RandomState, numpy.random.Generator, torch.Generator or None
        Source of the random directions (Gaussian vectors normalised to the unit sphere).
        An int or a RandomState draws ``numpy.random.RandomState(seed).randn(d, L)`` on the
        host: POT's directions on NumPy input, and the same directions on every library. A
        Generator draws with NumPy, a torch.Generator with torch (in the dtype of the
        input, on the generator's device). The given generator advances; the global random
        state is never used or changed. None (default) draws fresh directions.
    log : bool, default=False
        Also return a dict with ``projections`` (d, L) and ``projected_emds`` (L,): the
        :math:`W_p^p` along each direction.
    scaler : None or scaler, default=None
        Preprocessing of both clouds before projecting, as
        :func:`otkit.utils.apply_scaler` (POT's ``scaler=``); None leaves them unchanged.

    Returns
    -------
    cost : 0-d array
        :math:`SW_p`, in the library, dtype and device of ``X_s`` (float16 and bfloat16
        input is computed in float32 and returned in its dtype; a NumPy scalar for NumPy
        input).
    log : dict
        Only if ``log=True``.

    Raises
    ------
    ValueError
        Non-finite points, negative weights, masses that differ, ``X_s`` and ``X_t`` of
        different dimensions, empty input, ``p < 1``, a bad ``n_projections`` or
        ``projections``.
    TypeError
        A ``seed`` of another type.

    Notes
    -----
    The Monte Carlo error of :math:`SW_p^p` decreases like :math:`L^{-1/2}`; the standard
    deviation of ``log["projected_emds"]`` divided by :math:`\sqrt{L}` estimates it. Uniform
    weights with ``n == m`` take a fast path (sorting and pairing only).

    References
    ----------
    .. [1] N. Bonneel, J. Rabin, G. Peyré, H. Pfister. Sliced and Radon Wasserstein
       barycenters of measures. Journal of Mathematical Imaging and Vision 51(1), 2015.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> X = np.random.default_rng(0).normal(size=(20, 5))
    >>> float(ot.sliced_wasserstein_distance(X, X, seed=0))
    0.0
    >>> round(float(ot.sliced_wasserstein_distance(X, X + 1.0, n_projections=500, seed=0)), 1)
    1.0
    """
    low_eps = low_precision_eps(a, b)
    low, low_xp, (X_s, X_t, a, b, projections) = upcast_low_precision(X_s, X_t, a, b, projections)
    a, b = balance_low_precision_masses(a, b, low_eps)
    xp, X, Y, a, b, p, theta, valid = _prepare(
        X_s, X_t, a, b, n_projections, p, projections, seed, scaler
    )
    value, projected = _sliced(X, Y, a, b, theta, p, "mean", xp, valid)
    if log:
        return downcast_low_precision(
            (value, {"projections": theta, "projected_emds": projected}), low, low_xp
        )
    return downcast_low_precision(value, low, low_xp)


def max_sliced_wasserstein_distance(
    X_s,
    X_t,
    a=None,
    b=None,
    n_projections: int = 50,
    p: float = 2,
    projections=None,
    seed=None,
    log: bool = False,
    scaler=None,
    *,
    maximize: bool = False,
    max_iter: int = 100,
    tol: float = 1e-7,
):
    r"""Max-sliced Wasserstein distance :math:`\max_\theta W_p(\theta_\# \mu, \theta_\# \nu)`.

    .. math::
        \text{max-}SW_p(\mu, \nu) = \max_{\theta \in \mathbb{S}^{d-1}}
        W_p(\theta_\# \mu, \theta_\# \nu) \le W_p(\mu, \nu)

    By default (as POT), the maximum over ``n_projections`` random directions. With
    ``maximize=True`` the direction is really optimised: Riemannian gradient ascent of
    :math:`F(\theta) = W_p^p(\theta_\# \mu, \theta_\# \nu)` on the unit sphere, started
    from the best random direction, moving along great circles with a backtracking
    (Armijo) step, so that :math:`F` increases at every accepted step. The gradient of
    :math:`F` is that of the cost of the optimal 1D coupling held fixed (envelope theorem):
    :math:`\sum_{ij} \gamma_{ij} h'(\langle\theta, x_i - y_j\rangle)(x_i - y_j)`. The
    problem is not concave: the result is a local maximum, never below the best random
    direction.

    Parameters
    ----------
    X_s, X_t, a, b, n_projections, p, projections, seed, scaler
        As in :func:`sliced_wasserstein_distance` (with ``maximize``, the random or given
        directions are the candidates the ascent starts from).
    log : bool, default=False
        Also return a dict with ``projections``, ``projected_emds`` (:math:`W_p^p` along
        each candidate direction) and, with ``maximize=True``, ``n_iter`` (ascent steps),
        ``converged`` and ``start_value`` (:math:`W_p` along the best candidate).
    maximize : bool, default=False
        Optimise the direction (keyword-only; not available inside ``jax.jit``).
    max_iter : int, default=100
        Maximum number of ascent steps.
    tol : float, default=1e-7
        Stop when the tangential part of the gradient is below ``tol`` times its radial
        part (:math:`\langle \nabla F, \theta\rangle = pF`), i.e. at a stationary point.

    Returns
    -------
    cost : 0-d array
        The max-sliced distance (the p-th root), in the library, dtype and device of
        ``X_s``; differentiable with respect to the points (Danskin: the gradient at the
        maximising direction).
    direction : (d,) array
        Only with ``maximize=True``: the unit direction found (no gradient).
    log : dict
        Only if ``log=True`` (last).

    Notes
    -----
    With ``maximize=True`` the ascent runs eagerly (its step sizes depend on the values), so
    JAX inputs must be concrete: to differentiate under ``jax.grad``, find the direction
    first, then call :func:`sliced_wasserstein_distance` with ``projections=direction[:,
    None]``, which has the same value and, at the maximiser, the same gradient.

    References
    ----------
    .. [1] I. Deshpande, Y.-T. Hu, R. Sun, A. Pyrros, N. Siddiqui, S. Koyejo, Z. Zhao,
       D. Forsyth, A. Schwing. Max-sliced Wasserstein distance and its use for GANs.
       CVPR 2019.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> Y = X + np.array([0.0, 2.0, 0.0])
    >>> value, direction = ot.max_sliced_wasserstein_distance(X, Y, seed=0, maximize=True)
    >>> round(float(value), 3), np.round(np.abs(direction), 3).tolist()
    (2.0, [0.0, 1.0, 0.0])
    """
    low_eps = low_precision_eps(a, b)
    low, low_xp, (X_s, X_t, a, b, projections) = upcast_low_precision(X_s, X_t, a, b, projections)
    a, b = balance_low_precision_masses(a, b, low_eps)
    result = _max_sliced(
        X_s, X_t, a, b, n_projections, p, projections, seed, log, scaler, maximize, max_iter, tol
    )
    return downcast_low_precision(result, low, low_xp)


def _max_sliced(
    X_s, X_t, a, b, n_projections, p, projections, seed, log, scaler, maximize, max_iter, tol
):
    xp, X, Y, a, b, p, theta, valid = _prepare(
        X_s, X_t, a, b, n_projections, p, projections, seed, scaler
    )
    value, projected = _sliced(X, Y, a, b, theta, p, "max", xp, valid)
    if not maximize:
        if log:
            return value, {"projections": theta, "projected_emds": projected}
        return value
    if is_traced(X, Y, a, b, theta):
        raise ValueError(
            "maximize=True runs an eager line search and needs concrete arrays, not JAX "
            "tracers (inside jax.jit, jax.grad or jax.vmap); find the direction outside, then "
            "pass it as projections=direction[:, None] to sliced_wasserstein_distance"
        )
    max_iter = check_integer(max_iter, "max_iter")
    tol = check_real(tol, "tol", minimum=0)
    best = int(xp.argmax(stop_gradient(projected, xp)))
    start = stop_gradient(theta[:, best], xp)
    start = start / xp.linalg.vector_norm(start)
    ascent = _SphereAscent(X, Y, a, b, p, xp)
    direction, n_iter, converged = ascent.run(start, int(max_iter), float(tol))
    value, _ = _sliced(X, Y, a, b, direction[:, None], p, "max", xp)
    if not log:
        return value, direction
    return (
        value,
        direction,
        {
            "projections": theta,
            "projected_emds": projected,
            "n_iter": n_iter,
            "converged": converged,
            "start_value": float(_safe_root(stop_gradient(projected[best], xp), p, xp)),
        },
    )


class _SphereAscent:
    """Gradient ascent of F(theta) = W_p^p(theta#mu, theta#nu) on the unit sphere."""

    # Armijo constant: accept a step when F grows by at least this fraction of the first-order
    # prediction.
    SUFFICIENT_INCREASE = 1e-4
    SMALLEST_STEP = 1e-12  # radians

    def __init__(self, X, Y, a, b, p, xp):
        self.X, self.Y, self.a, self.b = (without_gradient(v, xp) for v in (X, Y, a, b))
        self.p, self.xp = p, xp

    def value_and_gradient(self, theta, gradient=True):
        """F(theta) as a float, and its Euclidean gradient (d,) unless ``gradient`` is False."""
        body = compiled(_objective_body, self.xp, p=self.p, gradient=gradient)
        value, slope = body(self.X, self.Y, self.a, self.b, theta)
        return float(value), slope

    def run(self, theta, max_iter: int, tol: float):
        xp = self.xp
        value, gradient = self.value_and_gradient(theta)
        step = 0.25
        for n_iter in range(max_iter):
            radial = float(xp.sum(gradient * theta))
            tangent = gradient - radial * theta
            slope = float(xp.linalg.vector_norm(tangent))
            if slope <= tol * abs(radial) or slope == 0.0:
                return theta, n_iter, True
            heading = tangent / slope
            while True:
                candidate = math.cos(step) * theta + math.sin(step) * heading
                candidate = candidate / xp.linalg.vector_norm(candidate)
                candidate_value, _ = self.value_and_gradient(candidate, gradient=False)
                if candidate_value >= value + self.SUFFICIENT_INCREASE * step * slope:
                    break
                step /= 2.0
                if step < self.SMALLEST_STEP:
                    # No ascent along the gradient at any resolvable step: a (possibly
                    # non-smooth) local maximum.
                    return theta, n_iter, True
            theta = candidate
            value, gradient = self.value_and_gradient(theta)
            step = min(2.0 * step, math.pi / 2)
        return theta, max_iter, False


def _objective_body(X, Y, a, b, theta, *, xp, p, gradient):
    """W_p^p along the unit vector theta and, with ``gradient``, its gradient in theta: that
    of the cost of the optimal coupling held fixed (envelope theorem)."""
    x = xp.reshape(xp.matmul(X, theta), (-1,))
    y = xp.reshape(xp.matmul(Y, theta), (-1,))
    solution = solve_1d(x, y, a, b, p, xp, plan_data=gradient)
    if not gradient:
        return solution.value, None
    rows, cols, masses = solution.coupling[:3]
    displacement = xp.take(X, xp.take(solution.perm_x, rows), axis=0) - xp.take(
        Y, xp.take(solution.perm_y, cols), axis=0
    )
    slopes = masses * ground_cost_slope(xp.matmul(displacement, theta), p, xp)
    return solution.value, xp.matmul(slopes, displacement)
