"""Public-boundary preparation shared by the solvers: namespace, dtype, device, shapes.

``prepare_problem`` turns the user's ``(a, b, M)`` (arrays of any supported library, lists,
empty weights) into arrays of one namespace with one floating dtype on one device, and checks
their shapes.  Value checks (finiteness, signs, masses) live in :mod:`otkit._validation` and
run where values are known (eagerly, or on the host under ``jax.jit``).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_ndim, check_nonnegative_weights, check_not_empty, check_sums_to_one
from .backend import (
    device_of,
    from_numpy,
    get_namespace,
    is_numpy_namespace,
    is_traced,
    result_float_dtype,
    to_numpy,
)

__all__ = [
    "as_backend",
    "check_barycentric_weights",
    "input_float_dtype",
    "prepare_problem",
    "warmstart_rows",
    "weights_or_uniform",
]


def prepare_problem(a, b, M, potentials_init, b_ndims=(1,)):
    """Namespace, dtype, device and shape checks of a transport problem ``(a, b, M)``.

    Returns ``(xp, dtype, device, a, b, M, potentials)`` with empty weights replaced by
    uniform ones and ``potentials_init`` (a pair ``(u, v)`` or None) converted alike.
    """
    u0, v0 = (None, None) if potentials_init is None else _unpack_potentials(potentials_init)
    xp = get_namespace(M=M, a=a, b=b, potentials_init_u=u0, potentials_init_v=v0)
    if isinstance(M, (list, tuple)):
        M = np.asarray(M)
    # Device and dtype come from the arrays of xp's library (NumPy weights beside a torch/JAX
    # cost, and lists, follow the cost).
    device = next((device_of(x) for x in (M, a, b) if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, M, a, b, device=device)
    M = as_backend(M, xp, dtype, device)
    check_ndim(M, "M", 2)
    check_not_empty(M, "M")
    n, m = int(M.shape[0]), int(M.shape[1])
    a = weights_or_uniform(a, n, xp, dtype, device)
    b = weights_or_uniform(b, m, xp, dtype, device)
    check_ndim(a, "a", 1)
    check_ndim(b, "b", b_ndims)
    if a.shape[0] != n:
        raise ValueError(f"a.shape == {tuple(a.shape)}, expected ({n},) to match M.shape[0]")
    if b.shape[0] != m:
        expected = f"({m},)" if b.ndim == 1 else f"({m}, k)"
        raise ValueError(f"b.shape == {tuple(b.shape)}, expected {expected} to match M.shape[1]")
    if b.ndim == 2 and b.shape[1] == 0:
        raise ValueError("b has shape (m, 0): no histogram to transport")
    potentials = None
    if potentials_init is not None:
        potentials = (as_backend(u0, xp, dtype, device), as_backend(v0, xp, dtype, device))
        if tuple(potentials[0].shape) != (n,) or tuple(potentials[1].shape) != (m,):
            raise ValueError(
                f"potentials_init must be a pair of arrays of shapes ({n},) and ({m},), "
                f"got {tuple(potentials[0].shape)} and {tuple(potentials[1].shape)}"
            )
    return xp, dtype, device, a, b, M, potentials


def _unpack_potentials(potentials_init):
    try:
        u0, v0 = potentials_init
    except (TypeError, ValueError):
        raise ValueError("potentials_init must be a pair (u, v) of dual potentials") from None
    return u0, v0


def as_backend(x, xp, dtype, device):
    if type(x) is np.ndarray and is_numpy_namespace(xp) and x.dtype == dtype:
        return x  # what the general path below returns for it, in fewer steps
    if isinstance(x, (list, tuple, np.ndarray)) or np.isscalar(x):
        host = np.asarray(x)
        if host.dtype == object:
            raise TypeError("array arguments must be numeric arrays")
        return from_numpy(
            host.astype(np.float64) if host.dtype.kind in "biu" else host,
            xp,
            dtype=dtype,
            device=device,
        )
    return x if x.dtype == dtype else xp.astype(x, dtype)


def weights_or_uniform(w, size, xp, dtype, device):
    if w is None or (isinstance(w, (list, tuple)) and len(w) == 0):
        return xp.full((size,), 1.0 / size, dtype=dtype, device=device)
    w = as_backend(w, xp, dtype, device)
    if w.ndim == 1 and w.shape[0] == 0:
        return xp.full((size,), 1.0 / size, dtype=dtype, device=device)
    return w


def input_float_dtype(*arrays):
    """NumPy dtype of the least precise floating input (sets the mass tolerance); bfloat16,
    which NumPy lacks, counts as float16 (the least precise NumPy float)."""
    dtypes = []
    for x in arrays:
        dt = getattr(x, "dtype", None)
        if dt is None:
            continue
        if not isinstance(dt, np.dtype):  # torch.float32, jax's dtypes: parse the name
            name = str(dt).rsplit(".", 1)[-1]
            try:
                dt = np.dtype("float16" if name == "bfloat16" else name)
            except TypeError:
                continue
        if dt.kind == "f":
            dtypes.append(dt)
    if not dtypes:
        return np.dtype(np.float64)
    if all(dt == dtypes[0] for dt in dtypes):
        return dtypes[0]  # max below keeps the first of equals
    return max(dtypes, key=lambda d: np.finfo(d).eps)


def warmstart_rows(warmstart, n, m, k, xp, dtype, device, pair_names):
    """The first array of a warm-start pair as an (n, k) array (k problems share a 1-D one).

    ``warmstart`` must be a pair of arrays of shapes (n,), (m,) (or (n, k), (m, k));
    ``pair_names`` names the pair in the error message (e.g. "(log_u, log_v) or (f, g)").
    """
    try:
        first, second = warmstart
    except (TypeError, ValueError):
        raise ValueError(f"warmstart must be a pair {pair_names}") from None
    first = as_backend(first, xp, dtype, device)
    second = as_backend(second, xp, dtype, device)
    if first.shape[0] != n or second.shape[0] != m or first.ndim not in (1, 2):
        raise ValueError(
            f"warmstart arrays must have shapes ({n},) and ({m},) (or (n, k), (m, k) for a 2-D "
            f"b); got {tuple(first.shape)} and {tuple(second.shape)}"
        )
    if first.ndim == 1:
        first = xp.broadcast_to(first[:, None], (n, k))
    return first


def check_barycentric_weights(weights, n_hists, xp, dtype, device):
    """(N,) weights in ``xp``: uniform when None; shape, sign and sum checked eagerly."""
    if weights is None:
        return xp.full((n_hists,), 1.0 / n_hists, dtype=dtype, device=device)
    w = as_backend(weights, xp, dtype, device)
    if tuple(w.shape) != (n_hists,):
        raise ValueError(
            f"weights.shape == {tuple(w.shape)}, expected ({n_hists},) to match the number of "
            "histograms"
        )
    if not is_traced(w):
        w_np = to_numpy(w)
        check_nonnegative_weights(w_np, "weights")
        check_sums_to_one(w_np, "weights", input_float_dtype(w))
    return w
