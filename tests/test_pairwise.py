"""``otkit.pairwise``: every method against a double loop over its own otkit function."""

from __future__ import annotations

import functools
import types
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit.backend import to_numpy
from otkit.solvers import _pairwise, _pairwise_dask, _pairwise_inputs
from otkit.solvers import _pairwise_warnings as _pairwise_warnings_module

RNG = np.random.default_rng(16)


def _histograms(N, n, zeros=True, seed=0):
    rng = np.random.default_rng(seed)
    H = rng.random((N, n))
    if zeros:  # sparse rows, as images: the zero bins take another path in the simplex
        H[rng.random((N, n)) < 0.3] = 0.0
    return H / H.sum(axis=1, keepdims=True)


SUPPORT = RNG.normal(size=(10, 2))
COST = ot.dist(SUPPORT, SUPPORT)
H1, H2 = _histograms(5, 10, seed=1), _histograms(4, 10, seed=2)
# Sinkhorn between histograms with zero bins converges slowly: dense ones for its tests
D1, D2 = _histograms(5, 10, zeros=False, seed=5), _histograms(4, 10, zeros=False, seed=6)
CLOUDS = [RNG.normal(size=(n, 2)) + k for k, n in enumerate((5, 8, 6, 7))]
WEIGHTED = [(RNG.normal(size=(n, 2)), RNG.dirichlet(np.ones(n))) for n in (4, 9, 6)]


def _loop(function, first, second):
    return np.array([[float(function(x, y)) for y in second] for x in first])


def _cloud(item):
    return item if isinstance(item, tuple) else (item, None)


# --- each method against its function --------------------------------------------------------


