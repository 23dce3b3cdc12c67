"""The per-call fast paths of small problems give the numbers of the general paths.

Small problems spend their time in array operations, not arithmetic, so they take shortcuts:
errors and the relaxation schedule on Python floats in eager CPU loops, stored costs for the
divergences' host solve, float64 CPU torch divergences solved end to end on NumPy views, a
log-sum-exp of NumPy arrays without masks, no gradient term for tensors without autograd.
Each test holds a shortcut to the general path it replaces.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import to_np, to_xp

import otkit as ot
import otkit.backend._shims as shims
import otkit.bregman._divergence as divergence_module
from otkit.backend import logsumexp, numpy_namespace
from otkit.bregman._divergence_core import host_problem
from otkit.bregman._relaxation import schedule_start, schedule_step
from otkit.bregman._sinkhorn_loop import _Scalars, sinkhorn_log_loop

RNG = np.random.default_rng(11)
X = RNG.uniform(size=(12, 2))
Y = RNG.uniform(size=(9, 2)) * 0.6 + 0.4
TIGHT = {"stopThr": 1e-11, "numItermax": 100000}


def test_float_schedule_equals_the_array_schedule():
    # Errors that decrease, stall, grow tenfold (the fall-back) and vanish: the schedule on
    # floats must give the factors of the schedule on 0-d arrays at every step.
    errors = [0.3 * 0.7**k for k in range(30)] + [0.3 * 0.7**29 * 11.0] + [1e-3, 0.0, 0.0]
    for omega in (None, 1.5):
        as_floats = schedule_start(1.0, omega, _Scalars)
        as_arrays = schedule_start(np.asarray(1.0), omega, np)
        for err in errors:
            as_floats = schedule_step(as_floats, err, omega is None, _Scalars)
            as_arrays = schedule_step(as_arrays, np.asarray(err), omega is None, np)
            assert [float(v) for v in as_floats] == [float(v) for v in as_arrays]
        assert as_floats[0] == 1.0 and bool(as_arrays[-1])  # fell back for good


@pytest.mark.parametrize("translate", [None, 0.5])
def test_eager_loop_with_float_errors_matches_the_compiled_one(translate):
    """Eager NumPy measures its errors as floats; under jax.jit they are 0-d arrays: the same
    iterations (over-relaxed and, unbalanced, translated) and potentials."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    a, b = np.full(12, 1 / 12), np.full((9, 1), 1 / 9)
    C = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    eps, tol, damping = 0.05, 1e-10, 1.0 if translate is None else translate / (translate + 0.05)
    options = {"omega": None, "damping": damping, "translate": translate}
    f, g, n_iter, err, trace = sinkhorn_log_loop(
        a, b, C, eps, np.zeros((12, 1)), 5000, tol, numpy_namespace(), **options
    )
    assert isinstance(err, np.ndarray) and err.shape == () and float(err) == trace[-1] < tol

    def run(a, b, C, f0):
        return sinkhorn_log_loop(a, b, C, eps, f0, 5000, tol, jnp, **options)[:3]

    f_jit, g_jit, n_jit = jax.jit(run)(a, b, C, jnp.zeros((12, 1)))
    assert int(n_jit) == n_iter
    np.testing.assert_allclose(np.asarray(f_jit), f, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(g_jit), g, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "shape, axis", [((7,), None), ((5, 3), 0), ((5, 3), 1), ((300, 2), 0), ((2, 300), None)]
)
def test_numpy_logsumexp_matches_scipy(shape, axis):
    special = pytest.importorskip("scipy.special")
    x = RNG.normal(size=shape) * 50.0
    np.testing.assert_allclose(
        logsumexp(x, axis=axis, xp=numpy_namespace()),
        special.logsumexp(x, axis=axis),
        rtol=1e-14,
    )


def test_numpy_logsumexp_of_infinite_slices():
    xp = numpy_namespace()
    x = np.array([[-math.inf, -math.inf], [0.0, -math.inf], [math.inf, 1.0]])
    np.testing.assert_array_equal(logsumexp(x, axis=1, xp=xp), [-math.inf, 0.0, math.inf])
    long = np.full((2, 400), -math.inf)
    long[1, 7] = 2.0
    np.testing.assert_array_equal(logsumexp(long, axis=1, xp=xp), [-math.inf, 2.0])


