"""The report of ``bench_emd.py``: console rows, the markdown file (environment, timing and
memory tables, method notes)."""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING

import numpy as np
from _report_tools import environment_header, format_load, markdown_table

if TYPE_CHECKING:
    from bench_emd import CaseResult

LIBRARIES = ("otkit", "pot")
LIBRARY_LABELS = {"otkit": "otkit", "pot": "POT"}

__all__ = [
    "LIBRARIES", "LIBRARY_LABELS", "baseline_caveats", "format_timing_header",
    "format_timing_row", "render_markdown", "safe_ratio",
]  # fmt: skip


def format_result_codes(codes: set[int]) -> str:
    return ",".join(str(code) for code in sorted(codes))


TIMING_COLUMNS = (
    "n",
    "cloud",
    "weights",
    "repeats",
    "otkit median (s)",
    "POT median (s)",
    "otkit / POT",
    "CPU otkit / POT",
    "otkit code",
    "POT code",
    "rel. cost diff",
)


def timing_row_cells(case: CaseResult) -> list[str]:
    return [
        str(case.n),
        case.cloud,
        case.weights,
        str(case.repeats),
        f"{case.median('otkit'):.4f}",
        f"{case.median('pot'):.4f}",
        f"{case.time_ratio:.3f}",
        f"{case.cpu_ratio:.3f}",
        format_result_codes(case.result_codes["otkit"]),
        format_result_codes(case.result_codes["pot"]),
        f"{case.relative_cost_difference:.1e}",
    ]


def format_timing_header() -> str:
    return "  ".join(f"{column:>16}" for column in TIMING_COLUMNS)


def format_timing_row(case: CaseResult) -> str:
    return "  ".join(f"{cell:>16}" for cell in timing_row_cells(case))


def format_optional_mib(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "n/a"


def safe_ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.3f}" if denominator > 0 else "n/a"


def reproduce_command(argv: list[str]) -> str:
    """The command line that reproduces the report (the ``--note`` text left out)."""
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == "--note":
            skip = True
        elif not argument.startswith("--note="):
            kept.append(argument)
    return shlex.join(["python", "benchmarks/bench_emd.py", *kept])


def library_versions() -> dict[str, str]:
    """Versions of NumPy, POT and otkit as reported by the packages themselves."""
    import ot

    import otkit

    return {
        "numpy": np.__version__,
        "POT": getattr(ot, "__version__", "unknown"),
        "otkit": getattr(otkit, "__version__", "unknown"),
    }


def baseline_caveats(measurement: dict, tolerance_mib: float = 8.0) -> list[str]:
    """Reasons why the child's baseline ``ru_maxrss`` may hide part of the solve's usage.

    * the baseline exceeds the child's own peak (``VmHWM``): the high-water mark
      was carried over from the parent process;
    * the baseline exceeds the current RSS (``VmRSS``): earlier temporaries left
      headroom that the solve can fill without raising the peak.
    """
    caveats = []
    peak = measurement["baseline_peak_mib"]
    own_peak = measurement.get("baseline_own_peak_mib")
    current = measurement.get("baseline_current_mib")
    if own_peak is not None and peak > own_peak + tolerance_mib:
        caveats.append(
            f"baseline ru_maxrss {peak:.1f} MiB was inherited from the parent "
            f"(own peak {own_peak:.1f} MiB); the increase is underestimated"
        )
    if current is not None and peak > current + tolerance_mib:
        caveats.append(
            f"baseline ru_maxrss {peak:.1f} MiB exceeds the RSS at baseline ({current:.1f} MiB); "
            f"up to {peak - current:.1f} MiB of the solve's usage may be hidden"
        )
    return caveats