def test_exact_histograms_match_emd2():
    expected = _loop(lambda a, b: ot.emd2(a, b, COST), H1, H2)
    np.testing.assert_allclose(ot.pairwise(H1, H2, M=COST), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_exact_clouds_match_emd2(metric):
    def emd2(x, y):
        (x, a), (y, b) = _cloud(x), _cloud(y)
        return ot.emd2([] if a is None else a, [] if b is None else b, ot.dist(x, y, metric))

    expected = _loop(emd2, CLOUDS, WEIGHTED)
    actual = ot.pairwise(CLOUDS, WEIGHTED, metric=metric)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def test_sinkhorn_histograms_match_sinkhorn2():
    options = {"numItermax": 10000, "stopThr": 1e-12}
    expected = _loop(lambda a, b: ot.sinkhorn2(a, b, COST, 0.5, **options), D1, D2)
    actual = ot.pairwise(D1, D2, M=COST, method="sinkhorn", reg=0.5, **options)
    np.testing.assert_allclose(actual, expected, rtol=1e-10)


def test_sinkhorn_symmetric_computes_the_diagonal():
    options = {"numItermax": 10000, "stopThr": 1e-12}
    D = ot.pairwise(D1, M=COST, method="sinkhorn", reg=0.5, **options)
    expected = _loop(lambda a, b: ot.sinkhorn2(a, b, COST, 0.5, **options), D1, D1)
    assert np.all(np.diag(D) > 0)  # <P_eps(a, a), C> is not 0
    np.testing.assert_allclose(D, expected, rtol=1e-10)
    np.testing.assert_array_equal(D, D.T)


@pytest.mark.parametrize(
    "method, kind",
    [
        ("exact", "asymmetric"),
        ("exact", "diagonal"),
        ("exact", "negative"),
        ("sinkhorn", "asymmetric"),  # (its diagonal is always computed)
    ],
)
def test_symmetric_call_with_a_cost_that_is_not_computes_what_it_cannot_mirror(method, kind):
    # OT(a, b; M) = OT(b, a; M^T): only a symmetric M lets the lower triangle be mirrored,
    # and OT(a, a) = 0 needs a zero diagonal and no negative entry as well
    rng = np.random.default_rng(3)
    M = {
        "asymmetric": rng.random((10, 10)),
        "diagonal": COST + np.eye(10),
        "negative": COST - 0.5 * COST.max(),
    }[kind]
    options = {"reg": 0.5, "stopThr": 1e-12, "numItermax": 10000} if method == "sinkhorn" else {}
    solve = ot.emd2 if method == "exact" else ot.sinkhorn2
    reg = () if method == "exact" else (0.5,)
    extra = {k: v for k, v in options.items() if k != "reg"}
    expected = _loop(lambda a, b: solve(a, b, M, *reg, **extra), H1, H1)
    D = ot.pairwise(H1, M=M, method=method, **options)
    np.testing.assert_allclose(D, expected, rtol=1e-10, atol=1e-14)
    if kind == "asymmetric":
        assert np.abs(D - D.T).max() > 1e-3  # (mirroring would have hidden this)
    else:
        assert np.all(np.abs(np.diag(D)) > 1e-3)


def test_symmetric_to_rounding_is_mirrored():
    # dist's rounding leaves M - M^T at a few ulps of max |M| (BLAS blocks): still mirrored
    # (an entry then moves by at most that times the mass); 1e-9 is a different cost
    rounded, different = COST.copy(), COST.copy()
    rounded[0, 1] += 4 * np.spacing(COST.max())
    rounded[2, 2] = np.spacing(COST.max())
    different[0, 1] += 1e-9 * COST.max()
    D = ot.pairwise(H1, M=rounded)
    np.testing.assert_array_equal(D, D.T)
    assert np.all(np.diag(D) == 0.0)
    np.testing.assert_allclose(D, _loop(lambda a, b: ot.emd2(a, b, rounded), H1, H1), atol=1e-14)
    D = ot.pairwise(H1, M=different)
    np.testing.assert_allclose(D, _loop(lambda a, b: ot.emd2(a, b, different), H1, H1), rtol=1e-12)


@pytest.mark.parametrize("method", ["exact", "sinkhorn", "sinkhorn_divergence", "sliced"])
def test_clouds_of_different_masses_name_the_pair(method):
    options = {"sinkhorn": {"reg": 1.0}, "sinkhorn_divergence": {"reg": 1.0}, "sliced": {"seed": 0}}
    options = options.get(method, {})
    light = (CLOUDS[1], np.full(8, 1 / 8))
    heavy = (CLOUDS[2], np.full(6, 1.5 / 6))
    with pytest.raises(ValueError, match=r"X\[0\] and Y\[1\] must have the same total mass"):
        ot.pairwise([light], [light, heavy], method=method, **options)
    with pytest.raises(ValueError, match=r"X\[1\] and X\[0\] must have the same total mass"):
        ot.pairwise([heavy, light], method=method, **options)


def test_sinkhorn_clouds_match_sinkhorn2():
    def sinkhorn2(x, y):
        (x, a), (y, b) = _cloud(x), _cloud(y)
        a, b = [] if a is None else a, [] if b is None else b
        return ot.sinkhorn2(a, b, ot.dist(x, y), 1.0, stopThr=1e-12, numItermax=10000)

    expected = _loop(sinkhorn2, CLOUDS, WEIGHTED)
    actual = ot.pairwise(
        CLOUDS, WEIGHTED, method="sinkhorn", reg=1.0, stopThr=1e-12, numItermax=10000
    )
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_sinkhorn_divergence_reuses_self_terms(monkeypatch):
    options = {"reg": 0.5, "stopThr": 1e-10}

    def divergence(x, y):
        (x, a), (y, b) = _cloud(x), _cloud(y)
        return ot.sinkhorn_divergence(x, y, a, b, **options)

    expected = _loop(divergence, CLOUDS, CLOUDS)
    calls = []
    original = _pairwise.EntropicPairs.value  # (the biased OT_eps of float64 NumPy clouds)

    def counted(self, first, second):
        calls.append(first is second)
        return original(self, first, second)

    monkeypatch.setattr(_pairwise.EntropicPairs, "value", counted)
    D = ot.pairwise(CLOUDS, method="sinkhorn_divergence", **options)
    # 6 pairs of the upper triangle + 4 self terms, all biased OT_eps solves
    assert sorted(calls) == [False] * 6 + [True] * 4
    # The self terms come from the non-symmetric loop here, the symmetric one there: both
    # converged to stopThr 1e-10 on the marginals.
    np.testing.assert_allclose(D, expected, rtol=1e-8, atol=1e-10)
    assert np.all(np.diag(D) == 0.0)


def test_sinkhorn_divergence_full_with_blur():
    expected = _loop(
        lambda x, y: ot.sinkhorn_divergence(_cloud(x)[0], y[0], _cloud(x)[1], y[1], blur=0.5),
        CLOUDS[:2],
        WEIGHTED,
    )
    actual = ot.pairwise(CLOUDS[:2], WEIGHTED, method="sinkhorn_divergence", blur=0.5)
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-8)


def test_sliced_draws_the_directions_of_the_seed():
    expected = _loop(
        lambda x, y: ot.sliced_wasserstein_distance(x, y[0], None, y[1], p=1, seed=7),
        CLOUDS,
        WEIGHTED,
    )
    actual = ot.pairwise(CLOUDS, WEIGHTED, method="sliced", p=1, seed=7)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_1d_clouds_and_histograms_on_a_line():
    lines = [RNG.normal(size=n) for n in (3, 7, 5)]
    expected = _loop(lambda x, y: ot.wasserstein_1d(x, y, p=1.5), lines, lines)
    np.testing.assert_allclose(ot.pairwise(lines, method="1d", p=1.5), expected, rtol=1e-12)
    grid = np.linspace(0.0, 1.0, 10)
    expected = _loop(lambda a, b: ot.wasserstein_1d(grid, grid, a, b, p=2), H1, H2)
    actual = ot.pairwise(H1, H2, method="1d", support=grid)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def _gaussian_w2(x, a, y, b):
    """Bures-Wasserstein W_2^2 from the textbook formula, with scipy's sqrtm."""
    from scipy.linalg import sqrtm

    a = np.full(len(x), 1 / len(x)) if a is None else a / a.sum()
    b = np.full(len(y), 1 / len(y)) if b is None else b / b.sum()
    m1, m2 = a @ x, b @ y
    S1 = (a[:, None] * (x - m1)).T @ (x - m1)
    S2 = (b[:, None] * (y - m2)).T @ (y - m2)
    root = sqrtm(S1)
    cross = np.real(sqrtm(root @ S2 @ root))
    return np.sum((m1 - m2) ** 2) + np.trace(S1 + S2 - 2 * cross)


