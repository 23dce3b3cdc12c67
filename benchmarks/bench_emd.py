"""Benchmark otkit's exact OT solver against POT's on the same inputs.

Both ``otkit.emd2`` and POT's ``ot.emd2`` are called on identical arrays: 2-D
point clouds (``--clouds``: ``gaussian``, source ``N(0, I)`` and target
``N((1, 1), I)``; ``uniform`` on ``[0, 1]^2``; ``clustered``, a mixture of 10
Gaussian clusters of standard deviation 0.3 around centres ``3 N(0, I)``, each
point's cluster drawn uniformly, independently for source and target), the
squared Euclidean cost matrix ``M`` (computed once with NumPy, C-contiguous
float64, the same array object handed to both libraries) and either uniform or
random weights (``rng.random(n)`` normalised to sum to one).

For every size, cloud and weight type the script records the median wall-clock
time of ``emd2`` over a few repeats, the ratio ``otkit_time / pot_time``, the
ratio of the median CPU times (``time.process_time``: less sensitive to other
processes on a shared machine), the ``result_code`` returned in each library's
log (1 means optimal) and the relative difference between the two optimal costs.

Peak memory is measured separately, one fresh subprocess per library, because
``ru_maxrss`` is a process-wide high-water mark that never decreases. The child
imports the library and warms it up on a tiny problem, builds the inputs,
records ``ru_maxrss`` (the baseline), solves once and records ``ru_maxrss``
again; the reported figure is the increase of the peak during the solve.

Usage
-----
Full run (writes ``benchmarks/results/emd.md``)::

    python benchmarks/bench_emd.py

Quick smoke run (writes ``benchmarks/results/emd_quick.md``)::

    python benchmarks/bench_emd.py --quick

Custom run::

    python benchmarks/bench_emd.py --sizes 500 1000 --repeats 3 --memory-size 2000
    python benchmarks/bench_emd.py --sizes 2000 5000 --clouds gaussian uniform clustered

Notes
-----
POT (``pip install pot``) is a benchmark-only dependency of otkit.
Timings are wall-clock and depend on machine load; nothing here asserts on them.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _summary import entry, write_summary

BENCHMARK_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARK_DIR / "results"

DEFAULT_SIZES = (500, 1000, 2000, 4000, 5000)
QUICK_SIZES = (500, 1000)
WEIGHT_KINDS = ("uniform", "random")
CLOUD_KINDS = ("gaussian", "uniform", "clustered")
N_CLUSTERS = 10
LIBRARIES = ("otkit", "pot")
LIBRARY_LABELS = {"otkit": "otkit", "pot": "POT"}
DEFAULT_NUM_ITER_MAX = 10**8
DEFAULT_MEMORY_SIZE = 5000
QUICK_MEMORY_SIZE = 1000
# Rows of the cost matrix computed at a time, so that building M never needs a
# temporary as large as M itself (which would inflate the memory baseline).
COST_CHUNK_ROWS = 64


# ----------------------------------------------------------------------------
# Problem construction
# ----------------------------------------------------------------------------


@dataclass
class Problem:
    """One OT problem: weights ``a`` (n,), ``b`` (m,) and cost ``M`` (n, m)."""

    n: int
    weights: str
    a: np.ndarray
    b: np.ndarray
    M: np.ndarray
    cloud: str = "gaussian"


def sample_gaussian_clouds(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Draw ``n`` source points from N(0, I) and ``n`` target points from N((1, 1), I) in 2-D.

    The generator is seeded with ``(seed, n)`` so each size has its own
    reproducible stream; it is returned so that the weights are drawn from it too.
    """
    rng = np.random.default_rng([seed, n])
    source = rng.standard_normal((n, 2))
    target = rng.standard_normal((n, 2)) + np.array([1.0, 1.0])
    return source, target, rng


