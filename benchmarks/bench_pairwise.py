"""Benchmark ``otkit.pairwise`` against Python double loops over POT (and over otkit itself).

Histograms: the first N scikit-learn digits (8 x 8 images, no download) normalised to
the simplex, on the 8 x 8 grid with the squared Euclidean cost (W_2^2). Each timed call
computes the N(N - 1)/2 pairs of the upper triangle:

- 'exact': ``otkit.pairwise(H, M=M)`` against ``ot.emd2(H[i], H[j], M)`` (POT) and
  ``otkit.emd2`` in a double loop; ``n_jobs=2`` (joblib threads) against ``n_jobs=1``;
  ``client=`` a Dask ``LocalCluster`` of 2 single-threaded worker processes against the
  joblib run (the cluster is started once, before the timings);
- 'sinkhorn': ``otkit.pairwise(H, M=M / M.max(), method='sinkhorn', reg=0.05)`` against
  ``ot.sinkhorn2`` in a double loop (also the diagonal, as pairwise), on the histograms
  plus 1e-3 per bin, renormalised (POT's 'sinkhorn' divides by the weights: NaN on empty
  bins);
- 'sinkhorn_divergence': N point clouds of 50-150 points in 2-D, ``reg=0.1``, against a
  double loop over ``otkit.sinkhorn_divergence`` (which recomputes both self terms for
  every pair) and over POT's ``empirical_sinkhorn_divergence``; ``n_jobs=2`` and the Dask
  cluster as for 'exact'.

The Dask variants need ``dask.distributed`` (``pip install "otkit[dask]"``); without it
they are left out.

The issue's targets (issue 16; 500 digits, 100 clouds of 200-500 points) are for later
increments; ``--quick`` runs N = 50 histograms and 8 clouds.

Usage::

    python benchmarks/bench_pairwise.py              # N = 500 digits, 40 clouds (long)
    python benchmarks/bench_pairwise.py --quick      # N = 50, 8 clouds: about a minute
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np
from _harness import relative_difference, time_interleaved, write_report
from _summary import entry, write_summary

RESULTS = Path(__file__).resolve().parent / "results"


def digits(n_histograms: int):
    from sklearn.datasets import load_digits

    H = load_digits().data[:n_histograms].astype(np.float64)
    H /= H.sum(axis=1, keepdims=True)
    grid = np.stack(np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij"), -1)
    support = grid.reshape(-1, 2)
    M = ((support[:, None, :] - support[None, :, :]) ** 2).sum(-1)
    return H, M


def clouds(n_clouds: int, seed: int):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(int(n), 2)) + rng.normal(size=2) for n in rng.integers(50, 151, n_clouds)
    ]


@contextlib.contextmanager
def dask_client(n_workers: int):
    """A Client of a LocalCluster of ``n_workers`` single-threaded processes on 127.0.0.1,
    or None without dask.distributed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed is not installed: no Dask variants")
        yield None
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(n_workers)
        yield client


def upper_loop(function, items, diagonal=False):
    """Sum over the pairs i < j (i <= j with ``diagonal``) of ``function`` (a float)."""
    total = 0.0
    for i in range(len(items)):
        for j in range(i if diagonal else i + 1, len(items)):
            total += float(function(items[i], items[j]))
    return total


def upper_sum(D, diagonal=False):
    return float(np.sum(np.triu(D, 0 if diagonal else 1)))


def run(n_histograms, n_clouds, repeats, seed):
    with dask_client(2) as client:
        return _run(n_histograms, n_clouds, repeats, seed, client)


