"""Arguments of :func:`otkit.pairwise`: the two collections of measures, checked once for all
pairs, and the output array with the blocks of work still to do."""

from __future__ import annotations

import numpy as np

from .._boundary import input_float_dtype
from .._validation import check_equal_mass, mass_tolerance
from ..backend import (
    device_of,
    from_numpy,
    get_namespace,
    is_traced,
    result_float_dtype,
    to_numpy,
)
from ..bregman._divergence_pairs import cloud
from ..utils import dist

__all__ = [
    "check_clouds",
    "check_n_jobs",
    "check_used",
    "collection",
    "cost_symmetries",
    "divergence_clouds",
    "histogram_inputs",
    "host_copies",
    "mirror_upper_triangle",
    "namespace",
    "output",
    "pending_blocks",
]


def check_n_jobs(n_jobs):
    if n_jobs is None:
        return None
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)):
        raise TypeError(f"n_jobs must be an int or None, got {type(n_jobs).__name__}")
    if n_jobs == 0:
        raise ValueError("n_jobs must be a positive int, -1 (all cores) or None, got 0")
    return int(n_jobs)


class _Measures:
    """A collection: ``kind`` 'histograms' (``weights`` an (N, n) array) or 'clouds'
    (``points`` and ``weights`` lists; a weight None is uniform)."""

    def __init__(self, kind, points, weights, name):
        self.kind, self.points, self.weights, self.name = kind, points, weights, name
        self.size = weights.shape[0] if kind == "histograms" else len(points)
        self._host = None

    def host(self):
        """(points, weights) lists as float64 NumPy arrays (weights uniform when None)."""
        if self._host is None:
            points = [to_numpy(x) for x in self.points]
            weights = [
                np.full(x.shape[0], 1.0 / x.shape[0]) if w is None else to_numpy(w)
                for x, w in zip(points, self.weights)
            ]
            self._host = points, weights
        return self._host


