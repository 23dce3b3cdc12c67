"""POT ``ot.bregman`` names that otkit does not implement: each raises NotImplementedError.

They keep POT's signatures, so that a script fails at the call with a message naming the
otkit function that does the job, rather than with an ``AttributeError`` at import.
"""

from __future__ import annotations

__all__ = ["empirical_sinkhorn_nystroem", "empirical_sinkhorn_nystroem2", "screenkhorn", "unmix"]


def _unsupported(name, alternative):
    raise NotImplementedError(f"otkit has no ot.bregman.{name}; {alternative}")


def screenkhorn(
    a,
    b,
    M,
    reg,
    ns_budget=None,
    nt_budget=None,
    uniform=False,
    restricted=True,
    maxiter=10000,
    maxfun=10000,
    pgtol=1e-09,
    verbose=False,
    log=False,
):
    """POT's screened Sinkhorn (Alaya et al. 2019): not implemented.

    Raises
    ------
    NotImplementedError
        Always. :func:`otkit.sinkhorn` solves the problem that screenkhorn approximates,
        exactly and stably at any ``reg`` (``acceleration='overrelax'`` cuts the iterations
        at small ``reg``).
    """
    _unsupported(
        "screenkhorn",
        "otkit.sinkhorn(a, b, M, reg) solves the entropic problem it approximates "
        "(acceleration='overrelax' for fewer iterations at small reg).",
    )


def unmix(
    a,
    D,
    M,
    M0,
    h0,
    reg,
    reg0,
    alpha,
    numItermax=1000,
    stopThr=1e-3,
    verbose=False,
    log=False,
    warn=True,
):
    """POT's Wasserstein unmixing (Nakhostin et al. 2016): not implemented.

    Raises
    ------
    NotImplementedError
        Always. The weights of a Wasserstein barycenter that fits ``a`` can be optimized
        by gradient descent through :func:`otkit.barycenter` on torch (unrolled autodiff),
        as POT's example ``plot_unmix_optim_torch`` does.
    """
    _unsupported(
        "unmix",
        "optimize the barycentric weights by gradient descent through otkit.barycenter on "
        "torch tensors (differentiable by unrolled autodiff).",
    )


def empirical_sinkhorn_nystroem(
    X_s,
    X_t,
    reg=1.0,
    anchors=50,
    a=None,
    b=None,
    numItermax=1000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    random_state=None,
):
    """POT's Sinkhorn on a Nystroem kernel approximation: not implemented.

    Raises
    ------
    NotImplementedError
        Always. :func:`otkit.empirical_sinkhorn` with ``isLazy=True`` runs the exact
        Sinkhorn iteration online (memory O((n + m) d), no n x m matrix) and returns the
        potentials and, in its log, the plan as a lazy tensor.
    """
    _unsupported(
        "empirical_sinkhorn_nystroem",
        "otkit.empirical_sinkhorn(X_s, X_t, reg, isLazy=True, log=True) runs exact Sinkhorn "
        "online in O((n + m) d) memory; log['lazy_plan'] gives the plan by blocks.",
    )


def empirical_sinkhorn_nystroem2(
    X_s,
    X_t,
    reg=1.0,
    anchors=50,
    a=None,
    b=None,
    numItermax=1000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    random_state=None,
):
    """POT's Sinkhorn cost on a Nystroem kernel approximation: not implemented.

    Raises
    ------
    NotImplementedError
        Always. :func:`otkit.empirical_sinkhorn2` with ``isLazy=True`` gives the exact
        entropic cost online (memory O((n + m) d)), differentiable on torch and JAX.
    """
    _unsupported(
        "empirical_sinkhorn_nystroem2",
        "otkit.empirical_sinkhorn2(X_s, X_t, reg, isLazy=True) gives the exact entropic "
        "cost online in O((n + m) d) memory.",
    )