def sample_clouds(
    n: int, seed: int, cloud: str
) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Source and target clouds of ``n`` 2-D points of the given kind (see the module
    docstring); the Gaussian clouds are those of :func:`sample_gaussian_clouds`."""
    if cloud == "gaussian":
        return sample_gaussian_clouds(n, seed)
    rng = np.random.default_rng([seed, n, CLOUD_KINDS.index(cloud)])
    if cloud == "uniform":
        return rng.random((n, 2)), rng.random((n, 2)), rng
    if cloud == "clustered":
        centres = 3.0 * rng.standard_normal((N_CLUSTERS, 2))
        source = centres[rng.integers(0, N_CLUSTERS, n)] + 0.3 * rng.standard_normal((n, 2))
        target = centres[rng.integers(0, N_CLUSTERS, n)] + 0.3 * rng.standard_normal((n, 2))
        return source, target, rng
    raise ValueError(f"unknown cloud kind {cloud!r}")


def squared_euclidean_cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the C-contiguous float64 matrix ``M[i, j] = ||x_i - y_j||^2``.

    Computed as a sum of squared coordinate differences (exact, never negative),
    a block of rows at a time and mostly in place, so that building ``M`` needs
    only a small temporary on top of ``M`` itself.
    """
    cost = np.empty((x.shape[0], y.shape[0]), dtype=np.float64, order="C")
    for start in range(0, x.shape[0], COST_CHUNK_ROWS):
        rows = cost[start : start + COST_CHUNK_ROWS]
        x_block = x[start : start + COST_CHUNK_ROWS]
        np.subtract.outer(x_block[:, 0], y[:, 0], out=rows)
        np.square(rows, out=rows)
        for dim in range(1, x.shape[1]):
            difference = np.subtract.outer(x_block[:, dim], y[:, dim])
            rows += np.square(difference, out=difference)
    return cost


