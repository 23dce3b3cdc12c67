"""The warnings of :func:`otkit.pairwise`'s blocks: recorded where the blocks run, given to
the caller as one warning per kind at the end of the call.

Every route (the calling thread, joblib's threads or processes, Dask's workers) runs each
task through :func:`call_recording`, which returns the task's warnings with its result:

- otkit's own warnings about a result (a pair that did not converge, a plan not certified)
  are collected per thread (:func:`otkit.utils._warnings.collecting`), before any filter, so that
  none is lost to a worker's once-only registries;
- in a process other than the caller's (loky, a Dask worker) every other warning is recorded
  too (``warnings.showwarning`` routed per thread, so that a Dask worker's other threads
  keep theirs): left there, it would reach the worker's stderr or log, never the caller.

:class:`WarningSummary` then raises, in the caller, one warning per category and text
(numbers aside): the first of them in row order, with how many there were and in which
rows of ``D``. A call of 124,750 pairs that did not converge gives one warning, not
124,750 (or, with Python's default filter, as many as the texts differ), at the caller's
line, where the caller's filters decide (``"error"``: the exception, once the blocks are
computed and stored).
"""

from __future__ import annotations

import os
import re
import threading
import warnings

from ..utils._warnings import collecting

__all__ = ["WarningSummary", "call_recording", "calls_recording"]

_sink = threading.local()
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NAMED = 5


def calls_recording(function, chunk, caller=None):
    """``[(function(task), caught), ...]`` for the tasks of the chunk, ``caught`` the
    task's warnings as (category, text); ``caller``: the pid of the caller of pairwise,
    whose other warnings (not otkit's own) are left to its own machinery."""
    elsewhere = caller is not None and caller != os.getpid()
    if elsewhere:
        _route_warnings()
        # A warning shown once in this worker, by an earlier call, would be hidden by the
        # registries of its 'default' action: forget them (the caller's filters decide).
        getattr(warnings, "_filters_mutated", lambda: None)()
    return [call_recording(function, task, elsewhere) for task in chunk]


def call_recording(function, task, elsewhere=False):
    """``(function(task), caught)``: otkit's warnings, and, ``elsewhere`` (a process other
    than the caller's), every warning shown meanwhile in this thread."""
    with collecting() as caught:
        if not elsewhere:
            return function(task), caught
        _sink.caught = caught
        try:
            result = function(task)
        finally:
            _sink.caught = None
    return result, caught


def _route_warnings():
    """Once per process: ``warnings.showwarning`` sends a thread's warnings to its record
    while it runs :func:`call_recording` elsewhere, every other warning where it went
    before. (``warnings.catch_warnings`` would swap process-wide state from several
    threads.)"""
    shown = warnings.showwarning
    if getattr(shown, "otkit_route", False):
        return

    def route(message, category, filename, lineno, file=None, line=None):
        caught = getattr(_sink, "caught", None)
        if caught is None:
            return shown(message, category, filename, lineno, file, line)
        caught.append((category, str(message)))
        return None

    route.otkit_route = True
    warnings.showwarning = route


class WarningSummary:
    """The warnings of a call's tasks, by where they arose (a row ``i`` of ``D``, or the
    self term of a measure: ``X[k]``), raised again by :meth:`emit` as one warning per
    kind."""

    def __init__(self):
        self.caught = []  # (sort key, row or None, measure or None, category, text)

    def add_row(self, caught, i):
        self.caught.extend(((1, i), i, None, *warning) for warning in caught)

    def add_self_term(self, caught, in_first, k):
        name = f"{'X' if in_first else 'Y'}[{k}]"
        self.caught.extend(((0, not in_first, k), None, name, *warning) for warning in caught)

    def emit(self, stacklevel):
        """Raise the summaries; ``stacklevel`` as :func:`warnings.warn`'s, from the caller of
        this method (pairwise's caller: 2)."""
        kinds = {}
        for key, *found in sorted(self.caught, key=lambda entry: entry[0]):
            category, text = found[2:]
            kinds.setdefault((category, _NUMBER.sub("#", text)), []).append(found)
        self.caught = []
        for (category, _), found in kinds.items():
            warnings.warn(_summary(found), category, stacklevel=stacklevel + 1)


def _summary(found):
    """The first text, with how many there were and where: "[otkit.pairwise: 763 warnings
    like this one, in rows 0, 1, 2, 3, 4 and 34 more; this one in row 0]"."""
    row, measure, _, text = found[0]
    first = f"row {row}" if measure is None else f"the self term of {measure}"
    if len(found) == 1:
        return f"{text} [otkit.pairwise: {first}]"
    places = []
    measures = list(dict.fromkeys(m for _, m, _, _ in found if m is not None))
    if measures:
        places.append(f"the self term{'s' if len(measures) > 1 else ''} of {_listed(measures)}")
    rows = list(dict.fromkeys(str(r) for r, _, _, _ in found if r is not None))
    if rows:
        places.append(f"row{'s' if len(rows) > 1 else ''} {_listed(rows)}")
    numbers = " (the numbers differ)" if len({t for _, _, _, t in found}) > 1 else ""
    return (
        f"{text} [otkit.pairwise: {len(found)} warnings like this one{numbers}, in "
        f"{' and '.join(places)}; this one in {first}]"
    )


def _listed(names):
    shown = ", ".join(names[:_NAMED])
    return shown if len(names) <= _NAMED else f"{shown} and {len(names) - _NAMED} more"
