"""Entropic barycenters of histograms (iterative Bregman projections), plain and debiased."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot


def _gaussian(x, mean, std):
    h = np.exp(-0.5 * ((x - mean) / std) ** 2)
    return h / h.sum()


def _problem(d=40, means=(0.3, 0.7), stds=(0.05, 0.08)):
    x = np.linspace(0.0, 1.0, d)
    A = np.stack([_gaussian(x, m, s) for m, s in zip(means, stds)], axis=1)
    return x, A, ot.dist(x[:, None], x[:, None])


METHODS = ["sinkhorn", "sinkhorn_log"]


@pytest.mark.parametrize("method", METHODS)
def test_debiased_barycenter_of_gaussians_averages_mean_and_std(method):
    # The W2 barycenter of 1D Gaussians is the Gaussian with the averaged mean and std; the
    # debiased barycenter has no entropic blur, so at reg = 1e-3 (blur ~ sqrt(reg) = 0.03
    # for the plain one) its moments match to ~1e-3 (the grid's discretisation error).
    x, A, M = _problem(d=100, means=(0.3, 0.7), stds=(0.04, 0.08))
    b = ot.barycenter_debiased(A, M, 1e-3, method=method, stopThr=1e-6)
    mean = b @ x
    std = np.sqrt(b @ (x - mean) ** 2)
    np.testing.assert_allclose([mean, std], [0.5, 0.06], atol=1e-3)


def test_entropic_barycenter_tends_to_the_lp_barycenter():
    # Its W2 objective sum_k w_k W_2^2(b, a_k) decreases to the LP optimum as reg -> 0
    # (the entropic blur of b costs O(reg) in the objective).
    _, A, M = _problem()
    weights = np.array([0.4, 0.6])
    lp_value = ot.lp.barycenter(A, M, weights=weights, log=True)[1]["fun"]
    gaps = []
    for reg in [1e-2, 3e-3, 1e-3]:
        b = ot.barycenter(A, M, reg, weights=weights, method="sinkhorn_log", stopThr=1e-9)
        b = b / b.sum()
        value = sum(w * ot.emd2(b, A[:, k], M) for k, w in enumerate(weights))
        gaps.append(value - lp_value)
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-9
    assert gaps[2] < 5e-3 * lp_value  # 4e-5 here, against 4e-3 at reg = 1e-2


# The debiased loop's d-update is a damped fixed point that contracts slowly at small reg:
# its residual (the stopping error) underestimates the distance to the solution by ~1e3
# here, hence atol = 1e-5 for a residual of 1e-8.


@pytest.mark.parametrize("method", METHODS)
def test_debiased_with_weights_one_zero_is_the_first_input(method):
    _, A, M = _problem()
    weights = np.array([1.0, 0.0])
    b = ot.barycenter_debiased(A, M, 1e-2, weights=weights, method=method, stopThr=1e-8)
    np.testing.assert_allclose(b, A[:, 0], atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_debiased_barycenter_of_identical_inputs_is_the_input(method):
    _, A, M = _problem()
    a = A[:, 0]
    b = ot.barycenter_debiased(np.stack([a, a, a], axis=1), M, 1e-2, method=method, stopThr=1e-8)
    np.testing.assert_allclose(b, a, atol=1e-5)


def test_plain_barycenter_of_identical_inputs_is_blurred():
    # The plain entropic barycenter is biased: identical inputs do not reproduce themselves.
    _, A, M = _problem()
    a = A[:, 0]
    b = ot.barycenter(np.stack([a, a], axis=1), M, 1e-2)
    assert np.abs(b - a).sum() > 0.05


@pytest.mark.parametrize("d", [40, 80], ids=["batched", "workspace"])
@pytest.mark.parametrize("debiased", [False, True])
def test_exp_and_log_domains_agree(debiased, d):
    # From 64 x 64 bins on, the log domain takes its log-sum-exps one histogram at a time in
    # a d x d workspace (NumPy, torch without autograd); below, one batched log-sum-exp.
    _, A, M = _problem(d=d)
    solve = ot.barycenter_debiased if debiased else ot.barycenter
    # The same iteration in two domains: equal up to rounding, sweep for sweep.
    b_exp = solve(A, M, 1e-2, stopThr=0.0, numItermax=50, warn=False)
    b_log = solve(A, M, 1e-2, method="sinkhorn_log", stopThr=0.0, numItermax=50, warn=False)
    np.testing.assert_allclose(b_exp, b_log, atol=1e-12)


def test_barycenter_mass_and_log():
    _, A, M = _problem()
    b, log = ot.barycenter(A, M, 1e-2, stopThr=1e-8, log=True)
    # At convergence every plan's row marginal is b; their mass is 1.
    np.testing.assert_allclose(b.sum(), 1.0, atol=1e-8)
    assert log["converged"] and log["n_iter"] == log["niter"]
    # The exponential domain measures its error after each of the first 20 sweeps, then
    # every 5 sweeps.
    n_iter = log["n_iter"]
    assert len(log["err"]) == min(n_iter, 20) + len(range(25, n_iter + 1, 5))
    assert log["err"][-1] <= 1e-8 < log["err"][0]
    assert log["log_u"].shape == log["log_v"].shape == A.shape
    # The plans diag(u) K diag(v) have the inputs as column marginals.
    K = np.exp(-M / 1e-2)
    plan = np.exp(log["log_u"][:, 0])[:, None] * K * np.exp(log["log_v"][:, 0])[None, :]
    np.testing.assert_allclose(plan.sum(axis=0), A[:, 0], atol=1e-12)


def test_debiased_loop_measures_every_five_sweeps():
    _, A, M = _problem()
    _, log = ot.barycenter_debiased(A, M, 1e-2, stopThr=1e-6, log=True)
    n_iter = log["n_iter"]
    assert log["converged"] and n_iter % 5 == 0
    # The first sweep, then every fifth: its error is not monotone over the first sweeps.
    assert len(log["err"]) == 1 + n_iter // 5
    assert log["err"][-1] <= 1e-6 < log["err"][-2]


def _generic_and_inplace(A_rows, w, op, debiased, num_iter_max, tol):
    from otkit.bregman._barycenter_numpy import bregman_projections_inplace
    from otkit.bregman._bregman_loop import iterative_bregman_projections

    generic = iterative_bregman_projections(
        A_rows, w, op, num_iter_max, tol, np, log_domain=False, debiased=debiased
    )
    inplace = bregman_projections_inplace(A_rows, w, op, num_iter_max, tol, debiased=debiased)
    return generic, inplace


@pytest.mark.parametrize("num_iter_max, tol", [(1, 0.0), (23, 0.0), (1000, 1e-7)])
@pytest.mark.parametrize("debiased", [False, True])
def test_inplace_numpy_loop_is_the_generic_loop(debiased, num_iter_max, tol):
    # The NumPy loop (buffers, K d stacked under the v_k) runs the same sweeps as the
    # generic one: same stopping sweep, same measured errors, same scalings up to rounding.
    from otkit.bregman._barycenter import DenseKernel

    _, A, M = _problem(d=30, means=(0.2, 0.5, 0.8), stds=(0.04, 0.08, 0.05))
    w = np.array([0.5, 0.3, 0.2])
    op = DenseKernel.from_cost(M, 2e-2, np, log_domain=False)
    generic, inplace = _generic_and_inplace(
        np.ascontiguousarray(A.T), w, op, debiased, num_iter_max, tol
    )
    assert inplace["n_iter"] == generic["n_iter"]
    # An error is a sum of differences of O(1) numbers: absolute rounding of ~1e-15 per bin.
    np.testing.assert_allclose(inplace["trace"], generic["trace"], rtol=1e-9, atol=1e-12)
    for key in ("b", "u", "v") + (("d",) if debiased else ()):
        np.testing.assert_allclose(inplace[key], generic[key], rtol=1e-9, err_msg=key)
    assert inplace["d"] is None if not debiased else inplace["d"].shape == (1, 30)


@pytest.mark.parametrize("debiased", [False, True])
def test_inplace_numpy_loop_on_images_is_the_generic_loop(debiased):
    from otkit.bregman._convolutional import SeparableGaussianKernel

    rng = np.random.default_rng(3)
    A = rng.random((3, 6, 4)) + 0.1
    A /= A.sum(axis=(1, 2), keepdims=True)
    op = SeparableGaussianKernel.on_grid(6, 4, 0.05, np, np.float64, None, log_domain=False)
    generic, inplace = _generic_and_inplace(A, np.full(3, 1 / 3), op, debiased, 400, 1e-8)
    assert inplace["n_iter"] == generic["n_iter"]
    assert inplace["b"].shape == (6, 4) and inplace["u"].shape == (3, 6, 4)
    for key in ("b", "u", "v"):
        np.testing.assert_allclose(inplace[key], generic[key], rtol=1e-9, err_msg=key)


def test_sinkhorn_switches_to_the_log_domain_when_the_kernel_underflows():
    # reg = 1e-4 on costs up to 1: exp(-M / reg) underflows to 0 away from the diagonal and
    # the scalings overflow; the result is the log-domain one, not NaN.
    _, A, M = _problem(d=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        b, log = ot.barycenter(A, M, 1e-4, log=True, numItermax=3000, warn=False)
    b_log = ot.barycenter(A, M, 1e-4, method="sinkhorn_log", numItermax=3000, warn=False)
    assert log["log_domain"]
    np.testing.assert_allclose(b, b_log, atol=1e-12)


def test_non_convergence_warns_once():
    _, A, M = _problem()
    with pytest.warns(UserWarning, match="did not converge") as record:
        _, log = ot.barycenter_debiased(A, M, 1e-2, numItermax=3, log=True)
    assert len(record) == 1
    assert not log["converged"] and log["n_iter"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ot.barycenter(A, M, 1e-2, numItermax=3, warn=False)


# Two of the four (method, debiased) loops per backend keep the suite fast; the other two
# equal these up to rounding on NumPy (test_exp_and_log_domains_agree).
LOOPS = [("sinkhorn", False), ("sinkhorn_log", True)]


@pytest.mark.parametrize("method, debiased", LOOPS)
def test_barycenter_on_every_backend(xp, dtype_name, method, debiased):
    _, A, M = _problem(d=20)
    solve = ot.barycenter_debiased if debiased else ot.barycenter
    A_x = to_xp(xp, A, dtype_name)
    b = solve(A_x, to_xp(xp, M, dtype_name), 5e-2, method=method, stopThr=1e-5)
    assert_same_backend(b, A_x)
    assert tuple(b.shape) == (20,)
    expected = solve(A, M, 5e-2, method=method, stopThr=1e-5)
    # Same iteration, so the same number of sweeps: float32 adds rounding only.
    atol = 1e-10 if dtype_name == "float64" else 1e-5
    np.testing.assert_allclose(to_np(b), expected, atol=atol)


@pytest.mark.parametrize("method, debiased", LOOPS)
def test_barycenter_under_jax_jit(method, debiased):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    _, A, M = _problem(d=20)
    solve = ot.barycenter_debiased if debiased else ot.barycenter
    fn = jax.jit(lambda A, M, reg: solve(A, M, reg, method=method, stopThr=1e-6, log=True))
    b, log = fn(jax.numpy.asarray(A), jax.numpy.asarray(M), 5e-2)
    expected = solve(A, M, 5e-2, method=method, stopThr=1e-6)
    np.testing.assert_allclose(np.asarray(b), expected, atol=1e-10)
    assert bool(log["converged"])


def test_barycenter_torch_gradient_through_the_iterations():
    torch = pytest.importorskip("torch")
    _, A, M = _problem(d=5)
    A_t = torch.as_tensor(A)
    M_t = torch.as_tensor(M, dtype=torch.float64).requires_grad_(True)

    def value(cost):
        b = ot.barycenter(A_t, cost, 0.1, numItermax=20, stopThr=0.0, warn=False)
        return (b * torch.arange(5.0, dtype=torch.float64)).sum()

    assert torch.autograd.gradcheck(value, (M_t,))


@pytest.mark.parametrize("debiased", [False, True])
def test_cpu_torch_runs_the_numpy_loop_and_returns_tensors(debiased):
    # CPU tensors outside autograd run the in-place NumPy loop on zero-copy views: the same
    # sweeps as NumPy (up to the rounding of torch's exp in the kernel), torch results.
    torch = pytest.importorskip("torch")
    _, A, M = _problem(d=30)
    solve = ot.barycenter_debiased if debiased else ot.barycenter
    b, log = solve(torch.as_tensor(A), torch.as_tensor(M), 1e-2, log=True)
    expected, expected_log = solve(A, M, 1e-2, log=True)
    assert isinstance(b, torch.Tensor) and b.dtype == torch.float64
    assert isinstance(log["log_u"], torch.Tensor)
    assert log["n_iter"] == expected_log["n_iter"]
    np.testing.assert_allclose(b.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("requires_grad", ["A", "M", None])
def test_torch_log_domain_on_a_workspace_and_under_autograd(requires_grad):
    # d = 70: the log-sum-exps run in place in a workspace unless autograd records them.
    torch = pytest.importorskip("torch")
    _, A, M = _problem(d=70)
    A_t = torch.as_tensor(A).requires_grad_(requires_grad == "A")
    M_t = torch.as_tensor(M).requires_grad_(requires_grad == "M")
    kw = {"method": "sinkhorn_log", "numItermax": 30, "stopThr": 0.0, "warn": False}
    b = ot.barycenter_debiased(A_t, M_t, 1e-2, **kw)
    np.testing.assert_allclose(b.detach().numpy(), ot.barycenter_debiased(A, M, 1e-2, **kw))
    if requires_grad is not None:
        (b * torch.arange(70.0, dtype=torch.float64)).sum().backward()
        grad = (A_t if requires_grad == "A" else M_t).grad
        assert grad is not None and bool(torch.all(torch.isfinite(grad)))


_BAD_INPUT = [
    ({"A": np.full((4, 2), 0.3)}, ValueError, r"each histogram of A must sum to 1"),
    ({"A": np.array([[0.5, 1.5], [0.5, -0.5], [0, 0], [0, 0]])}, ValueError, "negative"),
    ({"M": np.ones((3, 3))}, ValueError, r"M.shape == \(3, 3\), expected \(4, 4\)"),
    ({"A": np.full(4, 0.25)}, ValueError, "A must be a 2-D array"),
    ({"weights": np.ones(3) / 3}, ValueError, r"weights.shape == \(3,\), expected \(2,\)"),
    ({"weights": np.array([0.7, 0.7])}, ValueError, "weights must sum to 1"),
    ({"weights": np.array([1.5, -0.5])}, ValueError, "weights has negative entries"),
    ({"reg": 0.0}, ValueError, "reg must be a finite real number > 0"),
    ({"reg": -1.0}, ValueError, "reg must be a finite real number > 0"),
    ({"method": "greenkhorn"}, ValueError, "method must be one of"),
    ({"numItermax": 0}, ValueError, "numItermax must be an integer >= 1"),
    ({"bogus": 1}, TypeError, "unexpected keyword"),
]


@pytest.mark.parametrize("solve", [ot.barycenter, ot.barycenter_debiased])
@pytest.mark.parametrize("kwargs, error, message", _BAD_INPUT)
def test_barycenter_bad_input(solve, kwargs, error, message):
    args = {"A": np.full((4, 2), 0.25), "M": np.ones((4, 4)), "reg": 0.1}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        solve(**args)


def test_barycenter_is_reachable_under_pot_names():
    assert ot.bregman.barycenter is ot.barycenter
    assert ot.bregman.barycenter_debiased is ot.barycenter_debiased


def test_barycenter_mixed_libraries_is_a_type_error():
    torch = pytest.importorskip("torch")
    _, A, M = _problem(d=6)
    with pytest.raises(TypeError, match="NumPy array"):
        ot.barycenter(A, torch.as_tensor(M), 0.1)
