"""Benchmark ``otkit.pairwise`` against Python double loops over POT (and over otkit itself).

Histograms: the first N scikit-learn digits (8 x 8 images, no download) normalised to
the simplex, on the 8 x 8 grid with the squared Euclidean cost (W_2^2). Each timed call
computes the N(N - 1)/2 pairs of the upper triangle:

- 'exact': ``otkit.pairwise(H, M=M)`` against ``ot.emd2(H[i], H[j], M)`` (POT) and
  ``otkit.emd2`` in a double loop; ``n_jobs=2`` (joblib threads) against ``n_jobs=1``;
  ``client=`` a Dask ``LocalCluster`` of 2 single-threaded worker processes against the
  joblib run (see below);
- 'exact_clouds': ``otkit.pairwise(C)`` (W_2^2, squared Euclidean cost) between N' 2-D
  point clouds of 10-40 points (default 100 clouds: 4,950 pairs) against double loops over
  ``ot.emd2(a, b, ot.dist(x, y))`` (POT) and ``otkit.emd2``; ``n_jobs=2`` as for 'exact';
- 'sinkhorn': ``otkit.pairwise(H, M=M / M.max(), method='sinkhorn', reg=0.05)`` against
  ``ot.sinkhorn2`` in a double loop (also the diagonal, as pairwise), on the histograms
  plus 1e-3 per bin, renormalised (POT's 'sinkhorn' divides by the weights: NaN on empty
  bins), and against OTT-JAX's ``linear.solve`` vmapped over batches of pairs (same
  epsilon, threshold and iteration cap; its ``primal_cost``, the same quantity);
- 'sinkhorn_divergence': N point clouds of 200-500 points in 2-D (issue 16's case: 100
  clouds), ``reg=0.1``, against a double loop over ``otkit.sinkhorn_divergence`` (which
  recomputes both self terms for every pair), over GeomLoss's
  ``SamplesLoss('sinkhorn', p=2, blur=sqrt(reg / 2))`` on torch tensors (its defaults
  otherwise; its cost |x - y|^2 / 2 and eps = blur^2 make its value half of otkit's: it is
  doubled before the comparison; also with ``scaling=0.9``, nearer convergence) and over
  POT's ``empirical_sinkhorn_divergence``;
  ``n_jobs=2`` and the Dask cluster as for 'exact'.

The Dask variants need ``dask.distributed`` (``pip install "otkit[dask]"``); without it
they are left out.  They run last, in a second round: a cluster (its scheduler in this
process, two workers, two nannies) takes CPU while it is alive, which a call on both cores
loses and a serial one does not, so every other row is timed before it starts, and the Dask
row is compared with the joblib ``n_jobs=2`` call timed again beside it (the row marked
'Dask cluster alive'), interleaved with it.

Issue 16's targets: 'exact' on the 500 digits (124,750 pairs) at least 20 times faster than
the POT loop; 'sinkhorn_divergence' on 100 clouds at least 5 times faster than the GeomLoss
and POT loops; ``n_jobs=2`` at least 1.8 times faster than ``n_jobs=1`` on 2 cores; the Dask
cluster within 1.3 times the joblib run.
``--loop-pairs K`` times the Python loops on K pairs of the upper triangle only, drawn at
random with a fixed seed (with its diagonal for 'sinkhorn'), and scales their time to all
the pairs (the table says so): the POT loop over 124,750 pairs alone takes minutes;
``--histogram-loop-pairs K'`` sets K' for the loops on histograms and for 'exact_clouds'
(an ``emd2`` call takes ~0.25 ms: 40 pairs time ~10 ms, too short to be stable), and
``--divergence-loop-pairs K''`` K'' for otkit's and GeomLoss's divergence loops (~10-30 ms
a pair; POT's, ~1 s a pair, stays on K; 40 pairs of clouds of random sizes are too few to
stand for all: the GeomLoss loop scaled from 40 pairs took 55 s, from 400, 71-86 s). Every
row reports the process CPU time (all threads) next to the wall time: on a shared machine
the wall time also measures the other users' load.

Usage::

    python benchmarks/bench_pairwise.py --loop-pairs 3000   # 500 digits, 100 clouds (long)
    python benchmarks/bench_pairwise.py --loop-pairs 40 --histogram-loop-pairs 2000 \
        --divergence-loop-pairs 400
    python benchmarks/bench_pairwise.py --quick      # N = 50, 8 small clouds: a minute
    python benchmarks/bench_pairwise.py --only exact --loop-pairs 3000   # issue 16's rows
    python benchmarks/bench_pairwise.py --only exact_clouds --loop-pairs 1000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _harness import relative_difference, write_report
from _summary import entry, write_summary

RESULTS = Path(__file__).resolve().parent / "results"
SMALL_CLOUD_SIZES = (10, 40)  # 'exact_clouds'


def digits(n_histograms: int):
    from sklearn.datasets import load_digits

    H = load_digits().data[:n_histograms].astype(np.float64)
    H /= H.sum(axis=1, keepdims=True)
    grid = np.stack(np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij"), -1)
    support = grid.reshape(-1, 2)
    M = ((support[:, None, :] - support[None, :, :]) ** 2).sum(-1)
    return H, M


def clouds(n_clouds: int, seed: int, sizes=(200, 500)):
    """``n_clouds`` 2-D Gaussian clouds of ``sizes[0]`` to ``sizes[1]`` points, shifted."""
    rng = np.random.default_rng(seed)
    low, high = sizes
    return [
        rng.normal(size=(int(n), 2)) + rng.normal(size=2)
        for n in rng.integers(low, high + 1, n_clouds)
    ]


def geomloss_divergence(reg, scaling=0.5):
    """GeomLoss's debiased Sinkhorn divergence in otkit's units (x 2), or None."""
    try:
        import torch
        from geomloss import SamplesLoss
    except ImportError:
        print("GeomLoss (or torch) is not installed: no GeomLoss loop")
        return None
    loss = SamplesLoss("sinkhorn", p=2, blur=float(np.sqrt(reg / 2)), scaling=scaling)

    def divergence(x, y):
        return 2.0 * float(loss(torch.from_numpy(x), torch.from_numpy(y)))

    return divergence


OTT_BATCH = 64  # pairs per vmapped call (64: 0.97 ms a pair; 512: 1.8; 4096: 1.6; jit loop: 1.1)


def ott_sinkhorn_pairs(M, reg):
    """OTT-JAX's Sinkhorn cost <P, M> as ``ott.solvers.linear.solve`` gives it
    (``primal_cost``; absolute epsilon ``reg``, ``threshold=1e-9`` and 1,000 iterations at
    most, POT's ``stopThr`` and ``numItermax``), vmapped over batches of ``OTT_BATCH``
    pairs on one jitted geometry (OTT batches problems of one size this way), in float64:
    ``calls(H, rows, cols)``, the sum over the pairs; or None without OTT-JAX."""
    try:
        import jax
        import jax.numpy as jnp
        from ott.geometry import geometry
        from ott.solvers import linear
    except ImportError:
        print("OTT-JAX is not installed: no OTT-JAX row")
        return None
    jax.config.update("jax_enable_x64", True)
    geom = geometry.Geometry(cost_matrix=jnp.asarray(M), epsilon=reg)

    def cost(a, b):
        return linear.solve(geom, a, b, threshold=1e-9, max_iterations=1000).primal_cost

    solve = jax.jit(jax.vmap(cost))

    def calls(H, rows, cols):
        total = 0.0
        for start in range(0, rows.size, OTT_BATCH):
            i, j = rows[start : start + OTT_BATCH], cols[start : start + OTT_BATCH]
            pad = OTT_BATCH - i.size  # (one shape: one compilation)
            i, j = (
                np.concatenate([i, np.repeat(i[-1:], pad)]),
                np.concatenate([j, np.repeat(j[-1:], pad)]),
            )
            values = np.asarray(solve(jnp.asarray(H[i]), jnp.asarray(H[j])))
            total += float(np.sum(values[: OTT_BATCH - pad]))
        return total

    return calls


@contextlib.contextmanager
def dask_client(n_workers: int):
    """A Client of a LocalCluster of ``n_workers`` single-threaded processes on 127.0.0.1,
    configured as ``pairwise(client='dask')`` starts its own (its workers without Dask's
    ``MALLOC_TRIM_THRESHOLD_``: ``local_worker_environ``), or None without
    dask.distributed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed is not installed: no Dask variants")
        yield None
        return
    from otkit.solvers._pairwise_dask import local_worker_environ

    with local_worker_environ():
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    with cluster, Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(n_workers)
        yield client


def upper_pairs(n_items, diagonal=False, limit=None):
    """Rows and columns of the pairs i < j (i <= j with ``diagonal``) in row order; with
    ``limit``, that many of them drawn at random (a fixed seed, in row order): the first
    pairs all share the first item, whose size or shape would bias the scaled times."""
    rows, cols = np.triu_indices(n_items, 0 if diagonal else 1)
    if limit is not None and limit < rows.size:
        keep = np.sort(np.random.default_rng(0).choice(rows.size, limit, replace=False))
        rows, cols = rows[keep], cols[keep]
    return rows, cols


def upper_loop(function, items, diagonal=False, limit=None):
    """Sum of ``function`` (a float) over the pairs of ``upper_pairs``."""
    rows, cols = upper_pairs(len(items), diagonal, limit)
    return sum(float(function(items[i], items[j])) for i, j in zip(rows, cols))


def upper_sum(D, diagonal=False, limit=None):
    """Sum of D over the pairs of ``upper_pairs``."""
    return float(np.sum(D[upper_pairs(D.shape[0], diagonal, limit)]))


def time_interleaved(calls, repeats):
    """Median wall and CPU seconds of each call over ``repeats`` runs, and its last value.

    Each call runs once untimed first (imports, first-call caches); the timed repeats rotate
    the order of the variants, so that a burst of load does not fall on one only. CPU time
    is the process's (user + system, every thread): with threads it adds them up."""
    values = {name: float(call()) for name, call in calls.items()}
    wall = {name: [] for name in calls}
    cpu = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start, start_cpu = time.perf_counter(), time.process_time()
            values[name] = float(calls[name]())
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    median = statistics.median
    return {n: median(t) for n, t in wall.items()}, {n: median(t) for n, t in cpu.items()}, values


def table_row(case, name, wall, cpu, ours, ours_cpu, value, reference):
    """A row of the table (printed): times, pairwise's serial times over them, the value."""
    row = [
        case,
        name,
        f"{wall:.3f}",
        f"{cpu:.3f}",
        f"**{ours / wall:.3f}**",
        f"{ours_cpu / cpu:.3f}",
        f"{value:.8g}",
        f"{relative_difference(value, reference):.1e}",
    ]
    print("  ".join(f"{cell:>24}" for cell in row), flush=True)
    return row


def loop_subset(n_items, loop_pairs, diagonal=False):
    """The number of pairs a loop runs on (None: all), the note on its row and the factor
    that scales its time to all the N(N - 1)/2 pairs (N(N + 1)/2 with the ``diagonal``)."""
    n_pairs = n_items * (n_items + (1 if diagonal else -1)) // 2
    if not loop_pairs or loop_pairs >= n_pairs:
        return None, "", 1.0
    return (
        loop_pairs,
        f" ({loop_pairs} pairs, time x {n_pairs / loop_pairs:.2f})",
        n_pairs / loop_pairs,
    )


def run(
    n_histograms, n_clouds, cloud_sizes, repeats, seed, only, loop_pairs, histogram_pairs,
    n_small_clouds, divergence_pairs,
):  # fmt: skip
    import ot as pot

    import otkit

    H, M = digits(n_histograms)
    M_unit = M / M.max()
    # POT's sinkhorn divides by the weights: histograms without empty bins for 'sinkhorn'
    H_dense = (H + 1e-3) / (H + 1e-3).sum(axis=1, keepdims=True)
    X = clouds(n_clouds, seed, cloud_sizes)
    small = clouds(n_small_clouds, seed, SMALL_CLOUD_SIZES)
    uniform = [np.full(len(x), 1.0 / len(x)) for x in small]
    reg_divergence = 0.1
    dask = "otkit pairwise dask 2 workers"
    histogram_pairs = histogram_pairs or loop_pairs
    exact_subset, exact_note, exact_factor = loop_subset(n_histograms, histogram_pairs)
    cloud_subset, cloud_note, cloud_factor = loop_subset(n_clouds, loop_pairs)
    # otkit's and GeomLoss's divergence loops (~10-30 ms a pair) on more pairs than POT's
    fast_subset, fast_note, fast_factor = loop_subset(n_clouds, divergence_pairs or loop_pairs)
    small_subset, small_note, small_factor = loop_subset(n_small_clouds, histogram_pairs)
    sinkhorn_subset, sinkhorn_note, sinkhorn_factor = loop_subset(
        n_histograms, histogram_pairs, True
    )
    last = {}  # each case's last pairwise matrix: the reference of the loops on a subset
    ott_sinkhorn = ott_sinkhorn_pairs(M_unit, 0.05) if only is None or "sinkhorn" in only else None

    def exact_pairwise(**kwargs):
        last["exact"] = otkit.pairwise(H, M=M, **kwargs)
        return upper_sum(last["exact"])

    def exact_clouds_pairwise(**kwargs):
        last["exact_clouds"] = otkit.pairwise(small, **kwargs)
        return upper_sum(last["exact_clouds"])

    def cloud_emd2(library):
        def pair(k, l):
            x, y = small[k], small[l]
            return library.emd2(uniform[k], uniform[l], library.dist(x, y))

        return lambda: upper_loop(pair, range(n_small_clouds), limit=small_subset)

    def sinkhorn_pairwise():
        last["sinkhorn"] = otkit.pairwise(H_dense, M=M_unit, method="sinkhorn", reg=0.05)
        return upper_sum(last["sinkhorn"], True)

    def divergence_pairwise(**kwargs):
        last["sinkhorn_divergence"] = otkit.pairwise(
            X, method="sinkhorn_divergence", reg=reg_divergence, **kwargs
        )
        return upper_sum(last["sinkhorn_divergence"])

    fast, slow = (fast_subset, fast_note, fast_factor), (cloud_subset, cloud_note, cloud_factor)
    divergence_loops = {  # name: (function, (subset, note, factor))
        "otkit sinkhorn_divergence loop": (
            lambda x, y: otkit.sinkhorn_divergence(x, y, reg=reg_divergence),
            fast,
        ),
        "GeomLoss SamplesLoss loop": (geomloss_divergence(reg_divergence), fast),
        # GeomLoss's default (scaling 0.5) stops ~1e-2 short of the converged value; 0.9 is
        # within ~5e-4, closer to otkit's stopping threshold
        "GeomLoss SamplesLoss(scaling=0.9) loop": (geomloss_divergence(reg_divergence, 0.9), fast),
        "POT empirical_sinkhorn_divergence loop": (
            lambda x, y: pot.bregman.empirical_sinkhorn_divergence(x, y, reg_divergence),
            slow,
        ),
    }
    divergence_loops = {
        name + note: (function, subset, factor)
        for name, (function, (subset, note, factor)) in divergence_loops.items()
        if function is not None
    }
    # case key, title, calls, each loop's (subset, factor)
    cases = [
        (
            "exact",
            f"exact W2^2, {n_histograms} digits (64 bins)",
            {
                "otkit pairwise": exact_pairwise,
                "otkit pairwise n_jobs=2": lambda: exact_pairwise(n_jobs=2),
                "otkit emd2 loop" + exact_note: lambda: upper_loop(
                    lambda a, b: otkit.emd2(a, b, M), H, limit=exact_subset
                ),
                "POT emd2 loop" + exact_note: lambda: upper_loop(
                    lambda a, b: pot.emd2(a, b, M), H, limit=exact_subset
                ),
            },
            dict.fromkeys(
                ["otkit emd2 loop" + exact_note, "POT emd2 loop" + exact_note],
                (exact_subset, exact_factor),
            ),
        ),
        (
            "exact_clouds",
            "exact W2^2, {} clouds of {}-{} points".format(n_small_clouds, *SMALL_CLOUD_SIZES),
            {
                "otkit pairwise": exact_clouds_pairwise,
                "otkit pairwise n_jobs=2": lambda: exact_clouds_pairwise(n_jobs=2),
                "otkit emd2 loop" + small_note: cloud_emd2(otkit),
                "POT emd2 loop" + small_note: cloud_emd2(pot),
            },
            dict.fromkeys(
                ["otkit emd2 loop" + small_note, "POT emd2 loop" + small_note],
                (small_subset, small_factor),
            ),
        ),
        (
            "sinkhorn",
            f"sinkhorn reg=0.05 (cost / max), {n_histograms} digits + 1e-3",
            {
                "otkit pairwise": sinkhorn_pairwise,
                "POT sinkhorn2 loop" + sinkhorn_note: lambda: upper_loop(
                    lambda a, b: pot.sinkhorn2(a, b, M_unit, 0.05),
                    H_dense,
                    diagonal=True,
                    limit=sinkhorn_subset,
                ),
                **(
                    {}
                    if ott_sinkhorn is None
                    else {
                        "OTT-JAX vmapped batches" + sinkhorn_note: lambda: ott_sinkhorn(
                            H_dense, *upper_pairs(n_histograms, True, sinkhorn_subset)
                        )
                    }
                ),
            },
            {
                name + sinkhorn_note: (sinkhorn_subset, sinkhorn_factor)
                for name in ("POT sinkhorn2 loop", "OTT-JAX vmapped batches")
            },
        ),
        (
            "sinkhorn_divergence",
            (
                f"sinkhorn_divergence reg={reg_divergence}, {n_clouds} clouds of "
                f"{cloud_sizes[0]}-{cloud_sizes[1]} points"
            ),
            {
                "otkit pairwise": divergence_pairwise,
                "otkit pairwise n_jobs=2": lambda: divergence_pairwise(n_jobs=2),
                **{
                    name: lambda f=function, k=subset: upper_loop(f, X, limit=k)
                    for name, (function, subset, _) in divergence_loops.items()
                },
            },
            {name: (subset, factor) for name, (_, subset, factor) in divergence_loops.items()},
        ),
    ]
    cases = [case for case in cases if only is None or case[0] in only]
    pairwise_calls = {"exact": exact_pairwise, "sinkhorn_divergence": divergence_pairwise}
    header = (
        "case",
        "variant",
        "time (s)",
        "CPU (s)",
        "pairwise / variant",
        "CPU ratio",
        "sum of values",
        "rel. diff",
    )
    print("  ".join(f"{h:>24}" for h in header))
    rows, summary = {key: [] for key, *_ in cases}, []
    serial = {}  # each case's serial pairwise time and value
    for key, case, calls, subsets in cases:
        times, cpu, values = time_interleaved(calls, repeats)
        serial[key] = times["otkit pairwise"], cpu["otkit pairwise"], values["otkit pairwise"]
        for name, (subset, factor) in subsets.items():
            if subset and name in times:  # a loop on a subset (that ran): its time for all pairs
                times[name] *= factor
                cpu[name] *= factor
        ours, ours_cpu = times["otkit pairwise"], cpu["otkit pairwise"]
        for name in calls:
            reference = values["otkit pairwise"]
            subset = subsets.get(name, (None, 1.0))[0]
            if subset:  # the subset's values against pairwise's on it
                reference = upper_sum(last[key], key == "sinkhorn", limit=subset)
            rows[key].append(
                table_row(
                    case, name, times[name], cpu[name], ours, ours_cpu, values[name], reference
                )
            )
            if "n_jobs" in name:  # ratio: 2 workers over 1
                summary.append(entry(case, times[name], "n_jobs=1", ours, otkit=name))
            elif name != "otkit pairwise":
                summary.append(entry(case, ours, name, times[name], otkit="otkit pairwise"))
    dask_cases = [case for case in cases if case[0] in pairwise_calls]
    with dask_client(2) if dask_cases else contextlib.nullcontext() as client:
        for key, case, _, _ in dask_cases if client is not None else []:
            joblib_name = "otkit pairwise n_jobs=2, Dask cluster alive"
            calls = {
                joblib_name: lambda call=pairwise_calls[key]: call(n_jobs=2),
                dask: lambda call=pairwise_calls[key]: call(client=client),
            }
            times, cpu, values = time_interleaved(calls, repeats)
            ours, ours_cpu, reference = serial[key]
            for name in calls:
                rows[key].append(
                    table_row(
                        case, name, times[name], cpu[name], ours, ours_cpu, values[name], reference
                    )
                )
            # ratio: the Dask cluster over joblib's 2 workers, both beside the cluster
            summary.append(
                entry(case, times[dask], "joblib n_jobs=2", times[joblib_name], otkit=dask)
            )
    return header, [row for key, *_ in cases for row in rows[key]], summary


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 50 digits, 8 clouds, 1 repeat")
    parser.add_argument("--histograms", type=int, default=None, help="default 500 (quick: 50)")
    parser.add_argument("--clouds", type=int, default=None, help="default 100 (quick: 8)")
    parser.add_argument(
        "--small-clouds",
        type=int,
        default=None,
        help="clouds of 'exact_clouds' (default 100; quick: 20)",
    )
    parser.add_argument(
        "--cloud-sizes",
        type=int,
        nargs=2,
        default=None,
        help="smallest and largest cloud (default 200 500; quick: 50 150)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("exact", "exact_clouds", "sinkhorn", "sinkhorn_divergence"),
        default=None,
        help="the cases to run (default: all)",
    )
    parser.add_argument(
        "--loop-pairs",
        type=int,
        default=None,
        help="time the loops on this many pairs, scaled to all (default: all pairs)",
    )
    parser.add_argument(
        "--histogram-loop-pairs",
        type=int,
        default=None,
        help="the same for the loops of short calls ('exact', 'exact_clouds', 'sinkhorn';"
        " default: --loop-pairs): a POT emd2 call takes ~0.25 ms, so 40 pairs time ~10 ms,"
        " too short to be stable",
    )
    parser.add_argument(
        "--divergence-loop-pairs",
        type=int,
        default=None,
        help="the same for otkit's and GeomLoss's divergence loops (default: --loop-pairs;"
        " POT's takes ~1 s a pair and stays on --loop-pairs): 40 pairs, ~0.5 s of GeomLoss,"
        " gave it 55 s for all pairs where 400 gave 71-86 s",
    )
    args = parser.parse_args(argv)
    n_histograms = args.histograms or (50 if args.quick else 500)
    n_clouds = args.clouds or (8 if args.quick else 100)
    n_small_clouds = args.small_clouds or (20 if args.quick else 100)
    cloud_sizes = tuple(args.cloud_sizes or ((50, 150) if args.quick else (200, 500)))
    repeats = args.repeats or (1 if args.quick else 3)
    output = args.output or RESULTS / ("pairwise_quick.md" if args.quick else "pairwise.md")
    load_before = os.getloadavg()[0]
    header, rows, summary = run(
        n_histograms,
        n_clouds,
        cloud_sizes,
        repeats,
        args.seed,
        args.only,
        args.loop_pairs,
        args.histogram_loop_pairs,
        n_small_clouds,
        args.divergence_loop_pairs,
    )
    load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    setup = (
        f"{n_histograms} scikit-learn digits normalised to the simplex on the 8 x 8 grid "
        "(squared Euclidean cost), and point clouds of "
        f"{cloud_sizes[0]}-{cloud_sizes[1]} 2-D Gaussian points "
        f"(`default_rng({args.seed})`; 'exact_clouds': {n_small_clouds} clouds of "
        f"{SMALL_CLOUD_SIZES[0]}-{SMALL_CLOUD_SIZES[1]} points, uniform weights). Every variant computes the upper triangle (and the "
        "diagonal for 'sinkhorn', whose value there is not 0); the loops call the library "
        "once per pair. 'n_jobs=2': joblib's threads for 'exact', its processes for "
        "'sinkhorn_divergence' (its per-pair path holds the GIL); 'dask 2 workers': a Dask LocalCluster "
        "of 2 single-threaded worker processes on this machine (as pairwise(client='dask') "
        "starts one: its workers without Dask's MALLOC_TRIM_THRESHOLD_), started after the other "
        "rows were timed (a live cluster takes CPU that a call on both cores loses), timed "
        "interleaved with the joblib n_jobs=2 call run again beside it ('Dask cluster "
        "alive'), against which its ratio in the summary is taken; 'pairwise / variant' "
        "there is still against the serial call of the first round. "
        "After one untimed call each, repeats are interleaved and the median "
        "wall-clock time is reported, with the median process CPU time (user + system, all "
        "threads: the machine may be shared, and its load shows in the wall time only); "
        "'pairwise / variant' (wall) and 'CPU ratio' below 1 mean that pairwise is faster. "
        "Loops marked '(K pairs, time x f)' ran on K pairs of the upper triangle drawn at "
        "random (seed 0), "
        "their times multiplied by f to all the pairs, their values compared with pairwise's "
        f"on the same K pairs. Load average (1 min) of the machine: {load}. "
        "'sum of values' adds the computed entries (a check that the variants agree: exact to "
        "rounding, Sinkhorn to its stopping threshold; GeomLoss's values, doubled to otkit's "
        "units, to its annealing schedule, which stops short of convergence; POT's "
        "empirical_sinkhorn_divergence is another quantity, made of linear costs)."
    )
    write_report(output, "Pairwise OT matrices: otkit.pairwise vs loops", "bench_pairwise.py",
                 argv, setup, header, rows)  # fmt: skip
    write_summary(output, "pairwise", "bench_pairwise.py", argv, summary)


if __name__ == "__main__":
    main()
