"""Convergence curves of iterative solvers (mean and spread over runs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..backend import to_numpy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_convergence"]


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
