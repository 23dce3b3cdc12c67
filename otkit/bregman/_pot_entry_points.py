"""POT's per-method Sinkhorn entry points, with POT's signatures.

POT's per-method entry points
(``sinkhorn_knopp``, ``sinkhorn_log``, ``sinkhorn_stabilized``, ``sinkhorn_epsilon_scaling``,
``greenkhorn``, ``barycenter_sinkhorn``, ``barycenter_stabilized``) are here with POT's
positional order and defaults, so that scripts calling them run unchanged. Each is
:func:`otkit.sinkhorn` or :func:`otkit.barycenter` with the matching ``method``.
"""

from ._barycenter import barycenter
from ._sinkhorn import sinkhorn

__all__ = [
    "barycenter_sinkhorn",
    "barycenter_stabilized",
    "greenkhorn",
    "sinkhorn_epsilon_scaling",
    "sinkhorn_knopp",
    "sinkhorn_log",
    "sinkhorn_stabilized",
]

_SEE_SINKHORN = """
    Parameters, returns and backends as :func:`otkit.sinkhorn`; every method runs the same
    numerically safe iteration there (see its ``method``).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> P = ot.bregman.{name}([0.5, 0.5], [0.5, 0.5], M, 0.1)
    >>> np.round(P.sum(axis=1), 6).tolist()
    [0.5, 0.5]
"""


def _plain_method(method, name):
    """POT's entry point ``name``: :func:`otkit.sinkhorn` with ``method`` (same signature)."""

    def entry(
        a,
        b,
        M,
        reg,
        numItermax=1000,
        stopThr=1e-9,
        verbose=False,
        log=False,
        warn=True,
        warmstart=None,
        **kwargs,
    ):
        return sinkhorn(
            a, b, M, reg, method, numItermax, stopThr, verbose, log, warn, warmstart, **kwargs
        )

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"POT's ``ot.bregman.{name}``: :func:`otkit.sinkhorn` with method={method!r}."
    return entry


sinkhorn_knopp = _plain_method("sinkhorn", "sinkhorn_knopp")
sinkhorn_log = _plain_method("sinkhorn_log", "sinkhorn_log")


def sinkhorn_stabilized(
    a,
    b,
    M,
    reg,
    numItermax=1000,
    tau=1e3,
    stopThr=1e-9,
    warmstart=None,
    verbose=False,
    print_period=20,
    log=False,
    warn=True,
    **kwargs,
):
    """POT's ``ot.bregman.sinkhorn_stabilized``: :func:`otkit.sinkhorn` with
    method='sinkhorn_stabilized' (``tau`` and ``print_period`` are accepted and unused: the
    absorption bounds are set by the dtype). As POT, ``warmstart`` is ``(alpha, beta)`` =
    ``reg * (log_u, log_v)``, the pair returned as ``log["warmstart"]``."""
    return sinkhorn(
        a,
        b,
        M,
        reg,
        "sinkhorn_stabilized",
        numItermax,
        stopThr,
        verbose,
        log,
        warn,
        warmstart,
        tau=tau,
        print_period=print_period,
        **kwargs,
    )


def sinkhorn_epsilon_scaling(
    a,
    b,
    M,
    reg,
    numItermax=100,
    epsilon0=1e4,
    numInnerItermax=100,
    tau=1e3,
    stopThr=1e-9,
    warmstart=None,
    verbose=False,
    print_period=10,
    log=False,
    warn=True,
    **kwargs,
):
    """POT's ``ot.bregman.sinkhorn_epsilon_scaling``: :func:`otkit.sinkhorn` with
    method='sinkhorn_epsilon_scaling'.

    POT runs at most ``numItermax`` outer steps of ``numInnerItermax`` iterations each; the
    final stage at ``reg`` gets that whole budget here (``numItermax * numInnerItermax``
    iterations), and each annealing stage at most ``numInnerItermax``. As POT,
    ``warmstart`` is ``(alpha, beta)`` = ``reg * (log_u, log_v)`` (``log["warmstart"]``).
    """
    return sinkhorn(
        a,
        b,
        M,
        reg,
        "sinkhorn_epsilon_scaling",
        numItermax * numInnerItermax,
        stopThr,
        verbose,
        log,
        warn,
        warmstart,
        epsilon0=epsilon0,
        numInnerItermax=numInnerItermax,
        tau=tau,
        print_period=print_period,
        **kwargs,
    )


def greenkhorn(
    a,
    b,
    M,
    reg,
    numItermax=10000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
):
    """POT's ``ot.bregman.greenkhorn``: :func:`otkit.sinkhorn` with method='greenkhorn'."""
    return sinkhorn(a, b, M, reg, "greenkhorn", numItermax, stopThr, verbose, log, warn, warmstart)


def barycenter_sinkhorn(
    A, M, reg, weights=None, numItermax=1000, stopThr=1e-4, verbose=False, log=False, warn=True
):
    """POT's ``ot.bregman.barycenter_sinkhorn``: :func:`otkit.barycenter` with
    method='sinkhorn' (parameters, returns and backends as there)."""
    return barycenter(A, M, reg, weights, "sinkhorn", numItermax, stopThr, verbose, log, warn)


def barycenter_stabilized(
    A,
    M,
    reg,
    tau=1e10,
    weights=None,
    numItermax=1000,
    stopThr=1e-4,
    verbose=False,
    log=False,
    warn=True,
):
    """POT's ``ot.bregman.barycenter_stabilized``: :func:`otkit.barycenter` with
    method='sinkhorn_stabilized', which runs the log-domain iteration (stable at any
    ``reg``; ``tau`` is accepted and unused)."""
    return barycenter(
        A, M, reg, weights, "sinkhorn_stabilized", numItermax, stopThr, verbose, log, warn
    )


for _function in (sinkhorn_knopp, sinkhorn_log, sinkhorn_stabilized, sinkhorn_epsilon_scaling):
    _function.__doc__ += _SEE_SINKHORN.replace("{name}", _function.__name__)
greenkhorn.__doc__ += _SEE_SINKHORN.replace("{name}", "greenkhorn")
del _function
