"""Shared fixtures: one ``xp`` fixture over every backend, a ``dtype`` fixture, helpers.

Tests receive ``xp`` (the array-API namespace) and build inputs with :func:`to_xp`, so a test
is written once and runs on NumPy, array_api_strict, torch (CPU, and CUDA when present) and
jax.numpy (x64 enabled).  A backend that is not installed is skipped with a reason.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

BACKENDS = ["numpy", "array_api_strict", "torch", "jax"]


def _available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _load(name: str):
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp
    if name == "array_api_strict":
        import array_api_strict as xp

        return xp
    if name == "torch":
        import array_api_compat.torch as xp

        return xp
    if name == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as xp

        return xp
    raise ValueError(name)


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    if not _available(request.param):
        pytest.skip(f"{request.param} is not installed")
    return request.param


@pytest.fixture
def xp(backend_name):
    return _load(backend_name)


@pytest.fixture(params=["float32", "float64"])
def dtype_name(request):
    return request.param


def xp_dtype(xp, name: str):
    return getattr(xp, name)


def default_device(xp):
    """CUDA for torch when a GPU is present (exercises the device round trip), else CPU."""
    if xp.__name__.endswith("torch"):
        import torch

        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    return None


def to_xp(xp, array, dtype="float64"):
    """NumPy data as an ``xp`` array of ``dtype`` on the test device."""
    array = np.asarray(array)
    name = xp.__name__
    if name.endswith("torch"):
        import torch

        return torch.as_tensor(array, dtype=getattr(torch, dtype), device=default_device(xp))
    if name.startswith("jax"):
        return xp.asarray(array, dtype=getattr(xp, dtype))
    if name.startswith("array_api_strict"):
        return xp.asarray(array.tolist(), dtype=getattr(xp, dtype))
    return np.asarray(array, dtype=dtype)


def to_np(x) -> np.ndarray:
    """Any backend's array as a float64 NumPy array (for comparisons)."""
    from otkit.backend import to_numpy

    return to_numpy(x)


def is_backend(xp, name: str) -> bool:
    return name in xp.__name__


def assert_same_backend(result, like):
    """``result`` has the library, dtype and device of ``like``."""
    import array_api_compat

    assert array_api_compat.array_namespace(result) is array_api_compat.array_namespace(like)
    assert result.dtype == like.dtype, (result.dtype, like.dtype)
    assert array_api_compat.device(result) == array_api_compat.device(like)


def rtol_for(dtype: str) -> float:
    """Tolerance for comparing float32/float64 results with a float64 oracle: a few hundred
    ulps, as the solvers accumulate O(n) rounding steps."""
    return 300 * float(np.finfo(dtype).eps)


def property_settings(fast_examples: int, long_examples: int):
    """Hypothesis settings of a property test: ``fast_examples`` in CI, ``long_examples`` when
    ``HYPOTHESIS_PROFILE=long`` (local runs); no deadline (first calls compile)."""
    import os

    from hypothesis import HealthCheck, settings

    long = os.environ.get("HYPOTHESIS_PROFILE") == "long"
    return settings(
        max_examples=long_examples if long else fast_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def longest_stall(call) -> float:
    """Run ``call()`` in a thread while this one stamps the time (one stamp a millisecond
    at most); returns the longest gap between stamps within the call as a fraction of the
    call (a call that held the GIL would stop the stamps for all of it: 1)."""
    import threading
    import time

    span = []

    def run():
        start = time.perf_counter()
        call()
        span.extend([start, time.perf_counter()])

    worker = threading.Thread(target=run)
    stamps = [time.perf_counter()]
    worker.start()
    while worker.is_alive():
        now = time.perf_counter()
        if now - stamps[-1] > 1e-3:
            stamps.append(now)
    worker.join()
    start, stop = span
    edges = [start, *(t for t in stamps if start < t < stop), stop]
    return float(np.max(np.diff(edges))) / (stop - start)


def every_other_uncertified(solve, not_certified):
    """``solve`` (a batch kernel returning values, status, pivots) with every other pair
    marked ``not_certified`` (its value -1), to exercise its caller's fallback."""

    def failing(*args, **kwargs):
        values, status, pivots = solve(*args, **kwargs)
        values[::2] = -1.0
        status[::2] = not_certified
        return values, status, pivots

    return failing