def make_weights(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform weights, or random positive weights (``rng.random`` normalised to sum 1)."""
    if kind == "uniform":
        return np.full(size, 1.0 / size)
    if kind == "random":
        weights = rng.random(size)
        return weights / weights.sum()
    raise ValueError(f"unknown weight kind {kind!r}")


def build_problem(n: int, weights: str, seed: int, cloud: str = "gaussian") -> Problem:
    """Build the n x n problem between clouds of the given kind with the requested weights."""
    source, target, rng = sample_clouds(n, seed, cloud)
    M = squared_euclidean_cost(source, target)
    a = make_weights(weights, n, rng)
    b = make_weights(weights, n, rng)
    return Problem(n=n, weights=weights, a=a, b=b, M=M, cloud=cloud)


# ----------------------------------------------------------------------------
# Solvers
# ----------------------------------------------------------------------------


def load_solver(library: str):
    """Import ``library`` ("otkit" or "pot") and return its ``emd2`` function."""
    if library == "otkit":
        import otkit

        return otkit.emd2
    if library == "pot":
        import ot

        return ot.emd2
    raise ValueError(f"unknown library {library!r}")


def library_versions() -> dict[str, str]:
    """Versions of NumPy, POT and otkit as reported by the packages themselves."""
    import ot

    import otkit

    return {
        "numpy": np.__version__,
        "POT": getattr(ot, "__version__", "unknown"),
        "otkit": getattr(otkit, "__version__", "unknown"),
    }


@dataclass
class SolveOutcome:
    """Cost, result code, solver warning, wall and CPU time of one ``emd2`` call."""

    cost: float
    result_code: int
    log_warning: str | None
    seconds: float
    cpu_seconds: float
    python_warnings: list[str] = field(default_factory=list)


def solve_once(solver, problem: Problem, num_iter_max: int) -> SolveOutcome:
    """Time one ``emd2(a, b, M, numItermax=..., log=True)`` call, capturing warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start, cpu_start = time.perf_counter(), time.process_time()
        cost, log = solver(problem.a, problem.b, problem.M, numItermax=num_iter_max, log=True)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    return SolveOutcome(
        cost=float(cost),
        result_code=int(log["result_code"]),
        log_warning=log.get("warning"),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        python_warnings=[f"{w.category.__name__}: {w.message}" for w in caught],
    )


def warm_up(solver, num_iter_max: int) -> None:
    """Run ``solver`` on a tiny problem so lazy imports and first-call costs are paid."""
    tiny = build_problem(8, "uniform", seed=12345)
    solve_once(solver, tiny, num_iter_max)


# ----------------------------------------------------------------------------
# Timing benchmark
# ----------------------------------------------------------------------------


@dataclass
class CaseResult:
    """Timings and agreement check of both libraries on one (n, cloud, weights) case."""

    n: int
    weights: str
    repeats: int
    times: dict[str, list[float]]
    costs: dict[str, float]
    result_codes: dict[str, set[int]]
    notes: list[str]
    cpu_times: dict[str, list[float]] = field(default_factory=dict)
    cloud: str = "gaussian"

    def median(self, library: str) -> float:
        return statistics.median(self.times[library])

    def cpu_median(self, library: str) -> float:
        return statistics.median(self.cpu_times[library])

    @property
    def time_ratio(self) -> float:
        return self.median("otkit") / self.median("pot")

    @property
    def cpu_ratio(self) -> float:
        return self.cpu_median("otkit") / self.cpu_median("pot")

    @property
    def relative_cost_difference(self) -> float:
        reference = abs(self.costs["pot"])
        difference = abs(self.costs["otkit"] - self.costs["pot"])
        return difference / reference if reference > 0 else difference


def repeats_for_size(n: int, override: int | None) -> int:
    """Number of timed repeats: ``override`` if given, else 5 up to n=2000 and 3 above."""
    if override is not None:
        return override
    return 5 if n <= 2000 else 3


def benchmark_case(solvers: dict, problem: Problem, repeats: int, num_iter_max: int) -> CaseResult:
    """Time both libraries on ``problem``; repeats are interleaved, alternating who goes first."""
    times = {library: [] for library in solvers}
    cpu_times = {library: [] for library in solvers}
    costs: dict[str, float] = {}
    result_codes = {library: set() for library in solvers}
    notes: list[str] = []
    order = list(solvers)
    for repeat in range(repeats):
        for library in order if repeat % 2 == 0 else order[::-1]:
            outcome = solve_once(solvers[library], problem, num_iter_max)
            times[library].append(outcome.seconds)
            cpu_times[library].append(outcome.cpu_seconds)
            result_codes[library].add(outcome.result_code)
            messages = [outcome.log_warning, *outcome.python_warnings]
            if library in costs and outcome.cost != costs[library]:
                messages.append("cost changed between repeats")
            costs[library] = outcome.cost
            for message in messages:
                note = f"{library}: {message}"
                if message and note not in notes:
                    notes.append(note)
    return CaseResult(
        problem.n,
        problem.weights,
        repeats,
        times,
        costs,
        result_codes,
        notes,
        cpu_times=cpu_times,
        cloud=problem.cloud,
    )


def run_timing_benchmark(
    sizes, weight_kinds, repeats_override, num_iter_max, seed, clouds=("gaussian",)
) -> list[CaseResult]:
    """Run every (size, cloud, weight kind) case, printing one table row as each finishes."""
    solvers = {library: load_solver(library) for library in LIBRARIES}
    for solver in solvers.values():
        warm_up(solver, num_iter_max)
    print(format_timing_header())
    results = []
    for n in sizes:
        for cloud, weights in [(c, w) for c in clouds for w in weight_kinds]:
            problem = build_problem(n, weights, seed, cloud)
            case = benchmark_case(
                solvers, problem, repeats_for_size(n, repeats_override), num_iter_max
            )
            results.append(case)
            print(format_timing_row(case), flush=True)
            del problem
            gc.collect()
    return results


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


# ----------------------------------------------------------------------------
# Peak-memory benchmark (one fresh subprocess per library)
# ----------------------------------------------------------------------------


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


def measure_memory_in_this_process(
    library: str, n: int, weights: str, seed: int, num_iter_max: int
) -> dict:
    """Body of the memory child: baseline peak RSS, one solve, peak RSS again."""
    # Import and warm up first, while the process is small, so that transient
    # allocations of the import cannot raise the high-water mark above the baseline.
    solver = load_solver(library)
    warm_up(solver, num_iter_max)
    problem = build_problem(n, weights, seed)
    gc.collect()
    baseline_peak = max_rss_mib()
    baseline_current = proc_status_mib("VmRSS")
    # VmHWM is the peak of this process image only; ru_maxrss can also carry the
    # parent's peak across fork/exec, which would hide the solve's allocations.
    baseline_own_peak = proc_status_mib("VmHWM")
    outcome = solve_once(solver, problem, num_iter_max)
    final_peak = max_rss_mib()
    return {
        "library": library,
        "n": n,
        "weights": weights,
        "cost_matrix_mib": problem.M.nbytes / 1024.0**2,
        "baseline_peak_mib": baseline_peak,
        "baseline_current_mib": baseline_current,
        "baseline_own_peak_mib": baseline_own_peak,
        "final_peak_mib": final_peak,
        "increase_mib": final_peak - baseline_peak,
        "seconds": outcome.seconds,
        "cost": outcome.cost,
        "result_code": outcome.result_code,
    }


def measure_memory_in_subprocess(
    library: str, n: int, weights: str, seed: int, num_iter_max: int
) -> dict:
    """Run this script as ``--memory-child LIBRARY N`` in a fresh interpreter and parse its JSON."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        library,
        str(n),
        "--memory-weights",
        weights,
        "--seed",
        str(seed),
        "--num-iter-max",
        str(num_iter_max),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    if completed.stderr.strip():
        print(completed.stderr.strip(), file=sys.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


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


def run_memory_benchmark(n: int, weights: str, seed: int, num_iter_max: int) -> dict[str, dict]:
    """Peak-memory increase of each library's solve, each in its own subprocess."""
    measurements = {}
    for library in LIBRARIES:
        measurements[library] = measure_memory_in_subprocess(
            library, n, weights, seed, num_iter_max
        )
        m = measurements[library]
        for caveat in baseline_caveats(m):
            print(f"warning: {library} memory child: {caveat}", file=sys.stderr)
        print(
            f"memory n={n} {weights:>7} {library:>5}: "
            f"baseline peak {m['baseline_peak_mib']:.1f} MiB, "
            f"peak after solve {m['final_peak_mib']:.1f} MiB, increase {m['increase_mib']:.1f} MiB",
            flush=True,
        )
    return measurements


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


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


def format_load(load: tuple[float, float, float] | None) -> str:
    """The load averages as ``a, b, c`` (``unknown`` where the platform has none)."""
    return "unknown" if load is None else ", ".join(f"{value:.1f}" for value in load)


def load_average() -> tuple[float, float, float] | None:
    """``os.getloadavg()``, or None where it is not available."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def render_markdown(
    cases: list[CaseResult], memory: dict[str, dict] | None, args, argv: list[str]
) -> str:
    """Assemble the markdown report: environment, timing table, memory table, method notes."""
    versions = library_versions()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Exact OT (`emd2`): otkit vs POT",
        "",
        f"- Date: {now}",
        f"- Platform: {platform.platform()}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"- Python: {platform.python_version()}",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()),
        f"- Reproduce: `{reproduce_command(argv)}`",
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
            f"{N_CLUSTERS} Gaussian clusters (standard deviation 0.3, centres ~ 3 N(0, I), each "
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


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare otkit.emd2 with POT's ot.emd2 (time, agreement, peak memory)."
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="problem sizes n = m")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per case (default: 5 for n <= 2000, 3 above)",
    )
    parser.add_argument(
        "--weights",
        nargs="+",
        choices=WEIGHT_KINDS,
        default=list(WEIGHT_KINDS),
        help="weight kinds",
    )
    parser.add_argument(
        "--clouds",
        nargs="+",
        choices=CLOUD_KINDS,
        default=["gaussian"],
        help="point clouds (default: gaussian)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run (n = 500, 1000; 2 repeats)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-iter-max", type=int, default=DEFAULT_NUM_ITER_MAX)
    parser.add_argument(
        "--memory-size",
        type=int,
        default=None,
        help=f"n for the memory run (default {DEFAULT_MEMORY_SIZE})",
    )
    parser.add_argument("--memory-weights", choices=WEIGHT_KINDS, default="uniform")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument(
        "--note", default="", help="a paragraph for the report, after the environment list"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="markdown report path (default results/emd.md, or results/emd_quick.md with --quick)",
    )
    parser.add_argument(
        "--memory-child",
        nargs=2,
        metavar=("LIBRARY", "N"),
        default=None,
        help="internal: measure the peak memory of one solve and print JSON",
    )
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.repeats is None and args.quick:
        args.repeats = 2
    if args.memory_size is None:
        args.memory_size = QUICK_MEMORY_SIZE if args.quick else DEFAULT_MEMORY_SIZE
    if args.output is None:
        args.output = RESULTS_DIR / ("emd_quick.md" if args.quick else "emd.md")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)

    if args.memory_child is not None:
        library, n = args.memory_child[0], int(args.memory_child[1])
        report = measure_memory_in_this_process(
            library, n, args.memory_weights, args.seed, args.num_iter_max
        )
        print(json.dumps(report))
        return

    args.load_start = load_average()
    # The memory children run first, while this process has imported neither library
    # and is still small: on Linux a child's ru_maxrss starts from (at least) the
    # parent's resident size, so spawning them after the timed solves would mask them.
    memory = None
    if not args.no_memory:
        memory = run_memory_benchmark(
            args.memory_size, args.memory_weights, args.seed, args.num_iter_max
        )
        print(
            "memory increase ratio otkit / POT: "
            f"{safe_ratio(memory['otkit']['increase_mib'], memory['pot']['increase_mib'])}"
        )
    cases = run_timing_benchmark(
        args.sizes, args.weights, args.repeats, args.num_iter_max, args.seed, args.clouds
    )

    args.load_end = load_average()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_markdown(cases, memory, args, argv))
    print(f"wrote {args.output}")
    summary = [
        entry(
            f"n={case.n}, {case.weights} weights"
            + ("" if case.cloud == "gaussian" else f", {case.cloud} clouds"),
            case.median("otkit"),
            "POT",
            case.median("pot"),
        )
        for case in cases
    ]
    write_summary(args.output, "emd", "bench_emd.py", argv, summary)


if __name__ == "__main__":
    main()