def test_gaussian_closed_form():
    expected = _loop(lambda x, y: _gaussian_w2(*_cloud(x), *_cloud(y)), CLOUDS, WEIGHTED)
    actual = ot.pairwise(CLOUDS, WEIGHTED, method="gaussian")
    np.testing.assert_allclose(actual, expected, rtol=1e-10)
    # on the line: (m1 - m2)^2 + (s1 - s2)^2
    x, y = RNG.normal(size=20), 3.0 + 2.0 * RNG.normal(size=30)
    D = ot.pairwise([x], [y], method="gaussian")
    np.testing.assert_allclose(D[0, 0], (x.mean() - y.mean()) ** 2 + (x.std() - y.std()) ** 2)


def _points_on_a_line(rng, d):
    """A weighted cloud on a line of R^d, and its mean, standard deviation and direction."""
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    t = rng.normal(size=int(rng.integers(2, 6))) * rng.choice([0.1, 1.0, 10.0])
    w = rng.random(t.size) + 0.5
    w /= w.sum()
    centre = rng.normal(size=d) * rng.choice([0.0, 1.0, 10.0])
    mean_t = w @ t
    return (centre + t[:, None] * u, w), (centre + mean_t * u, np.sqrt(w @ (t - mean_t) ** 2), u)


def test_gaussian_keeps_its_precision_on_rank_deficient_covariances():
    # clouds on lines in the plane and in 3-D: Sigma = s^2 u u^T, and W_2^2 = |m_a - m_b|^2
    # + s_a^2 + s_b^2 - 2 s_a s_b |u . v|; square roots of the rounded zero eigenvalues
    # (~1e-17 |Sigma|) cost up to 5e-9 relative here; QR factors and an SVD, a few ulps
    rng = np.random.default_rng(7)
    errors = []
    for _ in range(100):
        d = int(rng.integers(2, 4))
        (cloud_a, (m_a, s_a, u)), (cloud_b, (m_b, s_b, v)) = (
            _points_on_a_line(rng, d),
            _points_on_a_line(rng, d),
        )
        expected = np.sum((m_a - m_b) ** 2) + s_a**2 + s_b**2 - 2 * s_a * s_b * abs(u @ v)
        D = ot.pairwise([cloud_a], [cloud_b], method="gaussian")
        errors.append(abs(D[0, 0] - expected) / expected)
    assert max(errors) < 1e-13


# --- symmetric input, histograms as clouds ---------------------------------------------------


@pytest.mark.parametrize("method", ["exact", "sliced", "gaussian"])
def test_symmetric_is_the_full_matrix_with_a_zero_diagonal(method):
    options = {"seed": 0} if method == "sliced" else {}
    D = ot.pairwise(CLOUDS, method=method, **options)
    full = ot.pairwise(CLOUDS, CLOUDS, method=method, **options)
    np.testing.assert_array_equal(D, D.T)
    assert np.all(np.diag(D) == 0.0)
    off = ~np.eye(len(CLOUDS), dtype=bool)
    np.testing.assert_allclose(D[off], full[off], rtol=1e-12)


@pytest.mark.parametrize("method", ["exact", "sinkhorn_divergence", "sliced", "gaussian"])
def test_histograms_on_a_support_are_weighted_clouds(method):
    options = {"exact": {}, "sinkhorn_divergence": {"reg": 0.5}, "sliced": {"seed": 1}}
    options = options.get(method, {})
    clouds = [(SUPPORT[h > 0], h[h > 0]) for h in H1]  # zero bins change no measure
    expected = ot.pairwise(clouds, method=method, **options)
    actual = ot.pairwise(H1, method=method, support=SUPPORT, **options)
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


# --- parallel, resumable -----------------------------------------------------------------------


def serial_and_parallel(method, options):
    """pairwise with n_jobs=1 and n_jobs=2: on the clouds for the methods of point clouds,
    else on the histograms D1, H2 with COST."""
    if method in ("sinkhorn_divergence", "sliced"):
        args, kwargs = (CLOUDS,), {}
    else:
        args, kwargs = (D1, H2), {"M": COST}
    serial = ot.pairwise(*args, method=method, **kwargs, **options)
    return serial, ot.pairwise(*args, method=method, n_jobs=2, **kwargs, **options)


@pytest.mark.parametrize(
    "method, options",
    [("exact", {}), ("sinkhorn", {"reg": 0.5}), ("sinkhorn_divergence", {"reg": 1.0})],
)
def test_n_jobs_gives_identical_results(method, options):
    pytest.importorskip("joblib")
    serial, threads = serial_and_parallel(method, options)
    np.testing.assert_array_equal(serial, threads)


