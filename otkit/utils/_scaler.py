"""Feature scaling fitted jointly on several point clouds: DataScaler and apply_scaler."""

from __future__ import annotations

import warnings

from ..backend import get_namespace, is_traced
from ._arguments import as_float, float_dtype_and_device, library_name

__all__ = ["DataScaler", "apply_scaler"]

_NORMS = ("standard", "minmax", "l2")
# Warnings point at the caller of fit, transform or fit_transform: user <- public method <-
# _fit (or _transform <- _transform_one) <- _replace_zeros.
_USER_FRAME = 4


class DataScaler:
    r"""Feature scaling with a scikit-learn-like ``fit`` / ``transform`` API, on any library.

    The statistics are computed on one array or jointly on the rows of several (a list is
    stacked along axis 0), then the same affine map is applied to any array:

    - ``'standard'``: :math:`(x - \mu) / \sigma` per feature, with the mean :math:`\mu` and
      the population standard deviation :math:`\sigma` (``ddof=0``) of the fitted rows;
    - ``'minmax'``: :math:`(x - \min) / (\max - \min)` per feature, so the fitted rows lie in
      :math:`[0, 1]`;
    - ``'l2'``: each row divided by its Euclidean norm (nothing to fit).

    A feature of zero variance or zero range is left unscaled (divided by 1) and a zero row
    is left as it is, each with a :class:`RuntimeWarning`.

    Parameters
    ----------
    norm : {'standard', 'minmax', 'l2'}, default='standard'

    Attributes
    ----------
    norm : str
    mean_, std_ : (d,) arrays or None
        Per-feature mean and standard deviation ('standard', after ``fit``).
    min_, max_ : (d,) arrays or None
        Per-feature minimum and maximum ('minmax', after ``fit``; a zero-range feature has
        ``max_ = min_ + 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.utils import DataScaler
    >>> X_s = np.array([[0.0, 10.0], [2.0, 30.0]])
    >>> X_t = np.array([[4.0, 50.0]])
    >>> scaler = DataScaler("minmax").fit([X_s, X_t])
    >>> scaler.transform(X_t)
    array([[1., 1.]])
    >>> scaler.transform(X_s)
    array([[0. , 0. ],
           [0.5, 0.5]])
    """

    def __init__(self, norm: str = "standard"):
        if norm not in _NORMS:
            raise ValueError(f"Invalid norm {norm!r}: norm must be one of {_NORMS}")
        self.norm = norm
        self.mean_ = None
        self.std_ = None
        self.min_ = None
        self.max_ = None
        self._range = None
        self._xp = None
        self._fitted = False

    def fit(self, X):
        """Compute the statistics on ``X`` (an array, or a list of arrays stacked by rows).

        Parameters
        ----------
        X : (n, d) array or list of (n_k, d) arrays

        Returns
        -------
        self : DataScaler
        """
        return self._fit(X)

    def _fit(self, X):
        xp, rows = _stacked(X)
        self._xp = xp
        if self.norm == "standard":
            self.mean_ = xp.mean(rows, axis=0)
            std = xp.std(rows, axis=0)
            self.std_ = _replace_zeros(
                std, xp, "Zero variance in feature(s)", stacklevel=_USER_FRAME
            )
        elif self.norm == "minmax":
            self.min_ = xp.min(rows, axis=0)
            maximum = xp.max(rows, axis=0)
            spread = maximum - self.min_
            zero = spread == 0
            self._range = _replace_zeros(
                spread, xp, "Zero range in feature(s)", stacklevel=_USER_FRAME
            )
            self.max_ = xp.where(zero, self.min_ + 1.0, maximum)
        self._fitted = True
        return self

    def transform(self, X):
        """Scale ``X`` with the fitted statistics.

        Parameters
        ----------
        X : (n, d) array or list of arrays
            Of the library used by ``fit``.

        Returns
        -------
        X_scaled : array or list of arrays
            A list when ``X`` is a list (or tuple); each in the library, floating dtype and
            device of its input.
        """
        return self._transform(X)

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self._fit(X)._transform(X)

    def _transform(self, X):
        if not self._fitted and self.norm != "l2":
            raise RuntimeError(
                f"this DataScaler(norm={self.norm!r}) must be fitted: call fit() before transform()"
            )
        if not isinstance(X, (list, tuple)):
            return self._transform_one(X)
        scaled = []
        for x in X:  # a loop, not a comprehension: the warnings count frames up to the user
            scaled.append(self._transform_one(x))
        return scaled

    def _transform_one(self, X):
        xp = get_namespace(X=X)
        if self._xp is not None and library_name(xp) != library_name(self._xp):
            raise ValueError(
                f"Backend mismatch: X is a {library_name(xp)} array but this DataScaler "
                f"was fitted on {library_name(self._xp)} arrays"
            )
        dtype, device = float_dtype_and_device(xp, X)
        X = as_float(X, xp, dtype, device)
        _check_matrix(X, "X")
        if self.norm == "standard":
            return (X - self.mean_) / self.std_
        if self.norm == "minmax":
            return (X - self.min_) / self._range
        norms = xp.linalg.vector_norm(X, axis=1, keepdims=True)
        return X / _replace_zeros(norms, xp, "Zero-norm row(s)", stacklevel=_USER_FRAME + 1)

    def __repr__(self) -> str:
        return f"DataScaler(norm={self.norm!r})"


