"""POT 0.9.7's return conventions and warnings of ``emd`` / ``emd2``, with POT as the oracle.

``emd2`` returns ``[cost, log]`` lists with ``log=True`` and, for a 2-D ``b``, a list with
one entry per histogram; ``numThreads`` other than 1 is deprecated (DeprecationWarning) and
``processes`` above 1 with several histograms gives a UserWarning. The exact solver is
exact: costs agree with POT's to rounding (rtol 1e-12).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot

pot = pytest.importorskip("ot")


def _problem(n=6, m=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(n) + 0.1
    B = rng.random((m, k)) + 0.1
    return a / a.sum(), B / B.sum(axis=0), rng.random((n, m))


def _structure(result, extra_keys=()):
    """The nesting of lists, tuples, dicts (their keys, less ``extra_keys``) and leaves."""
    if isinstance(result, (list, tuple)):
        return (type(result).__name__, [_structure(r, extra_keys) for r in result])
    if isinstance(result, dict):
        return ("dict", sorted(set(result) - set(extra_keys)))
    return "leaf"


@pytest.mark.parametrize(
    "options", [{}, {"log": True}, {"return_matrix": True}, {"log": True, "return_matrix": True}]
)
@pytest.mark.parametrize("histograms", [1, 2])
def test_emd2_returns_pots_structure(xp, options, histograms):
    a, B, M = _problem()
    b = B[:, 0] if histograms == 1 else B
    args = [to_xp(xp, v) for v in (a, b, M)]
    ours, theirs = ot.emd2(*args, **options), pot.emd2(a, b, M, **options)
    # otkit's log has POT's keys, and n_iter.
    assert _structure(ours, extra_keys=["n_iter"]) == _structure(theirs)
    pairs = [ours] if histograms == 1 else ours
    reference = [theirs] if histograms == 1 else theirs
    for ours_k, theirs_k in zip(pairs, reference):
        cost = ours_k[0] if options else ours_k
        expected_cost = theirs_k[0] if options else theirs_k
        assert_same_backend(cost, args[2])
        assert tuple(cost.shape) == ()
        np.testing.assert_allclose(float(to_np(cost)), expected_cost, rtol=1e-12)
        if options.get("return_matrix"):
            np.testing.assert_allclose(to_np(ours_k[1]["G"]), theirs_k[1]["G"], atol=1e-15)


def test_emd2_several_histograms_differentiate_as_a_list():
    torch = pytest.importorskip("torch")
    a, B, M = _problem()
    Mt = torch.tensor(M, requires_grad=True)
    costs = ot.emd2(torch.tensor(a), torch.tensor(B), Mt)
    torch.stack(costs).sum().backward()
    expected = sum(pot.emd(a, B[:, k], M) for k in range(3))
    np.testing.assert_allclose(Mt.grad.numpy(), expected, atol=1e-14)


@pytest.mark.parametrize("value", [2, "max", "MAX", None])
@pytest.mark.parametrize("function", ["emd", "emd2"])
def test_num_threads_other_than_one_is_deprecated_as_in_pot(function, value):
    a, B, M = _problem()
    with pytest.warns(DeprecationWarning, match="numThreads") as ours:
        result = getattr(ot, function)(a, B[:, 0], M, numThreads=value)
    with pytest.warns(DeprecationWarning) as theirs:
        expected = getattr(pot, function)(a, B[:, 0], M, numThreads=value)
    assert len(ours) == len(theirs) == 1
    assert ours[0].filename == __file__  # points at the caller
    np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.parametrize("value", [0, -1, 1.5, "all"])
@pytest.mark.parametrize("function", ["emd", "emd2"])
def test_bad_num_threads_is_a_value_error_as_in_pot(function, value):
    a, B, M = _problem()
    with pytest.raises(ValueError):
        getattr(pot, function)(a, B[:, 0], M, numThreads=value)
    with pytest.raises(ValueError, match="numThreads must be a positive int"):
        getattr(ot, function)(a, B[:, 0], M, numThreads=value)


@pytest.mark.parametrize("function", ["emd", "emd2"])
def test_one_thread_does_not_warn(function):
    a, B, M = _problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(ot, function)(a, B[:, 0], M, numThreads=1)
        getattr(ot, function)(a, B[:, 0], M, numThreads=True)  # an int equal to 1, as POT


def test_processes_above_one_warns_with_several_histograms_as_pot():
    a, B, M = _problem()
    with pytest.warns(UserWarning, match="processes") as ours:
        costs = ot.emd2(a, B, M, processes=4)
    with pytest.warns(UserWarning):
        expected = pot.emd2(a, B, M, processes=4)
    assert len(ours) == 1 and ours[0].filename == __file__
    np.testing.assert_allclose(costs, expected, rtol=1e-12)
    with warnings.catch_warnings():  # one histogram, or processes <= 1: silent (as POT)
        warnings.simplefilter("error")
        ot.emd2(a, B[:, 0], M, processes=4)
        ot.emd2(a, B, M, processes=1)
    with pytest.raises(TypeError, match="processes must be a number"):
        ot.emd2(a, B, M, processes="many")