@pytest.mark.parametrize(
    "config, expected", [({}, None), ({"n_jobs": 2}, 2), ({"n_jobs": 1}, None)]
)
def test_n_jobs_none_follows_joblib_parallel_config(monkeypatch, config, expected):
    """scikit-learn's convention: None is 1, unless parallel_config says otherwise."""
    joblib = pytest.importorskip("joblib")
    used, original = [], _pairwise_dask._joblib_map

    def recorded(function, tasks, n_jobs, prefer="threads", cost=None):
        used.append(n_jobs)
        return original(function, tasks, n_jobs, prefer, cost)

    monkeypatch.setattr(_pairwise_dask, "_joblib_map", recorded)
    with joblib.parallel_config(**config):
        D = ot.pairwise(H1, H2, M=COST)
    np.testing.assert_array_equal(D, ot.pairwise(H1, H2, M=COST, n_jobs=1))
    assert used == ([] if expected is None else [expected])


@pytest.mark.parametrize(
    "n_blocks, n_threads", [(1, 1), (5, 2), (40, 2), (300, 1), (3000, 4), (6000, 1)]
)
def test_dask_tasks_group_consecutive_blocks(n_blocks, n_threads):
    """Every block once, in order; at least 8 tasks per thread (or one per block), and
    about _PAIRS_PER_TASK pairs per task when there are more."""
    sizes = np.arange(n_blocks, 0, -1)  # the rows of an upper triangle
    blocks = [(i, None, np.arange(size)) for i, size in enumerate(sizes)]
    chunks = _pairwise_dask._chunks(blocks, n_threads)
    assert [b for chunk in chunks for b in chunk] == blocks
    per_task = _pairwise_dask._PAIRS_PER_TASK
    assert len(chunks) == min(n_blocks, max(np.ceil(sizes.sum() / per_task), 8 * n_threads))
    pairs = [sum(b[2].size for b in chunk) for chunk in chunks]
    assert max(pairs) <= sizes.sum() / len(chunks) + sizes.max()


def test_chunks_balance_the_solver_costs():
    """With the solver's task costs (clouds: the sizes' products), chunks of about equal
    cost, not equal numbers of pairs; every task once, in order."""
    rng = np.random.default_rng(5)
    X = [rng.normal(size=(n, 2)) for n in (5, 60, 7, 50, 6, 40, 8, 30, 9, 20)]
    clouds = types.SimpleNamespace(points=X)
    solver = types.SimpleNamespace(
        histograms=False, method="sinkhorn_divergence", first=clouds, second=clouds
    )
    task_costs = functools.partial(_pairwise._Solver.task_costs, solver)
    blocks = [(i, None, np.arange(i + 1, 10)) for i in range(9)]
    costs = task_costs(blocks)
    assert costs[0] == 5 * (60 + 7 + 50 + 6 + 40 + 8 + 30 + 9 + 20)
    assert task_costs([(True, 1), (False, 2)]) == [3600.0, 49.0]
    chunks = _pairwise_dask._chunks(blocks, 1, task_costs)
    assert [b for chunk in chunks for b in chunk] == blocks
    per_chunk = [sum(task_costs(chunk)) for chunk in chunks]
    assert max(per_chunk) <= sum(costs) / len(chunks) + max(costs)
    solver.method = "sliced"  # other methods: numbers of pairs
    assert task_costs(blocks) == [9 - i for i in range(9)]


def test_out_memmap_resumes_and_keeps_what_is_filled(tmp_path):
    H = _histograms(8, 10, seed=3)
    expected = ot.pairwise(H, M=COST)
    out = np.lib.format.open_memmap(tmp_path / "D.npy", mode="w+", shape=(8, 8))
    out[:] = np.nan
    out[:4] = -1.0  # "already computed": must be left alone
    result = ot.pairwise(H, M=COST, out=out)
    assert result is out
    assert np.all(out[:4] == -1.0)
    np.testing.assert_array_equal(out[4:, 4:], expected[4:, 4:])
    assert np.all(out[4:, :4] == -1.0)  # the lower triangle mirrors the upper one


