"""Machine-readable benchmark summaries, read by ``run_all.py`` to fill README's table.

Each benchmark writes, next to its markdown report ``results/<name>.md``, a JSON file
``results/<name>.json``::

    {"benchmark": "emd", "date": "...", "command": "python benchmarks/bench_emd.py",
     "report": "emd.md",
     "entries": [{"case": "n=500, uniform", "otkit": "otkit", "otkit_seconds": 0.018,
                  "peer": "POT", "peer_seconds": 0.055, "ratio": 0.33}, ...]}

``ratio`` is otkit_seconds / peer_seconds (below 1: otkit is faster); ``otkit`` names the
otkit variant when a benchmark times several (``"otkit numpy"``, ``"otkit torch"``).
"""

from __future__ import annotations

import datetime
import json
import shlex
from pathlib import Path

__all__ = ["entry", "write_summary"]


def entry(case: str, otkit_seconds: float, peer: str, peer_seconds: float, otkit="otkit"):
    """One comparison: otkit (variant ``otkit``) against ``peer`` on ``case``."""
    ratio = otkit_seconds / peer_seconds if peer_seconds > 0 else None
    return {
        "case": case,
        "otkit": otkit,
        "otkit_seconds": float(otkit_seconds),
        "peer": peer,
        "peer_seconds": float(peer_seconds),
        "ratio": ratio,
    }


def write_summary(report: Path, benchmark: str, script: str, argv, entries) -> Path:
    """Write ``report`` with the suffix .json (the markdown report's machine-readable twin)."""
    path = Path(report).with_suffix(".json")
    payload = {
        "benchmark": benchmark,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", f"benchmarks/{script}", *argv]),
        "report": Path(report).name,
        "entries": list(entries),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {path}")
    return path