@pytest.mark.parametrize("reach", [None, 0.7])
def test_small_torch_divergence_on_the_host_equals_numpy(reach):
    """A float64 CPU torch problem this small is solved on NumPy views: NumPy's value and
    potentials, its gradients those of the value (finite differences of NumPy's)."""
    torch = pytest.importorskip("torch")
    kwargs = {"blur": 0.2, "reach": reach, "log": True, **TIGHT}
    expected, log_np = ot.sinkhorn_divergence(X, Y, **kwargs)
    x = torch.tensor(X, requires_grad=True)
    value, log = ot.sinkhorn_divergence(x, torch.tensor(Y), **kwargs)
    assert value.dtype == torch.float64 and isinstance(log["f"], torch.Tensor)
    np.testing.assert_allclose(float(value.detach()), float(expected), rtol=1e-13)
    for key in ("f", "g", "f_aa", "g_bb", "ot_ab", "value_linear"):
        np.testing.assert_allclose(log[key].numpy(), log_np[key], rtol=1e-12, atol=1e-15)
    value.backward()
    h, step = 1e-6, np.zeros_like(X)
    step[3, 1] = h
    fd = (
        float(ot.sinkhorn_divergence(X + step, Y, **kwargs)[0])
        - float(ot.sinkhorn_divergence(X - step, Y, **kwargs)[0])
    ) / (2 * h)
    np.testing.assert_allclose(float(x.grad[3, 1]), fd, rtol=1e-6)


@pytest.mark.parametrize("reach", [None, 0.7])
@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_stored_costs_equal_the_online_ones(library, reach):
    """Small eager NumPy and CPU torch problems store their costs (and solve the (x, y)
    problem in the log domain); a batch size keeps them online: the same divergence. (The
    other libraries never store them.)"""
    xp = numpy_namespace() if library == "numpy" else pytest.importorskip("torch")
    args = [to_xp(xp, v) for v in (X, Y)]
    stored = ot.sinkhorn_divergence(*args, blur=0.3, reach=reach, **TIGHT)
    online = ot.sinkhorn_divergence(*args, blur=0.3, reach=reach, batch_size=4, **TIGHT)
    np.testing.assert_allclose(to_np(stored), to_np(online), rtol=1e-10)


def test_untracked_tensors_get_no_gradient_term():
    torch = pytest.importorskip("torch")
    x, y = torch.tensor(X, requires_grad=True), torch.tensor(Y)
    loss = ot.SamplesLoss("sinkhorn", blur=0.2, **TIGHT)
    value = loss(x, y)
    value.backward()
    assert y.grad is None and x.grad is not None
    # the same value and gradient as with every input tracked
    x2, y2 = torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=True)
    value2 = loss(x2, y2)
    value2.backward()
    assert float(value.detach()) == float(value2.detach())
    torch.testing.assert_close(x.grad, x2.grad, rtol=0, atol=0)


def test_numpy_logsumexp_of_adversarial_slices_matches_the_general_path(monkeypatch):
    """Spreads of 1e3, -inf, +inf and NaN entries, in short and long slices: the unmasked
    shifted sum gives the general path's values, bit for bit."""
    xp = numpy_namespace()
    cases = []
    for n in (6, 60, 300):
        x = RNG.normal(size=(4, n)) * 1e3
        x[1, ::3] = -math.inf
        x[2, :] = -math.inf
        x[2, -1] = -1e3
        x[3, 1] = math.inf
        cases += [(x[:, : min(n, 16)], 1), (x, 1), (x.T, 0), (x[1], None)]
        with_nan = x.copy()
        with_nan[0, 2] = math.nan
        cases.append((with_nan, 1))
    # (the general path overflows quietly to the right +inf where +inf meets large entries)
    with np.errstate(over="ignore"):
        fast = [logsumexp(v, axis=axis, xp=xp) for v, axis in cases]
    monkeypatch.setattr(shims, "_numpy_logsumexp", lambda x, axis: None)
    with np.errstate(invalid="ignore", over="ignore"):
        general = [logsumexp(v, axis=axis, xp=xp) for v, axis in cases]
    for got, expected in zip(fast, general):
        np.testing.assert_array_equal(got, expected)


def _general_path(monkeypatch):
    monkeypatch.setattr(divergence_module, "host_problem", lambda *args: None)