def test_out_after_an_interruption(tmp_path, monkeypatch):
    H = _histograms(6, 10, seed=4)
    expected = ot.pairwise(H, M=COST)
    out = np.lib.format.open_memmap(tmp_path / "D.npy", mode="w+", shape=(6, 6))
    out[:] = np.nan
    original, done = _pairwise.ExactSolver.__call__, []

    def interrupted(self, block):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(block[0])
        return original(self, block)

    monkeypatch.setattr(_pairwise.ExactSolver, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ot.pairwise(H, M=COST, out=out)
    np.testing.assert_array_equal(out[:2], expected[:2])  # two rows written (and mirrored)
    assert np.isnan(out[2, 3:]).all()
    monkeypatch.setattr(_pairwise.ExactSolver, "__call__", original)
    saved = np.load(tmp_path / "D.npy")  # what is on disk
    np.testing.assert_array_equal(saved[:2], expected[:2])
    ot.pairwise(H, M=COST, out=out)
    np.testing.assert_array_equal(out, expected)


def test_verbose_reports_progress(capsys):
    ot.pairwise(H1, H2, M=COST, verbose=True)
    captured = capsys.readouterr()
    assert "20" in captured.err + captured.out  # 20 pairs


# --- backends ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["exact", "sinkhorn"])
def test_histograms_on_every_backend(xp, method):
    options = {"reg": 0.5, "stopThr": 1e-11, "numItermax": 10000} if method == "sinkhorn" else {}
    first, second = (H1, H2) if method == "exact" else (D1, D2)
    expected = ot.pairwise(first, second, M=COST, method=method, **options)
    X, Y, M = to_xp(xp, first), to_xp(xp, second), to_xp(xp, COST)
    D = ot.pairwise(X, Y, M=M, method=method, **options)
    assert_same_backend(D, X)
    assert tuple(D.shape) == (5, 4)
    # torch and JAX solve a row in one batched call, stopped when all its problems
    # converged, NumPy pair by pair: both to 1e-11 on the marginals, about 1e-10 on values
    # of order 1 (the marginal error times the cost range, ~10 here)
    np.testing.assert_allclose(to_np(D), expected, rtol=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sinkhorn_histograms_on_the_cpu_run_on_the_host(xp, dtype):
    # torch and JAX arrays on the CPU are computed by NumPy, in their dtype (here NumPy's
    # batched loop): NumPy's values bit for bit, returned in their library (other arrays:
    # on their device)
    options = {"reg": 0.5, "stopThr": 1e-6, "numItermax": 10000}
    X, Y, M = (to_xp(xp, x, dtype) for x in (D1, D2, COST))
    D = ot.pairwise(X, Y, M=M, method="sinkhorn", **options)
    assert_same_backend(D, X)
    assert D.dtype == X.dtype
    host = ot.pairwise(*(to_numpy(x, None) for x in (X, Y)), M=to_numpy(M, None),
                       method="sinkhorn", **options)  # fmt: skip
    if xp.__name__.split(".")[0] in ("numpy", "torch", "jax"):
        np.testing.assert_array_equal(to_np(D), host)
    else:
        np.testing.assert_allclose(to_np(D), host, rtol=1e-4)


@pytest.mark.parametrize(
    "method, options",
    [
        ("exact", {}),
        ("sinkhorn", {"reg": 1.0, "stopThr": 1e-5, "numItermax": 20000}),
        ("sinkhorn_divergence", {"reg": 1.0}),
        ("sliced", {"seed": 3}),
        ("1d", {}),
        ("gaussian", {}),
    ],
)
def test_clouds_on_the_cpu_are_computed_by_numpy(xp, method, options):
    # every method on clouds: torch and JAX arrays on the CPU give NumPy's values bit for
    # bit (JAX would compile each new pair of shapes), in their library and dtype
    clouds = [x[:, :1] for x in CLOUDS] if method == "1d" else CLOUDS
    weights = [RNG.dirichlet(np.ones(len(x))) for x in clouds]
    items = [(to_xp(xp, x, "float32"), to_xp(xp, w, "float32")) for x, w in zip(clouds, weights)]
    D = ot.pairwise(items, method=method, **options)
    assert_same_backend(D, items[0][0])
    assert D.dtype == items[0][0].dtype
    host = [(to_numpy(x, None), to_numpy(w, None)) for x, w in items]
    expected = ot.pairwise(host, method=method, **options)
    if xp.__name__.split(".")[0] in ("numpy", "torch", "jax"):
        np.testing.assert_array_equal(to_np(D), expected)
    else:
        np.testing.assert_allclose(to_np(D), expected, rtol=1e-4, atol=1e-5)


def test_torch_bfloat16_histograms():
    # bfloat16 (which NumPy lacks) stays on torch's path, its mass checks at its rounding
    # (the masses of these rows differ by 2e-4); the values within its rounding of the
    # weights and costs (2**-8 each) of the float64 ones
    torch = pytest.importorskip("torch")
    X, M = (torch.tensor(x, dtype=torch.bfloat16) for x in (H1, COST))
    D = ot.pairwise(X, M=M)
    assert D.dtype == torch.bfloat16
    expected = ot.pairwise(H1, M=COST)
    np.testing.assert_allclose(D.float().numpy(), expected, rtol=2.0**-5, atol=1e-3)


def test_sinkhorn_histograms_of_jax_on_a_device_pad_rows_to_powers_of_two(monkeypatch):
    # off the CPU, JAX's rows are padded to a power of two (copies of their last column),
    # so that its loop compiles once per width, not once per row: the values those of
    # sinkhorn2 pair by pair (the copies only add to the row's stopping test)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)  # as the xp fixture loads JAX
    jnp = jax.numpy
    monkeypatch.setattr(
        _pairwise_inputs, "_on_cpu", lambda x: x is None or isinstance(x, np.ndarray)
    )
    widths, sinkhorn2 = [], _pairwise.sinkhorn2

    def spy(a, b, M, reg, **options):
        widths.append(b.shape[1])
        return sinkhorn2(a, b, M, reg, **options)

    monkeypatch.setattr(_pairwise, "sinkhorn2", spy)
    options = {"numItermax": 10000, "stopThr": 1e-12}
    first = _histograms(6, 10, zeros=False, seed=7)
    D = ot.pairwise(jnp.asarray(first), M=jnp.asarray(COST), method="sinkhorn", reg=0.5,
                    **options)  # fmt: skip
    assert widths == [8, 8, 4, 4, 2, 1]  # rows of 6, 5, ..., 1 columns (with the diagonal)
    expected = _loop(lambda a, b: ot.sinkhorn2(a, b, COST, 0.5, **options), first, first)
    np.testing.assert_allclose(to_np(D), expected, rtol=1e-10)


@pytest.mark.parametrize("method", ["exact", "sliced"])
def test_clouds_on_every_backend(xp, method):
    # three clouds: JAX compiles once per pair of shapes
    options = {"sliced": {"seed": 0}}.get(method, {})
    expected = ot.pairwise(CLOUDS[:3], method=method, **options)
    clouds = [to_xp(xp, x, "float32") for x in CLOUDS[:3]]
    D = ot.pairwise(clouds, method=method, **options)
    assert_same_backend(D, clouds[0])
    np.testing.assert_allclose(to_np(D), expected, rtol=1e-4, atol=1e-5)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "wasserstein"}, "method must be one of"),
        ({"numItermax": 10, "bogus": 1}, "unknown option.*bogus"),
        ({"method": "exact", "stopThr": 1e-3}, "unknown option.*stopThr"),
        ({"method": "sinkhorn"}, "reg is required"),
        ({"method": "sinkhorn_divergence"}, "needs reg or blur"),
        ({"method": "sliced"}, "support"),
        ({"reg": 0.1}, "reg is only for the entropic methods"),
        ({"M": COST[:, :9]}, r"M.shape == \(10, 9\)"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"out": np.full((4, 4), np.nan)}, r"out.shape"),
        ({"support": SUPPORT[:3], "M": None}, "support must be"),
        ({"support": SUPPORT}, "pass M or support"),
        ({"method": "sliced", "support": SUPPORT}, "M is only for method 'exact' or 'sinkhorn'"),
        ({"p": 1}, "p=1 is not used by method='exact': for W_1 pass metric='euclidean'"),
        ({"metric": "euclidean"}, "metric='euclidean' is not used by method='exact' with M given"),
        ({"client": "ray"}, "client must be a dask.distributed.Client, 'dask' or None"),
    ],
)
def test_bad_options_on_histograms(kwargs, match):
    kwargs = {"M": COST, **kwargs}
    with pytest.raises(ValueError, match=match):
        ot.pairwise(H1, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"p": 1}, "p=1 is not used by method='exact' with metric='sqeuclidean'"),
        ({"method": "sinkhorn", "reg": 1.0, "p": 3}, "p=3 is not used by method='sinkhorn'"),
        ({"method": "gaussian", "p": 1}, "p=1 is not used by method='gaussian'"),
        ({"method": "sliced", "metric": "cityblock"}, "metric='cityblock' is not used"),
        ({"method": "1d", "metric": "euclidean"}, "metric='euclidean' is not used"),
        ({"M": np.ones((5, 5))}, "X is a sequence of point clouds"),
    ],
)
def test_unused_arguments_on_clouds_are_errors(kwargs, match):
    # an argument the method does not read is never silently dropped (p=1 meant as W_1)
    with pytest.raises(ValueError, match=match):
        ot.pairwise(CLOUDS[:3], **kwargs)