def _run(n_histograms, n_clouds, repeats, seed, client):
    import ot as pot

    import otkit

    H, M = digits(n_histograms)
    M_unit = M / M.max()
    # POT's sinkhorn divides by the weights: histograms without empty bins for 'sinkhorn'
    H_dense = (H + 1e-3) / (H + 1e-3).sum(axis=1, keepdims=True)
    X = clouds(n_clouds, seed)
    reg_divergence = 0.1
    dask = "otkit pairwise dask 2 workers"
    cases = [
        (
            f"exact W2^2, {n_histograms} digits (64 bins)",
            {
                "otkit pairwise": lambda: upper_sum(otkit.pairwise(H, M=M)),
                "otkit pairwise n_jobs=2": lambda: upper_sum(otkit.pairwise(H, M=M, n_jobs=2)),
                "otkit emd2 loop": lambda: upper_loop(lambda a, b: otkit.emd2(a, b, M), H),
                "POT emd2 loop": lambda: upper_loop(lambda a, b: pot.emd2(a, b, M), H),
            },
        ),
        (
            f"sinkhorn reg=0.05 (cost / max), {n_histograms} digits + 1e-3",
            {
                "otkit pairwise": lambda: upper_sum(
                    otkit.pairwise(H_dense, M=M_unit, method="sinkhorn", reg=0.05), True
                ),
                "POT sinkhorn2 loop": lambda: upper_loop(
                    lambda a, b: pot.sinkhorn2(a, b, M_unit, 0.05), H_dense, diagonal=True
                ),
            },
        ),
        (
            f"sinkhorn_divergence reg={reg_divergence}, {n_clouds} clouds of 50-150 points",
            {
                "otkit pairwise": lambda: upper_sum(
                    otkit.pairwise(X, method="sinkhorn_divergence", reg=reg_divergence)
                ),
                "otkit pairwise n_jobs=2": lambda: upper_sum(
                    otkit.pairwise(X, method="sinkhorn_divergence", reg=reg_divergence, n_jobs=2)
                ),
                "otkit sinkhorn_divergence loop": lambda: upper_loop(
                    lambda x, y: otkit.sinkhorn_divergence(x, y, reg=reg_divergence), X
                ),
                "POT empirical_sinkhorn_divergence loop": lambda: upper_loop(
                    lambda x, y: pot.bregman.empirical_sinkhorn_divergence(x, y, reg_divergence),
                    X,
                ),
            },
        ),
    ]
    if client is not None:  # the Dask rows next to the joblib ones
        dask_calls = [
            lambda: upper_sum(otkit.pairwise(H, M=M, client=client)),
            None,
            lambda: upper_sum(
                otkit.pairwise(X, method="sinkhorn_divergence", reg=reg_divergence, client=client)
            ),
        ]
        for (_, calls), call in zip(cases, dask_calls):
            if call is not None:
                items = list(calls.items())
                at = [name for name, _ in items].index("otkit pairwise n_jobs=2") + 1
                calls.clear()
                calls.update(items[:at] + [(dask, call)] + items[at:])
    header = ("case", "variant", "time (s)", "pairwise / variant", "sum of values", "rel. diff")
    print("  ".join(f"{h:>24}" for h in header))
    rows, summary = [], []
    for case, calls in cases:
        times, values = time_interleaved(calls, repeats)
        ours = times["otkit pairwise"]
        for name in calls:
            row = [
                case,
                name,
                f"{times[name]:.3f}",
                f"**{ours / times[name]:.3f}**",
                f"{values[name]:.8g}",
                f"{relative_difference(values[name], values['otkit pairwise']):.1e}",
            ]
            print("  ".join(f"{cell:>24}" for cell in row), flush=True)
            rows.append(row)
            if "n_jobs" in name:  # ratio: 2 threads over 1
                summary.append(entry(case, times[name], "n_jobs=1", ours, otkit=name))
            elif "dask" in name:  # ratio: the Dask cluster over joblib's 2 threads
                joblib_time = times["otkit pairwise n_jobs=2"]
                summary.append(entry(case, times[name], "joblib n_jobs=2", joblib_time, otkit=name))
            elif name != "otkit pairwise":
                summary.append(entry(case, ours, name, times[name], otkit="otkit pairwise"))
    return header, rows, summary


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 50 digits, 8 clouds, 1 repeat")
    parser.add_argument("--histograms", type=int, default=None, help="default 500 (quick: 50)")
    parser.add_argument("--clouds", type=int, default=None, help="default 40 (quick: 8)")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    n_histograms = args.histograms or (50 if args.quick else 500)
    n_clouds = args.clouds or (8 if args.quick else 40)
    repeats = args.repeats or (1 if args.quick else 3)
    output = args.output or RESULTS / ("pairwise_quick.md" if args.quick else "pairwise.md")
    header, rows, summary = run(n_histograms, n_clouds, repeats, args.seed)
    setup = (
        f"{n_histograms} scikit-learn digits normalised to the simplex on the 8 x 8 grid "
        "(squared Euclidean cost), and point clouds of 50-150 2-D Gaussian points "
        f"(`default_rng({args.seed})`). Every variant computes the upper triangle (and the "
        "diagonal for 'sinkhorn', whose value there is not 0); the loops call the library "
        "once per pair. 'n_jobs=2': joblib threads; 'dask 2 workers': a Dask LocalCluster "
        "of 2 single-threaded worker processes on this machine, started before the timings. "
        "After one untimed call each, repeats are interleaved and the median "
        "wall-clock time is reported; 'pairwise / variant' below 1 means pairwise is faster. "
        "'sum of values' adds the computed entries (a check that the variants agree: exact to "
        "rounding, Sinkhorn to its stopping threshold; POT's empirical_sinkhorn_divergence is "
        "another quantity, made of linear costs)."
    )
    write_report(output, "Pairwise OT matrices: otkit.pairwise vs loops", "bench_pairwise.py",
                 argv, setup, header, rows)  # fmt: skip
    write_summary(output, "pairwise", "bench_pairwise.py", argv, summary)


if __name__ == "__main__":
    main()
