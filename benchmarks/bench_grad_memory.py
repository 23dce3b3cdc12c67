"""Peak memory of one backward pass of ``otkit.sinkhorn2``: implicit (default) vs autodiff.

``grad='autodiff'`` differentiates through the Sinkhorn iterations, so torch keeps every
iterate for the backward pass: memory grows with the iteration count. The default
``grad='implicit'`` solves without gradient and differentiates the fixed point by one
linear solve: memory a few times the n x m plan, whatever the iteration count.

Each configuration (grad, iterations) runs in a fresh interpreter (``--child``), because the
peak resident set size never decreases within a process. The child imports torch and
otkit, warms both paths up on a tiny problem, builds the problem (n = m, uniform weights,
2-D Gaussian clouds, squared Euclidean cost scaled to max 1, reg = 0.05, torch float64 on
the CPU), records its own peak RSS (``VmHWM`` of /proc/self/status; ``ru_maxrss`` off
Linux), runs ``sinkhorn2(...).backward()`` with ``stopThr=0`` (exactly ``numItermax``
iterations) and records the peak again; the figure is the increase.

Usage::

    python benchmarks/bench_grad_memory.py            # writes benchmarks/results/grad_memory.md
    python benchmarks/bench_grad_memory.py --n 500    # another size

A configuration whose memory, extrapolated linearly from the two previous runs of the same
``grad`` (10 and 100 iterations), would exceed half of the available memory is not run: the
table gives the projection instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "grad_memory.md"
REG = 0.05
ITERATIONS = (10, 100, 1000)
GRADS = ("autodiff", "implicit")


def peak_rss_mib() -> float:
    """This process's own peak resident set size, in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0**2 if sys.platform == "darwin" else 1024.0)


def available_mib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _problem(torch, ot, n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    y = torch.randn(n, 2, generator=generator, dtype=torch.float64) + 1.0
    M = ot.dist(x, y)
    M = (M / M.max()).requires_grad_(True)
    weights = torch.full((n,), 1.0 / n, dtype=torch.float64)
    return weights, weights.clone(), M


def _backward(ot, a, b, M, grad, iterations):
    cost = ot.sinkhorn2(a, b, M, REG, numItermax=iterations, stopThr=0.0, warn=False, grad=grad)
    cost.backward()
    return float(cost.detach())


def child(grad: str, iterations: int, n: int) -> dict:
    import torch

    import otkit as ot

    for warm_grad in GRADS:  # lazy allocations of both paths happen here, not below
        _backward(ot, *_problem(torch, ot, 8), warm_grad, 5)
    a, b, M = _problem(torch, ot, n)
    gc.collect()
    baseline = peak_rss_mib()
    start = time.perf_counter()
    cost = _backward(ot, a, b, M, grad, iterations)
    seconds = time.perf_counter() - start
    return {
        "grad": grad,
        "iterations": iterations,
        "n": n,
        "cost_matrix_mib": M.numel() * M.element_size() / 1024.0**2,
        "increase_mib": peak_rss_mib() - baseline,
        "seconds": seconds,
        "cost": cost,
        "gradient_norm": float(M.grad.norm()),
    }


def run_child(grad: str, iterations: int, n: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", grad, str(iterations)]
    command += ["--n", str(n)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("GRAD", "ITERATIONS"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.n)))
        return
    rows = []
    for grad in GRADS:
        measured = []  # (iterations, increase) of this grad, for the linear projection
        for iterations in ITERATIONS:
            projected = _project(measured, iterations)
            available = available_mib()
            if projected is not None and available is not None and projected > available / 2:
                rows.append({"grad": grad, "iterations": iterations, "projected": projected})
                print(f"{grad:9s} {iterations:5d} its: not run (~{projected:.0f} MiB projected)")
                continue
            row = run_child(grad, iterations, args.n)
            measured.append((iterations, row["increase_mib"]))
            rows.append(row)
            print(
                f"{grad:9s} {iterations:5d} its: +{row['increase_mib']:8.1f} MiB "
                f"{row['seconds']:6.2f} s  cost {row['cost']:.10f}"
            )
    write_markdown(rows, args.n)


def _project(measured, iterations):
    """Memory at ``iterations`` extrapolated linearly from the last two measurements."""
    if not measured:
        return None
    if len(measured) == 1:
        (its, mib), slope = measured[0], measured[0][1] / measured[0][0]
    else:
        (its0, mib0), (its, mib) = measured[-2:]
        slope = max(mib - mib0, 0.0) / (its - its0)
    return mib + slope * (iterations - its)


def write_markdown(rows, n) -> None:
    import platform

    import torch

    lines = [
        "# Peak memory of one backward pass of `sinkhorn2` (torch, CPU, float64)",
        "",
        (
            f"n = m = {n}, reg = {REG}, uniform weights, squared Euclidean cost of 2-D Gaussian "
            "clouds scaled to max 1, `stopThr=0` (exactly the given iterations). Increase of the "
            "child process's peak RSS during `sinkhorn2(...).backward()`, one fresh process per "
            f"row; the cost matrix alone is {n * n * 8 / 1024**2:.1f} MiB. "
            f"torch {torch.__version__}, Python {platform.python_version()}, "
            f"{platform.machine()}. Written by `benchmarks/bench_grad_memory.py`."
        ),
        "",
        "| grad | iterations | peak increase (MiB) | time (s) | cost |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if "projected" in row:
            lines.append(
                f"| {row['grad']} | {row['iterations']} | not run (~{row['projected']:.0f} "
                "projected) | | |"
            )
        else:
            lines.append(
                f"| {row['grad']} | {row['iterations']} | {row['increase_mib']:.1f} | "
                f"{row['seconds']:.2f} | {row['cost']:.10f} |"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
