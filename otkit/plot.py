"""Plots of plans, couplings, point-cloud animations and convergence curves (matplotlib).

matplotlib is an optional dependency (``pip install otkit[plot]``): it is imported inside the
functions, so ``import otkit`` and ``import otkit.plot`` do not load it. Every function accepts
arrays of any supported library (NumPy, array_api_strict, torch, JAX) and draws their values
on the host; nothing is differentiated through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .backend import to_numpy

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes
    from matplotlib.collections import LineCollection
    from matplotlib.image import AxesImage

__all__ = ["animate", "plot1D_mat", "plot2D_samples_mat", "plot_convergence", "plot_plan"]

_ANIMATION_SUFFIXES = (".gif", ".html", ".htm")


def _host(x, name: str, expected: str, ndim: int) -> np.ndarray:
    """``x`` as a float64 NumPy array of ``ndim`` dimensions, or an error naming ``name``."""
    if x is None:
        raise TypeError(f"{name} is None, expected {expected} array")
    try:
        host = to_numpy(x)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a numeric {expected} array, got {type(x).__name__}"
        ) from error
    if host.ndim != ndim:
        raise ValueError(f"{name} must be {expected} array, got shape {host.shape}")
    return host


def _points(x, name: str) -> np.ndarray:
    """An (n, 2) array of points in the plane."""
    host = _host(x, name, "an (n, 2)", 2)
    if host.shape[1] != 2:
        raise ValueError(
            f"{name} must be an (n, 2) array of points in the plane, got shape {host.shape}; "
            f"project higher-dimensional samples first (e.g. {name}[:, :2])"
        )
    return host


def _plan(G, name: str, shape: tuple[int, int] | None = None):
    """A finite (n, m) plan of the given shape (NumPy, or scipy.sparse kept as it is)."""
    host = G if hasattr(G, "tocoo") else _host(G, name, "an (n, m)", 2)
    if shape is not None and host.shape != shape:
        raise ValueError(f"{name}.shape == {host.shape}, expected {shape}")
    if not np.all(np.isfinite(host.tocoo().data if hasattr(host, "tocoo") else host)):
        raise ValueError(f"{name} contains NaN or infinite values; a plan must be finite")
    return host


def _segments(xs: np.ndarray, xt: np.ndarray, G, thr: float):
    """Segments xs[i] -> xt[j] and relative weights G_ij / max G for G_ij > thr * max G.

    ``G`` is a NumPy array or a scipy.sparse matrix (only its stored entries are visited)."""
    if hasattr(G, "tocoo"):
        G = G.tocoo()
        G.sum_duplicates()
        rows, cols, values = G.row, G.col, np.asarray(G.data, dtype=np.float64)
    else:
        rows, cols = np.nonzero(G)
        values = G[rows, cols]
    largest = float(values.max()) if values.size else 0.0
    if largest <= 0.0:
        return np.zeros((0, 2, 2)), np.zeros(0)
    keep = values > thr * largest
    return np.stack([xs[rows[keep]], xt[cols[keep]]], axis=1), values[keep] / largest


def _segment_colors(color, weights: np.ndarray, alpha: float) -> np.ndarray:
    """One RGBA row per segment: ``color`` with opacity ``alpha * weights``."""
    from matplotlib.colors import to_rgba

    rgba = np.tile(np.asarray(to_rgba(color)), (weights.size, 1))
    rgba[:, 3] = np.clip(alpha * weights, 0.0, 1.0)
    return rgba


def _check_threshold(thr) -> float:
    if not isinstance(thr, (int, float, np.integer, np.floating)):
        raise TypeError(f"thr must be a number, got {type(thr).__name__}")
    if not (np.isfinite(thr) and thr >= 0):
        raise ValueError(f"thr must be a finite number >= 0, got {thr}")
    return thr


def plot1D_mat(
    a,
    b,
    M,
    title: str = "",
    plot_style: str = "yx",
    a_label: str = "",
    b_label: str = "",
    color_source: str = "b",
    color_target: str = "r",
    coupling_cmap: str = "gray_r",
):
    r"""Plot a matrix :math:`M` between the 1D histograms :math:`a` and :math:`b`.

    The matrix (a plan :math:`\gamma` or a cost) is drawn as an image whose row :math:`i`
    faces the source weight :math:`a_i` and whose column :math:`j` faces the target weight
    :math:`b_j`; the histograms are drawn along the sides and share the matrix's index axes.
    The axes are added to the current figure (``matplotlib.pyplot.gcf()``) on a 3 x 3 grid.

    Parameters
    ----------
    a : (n,) array
        Source histogram.
    b : (m,) array
        Target histogram.
    M : (n, m) array
        Matrix to show (plan or cost).
    title : str, default=''
        Title, above the figure's top axes.
    plot_style : {'yx', 'xy'}, default='yx'
        ``'yx'``: source on the left (mass growing leftwards), target on top, ``M`` with
        rows down the page. ``'xy'``: source at the bottom (upside down), target on the left,
        ``M.T`` with source indices along x and target indices up the y axis.
    a_label, b_label : str, default=''
        Legend labels of the source and target histograms (no legend when empty).
    color_source, color_target : matplotlib color, default='b', 'r'
        Colors of the histograms.
    coupling_cmap : str or Colormap, default='gray_r'
        Colormap of the matrix.

    Returns
    -------
    ax_source, ax_target, ax_coupling : matplotlib Axes
        The axes of the source histogram, the target histogram and the matrix (POT's order).

    Raises
    ------
    ValueError
        ``a``, ``b`` not 1-D; ``M.shape != (len(a), len(b))``; unknown ``plot_style``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> import otkit as ot
    >>> from otkit.plot import plot1D_mat
    >>> x = np.arange(20.0)
    >>> a = np.exp(-((x - 6) ** 2) / 8); a /= a.sum()
    >>> b = np.exp(-((x - 13) ** 2) / 18); b /= b.sum()
    >>> G = ot.emd(a, b, ot.dist(x[:, None], x[:, None]))
    >>> ax_source, ax_target, ax_coupling = plot1D_mat(a, b, G, title="OT plan")
    >>> plt.close("all")
    """
    a = _host(a, "a", "a 1-D", 1)
    b = _host(b, "b", "a 1-D", 1)
    M = _host(M, "M", "an (n, m)", 2)
    if M.shape != (a.size, b.size):
        raise ValueError(f"M.shape == {M.shape}, expected {(a.size, b.size)} = (len(a), len(b))")
    if plot_style not in ("yx", "xy"):
        raise ValueError(f"plot_style must be 'yx' or 'xy', got {plot_style!r}")
    import matplotlib.pyplot as plt

    fig = plt.gcf()
    grid = fig.add_gridspec(3, 3)
    source_index, target_index = np.arange(a.size), np.arange(b.size)
    if plot_style == "yx":
        ax_target = fig.add_subplot(grid[0, 1:])
        ax_source = fig.add_subplot(grid[1:, 0])
        ax_coupling = fig.add_subplot(grid[1:, 1:], sharex=ax_target, sharey=ax_source)
        ax_target.plot(target_index, b, color=color_target, label=b_label or None)
        ax_source.plot(a, source_index, color=color_source, label=a_label or None)
        ax_source.invert_xaxis()
        ax_coupling.imshow(M, cmap=coupling_cmap, interpolation="nearest", aspect="auto")
        ax_target.set_title(title)
        ax_target.tick_params(labelbottom=False)
    else:
        ax_target = fig.add_subplot(grid[:2, 0])
        ax_source = fig.add_subplot(grid[2, 1:])
        ax_coupling = fig.add_subplot(grid[:2, 1:], sharex=ax_source, sharey=ax_target)
        ax_source.plot(source_index, a, color=color_source, label=a_label or None)
        ax_source.invert_yaxis()
        ax_target.plot(b, target_index, color=color_target, label=b_label or None)
        ax_target.invert_xaxis()
        ax_coupling.imshow(
            M.T, cmap=coupling_cmap, interpolation="nearest", aspect="auto", origin="lower"
        )
        ax_coupling.set_title(title)
        ax_source.tick_params(labelleft=False)
    ax_coupling.tick_params(labelbottom=False, labelleft=False)
    for ax, label in ((ax_source, a_label), (ax_target, b_label)):
        if label:
            ax.legend(loc="best")
    return ax_source, ax_target, ax_coupling


def plot2D_samples_mat(xs, xt, G, thr: float = 1e-8, **kwargs) -> LineCollection:
    r"""Draw a plan between 2D samples as segments whose opacity follows the mass moved.

    Each pair with :math:`G_{ij} > \mathrm{thr} \cdot \max G` becomes a segment from
    ``xs[i]`` to ``xt[j]`` with opacity :math:`G_{ij} / \max G`; all of them form one
    :class:`matplotlib.collections.LineCollection` (one artist, fast for large supports).

    Parameters
    ----------
    xs : (n, 2) array
        Source samples.
    xt : (m, 2) array
        Target samples.
    G : (n, m) array or scipy.sparse matrix
        Plan (non-negative); only the ratios to its largest entry matter.
    thr : float, default=1e-8
        Relative threshold: pairs with :math:`G_{ij} \le \mathrm{thr} \cdot \max G` are
        not drawn.
    **kwargs
        ``ax`` (the Axes to draw on, default ``plt.gca()``); ``color`` or ``c`` (default
        black); ``alpha`` (multiplies every opacity, default 1); anything else is passed to
        ``LineCollection`` (``linewidths``, ``linestyles``, ``label``, ``zorder``, ...).

    Returns
    -------
    lines : matplotlib.collections.LineCollection
        The segments, already added to the axes (``lines.get_segments()``,
        ``lines.get_colors()``).

    Raises
    ------
    ValueError
        ``xs``, ``xt`` not (k, 2); ``G.shape != (len(xs), len(xt))``; non-finite ``G``, ``thr``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> import otkit as ot
    >>> from otkit.plot import plot2D_samples_mat
    >>> rng = np.random.default_rng(0)
    >>> xs, xt = rng.normal(size=(10, 2)), rng.normal(size=(8, 2)) + 3
    >>> G = ot.emd([], [], ot.dist(xs, xt))
    >>> lines = plot2D_samples_mat(xs, xt, G, color="tab:gray")
    >>> len(lines.get_segments()) == int(np.count_nonzero(G > 1e-8 * G.max()))
    True
    >>> plt.close("all")
    """
    ax = kwargs.pop("ax", None)
    color = kwargs.pop("color", kwargs.pop("c", "k"))
    alpha = kwargs.pop("alpha", None)
    alpha = 1.0 if alpha is None else float(alpha)
    thr = _check_threshold(thr)
    xs = _points(xs, "xs")
    xt = _points(xt, "xt")
    segments, weights = _segments(xs, xt, _plan(G, "G", (len(xs), len(xt))), thr)
    from matplotlib.collections import LineCollection

    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    lines = LineCollection(segments, colors=_segment_colors(color, weights, alpha), **kwargs)
    ax.add_collection(lines)
    ax.autoscale_view()
    return lines


def plot_plan(
    G,
    ax: Axes | None = None,
    *,
    log: bool = False,
    cmap="viridis",
    colorbar: bool = True,
    title: str | None = None,
) -> AxesImage:
    r"""Show a plan (or any matrix) as an image with a colorbar.

    Row :math:`i` (source sample) runs down the page and column :math:`j` (target sample)
    across it. With ``log=True`` the colors follow :math:`\log G_{ij}` between the smallest
    positive entry and the largest one; zero entries get the colormap's "bad" color.

    Parameters
    ----------
    G : (n, m) array
        Plan, finite.
    ax : matplotlib Axes, optional
        Where to draw; default ``plt.gca()``.
    log : bool, default=False
        Logarithmic color scale (shows the small entries of an entropic plan).
    cmap : str or Colormap, default='viridis'
        Colormap.
    colorbar : bool, default=True
        Add a colorbar next to ``ax``.
    title : str, optional
        Title of ``ax``.

    Returns
    -------
    image : matplotlib.image.AxesImage
        The image; ``image.get_array()`` holds ``G``.

    Raises
    ------
    ValueError
        ``G`` not 2-D, empty or not finite; ``log=True`` with no positive entry.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> import otkit as ot
    >>> from otkit.plot import plot_plan
    >>> rng = np.random.default_rng(0)
    >>> xs, xt = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    >>> G = ot.sinkhorn([], [], ot.dist(xs, xt), 0.1)
    >>> image = plot_plan(G, log=True, title="entropic plan")
    >>> image.get_array().shape
    (30, 20)
    >>> plt.close("all")
    """
    G = _plan(G.toarray() if hasattr(G, "tocoo") else G, "G")
    if G.size == 0:
        raise ValueError(f"G is empty (shape {G.shape}); nothing to show")
    from matplotlib.colors import LogNorm, Normalize

    if log:
        positive = G[G > 0]
        if positive.size == 0:
            raise ValueError("G has no positive entry: log=True cannot show it")
        norm = LogNorm(vmin=float(positive.min()), vmax=float(positive.max()))
    else:
        norm = Normalize(vmin=float(G.min()), vmax=float(G.max()))
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    image = ax.imshow(G, cmap=cmap, norm=norm, interpolation="nearest", aspect="auto")
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    if title is not None:
        ax.set_title(title)
    ax.set_xlabel("target sample j")
    ax.set_ylabel("source sample i")
    return image


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


def _runs(value, name: str) -> np.ndarray:
    """Error traces as a (runs, iterations) array; shorter runs are padded with NaN."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of errors or of runs")
    try:
        if hasattr(value, "ndim"):
            host = to_numpy(value)
            runs = list(host) if host.ndim == 2 else [host]
        else:
            runs = [to_numpy(item) for item in value]
            if runs and all(run.ndim == 0 for run in runs):
                runs = [np.asarray(runs)]
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must hold numbers or sequences of numbers") from error
    if not runs or any(run.ndim != 1 for run in runs):
        raise ValueError(
            f"{name} must be a sequence of errors, a (runs, iterations) array or a list of runs"
        )
    if any(run.size == 0 for run in runs):
        raise ValueError(f"{name} holds an empty run: nothing to plot")
    padded = np.full((len(runs), max(run.size for run in runs)), np.nan)
    for k, run in enumerate(runs):
        padded[k, : run.size] = run
    return padded


