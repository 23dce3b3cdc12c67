"""Timing helpers shared by ``bench_1d.py`` and ``bench_sliced.py``.

Every library is timed on the same inputs in one process; repeats are interleaved (the
order of the libraries rotates from one repeat to the next) so that a burst of load on the
machine does not fall on one library only. Times are wall-clock medians.
"""

from __future__ import annotations

import shlex
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _report_tools import environment_header, markdown_table

__all__ = ["relative_difference", "time_interleaved", "write_report"]


def time_interleaved(
    calls: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds of each call over ``repeats`` runs, and the value of its last run.

    Each call runs once untimed first (imports, first-call caches), then the timed repeats
    rotate the order of the libraries.
    """
    values = {name: float(call()) for name, call in calls.items()}
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            values[name] = float(calls[name]())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, values


def relative_difference(value: float, reference: float) -> float:
    return abs(value - reference) / abs(reference) if reference else abs(value)


def environment_lines(title: str, script: str, argv: list[str]) -> list[str]:
    """Markdown header: date, machine, versions and the command that reproduces the run."""
    import ot
    import scipy

    import otkit

    versions = {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "POT": getattr(ot, "__version__", "unknown"),
        "otkit": otkit.__version__,
    }
    reproduce = shlex.join(["python", f"benchmarks/{script}", *argv])
    return [*environment_header(title, versions, reproduce), ""]


def write_report(output: Path, title: str, script: str, argv, setup: str, header, rows) -> None:
    """Write the markdown report: environment, setup paragraph, results table."""
    lines = environment_lines(title, script, argv)
    lines += ["## Setup", "", setup, "", "## Results", "", markdown_table(header, rows), ""]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines))
    print(f"wrote {output}")