def test_arguments_that_are_used_are_accepted():
    minkowski = ot.pairwise(CLOUDS[:3], metric="minkowski", p=1)
    np.testing.assert_allclose(minkowski, ot.pairwise(CLOUDS[:3], metric="cityblock"))
    assert ot.pairwise(CLOUDS[:3], method="sliced", p=1, seed=0)[0, 1] > 0


def test_nested_lists_with_a_cost_are_not_read_as_clouds():
    with pytest.raises(ValueError, match=r"np.asarray\(X\)"):
        ot.pairwise(H1.tolist(), M=COST)


def test_traced_input_is_a_type_error():
    jax = pytest.importorskip("jax")
    cost = jax.numpy.asarray(COST)
    with pytest.raises(TypeError, match=r"X is traced"):
        jax.jit(lambda H: ot.pairwise(H, M=cost))(jax.numpy.asarray(H1))
    with pytest.raises(TypeError, match=r"X\[0\] is traced"):
        jax.jit(lambda x: ot.pairwise([x, x + 1.0]))(jax.numpy.asarray(CLOUDS[0]))


def test_sparse_cost_is_a_type_error():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="'M' is a scipy.sparse matrix"):
        ot.pairwise(H1, M=sparse.csr_matrix(COST))


@pytest.mark.parametrize("n_jobs", [1.5, True, "2"])
def test_n_jobs_must_be_an_int(n_jobs):
    with pytest.raises(TypeError, match="n_jobs"):
        ot.pairwise(H1, M=COST, n_jobs=n_jobs)


