"""The (x, y) problem of the point-cloud divergences on the host kernel (otkit/bregman/
_dense_pair.py): squared Euclidean cost, eager NumPy or CPU torch, clouds above the stored
size (129 points and more), positive weights.

Oracles: a brute-force log-domain Sinkhorn on the dense cost (converged to 1e-13), its dual
value and envelope gradients; the generic path of the same solve (the online annealing, the
stabilized loop on the stored cost and the transport passes); the float schedule against
:mod:`otkit.bregman._relaxation`'s array one.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import is_backend, to_np, to_xp

import otkit as ot
from otkit.bregman import _dense_pair, _divergence_core
from otkit.bregman import _relaxation as relaxation
from otkit.bregman._pointcloud import CostSpec

RNG = np.random.default_rng(7)
X = RNG.normal(size=(150, 2))
Y = RNG.normal(size=(170, 2)) + np.array([0.8, -0.3])
A = RNG.uniform(0.5, 1.5, size=150)
A /= A.sum()
B = RNG.uniform(0.5, 1.5, size=170)
B /= B.sum()
TIGHT = {"stopThr": 1e-12, "numItermax": 100000}


def _brute_force(x, y, a, b, eps, tol=1e-13):
    """OT_eps(a, b) of the squared Euclidean cost by the log-domain Sinkhorn on the dense
    cost, and its gradient with respect to x (the envelope one, 2 (r_i x_i - (P y)_i))."""
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    log_a, log_b = np.log(a), np.log(b)
    f, g = np.zeros(len(a)), np.zeros(len(b))

    def lse(scores, axis):
        top = scores.max(axis=axis, keepdims=True)
        return np.squeeze(top + np.log(np.exp(scores - top).sum(axis=axis, keepdims=True)), axis)

    for step in range(200000):
        g = -eps * lse((f[:, None] - C) / eps + log_a[:, None], 0)
        f = -eps * lse((g[None, :] - C) / eps + log_b[None, :], 1)
        if step % 10 == 0:
            plan = np.exp((f[:, None] + g[None, :] - C) / eps + log_a[:, None] + log_b[None, :])
            if np.linalg.norm(plan.sum(0) - b) < tol:
                break
    value = a @ f + b @ g - eps * (plan.sum() - a.sum() * b.sum())
    grad_x = 2.0 * (plan.sum(1)[:, None] * x - plan @ y)
    return value, grad_x


def _generic(monkeypatch):
    """Route the solve to the generic path (no host kernel)."""
    monkeypatch.setattr(_divergence_core, "host_pair", lambda *args: None)


def test_the_host_kernel_solves_issue_16s_problems():
    """The path applies to these clouds (not to the stored, tiny ones) and reports the
    iterations at eps and the annealing stages."""
    assert _dense_pair.host_pair(X, Y, A, B, CostSpec()) is not None
    assert _dense_pair.host_pair(X, Y, A, np.r_[0.0, B[1:]], CostSpec()) is None
    assert _dense_pair.host_pair(X, Y, A, B, CostSpec(p=1.0)) is None
    _, log = ot.sinkhorn_divergence(X, Y, A, B, reg=0.05, debias=False, log=True)
    assert log["n_stages"] > 0 and 0 < log["n_iter"] < 200
    assert log["err"] < 1e-6


def _float32_start(monkeypatch, always=True):
    """Start every loop at eps in float32 (always) or none; returns the list of the
    iterations each start took."""
    monkeypatch.setattr(_dense_pair, "SINGLE_MIN_SIZE", 1 if always else 2**62)
    taken, start = [], _dense_pair._single_precision_start

    def spy(*args):
        taken.append(start(*args))
        return taken[-1]

    monkeypatch.setattr(_dense_pair, "_single_precision_start", spy)
    return taken


@pytest.mark.parametrize("float32_start", [False, True])
@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_value_and_gradient_equal_the_brute_force_oracle(eps, float32_start, monkeypatch):
    """With and without the float32 start of the loop (these clouds are below its size):
    the float64 loop that finishes meets the tolerance in float64 either way."""
    taken = _float32_start(monkeypatch, float32_start)
    value, grad_x = _brute_force(X, Y, A, B, eps)
    got = ot.sinkhorn_divergence(X, Y, A, B, reg=eps, debias=False, **TIGHT)
    np.testing.assert_allclose(float(got), value, rtol=1e-10)
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    out = ot.sinkhorn_divergence(x, torch.tensor(Y), torch.tensor(A), torch.tensor(B), reg=eps,
                                 debias=False, **TIGHT)  # fmt: skip
    (grad,) = torch.autograd.grad(out, x)
    # (the envelope gradient at converged potentials: its error is the marginal error's)
    np.testing.assert_allclose(grad.numpy(), grad_x, atol=1e-9)
    if float32_start:
        assert len(taken) == 2 and min(taken) > 10  # (most iterations ran in float32)
    else:
        assert taken == []


def test_the_float32_start_meets_the_default_tolerance(monkeypatch):
    """Issue 16's sizes (a 200 x 230 kernel, above SINGLE_MIN_SIZE): the float32 start
    takes the iterations down to the tolerance and the float64 loop confirms it; the value
    is within the tolerance's reach of the converged one (1e-8 relative, as the float64
    loop's), the trace has one error per iteration and one for the final state."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(200, 2)), rng.normal(size=(230, 2)) + 0.5
    assert x.shape[0] * y.shape[0] >= _dense_pair.SINGLE_MIN_SIZE
    converged = float(ot.sinkhorn_divergence(x, y, reg=0.1, debias=False, **TIGHT))
    taken = _float32_start(monkeypatch)
    monkeypatch.setattr(_dense_pair, "SINGLE_MIN_SIZE", 2**15)
    views = (x, y, np.full(200, 1 / 200), np.full(230, 1 / 230))
    stages = [2.0**-t for t in range(-3, 4)]
    out = _dense_pair.dense_pair(views, 0.1, stages, 1000, 1e-6)
    assert len(taken) == 1 and out["n_iter"] - 3 <= taken[0] <= out["n_iter"]
    assert len(out["trace"]) == out["n_iter"] + 1 and out["err"] < 1e-6
    assert abs(out["value"] / converged - 1) < 1e-8
    _float32_start(monkeypatch, always=False)
    plain = _dense_pair.dense_pair(views, 0.1, stages, 1000, 1e-6)
    assert abs(plain["value"] / converged - 1) < 1e-8


