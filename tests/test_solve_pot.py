"""solve and solve_sample under POT's conventions: signatures, values of every method and
regularization against POT (where POT is right) and closed forms, the reference measure c,
grad='last_step' against POT's gradients and finite differences, the Gaussian closed form,
lazy plans, displacements, n_threads and the scaler; on every backend."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp
from oracles import random_problem

import otkit as ot

EPS = 0.1


@pytest.fixture
def problem():
    a, b, M = random_problem(6, 5, seed=11)
    return a, b, M / M.max()


@pytest.fixture
def clouds():
    rng = np.random.default_rng(3)
    return rng.normal(size=(9, 2)), rng.normal(size=(7, 2)) @ np.diag([1.5, 0.5]) + 1.0


def _kl(P, Q):
    return float(np.sum(P * np.log(P / Q)) - P.sum() + Q.sum())


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["solve", "solve_sample"])
def test_signature_is_pots_with_extras_keyword_only(name):
    pot = pytest.importorskip("ot")
    ours = inspect.signature(getattr(ot, name)).parameters
    theirs = inspect.signature(getattr(pot, name)).parameters
    positional = [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)
    for key, param in theirs.items():
        assert ours[key].default == param.default, key
    assert all(p.kind is p.KEYWORD_ONLY for n, p in ours.items() if n not in theirs)


# --- solve: values against POT --------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reg": EPS},
        {"reg": EPS, "reg_type": "entropy"},
        {"reg": EPS, "reg_type": "kl"},
        {"unbalanced": 1.0, "max_iter": 2000},  # MM: the same iterates as POT's
        {"unbalanced": 1.0, "unbalanced_type": "L2"},
        {"reg": EPS, "unbalanced": 1.0, "reg_type": "entropy"},
        {"reg": EPS, "unbalanced": 1.0, "reg_type": "L2"},
        {"reg": EPS, "unbalanced": 1.0, "unbalanced_type": "l2"},
    ],
)
@pytest.mark.filterwarnings("ignore:MM for unbalanced OT did not converge")
@pytest.mark.filterwarnings("ignore:scipy.optimize:DeprecationWarning")  # inside POT
def test_solve_values_match_pot(problem, kwargs):
    pot = pytest.importorskip("ot")
    a, b, M = problem
    ours = ot.solve(M, a, b, tol=1e-12, **kwargs)
    theirs = pot.solve(M, a, b, tol=1e-12, **kwargs)
    # POT runs L-BFGS-B wherever a regularization or a penalty is not KL (and for
    # 'entropy' with penalties): scipy's stopping rule (projected gradient 1e-5) bounds the
    # agreement; otkit's Sinkhorn and MM reach 1e-12.
    by_lbfgsb = "reg" in kwargs and "unbalanced" in kwargs and len(kwargs) > 2
    rtol, atol = (5e-5, 5e-5) if by_lbfgsb else (1e-9, 1e-9)
    np.testing.assert_allclose(ours.value, theirs.value, rtol=rtol)
    np.testing.assert_allclose(ours.value_linear, theirs.value_linear, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.plan, theirs.plan, atol=atol)


def test_unbalanced_entropic_value_is_the_objective(problem):
    # POT's sinkhorn_knopp_unbalanced reports a wrong total_cost (~0); the objective itself:
    pot = pytest.importorskip("ot")
    a, b, M = problem
    res = ot.solve(M, a, b, reg=EPS, unbalanced=1.0, tol=1e-12)
    P = res.plan
    objective = np.sum(P * M) + EPS * _kl(P, np.outer(a, b))
    objective += _kl(P.sum(1), a) + _kl(P.sum(0), b)
    np.testing.assert_allclose(res.value, objective, rtol=1e-10)
    theirs = pot.solve(M, a, b, reg=EPS, unbalanced=1.0, tol=1e-12)
    np.testing.assert_allclose(P, theirs.plan, atol=1e-10)


def test_entropy_value_on_every_backend(xp, problem):
    a, b, M = problem
    res = ot.solve(*(to_xp(xp, x) for x in (M, a, b)), reg=EPS, reg_type="Entropy", tol=1e-12)
    P = to_np(res.plan)
    # POT's value for 'entropy': <P, M> + eps sum P log P; the same plan as 'KL'.
    np.testing.assert_allclose(to_np(res.value), np.sum(P * M) + EPS * np.sum(P * np.log(P)),
                               rtol=1e-9)  # fmt: skip
    kl = ot.solve(M, a, b, reg=EPS, tol=1e-12)
    np.testing.assert_allclose(P, kl.plan, atol=1e-12)
    np.testing.assert_allclose(to_np(res.value_linear), kl.value_linear, rtol=1e-10)
    assert_same_backend(res.value, res.plan)


def test_entropy_value_with_unnormalized_weights(problem):
    pot = pytest.importorskip("ot")
    a, b, M = problem
    ours = ot.solve(M, 2 * a, 2 * b, reg=EPS, reg_type="entropy", tol=1e-12)
    theirs = pot.solve(M, 2 * a, 2 * b, reg=EPS, reg_type="entropy", tol=1e-12)
    np.testing.assert_allclose(ours.value, theirs.value, rtol=1e-9)


# --- the reference measure c ------------------------------------------------------------------


def test_reference_c_on_every_backend(xp, problem):
    a, b, M = problem
    c = np.random.default_rng(2).random(M.shape) + 0.1
    res = ot.solve(*(to_xp(xp, x) for x in (M, a, b)), reg=EPS, c=to_xp(xp, c), tol=1e-12)
    P = to_np(res.plan)
    # KL(P | c) regularization: the entropic plan of the cost M - eps log c.
    expected = ot.solve(M - EPS * np.log(c), a, b, reg=EPS, tol=1e-12).plan
    np.testing.assert_allclose(P, expected, atol=1e-11)
    np.testing.assert_allclose(to_np(res.value), np.sum(P * M) + EPS * _kl(P, c), rtol=1e-10)
    np.testing.assert_allclose(to_np(res.value_linear), np.sum(P * M), rtol=1e-12)
    assert_same_backend(res.value, res.plan)


@pytest.mark.parametrize("grad", ["envelope", "autodiff"])
def test_reference_c_gradients_torch(problem, grad):
    # Envelope theorem: d value / d M = P and d value / d c = eps (1 - P / c) at the optimum.
    torch = pytest.importorskip("torch")
    a, b, M = problem
    c = np.random.default_rng(2).random(M.shape) + 0.1
    Mt, ct = (torch.tensor(x, requires_grad=True) for x in (M, c))
    res = ot.solve(Mt, torch.tensor(a), torch.tensor(b), reg=EPS, c=ct, tol=1e-12, grad=grad)
    res.value.backward()
    P = res.plan.detach().numpy()
    np.testing.assert_allclose(Mt.grad.numpy(), P, atol=1e-9)
    np.testing.assert_allclose(ct.grad.numpy(), EPS * (1 - P / c), atol=1e-9)
    detached = ot.solve(Mt, reg=EPS, c=ct, grad="detach", reg_type="KL")
    assert not detached.value.requires_grad and not detached.value_linear.requires_grad


def test_reference_a_times_b_is_the_default(problem):
    a, b, M = problem
    res = ot.solve(M, a, b, reg=EPS, c=np.outer(a, b), tol=1e-12)
    ref = ot.solve(M, a, b, reg=EPS, tol=1e-12)
    np.testing.assert_allclose(res.value, ref.value, rtol=1e-11)
    np.testing.assert_allclose(res.plan, ref.plan, atol=1e-13)


def test_reference_c_unbalanced_matches_sinkhorn_unbalanced(problem):
    a, b, M = problem
    c = np.random.default_rng(4).random(M.shape)
    res = ot.solve(M, a, b, reg=EPS, unbalanced=1.0, c=c, tol=1e-12)
    G, log = ot.sinkhorn_unbalanced(a, b, M, EPS, 1.0, c=c, log=True, stopThr=1e-12)
    np.testing.assert_allclose(res.plan, G, atol=1e-12)
    np.testing.assert_allclose(res.value, log["total_cost"], rtol=1e-10)


@pytest.mark.parametrize(
    ("c", "kwargs", "match"),
    [
        (np.ones((2, 2)), {}, r"c.shape == \(2, 2\)"),
        (-np.ones((6, 5)), {}, "negative"),
        (np.zeros((6, 5)), {}, "zero entries"),
        (np.ones((6, 5)), {"reg_type": "entropy"}, "entropy"),
    ],
)
def test_bad_reference_c(problem, c, kwargs, match):
    a, b, M = problem
    with pytest.raises(ValueError, match=match):
        ot.solve(M, a, b, reg=EPS, c=c, **kwargs)


def test_reference_c_is_not_read_without_reg(problem):
    a, b, M = problem
    res = ot.solve(M, a, b, c=np.ones((2, 2)))
    np.testing.assert_allclose(res.value, ot.emd2(a, b, M), rtol=1e-14)


# --- grad='last_step' -------------------------------------------------------------------------


def test_last_step_values_on_every_backend(xp, problem):
    a, b, M = problem
    res = ot.solve(*(to_xp(xp, x) for x in (M, a, b)), reg=EPS, grad="last_step", tol=1e-11)
    ref = ot.solve(M, a, b, reg=EPS, tol=1e-11)
    np.testing.assert_allclose(to_np(res.plan), ref.plan, atol=1e-10)
    np.testing.assert_allclose(to_np(res.value), ref.value, rtol=1e-9)
    np.testing.assert_allclose(to_np(res.value_linear), ref.value_linear, rtol=1e-9)
    assert res.status == "converged" and res.n_iter == len(res.errors) - 1
    assert_same_backend(res.plan, to_xp(xp, M))


def test_last_step_counts_the_last_iteration(problem):
    a, b, M = problem
    with pytest.warns(UserWarning, match="did not converge"):
        res = ot.solve(M, a, b, reg=EPS, grad="last_step", max_iter=3)
    assert res.n_iter == 3 and res.status == "max_iter_reached"
    with pytest.raises(ValueError, match="max_iter >= 1"):
        ot.solve(M, a, b, reg=EPS, grad="last_step", max_iter=0)


@pytest.mark.parametrize("reg_type", ["KL", "entropy"])
def test_last_step_gradients_equal_pots(problem, reg_type):
    pot = pytest.importorskip("ot")
    torch = pytest.importorskip("torch")
    a, b, M = problem
    W = torch.tensor(np.random.default_rng(0).random(M.shape))
    grads = []
    for library in (pot, ot):
        inputs = [torch.tensor(x, requires_grad=True) for x in (M, a, b)]
        res = library.solve(*inputs, reg=EPS, reg_type=reg_type, grad="last_step", tol=1e-12)
        (res.value + 2 * res.value_linear + torch.sum(res.plan * W)).backward()
        grads.append([x.grad.numpy() for x in inputs])
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)


def _frozen_last_step(C, a, b, log_u, log_v, W, xp):
    """sum(P W) for the plan of one iteration from fixed log-scalings (an explicit map of
    (M, a, b): the potentials f = eps (log u - log a) keep log u fixed)."""
    f, g = EPS * (log_u - xp.log(a)), EPS * (log_v - xp.log(b))
    res = ot.solve(C, a, b, reg=EPS, grad="last_step", max_iter=1, potentials_init=(f, g))
    return xp.sum(res.plan * W)


def test_last_step_gradient_is_the_derivative_of_the_last_iteration_torch(problem):
    # With max_iter=1 from fixed log-scalings the plan is an explicit function of (M, a, b)
    # (the previous scalings are constants, as POT's last step treats them): its autodiff
    # gradient must equal central finite differences (h = 1e-6: error O(h^2) + rounding).
    torch = pytest.importorskip("torch")
    a, b, M = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 5 iterations: any potentials will do
        f, g = ot.solve(M, a, b, reg=EPS, max_iter=5).potentials
    log_u, log_v = torch.tensor(f / EPS + np.log(a)), torch.tensor(g / EPS + np.log(b))
    W = torch.tensor(np.random.default_rng(1).random(M.shape))
    inputs = [torch.tensor(x, requires_grad=True) for x in (M, a, b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one iteration does not converge
        _frozen_last_step(*inputs, log_u, log_v, W, torch).backward()
        for k, x in enumerate((M, a, b)):
            h, index = 1e-6, (2, 1)[: x.ndim]
            fd = []
            for step in (h, -h):
                moved = x.copy()
                moved[index] += step
                args = [torch.tensor(y) for y in (M, a, b)]
                args[k] = torch.tensor(moved)
                fd.append(float(_frozen_last_step(*args, log_u, log_v, W, torch)))
            np.testing.assert_allclose(
                float(inputs[k].grad[index]), (fd[0] - fd[1]) / (2 * h), rtol=1e-6, atol=1e-8
            )


def test_last_step_under_jax_grad_and_jit(problem):
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    a, b, M = (jnp.asarray(x) for x in problem)

    def plan_loss(C):
        res = ot.solve(C, a, b, reg=EPS, grad="last_step", tol=1e-11)
        return jnp.sum(res.plan**2), res.value

    (_, value), grad = jax.jit(jax.value_and_grad(plan_loss, has_aux=True))(M)
    Mt = torch.tensor(problem[2], requires_grad=True)
    at, bt = torch.tensor(problem[0]), torch.tensor(problem[1])
    torch.sum(ot.solve(Mt, at, bt, reg=EPS, grad="last_step", tol=1e-11).plan ** 2).backward()
    np.testing.assert_allclose(np.asarray(grad), Mt.grad.numpy(), atol=1e-9)
    reference = ot.solve(problem[2], *problem[:2], reg=EPS, tol=1e-11).value
    np.testing.assert_allclose(value, reference, rtol=1e-9)


# --- n_threads, plan_init ----------------------------------------------------------------------


def test_n_threads_is_deprecated_for_exact_ot_as_pot(problem, clouds):
    a, b, M = problem
    with pytest.warns(DeprecationWarning, match="n_threads") as record:
        ot.solve(M, a, b, n_threads=2)
    assert record[0].filename == __file__  # points at the caller
    with pytest.warns(DeprecationWarning, match="n_threads") as record:
        ot.solve_sample(*clouds, n_threads="max")
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        ot.solve(M, a, b, reg=EPS, n_threads=4)  # POT: no warning where it is not used
        ot.solve(M, a, b, n_threads=1)
    with pytest.raises(ValueError, match="n_threads"):
        ot.solve_sample(*clouds, n_threads=-1)


@pytest.mark.filterwarnings("ignore:MM for unbalanced OT did not converge")
def test_plan_init_warm_starts_mm(problem):
    # MM is deterministic: k steps from the plan of N steps are the plan of N + k steps.
    a, b, M = problem
    first = ot.solve(M, a, b, unbalanced=1.0, max_iter=30, tol=0.0)
    warm = ot.solve(M, a, b, unbalanced=1.0, max_iter=20, tol=0.0, plan_init=first.plan)
    cold = ot.solve(M, a, b, unbalanced=1.0, max_iter=50, tol=0.0)
    np.testing.assert_allclose(warm.plan, cold.plan, rtol=1e-12)
    np.testing.assert_allclose(warm.value, cold.value, rtol=1e-13)
    start = np.ones_like(M)
    start[0, :] = 0.0  # zeros of the initial plan stay zero (multiplicative updates)
    res = ot.solve(M, a, b, unbalanced=1.0, plan_init=start, max_iter=50)
    assert np.all(res.plan[0] == 0.0)
    with pytest.raises(ValueError, match="plan_init"):
        ot.solve(M, a, b, unbalanced=1.0, plan_init=-start)


# --- solve_sample: values against POT ------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reg": 1.0},
        {"reg": 1.0, "reg_type": "entropy"},
        {"method": "1d"},
        {"method": "gaussian"},
        {"method": "gaussian", "reg": 0.1},
        {"reg": 1.0, "debias": True},
        {"unbalanced": 1.0, "max_iter": 2000},  # MM: the same iterates as POT's
    ],
)
@pytest.mark.filterwarnings("ignore:MM for unbalanced OT did not converge")
@pytest.mark.filterwarnings("ignore:Sinkhorn did not converge")  # POT's self terms
def test_solve_sample_values_match_pot(clouds, kwargs):
    pot = pytest.importorskip("ot")
    x, y = clouds
    w = np.random.default_rng(5).random(9) + 0.5
    w /= w.sum()
    ours = ot.solve_sample(x, y, w, tol=1e-11, **kwargs)
    theirs = pot.solve_sample(x, y, w, tol=1e-11, **kwargs)
    # debias: POT's self terms (x against x) stop at its 1000 iterations short of tol, at a
    # relative error 7e-7 (10^5 iterations close the gap to 1e-8, but take a minute).
    rtol = 2e-6 if kwargs.get("debias") else 1e-9
    np.testing.assert_allclose(ours.value, theirs.value, rtol=rtol)
    np.testing.assert_allclose(ours.value_linear, theirs.value_linear, rtol=rtol)


@pytest.mark.parametrize(("method", "metric", "q"), [("sliced", "sqeuclidean", 2),
                                                     ("max_sliced", "euclidean", 1)])  # fmt: skip
def test_sliced_values_are_pots_to_the_power_p(clouds, method, metric, q):
    pot = pytest.importorskip("ot")
    ours = ot.solve_sample(*clouds, method=method, metric=metric, random_state=4)
    theirs = pot.solve_sample(*clouds, method=method, metric=metric, random_state=4)
    np.testing.assert_allclose(ours.value, theirs.value**q, rtol=1e-12)
    np.testing.assert_allclose(ours.log["sliced_distance"], theirs.value, rtol=1e-12)
    same = ot.solve_sample(*clouds, method=method, metric=metric, seed=4)
    np.testing.assert_allclose(same.value, ours.value, rtol=1e-15)
    with pytest.raises(ValueError, match="not both"):
        ot.solve_sample(*clouds, method=method, random_state=1, seed=1)


def test_lazy_sinkhorn_matches_pots_lazy_solver(clouds):
    pot = pytest.importorskip("ot")
    ours = ot.solve_sample(*clouds, reg=1.0, lazy=True, batch_size=4, tol=1e-11)
    theirs = pot.solve_sample(*clouds, reg=1.0, lazy=True, batch_size=4, tol=1e-11)
    np.testing.assert_allclose(ours.value_linear, theirs.value_linear, rtol=1e-9)
    np.testing.assert_allclose(ours.lazy_plan[:], theirs.lazy_plan[:], atol=1e-11)
    # POT's value is None there; ours is OT_eps, as the dense solver's.
    dense = ot.solve_sample(*clouds, reg=1.0, tol=1e-11)
    np.testing.assert_allclose(ours.value, dense.value, rtol=1e-9)
    assert theirs.value is None and ours.plan is None and ours.batch_size == 4


def test_online_lazy_plan_and_marginals_on_every_backend(xp, clouds):
    x, y = (to_xp(xp, c) for c in clouds)
    res = ot.solve_sample(x, y, reg=1.0, lazy=True, tol=1e-10)
    dense = ot.solve_sample(*clouds, reg=1.0, tol=1e-11)
    block = res.lazy_plan[2:5, 1:3]
    assert tuple(block.shape) == (3, 2)
    assert_same_backend(block, x)
    np.testing.assert_allclose(to_np(res.lazy_plan[:, :]), dense.plan, atol=1e-9)
    np.testing.assert_allclose(to_np(res.marginal_a), np.full(9, 1 / 9), atol=1e-9)
    np.testing.assert_allclose(to_np(res.marginal_b), np.full(7, 1 / 7), atol=1e-9)
    # Barycentric displacements from the lazy plan, block by block.
    expected = (dense.plan @ clouds[1]) / dense.plan.sum(1)[:, None] - clouds[0]
    np.testing.assert_allclose(to_np(res.a_to_b), expected, atol=1e-8)


def test_online_entropy_value_is_the_dense_one(clouds):
    online = ot.solve_sample(*clouds, reg=1.0, lazy=True, reg_type="entropy", tol=1e-11)
    dense = ot.solve_sample(*clouds, reg=1.0, reg_type="entropy", tol=1e-11)
    np.testing.assert_allclose(online.value, dense.value, rtol=1e-9)
    # The debiased value is the same for both regularizers (the shifts cancel).
    kl = ot.solve_sample(*clouds, reg=1.0, lazy=True, debias=True)
    entropy = ot.solve_sample(*clouds, reg=1.0, lazy=True, debias=True, reg_type="entropy")
    np.testing.assert_allclose(entropy.value, kl.value, rtol=1e-14)


def test_warnings_point_at_the_caller(problem):
    a, b, M = problem
    with pytest.warns(UserWarning, match="did not converge") as record:
        ot.solve(M, a, b, reg=EPS, grad="last_step", max_iter=2)
    assert record[0].filename == __file__
    with pytest.warns(UserWarning, match="MM for unbalanced OT did not converge") as record:
        ot.solve(M, a, b, unbalanced=1.0, max_iter=2)
    assert record[0].filename == __file__


def test_geomloss_is_the_online_solver_with_pots_meaning(clouds):
    res = ot.solve_sample(*clouds, reg=1.0, method="geomloss", tol=1e-10)
    value = ot.sinkhorn_divergence(*clouds, reg=1.0, debias=False, scaling=0.95, stopThr=1e-10)
    np.testing.assert_allclose(res.value, value, rtol=1e-12)
    assert res.method == "geomloss" and res.lazy_plan is not None
    debiased = ot.solve_sample(*clouds, reg=1.0, method="GeomLoss_online", debias=True)
    np.testing.assert_allclose(debiased.value, ot.sinkhorn_divergence(*clouds, reg=1.0),
                               rtol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="scaling"):
        ot.solve_sample(*clouds, reg=1.0, method="geomloss", scaling=1.5)
    with pytest.raises(ValueError, match="needs reg > 0"):
        ot.solve_sample(*clouds, method="geomloss")


def test_exact_displacements_are_the_barycentric_map(xp, clouds):
    x, y = (to_xp(xp, c) for c in clouds)
    res = ot.solve_sample(x, y)
    P = to_np(res.plan)
    expected_a = (P @ clouds[1]) / P.sum(1)[:, None] - clouds[0]
    expected_b = (P.T @ clouds[0]) / P.sum(0)[:, None] - clouds[1]
    np.testing.assert_allclose(to_np(res.a_to_b), expected_a, atol=1e-12)
    np.testing.assert_allclose(to_np(res.b_to_a), expected_b, atol=1e-12)
    assert_same_backend(res.a_to_b, x)
    with pytest.raises(NotImplementedError, match="a_to_b"):
        _ = ot.solve_sample(*clouds, method="sliced").a_to_b


# --- Gaussian closed form ------------------------------------------------------------------------


def _bures_oracle(x, y, wa, wb, reg):
    from scipy.linalg import sqrtm

    ma, mb = wa @ x, wb @ y
    Ca = (x - ma).T @ np.diag(wa) @ (x - ma) + reg * np.eye(x.shape[1])
    Cb = (y - mb).T @ np.diag(wb) @ (y - mb) + reg * np.eye(x.shape[1])
    root = sqrtm(Ca)
    cross = np.real(np.trace(sqrtm(root @ Cb @ root)))
    return np.sum((ma - mb) ** 2) + np.trace(Ca) + np.trace(Cb) - 2 * cross, ma, mb, Ca, Cb


def test_gaussian_is_the_bures_wasserstein_formula_on_every_backend(xp, clouds):
    x, y = clouds
    wa = np.random.default_rng(8).random(9)
    res = ot.solve_sample(to_xp(xp, x), to_xp(xp, y), to_xp(xp, wa), method="gaussian",
                          reg=1e-3)  # fmt: skip
    value, ma, mb, Ca, Cb = _bures_oracle(x, y, wa / wa.sum(), np.full(7, 1 / 7), 1e-3)
    np.testing.assert_allclose(to_np(res.value), value, rtol=1e-10)
    np.testing.assert_allclose(to_np(res.log["Cs"]), Ca, rtol=1e-12)
    np.testing.assert_allclose(to_np(res.log["Ct"]), Cb, rtol=1e-12)
    Cs12 = to_np(res.log["Cs12"])
    np.testing.assert_allclose(Cs12 @ Cs12, Ca, atol=1e-12)
    # a_to_b is the Monge map T(x) = m_b + A (x - m_a) with A Ca A = Cb: the mapped sample
    # has the target's mean and covariance (weighted by a).
    assert res.plan is None and res.potentials is None and res.status == "optimal"
    # reg = 0: a_to_b is the Monge map T(x) = m_b + A (x - m_a) with A Ca A = Cb, so the
    # mapped sample has the target's mean and covariance (weighted by a).
    res = ot.solve_sample(to_xp(xp, x), to_xp(xp, y), to_xp(xp, wa), method="gaussian",
                          reg=0.0)  # fmt: skip
    _, ma, mb, _, Cb = _bures_oracle(x, y, wa / wa.sum(), np.full(7, 1 / 7), 0.0)
    mapped = x + to_np(res.a_to_b)
    w = wa / wa.sum()
    np.testing.assert_allclose(w @ mapped, mb, atol=1e-12)
    centred = mapped - mb
    np.testing.assert_allclose(centred.T @ np.diag(w) @ centred, Cb, atol=1e-10)
    back = y + to_np(res.b_to_a)  # T^{-1}: back to the source's moments
    np.testing.assert_allclose(back.mean(0), ma, atol=1e-12)
    assert_same_backend(res.a_to_b, to_xp(xp, x))
    if not is_backend(xp, "numpy"):
        assert_same_backend(res.value, to_xp(xp, x))


def test_gaussian_translation_and_identity():
    x = np.random.default_rng(0).normal(size=(20, 3))
    res = ot.solve_sample(x, x + np.array([1.0, 2.0, 2.0]), method="gaussian")
    np.testing.assert_allclose(res.value, 9.0, rtol=1e-12)  # ||shift||^2, same covariance
    np.testing.assert_allclose(res.a_to_b, np.tile([1.0, 2.0, 2.0], (20, 1)), atol=1e-9)


def test_gaussian_gradients_match_finite_differences_torch(clouds):
    torch = pytest.importorskip("torch")
    x, y = clouds
    X = torch.tensor(x, requires_grad=True)
    ot.solve_sample(X, torch.tensor(y), method="gaussian").value.backward()
    h = 1e-6
    for index in [(0, 0), (4, 1)]:
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        fd = (ot.solve_sample(plus, y, method="gaussian").value
              - ot.solve_sample(minus, y, method="gaussian").value) / (2 * h)  # fmt: skip
        np.testing.assert_allclose(float(X.grad[index]), fd, rtol=1e-6)


def test_gaussian_gradient_is_finite_for_repeated_eigenvalues():
    # Isotropic covariances: eigh-based square roots would give NaN gradients here.
    torch = pytest.importorskip("torch")
    cross = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    X = torch.tensor(cross, requires_grad=True)
    res = ot.solve_sample(X, torch.tensor(2 * cross), method="gaussian", reg=0.0)
    res.value.backward()
    np.testing.assert_allclose(float(res.value.detach()), 1.0, rtol=1e-12)  # 0.5 d + 2 d - 2 d
    # d/dx_i of sum_i w_i ||x_i - T(x_i)||^2 with T = 2 x: 2 w (x - 2x) = -x / 2.
    np.testing.assert_allclose(X.grad.numpy(), -cross / 2, atol=1e-12)


def test_gaussian_under_jax_grad():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = np.random.default_rng(6).normal(size=(8, 2))
    y = jax.numpy.asarray(x * 3.0 + 1.0)
    grad = jax.jit(jax.grad(lambda X: ot.solve_sample(X, y, method="gaussian", reg=0.0).value))
    # T(x) = 3x + 1 is the Monge map: the gradient is 2 w (x - T(x)).
    np.testing.assert_allclose(np.asarray(grad(jax.numpy.asarray(x))), 2 / 8 * (-2 * x - 1),
                               atol=1e-10)  # fmt: skip


# --- scaler ------------------------------------------------------------------------------------


def test_scaler_transforms_both_clouds(clouds):
    x, y = clouds

    class Standardize:
        def transform(self, X):
            return (X - 1.0) / 2.0

    for scaler in (Standardize(), lambda X: (X - 1.0) / 2.0):
        res = ot.solve_sample(x, y, scaler=scaler)
        expected = ot.solve_sample((x - 1.0) / 2.0, (y - 1.0) / 2.0)
        np.testing.assert_allclose(res.value, expected.value, rtol=1e-14)
    with pytest.raises(ValueError, match="scaler"):
        ot.solve_sample(x, y, scaler="standard")


@pytest.mark.parametrize("method", ["1d", "sliced", "max_sliced"])
def test_unknown_metric_is_a_value_error_and_pots_not_implemented_error(clouds, method):
    X, Y = clouds[:2]
    for expected in (ValueError, NotImplementedError):
        with pytest.raises(expected, match="metric must be one of"):
            ot.solve_sample(X, Y, method=method, metric="wrong_metric")
