"""Benchmark learned Sinkhorn starts (Meta OT) against the zero and Gaussian starts.

The problem family of Amos et al. (Meta optimal transport) on scikit-learn's bundled 8x8
digits (no download), upsampled bilinearly to 28x28 (``scipy.ndimage.zoom``, order 1) to
match the paper's MNIST grid: each image is a histogram on the 784 pixel centres of
[0, 1]^2 (zero pixels keep zero mass: the initializer and Sinkhorn leave them out), the
cost is the squared Euclidean distance and eps = 1e-2. ``otkit.MetaInitializer`` is trained
on random pairs of the first 1,500 digits (fresh pairs at every step, from a sampler) and
evaluated on random pairs of the other 297 digits.

For each held-out pair and each start (``ZeroInitializer``, ``GaussianInitializer`` on the
grid points, the trained ``MetaInitializer``), all passed as ``init=`` to
``otkit.sinkhorn`` (default method, NumPy, float64), the script records:

- the iterations to reach a marginal error of 1e-3 in the paper's definition,
  ``||P 1 - a||_1 + ||P^T 1 - b||_1`` (the seed tutorial's ``err``), counted by a NumPy
  replay of otkit's iteration (the same updates: g by c-transform of f, then f, then g; the
  column marginals are exact after each iteration, so the error is the row error), and the
  wall time of ``otkit.sinkhorn(..., init=start, stopThr=0, numItermax=that count)``: the
  time of a solver stopping at the right iteration, the start's computation (prediction
  for Meta OT) included;
- the same for otkit's own stopping rule, ``stopThr=1e-3`` on the L2 norm of the row
  error (otkit's ``marginal error``, smaller than the L1 one by up to sqrt(n)): ``n_iter``
  and the wall time of that call. The replay must agree with otkit's ``n_iter`` here (the
  count of agreeing pairs is reported).

Training runs in float32 with ``--framework`` (torch by default, one intra-op thread:
the batch's (N, 784, 784) c-transform dominates a step and a second thread does not pay on
a shared 2-core machine), with the learning-rate schedule of ``--lr-schedule`` (cosine by
default); with ``--checkpoints k`` the training is split into k ``fit`` calls (each with
its own schedule) and the iteration ratio on a few held-out pairs is checked after each
(not counted in the training time). Solve times are CPU times of the process by default
(``--clock cpu``; ``--clock wall`` for wall-clock). A diagnosis section compares each
start's potential with the converged one (sup error in units of eps, and the zero-start
iteration that is as close). An optional section trains OTT-JAX's ``MetaInitializer`` (its 3-layer MLP of
the given width, optax Adam) on the same pairs for the same number of steps, in another
Python (``--ott-python``, e.g. a separate venv with ott-jax; skipped when none imports
``ott``), and evaluates its predicted potentials with the same otkit Sinkhorn.

Usage::

    python benchmarks/bench_init.py                 # writes benchmarks/results/init.md
    python benchmarks/bench_init.py --quick         # small run, writes init_quick.md
    python benchmarks/bench_init.py --framework jax --ott-python /tmp/ott-venv/bin/python

Timings depend on the load of the machine (recorded in the report); nothing here asserts
on them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
from _summary import entry, write_summary
from bench_emd import cpu_model, markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
EPS = 1e-2
TARGET_ERROR = 1e-3
SIDE = 28
N_TRAIN_IMAGES = 1500
MAX_ITER = 5000
STARTS = ("zero", "Gaussian", "Meta OT")


# --- data ----------------------------------------------------------------------------------------


def digit_histograms(side=SIDE):
    """(1797, side**2) histograms of the digits upsampled to side x side, and the grid."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    images = load_digits().images
    if side != images.shape[1]:
        images = np.stack([zoom(image, side / images.shape[1], order=1) for image in images])
    H = np.clip(images.reshape(len(images), -1), 0.0, None)
    H /= H.sum(axis=1, keepdims=True)
    coordinates = np.linspace(0.0, 1.0, side)
    column, row = np.meshgrid(coordinates, coordinates)
    grid = np.stack([column.ravel(), 1.0 - row.ravel()], axis=1)
    M = np.sum((grid[:, None, :] - grid[None, :, :]) ** 2, axis=2)
    return H, grid, M


