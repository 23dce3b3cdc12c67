"""Small helpers of the benchmark reports: the machine (CPU model, load), memory readings,
markdown tables. Shared by the ``bench_*.py`` scripts."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import sys

__all__ = [
    "cpu_model", "environment_header", "format_load", "load_average", "markdown_table", "max_rss_mib",
    "proc_status_mib",
]  # fmt: skip


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS reports bytes.
    divisor = 1024.0**2 if sys.platform == "darwin" else 1024.0
    return peak / divisor


def proc_status_mib(field_name: str) -> float | None:
    """A ``/proc/self/status`` memory field (e.g. ``VmRSS``, ``VmHWM``) in MiB; None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, falling back to ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_load(load: tuple[float, float, float] | None) -> str:
    """The load averages as ``a, b, c`` (``unknown`` where the platform has none)."""
    return "unknown" if load is None else ", ".join(f"{value:.1f}" for value in load)


def load_average() -> tuple[float, float, float] | None:
    """``os.getloadavg()``, or None where it is not available."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def environment_header(title: str, versions: dict[str, str], reproduce: str) -> list[str]:
    """The first lines of a report: its title, the date, the machine, the library versions
    and the command that reproduces it."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"# {title}",
        "",
        f"- Date: {now}",
        f"- Platform: {platform.platform()}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"- Python: {platform.python_version()}",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()),
        f"- Reproduce: `{reproduce}`",
    ]
