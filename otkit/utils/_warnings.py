"""otkit's own warnings about a result (a solve that did not converge, a plan that is not
certified), which a caller running many problems can collect instead of showing each.

:func:`warn_collectable` is :func:`warnings.warn` unless the calling thread is inside
:func:`collecting`: then the warning is recorded as ``(category, text)`` and not shown.
:func:`otkit.pairwise` collects the warnings of its thousands of problems this way and
gives one warning per kind at the end of the call, at the caller's line, where the
caller's filters decide (an ``"error"`` filter then turns that one into the exception).
Collection is per thread (a thread-local list), so other threads keep their warnings and
no process-wide state (:func:`warnings.catch_warnings`) is swapped.
"""

from __future__ import annotations

import contextlib
import threading
import warnings

__all__ = ["collecting", "warn_collectable"]

_local = threading.local()


def warn_collectable(message, category=UserWarning, stacklevel: int = 1) -> None:
    """:func:`warnings.warn` (``stacklevel`` counted from the caller of this function), or
    recorded in the list of the calling thread's :func:`collecting`."""
    sink = getattr(_local, "sink", None)
    if sink is None:
        warnings.warn(message, category, stacklevel=stacklevel + 1)
    else:
        sink.append((category, str(message)))


@contextlib.contextmanager
def collecting():
    """Within the block, :func:`warn_collectable` in this thread appends ``(category, text)`` to the
    list yielded instead of showing it (nested blocks: the innermost collects)."""
    outer = getattr(_local, "sink", None)
    _local.sink = caught = []
    try:
        yield caught
    finally:
        _local.sink = outer
