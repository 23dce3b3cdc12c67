"""POT's per-method entry points in ``otkit.bregman``: signatures and equivalence."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot

# POT 0.9's positional order and defaults, which scripts may rely on.
POT_SIGNATURES = {
    "sinkhorn_knopp": "a, b, M, reg, numItermax=1000, stopThr=1e-09, verbose=False, log=False, "
    "warn=True, warmstart=None, **kwargs",
    "sinkhorn_log": "a, b, M, reg, numItermax=1000, stopThr=1e-09, verbose=False, log=False, "
    "warn=True, warmstart=None, **kwargs",
    "sinkhorn_stabilized": "a, b, M, reg, numItermax=1000, tau=1000.0, stopThr=1e-09, "
    "warmstart=None, verbose=False, print_period=20, log=False, warn=True, **kwargs",
    "sinkhorn_epsilon_scaling": "a, b, M, reg, numItermax=100, epsilon0=10000.0, "
    "numInnerItermax=100, tau=1000.0, stopThr=1e-09, warmstart=None, verbose=False, "
    "print_period=10, log=False, warn=True, **kwargs",
    "greenkhorn": "a, b, M, reg, numItermax=10000, stopThr=1e-09, verbose=False, log=False, "
    "warn=True, warmstart=None",
    "barycenter_sinkhorn": "A, M, reg, weights=None, numItermax=1000, stopThr=0.0001, "
    "verbose=False, log=False, warn=True",
    "barycenter_stabilized": "A, M, reg, tau=10000000000.0, weights=None, numItermax=1000, "
    "stopThr=0.0001, verbose=False, log=False, warn=True",
}


@pytest.mark.parametrize("name", sorted(POT_SIGNATURES))
def test_signature_is_pots(name):
    signature = str(inspect.signature(getattr(ot.bregman, name)))
    assert signature == f"({POT_SIGNATURES[name]})"
    assert name in ot.bregman.__all__


def _problem(n=7, m=5, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) + 0.2, rng.random(m) + 0.2
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    return a / a.sum(), b / b.sum(), ot.dist(x, y)


@pytest.mark.parametrize(
    "name, method",
    [
        ("sinkhorn_knopp", "sinkhorn"),
        ("sinkhorn_log", "sinkhorn_log"),
        ("sinkhorn_stabilized", "sinkhorn_stabilized"),
        ("greenkhorn", "greenkhorn"),
    ],
)
def test_sinkhorn_entry_points_are_sinkhorn_with_their_method(xp, name, method):
    a, b, M = _problem()
    args = [to_xp(xp, v) for v in (a, b, M)]
    plan, log = getattr(ot.bregman, name)(*args, 0.5, log=True)
    assert_same_backend(plan, args[2])
    expected, expected_log = ot.sinkhorn(a, b, M, 0.5, method=method, log=True)
    np.testing.assert_allclose(to_np(plan), expected, atol=1e-12)
    assert log["n_iter"] == expected_log["n_iter"]
    # The plan is the entropic optimum: its marginals are a and b.
    np.testing.assert_allclose(to_np(plan).sum(axis=0), b, atol=1e-8)


def test_epsilon_scaling_gives_the_final_stage_pots_whole_budget():
    a, b, M = _problem()
    plan, log = ot.bregman.sinkhorn_epsilon_scaling(a, b, M, 1e-2, numItermax=20, log=True)
    expected, expected_log = ot.sinkhorn(
        a, b, M, 1e-2, method="sinkhorn_epsilon_scaling", numItermax=2000, epsilon0=1e4,
        numInnerItermax=100, log=True,
    )  # fmt: skip
    np.testing.assert_allclose(plan, expected, atol=1e-12)
    assert log["n_iter"] == expected_log["n_iter"] and log["converged"]


def _histograms(d=30):
    x = np.linspace(0.0, 1.0, d)
    columns = [np.exp(-0.5 * ((x - mu) / 0.06) ** 2) for mu in (0.25, 0.7)]
    return np.stack([c / c.sum() for c in columns], axis=1), ot.dist(x[:, None], x[:, None])


def test_barycenter_entry_points(xp):
    A, M = _histograms()
    A_x, M_x = to_xp(xp, A), to_xp(xp, M)
    b = ot.bregman.barycenter_sinkhorn(A_x, M_x, 1e-2)
    assert_same_backend(b, A_x)
    np.testing.assert_allclose(to_np(b), ot.barycenter(A, M, 1e-2), atol=1e-12)
    b_stab = ot.bregman.barycenter_stabilized(A_x, M_x, 1e-2)
    np.testing.assert_allclose(
        to_np(b_stab), ot.barycenter(A, M, 1e-2, method="sinkhorn_log"), atol=1e-12
    )


@pytest.mark.parametrize("debiased", [False, True])
def test_sinkhorn_stabilized_barycenter_is_the_log_domain_one(debiased):
    # POT's name for its absorption-stabilized loop; here the log-domain loop, which has the
    # same fixed point and is stable at any reg (reg = 1e-4 underflows exp(-M / reg)).
    A, M = _histograms()
    solve = ot.barycenter_debiased if debiased else ot.barycenter
    b, log = solve(A, M, 1e-4, method="sinkhorn_stabilized", log=True, numItermax=3000)
    assert log["log_domain"] and np.all(np.isfinite(b))
    expected = solve(A, M, 1e-4, method="sinkhorn_log", numItermax=3000)
    np.testing.assert_array_equal(b, expected)
    images = np.stack([A[:, 0].reshape(5, 6), A[:, 1].reshape(5, 6)])
    conv = ot.convolutional_barycenter2d(images, 1e-2, method="sinkhorn_stabilized")
    np.testing.assert_array_equal(
        conv, ot.convolutional_barycenter2d(images, 1e-2, method="sinkhorn_log")
    )