@pytest.mark.parametrize("client", [object(), 2, True])
def test_client_must_be_a_dask_client(client):
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        ot.pairwise(H1, M=COST, client=client)


def test_out_must_be_a_numpy_array():
    with pytest.raises(TypeError, match="out"):
        ot.pairwise(H1, M=COST, out=[[0.0] * 5] * 5)


def test_bad_histograms_name_the_row():
    H = H1.copy()
    H[2] *= 2.0
    with pytest.raises(ValueError, match=r"X\[2\] has mass"):
        ot.pairwise(H, M=COST)
    H = H1.copy()
    H[3, 0] = -0.1
    with pytest.raises(ValueError, match=r"X\[3\] has negative"):
        ot.pairwise(H, M=COST)
    with pytest.raises(ValueError, match=r"Y\[1\] has negative"):
        H = H2.copy()
        H[1, 0] = np.nan
        ot.pairwise(H1, H, M=COST)


def test_bad_clouds_name_the_cloud():
    with pytest.raises(ValueError, match=r"Y\[1\] has points of dimension 3"):
        ot.pairwise(CLOUDS, [CLOUDS[0], RNG.normal(size=(4, 3))])
    with pytest.raises(ValueError, match=r"X\[1\] has NaN"):
        ot.pairwise([CLOUDS[0], np.full((3, 2), np.nan)])
    with pytest.raises(ValueError, match="d = 1"):
        ot.pairwise(CLOUDS, method="1d")
    with pytest.raises(ValueError, match="empty collection"):
        ot.pairwise([])
    with pytest.raises(ValueError, match="both be histograms"):
        ot.pairwise(H1, CLOUDS, M=COST)
    with pytest.raises(ValueError, match=r"weights of X\[0\] must have shape \(5,\)"):
        ot.pairwise([(CLOUDS[0], np.ones(4) / 4)])


@pytest.mark.parametrize(
    "method, options, expected",
    [
        ("exact", {}, "threads"),
        ("sinkhorn", {"reg": 0.5}, "threads"),
        ("sinkhorn_divergence", {"reg": 1.0}, "processes"),
        ("sliced", {"seed": 0}, "processes"),
    ],
)
def test_n_jobs_workers_are_processes_where_the_gil_is_held(monkeypatch, method, options, expected):
    """Per-pair paths hold the GIL (threads contended: 'sinkhorn_divergence' ran slower with
    n_jobs=2 than with 1); they run on processes, with the same values bit for bit."""
    pytest.importorskip("joblib")
    used, original = [], _pairwise_dask._joblib_map

    def recorded(function, tasks, n_jobs, prefer="threads", cost=None):
        used.append(prefer)
        return original(function, tasks, n_jobs, prefer, cost)

    monkeypatch.setattr(_pairwise_dask, "_joblib_map", recorded)
    serial, parallel = serial_and_parallel(method, options)
    np.testing.assert_array_equal(serial, parallel)
    assert used and set(used) == {expected}


def _pairwise_warnings(record):
    return [str(w.message) for w in record if "otkit.pairwise:" in str(w.message)]


@pytest.mark.parametrize("method", ["sinkhorn_divergence", "sinkhorn"])
def test_warnings_of_worker_processes_reach_the_caller(method):
    # a non-convergence in a joblib process (or a Dask worker) is in the caller's summary,
    # as in the serial run, also when the worker has seen the same text before
    pytest.importorskip("joblib")
    options = {"reg": 0.05, "numItermax": 3}
    with pytest.warns(UserWarning) as serial:
        ot.pairwise(CLOUDS, method=method, **options)
    assert len(_pairwise_warnings(serial)) == 1
    for _ in range(2):
        with warnings.catch_warnings(record=True) as parallel:
            warnings.simplefilter("always")
            ot.pairwise(CLOUDS, method=method, n_jobs=2, **options)
        assert _pairwise_warnings(parallel) == _pairwise_warnings(serial)


def test_warnings_of_blocks_sent_to_processes_by_parallel_config_reach_the_caller():
    joblib = pytest.importorskip("joblib")
    H = _histograms(6, 10, seed=4)
    with pytest.warns(UserWarning, match="numItermax reached") as serial:
        expected = ot.pairwise(H, M=COST, numItermax=2)
    for backend in ("loky", "threading"):
        with warnings.catch_warnings(record=True) as parallel:
            warnings.simplefilter("always")
            with joblib.parallel_config(backend=backend, n_jobs=2):
                D = ot.pairwise(H, M=COST, numItermax=2)
        np.testing.assert_array_equal(D, expected)
        assert _pairwise_warnings(parallel) == _pairwise_warnings(serial) != []


