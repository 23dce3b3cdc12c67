"""The markdown and JSON reports of ``bench_init.py`` (learned Sinkhorn starts), and the
constants of its problem, shared by the two modules."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys

import numpy as np
from _report_tools import cpu_model, markdown_table
from _summary import entry, write_summary

__all__ = ["EPS", "N_TRAIN_IMAGES", "SIDE", "TARGET_ERROR", "summarize", "write_report"]

EPS = 1e-2
TARGET_ERROR = 1e-3
SIDE = 28
N_TRAIN_IMAGES = 1500

# columns of a row of ``evaluate``
COLUMNS = ("count_l1", "count_l2", "n_iter", "t_l1", "t_l2", "t_start", "t_fixed")


def summarize(rows):
    """name -> mean of each column (:data:`COLUMNS`)."""
    return {name: np.mean(np.asarray(r, dtype=float), axis=0) for name, r in rows.items()}


def _fixed_cost_for(ratio, zero, meta, per_iteration):
    """Fixed cost F (zero start) at which (F + extra + k_meta t) / (F + k_zero t) = ratio,
    ``extra`` the Meta start's additional fixed cost (its prediction)."""
    extra = meta[6] - zero[6]
    return (ratio * zero[0] * per_iteration - extra - meta[0] * per_iteration) / (1.0 - ratio)


