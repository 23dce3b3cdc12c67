"""Animated displacement interpolation between two point clouds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes

from ._inputs import _check_threshold, _plan, _points, _segment_colors, _segments

__all__ = ["animate"]

_ANIMATION_SUFFIXES = (".gif", ".html", ".htm")


def _frames(frames) -> list[np.ndarray]:
    if isinstance(frames, (str, bytes)) or not hasattr(frames, "__len__"):
        raise TypeError(f"frames must be a sequence of (n, 2) arrays, got {type(frames).__name__}")
    if hasattr(frames, "ndim"):
        if frames.ndim != 3:
            raise ValueError(f"frames must be a (T, n, 2) array, got shape {tuple(frames.shape)}")
        frames = [frames[t] for t in range(frames.shape[0])]
    if len(frames) == 0:
        raise ValueError("frames is empty: nothing to animate")
    return [_points(frames[t], f"frames[{t}]") for t in range(len(frames))]


def _plans(plans, frames: list[np.ndarray], target: np.ndarray) -> list:
    """One plan per frame: a single (n, m) array is used for every frame."""
    if hasattr(plans, "ndim") and plans.ndim == 2:
        plans = [plans] * len(frames)
    elif isinstance(plans, (str, bytes)) or not hasattr(plans, "__len__"):
        raise TypeError(f"plans must be an array or a sequence, got {type(plans).__name__}")
    if len(plans) != len(frames):
        raise ValueError(
            f"plans has {len(plans)} entries, expected one plan per frame ({len(frames)}) "
            "or a single (n, m) plan"
        )
    shapes = [(len(frame), len(target)) for frame in frames]
    return [_plan(plans[t], f"plans[{t}]", shapes[t]) for t in range(len(frames))]


def animate(
    frames,
    plans=None,
    *,
    target=None,
    thr: float = 1e-8,
    ax: Axes | None = None,
    interval: int = 100,
    filename: str | Path | None = None,
    titles: Sequence[str] | None = None,
    source_color="tab:blue",
    target_color="tab:red",
    line_color="k",
) -> FuncAnimation:
    r"""Animate a moving 2D point cloud, optionally with its plans to a fixed target.

    Frame :math:`t` shows the cloud ``frames[t]`` (a step of a gradient flow, or the
    displacement interpolation :math:`x_t = (1 - t) x_i + t y_j` along a plan) over the fixed
    ``target`` cloud, and, when ``plans`` are given, the segments of ``plans[t]`` between
    them drawn as :func:`plot2D_samples_mat` does. The axis limits cover every frame.

    Parameters
    ----------
    frames : sequence of (n_t, 2) arrays, or a (T, n, 2) array
        The cloud at each of the T frames (the number of points may change between frames).
    plans : (n, m) array or sequence of T arrays of shapes (n_t, m), optional
        Plans between ``frames[t]`` and ``target``; a single array is used for every frame.
        Requires ``target``.
    target : (m, 2) array, optional
        Fixed cloud drawn in every frame.
    thr : float, default=1e-8
        Relative threshold of the drawn plan entries, as in :func:`plot2D_samples_mat`.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.
    interval : int, default=100
        Delay between frames in milliseconds, also in the saved file.
    filename : str or Path, optional
        Save the animation: ``.gif`` with Pillow, ``.html``/``.htm`` as a self-contained
        JavaScript player (``FuncAnimation.to_jshtml``).
    titles : sequence of T str, optional
        Title of each frame.
    source_color, target_color, line_color : matplotlib color
        Colors of the moving cloud, the target cloud and the plan segments.

    Returns
    -------
    animation : matplotlib.animation.FuncAnimation
        Keep a reference to it while it is displayed. ``len(list(animation.new_frame_seq()))``
        is T.

    Raises
    ------
    ValueError
        Empty ``frames``; a frame, ``target`` or plan of the wrong shape; ``plans`` without
        ``target``; a ``filename`` suffix other than .gif, .html, .htm; T != ``len(titles)``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> import otkit as ot
    >>> from otkit.plot import animate
    >>> rng = np.random.default_rng(0)
    >>> xs, xt = rng.normal(size=(15, 2)), rng.normal(size=(15, 2)) + 4
    >>> G = ot.emd([], [], ot.dist(xs, xt))
    >>> rows, cols = np.nonzero(G)  # displacement interpolation along the plan
    >>> frames = [(1 - t) * xs[rows] + t * xt[cols] for t in np.linspace(0, 1, 5)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "interpolation.gif"
    ...     animation = animate(frames, target=xt, filename=path)
    ...     path.stat().st_size > 0
    True
    >>> plt.close("all")
    """
    frames = _frames(frames)
    if target is not None:
        target = _points(target, "target")
    if plans is not None:
        if target is None:
            raise ValueError("plans are drawn to the target cloud: pass target=")
        plans = _plans(plans, frames, target)
    thr = _check_threshold(thr)
    if titles is not None and (isinstance(titles, str) or len(titles) != len(frames)):
        raise ValueError(f"titles must be a sequence of {len(frames)} strings, one per frame")
    if filename is not None and Path(filename).suffix.lower() not in _ANIMATION_SUFFIXES:
        raise ValueError(f"filename must end with .gif, .html or .htm, got {str(filename)!r}")
    if not interval > 0:
        raise ValueError(f"interval must be > 0 milliseconds, got {interval!r}")
    if all(len(frame) == 0 for frame in frames):
        raise ValueError("every frame is empty: nothing to animate")
    fps = 1000.0 / interval
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.collections import LineCollection

    if ax is None:
        _, ax = plt.subplots()
    every_point = np.concatenate(frames + ([target] if target is not None else []))
    low, high = every_point.min(axis=0), every_point.max(axis=0)
    margin = 0.05 * np.maximum(high - low, 1e-12)
    ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
    ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
    lines = None
    if plans is not None:
        lines = LineCollection(np.zeros((0, 2, 2)), zorder=1)
        ax.add_collection(lines, autolim=False)
    if target is not None:
        ax.scatter(target[:, 0], target[:, 1], c=target_color, zorder=2)
    cloud = ax.scatter(frames[0][:, 0], frames[0][:, 1], c=source_color, zorder=3)

    def draw(t):
        cloud.set_offsets(frames[t])
        artists = [cloud]
        if lines is not None:
            segments, weights = _segments(frames[t], target, plans[t], thr)
            lines.set_segments(segments)
            lines.set_color(_segment_colors(line_color, weights, 1.0))
            artists.append(lines)
        if titles is not None:
            ax.set_title(titles[t])
        return artists

    animation = FuncAnimation(ax.figure, draw, frames=len(frames), interval=interval)
    if filename is not None:
        path = Path(filename)
        if path.suffix.lower() == ".gif":
            animation.save(path, writer=PillowWriter(fps=fps))
        else:
            path.write_text(animation.to_jshtml(fps=fps), encoding="utf-8")
    return animation
