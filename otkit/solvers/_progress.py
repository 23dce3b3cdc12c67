"""Progress reports for long solves: a tqdm bar when tqdm is installed, plain lines otherwise.

A solver that iterates on the host calls the reporter with ``(n_iter, marginal_error)`` at every
iteration (the NumPy Sinkhorn loops take it as their ``verbose`` argument); solvers that run
inside a compiled loop (torch, JAX, the network simplex) report once, when they finish.
tqdm is optional (``pip install "otkit[progress]"``) and imported only when a report starts.
"""

from __future__ import annotations

import math
import sys

__all__ = ["Progress", "progress"]


def _tqdm_class():
    """tqdm's plain-terminal bar class, or None when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """Progress of one solve: iterations done and the current marginal error.

    Calling the object (``report(n_iter, error)``) records a new state. With tqdm installed
    it moves a bar whose postfix shows the error; otherwise it prints one line every
    ``every`` iterations (and one when the solve ends) to ``file``.

    Parameters
    ----------
    total : int, optional
        The iteration budget (the bar's length); None for an unknown length.
    desc : str, default="otkit"
        Label of the bar or of the printed lines.
    every : int, default=100
        Iterations between two printed lines (without tqdm).
    file : file-like, optional
        Where to write: ``sys.stderr`` for the bar (tqdm's default), ``sys.stdout`` for the
        plain lines.
    use_tqdm : bool, default=True
        Use tqdm when it is installed.
    """

    def __init__(self, total=None, desc="otkit", every=100, file=None, use_tqdm=True):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.total = None if total is None else int(total)
        self.desc = desc
        self.every = every
        self.n_iter = 0
        self.error = math.nan
        self._printed_at = None
        bar_class = _tqdm_class() if use_tqdm else None
        self._file = file
        self._bar = None
        if bar_class is not None:
            self._bar = bar_class(total=self.total, desc=desc, unit="it", file=file, leave=True)

    @property
    def uses_tqdm(self) -> bool:
        """Whether the report is a tqdm bar (False: plain lines)."""
        return self._bar is not None

    def __call__(self, n_iter, error=None) -> None:
        self.update(n_iter, error)

    def update(self, n_iter, error=None) -> None:
        """Record that ``n_iter`` iterations are done and the marginal error is ``error``."""
        self.n_iter = int(n_iter)
        if error is not None:
            self.error = float(error)
        if self._bar is not None:
            self._bar.set_postfix_str(self._error_text(), refresh=False)
            self._bar.update(self.n_iter - self._bar.n)
        elif self._printed_at is None or self.n_iter - self._printed_at >= self.every:
            self._print()

    def close(self, status=None) -> None:
        """End the report, with an optional status word (e.g. 'converged')."""
        suffix = "" if status is None else f", {status}"
        if self._bar is not None:
            self._bar.set_postfix_str(self._error_text() + suffix, refresh=False)
            self._bar.close()
        elif self._printed_at != self.n_iter or status is not None:
            self._print(suffix)

    def _error_text(self) -> str:
        return (
            "marginal error n/a" if math.isnan(self.error) else f"marginal error {self.error:.2e}"
        )

    def _print(self, suffix="") -> None:
        budget = "" if self.total is None else f"/{self.total}"
        line = f"{self.desc}: iteration {self.n_iter}{budget}, {self._error_text()}{suffix}"
        print(line, file=sys.stdout if self._file is None else self._file, flush=True)
        self._printed_at = self.n_iter

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.close()  # a no-op when already closed


class _Silent:
    """The reporter used when ``verbose`` is False: does nothing."""

    uses_tqdm = False

    def __call__(self, n_iter, error=None) -> None:
        pass

    update = __call__

    def close(self, status=None) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def progress(verbose, total=None, desc="otkit", every=100):
    """A :class:`Progress` when ``verbose`` is true, else a reporter that does nothing."""
    return Progress(total, desc, every) if verbose else _Silent()