@pytest.mark.parametrize(
    "value, debias, reach",
    [
        ("regularized", True, None),
        ("regularized", False, None),
        ("regularized", True, 0.4),
        ("regularized", False, 0.4),
        ("linear", True, None),
        ("linear", False, 0.4),
    ],
)
def test_host_path_gradients_equal_the_general_path(monkeypatch, value, debias, reach):
    """The host path (a NumPy solve and NumPy arithmetic on its results) gives the value, log
    and autograd gradients in the points and the weights of the torch path it replaces (the
    same solve, on NumPy in both: only the rounding of the final arithmetic differs)."""
    torch = pytest.importorskip("torch")
    a, b = RNG.uniform(0.5, 1.5, size=12) / 12, RNG.uniform(0.5, 1.5, size=9) / 9
    if reach is None:
        b *= a.sum() / b.sum()
    kwargs = {"blur": 0.2, "reach": reach, "debias": debias, "value": value, "log": True,
              "grad": "envelope", **TIGHT}  # fmt: skip

    def run():
        inputs = [torch.tensor(v, requires_grad=True) for v in (X, Y, a, b)]
        total, log = ot.sinkhorn_divergence(*inputs, **kwargs)
        total.backward()
        return total, log, [v.grad for v in inputs]

    host = run()
    _general_path(monkeypatch)
    general = run()
    assert host[0].dtype == torch.float64 and host[0].requires_grad
    torch.testing.assert_close(host[0], general[0], rtol=1e-12, atol=1e-15)
    for got, expected in zip(host[2], general[2]):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-14)
    assert host[1].keys() == general[1].keys()
    for key, expected in general[1].items():
        got = host[1][key]
        assert type(got) is type(expected), key
        if isinstance(expected, torch.Tensor):
            assert got.dtype == expected.dtype and got.device == expected.device, key
            torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
        elif expected is not None:
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-15), key


def test_host_path_only_for_small_float64_and_float32_cpu_torch():
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as txp

    def host(x, y, xp=txp):
        a = b = None if x is None else x[:, 0]
        return host_problem(x, y, a, b if y is x else y[:, 0], xp)

    small = torch.tensor(X)
    views = host(small, torch.tensor(Y))
    assert views[0] is numpy_namespace() and all(isinstance(v, np.ndarray) for v in views[1])
    views = host(small.float(), torch.tensor(Y).float())  # float32: views of the same dtype
    assert views[0] is numpy_namespace() and all(v.dtype == np.float32 for v in views[1])
    assert host(small.half(), torch.tensor(Y).half()) is None  # (upcast before it is asked)
    big = torch.zeros((200, 2), dtype=torch.float64)
    assert host(big, big) is None  # n * m over HOST_PAIRS
    meta = torch.empty((5, 2), dtype=torch.float64, device="meta")
    assert host(meta, meta) is None  # not on the CPU (CUDA alike)
    assert host(X, Y, numpy_namespace()) is None  # NumPy is solved as it is


def test_implicit_linear_gradients_never_take_the_host_path(monkeypatch):
    torch = pytest.importorskip("torch")
    calls = []
    monkeypatch.setattr(divergence_module, "host_problem", lambda *args: calls.append(args) or None)
    x = torch.tensor(X, requires_grad=True)
    ot.sinkhorn_divergence(x, torch.tensor(Y), blur=0.2, value="linear", grad="implicit")
    assert not calls
    ot.sinkhorn_divergence(x, torch.tensor(Y), blur=0.2, value="linear", grad="envelope")
    assert len(calls) == 1


def test_jax_traced_divergence_never_takes_the_host_path(monkeypatch):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    calls = []
    monkeypatch.setattr(divergence_module, "host_problem", lambda *args: calls.append(args) or None)
    grad = jax.grad(lambda x: ot.sinkhorn_divergence(x, jnp.asarray(Y), blur=0.3))
    out = grad(jnp.asarray(X))
    assert not calls and np.all(np.isfinite(np.asarray(out)))


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_warning_points_at_the_callers_line(library):
    """The did-not-converge warning names the line of the user's call, for the function and
    for SamplesLoss (whose call goes through several otkit frames)."""
    xp = numpy_namespace() if library == "numpy" else pytest.importorskip("torch")
    x, y = to_xp(xp, X), to_xp(xp, Y)
    options = {"blur": 0.05, "numItermax": 2, "stopThr": 1e-12}
    for call in (
        lambda: ot.sinkhorn_divergence(x, y, **options),
        lambda: ot.SamplesLoss("sinkhorn", **options)(x, y),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [w.filename for w in caught] == [__file__], [str(w.message) for w in caught]