def pair_sampler(train):
    """sampler(rng_or_key, batch) -> random pairs of training digits (torch: a NumPy
    Generator; jax: a key, turned into a Generator)."""

    def sample(rng, batch_size):
        if not isinstance(rng, np.random.Generator):
            import jax

            rng = np.random.default_rng(np.asarray(jax.random.key_data(rng)).ravel())
        pairs = rng.integers(len(train), size=(batch_size, 2))
        return train[pairs[:, 0]], train[pairs[:, 1]]

    return sample


# --- iteration counts: a NumPy replay of otkit's Sinkhorn iteration ------------------------------


def _c_transform(h, w, K, M, eps):
    """-eps log sum_i w_i exp(h_i / eps) K_ij over the bins of positive weight (stabilized by
    max h; the log domain if the product underflows)."""
    mask = w > 0
    top = np.max(h[mask])
    scaled = w * np.exp(np.where(mask, h - top, -np.inf) / eps)
    s = scaled @ K
    if np.all(s > 0):
        return -eps * np.log(s) - top
    with np.errstate(divide="ignore"):
        X = np.log(w)[:, None] + (h[:, None] - M) / eps
    peak = np.max(X, axis=0)
    return -eps * (np.log(np.sum(np.exp(X - peak), axis=0)) + peak)


def iterations_to_target(a, b, f, M, K, eps=EPS, target=TARGET_ERROR, max_iter=MAX_ITER):
    """Iterations from the start f until the L1 and the L2 row-marginal errors are below
    ``target``: ``(count_l1, count_l2)`` (max_iter + 1 when not reached).

    One iteration: f <- c-transform of g over b, g <- c-transform of f over a (g is first
    computed from the start's f, as otkit does); after it the columns are exact and the row
    sums are a_i exp((f_i - f_next_i) / eps), f_next the next row update.
    """
    f = np.where(a > 0, f, 0.0)
    g = _c_transform(f, a, K, M, eps)
    counts = {}
    for k in range(max_iter + 1):
        f_next = _c_transform(g, b, K.T, M.T, eps)
        if k > 0:
            error = np.where(a > 0, a * np.expm1(np.minimum((f - f_next) / eps, 700.0)), 0.0)
            if "l1" not in counts and np.sum(np.abs(error)) < target:
                counts["l1"] = k
            if "l2" not in counts and np.linalg.norm(error) < target:
                counts["l2"] = k
            if len(counts) == 2:
                break
        f = f_next
        g = _c_transform(f, a, K, M, eps)
    return counts.get("l1", max_iter + 1), counts.get("l2", max_iter + 1)


def converged_potential(a, b, M, K, eps=EPS, tol=1e-10, max_iter=20_000):
    """The row potential f* of Sinkhorn's fixed point (L1 marginal error < tol), and the
    sup-norm errors of the zero start's iterates along the way (centred, on the bins of
    positive mass): the zero start's error after k iterations is ``trail[k]``."""
    f = np.zeros_like(a)
    iterates = [f]
    for _ in range(max_iter):
        g = _c_transform(f, a, K, M, eps)
        f_next = np.where(a > 0, _c_transform(g, b, K.T, M.T, eps), 0.0)
        error = np.where(a > 0, a * np.expm1(np.minimum((f - f_next) / eps, 700.0)), 0.0)
        f = f_next
        iterates.append(f)
        if np.sum(np.abs(error)) < tol:
            break
    trail = np.array([potential_error(x, f, a) for x in iterates])
    return f, trail


def potential_error(f, f_star, a):
    """sup |f - f* - c| over the bins where a > 0, c the a-weighted mean of f - f* (the
    potentials are defined up to a constant)."""
    d = (f - f_star)[a > 0]
    return float(np.max(np.abs(d - np.sum(a[a > 0] * d))))


