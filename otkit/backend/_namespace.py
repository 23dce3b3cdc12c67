"""Namespace detection, dtypes and the host bridge to and from NumPy.

Nothing here imports torch or jax: frameworks are recognised through ``sys.modules`` (by
array-api-compat), so a framework that the caller has not imported is never loaded.
"""

from __future__ import annotations

import sys

import array_api_compat
import numpy as np

__all__ = [
    "device_of",
    "from_numpy",
    "get_namespace",
    "is_jax_namespace",
    "is_numpy_namespace",
    "is_torch_namespace",
    "is_traced",
    "numpy_namespace",
    "result_float_dtype",
    "to_numpy",
]

_PASSIVE_TYPES = (list, tuple, int, float)
_FLOAT64 = np.dtype(np.float64)
# Per-class caches (the answers depend on the class only): whether instances are arrays, and
# their namespace. Small problems call the public functions thousands of times; asking
# array-api-compat anew costs microseconds per argument.
_IS_ARRAY_BY_TYPE: dict[type, bool] = {}
_NAMESPACE_BY_TYPE: dict[type, object] = {}
_NUMPY_NAMESPACE = []  # [array-api-compat's NumPy namespace], filled on first use


def _is_array(x) -> bool:
    """True for arrays of any library; lists, tuples, Python scalars and None are not."""
    kind = type(x)
    known = _IS_ARRAY_BY_TYPE.get(kind)
    if known is None:
        known = (
            x is not None
            and not isinstance(x, _PASSIVE_TYPES)
            and array_api_compat.is_array_api_obj(x)
        )
        _IS_ARRAY_BY_TYPE[kind] = known
    return known


def _namespace_of(x):
    """array-api-compat's namespace of the array ``x``, cached per class."""
    kind = type(x)
    namespace = _NAMESPACE_BY_TYPE.get(kind)
    if namespace is None:
        namespace = _NAMESPACE_BY_TYPE[kind] = array_api_compat.array_namespace(x)
    return namespace


def numpy_namespace():
    """array-api-compat's NumPy namespace (what :func:`get_namespace` gives for NumPy input)."""
    if not _NUMPY_NAMESPACE:
        _NUMPY_NAMESPACE.append(array_api_compat.array_namespace(np.empty(0)))
    return _NUMPY_NAMESPACE[0]


def get_namespace(**named):
    """Array namespace shared by the named arguments.

    Lists, tuples, Python scalars and ``None`` take the namespace of the others. A NumPy array
    may accompany arrays of another library only as a *weight* argument (names listed in
    ``_MOVABLE``): it is moved to the other library. Any other mixture is a ``TypeError``
    naming the arguments.

    Parameters
    ----------
    **named : array_like
        The arguments, by name, as the user passed them.

    Returns
    -------
    xp : module
        The array-API-compatible namespace (NumPy when no argument is an array).
    """
    for value in named.values():
        if type(value) is np.ndarray:
            dtype = value.dtype
            if dtype is not _FLOAT64 and dtype.kind == "c":
                _complex(next(k for k, v in named.items() if v is value))
        elif not (value is None or isinstance(value, _PASSIVE_TYPES)):
            break
    else:  # NumPy arrays, lists, scalars and None only: the common case, decided at once
        return numpy_namespace()
    by_name = {}
    for name, value in named.items():
        if _is_array(value):
            by_name[name] = _namespace_of(value)
            if "complex" in str(value.dtype):
                _complex(name)
        elif type(value).__module__.startswith("scipy.sparse"):
            raise TypeError(
                f"argument {name!r} is a scipy.sparse matrix: pass a dense array (only "
                "emd and emd2 take a sparse cost M)"
            )
    non_numpy = {k: v for k, v in by_name.items() if not is_numpy_namespace(v)}
    if not non_numpy:
        return numpy_namespace()
    names = list(non_numpy)
    first = non_numpy[names[0]]
    for name in names[1:]:
        if non_numpy[name] is not first:
            raise TypeError(
                f"arguments {names[0]!r} and {name!r} come from different array libraries "
                f"({_library(named[names[0]])} and {_library(named[name])}); "
                "convert them to one library"
            )
    for name, ns in by_name.items():
        if is_numpy_namespace(ns) and name not in _MOVABLE:
            raise TypeError(
                f"argument {name!r} is a NumPy array while {names[0]!r} is a "
                f"{_library(named[names[0]])} array; convert them to one library"
            )
    return first


def _complex(name):
    raise TypeError(
        f"argument {name!r} has a complex dtype: OT takes real weights, costs and points "
        "(NumPy's cast would drop the imaginary part)"
    )


# Weight vectors may be given as NumPy arrays next to a torch/JAX cost: they carry no
# gradient the caller could expect to flow, and moving them is cheap and safe.
_MOVABLE = frozenset({"a", "b", "u_weights", "v_weights", "weights", "w"})


def _library(x) -> str:
    """Short name of the library of ``x``, for error messages."""
    module = type(x).__module__.split(".")[0]
    return {"jaxlib": "jax", "builtins": "Python"}.get(module, module)


def is_numpy_namespace(xp) -> bool:
    """True when ``xp`` is NumPy's namespace (plain or array-api-compat wrapped)."""
    return array_api_compat.is_numpy_namespace(xp)


