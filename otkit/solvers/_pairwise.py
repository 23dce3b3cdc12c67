r"""``pairwise``: the matrix of OT values between every pair of two collections of measures.

The work is cut into blocks, one per row ``i`` of the result (its columns ``j``, or ``j > i``
for a symmetric call), whatever ``n_jobs``: a block is the unit of parallel work, of progress
and of resumption (``out=``), and since its content never depends on ``n_jobs`` or on where
it runs, the results do not either. Blocks run in the calling thread, on joblib workers
(threads where the solver releases the GIL: the batch network simplex of 'exact', BLAS;
processes for the per-pair paths of NumPy input, see ``_Solver.parallel_prefer``) or on the
workers of a Dask cluster (``_pairwise_dask``).
"""

from __future__ import annotations

import contextlib
import math
import sys

import numpy as np

from ..backend import (
    device_of,
    from_numpy,
    is_jax_namespace,
    is_numpy_namespace,
    numpy_namespace,
    result_float_dtype,
    to_numpy,
)
from ..bregman import sinkhorn2, sinkhorn_divergence
from ..bregman._divergence_pairs import EntropicPairs
from ..lp import wasserstein_1d
from ..sliced import sliced_wasserstein_distance
from ..sliced._sliced import random_projections
from ..utils import dist
from ._pairwise_dask import check_client, executor, one_inner_thread
from ._pairwise_exact import ExactSolver
from ._pairwise_inputs import (
    check_clouds,
    check_n_jobs,
    check_used,
    collection,
    cost_symmetries,
    divergence_clouds,
    histogram_inputs,
    host_copies,
    mirror_upper_triangle,
    namespace,
    output,
    pending_blocks,
)
from ._pairwise_warnings import WarningSummary

__all__ = ["pairwise"]

METHODS = ("exact", "sinkhorn", "sinkhorn_divergence", "sliced", "1d", "gaussian")
# Options of each method, passed to its otkit function (``support`` is pairwise's own).
_CLOUD_OPTIONS = {"support"}
_OPTIONS = {
    "exact": {"numItermax"},
    "sinkhorn": {"numItermax", "stopThr", "warn"},
    "sinkhorn_divergence": {
        "blur",
        "scaling",
        "numItermax",
        "stopThr",
        "batch_size",
        "diameter",
        "warn",
    },
    "sliced": {"n_projections", "seed"},
    "1d": set(),
    "gaussian": set(),
}