def diagnose(pairs, initializers, M, K, names=("Gaussian", "Meta OT")):
    """Per start: the mean sup error of the start's potential (in eps), split into the bins
    of mass >= 1/n and the lighter ones, and how many zero-start iterations reach the same
    error (the iterations the start saves, if the rest of its error decayed as Sinkhorn's)."""
    out = {name: [] for name in names}
    for a, b in pairs:
        f_star, trail = converged_potential(a, b, M, K)
        heavy = a >= 1.0 / a.size
        for name in names:
            f = np.asarray(initializers[name].init_potentials(a, b, M, EPS)[0])
            d = np.where(a > 0, f - f_star, 0.0)
            d = d - np.sum(a * d)
            error = np.max(np.abs(d[a > 0]))
            reached = np.flatnonzero(trail <= error)
            out[name].append(
                (
                    error / EPS,
                    np.max(np.abs(d[heavy])) / EPS,
                    np.max(np.abs(d[(a > 0) & ~heavy]), initial=0.0) / EPS,
                    reached[0] if reached.size else len(trail),
                )
            )
    return {name: np.mean(np.asarray(v, dtype=float), axis=0) for name, v in out.items()}


# --- training ------------------------------------------------------------------------------------


def train_meta(args, M, train, check_pairs, K):
    """Fit otkit.MetaInitializer in chunks; returns (initializer, seconds, checkpoints)."""
    import otkit as ot

    hidden = tuple(args.hidden) if args.hidden else None
    init = ot.MetaInitializer(M, EPS, hidden_sizes=hidden, framework=args.framework, seed=0)
    sampler = pair_sampler(train)
    zero = [iterations_to_target(a, b, np.zeros_like(a), M, K) for a, b in check_pairs]
    chunks = np.linspace(0, args.n_iter, args.checkpoints + 1).round().astype(int)
    seconds, cpu_seconds, checkpoints = 0.0, 0.0, []
    for done, todo in zip(chunks[:-1], np.diff(chunks)):
        start, cpu_start = time.perf_counter(), time.process_time()
        init.fit(
            sampler,
            n_iter=int(todo),
            batch_size=args.batch_size,
            lr=args.lr,
            lr_schedule=args.lr_schedule,
        )
        seconds += time.perf_counter() - start
        cpu_seconds += time.process_time() - cpu_start
        counts = []
        for a, b in check_pairs:
            f, _ = init.predict(a, b)
            counts.append(iterations_to_target(a, b, f, M, K))
        ratio = [np.mean([c[k] for c in counts]) / np.mean([z[k] for z in zero]) for k in range(2)]
        loss = float(np.mean(init.loss_history_[-min(50, len(init.loss_history_)) :]))
        checkpoints.append((int(done + todo), seconds, loss, *ratio, cpu_seconds))
        print(
            f"  step {done + todo:6d}  {seconds:7.1f} s  loss {loss:.5f}  Meta/zero iterations "
            f"(L1, L2) on {len(check_pairs)} pairs: {ratio[0]:.2f}, {ratio[1]:.2f}",
            flush=True,
        )
    return init, seconds, checkpoints


# --- evaluation ----------------------------------------------------------------------------------


def evaluate(args, M, K, grid, pairs, initializers):
    """Per pair and start: counts (L1, L2), otkit n_iter, times; and the prediction times."""
    import otkit as ot

    rows = {name: [] for name in initializers}
    for index, (a, b) in enumerate(pairs):
        for name, init in initializers.items():
            f, _ = init.init_potentials(a, b, M, EPS)
            count_l1, count_l2 = iterations_to_target(a, b, np.asarray(f), M, K)

            def to_l1(init=init, k=count_l1, a=a, b=b):
                return ot.sinkhorn(a, b, M, EPS, init=init, stopThr=0.0, numItermax=k, warn=False)

            def to_l2(init=init, a=a, b=b):
                return ot.sinkhorn(
                    a, b, M, EPS, init=init, stopThr=TARGET_ERROR, log=True, numItermax=MAX_ITER
                )[1]["n_iter"]

            def start_only(init=init, a=a, b=b):
                return init.init_potentials(a, b, M, EPS)

            n_iter = to_l2()
            clock = time.process_time if args.clock == "cpu" else time.perf_counter
            times = [
                statistics.median(timed(call, args.repeats, clock))
                for call in (to_l1, to_l2, start_only)
            ]
            rows[name].append((count_l1, count_l2, n_iter, *times))
        if index % 8 == 7:
            print(f"  evaluated {index + 1} pairs", flush=True)
    return rows


def timed(call, repeats, clock):
    out = []
    for _ in range(repeats):
        start = clock()
        call()
        out.append(clock() - start)
    return out


