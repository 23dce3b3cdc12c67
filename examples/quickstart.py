"""Quick start: exact optimal transport between two 2D point clouds.

Draws two Gaussian clouds with random weights, solves the exact OT problem for the squared
Euclidean cost with :func:`otkit.emd`, prints W_2^2 and the size of the plan's support, and
saves a figure of the plan (each line joins a source to a target it sends mass to; its
opacity is the mass).

Run ``python examples/quickstart.py [--n 80] [--output emd_plan.png]``.
"""

from __future__ import annotations

import argparse

import numpy as np

import otkit as ot


def make_clouds(n: int, seed: int = 0):
    """Two 2D Gaussian clouds (a round one and a stretched, shifted one) with random weights."""
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(n, 2))
    xt = rng.normal(size=(n, 2)) @ np.array([[1.5, 0.6], [0.0, 0.5]]) + np.array([7.0, 0.0])
    a = rng.random(n) + 0.5
    b = rng.random(n) + 0.5
    return xs, xt, a / a.sum(), b / b.sum()


def plot_plan(xs, xt, G, a, b, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    i, j = np.nonzero(G)
    segments = np.stack([xs[i], xt[j]], axis=1)
    alpha = G[i, j] / G.max()
    colors = np.zeros((len(i), 4))
    colors[:, 3] = 0.15 + 0.85 * alpha
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=1.0))
    ax.scatter(*xs.T, s=2500 * a, c="tab:blue", label="source (size = weight)", zorder=3)
    ax.scatter(*xt.T, s=2500 * b, c="tab:orange", label="target (size = weight)", zorder=3)
    ax.set_title(f"Exact OT plan (otkit.emd): {len(i)} arcs carry mass")
    ax.legend(loc="upper left")
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="points per cloud")
    parser.add_argument("--output", default="emd_plan.png", help="where to save the figure")
    args = parser.parse_args()

    xs, xt, a, b = make_clouds(args.n)
    M = ot.dist(xs, xt)  # squared Euclidean costs
    G, log = ot.emd(a, b, M, log=True)
    print(f"W_2^2 between the clouds: {log['cost']:.6f}  ({log['n_iter']} simplex pivots)")
    print(f"marginal errors: {np.abs(G.sum(1) - a).max():.1e}, {np.abs(G.sum(0) - b).max():.1e}")
    print(f"support of the plan: {np.count_nonzero(G)} arcs (at most n + m - 1 = {2 * args.n - 1})")
    plot_plan(xs, xt, G, a, b, args.output)
    print(f"figure saved to {args.output}")


if __name__ == "__main__":
    main()