def pairwise(
    X,
    Y=None,
    *,
    method: str = "exact",
    M=None,
    metric: str = "sqeuclidean",
    p: float = 2,
    reg: float | None = None,
    n_jobs: int | None = None,
    client=None,
    verbose: bool = False,
    out=None,
    **options,
):
    r"""OT values between every pair of two collections of measures, as an (N, N') matrix.

    .. math::
        D_{ij} = \mathrm{OT}(\mu_i, \nu_j), \qquad 1 \le i \le N,\; 1 \le j \le N',

    where OT is the value of the otkit function of ``method``, in its own units:

    ============================ =================================================================
    ``'exact'``                  :math:`W_p^p = \min_\gamma \langle\gamma, C\rangle`, as
                                 :func:`otkit.emd2` (for clouds, on ``dist(x_i, y_j, metric)``)
    ``'sinkhorn'``               :math:`\langle P_\varepsilon, C\rangle`, as :func:`otkit.sinkhorn2`
    ``'sinkhorn_divergence'``    :math:`S_\varepsilon = \mathrm{OT}_\varepsilon(\mu, \nu) -
                                 \tfrac12 \mathrm{OT}_\varepsilon(\mu, \mu) - \tfrac12
                                 \mathrm{OT}_\varepsilon(\nu, \nu)`, as
                                 :func:`otkit.sinkhorn_divergence`
    ``'sliced'``                 :math:`SW_p` (the p-th root), as
                                 :func:`otkit.sliced_wasserstein_distance`
    ``'1d'``                     :math:`W_p^p` on the line, as :func:`otkit.wasserstein_1d`
    ``'gaussian'``               :math:`W_2^2` between the Gaussians with the measures' means
                                 and covariances (Bures-Wasserstein, closed form):
                                 :math:`\|m_\mu - m_\nu\|^2 + \operatorname{tr}(\Sigma_\mu +
                                 \Sigma_\nu - 2 (\Sigma_\mu^{1/2} \Sigma_\nu
                                 \Sigma_\mu^{1/2})^{1/2})`
    ============================ =================================================================

    Without ``Y`` the matrix is symmetric: only the upper triangle is computed and mirrored,
    and the diagonal is exactly 0, except for ``'sinkhorn'`` whose
    :math:`\langle P_\varepsilon(\mu, \mu), C\rangle` is positive and is computed. For
    histograms this holds when ``M`` is symmetric (with a zero diagonal and no negative
    entry for the zero diagonal), to 64 ulps of :math:`\max |M|` (the rounding of
    :func:`otkit.dist`; an entry moves by at most that times the mass): with another ``M``,
    :math:`\mathrm{OT}(\mu_i, \mu_j) \ne \mathrm{OT}(\mu_j, \mu_i)` and every entry
    is computed. Each measure's self term of the Sinkhorn divergence is computed once (not
    once per pair).

    Parameters
    ----------
    X : (N, n) array, or sequence of N point clouds
        Histograms on a shared support (rows: non-negative weights of equal mass), or point
        clouds of any sizes: each an (n_i, d) array (uniform weights; (n_i,) reads as d = 1)
        or a tuple ``(points, weights)``.
    Y : (N', n') array or sequence of N' point clouds, optional
        The second collection, of the same kind as ``X``; None (or ``X`` itself, the same
        object): ``X`` against itself, computed as a symmetric matrix (below).
    method : {'exact', 'sinkhorn', 'sinkhorn_divergence', 'sliced', '1d', 'gaussian'}
        The OT value, see above.
    M : (n, n') array, optional
        Ground cost between the supports of histograms (needed by 'exact' and 'sinkhorn'
        unless ``support`` is given; not used with point clouds).
    metric : str, default='sqeuclidean'
        Ground cost of point clouds, as :func:`otkit.dist` ('exact', 'sinkhorn'), or as
        :func:`otkit.sinkhorn_divergence` ('sinkhorn_divergence').
    p : float, default=2
        Exponent of 'sliced', '1d' and 'sinkhorn_divergence'; the Minkowski exponent of
        ``metric='minkowski'``. (The cosine cost of 'sinkhorn_divergence' has no exponent:
        with ``metric='cosine'`` the default 2 is not passed on.)
    reg : float, optional
        :math:`\varepsilon` of the entropic methods, in cost units (required by 'sinkhorn';
        'sinkhorn_divergence' takes ``reg`` or ``blur``).
    n_jobs : int, optional
        Number of joblib workers (1: no joblib, which is then not needed; -1: all cores;
        None: 1, unless inside ``joblib.parallel_config``, which then decides, as in
        scikit-learn): threads for 'exact', for 'sinkhorn' on histograms and for torch or
        JAX arrays on a device, whose blocks release the GIL; processes for the other
        methods on NumPy input and on the CPU's (joblib's loky), unless
        ``joblib.parallel_config(backend=...)`` chooses a backend (``"dask"``: the blocks
        run on that Dask client's cluster, as with ``client=``). With ``client='dask'``
        and no running client: the number of worker processes (None or -1: one per
        core). The results are the same, bit for bit, whatever ``n_jobs``.
    client : dask.distributed.Client or 'dask', optional
        Run the blocks on a Dask cluster (``pip install "otkit[dask]"``): this client's, or,
        with ``'dask'``, the current client's (the last ``Client`` created) or, when there
        is none, a ``LocalCluster`` started for this call on 127.0.0.1 (single-threaded
        worker processes, see ``n_jobs``, without Dask's ``MALLOC_TRIM_THRESHOLD_``: the
        user guide says why) and closed at the end. The solver, with the
        shared cost or support and the measures, is sent to every worker once; the
        blocks, grouped into tasks of about 8,000 pairs (at least 8 tasks per worker
        thread), come back as they complete. None (default): no Dask, unless
        ``joblib.parallel_config(backend="dask")`` is active (scikit-learn's convention).
    verbose : bool, default=False
        A progress bar over the pairs (tqdm, when installed; printed lines otherwise).
    out : (N, N') NumPy array, optional
        Written in place block by block and returned (e.g. a ``numpy.memmap``, to keep a long
        job on disk). Entries that are not NaN are taken as already computed and skipped, so
        an interrupted job resumes where it stopped: **initialise a new** ``out`` **to NaN**
        (``np.full((N, N2), np.nan)``, or a memmap filled with NaN).
    **options
        Options of the method's function: 'exact': ``numItermax``; 'sinkhorn':
        ``numItermax``, ``stopThr``, ``warn``; 'sinkhorn_divergence': ``blur``, ``scaling``,
        ``numItermax``, ``stopThr``, ``batch_size``, ``diameter``, ``warn``; 'sliced':
        ``n_projections`` (50), ``seed`` (the directions are drawn once, for all pairs, as
        :func:`otkit.sliced_wasserstein_distance` draws them from that seed). Histograms
        also take ``support``, the (n, d) points of the shared support (``Y`` then has the
        same support): it lets 'sinkhorn_divergence', 'sliced', '1d' and 'gaussian' run on
        histograms (as weighted clouds) and gives ``M = dist(support, support, metric)``.

    Returns
    -------
    D : (N, N') array
        In the library, dtype and device of the inputs (``out`` itself when given). Not
        differentiable: the values are computed without gradients on every library (use
        the method's function on a pair to differentiate).

    Raises
    ------
    ValueError
        An unknown method or option, bad shapes, ``reg`` missing for an entropic method,
        weights that are negative, not finite or of different masses (naming the measure),
        a bad ``out``, a ``client`` string other than ``'dask'``; ``M``, ``support``,
        ``metric`` or ``p`` where the method does not use them (``p=1`` with 'exact' and
        the squared Euclidean cost: W_1 is ``metric='euclidean'``).
    TypeError
        A scipy.sparse ``M``, a traced JAX array (under ``jax.jit``, ``vmap`` or ``grad``),
        a non-integer ``n_jobs``, an ``out`` that is not a NumPy array, a ``client`` that
        is not a Dask Client.
    ImportError
        ``client='dask'`` without ``dask.distributed`` installed (the ``otkit[dask]``
        extra); ``n_jobs`` other than 1 without joblib.
    RuntimeError
        ``client='dask'`` could not start its ``LocalCluster`` (for instance from a script
        that calls ``pairwise`` outside ``if __name__ == '__main__':``).

    Warns
    -----
    UserWarning
        Pairs that did not converge (``numItermax``, ``stopThr``) or whose plan could not
        be certified: one warning per kind for the whole call, counting them (see Notes).

    Notes
    -----
    Speed: the collections are validated once. torch and JAX arrays on the CPU are
    computed with NumPy, in their dtype, and the result returned in their library (the
    values carry no gradient, and per pair NumPy's paths cost less: JAX would compile
    every new pair of shapes again). 'exact' between histograms solves a whole
    block (a row of D) in one compiled call that holds no GIL: for each pair, otkit's
    network simplex on the nonzero bins of both histograms (the weights of the second
    rescaled to the mass of the first), then the optimality certificate of
    :func:`otkit.emd2` (primal feasibility, complementary slackness, dual feasibility on
    every arc, to the same tolerances) checked in C; a pair that is not certified is
    solved again by :func:`otkit.emd2` (its retries and warnings), so every value is a
    certified optimum. Pairs of at least 2e6 arcs between nonzero bins (and 100 a side),
    for which :func:`otkit.emd2` takes its shortlist method, are solved by it instead
    (on 64 x 64 images, 6 times faster than the dense simplex). Each pair is solved from
    scratch (no warm start from another pair), so its value does not depend on the block
    it is in, and ``n_jobs`` threads run blocks in parallel. 'exact' between point clouds
    with ``metric`` 'sqeuclidean' or 'euclidean' goes through the same compiled solver,
    which computes each pair's cost from the points (as :func:`otkit.dist` on small
    clouds, in float64), except those large pairs and other metrics, solved pair by pair
    in Python, as every other method on clouds is;
    'sinkhorn_divergence' between float64 NumPy clouds
    checks each cloud once (with the masses) and solves each pair without the checks of
    :func:`otkit.sinkhorn_divergence`, with its values bit for bit. 'sinkhorn' on
    histograms solves a whole row in one batched :func:`otkit.sinkhorn2` call (a 2-D
    ``b``; the row stops when all its problems have converged; on NumPy by matrix products
    on one kernel when the cost range is at most 100 reg). While the blocks run,
    BLAS/OpenMP pools are limited to one thread (threadpoolctl, when installed; also in each
    Dask worker process), which keeps the results identical whatever ``n_jobs`` or
    ``client``.

    Dask: the same call runs on a laptop and on a cluster. A worker computes whole blocks
    with the same code as the serial run, so the result is the serial one bit for bit
    (given the same library versions on the workers). Blocks are written to ``out`` as
    their task completes, on the machine that called ``pairwise``; an interrupted call
    cancels the tasks not yet done, and a new call with the same ``out`` resumes.

    Warnings: those of the pairs (a pair that did not converge, a plan that is not
    certified) are collected where the blocks run (in this thread, joblib's threads or
    processes, the Dask workers) and given at the end of the call as one warning per kind
    (category and text, numbers aside), at the caller's line: the first of them in row
    order, with how many there were and in which rows (``[otkit.pairwise: 763 warnings
    like this one, in rows 0, 1, 2, 3, 4 and 34 more; this one in row 0]``). The caller's
    filters decide then: ``"error"`` raises it after every block is stored. Other warnings
    raised in worker processes are given the same way. Worker
    processes of a ``LocalCluster`` start by importing the main script again (Python's
    "spawn"): a script must call ``pairwise(..., client='dask')`` under
    ``if __name__ == '__main__':``.

    References
    ----------
    .. [1] M. Cuturi. Sinkhorn distances: lightspeed computation of optimal transport.
       NeurIPS 2013 (matrices of entropic OT distances between histograms).
    .. [2] M. Kusner, Y. Sun, N. Kolkin, K. Weinberger. From word embeddings to document
       distances. ICML 2015 (Word Mover's Distance: exact OT between histograms).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> H = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    >>> M = ot.dist(np.array([[0.0], [1.0], [2.0]]))
    >>> ot.pairwise(H, M=M)
    array([[0., 1., 2.],
           [1., 0., 1.],
           [2., 1., 0.]])
    >>> clouds = [np.zeros((3, 2)), np.ones((5, 2))]
    >>> ot.pairwise(clouds, method="gaussian")
    array([[0., 2.],
           [2., 0.]])

    The same call on the workers of a Dask cluster (``pip install "otkit[dask]"``):

    >>> from dask.distributed import Client  # doctest: +SKIP
    >>> client = Client("tcp://scheduler-address:8786")  # doctest: +SKIP
    >>> D = ot.pairwise(H, M=M, client=client)  # doctest: +SKIP
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    unknown = sorted(set(options) - _OPTIONS[method] - _CLOUD_OPTIONS)
    if unknown:
        raise ValueError(f"unknown option(s) for method={method!r}: {', '.join(unknown)}")
    n_jobs = check_n_jobs(n_jobs)
    client = check_client(client)
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
    if method == "sinkhorn" and reg is None:
        raise ValueError("reg is required by method='sinkhorn'")
    if method == "sinkhorn_divergence" and reg is None and options.get("blur") is None:
        raise ValueError("method='sinkhorn_divergence' needs reg or blur")
    if method not in ("sinkhorn", "sinkhorn_divergence") and reg is not None:
        raise ValueError(f"reg is only for the entropic methods, not method={method!r}")
    symmetric = Y is None or Y is X  # (the same object twice: as scikit-learn's X is Y)
    support = options.pop("support", None)
    first = collection(X, "X")
    second = first if symmetric else collection(Y, "Y")
    if first.kind != second.kind:
        raise ValueError("X and Y must both be histograms (2-D arrays) or both point clouds")
    check_used(method, first.kind, M, support, metric, p)
    xp, dtype, device = namespace(first, second, M, support)
    run_xp = xp  # the library that computes: NumPy for arrays on the CPU
    if not is_numpy_namespace(xp):
        copies = host_copies(first, second, M, support)
        if copies is not None:
            first, second, M, support = copies
            run_xp = numpy_namespace()
    if first.kind == "histograms":
        M, first, second = histogram_inputs(first, second, M, support, method, metric, p, run_xp)
    elif support is not None:
        raise ValueError("support is only for histograms; point clouds carry their points")
    else:
        check_clouds(first, second, method)
    n_rows, n_cols = first.size, second.size
    buffer = output(out, (n_rows, n_cols))
    zero_self_cost = symmetric
    if symmetric and M is not None:  # histograms: their cost decides
        symmetric, zero_self_cost = cost_symmetries(M)
    zero_diagonal = zero_self_cost and method != "sinkhorn"
    if zero_diagonal:
        diagonal = np.arange(n_rows)
        empty = diagonal[np.isnan(buffer[diagonal, diagonal])]
        buffer[empty, empty] = 0.0
    blocks = pending_blocks(buffer, symmetric, zero_diagonal)
    if blocks:
        if method == "exact":
            solver = ExactSolver(first, second, M, metric, p, options)
        else:
            solver = _Solver(method, first, second, M, metric, p, reg, options, run_xp)
        total = sum(need.size for _, _, need in blocks)
        summary = WarningSummary()
        try:
            with (
                _progress(verbose, total) as bar,
                one_inner_thread(),
                executor(solver, n_jobs, client) as run,
            ):
                # (self terms of the Sinkhorn divergence first, then the blocks; a block
                # that arrives before its self terms waits for them)
                waiting = []
                jobs = [*solver.preliminary(blocks), ("__call__", blocks)]
                for name, (result, caught) in run(jobs):
                    if name != "__call__":
                        solver.add(name, result)
                        summary.add_self_term(caught, *result[:2])
                    else:
                        waiting.append(result)
                        summary.add_row(caught, result[0])
                    still = []
                    for i, need, values in waiting:
                        if solver.ready(i, need):
                            _store(buffer, symmetric, i, need, solver.finish(i, need, values))
                            bar(need.size)
                        else:
                            still.append((i, need, values))
                    waiting = still
        finally:  # what was computed stays in out, also after an error or an interruption
            if hasattr(buffer, "flush"):
                buffer.flush()
        summary.emit(stacklevel=2)
    if symmetric:
        mirror_upper_triangle(buffer)
    if out is not None:
        return out
    return from_numpy(buffer, xp, dtype=dtype, device=device)


def _store(buffer, symmetric, i, need, values):
    buffer[i, need] = values
    if symmetric:  # the mirror entries not yet filled (a resumed job may have some)
        lower = np.isnan(buffer[need, i])
        buffer[need[lower], i] = values[lower]


# --- solvers: each maps a block (i, cols, need) to (i, need, values as float64) --------------


def _weights_or_uniform(w):
    return [] if w is None else w


class _Solver:
    def __init__(self, method, first, second, M, metric, p, reg, options, xp):
        self.method, self.first, self.second = method, first, second
        if method == "sinkhorn_divergence" and metric == "cosine" and p == 2:
            p = None  # (the default: the cosine cost has no exponent)
        self.M, self.metric, self.p, self.reg, self.options = M, metric, p, reg, options
        self.xp = xp
        self.histograms = first.kind == "histograms"
        if method == "sliced":
            self._projections(options)
        if method == "gaussian":
            self.moments = [self._gaussians(first)]
            self.moments.append(self.moments[0] if second is first else self._gaussians(second))
        if method == "sinkhorn_divergence":  # (the options checked once; float64 NumPy
            # clouds prepared once, the others through sinkhorn_divergence pair by pair)
            self.pairs = EntropicPairs(reg=reg, p=p, metric=metric, **options)
            self.clouds = divergence_clouds(first, second)
        self.self_first = self.self_second = None

    @property
    def parallel_prefer(self):
        """The joblib workers for ``n_jobs``: processes for the per-pair paths of NumPy
        input, which hold the GIL in many small array operations (on threads,
        'sinkhorn_divergence' between 100 clouds ran 0.88 times as fast with
        ``n_jobs=2`` as with 1; with its checks made once per cloud, 60 clouds: 1.40x on
        threads, 1.81x on processes, and the threads spent 19% more CPU than the serial
        run); threads for Sinkhorn on histograms (batched products that release it) and
        for the arrays of other libraries on a device (kept in their process; on the CPU
        they are NumPy's here)."""
        if (self.method == "sinkhorn" and self.histograms) or not is_numpy_namespace(self.xp):
            return "threads"
        return "processes"

    def __call__(self, block):
        i, cols, need = block
        if self.method == "sinkhorn" and self.histograms:
            # One batched solve for the whole row (not only the NaN entries): the row stops
            # when all its problems converged, so its content must not depend on what is left.
            # (On NumPy sinkhorn2 runs the row's problems on one kernel by matrix products.)
            W1, W2, xp, width = self.first.weights, self.second.weights, self.xp, cols.size
            if is_jax_namespace(xp):
                # (arrays on a device: those on the CPU are NumPy's here) one compilation per
                # power of two, not one per row width; the copies of the last column count
                # in the row's stopping test
                padded = np.full(1 << (width - 1).bit_length(), cols[-1])
                padded[:width] = cols
                cols = padded
            index = from_numpy(cols, xp, device=device_of(W2))
            b = xp.permute_dims(xp.take(W2, index, axis=0), (1, 0))
            values = to_numpy(sinkhorn2(W1[i, :], b, self.M, self.reg, **self.options))
            values = np.reshape(values, (-1,))[:width]
            return i, need, values[np.searchsorted(cols[:width], need)]
        if self.method == "gaussian":
            return i, need, self._gaussian_row(i, need)
        return i, need, np.array([self.pair(i, j) for j in need], dtype=np.float64)

    def pair(self, i, j):
        method, first, second, options = self.method, self.first, self.second, self.options
        if method == "sinkhorn" and self.histograms:
            a, b = first.weights[i, :], second.weights[j, :]
            return float(sinkhorn2(a, b, self.M, self.reg, **options))
        if method == "sinkhorn_divergence":  # OT_eps only: ``finish`` adds the self terms
            return self._entropic(i, j, 0, 1)
        x, a = first.points[i], first.weights[i]
        y, b = second.points[j], second.weights[j]
        if method == "sinkhorn":
            C = dist(x, y, metric=self.metric, p=self.p)
            a, b = _weights_or_uniform(a), _weights_or_uniform(b)
            return float(sinkhorn2(a, b, C, self.reg, **options))
        if method == "sliced":
            return float(sliced_wasserstein_distance(x, y, a, b, p=self.p, projections=self.theta))
        return float(wasserstein_1d(x[:, 0], y[:, 0], a, b, p=self.p))  # '1d'

    # sinkhorn_divergence: the workers compute OT_eps of the pairs and of the self terms; the
    # caller combines them as S_eps (balanced: the mass term eps/2 (m_a - m_b)^2 of
    # sinkhorn_divergence is 0), so the solver sent to the workers never changes.
    def _entropic(self, i, j, side_i, side_j):
        if self.clouds is not None:
            return self.pairs.value(self.clouds[side_i][i], self.clouds[side_j][j])
        first, second = (self.first, self.second)[side_i], (self.first, self.second)[side_j]
        x, y, a, b = first.points[i], second.points[j], first.weights[i], second.weights[j]
        options = {"reg": self.reg, "p": self.p, "metric": self.metric, **self.options}
        return float(sinkhorn_divergence(x, y, a, b, debias=False, **options))

    def task_costs(self, tasks):
        """Relative costs of blocks (i, cols, need) and self terms (in_first, k) for the
        parallel routes' chunks: Sinkhorn on clouds, the sizes' products; else pairs."""
        pairs = [task[2].size if len(task) == 3 else 1 for task in tasks]
        if self.histograms or self.method not in ("sinkhorn", "sinkhorn_divergence"):
            return pairs
        n = [np.array([len(x) for x in m.points], float) for m in (self.first, self.second)]
        return [n[0][t[0]] * np.sum(n[1][t[2]]) if len(t) == 3 else n[1 - t[0]][t[1]] ** 2
                for t in tasks]  # fmt: skip

    def preliminary(self, blocks):
        """[("self_term", tasks)]: OT_eps(mu, mu) of every measure that the pending blocks
        need, once each (none for the other methods)."""
        self.self_first, self.self_second = {}, {}
        if self.method != "sinkhorn_divergence":
            return []
        rows = {i for i, _, _ in blocks}
        cols = {int(j) for _, _, need in blocks for j in need}
        same = self.second is self.first
        if same:
            self.self_second = self.self_first
        tasks = [(True, k) for k in sorted(rows | cols if same else rows)]
        tasks += [] if same else [(False, k) for k in sorted(cols)]
        return [("self_term", tasks)]

    def add(self, name, result):
        in_first, k, value = result
        (self.self_first if in_first else self.self_second)[k] = value

    def ready(self, i, need):
        if self.method != "sinkhorn_divergence":
            return True
        return i in self.self_first and all(int(j) in self.self_second for j in need)

    def self_term(self, task):
        in_first, k = task
        side = 0 if in_first else 1
        return in_first, k, self._entropic(k, k, side, side)

    def finish(self, i, need, values):
        """S_eps = OT_eps(mu_i, nu_j) - (OT_eps(mu_i, mu_i) + OT_eps(nu_j, nu_j)) / 2."""
        if self.method != "sinkhorn_divergence":
            return values
        second = np.array([self.self_second[int(j)] for j in need])
        return values - 0.5 * (self.self_first[i] + second)

    def _projections(self, options):
        from .._validation import check_integer
        from ..sliced._sliced import _check_seed

        x = self.first.points[0]
        n_projections = check_integer(
            options.get("n_projections", 50), "n_projections", minimum=1, allow_traced=False
        )
        seed = _check_seed(options.get("seed"))
        dtype = result_float_dtype(self.xp, x)
        self.theta = random_projections(
            x.shape[1], n_projections, seed, self.xp, dtype, device_of(x)
        )
        self.options = {}

    @staticmethod
    def _gaussians(measures):
        """Host (means, factors R, traces |R|_F^2) of a collection: Sigma = R^T R, R (d, d)
        from the QR of the weighted centred points diag(sqrt(w)) (x - m) (zero rows below n)."""
        means, factors = [], []
        for x, w in zip(*measures.host()):
            w = w / w.sum()
            mean = w @ x
            factor = np.zeros((x.shape[1], x.shape[1]))
            r = np.linalg.qr(np.sqrt(w)[:, None] * (x - mean), mode="r")
            factor[: r.shape[0]] = r
            means.append(mean)
            factors.append(factor)
        factors = np.array(factors)
        return np.array(means), factors, np.sum(factors**2, axis=(1, 2))

    def _gaussian_row(self, i, need):
        """||m_a - m_b||^2 + tr(Sigma_a + Sigma_b) - 2 tr((Sigma_a^1/2 Sigma_b Sigma_a^1/2)^1/2),
        the last trace the nuclear norm of R_b R_a^T (its singular values are the square
        roots of the eigenvalues of R_a Sigma_b R_a^T, those of Sigma_a^1/2 Sigma_b
        Sigma_a^1/2): no square root of a rounded zero eigenvalue (~eps |Sigma|, which
        cost ~sqrt(eps) on rank-deficient covariances)."""
        means_a, factors_a, traces_a = self.moments[0]
        means_b, factors_b, traces_b = self.moments[1]
        product = factors_b[need] @ factors_a[i].T  # (k, d, d)
        cross = np.linalg.svd(product, compute_uv=False).sum(axis=1)
        traces = traces_a[i] + traces_b[need]
        mean_gap = np.sum((means_a[i] - means_b[need]) ** 2, axis=1)
        return np.maximum(mean_gap + traces - 2.0 * cross, 0.0)


# --- execution ------------------------------------------------------------------------------


@contextlib.contextmanager
def _progress(verbose, total):
    """A callable ``update(n_pairs_done)``: a tqdm bar, printed lines without tqdm, or
    nothing when ``verbose`` is False."""
    if not verbose:
        yield lambda n: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        with tqdm(total=total, desc="otkit.pairwise", unit="pair") as bar:
            yield bar.update
        return
    done, step = [0, 0], max(1, math.ceil(total / 10))

    def update(n):
        done[0] += n
        if done[0] - done[1] >= step or done[0] == total:
            done[1] = done[0]
            print(f"otkit.pairwise: {done[0]}/{total} pairs", file=sys.stdout, flush=True)

    yield update
