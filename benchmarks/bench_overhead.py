"""Per-call time of otkit against POT on small problems (n <= 100), where overhead dominates.

Issue 16 asks that ``dist``, ``emd2``, ``sinkhorn2`` and ``wasserstein_1d`` cost at most POT's
per-call time for n <= 100: pairwise workloads call them thousands of times on tiny inputs,
so microseconds of validation, namespace detection or result wrapping add up.

Inputs, the same arrays for both libraries (float64, ``default_rng([seed, n])``): x ~ N(0, I)
and y ~ N((1, 1), I), n points each in 2-D, uniform weights ``a``, ``b`` and ``M = dist(x, y)``
(squared Euclidean). Cases, for n in 5, 10, 30, 100:

- ``dist(x, y)``;
- ``emd2(a, b, M)``;
- ``sinkhorn2(a, b, M, reg=1, numItermax=100, stopThr=0, warn=False)``: exactly 100 iterations
  in both libraries, so the ratio is the cost per iteration plus the fixed cost;
- ``sinkhorn2(a, b, M, reg=1)`` with each library's default stopping (stopThr = 1e-9; the
  iteration counts of each are in the table, from a ``log=True`` call);
- ``wasserstein_1d(x[:, 0], y[:, 0])`` (p = 1, uniform weights).

NumPy inputs against POT on NumPy; ``--torch`` adds torch CPU tensors (float64) for both.
Each call is timed with :mod:`timeit`: ``number`` calls per sample (chosen so that a sample
lasts about 2 ms), ``--repeats`` samples, interleaved between the libraries (the order rotates
from one sample to the next) so that a burst of load falls on both; the median per call is
reported. ``--before results.json`` adds the otkit times of an earlier run (for example the
same script run before a change) to the report; ``--baseline-module otkit_before`` times an
importable copy of an earlier otkit in the same run instead (steadier on a shared machine),
for example the last commit's sources, renamed, with the compiled modules of the build::

    mkdir /tmp/base && git archive HEAD otkit | tar -x -C /tmp/base
    mv /tmp/base/otkit /tmp/base/otkit_before   # then copy build/cp311/otkit/lp/*.so over
    PYTHONPATH=/tmp/base python benchmarks/bench_overhead.py --baseline-module otkit_before

Usage::

    python benchmarks/bench_overhead.py                   # writes results/overhead.md, .json
    python benchmarks/bench_overhead.py --torch --before /tmp/overhead_before.json
    python benchmarks/bench_overhead.py --quick           # n = 10, few repeats
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import timeit
import warnings
from pathlib import Path

import numpy as np
from _harness import write_report
from _summary import entry, write_summary

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = (5, 10, 30, 100)
FUNCTIONS = ("dist", "emd2", "sinkhorn2 (100 it.)", "sinkhorn2 (default stop)", "wasserstein_1d")
REG = 1.0
FIXED_ITERATIONS = 100
SAMPLE_SECONDS = 2e-3


def make_inputs(n: int, seed: int):
    rng = np.random.default_rng([seed, n])
    x = rng.standard_normal((n, 2))
    y = rng.standard_normal((n, 2)) + 1.0
    a = np.full(n, 1.0 / n)
    b = np.full(n, 1.0 / n)
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return x, y, a, b, M


def calls_for(function: str, module, arrays) -> object:
    """A zero-argument call of ``function`` of ``module`` (otkit or POT) on ``arrays``."""
    x, y, a, b, M = arrays
    if function == "dist":
        return lambda: module.dist(x, y)
    if function == "emd2":
        return lambda: module.emd2(a, b, M)
    if function == "sinkhorn2 (100 it.)":
        return lambda: module.sinkhorn2(
            a, b, M, REG, numItermax=FIXED_ITERATIONS, stopThr=0.0, warn=False
        )
    if function == "sinkhorn2 (default stop)":
        return lambda: module.sinkhorn2(a, b, M, REG)
    if function == "wasserstein_1d":
        return lambda: module.wasserstein_1d(x[:, 0], y[:, 0])
    raise ValueError(f"unknown function {function!r}")


def iterations(module, arrays) -> int:
    _, _, a, b, M = arrays
    _, log = module.sinkhorn2(a, b, M, REG, log=True)
    return int(log.get("n_iter", log.get("niter", -1)))


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_calls(calls: dict, repeats: int, clock: str = "wall") -> dict[str, float]:
    """Median seconds per call of each callable; samples interleaved, order rotating."""
    timers, numbers = {}, {}
    for name, call in calls.items():
        call()  # first-call costs (imports, caches) outside the timing
        timers[name] = timeit.Timer(call, timer=CLOCKS[clock])
        single = min(timers[name].repeat(repeat=3, number=1))
        numbers[name] = max(1, int(SAMPLE_SECONDS / max(single, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timers[name].timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def load_before(path: Path | None) -> dict[tuple[str, str], float]:
    if path is None:
        return {}
    data = json.loads(Path(path).read_text())
    return {(item["case"], item["otkit"]): item["otkit_seconds"] for item in data["entries"]}


def run(sizes, repeats, seed, backends, before, clock, baseline=None):
    import importlib

    import ot as pot

    import otkit

    baseline_module = importlib.import_module(baseline) if baseline else None
    header = ["library", "function", "n", "otkit (µs)", "POT (µs)", "otkit / POT"]
    if baseline_module is not None:
        before = {}
        header += [f"{baseline} (µs)", f"{baseline} / POT", f"otkit / {baseline}"]
    if before:
        header += ["otkit before (µs)", "before / POT", "after / before"]
    header.append("iterations otkit / POT")
    rows, summary = [], []
    print("  ".join(f"{h:>16}" for h in header))
    for backend in backends:
        for n in sizes:
            arrays = make_inputs(n, seed)
            if backend == "torch":
                import torch

                arrays = tuple(torch.from_numpy(array) for array in arrays)
            for function in FUNCTIONS:
                calls = {
                    "otkit": calls_for(function, otkit, arrays),
                    "POT": calls_for(function, pot, arrays),
                }
                if baseline_module is not None:
                    calls["baseline"] = calls_for(function, baseline_module, arrays)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    times = time_calls(calls, repeats, clock)
                    counts = ""
                    if function == "sinkhorn2 (default stop)":
                        counts = f"{iterations(otkit, arrays)} / {iterations(pot, arrays)}"
                case = f"{function}, n={n}"
                variant = f"otkit {backend}"
                ratio = times["otkit"] / times["POT"]
                row = [
                    backend,
                    f"`{function}`",
                    str(n),
                    f"{times['otkit'] * 1e6:.1f}",
                    f"{times['POT'] * 1e6:.1f}",
                    f"**{ratio:.2f}**",
                ]
                item = entry(case, times["otkit"], f"POT {backend}", times["POT"], otkit=variant)
                if baseline_module is not None:
                    old = times["baseline"]
                    row += [
                        f"{old * 1e6:.1f}",
                        f"{old / times['POT']:.2f}",
                        f"{times['otkit'] / old:.2f}",
                    ]
                    item["otkit_seconds_before"] = old
                if before:
                    old = before.get((case, variant))
                    row += (
                        [
                            f"{old * 1e6:.1f}",
                            f"{old / times['POT']:.2f}",
                            f"{times['otkit'] / old:.2f}",
                        ]
                        if old
                        else ["", "", ""]
                    )
                    if old:
                        item["otkit_seconds_before"] = old
                row.append(counts)
                print("  ".join(f"{cell:>16}" for cell in row), flush=True)
                rows.append(row)
                summary.append(item)
    return header, rows, summary


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None, help="samples per call (default 41)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch", action="store_true", help="also time torch CPU tensors")
    parser.add_argument("--before", type=Path, default=None, help="JSON of an earlier run")
    parser.add_argument(
        "--baseline-module",
        default=None,
        help="importable copy of an earlier otkit (e.g. otkit_before on PYTHONPATH), timed "
        "in the same run as a third library",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: n = 10, 5 repeats")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: time.perf_counter; cpu: time.process_time (steadier on a loaded machine)",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([10] if args.quick else list(DEFAULT_SIZES))
    repeats = args.repeats or (5 if args.quick else 41)
    output = args.output or RESULTS / ("overhead_quick.md" if args.quick else "overhead.md")
    backends = ["numpy", "torch"] if args.torch else ["numpy"]
    header, rows, summary = run(
        sizes,
        repeats,
        args.seed,
        backends,
        load_before(args.before),
        args.clock,
        args.baseline_module,
    )
    setup = (
        "x ~ N(0, I), y ~ N((1, 1), I) in 2-D, n points each, uniform weights, M the squared "
        "Euclidean cost (float64, `default_rng([seed, n])`); the same arrays for both "
        f"libraries. `sinkhorn2` uses reg = {REG:g}: once with `numItermax={FIXED_ITERATIONS}, "
        "stopThr=0, warn=False` (exactly that many iterations in both), once with the "
        "defaults (stopThr = 1e-9; iteration counts in the last column). `wasserstein_1d` "
        "compares the first coordinates (p = 1). Each call is timed with `timeit` (about "
        f"2 ms per sample, {repeats} samples interleaved between the libraries, "
        f"{'CPU time of the process' if args.clock == 'cpu' else 'wall-clock time'}); the "
        "table gives the median time per call. Below 1, otkit is faster. The issue's target "
        "(issue 16, item 4): otkit / POT ≤ 1 for every case on NumPy input. Timings on a "
        "shared machine are noisy."
    )
    write_report(
        output,
        "Per-call overhead on small problems: otkit vs POT",
        "bench_overhead.py",
        argv,
        setup,
        header,
        rows,
    )
    write_summary(output, "overhead", "bench_overhead.py", argv, summary)


if __name__ == "__main__":
    main()
