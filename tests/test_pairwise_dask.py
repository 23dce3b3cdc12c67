"""``otkit.pairwise`` on a Dask cluster: two worker processes on this machine.

The oracle is the serial run of the same call: a worker computes whole blocks with the same
code, in a process held to one BLAS thread, so the matrices must be equal bit for bit
(``assert_array_equal``, no tolerance). The task stream of the scheduler says where each
task ran.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np
import pytest

import otkit as ot
from otkit.solvers import _pairwise

distributed = pytest.importorskip("distributed")

RNG = np.random.default_rng(3)
SUPPORT = RNG.normal(size=(12, 2))
COST = ot.dist(SUPPORT, SUPPORT)


def _histograms(N, seed, zeros=True):
    rng = np.random.default_rng(seed)
    H = rng.random((N, 12))
    if zeros:
        H[rng.random(H.shape) < 0.3] = 0.0
    return H / H.sum(axis=1, keepdims=True)


H1, H2 = _histograms(14, 1), _histograms(9, 2)
D1, D2 = _histograms(10, 3, zeros=False), _histograms(7, 4, zeros=False)
CLOUDS = [RNG.normal(size=(n, 2)) + 0.3 * k for k, n in enumerate((4, 9, 6, 11, 5, 8, 7, 10))]
WEIGHTED = [(RNG.normal(size=(n, 2)), RNG.dirichlet(np.ones(n))) for n in (3, 12, 6, 9, 5)]


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(2)
        yield client


@contextlib.contextmanager
def _workers_used(client, kind="call"):
    """The set of worker addresses that ran pairwise's tasks of this kind ('call': the
    blocks, 'self_term': the self terms of the Sinkhorn divergence)."""
    used = set()
    with distributed.get_task_stream(client) as stream:
        yield used
    used.update(
        task["worker"] for task in stream.data if task["key"].startswith(f"otkit-pairwise-{kind}-")
    )


def _all_workers(client):
    return set(client.scheduler_info()["workers"])


# --- same numbers as the serial run, computed on the workers --------------------------------------


@pytest.mark.parametrize("symmetric", [True, False])
def test_exact_histograms_equal_the_serial_run_bit_for_bit(client, symmetric):
    second = None if symmetric else H2
    serial = ot.pairwise(H1, second, M=COST)
    with _workers_used(client) as used:
        D = ot.pairwise(H1, second, M=COST, client=client)
    np.testing.assert_array_equal(D, serial)
    assert used == _all_workers(client)  # 16 tasks (8 per worker thread) on 2 idle workers


def test_sinkhorn_histograms_equal_the_serial_run_bit_for_bit(client):
    options = {"reg": 1.0, "stopThr": 1e-9}
    serial = ot.pairwise(D1, D2, M=COST, method="sinkhorn", **options)
    with _workers_used(client) as used:
        D = ot.pairwise(D1, D2, M=COST, method="sinkhorn", client=client, **options)
    np.testing.assert_array_equal(D, serial)
    assert used == _all_workers(client)


@pytest.mark.parametrize("method", ["exact", "sinkhorn"])
def test_clouds_of_different_sizes_equal_the_serial_run(client, method):
    options = {"reg": 1.0} if method == "sinkhorn" else {}
    serial = ot.pairwise(CLOUDS, WEIGHTED, method=method, **options)
    with _workers_used(client) as used:
        D = ot.pairwise(CLOUDS, WEIGHTED, method=method, client=client, **options)
    np.testing.assert_array_equal(D, serial)
    assert used == _all_workers(client)


def test_sinkhorn_divergence_self_terms_run_on_the_workers(client):
    options = {"reg": 0.5, "stopThr": 1e-8}
    serial = ot.pairwise(CLOUDS, method="sinkhorn_divergence", **options)
    with _workers_used(client, "self_term") as used:
        D = ot.pairwise(CLOUDS, method="sinkhorn_divergence", client=client, **options)
    np.testing.assert_array_equal(D, serial)
    assert np.all(np.diag(D) == 0.0)
    assert used and used <= _all_workers(client)


def test_the_solver_is_scattered_once_to_every_worker(client, monkeypatch):
    calls = []
    scatter = client.scatter

    def counted(data, **kwargs):
        calls.append((type(data).__name__, kwargs.get("broadcast")))
        return scatter(data, **kwargs)

    monkeypatch.setattr(client, "scatter", counted)
    # self terms and blocks: two groups of tasks over one scattered solver
    ot.pairwise(CLOUDS[:5], WEIGHTED, method="sinkhorn_divergence", reg=1.0, client=client)
    assert calls == [("_Solver", True)]


def test_joblib_dask_backend_runs_on_the_cluster(client):
    joblib = pytest.importorskip("joblib")
    serial = ot.pairwise(H1, M=COST)
    for n_jobs in (-1, None):  # None: the backend's default (all the cluster), as sklearn
        with (
            joblib.parallel_config(backend="dask", client=client),
            _workers_used(client) as used,
        ):
            D = ot.pairwise(H1, M=COST, n_jobs=n_jobs)
        np.testing.assert_array_equal(D, serial)
        assert used == _all_workers(client)


def test_client_dask_uses_the_current_client(client, monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a LocalCluster was started although a client is current")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    with client.as_current(), _workers_used(client) as used:
        D = ot.pairwise(H1, H2, M=COST, client="dask")
    np.testing.assert_array_equal(D, ot.pairwise(H1, H2, M=COST))
    assert used == _all_workers(client)


def test_client_dask_without_a_client_starts_and_closes_a_local_cluster(monkeypatch):
    started = []
    original = distributed.LocalCluster

    def recorded(**kwargs):
        cluster = original(**kwargs)
        with distributed.Client(cluster, set_as_default=False) as client:
            # (Dask's nannies set 65536: glibc then unmaps every large temporary array)
            trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        started.append((kwargs, cluster, trim))
        return cluster

    monkeypatch.setattr(distributed, "LocalCluster", recorded)
    D = ot.pairwise(H1, M=COST, client="dask", n_jobs=2)
    np.testing.assert_array_equal(D, ot.pairwise(H1, M=COST))
    [(kwargs, cluster, trim)] = started
    assert list(trim.values()) == [None, None]
    assert kwargs == {
        "n_workers": 2,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": None,
    }
    assert cluster.status.name == "closed"


# --- out=: written as tasks complete, resumed --------------------------------------------------------


def _interrupt_after(monkeypatch, n_updates):
    """The progress callback raises KeyboardInterrupt at its ``n_updates``-th call (after
    that many blocks were written to ``out``)."""

    @contextlib.contextmanager
    def progress(verbose, total):
        done = []

        def update(n):
            done.append(n)
            if len(done) == n_updates:
                raise KeyboardInterrupt

        yield update

    monkeypatch.setattr(_pairwise, "_progress", progress)


def _scheduler_tasks(client):
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def test_out_is_written_as_tasks_complete_and_resumes(client, tmp_path, monkeypatch):
    expected = ot.pairwise(H1, M=COST)
    out = np.lib.format.open_memmap(tmp_path / "D.npy", mode="w+", shape=expected.shape)
    out[:] = np.nan
    out[0, 5:] = -1.0  # "already computed": left alone
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        ot.pairwise(H1, M=COST, out=out, client=client)
    monkeypatch.undo()
    saved = np.load(tmp_path / "D.npy")  # what is on disk
    done = ~np.isnan(saved) & (saved != -1.0)
    upper = np.triu(np.ones(expected.shape, dtype=bool), 1)
    assert np.sum(np.any(done & upper, axis=1)) == 3  # rows written before the interruption
    np.testing.assert_array_equal(saved[done], expected[done])
    # the remaining tasks were cancelled and the scattered solver released
    deadline = time.monotonic() + 10.0
    while _scheduler_tasks(client) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _scheduler_tasks(client) == 0
    result = ot.pairwise(H1, M=COST, out=out, client=client)
    assert result is out
    assert np.all(out[0, 5:] == -1.0) and np.all(out[5:, 0] == -1.0)
    keep = np.ones(expected.shape, dtype=bool)
    keep[0, 5:] = keep[5:, 0] = False
    np.testing.assert_array_equal(out[keep], expected[keep])


# --- bad input -----------------------------------------------------------------------------------


def test_bad_client_values():
    with pytest.raises(ValueError, match="client must be .*'dask' or None, got 'ray'"):
        ot.pairwise(H1, M=COST, client="ray")
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        ot.pairwise(H1, M=COST, client=object())


def test_input_errors_are_raised_before_a_cluster_starts(monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a LocalCluster was started for invalid input")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    H = H1.copy()
    H[4, 0] = np.nan
    with pytest.raises(ValueError, match=r"X\[4\] has negative, NaN"):
        ot.pairwise(H, M=COST, client="dask")
    with pytest.raises(ValueError, match="empty collection"):
        ot.pairwise([], client="dask")


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(ImportError, match=r'pip install "otkit\[dask\]"'):
        ot.pairwise(H1, M=COST, client="dask")


def test_warnings_of_the_workers_reach_the_caller(client):
    # in the caller's summary as in the serial run (they stayed in the workers' stderr)
    options = {"reg": 0.05, "numItermax": 3}
    with pytest.warns(UserWarning) as serial:
        ot.pairwise(CLOUDS, method="sinkhorn_divergence", **options)
    expected = [str(w.message) for w in serial if "did not converge" in str(w.message)]
    for _ in range(2):  # (a worker that has seen the same text before passes it on again)
        with pytest.warns(UserWarning) as on_dask:
            ot.pairwise(CLOUDS, method="sinkhorn_divergence", client=client, **options)
        caught = [str(w.message) for w in on_dask if "did not converge" in str(w.message)]
        assert caught == expected
        assert len(caught) == 1 and "warnings like this one" in caught[0]