def _pair_by_pair_warnings(H, **options):
    """The texts of the warnings of pairwise on each pair of the upper triangle alone
    (a pair's result depends on the pair only), by row."""
    found = {}
    for i in range(len(H)):
        for j in range(i + 1, len(H)):
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                ot.pairwise(H[[i]], H[[j]], **options)
            found.setdefault(i, []).extend(str(w.message) for w in record)
    return {i: texts for i, texts in found.items() if texts}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_one_warning_for_the_many_pairs_of_a_call_at_the_callers_line(n_jobs):
    # every pair that stops at numItermax warned on its own (one per pair, shown or not by
    # the filters, pointing inside otkit); now one warning per kind, counting them all: those
    # of each pair solved alone
    if n_jobs != 1:
        pytest.importorskip("joblib")
    H = _histograms(9, 10, seed=5)
    by_row = _pair_by_pair_warnings(H, M=COST, numItermax=3)
    texts = [
        text.removesuffix(" [otkit.pairwise: row 0]") for row in by_row.values() for text in row
    ]
    assert len(set(texts)) == 1 and len(texts) > 10
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ot.pairwise(H, M=COST, numItermax=3, n_jobs=n_jobs)
    assert [w.filename for w in record] == [__file__]
    message = str(record[0].message)
    assert message.startswith(texts[0])
    rows = sorted(by_row)
    shown = ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
    assert f"[otkit.pairwise: {len(texts)} warnings like this one, in rows {shown}; " in message
    assert message.endswith(f"this one in row {rows[0]}]")


def test_warnings_of_different_kinds_are_summed_up_apart_in_row_order():
    summary = _pairwise_warnings_module.WarningSummary()
    summary.add_row([(UserWarning, "b did not converge: error 2.0e-01")], 4)
    summary.add_row([(RuntimeWarning, "overflow"), (UserWarning, "a")], 2)
    summary.add_row([(UserWarning, "b did not converge: error 3.5e-02")], 1)
    summary.add_self_term([(UserWarning, "b did not converge: error 1e-3")], False, 3)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        summary.emit(stacklevel=1)
    assert [(w.category, str(w.message)) for w in record] == [
        (
            UserWarning,
            (
                "b did not converge: error 1e-3 [otkit.pairwise: 3 warnings like this one (the "
                "numbers differ), in the self term of Y[3] and rows 1, 4; this one in the self "
                "term of Y[3]]"
            ),
        ),
        (RuntimeWarning, "overflow [otkit.pairwise: row 2]"),
        (UserWarning, "a [otkit.pairwise: row 2]"),
    ]
    with warnings.catch_warnings(record=True) as record:
        summary.emit(stacklevel=1)  # (emptied)
    assert record == []


def test_an_error_filter_raises_the_summary_once_the_blocks_are_stored():
    H = _histograms(6, 10, seed=4)
    out = np.full((6, 6), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match=r"numItermax reached.*otkit\.pairwise: \d+ warn"):
            ot.pairwise(H, M=COST, numItermax=2, out=out)
    with pytest.warns(UserWarning, match="numItermax reached"):
        expected = ot.pairwise(H, M=COST, numItermax=2)
    np.testing.assert_array_equal(out, expected)


def test_warnings_are_collected_in_the_collecting_thread_only():
    # another thread's warnings are shown as usual while pairwise collects its blocks'
    import threading

    from otkit.utils._warnings import collecting, warn_collectable

    shown = []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with collecting() as outer:
            with collecting() as inner:
                warn_collectable("inner")
                thread = threading.Thread(target=warn_collectable, args=("elsewhere",))
                thread.start()
                thread.join()
            warn_collectable("outer", RuntimeWarning)
        warn_collectable("after")
        shown = [str(w.message) for w in record]
    assert inner == [(UserWarning, "inner")] and outer == [(RuntimeWarning, "outer")]
    assert shown == ["elsewhere", "after"]


@pytest.mark.parametrize("method", ["exact", "sinkhorn"])
def test_the_same_collection_twice_is_the_symmetric_call(method, monkeypatch):
    options = {"reg": 0.5, "stopThr": 1e-13, "numItermax": 20000} if method == "sinkhorn" else {}
    calls = []
    pending = _pairwise.pending_blocks
    monkeypatch.setattr(
        _pairwise, "pending_blocks", lambda *args: calls.append(args[1:]) or pending(*args)
    )
    expected = ot.pairwise(H1, M=COST, method=method, **options)
    D = ot.pairwise(H1, H1, M=COST, method=method, **options)
    np.testing.assert_array_equal(D, expected)
    assert calls[0] == calls[1] and calls[0][0]  # (symmetric, zero diagonal) both times
    D = ot.pairwise(H1, H1.copy(), M=COST, method=method, **options)  # an equal copy: all
    np.testing.assert_allclose(D, expected, rtol=1e-10, atol=1e-15)
    assert calls[2] == (False, False)
