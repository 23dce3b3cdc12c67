"""Benchmark otkit's Sinkhorn divergence against GeomLoss and OTT-JAX on GeomLoss's 3-D data.

The data are those of GeomLoss's own benchmark (``plot_benchmarks_samplesloss_3D.py``):
``x = z / (2 |z|)`` with ``z ~ N(e1, I_3)`` and ``y`` likewise from ``N(2 e2, I_3)`` -- points
on the sphere of radius 1/2 centred at 0, crowded towards e1 for x and towards e2 for y --
and non-uniform weights ``|N(0, 1)|`` normalized to 1, drawn in NumPy with
``default_rng([seed, n])``. Every library computes the debiased divergence with p = 2 and
blur = 0.05, and its gradient with respect to x, from the same float32 (``--dtype``) inputs:

* otkit ``sinkhorn_divergence(x, y, a, b, blur=0.05, diameter=1, stopThr=...)`` on NumPy
  (no autodiff: the value only, but the solve computes the envelope gradient anyway),
  torch (``torch.autograd.grad``) and JAX (``jax.jit(jax.value_and_grad(...))``);
* otkit ``SamplesLoss("sinkhorn", p=2, blur=0.05, diameter=1, scaling=0.5, stopThr=...)``
  (GeomLoss's object and units: cost |x - y|^2 / 2, eps = blur^2) on torch and JAX, called
  as GeomLoss's is, ``loss(a, x, b, y)``; its value and gradient are multiplied by 2 for
  the errors, as GeomLoss's. Equal accuracy with GeomLoss: GeomLoss at ``scaling=s`` has
  relative errors (e_value, e_grad) against the converged reference; the SamplesLoss row
  compared with it is the fastest one with errors <= both (``stopThr`` 1e-2, 1e-3 or the
  default);
* GeomLoss ``SamplesLoss("sinkhorn", p=2, blur=0.05, diameter=1, scaling=s,
  backend="tensorized")``: its cost is |x - y|^2 / 2 and its eps = blur^2, the same plans
  as otkit's cost |x - y|^2 with eps = 2 blur^2 = 0.005, so its value and gradient are
  multiplied by 2 here. The 'online' and 'multiscale' backends need pykeops;
* OTT-JAX ``sinkhorn_divergence(PointCloud, x, y, a=a, b=b, epsilon=0.005)``: OTT's
  PointCloud cost is |x - y|^2 and its ``reg_ot_cost`` is <P, C> + eps KL(P | a b), otkit's
  units exactly; no annealing (OTT's default), ``threshold`` is its stopping tolerance on
  the L1 marginal error (otkit's ``stopThr`` is on the L2 norm).

The reference is otkit on JAX in float64 with ``stopThr`` 1e-10 (1e-6 above n = 5000),
value and gradient; at n <= ``--dense-check`` it is checked against a dense float64 solve
(``otkit.sinkhorn2`` on the three cost matrices). Each library runs in its own subprocess with
``--threads`` threads (1 by default: on a shared 2-core machine, multithreaded BLAS, torch and
XLA run 3 to 10 times slower than one thread). JAX programs are compiled ahead of time
(``jit(...).lower(...).compile()``; the compile time is reported apart); the others are
warmed up on a tiny problem. Times are the best of 3 runs (2 at n = 5000, 1 above; the
median is shown too), as the machine's load only ever adds time; they are the process's CPU
time (``--clock cpu``, the default: on a shared machine the wall time measures the other
users' load; with one thread per library the CPU time is the time of an idle machine, up to
cache sharing) or the wall time (``--clock wall``). Peak memory: ``ru_maxrss``
increase of one call in a fresh subprocess, with the iterations capped (the peak does not
depend on their number).

Usage::

    python benchmarks/bench_divergence.py                 # full run (about an hour)
    python benchmarks/bench_divergence.py --quick         # n = 500, 1000; memory at 2000
    python benchmarks/bench_divergence.py --sizes 1000 2000 --memory-sizes 20000

GeomLoss, OTT-JAX, torch and JAX are benchmark-only dependencies; a missing one is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import environment_lines
from _report_tools import markdown_table, proc_status_mib
from _summary import entry, write_summary

RESULTS = Path(__file__).resolve().parent / "results"
BLUR, DIAMETER = 0.05, 1.0
EPS = 2 * BLUR**2  # otkit's and OTT's epsilon for the cost |x - y|^2
ACCURACY = 1e-3  # relative error of the value that counts as "equal accuracy"
TENSORIZED_MAX = 5000  # GeomLoss's tensorized backend holds four n x n cost matrices
OTT_DENSE_MAX = 20000  # OTT's online PointCloud is broken with JAX 0.10: dense only
DEFAULT_SIZES = (1000, 2000, 5000, 20000)
DEFAULT_MEMORY_SIZES = (5000, 20000, 100000)

# name -> (library, options); every variant runs in a child process
VARIANTS = {
    "otkit numpy stopThr=1e-4": ("otkit-numpy", {"stopThr": 1e-4}),
    "otkit torch stopThr=1e-4": ("otkit-torch", {"stopThr": 1e-4}),
    "otkit jax stopThr=1e-4": ("otkit-jax", {"stopThr": 1e-4}),
    "otkit jax stopThr=1e-3": ("otkit-jax", {"stopThr": 1e-3}),
    "otkit SamplesLoss torch stopThr=1e-2": ("otkit-samplesloss-torch", {"stopThr": 1e-2}),
    "otkit SamplesLoss torch stopThr=1e-3": ("otkit-samplesloss-torch", {"stopThr": 1e-3}),
    "otkit SamplesLoss torch default": ("otkit-samplesloss-torch", {}),
    "otkit SamplesLoss torch multiscale": ("otkit-samplesloss-torch", {"backend": "multiscale"}),
    "otkit SamplesLoss jax stopThr=1e-3": ("otkit-samplesloss-jax", {"stopThr": 1e-3}),
    "GeomLoss s=0.5": ("geomloss", {"scaling": 0.5}),
    "GeomLoss s=0.9": ("geomloss", {"scaling": 0.9}),
    "OTT-JAX thr=1e-3": ("ott", {"threshold": 1e-3}),
}
MEMORY_VARIANTS = (
    "otkit numpy stopThr=1e-4",
    "otkit torch stopThr=1e-4",
    "otkit jax stopThr=1e-4",
    "GeomLoss s=0.5",
    "OTT-JAX thr=1e-3",
)
# The reference's stopThr: 1e-10, and 1e-6 above n = 5000 (a 1e-10 solve at n = 20000 takes
# most of an hour; at n = 5000 the 1e-6 value is within 7.5e-10 of the 1e-8 one).
REFERENCE_STOPTHR = 1e-10
LARGE_REFERENCE_STOPTHR, LARGE = 1e-6, 5000


def sphere_data(n, seed, dtype="float32"):
    """GeomLoss's benchmark clouds: (a, x, b, y) as NumPy arrays of ``dtype``."""
    rng = np.random.default_rng([seed, n])
    x = rng.standard_normal((n, 3))
    x[:, 0] += 1.0
    x /= 2.0 * np.linalg.norm(x, axis=1, keepdims=True)
    y = rng.standard_normal((n, 3))
    y[:, 1] += 2.0
    y /= 2.0 * np.linalg.norm(y, axis=1, keepdims=True)
    a = np.abs(rng.standard_normal(n))
    b = np.abs(rng.standard_normal(n))
    return tuple(np.asarray(v, dtype=dtype) for v in (a / a.sum(), x, b / b.sum(), y))