class PotentialStart:
    """An initializer from precomputed row potentials (OTT-JAX's predictions), keyed by pair."""

    def __init__(self, table):
        self.table = table

    def init_potentials(self, a, b, M, reg):
        f = self.table[a.tobytes() + b.tobytes()]
        return f, np.zeros(M.shape[1])


# --- OTT-JAX (another interpreter) ---------------------------------------------------------------

OTT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import jax, jax.numpy as jnp, optax, flax.linen as nn
    import ott
    from ott.geometry import geometry
    from ott.problems.linear import linear_problem
    try:  # ott-jax >= 0.4: the neural initializers live apart
        from ott.initializers.neural.meta_initializer import MetaInitializer
    except ImportError:
        from ott.initializers.linear.initializers import MetaInitializer

    data = np.load(sys.argv[1])
    cfg = json.loads(sys.argv[2])
    M, train, A_eval, B_eval = data["M"], data["train"], data["A_eval"], data["B_eval"]
    geom = geometry.Geometry(cost_matrix=jnp.asarray(M, jnp.float32), epsilon=cfg["eps"])

    class MLP(nn.Module):
        sizes: tuple
        out: int

        @nn.compact
        def __call__(self, z):
            for h in self.sizes:
                z = nn.relu(nn.Dense(h)(z))
            return nn.Dense(self.out)(z)

    meta = MetaInitializer(
        geom, meta_model=MLP(tuple(cfg["hidden"]), M.shape[0]),
        opt=optax.adam(learning_rate=cfg["lr"]), rng=jax.random.PRNGKey(0),
    )
    rng = np.random.default_rng(1)
    def batch():
        pairs = rng.integers(len(train), size=(cfg["batch_size"], 2))
        return jnp.asarray(train[pairs[:, 0]], jnp.float32), jnp.asarray(train[pairs[:, 1]], jnp.float32)
    a, b = batch()
    start = time.perf_counter()
    loss, _, meta.state = meta.update(meta.state, a=a, b=b)
    jax.block_until_ready(loss)
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    losses = []
    for step in range(cfg["n_iter"] - 1):
        a, b = batch()
        loss, _, meta.state = meta.update(meta.state, a=a, b=b)
        losses.append(loss)
    jax.block_until_ready(loss)
    seconds = time.perf_counter() - start
    F = []
    for a, b in zip(A_eval, B_eval):
        prob = linear_problem.LinearProblem(geom, a=jnp.asarray(a, jnp.float32), b=jnp.asarray(b, jnp.float32))
        predict = getattr(meta, "init_fu", None) or meta.init_dual_a
        F.append(np.asarray(predict(prob, lse_mode=True), dtype=np.float64))
    np.save(sys.argv[3], np.stack(F))
    tail = [float(x) for x in losses[-50:]]
    print(json.dumps({"version": ott.__version__, "seconds": seconds,
                      "compile_seconds": compile_seconds,
                      "loss": float(np.mean(tail)) if tail else float("nan")}))
    """
)


def run_ott(args, M, train, pairs):
    """Train OTT-JAX's MetaInitializer in ``args.ott_python``; returns (info, otkit-style
    row potentials per pair) or (reason, None)."""
    python = args.ott_python or sys.executable
    probe = subprocess.run(
        [python, "-c", "import ott, flax, optax"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"not run: `import ott, flax, optax` fails in {python}", None
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "f.npy"
        np.savez(
            data,
            M=M,
            train=train,
            A_eval=np.stack([a for a, _ in pairs]),
            B_eval=np.stack([b for _, b in pairs]),
        )
        config = {
            "eps": EPS,
            "hidden": list(args.hidden or (1024, 1024, 1024)),
            "lr": args.lr,
            "batch_size": args.batch_size,
            "n_iter": args.n_iter,
        }
        script = Path(tmp) / "ott_meta.py"
        script.write_text(OTT_SCRIPT)
        env = {**os.environ, "JAX_PLATFORMS": "cpu"}
        done = subprocess.run(
            [python, str(script), str(data), json.dumps(config), str(out)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            return "failed: " + done.stderr.strip().splitlines()[-1][:300], None
        info = json.loads(done.stdout.strip().splitlines()[-1])
        F = np.load(out)
    # OTT's potentials: P_ij = exp((f_i + g_j - C_ij) / eps); otkit's carry a_i b_j apart.
    table = {}
    for (a, b), f in zip(pairs, F):
        with np.errstate(divide="ignore"):
            table[a.tobytes() + b.tobytes()] = np.where(a > 0, f - EPS * np.log(a), 0.0)
    return info, table


# --- report --------------------------------------------------------------------------------------


def summarize(rows):
    """name -> mean of each column (count_l1, count_l2, n_iter, t_l1, t_l2, t_start)."""
    return {name: np.mean(np.asarray(r, dtype=float), axis=0) for name, r in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run, writes init_quick.md")
    parser.add_argument("--framework", choices=("torch", "jax"), default="torch")
    parser.add_argument("--n-iter", type=int, default=None, help="training steps")
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per step")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="hidden widths")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-pairs", type=int, default=None)
    parser.add_argument(
        "--checkpoints",
        type=int,
        default=1,
        help="evaluate during training (each chunk is a fit call: its own lr schedule)",
    )
    parser.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="solve times: CPU time of this process (robust to a loaded machine) or wall",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per solve (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument(
        "--ott-python", default=None, help="a Python with ott-jax (default: this one)"
    )
    parser.add_argument("--skip-ott", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    quick_defaults = {"n_iter": 100, "batch_size": 16, "hidden": [256, 256], "eval_pairs": 8}
    full_defaults = {"n_iter": 500, "batch_size": 64, "hidden": [512, 512], "eval_pairs": 16}
    for key, value in (quick_defaults if args.quick else full_defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    output = args.output or RESULTS / ("init_quick.md" if args.quick else "init.md")
    warnings.simplefilter("ignore")
    # one BLAS thread: the solves compared are single-threaded, and idle BLAS threads that
    # spin after a product would count in the CPU clock (and steal the machine's second core)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if args.framework == "torch":
        import torch

        torch.set_num_threads(args.threads)
    else:
        import jax

        jax.config.update("jax_platforms", "cpu")
    import otkit as ot

    load_before = os.getloadavg()
    H, grid, M = digit_histograms()
    K = np.exp(-M / EPS)
    train, held_out = H[:N_TRAIN_IMAGES], H[N_TRAIN_IMAGES:]
    rng = np.random.default_rng(0)
    chosen = rng.integers(len(held_out), size=(args.eval_pairs, 2))
    pairs = [(held_out[i], held_out[j]) for i, j in chosen]
    print(
        f"training MetaInitializer ({args.framework}, hidden {args.hidden}, batch "
        f"{args.batch_size}, {args.n_iter} steps, lr {args.lr:g})",
        flush=True,
    )
    meta, train_seconds, checkpoints = train_meta(args, M, train, pairs[:8], K)
    train_cpu_seconds = checkpoints[-1][5]
    initializers = {
        "zero": ot.ZeroInitializer(),
        "Gaussian": ot.GaussianInitializer(grid, grid),
        "Meta OT": meta,
    }
    ott_info = "skipped (--skip-ott)"
    if not args.skip_ott:
        print("training OTT-JAX MetaInitializer on the same pairs ...", flush=True)
        ott_info, table = run_ott(args, M, train, pairs)
        if table is not None:
            initializers["OTT-JAX Meta OT"] = PotentialStart(table)
        print(f"  OTT-JAX: {ott_info}", flush=True)
    print(f"evaluating on {len(pairs)} held-out pairs", flush=True)
    evaluate(args, M, K, grid, pairs[:1], initializers)  # first calls: caches, imports
    rows = evaluate(args, M, K, grid, pairs, initializers)
    print("diagnosis: errors of the starts against the converged potentials", flush=True)
    diagnosis = diagnose(pairs, initializers, M, K)
    loads = (load_before, os.getloadavg())
    write_report(
        args,
        output,
        rows,
        (train_seconds, train_cpu_seconds),
        checkpoints,
        ott_info,
        loads,
        argv,
        diagnosis,
    )


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
            f"median of {args.repeats} runs and include the start's computation (prediction "
            "and c-transforms for Meta OT, the Gaussian fit for the Gaussian start); "
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
            ]
        )
    lines += [markdown_table(header, table), ""]
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


if __name__ == "__main__":
    main()