def test_the_float32_start_hands_over_when_a_scaling_leaves_its_range(monkeypatch):
    """Its scaling range narrowed to (1/8, 8): the start stops at the first scaling out
    of it, the float64 loop takes that iteration again (the trace keeps one error per
    iteration) and ends at the brute-force value."""
    taken = _float32_start(monkeypatch)
    monkeypatch.setattr(_dense_pair, "_SINGLE_BOUND", 8.0)
    out = _dense_pair.dense_pair((X, Y, A, B), 0.1, [2.0 * 0.5**t for t in range(4)], 10000,
                                 1e-12)  # fmt: skip
    assert len(taken) == 1 and 0 <= taken[0] < out["n_iter"] - 10
    assert len(out["trace"]) == out["n_iter"] + 1
    np.testing.assert_allclose(out["value"], _brute_force(X, Y, A, B, 0.1)[0], rtol=1e-10)


def test_equals_the_generic_path_at_the_default_tolerance(monkeypatch):
    """Same iteration, same stopping rule: values within the tolerance's reach of each
    other (both ~1e-10 relative from the converged value), gradients too."""
    options = {"reg": 0.05, "a": A, "b": B}
    fast, log = ot.sinkhorn_divergence(X, Y, log=True, **options)
    converged = ot.sinkhorn_divergence(X, Y, **options, **TIGHT)
    _generic(monkeypatch)
    slow, slow_log = ot.sinkhorn_divergence(X, Y, log=True, **options)
    assert abs(float(fast) / float(converged) - 1) < 1e-8
    assert abs(float(slow) / float(converged) - 1) < 1e-8
    assert log["n_stages"] == slow_log["n_stages"]
    # The re-estimated relaxation factor (every 10 iterations, not 20) needs fewer.
    assert log["n_iter"] <= slow_log["n_iter"]


