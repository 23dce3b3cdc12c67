"""Where the blocks of :func:`otkit.pairwise` run: in the calling thread, on joblib workers,
or on the workers of a Dask cluster.

An executor is a context manager giving ``run(jobs)``: for jobs ``[(name, tasks), ...]``
an iterator over ``(name, (getattr(solver, name)(task), caught))`` for every task of every
job, ``caught`` the task's warnings (_pairwise_warnings), in any order (serially and on
joblib: job after job, each in order). On Dask the solver (with the shared cost or support
and every measure) is scattered to all the workers once (``broadcast=True``), consecutive
tasks are grouped into Dask tasks of about equal cost (the solver's ``task_costs``, else
numbers of pairs; the same chunks for joblib's processes), all the jobs are submitted at
once (the earlier ones first in priority), and the results come back as the tasks
complete. A block's values never depend on
where or with which others it runs, so every route gives the same numbers, bit for bit
(BLAS and OpenMP pools are held to one thread in each worker process, as in the caller).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import threading
import uuid
import warnings

import numpy as np

from ._pairwise_warnings import call_recording, calls_recording

__all__ = ["check_client", "executor", "local_worker_environ", "one_inner_thread"]

_INSTALL = 'pip install "otkit[dask]"'
# Pairs per Dask task when there are many: long enough that the scheduler's few
# milliseconds per task are negligible, short enough for frequent writes to ``out``.  At
# 2048, 'exact' on 500 digits (~22 us a pair: 45 ms tasks) took 1.18 times joblib's time on
# a LocalCluster of 2 workers, 1.12 at 8192 (0.18 s tasks; medians of 3 interleaved runs).
_PAIRS_PER_TASK = 8192
_TASKS_PER_THREAD = 8  # at least: load balance (the last chunks finish unevenly)


def check_client(client):
    """``None``, ``'dask'`` or a ``distributed.Client``; anything else is an error."""
    if client is None:
        return None
    if isinstance(client, str):
        if client != "dask":
            raise ValueError(
                f"client must be a dask.distributed.Client, 'dask' or None, got {client!r}"
            )
        return client
    distributed = sys.modules.get("distributed")  # a Client exists only if it was imported
    if distributed is None or not isinstance(client, distributed.Client):
        raise TypeError(
            f"client must be a dask.distributed.Client, 'dask' or None, got {type(client).__name__}"
        )
    return client


def _import_distributed(why):
    try:
        import distributed
    except ImportError:
        raise ImportError(
            f"{why} runs on Dask, but dask.distributed is not installed: {_INSTALL}"
        ) from None
    return distributed


@contextlib.contextmanager
def executor(solver, n_jobs, client):
    """The ``run(jobs)`` of the route chosen by ``client`` and ``n_jobs``: ``client``
    (a Client, or 'dask': the current one or a LocalCluster for this call); otherwise joblib
    with ``n_jobs`` workers (None: joblib's ``parallel_config``, else 1), on Dask when
    ``parallel_config(backend="dask")`` is active, serial for one worker."""
    if client is None:
        n_jobs = _joblib_n_jobs() if n_jobs is None else n_jobs
        if n_jobs == 1:
            yield lambda jobs: _in_order(solver, jobs, _serial_map)
            return
        client = _joblib_dask_client()
        if client is None:
            prefer = getattr(solver, "parallel_prefer", "threads")
            cost = getattr(solver, "task_costs", None)
            yield lambda jobs: _in_order(
                solver, jobs, lambda f, t: _joblib_map(f, t, n_jobs, prefer, cost)
            )
            return
    with _dask_client(client, n_jobs) as dask_client:
        runner = _DaskRunner(dask_client, solver)
        try:
            yield runner.map
        finally:
            runner.close()


# --- joblib ------------------------------------------------------------------------------------


def _serial_map(function, tasks):
    return (call_recording(function, task) for task in tasks)


def _in_order(solver, jobs, mapper):
    for name, tasks in jobs:
        for result in mapper(getattr(solver, name), tasks):
            yield name, result


def _joblib_n_jobs():
    """``n_jobs=None``: 1, unless inside ``joblib.parallel_config`` (scikit-learn's
    convention: its ``n_jobs``, or its backend's default, -1 for Dask)."""
    if "joblib" not in sys.modules:  # no parallel_config can be active
        return 1
    import joblib

    n_jobs = joblib.Parallel(n_jobs=None).n_jobs
    return 1 if n_jobs is None else n_jobs


def _joblib_dask_client():
    """The Client of joblib's Dask backend when ``parallel_config(backend="dask")`` is
    active, else None."""
    if "joblib" not in sys.modules or "distributed" not in sys.modules:
        return None
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return backend.client


def _joblib_map(function, tasks, n_jobs, prefer="threads", cost=None):
    """``function`` over ``tasks`` in order on ``n_jobs`` joblib workers of the kind
    ``prefer`` ('threads' or 'processes', joblib's hint) unless ``joblib.parallel_config``
    names a backend (the solvers are picklable)."""
    try:
        import joblib
    except ImportError:
        raise ImportError("n_jobs other than 1 needs joblib: pip install joblib") from None
    parallel = joblib.Parallel(n_jobs=n_jobs, prefer=prefer, return_as="generator")
    if prefer != "processes":
        chunks = ([task] for task in tasks)
    else:
        # Each call sent to a process carries its function, the bound method of a solver
        # that holds every measure: chunks of tasks send it once per chunk, as the Dask
        # route does (one call per task cost the parent ~1 s of pickling on 100 clouds, on
        # a core the workers needed).
        chunks = _chunks(list(tasks), joblib.effective_n_jobs(n_jobs), cost)
    # (threads too: parallel_config(backend="loky") may send them to processes)
    caller = os.getpid()
    calls = (joblib.delayed(calls_recording)(function, chunk, caller) for chunk in chunks)
    for results in parallel(calls):
        yield from results


# --- Dask --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _dask_client(client, n_jobs):
    if not isinstance(client, str):
        yield client
        return
    distributed = _import_distributed("pairwise(client='dask')")
    try:
        current = distributed.get_client()
    except ValueError:  # no client: a cluster on this machine, for this call
        current = None
    if current is not None:
        yield current
        return
    cores = os.cpu_count() or 1
    n_workers = cores if n_jobs is None else n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    try:
        with warnings.catch_warnings(), local_worker_environ():
            # the scheduler's health/metrics HTTP server, on 127.0.0.1: any free port does
            warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
            cluster = distributed.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
    except RuntimeError as error:
        raise RuntimeError(
            "pairwise(client='dask') could not start a Dask LocalCluster. Its worker "
            "processes start by importing the main script again: in a script, call pairwise "
            "under `if __name__ == '__main__':`, or pass a running Client as client="
        ) from error
    with cluster, distributed.Client(cluster, set_as_default=False) as local:
        yield local


def _chunks(tasks, n_threads, cost=None):
    """Consecutive tasks grouped into ``min(len(tasks), max(pairs / 8192, 8 n_threads))``
    chunks of about equal cost: ``cost(tasks)`` (the solver's ``task_costs``: on point
    clouds, the sizes' products), else the numbers of pairs (a self term 1)."""
    pairs = np.array([task[2].size if len(task) == 3 else 1 for task in tasks], dtype=float)
    weights = pairs if cost is None else np.asarray(cost(tasks), dtype=float)
    total, n = float(weights.sum()), len(tasks)
    n_chunks = min(
        n, max(math.ceil(float(pairs.sum()) / _PAIRS_PER_TASK), _TASKS_PER_THREAD * n_threads)
    )
    ideal = np.searchsorted(np.cumsum(weights), total * np.arange(1, n_chunks) / n_chunks) + 1
    bounds = [0]
    for k, end in enumerate(ideal.tolist()):  # increasing, one task at least per chunk
        bounds.append(min(max(end, bounds[-1] + 1), n - (n_chunks - 1 - k)))
    bounds.append(n)
    return [tasks[start:stop] for start, stop in itertools.pairwise(bounds)]


@contextlib.contextmanager
def local_worker_environ():
    """While a cluster is started for one call: its worker processes spawned without
    ``MALLOC_TRIM_THRESHOLD_``, which Dask's nannies set to 65536 (its
    ``distributed.nanny.pre-spawn-environ``, written into this process's environment by
    every cluster started here before, and inherited from it), so that long-lived workers
    give freed memory back to the system. With it, glibc maps and unmaps every large
    temporary array: the Sinkhorn divergences of 100 clouds took 10.4-11.2 s on a
    two-worker cluster instead of 8.0-8.5 s (joblib's two processes: 7.1 s). Workers that
    live for one call gain nothing from the trimming. This process's environment is
    restored on exit."""
    import dask

    name, key = "MALLOC_TRIM_THRESHOLD_", "distributed.nanny.pre-spawn-environ"
    environ = dict(dask.config.get(key, default={}) or {})
    environ[name] = None  # (None: not set by the nannies)
    saved = os.environ.pop(name, None)
    try:
        with dask.config.set({key: environ}):
            yield
    finally:
        if saved is not None:
            os.environ[name] = saved


class _DaskRunner:
    """Maps over one scattered copy of the solver; ``close`` cancels what is still running
    (after an error or an interruption) and releases the copy."""

    def __init__(self, client, solver):
        self.client, self.solver, self.scattered = client, solver, None
        self.token, self.submitted = uuid.uuid4().hex[:12], []

    def map(self, jobs):
        import distributed

        client = self.client
        if self.scattered is None:  # once: every task refers to it
            self.scattered = client.scatter(self.solver, broadcast=True, hash=False)
        n_threads = max(1, sum(client.nthreads().values()))
        names, futures = {}, []
        for index, (name, tasks) in enumerate(jobs):
            chunks = _chunks(list(tasks), n_threads, getattr(self.solver, "task_costs", None))
            label = f"otkit-pairwise-{name.strip('_')}-{self.token}"
            keys = [f"{label}-{k}" for k in range(len(chunks))]
            futures += client.map(
                _run_chunk,
                chunks,
                key=keys,
                pure=False,
                priority=len(jobs) - index,
                solver=self.scattered,
                method=name,
                caller=os.getpid(),
            )
            names.update(dict.fromkeys(keys, name))
        self.submitted.extend(futures)
        for future in distributed.as_completed(futures, loop=client.loop):
            for result in future.result():
                yield names[future.key], result

    def close(self):
        futures, self.submitted = self.submitted, []
        if self.scattered is not None:
            futures.append(self.scattered)
            self.scattered = None
        if futures:
            self.client.cancel(futures)


def _run_chunk(chunk, solver, method, caller=None):
    """A Dask task: the solver's ``method`` on each task of the chunk, and its warnings."""
    function = getattr(solver, method)
    with one_inner_thread():
        return calls_recording(function, chunk, caller)


# --- one BLAS/OpenMP thread ----------------------------------------------------------------------

_limit_lock = threading.Lock()
_limit_state = {"depth": 0, "limiter": None}


@contextlib.contextmanager
def one_inner_thread():
    """One BLAS/OpenMP thread in this process while the blocks run (threadpoolctl, when
    installed): the parallelism is over blocks, and the same inner thread count whatever
    the route keeps the results identical. The limit is process-wide, so concurrent users
    (thread workers) share it: the first sets it, the last restores the original."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with _limit_lock:
        if _limit_state["depth"] == 0:
            _limit_state["limiter"] = threadpool_limits(limits=1)
        _limit_state["depth"] += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_state["depth"] -= 1
            if _limit_state["depth"] == 0:
                _limit_state["limiter"].restore_original_limits()
                _limit_state["limiter"] = None
