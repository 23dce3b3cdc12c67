"""The ``.npz`` file of :class:`~otkit.MetaInitializer`: plain arrays, read without pickle.

Keys: ``kind`` (the string ``"otkit.MetaInitializer"``), ``format_version`` (int), ``M``
(float64 (n, m)), ``reg`` (float64), ``hidden_sizes`` (int64 (L,)), ``seed`` (int64),
``loss_history`` (float64 (steps,)) and, for each of the L + 1 layers k, ``W{k}``
(float32 (in, out)) and ``b{k}`` (float32 (out,)), the layer computing ``z @ W + b``.
Every key, shape and dtype is checked on reading, with an error naming the file and the key.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["read_npz", "write_npz"]

KIND = "otkit.MetaInitializer"


def write_npz(path, init, version: int) -> None:
    """Write the fitted ``init`` (built-in MLP) to ``path`` with ``np.savez``."""
    weights = init.weights()
    arrays = {
        "kind": np.array(KIND),
        "format_version": np.array(version, dtype=np.int64),
        "M": np.asarray(init.M, dtype=np.float64),
        "reg": np.array(init.reg, dtype=np.float64),
        "hidden_sizes": np.array(init.hidden_sizes, dtype=np.int64).reshape(-1),
        "seed": np.array(init.seed, dtype=np.int64),
        "loss_history": np.array(init.loss_history_, dtype=np.float64).reshape(-1),
    }
    for k, (W, b) in enumerate(weights):
        arrays[f"W{k}"] = np.asarray(W, dtype=np.float32)
        arrays[f"b{k}"] = np.asarray(b, dtype=np.float32)
    np.savez(path, **arrays)


def _field(data, key, where, *, ndim, kind):
    """``data[key]`` checked for presence, number of dimensions and dtype kind."""
    if key not in data.files:
        raise ValueError(f"{where} has no {key!r} array: not a MetaInitializer file")
    try:
        value = data[key]
    except ValueError as error:  # object arrays need pickle, which is refused
        raise ValueError(f"{where}: {key!r} cannot be read without pickle ({error})") from None
    if value.ndim != ndim:
        raise ValueError(f"{where}: {key!r} has shape {value.shape}, expected {ndim} dimension(s)")
    if value.dtype.kind not in kind:
        names = {"f": "floating", "i": "integer", "u": "integer", "U": "string"}
        wanted = " or ".join(sorted({names[k] for k in kind}))
        raise ValueError(f"{where}: {key!r} has dtype {value.dtype}, expected {wanted}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError(f"{where}: {key!r} contains NaN or infinite values")
    return value


def read_npz(path, version: int) -> dict:
    """The fields of a file written by :func:`write_npz`, checked (ValueError otherwise)."""
    where = f"MetaInitializer file {str(path)!r}"
    with np.load(path, allow_pickle=False) as data:
        kind = _field(data, "kind", where, ndim=0, kind="U")
        if str(kind) != KIND:
            raise ValueError(f"{where} holds {str(kind)!r}, not {KIND!r}")
        found = int(_field(data, "format_version", where, ndim=0, kind="iu"))
        if found != version:
            newer = " (written by a newer otkit)" if found > version else ""
            raise ValueError(f"{where} has format version {found}{newer}; expected {version}")
        M = _field(data, "M", where, ndim=2, kind="f").astype(np.float64)
        reg = float(_field(data, "reg", where, ndim=0, kind="f"))
        if not reg > 0:
            raise ValueError(f"{where}: 'reg' must be > 0, got {reg!r}")
        hidden = _field(data, "hidden_sizes", where, ndim=1, kind="iu")
        if np.any(hidden < 1):
            raise ValueError(f"{where}: 'hidden_sizes' must be positive, got {hidden.tolist()}")
        seed = int(_field(data, "seed", where, ndim=0, kind="iu"))
        history = _field(data, "loss_history", where, ndim=1, kind="f")
        n, m = M.shape
        sizes = [n + m, *(int(h) for h in hidden), n]
        weights = []
        for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            W = _field(data, f"W{k}", where, ndim=2, kind="f")
            b = _field(data, f"b{k}", where, ndim=1, kind="f")
            if W.shape != (fan_in, fan_out) or b.shape != (fan_out,):
                raise ValueError(
                    f"{where}: layer {k} has W{k}.shape == {W.shape} and b{k}.shape == "
                    f"{b.shape}, expected {(fan_in, fan_out)} and {(fan_out,)} for M of shape "
                    f"{M.shape} and hidden_sizes {tuple(sizes[1:-1])}"
                )
            weights.append((W.astype(np.float32), b.astype(np.float32)))
        extra = f"W{len(sizes) - 1}"
        if extra in data.files:
            raise ValueError(f"{where} has more layers than its hidden_sizes ({extra!r})")
    return {
        "M": M,
        "reg": reg,
        "hidden_sizes": tuple(int(h) for h in hidden),
        "seed": seed,
        "loss_history": [float(v) for v in history],
        "weights": weights,
    }