def test_linear_value_and_all_gradients_equal_the_generic_path(monkeypatch):
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(v, requires_grad=True) for v in (X, Y, A, B)]

    def run():
        out = {}
        for value in ("regularized", "linear"):
            total = ot.sinkhorn_divergence(*tensors, reg=0.1, value=value, grad="envelope",
                                           **TIGHT)  # fmt: skip
            out[value] = (total.item(), torch.autograd.grad(total, tensors))
        return out

    fast = run()
    _generic(monkeypatch)
    slow = run()
    for value in fast:
        np.testing.assert_allclose(fast[value][0], slow[value][0], rtol=1e-10)
        for k, (got, want) in enumerate(zip(fast[value][1], slow[value][1])):
            got, want = got.numpy(), want.numpy()
            if k >= 2:  # weights: (f + c, g - c) is the same solution, a constant apart
                got, want = got - got.mean(), want - want.mean()
            np.testing.assert_allclose(got, want, atol=1e-9)


def _count_exact_transforms(monkeypatch):
    calls = []
    for name in ("exact_rows", "exact_cols"):
        method = getattr(_dense_pair._Kernel, name)

        def counted(self, potential, e, method=method, name=name):
            calls.append(name)
            return method(self, potential, e)

        monkeypatch.setattr(_dense_pair._Kernel, name, counted)
    return calls


def test_a_stage_falls_back_to_the_log_domain_when_its_kernel_underflows(monkeypatch):
    """Clouds 40 units apart with ``diameter=1``: the first stage's kernel (built with g = 0
    at eps_0 = 2) underflows; the exact c-transforms take over and the value is the
    converged one."""
    far = Y + 40.0
    calls = _count_exact_transforms(monkeypatch)
    got = ot.sinkhorn_divergence(X, far, A, B, reg=0.5, diameter=1.0, **TIGHT)
    assert calls == ["exact_cols", "exact_rows"]
    value = ot.sinkhorn_divergence(X, far, A, B, reg=0.5, **TIGHT)
    np.testing.assert_allclose(float(got), float(value), rtol=1e-9)
    _generic(monkeypatch)
    np.testing.assert_allclose(float(got), float(ot.sinkhorn_divergence(X, far, A, B, reg=0.5)),
                               rtol=1e-8)  # fmt: skip


def test_a_cold_start_rebuilds_the_kernel(monkeypatch):
    """No annealing (``scaling=None``) at eps = 0.05: a row scaling leaves [1e-50, 1e50] and
    the loop absorbs it (an exact half step); the value is the brute-force one."""
    calls = _count_exact_transforms(monkeypatch)
    got = ot.sinkhorn_divergence(X, Y, A, B, reg=0.05, scaling=None, debias=False, **TIGHT)
    assert calls == ["exact_cols", "exact_rows"]  # (the start g = T(0), then the rebuild)
    value, _ = _brute_force(X, Y, A, B, 0.05, tol=1e-12)
    np.testing.assert_allclose(float(got), value, rtol=1e-9)


def test_the_float_schedule_is_the_array_schedule():
    """The compiled schedule (floats) gives the factors of schedule_start / schedule_step
    for the same errors, with the same estimation window, and says which steps
    re-estimate."""
    errors = 0.05 * np.exp(-0.05 * np.arange(60)) * (1 + 0.3 * np.sin(np.arange(60)))
    errors[45] = 10.0  # a blow-up: the relaxation stops for good
    schedule = relaxation.schedule_start(np.asarray(errors[0]), None, np)
    floats = _dense_pair._schedule(relaxation.WINDOW)
    floats.start(float(errors[0]))
    changes = []
    for err in errors[1:]:
        due = floats.due_next()
        before = floats.w
        schedule = relaxation.schedule_step(schedule, np.asarray(err), True, np)
        assert floats.step(float(err)) == pytest.approx(float(schedule[0]), rel=1e-14)
        changes.append((floats.w != before, due))
    assert floats.w == 1.0
    # the factor changes only where due_next said so (re-estimates), or where it stops
    assert all(due for changed, due in changes[:44] if changed)
    assert sum(due for _, due in changes) >= 2


def test_backends_agree_and_keep_their_types(xp):
    """NumPy and torch (CPU: the host kernel; CUDA: the stabilized loop on the device) give
    the same value in the input's namespace and dtype (the other namespaces never take the
    host kernel: test_divergence covers them)."""
    if is_backend(xp, "jax") or is_backend(xp, "array_api_strict"):
        pytest.skip("the host kernel serves NumPy and CPU torch only")
    args = [to_xp(xp, v) for v in (X, Y, A, B)]
    got = ot.sinkhorn_divergence(*args, reg=0.1)
    want = ot.sinkhorn_divergence(X, Y, A, B, reg=0.1, **TIGHT)
    assert got.dtype == args[0].dtype
    np.testing.assert_allclose(to_np(got), float(want), rtol=1e-8)


