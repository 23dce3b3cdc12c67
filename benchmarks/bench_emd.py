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
import gc
import json
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _emd_report import (
    LIBRARIES,
    baseline_caveats,
    format_timing_header,
    format_timing_row,
    render_markdown,
    safe_ratio,
)  # fmt: skip
from _report_tools import load_average, max_rss_mib, proc_status_mib
from _summary import entry, write_summary

BENCHMARK_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARK_DIR / "results"

DEFAULT_SIZES = (500, 1000, 2000, 4000, 5000)
QUICK_SIZES = (500, 1000)
WEIGHT_KINDS = ("uniform", "random")
CLOUD_KINDS = ("gaussian", "uniform", "clustered")
N_CLUSTERS = 10
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


# ----------------------------------------------------------------------------
# Peak-memory benchmark (one fresh subprocess per library)
# ----------------------------------------------------------------------------


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
    args.output.write_text(render_markdown(cases, memory, args, argv, N_CLUSTERS))
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
