"""The backend layer: the only part of otkit that knows about torch or jax.

Algorithms call :func:`get_namespace` once at the public boundary and then use only
array-API standard functions on ``xp`` plus the shims below.  torch and jax are imported
lazily, and only when the caller already passed one of their arrays.
"""

from ._autodiff import call_host
from ._inplace import inplace_ops
from ._namespace import (
    device_of,
    from_numpy,
    get_namespace,
    host_view,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    numpy_namespace,
    result_float_dtype,
    to_numpy,
)
from ._shims import (
    as_generator,
    contiguous,
    exp_outer_sum,
    fori_loop,
    jit,
    logsumexp,
    logsumexp_add,
    random_normal,
    requires_grad,
    stop_gradient,
    while_loop,
    workspace_like,
)

__all__ = [
    "as_generator",
    "call_host",
    "contiguous",
    "device_of",
    "exp_outer_sum",
    "fori_loop",
    "from_numpy",
    "get_namespace",
    "host_view",
    "inplace_ops",
    "is_jax_namespace",
    "is_numpy_namespace",
    "is_torch_namespace",
    "is_traced",
    "jit",
    "logsumexp",
    "logsumexp_add",
    "numpy_namespace",
    "random_normal",
    "requires_grad",
    "result_float_dtype",
    "stop_gradient",
    "to_numpy",
    "while_loop",
    "workspace_like",
]


# POT's ``ot.backend`` module imports the array libraries at its top, and scripts take them
# from there (``from ot.backend import torch``). The same names resolve here, imported only
# when asked for, so importing otkit still never imports torch or jax.
_LIBRARIES = {"torch": "torch", "jax": "jax", "jnp": "jax.numpy", "cp": "cupy", "tf": "tensorflow"}


def __getattr__(name: str):
    if name not in _LIBRARIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        return importlib.import_module(_LIBRARIES[name])
    except ImportError as error:
        raise ImportError(
            f"otkit.backend.{name} is {_LIBRARIES[name]}, which is not installed"
        ) from error
