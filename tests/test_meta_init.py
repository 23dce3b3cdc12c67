"""MetaInitializer: the learned Sinkhorn start (Meta OT, Amos et al.).

Oracles: finite differences and the closed form a - P1 for the gradient of the dual objective;
Sinkhorn's converged regularized value for its maximum; the zero start for the held-out
comparison; Sinkhorn from zero for the converged plan (a start never changes it).

The family of problems: truncated Gaussians of random means on a 1D grid (bins below 1e-3 of
the peak set to zero, so that the masking of zero-weight bins is exercised), squared
Euclidean cost, reg = 1e-2 (a few grid cells of blur).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit.bregman._entropic_dual import c_transform, dual_gradient, dual_objective

N_GRID = 24
REG = 1e-2
GRID = np.linspace(0.0, 1.0, N_GRID)
M = ot.dist(GRID[:, None], GRID[:, None])
HIDDEN = (64, 64)
FRAMEWORKS = ["torch", "jax"]


def gaussians(rng, count, std=0.08):
    means = rng.uniform(0.2, 0.8, size=count)
    weights = np.exp(-((GRID[None, :] - means[:, None]) ** 2) / (2 * std**2))
    weights[weights < 1e-3 * weights.max(axis=1, keepdims=True)] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


def family(seed, count):
    rng = np.random.default_rng(seed)
    return gaussians(rng, count), gaussians(rng, count)


TRAIN = family(0, 512)
HELD_OUT = family(1, 16)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny networks: on a loaded 2-core machine torch's second thread costs 50x the step."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def needs(framework):
    pytest.importorskip(framework)


@pytest.fixture(scope="module", params=FRAMEWORKS)
def trained(request):
    """One initializer per framework, trained on TRAIN (400 steps of 64 problems)."""
    needs(request.param)
    init = ot.MetaInitializer(M, REG, hidden_sizes=HIDDEN, framework=request.param, seed=0)
    return init.fit(*TRAIN, n_iter=400, batch_size=64, lr=1e-3)


def solved_value(a, b):
    _, log = ot.sinkhorn(a, b, M, REG, stopThr=1e-12, numItermax=10_000, log=True)
    return log["reg_value"], log["f"]


# --- the dual objective --------------------------------------------------------------------


def test_dual_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    A, B = family(3, 2)
    f = rng.normal(scale=0.1, size=A.shape)
    gradient = dual_gradient(f, A, B, M, REG)
    step = 1e-6
    for k in range(2):
        for i in range(N_GRID):
            shift = np.zeros_like(f)
            shift[k, i] = step
            up = dual_objective(f + shift, A, B, M, REG)[k]
            down = dual_objective(f - shift, A, B, M, REG)[k]
            # central difference: error O(step^2 J''') + rounding 1e-16 / 1e-6
            assert (up - down) / (2 * step) == pytest.approx(gradient[k, i], abs=1e-8)
    # zero-weight bins do not enter the objective
    assert np.all(gradient[A == 0] == 0)


def test_dual_objective_is_maximal_at_the_sinkhorn_potentials():
    (a,), (b,) = family(4, 1)
    value, f_star = solved_value(a, b)
    J = dual_objective(f_star[None], a[None], b[None], M, REG)[0]
    assert J == pytest.approx(value, rel=1e-9)
    assert np.max(np.abs(dual_gradient(f_star[None], a[None], b[None], M, REG))) < 1e-9
    # concave: any other f is below
    rng = np.random.default_rng(5)
    other = f_star + rng.normal(scale=0.01, size=f_star.shape)
    assert dual_objective(other[None], a[None], b[None], M, REG)[0] < J


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_training_objective_and_its_gradient_match_numpy(framework):
    needs(framework)
    from otkit.bregman import _meta_train

    A, B = family(6, 3)
    f = np.random.default_rng(6).normal(scale=0.1, size=A.shape)
    expected = dual_objective(f, A, B, M, REG)
    expected_gradient = dual_gradient(f, A, B, M, REG)
    if framework == "torch":
        import torch

        f_t = torch.tensor(f, requires_grad=True)
        value = _meta_train.dual_objective_torch(
            f_t, torch.tensor(A), torch.tensor(B), torch.tensor(M), REG
        )
        value.sum().backward()
        value, gradient = value.detach().numpy(), f_t.grad.numpy()
    else:
        import jax
        import jax.numpy as jnp

        def total(f):
            A32, B32, M32 = (jnp.asarray(x, jnp.float32) for x in (A, B, M))
            return _meta_train.dual_objective_jax(f, A32, B32, M32, REG)

        f32 = jnp.asarray(f, jnp.float32)
        value = np.asarray(total(f32))
        gradient = np.asarray(jax.grad(lambda f: total(f).sum())(f32))
    # float32 in JAX: exponents (f - M) / reg of order 100 carry 1e-5 relative error
    tolerance = 1e-10 if framework == "torch" else 2e-5
    np.testing.assert_allclose(value, expected, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(gradient, expected_gradient, atol=tolerance)


# --- training --------------------------------------------------------------------------------


def test_training_decreases_the_loss(trained):
    history = np.asarray(trained.loss_history_)
    assert history.shape == (400,) and np.all(np.isfinite(history))
    # the untrained model predicts f = 0: the loss starts at the zero start's
    assert history[-20:].mean() < history[:20].mean() - 0.01
    # on the held-out problems the predictions reach the optimal value within 2 % of the
    # zero start's gap
    A, B = HELD_OUT
    best = np.mean([solved_value(a, b)[0] for a, b in zip(A, B)])
    zero = np.mean(dual_objective(np.zeros_like(A), A, B, M, REG))
    assert best - trained.score(A, B) < 0.02 * (best - zero)


def test_learned_start_beats_the_zero_start_on_held_out_problems(trained):
    errors = {"zero": [], "learned": []}
    for a, b in zip(*HELD_OUT):
        f, g = trained.predict(a, b)
        for name, options in (
            ("zero", {}),
            ("learned", {"warmstart": (f, g), "warmstart_type": "potentials"}),
        ):
            _, log = ot.sinkhorn(
                a, b, M, REG, numItermax=3, stopThr=0.0, log=True, warn=False, **options
            )
            errors[name].append(log["err"][-1])
    zero, learned = np.asarray(errors["zero"]), np.asarray(errors["learned"])
    assert np.all(learned < zero)
    assert np.median(learned / zero) < 0.5


def test_learned_start_does_not_change_the_solution(trained):
    for a, b in zip(HELD_OUT[0][:2], HELD_OUT[1][:2]):
        f, g = trained.predict(a, b)
        options = {"stopThr": 1e-12, "numItermax": 10_000}
        cold = ot.sinkhorn(a, b, M, REG, **options)
        warm = ot.sinkhorn(a, b, M, REG, warmstart=(f, g), warmstart_type="potentials", **options)
        np.testing.assert_allclose(warm, cold, atol=1e-12)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_same_seed_same_weights_and_history(framework):
    needs(framework)

    def run(seed):
        init = ot.MetaInitializer(M, REG, hidden_sizes=(16,), framework=framework, seed=seed)
        return init.fit(*TRAIN, n_iter=5, batch_size=32)

    first, second, other = run(1), run(1), run(2)
    assert first.loss_history_ == second.loss_history_
    for (W1, b1), (W2, b2) in zip(first.weights(), second.weights()):
        assert np.array_equal(W1, W2) and np.array_equal(b1, b2)
    assert first.loss_history_ != other.loss_history_


def test_torch_and_jax_follow_the_same_trajectory():
    needs("torch")
    needs("jax")
    histories = [
        ot.MetaInitializer(M, REG, hidden_sizes=(16,), framework=framework, seed=0)
        .fit(*TRAIN, n_iter=30, batch_size=32, lr=1e-2)
        .loss_history_
        for framework in FRAMEWORKS
    ]
    # same initial weights and batches, the same Adam: only float32 rounding differs
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-3)


def test_learning_rate_schedules():
    from otkit.bregman._meta_train import learning_rates

    np.testing.assert_array_equal(learning_rates(0.1, 7, "constant"), np.full(7, 0.1))
    rates = learning_rates(0.1, 100, "cosine")
    # a linear warm-up over the first 5 steps to the peak, then a half cosine towards 0
    np.testing.assert_allclose(rates[:5], 0.1 * np.arange(1, 6) / 5, rtol=1e-15)
    assert np.all(np.diff(rates[4:]) < 0) and 0 < rates[-1] < 1e-4
    np.testing.assert_allclose(rates[4 + 48], 0.05, rtol=1e-12)  # half-way down the cosine
    assert learning_rates(0.1, 1, "cosine").tolist() == [0.1]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_schedule_sets_each_steps_learning_rate(framework):
    needs(framework)

    def history(schedule):
        init = ot.MetaInitializer(M, REG, hidden_sizes=(16,), framework=framework, seed=0)
        return init.fit(*TRAIN, n_iter=5, batch_size=32, lr=1e-2, lr_schedule=schedule)

    cosine, constant = history("cosine").loss_history_, history("constant").loss_history_
    # 5 steps: a one-step warm-up at the peak rate, then the decay; losses are computed
    # before each update, so the first two agree and the third sees the decayed step
    assert cosine[:2] == constant[:2] and cosine[2] != constant[2]
    with pytest.raises(ValueError, match="lr_schedule"):
        history("linear")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_sampler_and_partial_fit(framework):
    needs(framework)
    seen = []

    def sampler(rng_or_key, batch_size):
        seen.append(type(rng_or_key).__name__)
        if framework == "torch":
            seed = int(rng_or_key.integers(2**31))
        else:
            import jax

            seed = int(jax.random.randint(rng_or_key, (), 0, 2**31 - 1))
        return family(seed, batch_size)

    init = ot.MetaInitializer(M, REG, hidden_sizes=(16,), framework=framework, seed=0)
    init.fit(sampler, n_iter=3, batch_size=8)
    again = ot.MetaInitializer(M, REG, hidden_sizes=(16,), framework=framework, seed=0)
    again.fit(sampler, n_iter=3, batch_size=8)
    assert init.loss_history_ == again.loss_history_ and len(seen) == 6
    if framework == "torch":
        assert seen[0] == "Generator"
    before = init.weights()
    init.partial_fit(HELD_OUT[0][0], HELD_OUT[1][0])
    assert init.n_steps_ == 4 and len(init.loss_history_) == 4
    assert not np.array_equal(before[0][0], init.weights()[0][0])


def test_user_supplied_torch_module():
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(2 * N_GRID, 32), torch.nn.Tanh(), torch.nn.Linear(32, N_GRID)
    )
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    init = ot.MetaInitializer(M, REG, model=module)
    assert init.framework == "torch"
    init.fit(*TRAIN, n_iter=100, batch_size=64, lr=1e-2)
    assert np.mean(init.loss_history_[-10:]) < np.mean(init.loss_history_[:10])
    f, g = init.predict(*HELD_OUT)
    assert f.shape == g.shape == (16, N_GRID) and np.all(np.isfinite(f))
    with pytest.raises(ValueError, match="user-supplied"):
        init.save("unused.npz")


# --- prediction ------------------------------------------------------------------------------


def test_predict_in_the_callers_namespace(trained, xp):
    a, b = HELD_OUT[0][0], HELD_OUT[1][0]
    f_np, g_np = trained.predict(a, b)
    for dtype in ("float32", "float64"):
        a_x, b_x = to_xp(xp, a, dtype), to_xp(xp, b, dtype)
        f, g = trained.predict(a_x, b_x)
        assert_same_backend(f, a_x)
        assert_same_backend(g, a_x)
        np.testing.assert_allclose(to_np(f), f_np, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(to_np(g), g_np, rtol=1e-6, atol=1e-7)


def test_predict_refuses_traced_input(trained):
    jax = pytest.importorskip("jax")
    a, b = HELD_OUT[0][0], HELD_OUT[1][0]
    with pytest.raises(TypeError, match="outside jax.jit"):
        jax.jit(lambda a: trained.predict(a, b)[0])(a)


def test_predict_batches_and_the_c_transform(trained):
    A, B = HELD_OUT
    f, g = trained.predict(A, B)
    assert f.shape == (16, N_GRID) and g.shape == (16, N_GRID)
    # the same problem alone: the network runs in float32 and BLAS may round a 1-row product
    # differently (a few float32 ulps of the hidden activations, times the cost range)
    atol = 1e-5 * trained.cost_scale
    np.testing.assert_allclose(trained.predict(A[3], B[3])[0], f[3], rtol=0, atol=atol)
    np.testing.assert_allclose(g, c_transform(f, A, M, REG), rtol=1e-12, atol=1e-15)
    # zero-weight bins of a: finite, the c-transform of g (not read by Sinkhorn)
    assert np.any(A == 0) and np.all(np.isfinite(f))
    np.testing.assert_allclose(f[A == 0], c_transform(g, B, M.T, REG)[A == 0], rtol=1e-12)
    # one source against a batch of targets
    f_one, _ = trained.predict(A[0], B)
    assert f_one.shape == (16, N_GRID)


# --- files -----------------------------------------------------------------------------------


def test_save_load_round_trip(trained, tmp_path):
    path = tmp_path / "meta.npz"
    trained.save(path)
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert data["W0"].dtype == np.float32 and data["M"].shape == (N_GRID, N_GRID)
    loaded = ot.MetaInitializer.load(path)
    assert loaded.loss_history_ == trained.loss_history_ and loaded.reg == REG
    A, B = HELD_OUT
    for convert in _converters():
        before = trained.predict(convert(A), convert(B))
        after = loaded.predict(convert(A), convert(B))
        for x, y in zip(before, after):
            assert np.array_equal(to_np(x), to_np(y))


def _converters():
    converters = [np.asarray]
    try:
        import torch

        converters.append(torch.as_tensor)
    except ImportError:
        pass
    try:
        import jax.numpy as jnp

        converters.append(lambda x: jnp.asarray(x, dtype=jnp.float32))
    except ImportError:
        pass
    return converters


def test_numpy_prediction_from_a_file_imports_no_framework(tmp_path):
    trained = ot.MetaInitializer(M, REG, hidden_sizes=(8,))
    needs(trained.framework)
    trained.partial_fit(*TRAIN, lr=0.1)
    path = tmp_path / "meta.npz"
    trained.save(path)
    code = (
        "import sys, numpy as np, otkit as ot\n"
        f"init = ot.MetaInitializer.load({str(path)!r})\n"
        f"f, g = init.predict(np.load({str(tmp_path / 'ab.npy')!r}), "
        f"np.load({str(tmp_path / 'ab.npy')!r}))\n"
        f"np.save({str(tmp_path / 'f.npy')!r}, f)\n"
        "assert 'torch' not in sys.modules and 'jax' not in sys.modules\n"
    )
    np.save(tmp_path / "ab.npy", HELD_OUT[0][0])
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    expected, _ = trained.predict(HELD_OUT[0][0], HELD_OUT[0][0])
    assert np.array_equal(np.load(tmp_path / "f.npy"), expected)


def test_load_rejects_bad_files(trained, tmp_path):
    path = tmp_path / "meta.npz"
    trained.save(path)
    with np.load(path) as data:
        fields = dict(data)
    cases = {
        "W1": (np.zeros((3, 3), np.float32), "layer 1 has W1.shape"),
        "format_version": (np.array(99), "newer otkit"),
        "M": (np.array([[np.nan]]), "NaN"),
        "kind": (np.array("something else"), "not 'otkit.MetaInitializer'"),
        "reg": (np.array(-1.0), "'reg' must be > 0"),
        "b0": (np.zeros(64, np.int64), "expected floating"),
    }
    for key, (value, message) in cases.items():
        broken = tmp_path / f"broken_{key}.npz"
        np.savez(broken, **{**fields, key: value})
        with pytest.raises(ValueError, match=message):
            ot.MetaInitializer.load(broken)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**fields, "W0": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="without pickle"):
        ot.MetaInitializer.load(pickled)
    missing = tmp_path / "missing.npz"
    np.savez(missing, **{k: v for k, v in fields.items() if k != "hidden_sizes"})
    with pytest.raises(ValueError, match="no 'hidden_sizes'"):
        ot.MetaInitializer.load(missing)


# --- bad input -------------------------------------------------------------------------------


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="M must be a 2-D"):
        ot.MetaInitializer(np.ones(3), REG)
    with pytest.raises(ValueError, match="M contains 1 NaN"):
        ot.MetaInitializer(np.array([[0.0, np.nan], [1.0, 0.0]]), REG)
    with pytest.raises(ValueError, match="reg must be"):
        ot.MetaInitializer(M, 0.0)
    with pytest.raises(ValueError, match="framework must be one of"):
        ot.MetaInitializer(M, REG, framework="tensorflow")
    with pytest.raises(ValueError, match="hidden_sizes must be an integer >= 1"):
        ot.MetaInitializer(M, REG, hidden_sizes=(16, 0))
    with pytest.raises(TypeError, match="seed"):
        ot.MetaInitializer(M, REG, seed=1.5)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, or for JAX a pair"):
        ot.MetaInitializer(M, REG, model="mlp")
    with pytest.raises(ValueError, match="hidden_sizes .* or model, not both"):
        ot.MetaInitializer(M, REG, hidden_sizes=(8,), model=(lambda p, z: z, {}))


def test_bad_histograms_and_unfitted_model():
    init = ot.MetaInitializer(M, REG, hidden_sizes=(8,))
    a, b = HELD_OUT[0][0], HELD_OUT[1][0]
    with pytest.raises(RuntimeError, match="not fitted"):
        init.predict(a, b)
    needs(init.framework)
    init.partial_fit(a, b)
    with pytest.raises(ValueError, match=r"a.shape == \(23,\), expected \(24,\)"):
        init.predict(a[:-1], b)
    with pytest.raises(ValueError, match="b must be histograms summing to 1"):
        init.predict(a, 2 * b)
    with pytest.raises(ValueError, match="a has negative entries"):
        init.predict(a - 0.5 * a.max() * (np.arange(N_GRID) == 0) + 0.5 * a.max() / N_GRID, b)
    with pytest.raises(ValueError, match="a contains 1 NaN"):
        init.predict(np.where(np.arange(N_GRID) == 3, np.nan, a), b)
    with pytest.raises(ValueError, match="hold 2 and 3 histograms"):
        init.predict(HELD_OUT[0][:2], HELD_OUT[1][:3])
    with pytest.raises(ValueError, match=r"row 1"):
        init.fit(HELD_OUT[0] * np.where(np.arange(16) == 1, 2.0, 1.0)[:, None], HELD_OUT[1])
    with pytest.raises(ValueError, match="B must be None"):
        init.fit(lambda rng, size: HELD_OUT, HELD_OUT[1])
    with pytest.raises(TypeError, match="must return a pair"):
        init.fit(lambda rng, size: HELD_OUT[0], n_iter=1)
    with pytest.raises(ValueError, match="lr must be"):
        init.fit(*HELD_OUT, lr=-1.0)


def test_prediction_c_transform_by_the_kernel_equals_the_log_domain_one():
    """The cached-kernel c-transform of predict equals the log-domain one, also where the
    kernel underflows (costs 2000 eps above the row minimum: the log-domain fallback)."""
    rng = np.random.default_rng(4)
    n, m = 12, 9
    cost = rng.uniform(size=(n, m))
    cost[:, 3] += 20.0  # 2000 eps away from every row minimum: exp underflows to 0
    model = ot.MetaInitializer(cost, 0.01, hidden_sizes=(4,), seed=0)
    A = rng.dirichlet(np.ones(n), size=5)
    A[0, :4] = 0.0
    A[0] /= A[0].sum()
    f = rng.normal(scale=0.3, size=(5, n))
    np.testing.assert_allclose(
        model._column_potentials(f, A), c_transform(f, A, cost, 0.01), rtol=1e-12, atol=1e-12
    )


def test_torch_training_c_transform_by_the_kernel():
    """The float64 kernel-product c-transform of torch training equals the log-domain one
    (values and gradients), and falls back to it where a column's sum would underflow."""
    torch = pytest.importorskip("torch")
    from otkit.bregman._meta_train import dual_objective_torch, torch_kernel

    rng = np.random.default_rng(6)
    n, m = 15, 12
    cost = rng.uniform(size=(n, m))
    A, B = rng.dirichlet(np.ones(n), size=4), rng.dirichlet(np.ones(m), size=4)
    A[0, :5] = 0.0
    A[0] /= A[0].sum()
    A_t, B_t, M_t = (torch.tensor(v, dtype=torch.float32) for v in (A, B, cost))
    for reg, far in ((0.05, False), (0.01, True)):
        shifted = M_t.clone()
        if far:  # column 0 at 6.2-6.3 above every row minimum: kernel terms below e^-620
            shifted[:, 0] = M_t[:, 1:].amin(dim=1) + 6.2 + 0.1 * torch.tensor(rng.uniform(size=n))
        kernel = torch_kernel(shifted.numpy(), reg)
        assert kernel is not None  # (range <= 700 reg: the kernel path is tried)
        results = []
        for k in (None, kernel):
            f = torch.tensor(rng.normal(scale=0.1, size=(4, n)), dtype=torch.float32)
            f = f.clone().requires_grad_(True) if not results else results[0][2]
            value = dual_objective_torch(f, A_t, B_t, shifted, reg, k)
            (grad,) = torch.autograd.grad(value.sum(), f)
            results.append((value.detach().numpy(), grad.numpy(), f))
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4, atol=1e-6)
