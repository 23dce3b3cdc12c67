"""Boundary checks shared by ``solve`` and ``solve_sample``: options, POT's compatibility
parameters and what otkit does not implement (named, with the alternative)."""

from __future__ import annotations

import warnings

from .._validation import check_choice as _check_choice
from .._validation import check_integer, check_real
from ..backend import is_traced

__all__ = [
    "GRADS",
    "check_choice",
    "check_iteration_options",
    "check_n_threads",
    "check_reg",
    "check_reg_type",
    "check_unbalanced_type",
    "concrete",
    "is_regularized",
    "warn_n_threads",
]

GRADS = ("autodiff", "envelope", "detach", "last_step")
REG_TYPES = ("kl", "entropy")
UNBALANCED_TYPES = ("kl", "l2", "tv")


def check_reg(reg):
    """``reg`` as a float >= 0 (0 and None mean unregularized), or a JAX tracer as is."""
    return check_real(reg, "reg", minimum=0, allow_none=True)


def is_regularized(eps) -> bool:
    return eps is not None and (is_traced(eps) or eps > 0)


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices``: exact match (otkit's own option names, such as
    ``grad``, are case-sensitive), else a ValueError listing them."""
    return _check_choice(value, name, choices, case_sensitive=True)


def check_iteration_options(max_iter, tol):
    """``(max_iter, tol)`` as ``(int or None, float or None)``: ``max_iter >= 0``,
    ``tol >= 0``."""
    return (
        check_integer(max_iter, "max_iter", allow_none=True),
        check_real(tol, "tol", minimum=0, allow_none=True),
    )


def concrete(x):
    """``x`` when its value is known; None for a JAX tracer (under ``jax.jit``)."""
    return None if is_traced(x) else x


def check_reg_type(reg_type, regularized: bool, unbalanced: bool):
    """'kl', 'entropy', 'l2' or a pair ``(f, df)`` (POT's names, any case); None when there
    is no regularization (as POT, ``reg_type`` is then not read).

    'l2' and custom pairs exist for unbalanced OT only (L-BFGS-B, as POT); for balanced OT
    they raise ``NotImplementedError`` naming what otkit offers.
    """
    if not regularized:
        return None
    offer = (
        "for balanced OT otkit regularizes with reg_type='KL' (the default) or 'entropy' "
        "(the same plan); with unbalanced=rho, 'L2' and (f, df) run L-BFGS-B"
    )
    if isinstance(reg_type, tuple):
        if len(reg_type) != 2 or not all(callable(x) for x in reg_type):
            raise ValueError("reg_type as a tuple must be a pair (f, df) of callables")
        if unbalanced:
            return reg_type
        raise NotImplementedError(
            "a custom regularization reg_type=(f, df) of balanced OT needs POT's "
            f"generalized conditional gradient solver, which otkit does not implement; {offer}"
        )
    if not isinstance(reg_type, str):
        raise TypeError(f"reg_type must be a string or a pair (f, df), got {reg_type!r}")
    name = reg_type.lower()
    if name == "l2" and not unbalanced:
        raise NotImplementedError(
            f"reg_type='L2' (quadratically regularized balanced OT) is not implemented; {offer}"
        )
    if name not in REG_TYPES + ("l2",):
        raise NotImplementedError(f"reg_type={reg_type!r} is not implemented; {offer}")
    return name


def check_unbalanced_type(unbalanced_type, unbalanced):
    """'kl', 'l2' or 'tv' (any case); None when ``unbalanced`` is None (not read, as POT)."""
    if unbalanced is None:
        return None
    if not isinstance(unbalanced_type, str) or unbalanced_type.lower() not in UNBALANCED_TYPES:
        raise NotImplementedError(
            f"unbalanced_type={unbalanced_type!r} is not implemented; otkit penalizes the "
            "marginals with 'KL', 'L2' or 'TV'"
        )
    return unbalanced_type.lower()


def check_n_threads(n_threads):
    """POT's ``n_threads``: a positive int, 'max' or None (all threads)."""
    if n_threads is None or (isinstance(n_threads, str) and n_threads.lower() == "max"):
        return -1
    if isinstance(n_threads, str):
        raise ValueError(f"n_threads must be a positive int or 'max', got {n_threads!r}")  # noqa: TRY004
    return check_integer(n_threads, "n_threads", minimum=1, allow_traced=False)


def warn_n_threads(n_threads, stacklevel: int) -> None:
    """POT deprecates threads for its network simplex (a DeprecationWarning when != 1)."""
    if check_n_threads(n_threads) != 1:
        warnings.warn(
            "n_threads is deprecated (as in POT) and ignored: the network simplex runs on "
            "one thread",
            DeprecationWarning,
            stacklevel=stacklevel + 1,
        )