def is_torch_namespace(xp) -> bool:
    """True when ``xp`` is PyTorch's namespace (plain or array-api-compat wrapped)."""
    return array_api_compat.is_torch_namespace(xp)


def is_jax_namespace(xp) -> bool:
    """True when ``xp`` is JAX's namespace (plain or array-api-compat wrapped)."""
    return array_api_compat.is_jax_namespace(xp)


def is_traced(*arrays) -> bool:
    """True when one of ``arrays`` is a JAX tracer (inside ``jit``, ``grad``, ``vmap``)."""
    if "jax" not in sys.modules:
        return False
    if not _TRACER:
        import jax

        _TRACER.append(jax.core.Tracer)
    tracer = _TRACER[0]
    return any(isinstance(x, tracer) for x in arrays)


_TRACER = []  # [jax.core.Tracer], looked up once (the attribute lookup costs microseconds)


def device_of(x):
    """Device of an array (``None`` for lists and NumPy arrays)."""
    if type(x) is np.ndarray or not _is_array(x) or array_api_compat.is_numpy_array(x):
        # NumPy's 'cpu' is no device of another library (a NumPy weight beside a traced
        # JAX cost must follow the cost's device)
        return None
    return array_api_compat.device(x)


def result_float_dtype(xp, *arrays, device=None):
    """Floating dtype of a result computed in namespace ``xp``.

    The promoted dtype of the floating arrays of ``xp`` among ``arrays``, or ``xp``'s default
    floating dtype on ``device`` when there is none (integer or boolean arrays, lists). NumPy
    arrays beside arrays of another library (weights that :func:`get_namespace` lets through)
    do not take part: they follow the dtype of the others.
    """
    foreign_numpy = not is_numpy_namespace(xp)
    floats = []
    for x in arrays:
        if type(x) is np.ndarray and not foreign_numpy:
            if x.dtype.kind == "f":  # NumPy's real floating dtypes, without asking xp.isdtype
                floats.append(x.dtype)
        elif (
            _is_array(x)
            and not (foreign_numpy and array_api_compat.is_numpy_array(x))
            and xp.isdtype(x.dtype, "real floating")
        ):
            floats.append(x.dtype)
    if floats:
        return xp.result_type(*floats)
    info = xp.__array_namespace_info__()
    return info.default_dtypes(device=device)["real floating"]


def to_numpy(x, dtype=np.float64) -> np.ndarray:
    """``x`` on the host as a NumPy array, without a copy where the library allows one.

    Parameters
    ----------
    x : array or array_like
        An array of any supported library (torch tensors are detached and moved to the CPU),
        a list or a scalar.
    dtype : NumPy dtype or None, default=numpy.float64
        Dtype of the result; ``None`` keeps the dtype of ``x`` (torch's bfloat16, which
        NumPy lacks, gives float32, which holds it exactly).

    Returns
    -------
    host : numpy.ndarray
        May share memory with ``x``: copy it before writing to it.
    """
    if type(x) is np.ndarray:
        return np.asarray(x, dtype=dtype)
    if array_api_compat.is_torch_array(x):
        x = x.detach().cpu().resolve_conj()
        if x.dtype == sys.modules["torch"].bfloat16:
            x = x.float()
        x = x.numpy()
    elif _is_array(x) and not (
        array_api_compat.is_numpy_array(x) or array_api_compat.is_jax_array(x)
    ):
        try:
            x = np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError, AttributeError):
            pass  # np.asarray below goes through __array__ or the buffer protocol instead
    return np.asarray(x, dtype=dtype)


def host_view(x):
    """A NumPy array sharing memory with ``x``, or None where there is none to share.

    NumPy arrays are returned as they are; CPU torch tensors that autograd does not record
    give ``x.numpy()`` (no copy); anything else (GPU tensors, JAX arrays, tensors that
    require a gradient) gives None. Lets host kernels run on CPU tensors without a copy.
    """
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_torch_array(x) and x.device.type == "cpu" and not x.requires_grad:
        return x.resolve_conj().numpy()
    return None


def from_numpy(array: np.ndarray, xp, dtype=None, device=None):
    """Move a host array into namespace ``xp``.

    Parameters
    ----------
    array : numpy.ndarray
        Host data (not modified).
    xp : module
        Target namespace, as returned by :func:`get_namespace`.
    dtype : dtype of ``xp``, optional
        Dtype of the result; ``None`` keeps the dtype of ``array``.
    device : device of ``xp``, optional
        Device of the result; ``None`` is the library's default device.

    Returns
    -------
    out : array of ``xp``
        May share memory with ``array`` on the CPU.
    """
    if is_numpy_namespace(xp):
        return np.asarray(array, dtype=dtype)
    if is_torch_namespace(xp):
        import torch

        array = np.asarray(array)
        if not array.flags.writeable:
            # torch warns on read-only buffers (views of JAX arrays, broadcasts): copy instead.
            array = array.copy()
        return torch.as_tensor(array, dtype=dtype, device=device)
    if is_jax_namespace(xp):
        import jax

        out = xp.asarray(array, dtype=dtype)
        return jax.device_put(out, device) if device is not None else out
    return xp.asarray(array, dtype=dtype, device=device)
