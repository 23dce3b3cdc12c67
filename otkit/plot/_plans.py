"""Plans and couplings: 1D histograms with their coupling, 2D samples linked by the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import LineCollection
    from matplotlib.image import AxesImage

from ._inputs import _check_threshold, _host, _plan, _points, _segment_colors, _segments

__all__ = ["plot1D_mat", "plot2D_samples_mat", "plot_plan", "rescale_for_imshow_plot"]


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


def rescale_for_imshow_plot(x, y, n: int, m: int | None = None, a_y=None, b_y=None):
    r"""Map a curve :math:`(x, y)` onto the pixel grid of an ``(n, m)`` ``imshow`` image.

    Both coordinates are rescaled affinely to pixel units,

    .. math::

        x_r = (n - 1)\,\frac{x - \min x}{\max x - \min x}, \qquad
        y_r = (m - 1)\,\frac{y - y_{\min}}{y_{\max} - y_{\min}},

    where :math:`[y_{\min}, y_{\max}]` is ``[a_y, b_y]`` when given (the points whose
    :math:`y` falls outside are dropped first) and the range of :math:`y` otherwise. The
    :math:`x` range is always that of the whole curve, so a cropped curve keeps its place on
    the image. Used to draw a curve (a density, a map) over a plan shown by
    :func:`plot1D_mat` or ``imshow``.

    Parameters
    ----------
    x, y : array, shape (k,)
        The curve, in data units (any supported library; drawn values only).
    n : int
        Width of the image in pixels (its number of columns).
    m : int, optional
        Height of the image in pixels; ``n`` when omitted.
    a_y, b_y : float, optional
        Lower and upper bounds kept for :math:`y`.

    Returns
    -------
    xr, yr : numpy.ndarray, shape (k',)
        The rescaled coordinates of the points kept (k' ≤ k).

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.plot import rescale_for_imshow_plot
    >>> x = np.linspace(0.0, 3.0, 7)
    >>> xr, yr = rescale_for_imshow_plot(x, x**2, n=10, a_y=1.0, b_y=4.0)
    >>> xr.tolist(), yr.tolist()
    ([3.0, 4.5, 6.0], [0.0, 3.75, 9.0])
    """
    x = _host(x, "x", "a (k,)", 1)
    y = _host(y, "y", "a (k,)", 1)
    if x.shape != y.shape:
        raise ValueError(f"x.shape == {x.shape} and y.shape == {y.shape} must agree")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    m = n if m is None else m
    if int(m) != m or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    x_span = float(x.max() - x.min()) if x.size else 0.0
    xr = (n - 1) * (x - x.min()) / (x_span if x_span > 0 else 1.0)
    y_low = float(y.min()) if a_y is None else float(a_y)
    y_high = float(y.max()) if b_y is None else float(b_y)
    if y_high < y_low:
        raise ValueError(f"b_y must be >= a_y, got a_y={y_low!r}, b_y={y_high!r}")
    kept = (y >= y_low) & (y <= y_high)
    y_span = y_high - y_low
    yr = (m - 1) * (y[kept] - y_low) / (y_span if y_span > 0 else 1.0)
    return xr[kept], yr
