"""Checks of the arguments that POT's helpers share: ``nx`` (a backend) and array inputs."""

from __future__ import annotations

import types

import numpy as np

from ..backend import (
    device_of,
    from_numpy,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    result_float_dtype,
)

__all__ = ["as_float", "check_backend", "float_dtype_and_device", "library_name"]


def library_name(xp) -> str:
    """Short name of the library behind namespace ``xp``: 'numpy', 'torch', 'jax', ..."""
    if is_numpy_namespace(xp):
        return "numpy"
    if is_torch_namespace(xp):
        return "torch"
    if is_jax_namespace(xp):
        return "jax"
    return xp.__name__.split(".")[0]


def check_backend(nx, xp, name: str = "nx") -> None:
    """Accept ``nx`` when it names the library that the arrays come from.

    POT passes its backend objects (``ot.backend.get_backend(x)``) around as ``nx``; otkit
    finds the library from the arrays themselves, so such an object (or an array namespace
    module such as ``numpy`` or ``torch``) is accepted when it matches the arrays, and is an
    error otherwise.
    """
    if nx is None:
        return
    if isinstance(nx, types.ModuleType):
        given = library_name(nx)
    else:
        given = getattr(nx, "__name__", None)
        if not isinstance(given, str) or not hasattr(nx, "from_numpy"):
            raise TypeError(
                f"{name} must be None, a POT backend object or an array namespace, "
                f"got {type(nx).__name__}"
            )
    expected = library_name(xp)
    if given != expected:
        raise ValueError(
            f"{name} is the {given!r} backend but the arrays are {expected} arrays; "
            f"leave {name}=None (otkit finds the library from the arrays)"
        )


def float_dtype_and_device(xp, *arrays):
    """Floating result dtype (promoted, or the default float) and device of ``arrays``."""
    device = None
    for x in arrays:
        device = device_of(x)
        if device is not None:
            break
    return result_float_dtype(xp, *arrays, device=device), device


def as_float(x, xp, dtype, device):
    """``x`` as an array of ``xp`` in ``dtype`` (lists and NumPy arrays are moved over)."""
    if isinstance(x, (list, tuple, int, float)) or (
        isinstance(x, np.ndarray) and not is_numpy_namespace(xp)
    ):
        host = np.asarray(x)
        if host.dtype == object:
            raise TypeError("array arguments must be numeric arrays")
        return from_numpy(host.astype(np.float64), xp, dtype=dtype, device=device)
    return x if x.dtype == dtype else xp.astype(x, dtype)
