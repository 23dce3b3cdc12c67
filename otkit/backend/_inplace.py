"""Element-wise updates that overwrite their first argument where the library allows it.

An n x m temporary costs as much in page faults as the arithmetic on it, so loops that
rebuild a dense kernel (the stabilized Sinkhorn loop) chain in-place updates on one buffer.
NumPy and eager torch tensors that need no gradient are updated in place; JAX arrays are
immutable (XLA removes the temporaries itself) and get the plain expressions.
"""

from __future__ import annotations

import numpy as np

from ._namespace import is_numpy_namespace, is_torch_namespace

__all__ = ["inplace_ops"]


class _NumpyOps:
    @staticmethod
    def add(x, y):
        return np.add(x, y, out=x)

    @staticmethod
    def multiply(x, y):
        return np.multiply(x, y, out=x)

    @staticmethod
    def clip_min(x, low):
        return np.maximum(x, low, out=x)

    @staticmethod
    def exp(x):
        return np.exp(x, out=x)


class _TorchOps:
    @staticmethod
    def add(x, y):
        return x.add_(y)

    @staticmethod
    def multiply(x, y):
        return x.mul_(y)

    @staticmethod
    def clip_min(x, low):
        return x.clamp_(min=low)

    @staticmethod
    def exp(x):
        return x.exp_()


class _PlainOps:
    def __init__(self, xp):
        self._xp = xp

    @staticmethod
    def add(x, y):
        return x + y

    @staticmethod
    def multiply(x, y):
        return x * y

    def clip_min(self, x, low):
        return self._xp.clip(x, min=low)

    def exp(self, x):
        return self._xp.exp(x)


def inplace_ops(xp, requires_grad=False):
    """Operations ``add, multiply, clip_min, exp`` that may overwrite their first argument.

    Callers must own that argument (a fresh buffer) and use the returned value.  With
    ``requires_grad`` (an autograd graph is being recorded) torch gets the plain expressions.
    """
    if is_numpy_namespace(xp):
        return _NumpyOps()
    if is_torch_namespace(xp) and not requires_grad:
        return _TorchOps()
    return _PlainOps(xp)