def write_report(args, output, rows, train_times, checkpoints, ott_info, loads, argv, diagnosis):
    import otkit

    train_seconds, train_cpu_seconds = train_times

    argv = sys.argv[1:] if argv is None else list(argv)
    mean = summarize(rows)
    versions = [f"numpy {np.__version__}", f"otkit {otkit.__version__}"]
    for module in ("torch", "jax", "sklearn", "scipy"):
        if module in sys.modules:
            versions.append(f"{module} {getattr(sys.modules[module], '__version__', '?')}")
    if isinstance(ott_info, dict):
        versions.append(f"ott-jax {ott_info['version']} (in {args.ott_python or sys.executable})")
    before, after = (", ".join(f"{x:.1f}" for x in load) for load in loads)
    lines = [
        "# Learned Sinkhorn starts (Meta OT) vs zero and Gaussian starts",
        "",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Platform: {platform.platform()}; CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"- Versions: {', '.join(versions)}",
        f"- Reproduce: `{shlex.join(['python', 'benchmarks/bench_init.py', *argv])}`",
        f"- Load average (1, 5, 15 min) at start: {before}; at end: {after}",
        "",
        "## Setup",
        "",
        (
            f"scikit-learn's 8x8 digits upsampled bilinearly to {SIDE}x{SIDE}, histograms on the "
            f"pixel centres of [0, 1]^2 (zero pixels keep zero mass), squared Euclidean cost, "
            f"eps = {EPS:g}. Training: random pairs of the first {N_TRAIN_IMAGES} digits; "
            f"evaluation: {len(next(iter(rows.values())))} random pairs of the other "
            f"{1797 - N_TRAIN_IMAGES}. MetaInitializer: hidden sizes {tuple(args.hidden)}, "
            f"framework {args.framework} ({args.threads} thread(s) for torch), Adam lr "
            f"{args.lr:g} ({args.lr_schedule} schedule), clip 1, batch {args.batch_size}, "
            f"{args.n_iter} steps. Sinkhorn: "
            "`otkit.sinkhorn(a, b, M, eps, init=start)` (default method, NumPy float64). "
            "**L1 error** (the paper's and the seed tutorial's `err`): "
            "||P1-a||_1 + ||P^T 1-b||_1 < 1e-3; iterations counted by a NumPy replay of "
            "otkit's iteration, time of `sinkhorn(..., stopThr=0, numItermax=count)`. "
            "**L2 error** (otkit's `stopThr`): ||P1-a||_2 < 1e-3 (columns exact), time and "
            "`n_iter` of `sinkhorn(..., stopThr=1e-3)`. Times are means over pairs of the "
            f"median of {args.repeats} runs and include the start's computation (for Meta "
            "OT the prediction of f alone: `sinkhorn` calls its `init_row_potentials`, its "
            "first half step computing g; the Gaussian fit for the Gaussian start; 'start "
            "only' times `init_potentials`, f and g); the log of the L2 runs (`log=True`, "
            "for `n_iter`) adds the potentials on the zero-mass bins and the marginals; "
            + (
                "they are CPU times of this process (`time.process_time`: on a shared, loaded "
                "machine wall times mostly measure the other processes)."
                if args.clock == "cpu"
                else "they are wall times."
            )
        ),
        "",
        "## Results (means over the held-out pairs)",
        "",
    ]
    header = [
        "start",
        "iterations (L1 1e-3)",
        "time L1 (s)",
        "iterations (L2 1e-3)",
        "otkit n_iter",
        "time L2 (s)",
        "start only (s)",
        "start / zero, iterations L1",
        "start / zero, time L1",
        "start / zero, iterations L2",
        "start / zero, time L2",
        "0 iterations (s)",
    ]
    zero = mean["zero"]
    table = []
    for name, m in mean.items():
        table.append(
            [
                name,
                f"{m[0]:.1f}",
                f"{m[3]:.4f}",
                f"{m[1]:.1f}",
                f"{m[2]:.1f}",
                f"{m[4]:.4f}",
                f"{m[5]:.4f}",
                f"{m[0] / zero[0]:.2f}",
                f"{m[3] / zero[3]:.2f}",
                f"{m[1] / zero[1]:.2f}",
                f"{m[4] / zero[4]:.2f}",
                f"{m[6]:.4f}",
            ]
        )
    lines += [markdown_table(header, table), ""]
    per_iteration = (zero[3] - zero[6]) / zero[0]
    lines += [
        (
            f"Cost of a call: '0 iterations' is `sinkhorn(..., numItermax=0)` with the start "
            "(validation, the start, the kernel on the bins of positive mass, the first error, "
            f"the plan on the full grid): {1e3 * zero[6]:.2f} ms from the zero start, "
            f"{1e3 * mean['Meta OT'][6]:.2f} ms from Meta OT (prediction included); then "
            f"{1e3 * per_iteration:.3f} ms per iteration (zero start, L1 runs). With "
            f"{zero[0]:.1f} and {mean['Meta OT'][0]:.1f} iterations, a time ratio of 0.6 "
            "needs a fixed cost (zero start) below "
            f"{1e3 * _fixed_cost_for(0.6, zero, mean['Meta OT'], per_iteration):.2f} ms "
            "at this per-iteration cost."
        ),
        "",
    ]
    agree = sum(r[1] == r[2] for r in rows["zero"] + rows["Gaussian"] + rows["Meta OT"])
    total = 3 * len(rows["zero"])
    lines += [
        (
            f"The replay's L2 count equals otkit's `n_iter` on {agree} of {total} (pair, "
            "start) solves."
        ),
        "",
        "## Training",
        "",
        (
            f"otkit MetaInitializer ({args.framework}): {train_seconds:.1f} s wall, "
            f"{train_cpu_seconds:.1f} s CPU, for {args.n_iter} steps "
            f"({train_seconds / max(args.n_iter, 1):.3f} s wall per step)."
        ),
        "",
        markdown_table(
            [
                "steps",
                "training time (s)",
                "loss (mean of last 50)",
                "Meta / zero iterations L1 (8 pairs)",
                "Meta / zero iterations L2 (8 pairs)",
            ],
            [
                [str(s), f"{t:.1f}", f"{loss:.5f}", f"{r1:.2f}", f"{r2:.2f}"]
                for s, t, loss, r1, r2, _ in checkpoints
            ],
        ),
        "",
    ]
    lines += [
        "## Diagnosis: the error of each start against the converged potential",
        "",
        (
            "f* from 20,000 iterations at most (L1 error < 1e-10); errors in units of eps, "
            "sup norm over the bins of positive mass after removing the a-weighted mean "
            "(potentials are defined up to a constant); bins of mass >= 1/n vs lighter ones; "
            "'zero-start equivalent': the first iteration of the zero start whose potential "
            "is as close to f*."
        ),
        "",
        markdown_table(
            [
                "start",
                "sup error (eps)",
                "heavy bins",
                "light bins",
                "zero-start equivalent (iterations)",
                "its iterations to L1 1e-3",
            ],
            [
                [
                    name,
                    f"{d[0]:.2f}",
                    f"{d[1]:.2f}",
                    f"{d[2]:.2f}",
                    f"{d[3]:.1f}",
                    f"{mean[name][0]:.1f}",
                ]
                for name, d in diagnosis.items()
            ],
        ),
        "",
        (
            f"The zero start needs {zero[0]:.1f} iterations; a start equivalent to k zero-start "
            f"iterations saves k of them only if its error decays like the zero start's after "
            "k: the rest is Sinkhorn's linear tail, which no start shortens except by a smaller "
            "error."
        ),
        "",
    ]
    lines += ["## OTT-JAX", ""]
    if isinstance(ott_info, dict):
        m = mean["OTT-JAX Meta OT"]
        lines.append(
            f"OTT-JAX {ott_info['version']} `MetaInitializer` (flax MLP of widths "
            f"{tuple(args.hidden)}, optax Adam lr {args.lr:g}, same batch size and steps, same "
            f"training digits): {ott_info['seconds']:.1f} s for {args.n_iter - 1} steps after a "
            f"first (compiling) step of {ott_info['compile_seconds']:.1f} s; otkit: "
            f"{train_seconds:.1f} s for {args.n_iter}. Its predictions, converted to otkit's "
            "potentials (f - eps log a), run through the same otkit Sinkhorn: "
            f"{m[0]:.1f} iterations (L1) vs {mean['Meta OT'][0]:.1f} for otkit's and "
            f"{zero[0]:.1f} from zero; the prediction is computed beforehand in OTT's process, "
            "so its times above exclude it."
        )
    else:
        lines.append(f"OTT-JAX {ott_info}.")
    meta_m, gauss = mean["Meta OT"], mean["Gaussian"]

    def verdict(ok):
        return "met" if ok else "**not met**"

    lines += [
        "",
        "## Targets",
        "",
        (
            f"- Meta / zero iterations, L1 error: {meta_m[0] / zero[0]:.2f} (target <= 0.5: "
            f"{verdict(meta_m[0] / zero[0] <= 0.5)}); L2 error: {meta_m[1] / zero[1]:.2f} "
            f"({verdict(meta_m[1] / zero[1] <= 0.5)})"
        ),
        (
            f"- Meta / zero time, prediction included, L1: {meta_m[3] / zero[3]:.2f} (target "
            f"<= 0.6: {verdict(meta_m[3] / zero[3] <= 0.6)}); L2: {meta_m[4] / zero[4]:.2f} "
            f"({verdict(meta_m[4] / zero[4] <= 0.6)})"
        ),
        (
            f"- Meta / Gaussian, L1: iterations {meta_m[0] / gauss[0]:.2f}, time "
            f"{meta_m[3] / gauss[3]:.2f}; L2: iterations {meta_m[1] / gauss[1]:.2f}, time "
            f"{meta_m[4] / gauss[4]:.2f} (target: below 1)"
        ),
        (
            f"- Training time: {train_seconds:.0f} s wall, {train_cpu_seconds:.0f} s CPU "
            "(target <= 600 s)"
        ),
        "",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {output}")
    case = f"digits {SIDE}x{SIDE}, eps={EPS:g}, L1 err<{TARGET_ERROR:g}"
    entries = [
        entry(case, meta_m[3], "zero start", zero[3], otkit="otkit Meta OT start"),
        entry(case, meta_m[3], "Gaussian start", gauss[3], otkit="otkit Meta OT start"),
    ]
    if isinstance(ott_info, dict):
        entries.append(
            entry(
                f"training {args.n_iter} steps",
                train_seconds,
                "OTT-JAX MetaInitializer",
                ott_info["seconds"] + ott_info["compile_seconds"],
                otkit=f"otkit MetaInitializer ({args.framework})",
            )
        )
    write_summary(output, "init", "bench_init.py", argv, entries)