# --- the calls (run in the child processes) ----------------------------------------------------


def make_call(library, options, n, seed, dtype, memory=False):
    """A function running one value + gradient computation: () -> (value, grad or None, info).

    ``memory=True`` caps the iterations (for the peak-memory children only).
    """
    a, x, b, y = sphere_data(n, seed, dtype)
    if library.startswith("otkit-samplesloss"):
        return _samples_loss_call(library, options, (a, x, b, y), memory)
    if library.startswith("otkit"):
        import otkit

        kwargs = {"blur": BLUR, "diameter": DIAMETER, "log": True, "warn": False}
        kwargs["stopThr"] = options.get("stopThr")
        kwargs["numItermax"] = options.get("numItermax", 10000)
        if memory:
            kwargs.update(numItermax=1, scaling=None)
        if library == "otkit-numpy":

            def call():
                value, log = otkit.sinkhorn_divergence(x, y, a, b, **kwargs)
                return float(value), None, {"n_iter": int(log["n_iter"])}

            return call
        if library == "otkit-torch":
            import torch

            ta, tx, tb, ty = (torch.from_numpy(v) for v in (a, x, b, y))
            tx.requires_grad_(True)

            def call():
                value, log = otkit.sinkhorn_divergence(tx, ty, ta, tb, **kwargs)
                (grad,) = torch.autograd.grad(value, [tx])
                return float(value), grad.numpy(), {"n_iter": int(log["n_iter"])}

            return call
        import jax

        def value(x, y, a, b):
            out, log = otkit.sinkhorn_divergence(x, y, a, b, **kwargs)
            return out, log["n_iter"]

        return _jax_call(jax.value_and_grad(value, has_aux=True), (x, y, a, b))
    if library == "geomloss":
        import torch
        from geomloss import SamplesLoss

        loss = SamplesLoss(
            "sinkhorn", p=2, blur=BLUR, diameter=DIAMETER, scaling=options["scaling"],
            backend="tensorized",
        )  # fmt: skip
        return _torch_geomloss_call(loss, (a, x, b, y))
    if library == "ott":
        import jax
        from ott.geometry import pointcloud
        from ott.tools.sinkhorn_divergence import sinkhorn_divergence

        solve_kwargs = {"threshold": options["threshold"]}
        if memory:
            solve_kwargs["max_iterations"] = 10

        def value(x, y, a, b):
            out, details = sinkhorn_divergence(
                pointcloud.PointCloud, x, y, a=a, b=b, epsilon=EPS, solve_kwargs=solve_kwargs
            )
            return out, details.n_iters[0]

        return _jax_call(jax.value_and_grad(value, has_aux=True), (x, y, a, b))
    raise ValueError(f"unknown library {library!r}")