def collection(C, name):
    if hasattr(C, "ndim") and hasattr(C, "shape"):
        if C.ndim != 2:
            raise ValueError(
                f"{name} must be an (N, n) array of histograms or a sequence of point clouds, "
                f"got an array of shape {tuple(C.shape)}"
            )
        if C.shape[0] == 0 or C.shape[1] == 0:
            raise ValueError(f"{name} is empty (shape {tuple(C.shape)})")
        return _Measures("histograms", None, C, name)
    if not isinstance(C, (list, tuple)):
        raise TypeError(
            f"{name} must be an (N, n) array of histograms or a list of point clouds, "
            f"got {type(C).__name__}"
        )
    if len(C) == 0:
        raise ValueError(f"{name} is an empty collection")
    points, weights = [], []
    for k, item in enumerate(C):
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(f"{name}[{k}] must be points or a (points, weights) pair")
            x, w = item
        else:
            x, w = item, None
        x = x if hasattr(x, "ndim") else np.asarray(x, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(
                f"{name}[{k}] must be a non-empty (n, d) array of points, got shape "
                f"{tuple(x.shape)}"
            )
        if w is not None:
            w = w if hasattr(w, "ndim") else np.asarray(w, dtype=np.float64)
            if tuple(w.shape) != (x.shape[0],):
                raise ValueError(
                    f"weights of {name}[{k}] must have shape ({x.shape[0]},), got {tuple(w.shape)}"
                )
        points.append(x)
        weights.append(w)
    return _Measures("clouds", points, weights, name)


def _on_cpu(x):
    """Whether ``x`` is a NumPy array, or a torch or JAX array on the CPU (not bfloat16:
    its rounding sets the checks' tolerances, which the library's own path keeps; traced
    arrays were refused by :func:`namespace`)."""
    if x is None or isinstance(x, np.ndarray):
        return True
    if "bfloat16" in str(x.dtype):
        return False
    device = device_of(x)
    return getattr(device, "type", getattr(device, "platform", None)) == "cpu"


def host_copies(first, second, M, support):
    """The inputs as NumPy arrays in their dtypes, when every array is on the CPU (else
    None): ``pairwise`` then computes with NumPy and returns in the caller's library.  Its
    values are not differentiable on any library, and per pair torch's and JAX's paths
    cost more than NumPy's: JAX compiles a pair's problem again for every new pair of
    shapes (eight clouds of 20 to 60 points: 'sinkhorn' 40.8 s, 'sliced' 12.1 s against
    otkit's loops, with the compilations already made, of 0.12 s and 0.03 s), and torch's
    batched Sinkhorn on histograms is the log-domain loop (40 digits: 1.40 s against
    0.05 s)."""
    arrays = [M, support]
    for measures in (first, second):
        if measures.kind == "histograms":
            arrays.append(measures.weights)
        else:
            arrays += measures.points + [w for w in measures.weights if w is not None]
    if not all(_on_cpu(x) for x in arrays):
        return None

    def host(x):
        return None if x is None else to_numpy(x, None)

    def copy(measures):
        if measures.kind == "histograms":
            return _Measures("histograms", None, host(measures.weights), measures.name)
        points = [host(x) for x in measures.points]
        return _Measures("clouds", points, [host(w) for w in measures.weights], measures.name)

    first_host = copy(first)
    second_host = first_host if second is first else copy(second)
    return first_host, second_host, host(M), host(support)


def namespace(first, second, M, support):
    named = {"M": M, "support": support}
    for measures in (first, second):
        if measures.kind == "histograms":
            named[measures.name] = measures.weights
        else:
            named.update({f"{measures.name}[{k}]": x for k, x in enumerate(measures.points)})
    xp = get_namespace(**named)
    arrays = [v for v in named.values() if v is not None]
    traced = next((k for k, v in named.items() if v is not None and is_traced(v)), None)
    if traced is not None:
        raise TypeError(
            f"{traced} is traced (jax.jit, vmap or grad): pairwise runs its blocks on the host "
            "and its values carry no gradient; call it outside the transformation, or the "
            "method's own function on each pair to differentiate"
        )
    like = first.weights if first.kind == "histograms" else first.points[0]
    return xp, result_float_dtype(xp, *arrays), device_of(like)


def _check_weights(H, name, reference_mass, tolerance):
    """Rows of H (host float64): finite, non-negative, of positive mass equal to the
    reference (the first row of X) to ``tolerance``; an error names the first bad row."""
    bad = np.flatnonzero(~np.all(np.isfinite(H) & (H >= 0), axis=1))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] has negative, NaN or infinite weights")
    masses = H.sum(axis=1)
    bad = np.flatnonzero(masses <= 0)
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] has zero total mass")
    reference = masses[0] if reference_mass is None else reference_mass
    bad = np.flatnonzero(np.abs(masses - reference) > tolerance * reference)
    if bad.size:
        raise ValueError(
            f"{name}[{bad[0]}] has mass {masses[bad[0]]:.9g}, but the histograms must all have "
            f"the same mass ({reference:.9g}): normalise them"
        )
    return reference


def histogram_inputs(first, second, M, support, method, metric, p, xp):
    """Check histograms (once for all pairs); the cost ``M`` and, where the method needs
    points, the collections as weighted clouds on ``support``."""
    n, n2 = first.weights.shape[1], second.weights.shape[1]
    host = to_numpy(first.weights)
    tolerance = mass_tolerance(input_float_dtype(first.weights, second.weights), max(n, n2))
    mass = _check_weights(host, first.name, None, tolerance)
    first.host_weights = host
    if second is not first:
        second.host_weights = to_numpy(second.weights)
        _check_weights(second.host_weights, second.name, mass, tolerance)
    if support is not None:
        support = support[:, None] if support.ndim == 1 else support
        if support.ndim != 2 or support.shape[0] != n or n2 != n:
            raise ValueError(
                f"support must be an (n, d) array with n = {n}, the bins of X and Y, got shape "
                f"{tuple(support.shape)} (Y has {n2} bins)"
            )
    if method in ("exact", "sinkhorn"):
        if M is None:
            if support is None:
                raise ValueError(f"method={method!r} on histograms needs M (or support)")
            M = dist(support, support, metric=metric, p=p)
        if tuple(M.shape) != (n, n2):
            raise ValueError(
                f"M.shape == {tuple(M.shape)}, expected ({n}, {n2}) to match the bins of X and Y"
            )
        if not np.all(np.isfinite(to_numpy(M))):
            raise ValueError("M contains NaN or infinite values; all entries must be finite")
        return M, first, second
    if support is None:
        raise ValueError(
            f"method={method!r} needs the points of the histograms' support: pass support="
        )
    clouds = []
    for measures in (first, second) if second is not first else (first,):
        points, weights = [], []
        for k, row in enumerate(measures.host_weights):
            # zero-weight bins change no measure: a cloud of the others
            keep = from_numpy(np.flatnonzero(row > 0), xp, device=device_of(support))
            points.append(xp.take(support, keep, axis=0))
            weights.append(xp.take(measures.weights[k, :], keep, axis=0))
        clouds.append(_Measures("clouds", points, weights, measures.name))
    return None, clouds[0], clouds[-1]


