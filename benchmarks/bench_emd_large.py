"""Exact OT at scale: POT's dense ``emd2`` and ``emd2_lazy`` against otkit's dense ``emd2``
and multiscale ``emd2_lazy``, time and peak memory, side by side.

Cases (all squared Euclidean costs, W_2^2):

- 2-D point clouds, uniform weights: ``uniform`` (both clouds uniform on the unit square) and
  ``mixture`` (Gaussian mixtures of 5 components, different means for the two clouds),
  n = 2,000 ... 100,000 points each;
- DOTmark-like histograms (Schrieber et al. 2017), generated here: two images of one class on
  an s x s pixel grid, W_2^2 between them with the pixel centres as points: ``white`` (i.i.d.
  uniform intensities), ``smooth`` (Gaussian-filtered white noise, squared), ``cauchy`` (a sum
  of Cauchy-density blobs), s = 32 ... 256.

Every run is one fresh subprocess (``--child``): it builds the inputs, records ``ru_maxrss``,
solves once and reports the wall time, the cost and the increase of the peak RSS (a
process-wide high-water mark, hence one process per run).  Dense solvers are skipped above
``--max-dense`` points (their n x m cost matrix alone is 8 n m bytes).  Ratios are otkit's
over POT's on the same case.

Usage::

    python benchmarks/bench_emd_large.py            # full run (long: up to 100,000 points)
    python benchmarks/bench_emd_large.py --quick    # smoke run: n = 1,000 and 32 x 32

POT (``pip install pot``) is a benchmark-only dependency.  Nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _harness import relative_difference, write_report
from _summary import entry, write_summary

METHODS = ("POT emd2", "POT emd2_lazy", "otkit emd2", "otkit emd2_lazy")
RESULTS = Path(__file__).parent / "results"
# Every solver gets the same pivot budget, large enough for 1e5 points (POT's default 1e5
# stops the dense and lazy solvers early from n ~ 1e4 on).
MAX_ITER = 10**9


def clouds(kind: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.uniform(size=(n, 2)), rng.uniform(size=(n, 2)), None, None
    centers = rng.normal(scale=3.0, size=(2, 5, 2))
    xs = [centers[k][rng.integers(0, 5, n)] + rng.normal(size=(n, 2)) for k in range(2)]
    return xs[0], xs[1], None, None


def histogram(kind: str, size: int, rng):
    if kind == "white":
        image = rng.uniform(size=(size, size))
    elif kind == "smooth":
        noise = rng.normal(size=(size, size))
        freq = np.fft.fftfreq(size)
        kernel = np.exp(-(freq[:, None] ** 2 + freq[None, :] ** 2) * (size / 8.0) ** 2)
        image = np.real(np.fft.ifft2(np.fft.fft2(noise) * kernel)) ** 2
    else:
        grid = np.arange(size) + 0.5
        image = np.zeros((size, size))
        for _ in range(8):
            cx, cy = rng.uniform(0, size, 2)
            scale = rng.uniform(0.02, 0.1) * size
            r2 = ((grid[:, None] - cx) ** 2 + (grid[None, :] - cy) ** 2) / scale**2
            image += rng.uniform(0.5, 1.5) / (1.0 + r2) ** 1.5
    image = image.ravel() + 1e-12
    return image / image.sum()


def images(kind: str, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1)
    points = grid.reshape(-1, 2).astype(float)
    return points, points.copy(), histogram(kind, size, rng), histogram(kind, size, rng)


def build(case: str, n: int):
    family, kind = case.split(":")
    return clouds(kind, n) if family == "cloud" else images(kind, n)


def child(method: str, case: str, n: int) -> dict:
    """One solve in this process: seconds, cost, peak-RSS increase (MiB)."""
    X, Y, a, b = build(case, n)
    a = np.full(X.shape[0], 1.0 / X.shape[0]) if a is None else a
    b = np.full(Y.shape[0], 1.0 / Y.shape[0]) if b is None else b
    if method.startswith("POT"):
        import ot as lib
    else:
        import otkit as lib
    warm_x = np.random.default_rng(1).normal(size=(20, 2))
    lib.emd2(np.full(20, 0.05), np.full(20, 0.05), lib.dist(warm_x, warm_x))  # imports, caches
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if method.endswith("emd2_lazy"):
        lazy = lib.emd2_lazy if method.startswith("POT") else __import__("otkit").lp.emd2_lazy
        cost, log = lazy(X, Y, a, b, numItermax=MAX_ITER, log=True, return_matrix=False)
        code = int(log["result_code"])
    else:
        cost, log = lib.emd2(a, b, lib.dist(X, Y), numItermax=MAX_ITER, log=True)
        code = int(log["result_code"])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "cost": float(cost),
        "rss_mib": (peak - before) / 1024,
        "code": code,
    }


def run_child(method, case, n, timeout):
    command = [sys.executable, __file__, "--child", method, case, str(n)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout} s"}
    except subprocess.CalledProcessError as error:
        return {"error": error.stderr.strip().splitlines()[-1][:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1,000 and 32 x 32 only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 10000, 30000, 100000])
    parser.add_argument("--grids", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--max-dense", type=int, default=20000, help="points, dense solvers")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "CASE", "N"))
    args = parser.parse_args(argv)
    if args.child:
        method, case, n = args.child
        print(json.dumps(child(method, case, int(n))))
        return
    argv = sys.argv[1:] if argv is None else argv
    sizes, grids = ([1000], [32]) if args.quick else (args.sizes, args.grids)
    cases = [(f"cloud:{k}", n, n) for k in ("uniform", "mixture") for n in sizes]
    cases += [(f"image:{k}", s, s * s) for k in ("white", "smooth", "cauchy") for s in grids]
    header = ["case", "points"] + [f"{m} s (MiB)" for m in METHODS]
    header += ["dense ratio", "lazy ratio", "multiscale / POT dense", "rel. diff"]
    rows, summary = [], []
    for case, n, points in cases:
        results = {}
        for method in METHODS:
            if "emd2_lazy" not in method and points > args.max_dense:
                results[method] = {"error": "skipped (dense)"}
                continue
            results[method] = run_child(method, case, n, args.timeout)
            print(case, n, method, results[method], flush=True)
        cells = [
            r["error"] if "error" in r else f"{r['seconds']:.3g} ({r['rss_mib']:.0f})"
            for r in results.values()
        ]
        ratios, costs = [], [r["cost"] for r in results.values() if "cost" in r]
        for ours, peer in (
            ("otkit emd2", "POT emd2"),
            ("otkit emd2_lazy", "POT emd2_lazy"),
            ("otkit emd2_lazy", "POT emd2"),
        ):
            if "seconds" in results[ours] and "seconds" in results[peer]:
                ratio = results[ours]["seconds"] / results[peer]["seconds"]
                ratios.append(f"{ratio:.2f}")
                summary.append(
                    entry(
                        f"{case} n={points}",
                        results[ours]["seconds"],
                        peer,
                        results[peer]["seconds"],
                        otkit=ours,
                    )
                )
            else:
                ratios.append("-")
        diff = max((relative_difference(c, costs[0]) for c in costs), default=float("nan"))
        rows.append([case, str(points), *cells, *ratios, f"{diff:.1e}"])
    name = "emd_large_quick" if args.quick else "emd_large"
    report = RESULTS / f"{name}.md"
    setup = __doc__.split("\n\n")[1] + " Each cell: seconds (peak RSS increase, MiB)."
    write_report(report, "Exact OT at scale", "bench_emd_large.py", argv, setup, header, rows)
    write_summary(report, "emd_large", "bench_emd_large.py", argv, summary)


if __name__ == "__main__":
    main()
