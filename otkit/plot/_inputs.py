"""Host copies and checks of the arrays the plots draw."""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy


def _host(x, name: str, expected: str, ndim: int) -> np.ndarray:
    """``x`` as a float64 NumPy array of ``ndim`` dimensions, or an error naming ``name``."""
    if x is None:
        raise TypeError(f"{name} is None, expected {expected} array")
    try:
        host = to_numpy(x)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a numeric {expected} array, got {type(x).__name__}"
        ) from error
    if host.ndim != ndim:
        raise ValueError(f"{name} must be {expected} array, got shape {host.shape}")
    return host


def _points(x, name: str) -> np.ndarray:
    """An (n, 2) array of points in the plane."""
    host = _host(x, name, "an (n, 2)", 2)
    if host.shape[1] != 2:
        raise ValueError(
            f"{name} must be an (n, 2) array of points in the plane, got shape {host.shape}; "
            f"project higher-dimensional samples first (e.g. {name}[:, :2])"
        )
    return host


def _plan(G, name: str, shape: tuple[int, int] | None = None):
    """A finite (n, m) plan of the given shape (NumPy, or scipy.sparse kept as it is)."""
    host = G if hasattr(G, "tocoo") else _host(G, name, "an (n, m)", 2)
    if shape is not None and host.shape != shape:
        raise ValueError(f"{name}.shape == {host.shape}, expected {shape}")
    if not np.all(np.isfinite(host.tocoo().data if hasattr(host, "tocoo") else host)):
        raise ValueError(f"{name} contains NaN or infinite values; a plan must be finite")
    return host


def _segments(xs: np.ndarray, xt: np.ndarray, G, thr: float):
    """Segments xs[i] -> xt[j] and relative weights G_ij / max G for G_ij > thr * max G.

    ``G`` is a NumPy array or a scipy.sparse matrix (only its stored entries are visited)."""
    if hasattr(G, "tocoo"):
        G = G.tocoo()
        G.sum_duplicates()
        rows, cols, values = G.row, G.col, np.asarray(G.data, dtype=np.float64)
    else:
        rows, cols = np.nonzero(G)
        values = G[rows, cols]
    largest = float(values.max()) if values.size else 0.0
    if largest <= 0.0:
        return np.zeros((0, 2, 2)), np.zeros(0)
    keep = values > thr * largest
    return np.stack([xs[rows[keep]], xt[cols[keep]]], axis=1), values[keep] / largest


def _segment_colors(color, weights: np.ndarray, alpha: float) -> np.ndarray:
    """One RGBA row per segment: ``color`` with opacity ``alpha * weights``."""
    from matplotlib.colors import to_rgba

    rgba = np.tile(np.asarray(to_rgba(color)), (weights.size, 1))
    rgba[:, 3] = np.clip(alpha * weights, 0.0, 1.0)
    return rgba


def _check_threshold(thr) -> float:
    if not isinstance(thr, (int, float, np.integer, np.floating)):
        raise TypeError(f"thr must be a number, got {type(thr).__name__}")
    if not (np.isfinite(thr) and thr >= 0):
        raise ValueError(f"thr must be a finite number >= 0, got {thr}")
    return thr