def check_used(method, kind, M, support, metric, p):
    """A ``ValueError`` for ``M``, ``support``, ``metric`` or ``p`` given where ``method``
    on ``kind`` ('histograms' or 'clouds') does not use it (never silently ignored: a ``p=1``
    meant as W_1 would otherwise give W_2^2)."""
    takes_cost = kind == "histograms" and method in ("exact", "sinkhorn")
    if M is not None and kind == "clouds":
        raise ValueError(
            "M is a cost between the bins of histograms, but X is a sequence of point clouds "
            "(whose costs come from metric); histograms are one (N, n) array: pass "
            "np.asarray(X) if they are nested lists"
        )
    if M is not None and not takes_cost:
        raise ValueError(
            f"M is only for method 'exact' or 'sinkhorn', not {method!r}: pass the "
            "histograms' support= instead"
        )
    if M is not None and support is not None:
        raise ValueError(
            "pass M or support (which gives M = dist(support, support, metric)), not both"
        )
    uses_metric = method in ("exact", "sinkhorn", "sinkhorn_divergence") and M is None
    if metric != "sqeuclidean" and not uses_metric:
        raise ValueError(
            f"metric={metric!r} is not used by method={method!r}"
            + (
                " with M given (M is the cost)"
                if M is not None
                else " (its ground cost is Euclidean)"
            )
        )
    uses_p = method in ("sliced", "1d", "sinkhorn_divergence") or (
        uses_metric and metric == "minkowski"
    )
    if p != 2 and not uses_p:
        raise ValueError(
            f"p={p!r} is not used by method={method!r}"
            + (f" with metric={metric!r}" if uses_metric else "")
            + (
                ": for W_1 pass metric='euclidean' (the value is W_p^p of the metric's cost)"
                if method == "exact"
                else ""
            )
        )


def check_clouds(first, second, method):
    d = first.points[0].shape[1]
    for measures in (first, second) if second is not first else (first,):
        for k, x in enumerate(measures.points):
            if x.shape[1] != d:
                raise ValueError(
                    f"{measures.name}[{k}] has points of dimension {x.shape[1]}, "
                    f"{first.name}[0] of dimension {d}: all supports must share their dimension"
                )
        for k, (x, w) in enumerate(zip(*measures.host())):
            if not np.all(np.isfinite(x)):
                raise ValueError(f"{measures.name}[{k}] has NaN or infinite points")
            if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
                raise ValueError(
                    f"weights of {measures.name}[{k}] must be finite, non-negative, of "
                    "positive mass"
                )
    if method == "1d" and d != 1:
        raise ValueError(f"method='1d' needs points on the line (d = 1), got d = {d}")
    if method != "gaussian":
        _check_cloud_masses(first, second)