def test_float32_input():
    got = ot.sinkhorn_divergence(X.astype(np.float32), Y.astype(np.float32),
                                 A.astype(np.float32), B.astype(np.float32), reg=0.1)  # fmt: skip
    want = ot.sinkhorn_divergence(X, Y, A, B, reg=0.1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(float(got), float(want), rtol=1e-4)


def test_float32_stages_give_the_float64_start():
    """The annealing stages on the float32 kernel end within 1e-3 e of the float64 ones
    (the loop at eps removes the difference), and a stage whose exponents are too large
    for float32 runs on the float64 kernel."""
    views = (X / 4, Y / 4, A, B)  # (the solve's points: divided by a power of two)
    stages = [2.0 * 0.25**t for t in range(7)]
    kern = _dense_pair._Kernel(*views)
    fast = _dense_pair._Kernel(*views, work=np.float32)
    f64, g64 = _dense_pair._anneal(kern, stages)
    f32, g32 = _dense_pair._anneal(kern, stages, fast)
    np.testing.assert_allclose(f32, f64, rtol=0, atol=1e-3 * stages[-1])
    np.testing.assert_allclose(g32, g64, rtol=0, atol=1e-3 * stages[-1])
    tiny = stages + [1e-5]  # exponents of order 1e6 at the last stage: float64 there
    used = []
    build = _dense_pair._Kernel.build

    def recorded(self, f, g, e):
        used.append(self.buffer.dtype)
        return build(self, f, g, e)

    _dense_pair._Kernel.build = recorded
    try:
        _dense_pair._anneal(kern, tiny, fast)
    finally:
        _dense_pair._Kernel.build = build
    assert used[0] == np.float32 and used[-1] == np.float64


def test_the_self_term_takes_a_log_domain_step_when_its_scaling_leaves_the_range(monkeypatch):
    """From potentials 400 eps off (scalings up to e^200): the averaged step is taken by the
    exact c-transform, and the loop ends at the value of the zero start and of the
    log-domain loop (the generic path of identical clouds)."""
    eps = 0.05
    views = (X, X, A, A)
    calls = _count_exact_transforms(monkeypatch)
    wild = _dense_pair.dense_self(views, eps, 400 * eps * RNG.uniform(-1, 1, 150), 10000, 1e-12)
    assert "exact_rows" in calls
    calm = _dense_pair.dense_self(views, eps, np.zeros(150), 10000, 1e-12)
    np.testing.assert_allclose(wild["value"], calm["value"], rtol=1e-12)
    _generic(monkeypatch)
    generic = ot.sinkhorn_divergence(X, X, A, A, reg=eps, debias=False, **TIGHT)
    np.testing.assert_allclose(calm["value"], float(generic), rtol=1e-12)


def _numpy_loop(kern, f, g, eps, num_iter_max, tol):
    """The loop at eps as NumPy array operations (the oracle of the compiled sweeps): the
    same iteration, stopping rule and absorptions as _dense_pair._loop."""
    a, b = kern.a, kern.b
    kernel = kern.build(f, g, eps).copy()
    v, col_sums = b / (kern.ones @ kernel), kern.ones @ kernel
    assert kern.in_range(v)
    u = np.ones_like(a)
    trace, n_iter, relaxed, schedule, w = [], 0, True, None, 1.0
    while True:
        row_sums = kernel @ v
        err = np.linalg.norm(u * row_sums - a)
        if relaxed:
            err = np.hypot(err, np.linalg.norm(v * col_sums - b))
        if relaxed and (err < tol or n_iter >= num_iter_max):
            relaxed, w = False, 1.0
            v = b / (u @ kernel)
            continue
        trace.append(err)
        if err < tol or n_iter >= num_iter_max:
            break
        if relaxed:
            if schedule is None:
                schedule = _dense_pair._schedule()
                schedule.start(err)
            else:
                w = schedule.step(err)
        u = _dense_pair._relaxed(u, a / row_sums, w)
        col_sums = u @ kernel
        v = _dense_pair._relaxed(v, b / col_sums, w)
        assert kern.in_range(u) and kern.in_range(v)
        n_iter += 1
    return u, v, n_iter, trace


@pytest.mark.parametrize("eps", [0.1, 0.02])
def test_the_compiled_loop_is_the_numpy_loop(eps):
    """From the annealed start: the same iterations, errors within rounding (they are
    differences of sums near 1e-9 at the end: absolute rounding of order 1e-17), the
    same scalings."""
    views = (X, Y, A, B)
    kern = _dense_pair._Kernel(*views)
    f, g = _dense_pair._anneal(kern, [2.0 * 0.5**t for t in range(8) if 2.0 * 0.5**t > eps])
    u, v, n_iter, trace = _numpy_loop(kern, f, g, eps, 10000, 1e-9)
    _, u_c, v_c, f_c, _, n_iter_c, trace_c = _dense_pair._loop(kern, f, g, eps, 10000, 1e-9)
    assert (n_iter_c, len(trace_c)) == (n_iter, len(trace))
    assert n_iter > 20  # (the relaxation schedule re-estimated the factor)
    np.testing.assert_allclose(trace_c, trace, rtol=1e-6, atol=1e-15)
    np.testing.assert_array_equal(f_c, f)  # (no absorption)
    np.testing.assert_allclose(u_c, u, rtol=1e-11)
    np.testing.assert_allclose(v_c, v, rtol=1e-11)


def test_scalings_out_of_range_are_absorbed(monkeypatch):
    """With the scaling range narrowed to [1e-3, 1e3], row and column scalings leave it
    often (cold start at eps = 0.05, then the relaxed steps): the loop absorbs them by
    exact half steps and still ends at the brute-force value."""
    floor = _dense_pair._limits(np.dtype(np.float64), np)[1]
    monkeypatch.setattr(_dense_pair, "_limits", lambda dtype, xp: (1e3, floor))
    calls = _count_exact_transforms(monkeypatch)
    got = ot.sinkhorn_divergence(X, Y, A, B, reg=0.05, scaling=None, debias=False, **TIGHT)
    assert calls.count("exact_rows") > 1 and calls.count("exact_cols") > 1
    value, _ = _brute_force(X, Y, A, B, 0.05, tol=1e-12)
    np.testing.assert_allclose(float(got), value, rtol=1e-9)


def test_identical_clouds_give_a_zero_divergence():
    """A cloud against a copy of itself: the (x, y) problem on the host kernel and the
    self term by the averaged loop solve the same OT_eps(a, a); their values agree within
    the marginal tolerance, and the divergence is zero to that accuracy."""
    views = (X, X.copy(), A, A.copy())
    pair = _dense_pair.dense_pair(views, 0.1, [2.0 * 0.5**t for t in range(4)], 10000, 1e-12)
    self_term = _dense_pair.dense_self((X, X, A, A), 0.1, np.zeros(150), 10000, 1e-12)
    np.testing.assert_allclose(pair["value"], self_term["value"], rtol=1e-10)
    value = ot.sinkhorn_divergence(X, X.copy(), A, A.copy(), reg=0.1, **TIGHT)
    assert abs(float(value)) < 1e-10


def test_the_debiased_divergence_equals_the_brute_force_one():
    """S_eps = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2 from the compiled loops
    (the pair and both self terms on host kernels) and from the brute-force log-domain
    Sinkhorn converged to 1e-13, at the marginal tolerance 1e-12."""
    eps = 0.1
    want = _brute_force(X, Y, A, B, eps)[0] - 0.5 * (
        _brute_force(X, X, A, A, eps)[0] + _brute_force(Y, Y, B, B, eps)[0]
    )
    got = ot.sinkhorn_divergence(X, Y, A, B, reg=eps, **TIGHT)
    np.testing.assert_allclose(float(got), want, rtol=1e-9)


def test_the_value_alone_is_the_value_of_the_full_result():
    """``moments=False`` (pairwise's path) returns the same value, bit for bit, and
    nothing that needs the plan's moments."""
    views = (X, Y, A, B)
    stages = [2.0 * 0.5**t for t in range(4)]
    full = _dense_pair.dense_pair(views, 0.1, stages, 10000, 1e-9)
    alone = _dense_pair.dense_pair(views, 0.1, stages, 10000, 1e-9, moments=False)
    assert alone["value"] == full["value"] and alone["n_iter"] == full["n_iter"]
    assert not {"linear", "grad_x", "grad_y", "grad_a", "grad_b"} & set(alone)
