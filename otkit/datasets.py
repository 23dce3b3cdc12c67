"""Toy data sets for examples and tests, as POT's ``ot.datasets`` (``make_1D_gauss`` ...)."""

__all__: list[str] = []
