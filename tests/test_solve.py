"""solve / solve_sample / OTResult: each method equals its solver, one set of units, fields
and types on every backend, gradients, boundary errors, and the progress reports."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from oracles import random_problem

import otkit as ot
from otkit.bregman._sinkhorn_numpy import stabilized_sinkhorn
from otkit.solvers._progress import Progress, progress

REG = 0.1
needs_divergence = pytest.mark.skipif(
    not hasattr(ot, "sinkhorn_divergence"), reason="method='online' needs sinkhorn_divergence"
)


@pytest.fixture
def problem():
    a, b, M = random_problem(7, 5, seed=4)
    return a, b, M / M.max()


@pytest.fixture
def clouds():
    rng = np.random.default_rng(5)
    return rng.normal(size=(8, 2)), rng.normal(size=(6, 2)) + 1.0


def _kl(P, a, b):
    ab = a[:, None] * b[None, :]
    return float(np.sum(P * np.log(P / ab)) - P.sum() + ab.sum())


# --- each method equals the solver it dispatches to --------------------------------------------


def test_exact_is_emd(xp, problem):
    a, b, M = (to_xp(xp, x) for x in problem)
    res = ot.solve(M, a, b)
    G, log = ot.emd(a, b, M, log=True)
    np.testing.assert_allclose(to_np(res.value), to_np(ot.emd2(a, b, M)), rtol=1e-12)
    np.testing.assert_allclose(to_np(res.plan), to_np(G), atol=1e-15)
    np.testing.assert_allclose(to_np(res.potential_a), to_np(log["u"]), atol=1e-12)
    np.testing.assert_allclose(to_np(res.potential_b), to_np(log["v"]), atol=1e-12)
    assert res.value_linear is res.value
    assert (res.method, res.status, res.converged, res.errors) == ("emd", "optimal", True, [])
    assert isinstance(res.n_iter, int) and res.n_iter > 0


def test_entropic_is_sinkhorn(xp, problem):
    a, b, M = (to_xp(xp, x) for x in problem)
    res = ot.solve(M, a, b, reg=REG, tol=1e-11)
    G, log = ot.sinkhorn(a, b, M, REG, stopThr=1e-11, log=True)
    np.testing.assert_allclose(to_np(res.plan), to_np(G), atol=1e-14)
    np.testing.assert_allclose(to_np(res.value), to_np(log["reg_value"]), rtol=1e-12)
    np.testing.assert_allclose(to_np(res.value_linear), to_np(log["cost"]), rtol=1e-12)
    np.testing.assert_allclose(to_np(res.potential_a), to_np(log["f"]), atol=1e-12)
    assert res.status == "converged" and res.converged is True
    # solve differentiates through the iterations by default (torch/JAX: the log-domain
    # loop) where sinkhorn uses the stabilized scaling loop: same iterates up to rounding.
    assert res.n_iter == log["n_iter"]
    np.testing.assert_allclose(res.errors, log["err"], rtol=1e-9, atol=1e-15)


def test_entropic_value_is_linear_cost_plus_reg_kl(problem):
    a, b, M = problem
    res = ot.solve(M, a, b, reg=REG, tol=1e-12)
    P = res.plan
    np.testing.assert_allclose(res.value_linear, np.sum(P * M), rtol=1e-12)
    np.testing.assert_allclose(res.value, np.sum(P * M) + REG * _kl(P, a, b), rtol=1e-10)


@pytest.mark.parametrize("method", ["sinkhorn_log", "sinkhorn_epsilon_scaling", "greenkhorn"])
def test_sinkhorn_variants_reach_the_same_value(problem, method):
    a, b, M = problem
    reference = ot.solve(M, a, b, reg=REG, tol=1e-10).value
    res = ot.solve(M, a, b, reg=REG, method=method, tol=1e-10, max_iter=5000)
    assert res.method == method
    np.testing.assert_allclose(res.value, reference, rtol=1e-8)


def test_potentials_init_warm_starts_sinkhorn(problem):
    a, b, M = problem
    cold = ot.solve(M, a, b, reg=REG, tol=1e-10)
    warm = ot.solve(M, a, b, reg=REG, tol=1e-10, potentials_init=cold.potentials)
    assert warm.n_iter <= 1
    np.testing.assert_allclose(warm.value, cold.value, rtol=1e-10)


def test_sample_exact_and_sinkhorn_are_solve_on_dist(clouds):
    x, y = clouds
    M = ot.dist(x, y)
    np.testing.assert_allclose(ot.solve_sample(x, y).value, ot.emd2([], [], M), rtol=1e-12)
    res = ot.solve_sample(x, y, reg=0.5)
    np.testing.assert_allclose(res.value, ot.solve(M, reg=0.5).value, rtol=1e-12)
    assert res.plan.shape == (8, 6)


def test_sample_metric_reaches_the_cost(clouds):
    x, y = clouds
    M = ot.dist(x, y, metric="euclidean")
    value = ot.solve_sample(x, y, metric="euclidean").value
    np.testing.assert_allclose(value, ot.emd2([], [], M), rtol=1e-12)


@needs_divergence
def test_sample_online_is_sinkhorn_divergence_unbiased(clouds):
    x, y = clouds
    res = ot.solve_sample(x, y, reg=0.5, lazy=True, tol=1e-10)
    expected, log = ot.sinkhorn_divergence(x, y, reg=0.5, debias=False, stopThr=1e-10, log=True)
    assert res.method == "online" and res.plan is None
    np.testing.assert_allclose(res.value, expected, rtol=1e-12)
    np.testing.assert_allclose(res.value_linear, log["value_linear"], rtol=1e-12)
    # The online and dense solves reach the same optimum.
    dense = ot.solve_sample(x, y, reg=0.5, tol=1e-11)
    np.testing.assert_allclose(res.value, dense.value, rtol=1e-7)
    # Potentials are defined up to (f + c, g - c): compare them centred.
    for online, exact in zip(res.potentials, dense.potentials):
        np.testing.assert_allclose(online - online.mean(), exact - exact.mean(), atol=1e-6)


@needs_divergence
def test_sample_debias_is_the_sinkhorn_divergence(clouds):
    x, y = clouds
    expected = ot.sinkhorn_divergence(x, y, reg=0.5, stopThr=1e-11)
    dense = ot.solve_sample(x, y, reg=0.5, debias=True, tol=1e-11)
    online = ot.solve_sample(x, y, reg=0.5, debias=True, method="online", tol=1e-11)
    for res in (dense, online):
        np.testing.assert_allclose(res.value, expected, rtol=1e-12)
    # Dense methods form the plan of (a, b) from the divergence's potentials.
    assert dense.method == "sinkhorn" and online.plan is None
    np.testing.assert_allclose(dense.marginal_a, np.full(8, 1 / 8), atol=1e-10)
    np.testing.assert_allclose(
        dense.plan, ot.solve_sample(x, y, reg=0.5, tol=1e-11).plan, atol=1e-9
    )
    assert ot.solve_sample(x, x, reg=0.5, debias=True).value == pytest.approx(0, abs=1e-12)


# --- one set of units --------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "p"), [("sqeuclidean", 2), ("euclidean", 1)])
def test_sliced_value_is_sw_to_the_power_p(clouds, metric, p):
    x, y = clouds
    res = ot.solve_sample(x, y, metric=metric, method="sliced", n_projections=20, seed=3)
    distance = ot.sliced_wasserstein_distance(x, y, n_projections=20, p=p, seed=3)
    np.testing.assert_allclose(res.value, distance**p, rtol=1e-12)
    np.testing.assert_allclose(res.log["sliced_distance"], distance, rtol=1e-15)
    assert res.plan is None and res.potentials is None


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cityblock"])
def test_one_d_equals_exact_on_one_d_data(metric):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(9, 1)), rng.normal(size=(7, 1)) + 0.3
    a, b = rng.random(9) + 0.1, rng.random(7) + 0.1
    a, b = a / a.sum(), b / b.sum()
    exact = ot.solve_sample(x, y, a, b, metric=metric)
    one_d = ot.solve_sample(x, y, a, b, metric=metric, method="1d")
    np.testing.assert_allclose(one_d.value, exact.value, rtol=1e-12)
    plan = one_d.plan
    np.testing.assert_allclose(np.sum(plan * ot.dist(x, y, metric=metric)), exact.value)
    if metric == "sqeuclidean":  # strictly convex cost: the optimal plan is unique
        np.testing.assert_allclose(plan, exact.plan, atol=1e-12)
    f, g = one_d.potentials
    np.testing.assert_allclose(a @ f + b @ g, exact.value, rtol=1e-12)
    np.testing.assert_allclose(one_d.marginal_a, a, rtol=1e-15)


def test_one_d_on_several_features_is_one_problem_per_feature(clouds):
    x, y = clouds
    res = ot.solve_sample(x, y, method="1d")
    expected = [ot.wasserstein_1d(x[:, k], y[:, k], p=2) for k in range(2)]
    np.testing.assert_allclose(res.value, expected, rtol=1e-12)
    assert res.plan is None and res.potential_a.shape == (8, 2)


# --- fields and types on every backend -----------------------------------------------------------


# float32 through Sinkhorn is test_sinkhorn.py's business (and a slow extra JAX compilation).
@pytest.mark.parametrize(
    ("reg", "dtype_name"), [(None, "float32"), (None, "float64"), (REG, "float64")]
)
def test_result_arrays_keep_backend_dtype_device(xp, dtype_name, problem, reg):
    a, b, M = (to_xp(xp, x, dtype_name) for x in problem)
    # The tolerance of test_entropic_is_sinkhorn: JAX reuses its compiled loop.
    res = ot.solve(M, a, b, reg=reg, tol=1e-11)
    for array in (res.value, res.value_linear, res.plan, *res.potentials, *res.marginals):
        assert_same_backend(xp.asarray(array), M)
    assert tuple(res.plan.shape) == (7, 5)
    assert tuple(res.potential_a.shape) == (7,) and tuple(res.potential_b.shape) == (5,)
    np.testing.assert_allclose(to_np(res.marginal_a), problem[0], atol=1e-4)
    assert isinstance(res.status, str) and isinstance(res.converged, bool)
    assert isinstance(res.n_iter, int) and isinstance(res.errors, list)


# 'online' forwards to sinkhorn_divergence (tested on every backend with it); here it runs
# on torch, in TestTorchGradients.
@pytest.mark.parametrize(
    ("method", "dtype_name"), [("1d", "float32"), ("1d", "float64"), ("sliced", "float32")]
)
def test_sample_methods_keep_backend_dtype_device(xp, dtype_name, method):
    rng = np.random.default_rng(2)
    x, y = (to_xp(xp, rng.normal(size=(6, 1)), dtype_name) for _ in range(2))
    res = ot.solve_sample(x, y, method=method, seed=0, n_projections=5)
    assert_same_backend(xp.asarray(res.value), x)
    if res.potentials is not None:
        assert_same_backend(res.potential_a, x)
        assert tuple(res.potential_a.shape) == (6,)
    if method == "1d":
        assert_same_backend(res.plan, x)
    assert res.converged is True and res.method == method


def test_result_is_read_only(problem):
    res = ot.solve(problem[2])
    with pytest.raises(AttributeError, match="read-only"):
        res.value = 0.0
    assert "method='emd'" in repr(res)


# --- gradients --------------------------------------------------------------------------------


class TestTorchGradients:
    torch = pytest.importorskip("torch")

    def _tensors(self, problem):
        a, b, M = (self.torch.tensor(x, dtype=self.torch.float64) for x in problem)
        return a, b, M.requires_grad_(True)

    def test_exact_value_gradient_is_the_plan(self, problem):
        a, b, M = self._tensors(problem)
        res = ot.solve(M, a, b)
        res.value.backward()
        np.testing.assert_allclose(M.grad.numpy(), res.plan.numpy(), atol=1e-15)

    @pytest.mark.parametrize("grad", ["autodiff", "envelope"])
    def test_entropic_value_gradient_is_the_plan(self, problem, grad):
        a, b, M = self._tensors(problem)
        res = ot.solve(M, a, b, reg=REG, tol=1e-12, grad=grad)
        res.value.backward()
        np.testing.assert_allclose(M.grad.numpy(), res.plan.detach().numpy(), atol=1e-8)

    @pytest.mark.parametrize("reg", [None, REG])
    def test_detach_gives_no_gradient(self, problem, reg):
        a, b, M = self._tensors(problem)
        res = ot.solve(M, a, b, reg=reg, grad="detach")
        assert not res.value.requires_grad

    @needs_divergence
    def test_online_keeps_dtype_and_has_envelope_gradients(self, clouds):
        x, y = (self.torch.tensor(c, dtype=self.torch.float32, requires_grad=True) for c in clouds)
        res = ot.solve_sample(x, y, reg=0.5, lazy=True)
        assert res.value.dtype == self.torch.float32 and res.potential_a.dtype == x.dtype
        res.value.backward()
        assert x.grad is not None and self.torch.all(self.torch.isfinite(x.grad))

    def test_sliced_value_gradient_flows_to_the_points(self, clouds):
        x, y = (self.torch.tensor(c, requires_grad=True) for c in clouds)
        ot.solve_sample(x, y, method="sliced", seed=0, n_projections=10).value.backward()
        assert x.grad is not None and self.torch.all(self.torch.isfinite(x.grad))


class TestJaxGradients:
    jax = pytest.importorskip("jax")

    @pytest.fixture(autouse=True)
    def _x64(self):
        self.jax.config.update("jax_enable_x64", True)

    def test_exact_value_gradient_is_the_plan(self, problem):
        a, b, M = (self.jax.numpy.asarray(x) for x in problem)
        grad = self.jax.grad(lambda C: ot.solve(C, a, b).value)(M)
        np.testing.assert_allclose(np.asarray(grad), np.asarray(ot.solve(M, a, b).plan))

    def test_entropic_value_gradient_is_the_plan(self, problem):
        # (Unrolled autodiff on JAX is covered by test_sinkhorn_gradients.py; it is slow.)
        a, b, M = (self.jax.numpy.asarray(x) for x in problem)

        def value(C):
            return ot.solve(C, a, b, reg=REG, tol=1e-12, grad="envelope").value

        plan = ot.solve(M, a, b, reg=REG, tol=1e-12).plan
        np.testing.assert_allclose(np.asarray(self.jax.grad(value)(M)), plan, atol=1e-8)

    def test_solve_runs_under_jit(self, problem):
        a, b, M = (self.jax.numpy.asarray(x) for x in problem)
        jitted = self.jax.jit(lambda C: ot.solve(C, a, b, reg=REG).value)
        np.testing.assert_allclose(jitted(M), ot.solve(M, a, b, reg=REG).value, rtol=1e-12)


# --- boundary errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "simplex"}, "method must be one of"),
        ({"reg": -1.0}, "reg must be a finite real number >= 0"),
        ({"reg": float("nan")}, "reg must be"),
        ({"grad": "forward"}, "grad must be one of"),
        ({"n_threads": 0}, "n_threads must be"),
        ({"plan_init": np.ones((2, 2))}, "plan_init.shape"),
        ({"method": "sinkhorn"}, "method='sinkhorn' needs reg > 0"),
        ({"method": "emd", "reg": 0.1}, "method='emd' solves unregularized OT"),
        ({"max_iter": -1}, "max_iter must be"),
        ({"tol": -1e-3}, "tol must be"),
        ({"a": np.full(3, 1 / 3)}, r"a.shape == \(3,\), expected \(7,\)"),
    ],
)
def test_solve_rejects_bad_input(problem, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ot.solve(problem[2], **kwargs)


def test_solve_says_what_is_not_implemented(problem):
    M = problem[2]
    with pytest.raises(NotImplementedError, match="unbalanced_type='foo'.*'KL', 'L2' or 'TV'"):
        ot.solve(M, reg=REG, unbalanced=1.0, unbalanced_type="foo")
    with pytest.raises(ValueError, match="reach"):
        ot.solve(M, reg=REG, reach=1.0, unbalanced=1.0)
    with pytest.raises(NotImplementedError, match="reg_type='L2'.*'KL'.*'entropy'"):
        ot.solve(M, reg=REG, reg_type="L2")
    with pytest.raises(NotImplementedError, match="conditional gradient.*'KL'"):
        ot.solve(M, reg=REG, reg_type=(np.sum, np.ones_like))
    with pytest.raises(NotImplementedError, match="reg_type='tsallis'"):
        ot.solve(M, reg=REG, reg_type="tsallis")
    # As POT, reg_type and unbalanced_type are not read without reg and unbalanced.
    res = ot.solve(M, reg_type="L2", unbalanced_type="foo")
    np.testing.assert_allclose(res.value, ot.solve(M).value, rtol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "wasserstein"}, "method must be one of"),
        ({"reg": -0.5}, "reg must be"),
        ({"method": "sliced", "reg": 0.1}, "reg is not used by method='sliced'"),
        ({"method": "online"}, "method='online' is entropic OT and needs reg > 0"),
        ({"method": "sliced", "metric": "nonsense"}, "metric must be one of"),
        ({"method": "1d", "potentials_init": (np.zeros(8), np.zeros(6))}, "potentials_init"),
        ({"b": np.full(5, 0.2)}, r"b.shape == \(5,\), expected \(6,\) to match X_b.shape\[0\]"),
    ],
)
def test_solve_sample_rejects_bad_input(clouds, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ot.solve_sample(*clouds, **kwargs)


def test_solve_sample_names_mismatched_points(clouds):
    x, _ = clouds
    with pytest.raises(ValueError, match="X_a and X_b must have the same number of features"):
        ot.solve_sample(x, np.zeros((4, 3)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lazy": True, "method": "exact", "unbalanced": 1.0}, "balanced"),
        ({"method": "sliced", "metric": "cosine"}, "metric must be one of"),
        ({"method": "gaussian", "metric": "euclidean"}, "metric='sqeuclidean'"),
        ({"method": "lowrank"}, "method='lowrank'.*use method='sinkhorn'"),
        ({"method": "Factored"}, "method='factored'.*free_support_barycenter"),
        ({"method": "nystroem"}, "method='nystroem'.*lazy=True"),
        ({"method": "gaussian_hd"}, "method='gaussian'"),
        ({"method": "bsp"}, "method='bsp'.*'exact'"),
        ({"rank": 10}, "rank=10"),
        ({"X_init": np.zeros((3, 2))}, "X_init.*factored"),
        ({"debias": "split"}, "debias='split'"),
        ({"reg": 0.5, "lazy": True, "c": np.ones((8, 6))}, "c .*dense path"),
    ],
)
def test_solve_sample_says_what_is_not_implemented(clouds, kwargs, match):
    with pytest.raises(NotImplementedError, match=match):
        ot.solve_sample(*clouds, **kwargs)


@pytest.mark.parametrize("reg", [None, 0.5])
def test_solve_sample_reach_is_rho_in_cost_units(clouds, reg):
    # GeomLoss's reach r for the cost |x - y|^2: rho = 2 r^2, on the dense path too.
    res = ot.solve_sample(*clouds, reg=reg, reach=0.7, tol=1e-11)
    ref = ot.solve_sample(*clouds, reg=reg, unbalanced=2 * 0.7**2, tol=1e-11)
    np.testing.assert_allclose(res.value, ref.value, rtol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        ot.solve_sample(*clouds, reg=reg, reach=0.7, unbalanced=1.0)


# --- progress -------------------------------------------------------------------------------------


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError


def test_progress_without_tqdm_prints_every_n_iterations(no_tqdm, capsys):
    report = Progress(total=10, desc="test", every=4)
    assert not report.uses_tqdm
    for n_iter in range(10):
        report(n_iter, 10.0**-n_iter)
    report.close("converged")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "test: iteration 0/10",
        "test: iteration 4/10",
        "test: iteration 8/10",
        "test: iteration 9/10",
    ]
    assert lines[-1].endswith("marginal error 1.00e-09, converged")


def test_progress_with_tqdm_draws_a_bar(capsys):
    pytest.importorskip("tqdm")
    with Progress(total=10, desc="test") as report:
        assert report.uses_tqdm
        report(5, 1e-3)
        report.close("converged")
    err = capsys.readouterr().err
    assert "test:" in err and "5/10" in err and "marginal error 1.00e-03, converged" in err


def test_progress_disabled_is_silent(capsys):
    with progress(False, 10) as report:
        report(3, 1.0)
        report.close("done")
    assert capsys.readouterr() == ("", "")


def test_numpy_sinkhorn_reports_every_iteration(problem):
    a, b, M = problem
    seen = []
    _, _, _, n_iter, trace, _ = stabilized_sinkhorn(
        a, b, M, REG, np.zeros(a.size), 100, 1e-10, lambda it, err: seen.append((it, err))
    )
    assert seen == list(enumerate(trace)) and len(seen) == n_iter + 1


def test_solve_verbose_reports_the_marginal_error(no_tqdm, problem, capsys):
    a, b, M = problem
    res = ot.solve(M, a, b, reg=REG, verbose=True)
    out = capsys.readouterr().out
    assert out.startswith("sinkhorn: iteration 0/1000, marginal error")
    assert out.splitlines()[-1].endswith(f"{res.errors[-1]:.2e}, converged")
    ot.solve(M, a, b, verbose=True)
    assert capsys.readouterr().out.splitlines()[-1].endswith("optimal")


def test_solve_verbose_with_tqdm(problem, capsys):
    pytest.importorskip("tqdm")
    ot.solve(problem[2], reg=REG, verbose=True)
    assert "marginal error" in capsys.readouterr().err
