"""Toy data sets for examples and tests, as POT's ``ot.datasets``.

These are data generators: whatever the library of their arguments, they return NumPy arrays
(float64 samples, integer labels), as POT does; move them to torch or JAX yourself.

Randomness. ``random_state`` is an int (a fresh ``numpy.random.RandomState(seed)``, as POT),
a ``numpy.random.RandomState`` or ``numpy.random.Generator`` (drawn from, so consecutive calls
continue its stream), the module ``numpy.random`` itself (NumPy's global state, on explicit
request only) or None. With an int or a ``RandomState`` the draws are POT 0.9.7's, in the same
order, so the samples equal POT's for the same seed. Deliberate difference: POT draws from
NumPy's global state when ``random_state=None``; otkit then uses a fresh, unseeded
``numpy.random.default_rng()`` and never touches the global state. Scripts that seed with
``np.random.seed(s)`` and rely on POT's default get POT's numbers with
``random_state=np.random``.
"""

from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .backend import to_numpy

__all__ = [
    "DATASETS",
    "get_1D_gauss",
    "get_2D_samples_gauss",
    "get_data_classif",
    "make_1D_gauss",
    "make_2D_samples_gauss",
    "make_data_classif",
    "make_gauss_hd",
]

#: The names ``make_data_classif`` accepts (case-insensitive).
DATASETS = ("3gauss", "3gauss2", "gaussrot", "2gauss_prop")

# Below this peak the direct formula has lost the histogram to underflow (POT returns NaN).
_UNDERFLOW_PEAK = 1e-200


# --- argument checks ------------------------------------------------------------------------


def _integer(value, name: str, minimum: int = 0) -> int:
    """``value`` as a Python int >= ``minimum``, or an error naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def _real(value, name: str, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real scalar (above ``minimum``, strictly if ``strict``), as a Python float."""
    host = _host(value, name)
    if host.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {host.shape}")
    number = float(host)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    if minimum is not None and (number <= minimum if strict else number < minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}, got {number}")
    return number


def _host(value, name: str) -> np.ndarray:
    """``value`` (a number, list or array of any supported library) as a float64 array."""
    try:
        host = to_numpy(value, dtype=None)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"{name} must be a real number or array, got {type(value).__name__}"
        ) from error
    if host.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real-valued, got {type(value).__name__} of {host.dtype}")
    return host.astype(np.float64, copy=False)


def _finite_vector(value, name: str, size: int) -> np.ndarray:
    """A finite real array of shape ``(size,)``."""
    host = _host(value, name)
    if host.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {host.shape}")
    if not np.all(np.isfinite(host)):
        raise ValueError(f"{name} must be finite, got {host}")
    return host