def _stacked(X):
    """Namespace and float rows of one array or of a list of arrays."""
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError("X is an empty list: nothing to fit")
        named = {f"X[{i}]": x for i, x in enumerate(X)}
        xp = get_namespace(**named)
        dtype, device = float_dtype_and_device(xp, *X)
        parts = [as_float(x, xp, dtype, device) for x in X]
        for name, part in zip(named, parts):
            _check_matrix(part, name)
        if len({int(part.shape[1]) for part in parts}) > 1:
            raise ValueError(
                "the arrays of X must have the same number of features, got shapes "
                f"{[tuple(part.shape) for part in parts]}"
            )
        return xp, xp.concat(parts, axis=0)
    xp = get_namespace(X=X)
    dtype, device = float_dtype_and_device(xp, X)
    rows = as_float(X, xp, dtype, device)
    _check_matrix(rows, "X")
    return xp, rows


def _check_matrix(x, name):
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples, features), got {x.shape}")


def _replace_zeros(divisor, xp, what, *, stacklevel):
    """``divisor`` with 1 in place of its zeros, with a warning when there is one."""
    zero = divisor == 0
    if not is_traced(divisor) and bool(xp.any(zero)):
        warnings.warn(f"{what}: left unscaled", RuntimeWarning, stacklevel=stacklevel)
    return xp.where(zero, xp.ones_like(divisor), divisor)


def apply_scaler(X_s, X_t, scaler=None):
    """Apply the same preprocessing to source and target samples.

    Parameters
    ----------
    X_s : (n, d) array
        Source samples.
    X_t : (m, d) array
        Target samples.
    scaler : None, object with a ``transform`` method, or callable, default=None
        None returns the inputs unchanged; an object (such as a fitted :class:`DataScaler`
        or a scikit-learn transformer) gives ``scaler.transform(X)``; a callable gives
        ``scaler(X)``. Nothing is fitted here.

    Returns
    -------
    X_s, X_t : arrays
        The transformed samples.

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.utils import apply_scaler
    >>> apply_scaler(np.array([[1.0]]), np.array([[2.0]]), lambda x: 10 * x)
    (array([[10.]]), array([[20.]]))
    """
    if scaler is None:
        return X_s, X_t
    transform = getattr(scaler, "transform", None)
    if callable(transform):
        return transform(X_s), transform(X_t)
    if callable(scaler):
        return scaler(X_s), scaler(X_t)
    raise ValueError(
        "scaler must be None, an object with a transform() method or a callable, got "
        f"{type(scaler).__name__}"
    )