def _torch_geomloss_call(loss, arrays):
    """Value and x-gradient of a GeomLoss-units ``loss(a, x, b, y)`` on torch, in otkit's
    units (GeomLoss's cost is |x - y|^2 / 2: twice its value and gradient are otkit's)."""
    import torch

    ta, tx, tb, ty = (torch.from_numpy(v) for v in arrays)
    tx.requires_grad_(True)

    def call():
        value = loss(ta, tx, tb, ty)
        (grad,) = torch.autograd.grad(value, [tx])
        return 2.0 * float(value), 2.0 * grad.numpy(), {}

    return call


def _samples_loss_call(library, options, arrays, memory):
    """otkit's ``SamplesLoss`` in GeomLoss's units, called as GeomLoss's; twice its value
    and gradient are otkit's units (as for GeomLoss)."""
    import otkit

    kwargs = {"p": 2, "blur": BLUR, "diameter": DIAMETER, "scaling": 0.5}
    kwargs.update((k, v) for k, v in options.items() if k in ("stopThr", "scaling", "backend"))
    if memory:
        kwargs.update(numItermax=1, scaling=None)
    loss = otkit.SamplesLoss("sinkhorn", **kwargs)
    a, x, b, y = arrays
    if library == "otkit-samplesloss-torch":
        return _torch_geomloss_call(loss, arrays)
    import jax

    def value(x, y, a, b):
        return 2.0 * loss(a, x, b, y), -1  # (no iteration count)

    return _jax_call(jax.value_and_grad(value, has_aux=True), (x, y, a, b))


def _jax_call(function, arrays):
    """Compile ``function`` ahead of time for ``arrays``; the call runs the compiled program."""
    import jax
    import jax.numpy as jnp

    inputs = tuple(jnp.asarray(v) for v in arrays)
    start = time.perf_counter()
    compiled = jax.jit(function).lower(*inputs).compile()
    compile_seconds = time.perf_counter() - start

    def call():
        (value, n_iter), grad = compiled(*inputs)
        grad = np.asarray(grad.block_until_ready())
        info = {"compile_seconds": compile_seconds}
        if int(n_iter) >= 0:
            info["n_iter"] = int(n_iter)
        return float(value), grad, info

    return call


def warm_up(library, options, seed, dtype):
    """Imports and first-call costs on a tiny problem (JAX compiles per shape: not there)."""
    if library in ("otkit-numpy", "otkit-torch", "otkit-samplesloss-torch", "geomloss"):
        make_call(library, options, 50, seed, dtype)()