def render_markdown(
    cases: list[CaseResult],
    memory: dict[str, dict] | None,
    args,
    argv: list[str],
    n_clusters: int,
) -> str:
    """Assemble the markdown report: environment, timing table, memory table, method notes."""
    parts = [
        *environment_header(
            "Exact OT (`emd2`): otkit vs POT", library_versions(), reproduce_command(argv)
        ),
        (
            f"- Load average (1, 5, 15 min) at start / end: {format_load(args.load_start)} / "
            f"{format_load(args.load_end)} on {os.cpu_count()} logical CPUs"
        ),
        "",
        *([args.note, ""] if args.note else []),
        "## Setup",
        "",
        (
            "2-D point clouds, n = m: `gaussian`, source points ~ N(0, I) and target points ~ "
            f"N((1, 1), I), drawn with `numpy.random.default_rng([{args.seed}, n])`; `uniform`, "
            "both uniform on [0, 1]^2; `clustered`, a mixture of "
            f"{n_clusters} Gaussian clusters (standard deviation 0.3, centres ~ 3 N(0, I), each "
            "point's cluster drawn uniformly, independently for the two clouds); the last two "
            f"drawn with `numpy.random.default_rng([{args.seed}, n, k])` (k = 1, 2). "
            "`M` is the squared Euclidean cost, "
            "computed once with NumPy (C-contiguous float64); the same array is passed to both "
            "libraries. Weights are uniform, or random (`rng.random(n)` normalised to sum 1, drawn "
            "independently for `a` and `b`). Both libraries are called as "
            f"`emd2(a, b, M, numItermax={args.num_iter_max}, log=True)` with all other options at "
            "their defaults, after a warm-up call on a tiny problem. Repeats are interleaved, "
            "alternating which library goes first. Times are wall-clock medians of the `emd2` call "
            "only (input construction excluded); `CPU otkit / POT` is the ratio of the medians of "
            "`time.process_time()` over the same calls (less sensitive to other processes on a "
            "shared machine). `code` is `log['result_code']` (1 = optimal). "
            "`rel. cost diff` is `|cost_otkit - cost_POT| / |cost_POT|`. The ratio otkit / POT is "
            "below 1 when otkit is faster."
        ),
        "",
        "## Time",
        "",
        markdown_table(TIMING_COLUMNS, [timing_row_cells(case) for case in cases]),
        "",
    ]
    notes = [
        f"n={case.n} {case.cloud} {case.weights}: {note}" for case in cases for note in case.notes
    ]
    if notes:
        parts += ["Warnings / notes during the timed runs:", ""]
        parts += [f"- {note}" for note in notes]
        parts.append("")
    if memory is not None:
        otkit_mem, pot_mem = memory["otkit"], memory["pot"]
        memory_rows = []
        for library in LIBRARIES:
            m = memory[library]
            memory_rows.append(
                [
                    LIBRARY_LABELS[library],
                    format_optional_mib(m["baseline_current_mib"]),
                    format_optional_mib(m.get("baseline_own_peak_mib")),
                    f"{m['baseline_peak_mib']:.1f}",
                    f"{m['final_peak_mib']:.1f}",
                    f"**{m['increase_mib']:.1f}**",
                    f"{m['seconds']:.2f}",
                    str(m["result_code"]),
                ]
            )
        caveats = [
            f"{LIBRARY_LABELS[library]}: {caveat}"
            for library in LIBRARIES
            for caveat in baseline_caveats(memory[library])
        ]
        parts += [
            f"## Peak memory (n = m = {otkit_mem['n']}, {otkit_mem['weights']} weights)",
            "",
            (
                "Each library is measured in its own fresh subprocess "
                f"(`python benchmarks/bench_emd.py --memory-child LIBRARY {otkit_mem['n']}`), because "
                "`ru_maxrss` is a process-wide high-water mark that never goes down. The child imports "
                "the library and warms it up on a tiny problem (so that import-time transients happen "
                "while the process is still small), builds the inputs (the cost matrix alone is "
                f"{otkit_mem['cost_matrix_mib']:.1f} MiB; it is built in small row blocks so that "
                "building it needs no large temporary) and calls `gc.collect()`; then it reads "
                "`resource.getrusage(RUSAGE_SELF).ru_maxrss` "
                "(baseline), runs one `emd2` solve and reads it again. The increase is the extra peak "
                "resident memory needed by the solve on top of the already-allocated inputs "
                "(it includes the solver's temporaries and its outputs, e.g. a dense plan if one is "
                "built). Two checks guard the baseline: the current RSS (`VmRSS`) should be close to "
                "the baseline peak (otherwise earlier temporaries raised the high-water mark and would "
                "hide part of the solve's usage), and the child's own peak (`VmHWM`, which starts "
                "afresh at `execve`) should equal `ru_maxrss` (on Linux `ru_maxrss` survives "
                "`fork`/`execve`, so a child can start with its parent's high-water mark; this is why "
                "the memory children are spawned before the parent imports either library or runs "
                "any solve). Baselines differ between the libraries mainly because of import "
                "footprints (`import ot` also imports any installed torch / JAX backends)."
            ),
            "",
            markdown_table(
                (
                    "library",
                    "RSS at baseline (MiB)",
                    "own peak `VmHWM` at baseline (MiB)",
                    "`ru_maxrss` baseline (MiB)",
                    "`ru_maxrss` after solve (MiB)",
                    "increase (MiB)",
                    "solve time (s)",
                    "code",
                ),
                memory_rows,
            ),
            "",
        ]
        if caveats:
            parts += ["**Warnings about the baselines:**", ""]
            parts += [f"- {caveat}" for caveat in caveats]
            parts.append("")
        parts += [
            (
                "Memory increase ratio otkit / POT: "
                f"**{safe_ratio(otkit_mem['increase_mib'], pot_mem['increase_mib'])}**."
            ),
            "",
        ]
    parts += [
        "## Ratios (otkit time / POT time)",
        "",
        markdown_table(
            ("n", "cloud", *(f"{kind}" for kind in args.weights)),
            [
                [str(n), cloud]
                + [
                    f"{case.time_ratio:.3f}"
                    for kind in args.weights
                    for case in cases
                    if case.n == n and case.weights == kind and case.cloud == cloud
                ]
                for n in args.sizes
                for cloud in args.clouds
            ],
        ),
        "",
    ]
    return "\n".join(parts)
