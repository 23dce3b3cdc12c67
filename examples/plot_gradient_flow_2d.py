"""
Gradient flows of OT_eps, S_eps and unbalanced S_eps between two 2-D point clouds
=================================================================================

Particles x_i move along -grad_{x_i} L / a_i for L = OT_eps (biased: the flow shrinks the
cloud, the entropic bias), the debiased Sinkhorn divergence S_eps (the cloud lands on the
target) and S_eps with a finite ``reach`` (unbalanced: far mass is not forced to travel).
Both densities are generated in code. ``python plot_gradient_flow_2d.py --n 400 --steps 10
--output-dir out`` runs longer flows on larger clouds (the defaults take a few seconds).

Environment variables: ``OTKIT_EXAMPLE_SMALL=1`` runs shorter flows on smaller clouds,
``OTKIT_EXAMPLE_OUTPUT=dir`` chooses where the figure is written (default: the current
directory; ``--output-dir`` overrides it).
"""

from __future__ import annotations

import argparse
import os
import pathlib

import numpy as np

import otkit as ot

SMALL = os.environ.get("OTKIT_EXAMPLE_SMALL", "").strip().lower() not in ("", "0", "false")
OUTPUT = pathlib.Path(os.environ.get("OTKIT_EXAMPLE_OUTPUT") or ".")


def crescent(n, rng):
    angle = rng.uniform(0.2 * np.pi, 1.3 * np.pi, n)
    radius = 0.35 + 0.04 * rng.normal(size=n)
    return np.stack([0.5 + radius * np.cos(angle), 0.5 + radius * np.sin(angle)], axis=1)


def blob(n, rng):
    return np.array([0.6, 0.35]) + 0.08 * rng.normal(size=(n, 2))


def flow(x, y, steps, step_size, **options):
    """Explicit Euler steps of the Wasserstein gradient flow (NumPy: gradient from torch)."""
    import torch

    # A few hundred points: one thread is faster than several fighting over the cores.
    torch.set_num_threads(1)
    target = torch.tensor(y)
    points = torch.tensor(x, requires_grad=True)
    n = x.shape[0]
    history = [x.copy()]
    for _ in range(steps):
        value = ot.sinkhorn_divergence(points, target, warn=False, **options)
        (grad,) = torch.autograd.grad(value, [points])
        with torch.no_grad():
            points -= step_size * n * grad  # grad / a_i with a_i = 1 / n
        history.append(points.detach().numpy().copy())
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60 if SMALL else 150)
    parser.add_argument("--steps", type=int, default=3 if SMALL else 5)
    parser.add_argument("--blur", type=float, default=0.05)
    parser.add_argument("--output-dir", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    x, y = blob(args.n, rng), crescent(args.n, rng)
    flows = {
        "OT_eps (biased, eps = 2 (5 blur)^2)": flow(
            x, y, args.steps, 0.25, blur=5 * args.blur, debias=False, stopThr=1e-4
        ),
        "S_eps (debiased)": flow(x, y, args.steps, 0.25, blur=args.blur, stopThr=1e-4),
        "S_eps, reach = 0.1": flow(x, y, args.steps, 0.25, blur=args.blur, reach=0.1, stopThr=1e-4),
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(flows), figsize=(4 * len(flows), 4))
    for ax, (title, history) in zip(axes, flows.items()):
        ax.scatter(y[:, 0], y[:, 1], s=6, c="tab:blue", alpha=0.4, label="target")
        ax.scatter(history[0][:, 0], history[0][:, 1], s=6, c="tab:gray", alpha=0.3)
        ax.scatter(history[-1][:, 0], history[-1][:, 1], s=6, c="tab:red", label="after flow")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
    axes[0].legend(loc="lower left", fontsize=8)
    path = args.output_dir / "gradient_flow_2d.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