def _check_cloud_masses(first, second):
    """Every pair of measures of the same mass, to the tolerance of the methods' functions
    (1e-6 relative in float64, as each pair's check): a pair's test is monotone in the two
    masses, so the lightest of one collection against the heaviest of the other fail if
    any pair does; the error names them.  ('gaussian' compares the normalised fits.)"""
    sides = (first, second) if second is not first else (first, first)
    masses = [np.array([float(np.sum(w)) for w in m.host()[1]]) for m in sides]
    weights = [w for m in sides for w in m.weights if w is not None]
    tolerance = mass_tolerance(
        input_float_dtype(*weights) if weights else np.float64,
        max(x.shape[0] for m in sides for x in m.points),
    )
    for low in (0, 1):
        i, j = int(np.argmin(masses[low])), int(np.argmax(masses[1 - low]))
        check_equal_mass(
            masses[low][i],
            masses[1 - low][j],
            tolerance,
            names=(f"{sides[low].name}[{i}]", f"{sides[1 - low].name}[{j}]"),
            remedy="normalise the weights: the measures must all have the same mass",
        )


def divergence_clouds(first, second):
    """The clouds of 'sinkhorn_divergence' prepared once (:func:`otkit.bregman.
    _divergence_pairs.cloud`) when every point and weight array is a float64 NumPy array,
    else None (each pair then goes through :func:`otkit.sinkhorn_divergence`).

    (The masses were checked by :func:`check_clouds`, or as histograms.)
    """
    prepared = []
    for measures in (first, second) if second is not first else (first,):
        arrays = [*measures.points, *(w for w in measures.weights if w is not None)]
        if not all(type(v) is np.ndarray and v.dtype == np.float64 for v in arrays):
            return None
        prepared.append([cloud(x, w) for x, w in zip(measures.points, measures.weights)])
    return prepared[0], prepared[-1]


def output(out, shape):
    if out is None:
        return np.full(shape, np.nan)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array (e.g. a numpy.memmap), got {type(out)}")
    if out.shape != shape:
        raise ValueError(f"out.shape == {out.shape}, expected {shape}")
    if not np.issubdtype(out.dtype, np.floating):
        raise ValueError(
            f"out must have a floating dtype (NaN marks what to compute), got {out.dtype}"
        )
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    return out


def cost_symmetries(M):
    """Whether the histograms' cost ``M`` makes OT(X_i, X_j) = OT(X_j, X_i) (``M``
    symmetric), and OT(X_i, X_i) = 0 as well (zero diagonal, no negative entry: the identity
    plan costs 0 and no plan less).  A symmetric call computes what these allow it to skip,
    and everything else.  Both to 64 ulps of max |M| (:func:`otkit.dist`'s rounding leaves
    up to ~3 there): an OT value moves by at most max |M - M'| times the mass when M
    becomes M', so a mirrored or zeroed entry is off by no more than that."""
    C = to_numpy(M)
    scale = float(np.max(np.abs(C))) if C.size else 0.0
    tol = 64.0 * float(np.finfo(C.dtype).eps) * scale if C.dtype.kind == "f" else 0.0
    mirror = C.shape[0] == C.shape[1] and bool(np.max(np.abs(C - C.T), initial=0.0) <= tol)
    zero = mirror and bool(np.max(np.abs(np.diagonal(C)), initial=0.0) <= tol)
    return mirror, zero and bool(np.min(C, initial=0.0) >= -tol)


def mirror_upper_triangle(buffer):
    """Lower entries still NaN take their mirror (rows of a resumed job filled elsewhere)."""
    for i in range(1, buffer.shape[0]):
        empty = np.flatnonzero(np.isnan(buffer[i, :i]))
        if empty.size:
            buffer[i, empty] = buffer[empty, i]
    if hasattr(buffer, "flush"):
        buffer.flush()


def pending_blocks(buffer, symmetric, zero_diagonal):
    """(row, its columns, the columns still NaN) for every row with work left."""
    n_rows, n_cols = buffer.shape
    blocks = []
    for i in range(n_rows):
        start = i + 1 if zero_diagonal else i if symmetric else 0
        cols = np.arange(start, n_cols)
        need = cols[np.isnan(buffer[i, start:])]
        if need.size:
            blocks.append((i, cols, need))
    return blocks