def plot_convergence(
    errors,
    ax: Axes | None = None,
    labels=None,
    *,
    band: str | None = "std",
    log: bool = True,
    step: int = 1,
) -> Axes:
    r"""Plot convergence curves (an error per iteration), one or several runs per method.

    ``errors`` may be

    - one sequence of errors: one line;
    - several runs of one method, as a (runs, iterations) array or a list of sequences:
      the mean over the runs as a line and a shaded band (mean :math:`\pm` std, or the range
      with ``band='minmax'``), as in comparisons of Sinkhorn initializations; at iteration
      :math:`k` the statistics use the runs that reached :math:`k` (shorter runs are padded
      with NaN);
    - a dict ``label -> errors`` (each value as above): one line (and band) per method.

    Parameters
    ----------
    errors : sequence, (runs, iterations) array, list of sequences, or dict
        Error traces, e.g. ``log["err"]`` of :func:`otkit.sinkhorn`.
    ax : matplotlib Axes, optional
        Where to draw; default ``plt.gca()``.
    labels : str or sequence of one str, optional
        Legend label of a single method (a dict's keys are its labels).
    band : {'std', 'minmax', None}, default='std'
        Band drawn around the mean of several runs; ``None`` draws the mean only.
    log : bool, default=True
        Logarithmic y axis.
    step : int, default=1
        Iterations between two recorded errors (POT records ``err`` every 10 iterations):
        error ``k`` is drawn at iteration ``step * (k + 1)``.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on (``ax.get_lines()``: one line per method).

    Raises
    ------
    ValueError
        Empty errors or runs, arrays of more than 2 dimensions, ``labels`` not matching one
        method, unknown ``band``.
    TypeError
        ``labels`` with a dict, non-numeric errors.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from otkit.plot import plot_convergence
    >>> rng = np.random.default_rng(0)
    >>> rates = {"zeros": 0.8, "gaussian": 0.6}
    >>> errors = {
    ...     name: rate ** np.arange(50) * rng.uniform(0.5, 2, size=(8, 1))
    ...     for name, rate in rates.items()
    ... }
    >>> ax = plot_convergence(errors)
    >>> len(ax.get_lines()), ax.get_yscale()
    (2, 'log')
    >>> plt.close("all")
    """
    if band not in ("std", "minmax", None):
        raise ValueError(f"band must be 'std', 'minmax' or None, got {band!r}")
    if not (isinstance(step, (int, np.integer)) and step >= 1):
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    if isinstance(errors, Mapping):
        if labels is not None:
            raise TypeError("labels must be None when errors is a dict: its keys are the labels")
        if not errors:
            raise ValueError("errors is an empty dict: nothing to plot")
        groups = [(str(key), _runs(value, f"errors[{key!r}]")) for key, value in errors.items()]
    else:
        if labels is not None and not isinstance(labels, str):
            labels = list(labels)
            if len(labels) != 1:
                raise ValueError(
                    f"labels has {len(labels)} entries but errors holds one method; pass a "
                    "dict label -> errors to compare several methods"
                )
            labels = labels[0]
        groups = [(labels, _runs(errors, "errors"))]
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    for label, runs in groups:
        iterations = step * np.arange(1, runs.shape[1] + 1)
        if runs.shape[0] == 1:
            ax.plot(iterations, runs[0], label=label)
            continue
        mean = np.nanmean(runs, axis=0)
        (line,) = ax.plot(iterations, mean, label=label)
        if band == "std":
            spread = np.nanstd(runs, axis=0)
            lower, upper = mean - spread, mean + spread
        elif band == "minmax":
            lower, upper = np.nanmin(runs, axis=0), np.nanmax(runs, axis=0)
        else:
            continue
        ax.fill_between(iterations, lower, upper, color=line.get_color(), alpha=0.25, lw=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("marginal error")
    if any(label is not None for label, _ in groups):
        ax.legend()
    return ax