def child_time(name, n, args, grad_file):
    library, options = VARIANTS[name]
    warm_up(library, options, args.seed, args.dtype)
    call = make_call(library, options, n, args.seed, args.dtype)
    seconds, wall, value, grad, info = [], [], None, None, {}
    for _ in range(args.repeats_for(n)):
        start, start_cpu = time.perf_counter(), time.process_time()
        value, grad, info = call()
        wall.append(time.perf_counter() - start)
        seconds.append(time.process_time() - start_cpu if args.clock == "cpu" else wall[-1])
    if grad is not None:
        np.save(grad_file, np.asarray(grad, dtype=np.float64))
    out = {"seconds": seconds, "wall": wall, "value": value, "has_grad": grad is not None}
    return {**out, **info}


def child_reference(n, args, grad_file):
    """otkit on JAX in float64 at a tight tolerance; a dense check at small n."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import otkit

    a, x, b, y = sphere_data(n, args.seed, "float64")
    stop_thr = args.reference_stopthr
    if stop_thr is None:
        stop_thr = REFERENCE_STOPTHR if n <= LARGE else LARGE_REFERENCE_STOPTHR
    options = {"stopThr": stop_thr, "numItermax": 100000}
    start = time.perf_counter()
    value, grad, info = make_call("otkit-jax", options, n, args.seed, "float64")()
    out = {"value": value, "seconds": time.perf_counter() - start, "stopThr": stop_thr, **info}
    np.save(grad_file, grad)
    if n <= args.dense_check:
        tight = {"stopThr": 1e-13, "numItermax": 200000, "log": True, "warn": False}
        terms = [
            otkit.sinkhorn2(u, v, otkit.dist(p, q), EPS, **tight)[1]["reg_value"]
            for (u, p), (v, q) in (((a, x), (b, y)), ((a, x), (a, x)), ((b, y), (b, y)))
        ]
        out["dense_value"] = float(terms[0] - 0.5 * (terms[1] + terms[2]))
    return out


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_memory(name, n, args):
    """Peak RSS increase of one call, after imports, warm-up, inputs (and JAX's compile)."""
    import gc

    library, options = VARIANTS[name]
    warm_up(library, options, args.seed, args.dtype)
    call = make_call(library, options, n, args.seed, args.dtype, memory=True)
    gc.collect()
    baseline, resident = max_rss_mib(), proc_status_mib("VmRSS")
    start = time.perf_counter()
    call()
    peak = max_rss_mib()
    return {
        "baseline_mib": baseline,
        "increase_mib": peak - baseline,
        # an earlier peak (e.g. JAX's compiler) can hide part of the call's own peak: the
        # increase over the resident size before the call bounds it from above
        "over_resident_mib": peak - resident,
        "seconds": time.perf_counter() - start,
    }


# --- the parent: run the children, compare, report ---------------------------------------------


def available(library):
    modules = {
        "otkit-numpy": (),
        "otkit-torch": ("torch",),
        "otkit-jax": ("jax",),
        "otkit-samplesloss-torch": ("torch",),
        "otkit-samplesloss-jax": ("jax",),
        "geomloss": ("torch", "geomloss"),
        "ott": ("jax", "ott"),
    }[library]
    import importlib.util

    return all(importlib.util.find_spec(module) is not None for module in modules)


def child_env(threads):
    env = dict(os.environ)
    if threads:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[variable] = str(threads)
        multi = "true" if threads > 1 else "false"
        env["XLA_FLAGS"] = (
            f"--xla_cpu_multi_thread_eigen={multi} intra_op_parallelism_threads={threads}"
        )
    return env


def run_child(argv, args, timeout):
    """Run this script with ``argv`` in a fresh interpreter; its last stdout line is JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), *argv, *args.child_options]
    try:
        done = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(args.threads),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return {"error": (lines[-1] if lines else f"exit code {done.returncode}")[:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def skip_reason(name, n, memory=False, geomloss_max=TENSORIZED_MAX):
    library, _ = VARIANTS[name]
    if not available(library):
        return "not installed"
    if library == "geomloss" and n > geomloss_max:
        return (
            "skipped: 'online' needs pykeops (not installed); 'tensorized' holds four "
            f"n x n matrices ({4 * n * n * 4 / 2**30:.1f} GiB in float32)"
        )
    if library == "ott" and n > OTT_DENSE_MAX:
        return (
            "skipped: PointCloud(batch_size=...) (online) fails with this JAX "
            "(jax.interpreters.batching.is_vmappable is gone); dense needs "
            f"{n * n * 4 / 2**30:.0f} GiB per float32 cost matrix"
        )
    return None


def relative_error(value, reference):
    return abs(value - reference) / abs(reference)


def run_timings(args, workdir):
    rows = {}
    for n in args.sizes:
        grad_file = workdir / f"ref_{n}.npy"
        reference = run_child(["--child", "reference", str(n), str(grad_file)], args, args.timeout)
        if "error" in reference:
            raise SystemExit(f"reference at n={n} failed: {reference['error']}")
        ref_grad = np.load(grad_file)
        check = reference.get("dense_value")
        print(
            f"n={n} reference {reference['value']:.12g} ({reference['n_iter']} iterations, "
            f"{reference['seconds']:.1f} s)"
            + (
                "" if check is None else f"; dense: {relative_error(check, reference['value']):.1e}"
            ),
            flush=True,
        )
        rows[n] = {"reference": reference, "results": {}}
        for name in args.variants:
            reason = skip_reason(name, n, geomloss_max=args.geomloss_max)
            if reason is None:
                file = workdir / f"grad_{n}_{len(rows[n]['results'])}.npy"
                result = run_child(["--child", "time", name, str(n), str(file)], args, args.timeout)
                if "error" not in result:
                    # best of the runs: the machine is shared, and load only ever adds time
                    result["time"] = min(result["seconds"])
                    result["median"] = statistics.median(result["seconds"])
                    result["error_value"] = relative_error(result["value"], reference["value"])
                    if result.pop("has_grad"):
                        grad = np.load(file)
                        result["error_grad"] = float(
                            np.linalg.norm(grad - ref_grad) / np.linalg.norm(ref_grad)
                        )
            else:
                result = {"skipped": reason}
            rows[n]["results"][name] = result
            print(f"n={n} {name:18s} {describe(result)}", flush=True)
    return rows


def describe(result):
    if "skipped" in result or "error" in result:
        return result.get("skipped") or f"error: {result['error']}"
    grad = f", grad {result['error_grad']:.1e}" if "error_grad" in result else ""
    return f"{result['time']:.3f} s, rel. error {result['error_value']:.1e}{grad}"


def run_memory(args):
    memory = {}
    for n in args.memory_sizes:
        for name in MEMORY_VARIANTS:
            if name not in args.variants:
                continue
            reason = skip_reason(name, n, memory=True)
            if reason is None:
                result = run_child(["--child", "memory", name, str(n)], args, args.memory_timeout)
            else:
                result = {"skipped": reason}
            memory[(n, name)] = result
            shown = (
                f"+{result['increase_mib']:.0f} MiB in {result['seconds']:.1f} s"
                if "increase_mib" in result
                else result.get("skipped") or f"error: {result.get('error')}"
            )
            print(f"memory n={n} {name:18s} {shown}", flush=True)
    return memory


def fastest(results, names):
    timed = [(results[k]["time"], k) for k in names if "time" in results.get(k, {})]
    return min(timed) if timed else None


def comparisons(rows):
    """Per n and otkit backend: ratio to the fastest peer with a relative error <= ACCURACY."""
    out = []
    for n, row in rows.items():
        results = row["results"]
        peers = [k for k in results if not k.startswith("otkit")]
        accurate = [k for k in peers if results[k].get("error_value", 1.0) <= ACCURACY]
        best = fastest(results, accurate)
        for mine in (k for k in results if k.startswith("otkit")):
            if best is None or "time" not in results[mine]:
                continue
            out.append((n, mine, results[mine], best[1], best[0]))
    return out


def samples_loss_comparisons(rows):
    """Per n, GeomLoss variant and SamplesLoss backend: the fastest SamplesLoss row whose
    value and gradient errors are both at most GeomLoss's (equal accuracy)."""
    out = []
    for n, row in rows.items():
        results = row["results"]
        for peer in (k for k in results if k.startswith("GeomLoss") and "time" in results[k]):
            bounds = results[peer]["error_value"], results[peer].get("error_grad", 1.0)
            for backend in ("torch", "jax"):
                mine = [
                    k
                    for k in results
                    if k.startswith(f"otkit SamplesLoss {backend}")
                    and "time" in results[k]
                    and results[k]["error_value"] <= bounds[0]
                    and results[k].get("error_grad", 1.0) <= bounds[1]
                ]
                best = fastest(results, mine)
                if best is not None:
                    out.append((n, best[1], results[best[1]], peer, results[peer]["time"]))
    return out


def samples_loss_rows(ratios, rows):
    table = []
    for n, mine, result, peer, seconds in ratios:
        peer_result = rows[n]["results"][peer]
        errors = (
            f"{result['error_value']:.1e} / {result['error_grad']:.1e} vs "
            f"{peer_result['error_value']:.1e} / {peer_result['error_grad']:.1e}"
        )
        cells = [str(n), mine, f"{result['time']:.3f}", peer, f"{seconds:.3f}", errors]
        table.append([*cells, f"{result['time'] / seconds:.2f}"])
    return table


def time_rows(rows):
    table = []
    for n, row in rows.items():
        ref = row["reference"]
        note = (
            f"reference {ref['value']:.10g} (stopThr {ref['stopThr']:g}, {ref['n_iter']} it., "
            f"{ref['seconds']:.0f} s)"
        )
        if "dense_value" in ref:
            dense = relative_error(ref["dense_value"], ref["value"])
            note += f"; a dense float64 solve differs by {dense:.1e}"
        table.append([str(n), "reference", "", "", "", note])
        for name, result in row["results"].items():
            if "time" not in result:
                table.append([str(n), name, "-", "-", "-", describe(result)])
                continue
            extra = [f"{len(result['seconds'])} run(s), median {result['median']:.3f} s"]
            if "n_iter" in result:
                extra.append(f"{result['n_iter']} it.")
            if "compile_seconds" in result:
                extra.append(f"compile {result['compile_seconds']:.1f} s")
            grad = f"{result['error_grad']:.1e}" if "error_grad" in result else "n/a (NumPy)"
            cells = [str(n), name, f"{result['time']:.3f}", f"{result['error_value']:.1e}", grad]
            table.append([*cells, ", ".join(extra)])
    return table


def ratio_rows(ratios):
    table = []
    for n, mine, result, peer, seconds in ratios:
        ratio = f"{result['time'] / seconds:.2f}"
        if result["error_value"] > ACCURACY:
            ratio += " (otkit above the accuracy)"
        table.append([str(n), mine, f"{result['time']:.3f}", peer, f"{seconds:.3f}", ratio])
    return table


def memory_rows(memory):
    table = []
    for (n, name), result in memory.items():
        if "increase_mib" in result:
            cells = [
                f"**{result['increase_mib']:.0f}**",
                f"{result['over_resident_mib']:.0f}",
                f"{result['baseline_mib']:.0f}",
                f"{result['seconds']:.1f}",
            ]
        else:
            cells = [result.get("skipped") or f"error: {result.get('error')}", "", "", ""]
        table.append([str(n), name, *cells])
    return table


def setup_markdown():
    """The docstring's description (paragraphs 2 to 4) as markdown: bullets kept, lines joined."""
    blocks = []
    for paragraph in __doc__.split("\n\n")[1:4]:
        items = ("\n" + paragraph.replace("\n  ", " ")).split("\n* ")
        blocks.append("\n- ".join(item.replace("\n", " ").strip() for item in items).strip())
    return "\n\n".join(blocks)


MEMORY_NOTE = (
    "Iterations capped (otkit: `numItermax=1, scaling=None`; OTT: `max_iterations=10`; "
    "GeomLoss: its full run): the peak is set by the buffers of one pass. 'increase' is over "
    "the process's earlier peak (imports, warm-up, inputs, JAX's compile), 'over RSS' over its "
    "resident size just before the call: the call's own peak lies between the two when an "
    "earlier peak hides part of it."
)


SAMPLES_HEADER = (
    "n", "otkit", "otkit (s)", "GeomLoss", "GeomLoss (s)", "errors value / grad", "ratio",
)  # fmt: skip


def _load(averages):
    return "/".join(f"{v:.1f}" for v in averages)


def write_outputs(args, argv, rows, memory):
    import otkit

    versions = [f"otkit {otkit.__version__}"]
    for module in ("torch", "jax", "geomloss", "ott"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            pass
    title = "Sinkhorn divergence on GeomLoss's 3-D sphere data: otkit vs GeomLoss and OTT-JAX"
    lines = environment_lines(title, "bench_divergence.py", argv)
    lines += [
        f"- Also: {', '.join(versions)}; {args.threads or 'default'} thread(s) per library",
        (
            f"- Clock: {'CPU' if args.clock == 'cpu' else 'wall'} time; load average (1, 5, "
            f"15 min) {_load(args.load_start)} at the start, {_load(os.getloadavg())} at the "
            "end (the machine is shared: other jobs ran during the run)"
        ),
        "",
        "## Setup",
        "",
        setup_markdown(),
        "",
        "## Time of value + gradient (best of the runs), errors relative to the reference",
        "",
        markdown_table(
            ("n", "library", "time (s)", "rel. error (value)", "rel. error (grad x)", "notes"),
            time_rows(rows),
        ),
        "",
    ]
    ratios = comparisons(rows)
    lines += [
        f"## Ratios at equal accuracy (rel. error <= {ACCURACY:g})",
        "",
        "otkit's time over the fastest peer within the accuracy (below 1: otkit is faster).",
        "",
        markdown_table(
            ("n", "otkit", "otkit (s)", "fastest accurate peer", "peer (s)", "ratio"),
            ratio_rows(ratios),
        ),
        "",
    ]
    samples = samples_loss_comparisons(rows)
    lines += [
        "## otkit SamplesLoss vs GeomLoss at equal accuracy",
        "",
        (
            "Per GeomLoss row, the fastest SamplesLoss row (same units, same call) whose "
            "relative errors of the value and of the gradient are both at most GeomLoss's."
        ),
        "",
        markdown_table(SAMPLES_HEADER, samples_loss_rows(samples, rows)),
        "",
    ]
    if memory:
        lines += ["## Peak memory of one call (fresh subprocess, `ru_maxrss`)", "", MEMORY_NOTE]
        header = ("n", "library", "increase (MiB)", "over RSS (MiB)", "baseline peak (MiB)")
        lines += ["", markdown_table((*header, "call (s)"), memory_rows(memory)), ""]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")
    summary = [
        entry(f"n={n}, value+grad, rel. error <= {ACCURACY:g}", res["time"], peer, seconds, mine)
        for n, mine, res, peer, seconds in ratios
    ]
    summary += [
        entry(f"n={n}, value+grad, errors <= {peer}'s", res["time"], peer, seconds, mine)
        for n, mine, res, peer, seconds in samples
    ]
    write_summary(args.output, "divergence", "bench_divergence.py", argv, summary)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="n = 500, 1000; memory at 2000")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=None, help="default: 3, 2 above 2000, 1")
    parser.add_argument("--threads", type=int, default=1, help="0: the libraries' defaults")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument(
        "--geomloss-max", type=int, default=TENSORIZED_MAX, help="largest n for 'tensorized'"
    )
    parser.add_argument(
        "--reference-stopthr", type=float, default=None, help="default: 1e-10, 1e-6 above 5000"
    )
    parser.add_argument("--dense-check", type=int, default=1000, help="dense check up to this n")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per child")
    parser.add_argument("--memory-timeout", type=float, default=900.0)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [500, 1000] if args.quick else list(DEFAULT_SIZES)
    if args.memory_sizes is None:
        args.memory_sizes = [2000] if args.quick else list(DEFAULT_MEMORY_SIZES)
    if args.output is None:
        args.output = RESULTS / ("divergence_quick.md" if args.quick else "divergence.md")
    repeats = args.repeats

    def repeats_for(n):
        if repeats is not None:
            return repeats
        return 3 if n <= 2000 else 2 if n <= 5000 else 1

    args.repeats_for = repeats_for
    args.child_options = [
        "--dtype", args.dtype, "--seed", str(args.seed), "--clock", args.clock,
        "--dense-check", str(args.dense_check),
    ] + ([] if repeats is None else ["--repeats", str(repeats)])  # fmt: skip
    if args.reference_stopthr is not None:
        args.child_options += ["--reference-stopthr", str(args.reference_stopthr)]
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    args.load_start = os.getloadavg()
    if args.child:
        import warnings

        warnings.simplefilter("ignore")
        kind, *rest = args.child
        if kind == "time":
            out = child_time(rest[0], int(rest[1]), args, rest[2])
        elif kind == "reference":
            out = child_reference(int(rest[0]), args, rest[1])
        else:
            out = child_memory(rest[0], int(rest[1]), args)
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_timings(args, Path(tmp))
    memory = run_memory(args) if args.memory_sizes else {}
    write_outputs(args, argv, rows, memory)


if __name__ == "__main__":
    main()
