"""POT 0.9.7's return conventions in ``otkit.bregman``, with POT as the oracle.

Sinkhorn with one and several target histograms (return types, shapes, values, log keys,
warm starts in each method's convention), the POT keywords, the lazy plan of
``empirical_sinkhorn``, and POT's helpers ``geometricBar``, ``geometricMean``, ``projR``,
``projC``. Values agree to the solvers' tolerance: both stop at a marginal error of
``stopThr`` (1e-9 here, well above the float64 rounding of these small problems), so
costs and plans agree to about 1e-8 relative.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot

pot = pytest.importorskip("ot")

METHODS_2D = ["sinkhorn", "sinkhorn_log", "sinkhorn_stabilized"]  # POT's methods for a 2-D b
RTOL = 1e-7


def _problem(n=6, m=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(n) + 0.2
    B = rng.random((m, k)) + 0.2
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    return a / a.sum(), B / B.sum(axis=0), ot.dist(x, y) / 4


def _pot(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# --- signatures ---------------------------------------------------------------------------


# Listed in docs/migration.rst (and tests/test_pot_signatures.py's ALLOWED).
DELIBERATE_DEFAULTS = {("sinkhorn2", "warn")}


@pytest.mark.parametrize("name", sorted(n for n in ot.bregman.__all__ if hasattr(pot.bregman, n)))
def test_every_pot_parameter_is_accepted_in_place(name):
    # POT's parameters, in POT's order and with POT's defaults; otkit's own options come
    # after them, keyword-only (or behind **kwargs).
    ours = list(inspect.signature(getattr(ot.bregman, name)).parameters.values())
    theirs = list(inspect.signature(getattr(pot.bregman, name)).parameters.values())
    for position, p in enumerate(theirs):
        if p.kind is p.VAR_KEYWORD:
            assert ours[-1].kind is p.VAR_KEYWORD
            continue
        q = ours[position]
        assert (q.name, q.kind) == (p.name, p.kind), name
        if (name, p.name) not in DELIBERATE_DEFAULTS:
            assert q.default == p.default, (name, p.name)
    assert all(q.kind in (q.KEYWORD_ONLY, q.VAR_KEYWORD) for q in ours[len(theirs) :])


# --- sinkhorn, sinkhorn2: one and several histograms ---------------------------------------


@pytest.mark.parametrize("method", METHODS_2D)
@pytest.mark.parametrize("function", ["sinkhorn", "sinkhorn2"])
def test_several_histograms_give_pots_k_costs(xp, method, function):
    a, B, M = _problem()
    args = [to_xp(xp, v) for v in (a, B, M)]
    expected, expected_log = _pot(getattr(pot, function), a, B, M, 0.5, method=method, log=True)
    costs, log = getattr(ot, function)(*args, 0.5, method=method, log=True)
    assert_same_backend(costs, args[2])
    assert tuple(costs.shape) == expected.shape == (3,)
    np.testing.assert_allclose(to_np(costs), expected, rtol=RTOL)
    assert set(expected_log) <= set(log)
    for key, value in expected_log.items():
        if hasattr(value, "shape") and key not in ("alpha", "beta"):  # POT's are (n, 1) there
            assert tuple(log[key].shape) == value.shape, key
    np.testing.assert_allclose(
        to_np(getattr(ot, function)(*args, 0.5, method=method)), expected, rtol=RTOL
    )


def test_return_plans_gives_the_plans_of_the_k_costs(xp):
    a, B, M = _problem()
    args = [to_xp(xp, v) for v in (a, B, M)]
    plans = ot.sinkhorn(*args, 0.5, return_plans=True)
    assert_same_backend(plans, args[2])
    assert tuple(plans.shape) == (6, 5, 3)
    for k in range(3):
        np.testing.assert_allclose(
            to_np(plans)[:, :, k], pot.sinkhorn(a, B[:, k], M, 0.5), rtol=RTOL, atol=1e-12
        )
    # One histogram: return_plans changes nothing.
    np.testing.assert_array_equal(
        to_np(ot.sinkhorn(args[0], args[1][:, 0], args[2], 0.5, return_plans=True)),
        to_np(ot.sinkhorn(args[0], args[1][:, 0], args[2], 0.5)),
    )
    with pytest.raises(TypeError, match="return_plans must be a bool"):
        ot.sinkhorn(a, B, M, 0.5, return_plans="yes")


@pytest.mark.parametrize(
    "method", ["sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling"]
)
def test_one_histogram_log_has_pots_keys_and_shapes(method):
    a, B, M = _problem()
    b = B[:, 0]
    plan, log = ot.sinkhorn(a, b, M, 0.05, method=method, log=True)
    expected, expected_log = _pot(pot.sinkhorn, a, b, M, 0.05, method=method, log=True)
    np.testing.assert_allclose(plan, expected, rtol=1e-6, atol=1e-12)
    assert set(expected_log) <= set(log)
    for key, value in expected_log.items():
        if isinstance(value, np.ndarray):
            assert log[key].shape == value.shape, key
    if "alpha" in expected_log:
        # (alpha, beta) are fixed up to a constant c -> (alpha + c, beta - c): compare sums.
        ours = log["alpha"][:, None] + log["beta"][None, :]
        theirs = expected_log["alpha"][:, None] + expected_log["beta"][None, :]
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)


@pytest.mark.parametrize("method", ["sinkhorn_stabilized", "sinkhorn_epsilon_scaling"])
def test_warmstart_is_read_as_pots_alpha_beta_for_the_stabilized_methods(method):
    # POT's stabilized methods take (alpha, beta) = reg * (log u, log v) as warm start, and
    # return that pair as log["warmstart"]; otkit reads and writes the same.
    a, B, M = _problem()
    b = B[:, 0]
    _, pot_log = _pot(pot.sinkhorn, a, b, M, 0.05, method="sinkhorn_stabilized", log=True)
    plan, log = ot.sinkhorn(
        a, b, M, 0.05, method=method, log=True, warmstart=pot_log["warmstart"], epsilon0=0.05
    )
    assert log["n_iter"] <= 1
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-9)
    np.testing.assert_allclose(log["warmstart"][0], 0.05 * log["log_u"], rtol=1e-12)
    # And back: POT warm-started from otkit's log stops at its first error check.
    _, back = _pot(
        pot.sinkhorn, a, b, M, 0.05, method="sinkhorn_stabilized", warmstart=log["warmstart"],
        log=True, print_period=1,
    )  # fmt: skip
    assert back["n_iter"] <= 1


def test_warmstart_is_read_as_log_scalings_for_the_other_methods():
    a, B, M = _problem()
    b = B[:, 0]
    _, pot_log = _pot(pot.sinkhorn, a, b, M, 0.05, method="sinkhorn_log", log=True)
    for method in ("sinkhorn", "sinkhorn_log", "greenkhorn"):
        _, log = ot.sinkhorn(
            a, b, M, 0.05, method=method, log=True, warmstart=(pot_log["log_u"], pot_log["log_v"])
        )
        assert log["n_iter"] <= 1, method
        assert log["warmstart"][0] is log["log_u"]


def test_method_names_are_case_insensitive():
    a, B, M = _problem()
    np.testing.assert_array_equal(
        ot.sinkhorn2(a, B, M, 0.5, method="Sinkhorn_Log"),
        ot.sinkhorn2(a, B, M, 0.5, method="sinkhorn_log"),
    )


@pytest.mark.parametrize(
    ("function", "options"),
    [
        (ot.sinkhorn, {"method": "sinkhorn_stabilized", "tau": 1e2, "print_period": 5}),
        (ot.sinkhorn, {"method": "sinkhorn", "tau": 1e2, "print_period": 5}),
        (ot.sinkhorn2, {"method": "sinkhorn_epsilon_scaling", "epsilon0": 1.0, "tau": 1e3}),
        (ot.sinkhorn, {"method": "sinkhorn_epsilon_scaling", "numInnerItermax": 50}),
        (ot.bregman.sinkhorn_knopp, {"print_period": 5}),
        (ot.bregman.sinkhorn_log, {"tau": 10.0}),
    ],
)
def test_pots_pass_through_keywords_are_accepted(function, options):
    a, B, M = _problem()
    expected = _pot(pot.sinkhorn2, a, B[:, 0], M, 0.5)
    result = function(a, B[:, 0], M, 0.5, **options)
    value = result if np.ndim(result) == 0 else np.sum(result * M)
    np.testing.assert_allclose(value, expected, rtol=RTOL)
    with pytest.raises(TypeError, match="unexpected keyword"):
        function(a, B[:, 0], M, 0.5, taus=1.0)


def test_sinkhorn2_warns_by_default_unlike_pot_and_not_with_warn_false():
    # Deliberate difference (docs/migration.rst): an unconverged value is never silent.
    a, B, M = _problem()
    with pytest.warns(UserWarning, match="did not converge"):
        ot.sinkhorn2(a, B[:, 0], M, 0.01, numItermax=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ot.sinkhorn2(a, B[:, 0], M, 0.01, numItermax=2, warn=False)
    with pytest.warns(UserWarning, match="did not converge"):
        ot.sinkhorn(a, B[:, 0], M, 0.01, numItermax=2)


# --- empirical_sinkhorn*: the lazy plan and POT's keywords ---------------------------------

RNG = np.random.default_rng(3)
XS, XT = RNG.normal(size=(9, 2)), RNG.normal(size=(7, 2)) + 1.0


def test_lazy_plan_indexes_as_pots(xp):
    x, y = to_xp(xp, XS), to_xp(xp, XT)
    log_u, _, log = ot.empirical_sinkhorn(x, y, 0.5, isLazy=True, log=True, batchSize=4)
    _, _, pot_log = _pot(pot.bregman.empirical_sinkhorn, XS, XT, 0.5, isLazy=True, log=True)
    plan, expected = log["lazy_plan"], pot_log["lazy_plan"]
    assert plan.shape == expected.shape == (9, 7)
    dense = plan[:]
    assert_same_backend(dense, x)
    np.testing.assert_allclose(to_np(dense), expected[:], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(to_np(dense).sum(axis=0), np.full(7, 1 / 7), atol=1e-9)
    # (Few distinct block shapes: JAX compiles its operations once per shape.)
    for key in [(slice(2, 5), slice(1, 4)), 4, (1, 2)]:
        block = plan[key]
        assert tuple(block.shape) == expected[key].shape, key
        np.testing.assert_allclose(to_np(block), expected[key], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(to_np(plan[-9]), to_np(dense)[0:1], rtol=1e-12)
    np.testing.assert_allclose(to_np(plan.f), to_np(log_u), rtol=0)
    assert plan.metric == "sqeuclidean" and plan.reg == 0.5
    with pytest.raises(IndexError):
        plan[9]
    with pytest.raises(TypeError, match="slice"):
        plan[np.array([0, 1])]


def test_lazy_sinkhorn2_log_has_pots_keys():
    value, log = ot.empirical_sinkhorn2(XS, XT, 0.5, isLazy=True, log=True, batchSize=4)
    expected, pot_log = _pot(pot.bregman.empirical_sinkhorn2, XS, XT, 0.5, isLazy=True, log=True)
    np.testing.assert_allclose(value, expected, rtol=1e-7)
    assert set(pot_log) <= set(log)
    np.testing.assert_allclose(log["lazy_plan"][:], pot_log["lazy_plan"][:], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("is_lazy", [False, True])
def test_empirical_functions_accept_pots_keywords(is_lazy):
    options = {"method": "sinkhorn_log", "tau": 1e3, "print_period": 5}
    plan = ot.empirical_sinkhorn(XS, XT, 0.5, isLazy=is_lazy, **options)
    value = ot.empirical_sinkhorn2(XS, XT, 0.5, isLazy=is_lazy, **options)
    expected = _pot(pot.bregman.empirical_sinkhorn2, XS, XT, 0.5)
    np.testing.assert_allclose(value, expected, rtol=1e-7)
    if is_lazy:
        plan = np.exp(plan[0][:, None] + plan[1][None, :] - ot.dist(XS, XT) / 0.5)
    np.testing.assert_allclose(np.sum(plan * ot.dist(XS, XT)), expected, rtol=1e-7)
    divergence = ot.empirical_sinkhorn_divergence(
        XS, XT, 0.5, isLazy=is_lazy, batchSize=4, **options
    )
    np.testing.assert_allclose(
        divergence, _pot(pot.bregman.empirical_sinkhorn_divergence, XS, XT, 0.5), rtol=1e-6
    )
    for function in (ot.empirical_sinkhorn, ot.empirical_sinkhorn2):
        with pytest.raises(TypeError, match="unexpected keyword"):
            function(XS, XT, 0.5, isLazy=is_lazy, taus=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        ot.empirical_sinkhorn(XS, XT, 0.5, isLazy=is_lazy, method="fast")


@pytest.mark.parametrize("is_lazy", [False, True])
def test_divergence_log_has_pots_sub_logs(is_lazy):
    _, log = ot.empirical_sinkhorn_divergence(XS, XT, 0.5, log=True, isLazy=is_lazy)
    # (POT's keys only: a short POT run; its lazy self-problems take 10000 iterations.)
    _, pot_log = _pot(
        pot.bregman.empirical_sinkhorn_divergence, XS, XT, 0.5, log=True, isLazy=is_lazy,
        numIterMax=20,
    )  # fmt: skip
    assert set(pot_log) <= set(log)
    clouds = {"ab": (XS, XT), "a": (XS, XS), "b": (XT, XT)}
    for name, (x, y) in clouds.items():
        sub = log["log_sinkhorn_" + name]
        assert {"u", "v"} <= set(sub) and (("lazy_plan" in sub) == is_lazy)
        # u, v: scalings (dense) or log-scalings (lazy), as POT's; their plan has the
        # marginals of the problem.
        log_u, log_v = (sub["u"], sub["v"]) if is_lazy else (np.log(sub["u"]), np.log(sub["v"]))
        plan = np.exp(log_u[:, None] + log_v[None, :] - ot.dist(x, y) / 0.5)
        np.testing.assert_allclose(plan.sum(axis=0), ot.unif(len(y)), atol=1e-6)
        np.testing.assert_allclose(plan.sum(axis=1), ot.unif(len(x)), atol=1e-6)


# --- POT's helpers -------------------------------------------------------------------------


def test_geometric_means_and_projections_match_pot(xp):
    rng = np.random.default_rng(1)
    A = rng.random((6, 3)) + 0.1
    w = np.array([0.2, 0.5, 0.3])
    gamma = rng.random((6, 4))
    gamma[2] = 0.0  # an empty row stays empty (POT's floor on the sum)
    p, q = rng.random(6), rng.random(4)
    cases = [
        (ot.bregman.geometricBar(to_xp(xp, w), to_xp(xp, A)), pot.bregman.geometricBar(w, A)),
        (ot.bregman.geometricMean(to_xp(xp, A)), pot.bregman.geometricMean(A)),
        (ot.bregman.projR(to_xp(xp, gamma), to_xp(xp, p)), pot.bregman.projR(gamma, p)),
        (ot.bregman.projC(to_xp(xp, gamma.T), to_xp(xp, p)), pot.bregman.projC(gamma.T, p)),
    ]
    for ours, theirs in cases:
        assert_same_backend(ours, to_xp(xp, A))
        np.testing.assert_allclose(to_np(ours), theirs, rtol=1e-13)
    # The projections have the requested marginal (where the plan's row is not empty).
    rows = to_np(ot.bregman.projR(to_xp(xp, gamma), to_xp(xp, p))).sum(axis=1)
    np.testing.assert_allclose(rows[gamma.sum(1) > 0], p[gamma.sum(1) > 0], rtol=1e-13)
    np.testing.assert_allclose(to_np(ot.bregman.projC(gamma, q)).sum(axis=0), q, rtol=1e-13)


def test_helpers_check_shapes():
    with pytest.raises(ValueError, match="weights.shape"):
        ot.bregman.geometricBar(np.ones(2), np.ones((4, 3)))
    with pytest.raises(ValueError, match="p.shape"):
        ot.bregman.projR(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match="q.shape"):
        ot.bregman.projC(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="alldistribT must be a"):
        ot.bregman.geometricMean(np.ones(3))


@pytest.mark.parametrize(
    ("name", "args", "alternative"),
    [
        ("screenkhorn", ([0.5, 0.5], [0.5, 0.5], np.eye(2), 0.1), "otkit.sinkhorn"),
        ("unmix", (None,) * 8, "otkit.barycenter"),
        ("empirical_sinkhorn_nystroem", (XS, XT), "isLazy=True"),
        ("empirical_sinkhorn_nystroem2", (XS, XT), "empirical_sinkhorn2"),
    ],
)
def test_unimplemented_pot_names_name_the_alternative(name, args, alternative):
    with pytest.raises(NotImplementedError, match=alternative):
        getattr(ot.bregman, name)(*args)


def test_jit_sinkhorn_with_several_histograms_gives_the_costs():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a, B, M = _problem()
    costs = jax.jit(lambda b: ot.sinkhorn(jnp.asarray(a), b, jnp.asarray(M), 0.5))(jnp.asarray(B))
    np.testing.assert_allclose(np.asarray(costs), pot.sinkhorn2(a, B, M, 0.5), rtol=RTOL)
