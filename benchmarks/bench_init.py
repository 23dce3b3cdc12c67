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
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
from _init_report import EPS, N_TRAIN_IMAGES, SIDE, TARGET_ERROR, write_report

RESULTS = Path(__file__).resolve().parent / "results"
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
    """Per pair and start: counts (L1, L2), otkit n_iter, times (L1, L2, the start alone, a
    call with ``numItermax=0``): the columns of ``_init_report.COLUMNS``."""
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

            def fixed(init=init, a=a, b=b):  # a call without iterations: its fixed work
                return ot.sinkhorn(a, b, M, EPS, init=init, stopThr=0.0, numItermax=0, warn=False)

            n_iter = to_l2()
            clock = time.process_time if args.clock == "cpu" else time.perf_counter
            times = [
                statistics.median(timed(call, args.repeats, clock))
                for call in (to_l1, to_l2, start_only, fixed)
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
    full_defaults = {"n_iter": 1500, "batch_size": 64, "hidden": [512, 512], "eval_pairs": 16}
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


if __name__ == "__main__":
    main()