def _random_source(random_state):
    """Where the draws come from: an object with ``standard_normal(size)``.

    An int gives a new ``RandomState`` (POT's stream), None a fresh unseeded ``Generator``;
    generators and the ``numpy.random`` module (global state, explicit opt-in) are used as is.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if random_state is np.random:
        return random_state
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, (int, np.integer)
    ):
        raise TypeError(
            "random_state must be None, an int, a numpy.random.RandomState, a "
            f"numpy.random.Generator or the numpy.random module, got {type(random_state).__name__}"
        )
    if not 0 <= int(random_state) < 2**32:
        raise ValueError(f"random_state must be in [0, 2**32) as a seed, got {random_state}")
    return np.random.RandomState(int(random_state))


# --- 1D histograms --------------------------------------------------------------------------


def make_1D_gauss(n, m, s) -> np.ndarray:
    r"""Histogram of a Gaussian with mean ``m`` and standard deviation ``s`` on ``0, ..., n-1``.

    .. math::
        h_i = \frac{\exp\left(-\frac{(i - m)^2}{2 s^2}\right)}
                   {\sum_{j=0}^{n-1} \exp\left(-\frac{(j - m)^2}{2 s^2}\right)},
        \qquad i = 0, \dots, n - 1,

    the Gaussian density sampled at the integer bins and normalized to sum 1 (not a bin
    integral). When the mean lies so far outside the grid that every term underflows (POT
    then returns NaN), the same ratio is computed stably: the mass goes to the nearest bins.

    Parameters
    ----------
    n : int
        Number of bins, at least 1.
    m : float
        Mean, in bin units (bins are at 0, 1, ..., n-1).
    s : float
        Standard deviation in bin units, > 0.

    Returns
    -------
    h : numpy.ndarray, shape (n,), float64
        Nonnegative weights summing to 1.

    Examples
    --------
    >>> import otkit as ot
    >>> h = ot.datasets.make_1D_gauss(100, m=20, s=5)
    >>> h.shape, round(float(h.sum()), 12), int(h.argmax())
    ((100,), 1.0, 20)
    """
    n = _integer(n, "n", minimum=1)
    m = _real(m, "m")
    s = _real(s, "s", minimum=0.0, strict=True)
    grid = np.arange(n, dtype=np.float64)
    exponent = -((grid - m) ** 2) / (2 * s**2)
    h = np.exp(exponent)
    if not h.max() >= _UNDERFLOW_PEAK:
        h = np.exp(exponent - exponent.max())
    return h / h.sum()


def get_1D_gauss(n, m, sigma) -> np.ndarray:
    """Deprecated alias of :func:`make_1D_gauss` (``sigma`` is its ``s``), as POT's.

    Emits a ``DeprecationWarning``.

    Examples
    --------
    >>> import warnings, otkit as ot
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     h = ot.datasets.get_1D_gauss(10, 4, 1)
    >>> h.shape
    (10,)
    """
    _warn_deprecated("get_1D_gauss", "make_1D_gauss")
    return make_1D_gauss(n, m, sigma)


# --- 2D Gaussian samples --------------------------------------------------------------------


def _covariance_root(sigma) -> tuple[float | None, np.ndarray | None]:
    """(standard deviation, None) for a scalar variance, (None, Σ^{1/2}) for a 2 × 2 Σ."""
    host = _host(sigma, "sigma")
    if host.size == 1 and host.ndim <= 2:
        variance = float(host.reshape(()))
        if not (math.isfinite(variance) and variance >= 0):
            raise ValueError(
                f"sigma as a scalar is a variance and must be finite and >= 0, got {variance}"
            )
        return math.sqrt(variance), None
    if host.shape != (2, 2):
        raise ValueError(
            f"sigma must be a scalar variance or a (2, 2) covariance, got shape {host.shape}"
        )
    if not np.all(np.isfinite(host)):
        raise ValueError("sigma must be finite")
    scale = float(np.abs(host).max())
    if abs(host[0, 1] - host[1, 0]) > 1e-10 * scale:
        raise ValueError(f"sigma must be symmetric, got {host.tolist()}")
    eigenvalues, eigenvectors = np.linalg.eigh(host)
    if eigenvalues[0] < -1e-10 * scale:
        raise ValueError(f"sigma must be positive semidefinite, has eigenvalue {eigenvalues[0]}")
    from scipy.linalg import LinAlgWarning, sqrtm

    # The principal square root, computed as POT does so that the samples match bit for bit;
    # the eigendecomposition gives the same matrix where sqrtm is unsure (singular sigma).
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        try:
            root = sqrtm(host)
        except LinAlgWarning:
            root = None
    if root is None or np.iscomplexobj(root) or not np.all(np.isfinite(root)):
        root = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    return None, root


def make_2D_samples_gauss(n, m, sigma, random_state=None) -> np.ndarray:
    r"""``n`` samples of the Gaussian :math:`\mathcal{N}(m, \Sigma)` in the plane.

    .. math::
        x_k = m + z_k \Sigma^{1/2}, \qquad z_k \sim \mathcal{N}(0, I_2)
        \text{ i.i.d.}, \quad k = 1, \dots, n,

    with :math:`\Sigma^{1/2}` the principal (symmetric) square root. A scalar ``sigma`` is a
    variance: :math:`\Sigma = \sigma I_2`, i.e. :math:`x_k = m + \sqrt{\sigma}\, z_k`.
    The :math:`z_k` are the rows of one ``standard_normal((n, 2))`` draw, as in POT.

    Parameters
    ----------
    n : int
        Number of samples, >= 0.
    m : float or array_like, shape (2,)
        Mean.
    sigma : float or array_like, shape (2, 2)
        Covariance matrix (symmetric positive semidefinite), or a scalar variance >= 0.
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None, default=None
        Source of the draws (see the module docstring). An int gives POT's samples for that
        seed; None a fresh unseeded generator (POT: NumPy's global state).

    Returns
    -------
    X : numpy.ndarray, shape (n, 2), float64
        The samples, one per row.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> X = ot.datasets.make_2D_samples_gauss(500, [0, 0], [[1, -0.8], [-0.8, 1]], random_state=0)
    >>> X.shape, bool(np.cov(X.T)[0, 1] < -0.6)
    ((500, 2), True)
    """
    n = _integer(n, "n")
    mean = _host(m, "m")
    if mean.shape not in ((), (2,)) or not np.all(np.isfinite(mean)):
        raise ValueError(f"m must be a finite scalar or shape (2,) mean, got {np.shape(mean)}")
    std, root = _covariance_root(sigma)
    draws = _random_source(random_state).standard_normal((n, 2))
    if root is None:
        return draws * std + mean
    return draws.dot(root) + mean


def get_2D_samples_gauss(n, m, sigma, random_state=None) -> np.ndarray:
    """Deprecated alias of :func:`make_2D_samples_gauss`, as POT's.

    Emits a ``DeprecationWarning``. Unlike POT's, which drops it, ``random_state`` is used.

    Examples
    --------
    >>> import warnings, otkit as ot
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     X = ot.datasets.get_2D_samples_gauss(5, [0, 0], 1.0, random_state=0)
    >>> X.shape
    (5, 2)
    """
    _warn_deprecated("get_2D_samples_gauss", "make_2D_samples_gauss")
    return make_2D_samples_gauss(n, m, sigma, random_state=random_state)


# --- classification toy sets ---------------------------------------------------------------

# Class means and noise scales (multiples of nz) of the three-class sets.
_THREE_GAUSSIANS = {
    "3gauss": (np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, 0.0]]), (1.5, 1.5, 2.0)),
    "3gauss2": (np.array([[-2.0, -2.0], [-2.0, 2.0], [2.0, 0.0]]), (1.0, 1.0, 2.0)),
}


def make_data_classif(
    dataset, n, nz=0.5, theta=0, p=0.5, random_state=None, *, bias=None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Toy 2D classification data sets of POT's domain-adaptation examples.

    Sample :math:`i = 0, \dots, n-1` gets its class from its index (classes are contiguous
    blocks), then :math:`x_i = \mu_{y_i} + \tau_{y_i} z_i` with :math:`z_i \sim
    \mathcal{N}(0, I_2)` i.i.d. (the rows of one ``standard_normal`` draw, in index order):

    - ``'3gauss'``: :math:`y_i = 1 + \lfloor 3i/n \rfloor \in \{1, 2, 3\}`,
      :math:`\mu = (-1, -1), (-1, 1), (1, 0)`, :math:`\tau = 1.5\,nz, 1.5\,nz, 2\,nz`.
    - ``'3gauss2'`` (a wider target for '3gauss'): the same labels,
      :math:`\mu = (-2, -2), (-2, 2), (2, 0)`, :math:`\tau = nz, nz, 2\,nz`.
    - ``'gaussrot'``: :math:`y_i = 1 + \lfloor 2i/n \rfloor \in \{1, 2\}`,
      :math:`\mu = (-1, 1), (1, -1)`, :math:`\tau = \sqrt{nz}` (here ``nz`` is a variance),
      then every point is rotated by the angle :math:`\theta` (counterclockwise):
      :math:`x_i \leftarrow x_i R_\theta` with rows :math:`R_\theta = ((\cos\theta,
      \sin\theta), (-\sin\theta, \cos\theta))` (the setting of [1]_).
    - ``'2gauss_prop'``: :math:`\lfloor p n \rfloor` points of label 1 then
      :math:`\lfloor (1-p) n \rfloor` of label 0 (as POT: ``n - 1`` points in all when
      :math:`pn` is not a whole number in floating point, e.g. n = 51, p = 0.9), :math:`\mu_1 = (0, -1) + b`, :math:`\mu_0 = (0, 1) + b`,
      :math:`\tau = nz`, with the shift :math:`b` = ``bias`` (the target-shift setting of [2]_).

    Parameters
    ----------
    dataset : {'3gauss', '3gauss2', 'gaussrot', '2gauss_prop'}
        Which set (case-insensitive); see :data:`DATASETS`.
    n : int
        Number of samples, >= 0.
    nz : float, default=0.5
        Noise level >= 0 (a standard deviation factor; a variance for ``'gaussrot'``).
    theta : float, default=0
        Rotation angle in radians (``'gaussrot'`` only).
    p : float, default=0.5
        Proportion of label 1, in [0, 1] (``'2gauss_prop'`` only).
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None, default=None
        Source of the draws (see the module docstring). An int gives POT's data for that seed;
        None a fresh unseeded generator (POT: NumPy's global state).
    bias : array_like, shape (2,), default=(0, 2)
        Shift of both classes (``'2gauss_prop'`` only; POT's ``bias`` keyword).

    Returns
    -------
    X : numpy.ndarray, shape (n, 2), float64
        The points (``n - 1`` rows for ``'2gauss_prop'`` in the case above).
    y : numpy.ndarray, shape (n,), int
        Their labels.

    References
    ----------
    .. [1] M. Perrot, N. Courty, R. Flamary, A. Habrard, "Mapping estimation for discrete
       optimal transport", NeurIPS 2016.
    .. [2] I. Redko, N. Courty, R. Flamary, D. Tuia, "Optimal transport for multi-source
       domain adaptation under target shift", AISTATS 2019.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> X, y = ot.datasets.make_data_classif("3gauss", 150, random_state=0)
    >>> X.shape, np.bincount(y).tolist()
    ((150, 2), [0, 50, 50, 50])
    """
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a str, got {type(dataset).__name__}")
    name = dataset.lower()
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    n = _integer(n, "n")
    nz = _real(nz, "nz", minimum=0.0)
    theta = _real(theta, "theta")
    p = _real(p, "p", minimum=0.0)
    if p > 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    shift = _finite_vector((0.0, 2.0) if bias is None else bias, "bias", 2)
    source = _random_source(random_state)
    index = np.arange(n)

    if name in _THREE_GAUSSIANS:
        centers, scales = _THREE_GAUSSIANS[name]
        y = 1 + (3 * index) // n
        noise = np.array([factor * nz for factor in scales])[y - 1]
        X = centers[y - 1] + noise[:, None] * source.standard_normal((n, 2))
    elif name == "gaussrot":
        y = 1 + (2 * index) // n
        centers = np.array([[-1.0, 1.0], [1.0, -1.0]])
        X = source.standard_normal((n, 2)) * math.sqrt(nz) + centers[y - 1]
        rotation = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
        X = X.dot(rotation)
    else:  # '2gauss_prop'
        n_one, n_zero = int(p * n), int((1 - p) * n)
        y = np.concatenate([np.ones(n_one, dtype=np.int_), np.zeros(n_zero, dtype=np.int_)])
        centers = np.stack([np.zeros(y.shape[0]), 1.0 - 2.0 * y], axis=1)
        X = centers + nz * source.standard_normal((y.shape[0], 2))
        X += shift
    return X, y.astype(np.int_)


def get_data_classif(dataset, n, nz=0.5, theta=0, random_state=None, **kwargs):
    """Deprecated alias of :func:`make_data_classif`, as POT's.

    Emits a ``DeprecationWarning``. Unlike POT's, which replaces them by their defaults,
    ``nz``, ``theta`` and ``random_state`` are used; ``kwargs`` (``p``, ``bias``) pass on.

    Examples
    --------
    >>> import warnings, otkit as ot
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     X, y = ot.datasets.get_data_classif("3gauss", 30, random_state=0)
    >>> X.shape, y.shape
    ((30, 2), (30,))
    """
    _warn_deprecated("get_data_classif", "make_data_classif")
    return make_data_classif(dataset, n, nz=nz, theta=theta, random_state=random_state, **kwargs)


# --- high-dimensional Gaussians -----------------------------------------------------------


def _pair(value, name: str) -> tuple:
    """A pair (source, target) from a pair or, for ``dim``, one integer."""
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (source, target), got {value!r}") from None
    return first, second


def make_gauss_hd(
    ns,
    nt,
    p=100,
    dim=5,
    m_diff=3.0,
    a=(10.0, 15.0),
    b=(3.0, 3.0),
    sub_the_same=False,
    random_state=None,
):
    r"""Source and target samples of two high-dimensional (HD) Gaussians in :math:`\mathbb{R}^p`.

    Each distribution has a principal subspace of dimension :math:`d` with variance :math:`a`
    and isotropic variance :math:`b` outside it, in a random orthonormal basis :math:`Q`
    (Haar distributed, scipy's ``ortho_group``):

    .. math::
        \Sigma = Q \operatorname{diag}(\underbrace{a, \dots, a}_{d},
        \underbrace{b, \dots, b}_{p - d}) Q^\top, \qquad
        X_s \sim \mathcal{N}(0, \Sigma_s), \quad X_t \sim \mathcal{N}(m_{\rm diff}\, e_1,
        \Sigma_t),

    the model of [1]_. Draws, in POT's order: :math:`Q_s`, :math:`Q_t` (drawn even when
    ``sub_the_same``, then replaced by :math:`Q_s`), the source, the target; with POT's
    seed they are POT's numbers (POT draws from NumPy's global state; pass
    ``random_state=np.random`` after ``np.random.seed`` to match such a script).

    Parameters
    ----------
    ns, nt : int
        Numbers of source and target samples, >= 1.
    p : int, default=100
        Ambient dimension, >= 2.
    dim : int or (int, int), default=5
        Intrinsic dimensions :math:`(d_s, d_t)` (one int: both), in [0, p].
    m_diff : float, default=3.0
        First coordinate of the target mean (the source mean is 0).
    a, b : (float, float), default=(10.0, 15.0) and (3.0, 3.0)
        Variances inside and outside the principal subspaces (source, target), > 0.
    sub_the_same : bool, default=False
        Whether both distributions share the principal subspace (:math:`Q_t = Q_s`).
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None, default=None
        Source of the draws (see the module docstring); POT 0.9.7 has no such argument.

    Returns
    -------
    Xs : numpy.ndarray, shape (ns, p), float64
        Source samples.
    Xt : numpy.ndarray, shape (nt, p), float64
        Target samples (POT returns ``ns`` rows here whatever ``nt``).
    params : dict
        The model, with POT's keys: ``ms``, ``mt`` (means, (p,)), ``sigma2_s``,
        ``sigma2_t`` (noise variances b, 0-d arrays), ``ls``, ``lt`` (excess variances
        :math:`a - b` along the principal axes, (d,)), ``Us``, ``Ut`` (orthonormal bases of the
        principal subspaces, (p, d)), ``ds``, ``dt`` (dimensions, shape (1,)), ``Cs``, ``Ct``
        (covariances, (p, p)).

    References
    ----------
    .. [1] C. Bouveyron, M. Corneli, "Scaling optimal transport to high-dimensional Gaussian
       distributions".

    Examples
    --------
    >>> import otkit as ot
    >>> Xs, Xt, params = ot.datasets.make_gauss_hd(20, 30, p=10, dim=2, random_state=0)
    >>> Xs.shape, Xt.shape, params["Us"].shape
    ((20, 10), (30, 10), (10, 2))
    """
    ns = _integer(ns, "ns", minimum=1)
    nt = _integer(nt, "nt", minimum=1)
    p = _integer(p, "p", minimum=2)
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, (bool, np.bool_)):
        dim = (dim, dim)
    dims = tuple(_integer(d, "dim", minimum=0) for d in _pair(dim, "dim"))
    if max(dims) > p:
        raise ValueError(f"dim must be <= p = {p}, got {dims}")
    m_diff = _real(m_diff, "m_diff")
    inner = [_real(v, "a", minimum=0.0, strict=True) for v in _pair(a, "a")]
    outer = [_real(v, "b", minimum=0.0, strict=True) for v in _pair(b, "b")]
    if not isinstance(sub_the_same, (bool, np.bool_)):
        raise TypeError(f"sub_the_same must be a bool, got {type(sub_the_same).__name__}")
    source = _random_source(random_state)
    from scipy.stats import multivariate_normal, ortho_group

    bases = [ortho_group.rvs(p, random_state=source) for _ in range(2)]
    if sub_the_same:
        bases[1] = bases[0]
    means = np.zeros((2, p))
    means[1, 0] = m_diff
    covariances = []
    for basis, d, variance_in, variance_out in zip(bases, dims, inner, outer):
        spectrum = np.concatenate([np.full(d, variance_in), np.full(p - d, variance_out)])
        covariances.append(basis @ np.diag(spectrum) @ basis.T)
    samples = [
        np.reshape(
            multivariate_normal.rvs(mean=mean, cov=cov, size=size, random_state=source),
            (size, p),
        )
        for mean, cov, size in zip(means, covariances, (ns, nt))
    ]
    params = {"ms": means[0], "mt": means[1]}
    params["sigma2_s"], params["sigma2_t"] = np.array(outer[0]), np.array(outer[1])
    params["ls"] = np.full(dims[0], inner[0]) - params["sigma2_s"]
    params["lt"] = np.full(dims[1], inner[1]) - params["sigma2_t"]
    params["Us"], params["Ut"] = bases[0][:, : dims[0]], bases[1][:, : dims[1]]
    params["ds"], params["dt"] = np.array([dims[0]]), np.array([dims[1]])
    params["Cs"], params["Ct"] = covariances
    return samples[0], samples[1], params


def _warn_deprecated(old: str, new: str) -> None:
    """POT's message prefix ("Function <old> is deprecated"), pointing at the caller."""
    warnings.warn(
        f"Function {old} is deprecated; use otkit.datasets.{new} instead",
        DeprecationWarning,
        stacklevel=3,
    )
