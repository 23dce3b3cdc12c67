"""Invalid values under jax.jit, jax.vmap and jax.grad, where Python cannot raise on them:
the outputs and gradients are NaN, never a plausible number; valid input is unchanged.

Eagerly the same inputs raise ValueError (tests/test_sinkhorn_validation.py and the tests of
each function); here the oracle for valid input is the eager result of the same function.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp

import otkit as ot

N = 5
RNG = np.random.default_rng(0)
_A = RNG.random(N) + 0.2
WEIGHTS = jnp.asarray(_A / _A.sum())
COST = jnp.asarray(RNG.random((N, N)))
POINTS_X = jnp.asarray(RNG.normal(size=(N, 2)))
POINTS_Y = jnp.asarray(RNG.normal(size=(N, 2)) + 1.0)
THETA = RNG.normal(size=(2, 4))
THETA = jnp.asarray(THETA / np.linalg.norm(THETA, axis=0))
UNIFORM = jnp.full(N, 1.0 / N)


def _set(x, index, value):
    return x.at[index].set(value)


# Each function returns (a scalar to differentiate, every output of the call).


def _sinkhorn(a, b, M, reg):
    plan, log = ot.sinkhorn(a, b, M, reg, log=True)
    scalar = log["cost"] + plan[0, 1] + 0.5 * log["f"][0] - 0.25 * log["g"][1]
    return scalar, (plan, log["f"], log["g"], log["log_u"], log["cost"], log["reg_value"])


def _sinkhorn2(a, b, M, reg):
    value = ot.sinkhorn2(a, b, M, reg)
    return value, (value,)


def _unbalanced(a, b, M, reg):
    plan, log = ot.sinkhorn_unbalanced(a, b, M, reg, 1.0, log=True)
    return log["cost"] + plan[0, 1], (plan, log["f"], log["g"], log["logu"], log["logv"])


def _unbalanced2(a, b, M, reg):
    value = ot.sinkhorn_unbalanced2(a, b, M, reg, 1.0)
    return value, (value,)


def _solve(a, b, M, reg):
    result = ot.solve(M, a, b, reg=reg)
    value = result.value
    return value, (value, result.plan, result.potentials[0], result.potentials[1])


def _sliced(X, Y, a, b):
    value, log = ot.sliced_wasserstein_distance(X, Y, a, b, projections=THETA, log=True)
    return value, (value, log["projected_emds"])


def _max_sliced(X, Y, a, b):
    value = ot.max_sliced_wasserstein_distance(X, Y, a, b, projections=THETA)
    return value, (value,)


def _wasserstein_1d(x, y, a, b):
    value = ot.wasserstein_1d(x, y, a, b, p=2)
    return value, (value, *ot.wasserstein_1d_potentials(x, y, a, b))


def _emd2_1d(x, y, a, b):
    value, log = ot.emd2_1d(x, y, a, b, log=True)
    return value, (value, log["G"], log["u"], log["v"])


# Point clouds (X, Y, a, b, parameter): the parameter (blur, reach or reg) is traced too.
# A tight stopThr makes the jitted and eager solves agree to rounding. Balanced potentials
# are compared through (f - f_0, g + f_0): the constant shared by (f + c, g - c) depends on
# the iterations. A marginal error is compared as err * 0: NaN when invalid (a zero error
# would claim convergence), else 0 (its value depends on where each run stopped).
CLOUD_OPTIONS = {"stopThr": 1e-13, "numItermax": 1000, "warn": False}
EMPIRICAL_OPTIONS = {"stopThr": 1e-13, "numIterMax": 1000, "warn": False, "log": True}


def _pair(f, g):
    return f - f[0], g + f[0]


def _divergence(X, Y, a, b, blur):
    value, log = ot.sinkhorn_divergence(X, Y, a, b, blur=blur, log=True, **CLOUD_OPTIONS)
    self_terms = (log[k] for k in ("f_aa", "g_bb", "ot_ab", "ot_aa", "ot_bb", "value_linear"))
    return value, (value, *_pair(log["f"], log["g"]), *self_terms, log["err"] * 0.0)


def _divergence_unbalanced(X, Y, a, b, reach):
    value, log = ot.sinkhorn_divergence(
        X, Y, a, b, blur=0.5, reach=reach, log=True, **CLOUD_OPTIONS
    )
    fields = ("f", "g", "f_aa", "g_bb", "ot_ab")  # unbalanced potentials are unique
    return value, (value, *(log[k] for k in fields), log["err"] * 0.0)


def _empirical_divergence(X, Y, a, b, reg):
    value, log = ot.empirical_sinkhorn_divergence(X, Y, reg, a, b, **EMPIRICAL_OPTIONS)
    losses = (log["sinkhorn_loss_ab"], log["sinkhorn_loss_a"], log["sinkhorn_loss_b"])
    scalings = _pair(log["log_sinkhorn_ab"]["log_u"], log["log_sinkhorn_ab"]["log_v"])
    return value, (value, *losses, *scalings, log["err"] * 0.0)


def _empirical2_lazy(X, Y, a, b, reg):
    value, log = ot.empirical_sinkhorn2(X, Y, reg, a, b, isLazy=True, **EMPIRICAL_OPTIONS)
    return value, (value, *_pair(log["f"], log["g"]), *_pair(log["u"], log["v"]), log["err"] * 0.0)


def _empirical_lazy(X, Y, a, b, reg):
    log_u, log_v, log = ot.empirical_sinkhorn(X, Y, reg, a, b, isLazy=True, **EMPIRICAL_OPTIONS)
    potentials = _pair(log["f"], log["g"])
    return log_u[0] + log_v[1], (*_pair(log_u, log_v), *potentials, log["err"][0] * 0.0)


TRANSPORT_ARGS = (WEIGHTS, UNIFORM, COST, jnp.asarray(0.1))
SLICED_ARGS = (POINTS_X, POINTS_Y, WEIGHTS, UNIFORM)
ONE_D_ARGS = (POINTS_X[:, 0], POINTS_Y[:, 0], WEIGHTS, UNIFORM)

# Invalid inputs of a problem (a, b, M, reg): the eager path raises on each.
TRANSPORT_INVALID = {
    "reg negative": lambda a, b, M, reg: (a, b, M, -reg),
    "reg zero": lambda a, b, M, reg: (a, b, M, 0.0 * reg),
    "reg NaN": lambda a, b, M, reg: (a, b, M, reg * jnp.nan),
    "a negative": lambda a, b, M, reg: (_set(a, 0, -0.1) + 0.1 / (N - 1), b, M, reg),
    "a NaN": lambda a, b, M, reg: (_set(a, 1, jnp.nan), b, M, reg),
    "b zero mass": lambda a, b, M, reg: (a, 0.0 * b, M, reg),
    "M NaN": lambda a, b, M, reg: (a, b, _set(M, (0, 1), jnp.nan), reg),
    "M inf": lambda a, b, M, reg: (a, b, _set(M, (2, 2), jnp.inf), reg),
}
MASS_INVALID = {"masses differ": lambda a, b, M, reg: (1.01 * a, b, M, reg)}
# Invalid inputs of (X, Y, a, b): points or weights.
MEASURE_INVALID = {
    "X NaN": lambda X, Y, a, b: (_set(X, 0, jnp.nan), Y, a, b),
    "Y inf": lambda X, Y, a, b: (X, _set(Y, 1, -jnp.inf), a, b),
    "a negative": lambda X, Y, a, b: (X, Y, _set(a, 0, -0.1) + 0.1 / (N - 1), b),
    "b NaN": lambda X, Y, a, b: (X, Y, a, _set(b, 2, jnp.nan)),
    "masses differ": lambda X, Y, a, b: (X, Y, 1.01 * a, b),
}
CLOUD_ARGS = (*SLICED_ARGS, jnp.asarray(0.5))


# Invalid inputs of (X, Y, a, b, parameter): those of the measures, and the parameter (blur,
# reach or reg: eagerly each must be finite and > 0).
def _with_parameter(change):
    return lambda X, Y, a, b, r: (*change(X, Y, a, b), r)


POINTS_INVALID = {name: _with_parameter(change) for name, change in MEASURE_INVALID.items()}
POINTS_INVALID["b zero mass"] = lambda X, Y, a, b, r: (X, Y, a, 0.0 * b, r)
PARAMETER_INVALID = {
    "parameter negative": lambda X, Y, a, b, r: (X, Y, a, b, -r),
    "parameter zero": lambda X, Y, a, b, r: (X, Y, a, b, 0.0 * r),
    "parameter NaN": lambda X, Y, a, b, r: (X, Y, a, b, r * jnp.nan),
    "parameter inf": lambda X, Y, a, b, r: (X, Y, a, b, r * jnp.inf),
}
CLOUD_INVALID = POINTS_INVALID | PARAMETER_INVALID
UNBALANCED_CLOUD_INVALID = {k: v for k, v in CLOUD_INVALID.items() if k != "masses differ"}

# name: (function, valid arguments, invalid variants); each is checked under
# jax.jit(jax.value_and_grad(..., has_aux=True)): one compiled program per function, shared
# by the cases, for the scalar, every output and the gradients.
FUNCTIONS = {
    "sinkhorn": (_sinkhorn, TRANSPORT_ARGS, TRANSPORT_INVALID | MASS_INVALID),
    "sinkhorn_unbalanced": (_unbalanced, TRANSPORT_ARGS, TRANSPORT_INVALID),
    "sliced_wasserstein_distance": (_sliced, SLICED_ARGS, MEASURE_INVALID),
    "max_sliced_wasserstein_distance": (_max_sliced, SLICED_ARGS, MEASURE_INVALID),
    "wasserstein_1d": (_wasserstein_1d, ONE_D_ARGS, MEASURE_INVALID),
    "emd2_1d": (_emd2_1d, ONE_D_ARGS, MEASURE_INVALID),
    "sinkhorn_divergence": (_divergence, CLOUD_ARGS, CLOUD_INVALID),
    "sinkhorn_divergence_unbalanced": (
        _divergence_unbalanced,
        CLOUD_ARGS,
        UNBALANCED_CLOUD_INVALID,
    ),
    "empirical_sinkhorn_divergence": (_empirical_divergence, CLOUD_ARGS, CLOUD_INVALID),
    "empirical_sinkhorn2_lazy": (_empirical2_lazy, CLOUD_ARGS, CLOUD_INVALID),
    "empirical_sinkhorn_lazy": (_empirical_lazy, CLOUD_ARGS, CLOUD_INVALID),
}
# The online log-scalings of empirical_sinkhorn(isLazy=True) carry no gradient (the solve
# is detached, for valid input too): only their values are checked.
NOT_DIFFERENTIABLE = {"empirical_sinkhorn_lazy"}
CASES = [(name, bad) for name, (_, _, invalid) in FUNCTIONS.items() for bad in invalid]
# The same entry points (sinkhorn2 shares sinkhorn's solve and solve calls it), checked
# under jax.jit(jax.vmap(...)) only, to keep the compilation time of this file small.
VMAP_ONLY = {
    "sinkhorn2": (_sinkhorn2, TRANSPORT_ARGS, TRANSPORT_INVALID | MASS_INVALID),
    "sinkhorn_unbalanced2": (_unbalanced2, TRANSPORT_ARGS, TRANSPORT_INVALID),
    "solve": (_solve, TRANSPORT_ARGS, TRANSPORT_INVALID | MASS_INVALID),
}

_COMPILED: dict = {}


def _compiled(kind, name):
    key = (kind, name)
    if key not in _COMPILED:
        fun = (FUNCTIONS | VMAP_ONLY)[name][0]
        if kind == "value_and_grad":
            grad = jax.value_and_grad(fun, argnums=(0, 1, 2, 3), has_aux=True)
            _COMPILED[key] = jax.jit(grad)
        else:
            _COMPILED[key] = jax.jit(jax.vmap(lambda *args: fun(*args)[0]))
    return _COMPILED[key]


def _all_nan(x):
    return bool(np.all(np.isnan(np.asarray(x))))


def _eager(fun, args):
    """The oracle for valid input: the same function run eagerly. On NumPy arrays for the
    point clouds, whose eager JAX path compiles loops of its own (seconds per function);
    NumPy runs the same solve up to rounding."""
    if len(args) == len(CLOUD_ARGS):
        args = tuple(np.asarray(x) for x in args)
    return fun(*args)


@pytest.mark.parametrize(("name", "bad"), CASES)
def test_invalid_outputs_and_gradients_are_nan(name, bad):
    _, args, invalid = FUNCTIONS[name]
    (value, outputs), grads = _compiled("value_and_grad", name)(*invalid[bad](*args))
    assert _all_nan(value)
    assert all(_all_nan(x) for x in outputs), [np.asarray(x) for x in outputs]
    if name not in NOT_DIFFERENTIABLE:
        assert all(_all_nan(g) for g in grads), [np.asarray(g) for g in grads]


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_valid_input_is_unchanged(name):
    fun, args, _ = FUNCTIONS[name]
    (value, outputs), grads = _compiled("value_and_grad", name)(*args)
    eager_value, eager_outputs = _eager(fun, args)
    assert float(value) == pytest.approx(float(eager_value), rel=1e-12, abs=1e-14)
    for got, want in zip(outputs, eager_outputs):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-14)
    # The gradients' values are checked by each function's own tests (which now run
    # through the validity flag); here: finite.
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("sinkhorn_unbalanced", MASS_INVALID["masses differ"](*TRANSPORT_ARGS)),
        ("sinkhorn_divergence_unbalanced", CLOUD_INVALID["masses differ"](*CLOUD_ARGS)),
    ],
)
def test_unbalanced_accepts_unequal_masses(name, args):
    """Unbalanced problems take weights of different masses: a number, as eagerly."""
    (value, _), grads = _compiled("value_and_grad", name)(*args)
    assert np.isfinite(float(value))
    assert float(value) == pytest.approx(float(_eager(FUNCTIONS[name][0], args)[0]), rel=1e-12)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("sinkhorn2", ("reg negative", "reg zero", "M NaN", "M inf", "a NaN", "masses differ")),
        ("sinkhorn_unbalanced2", ("a negative", "reg NaN", "b zero mass")),
        ("solve", ("reg zero", "a negative", "M NaN", "masses differ")),
        ("sliced_wasserstein_distance", ("X NaN", "masses differ")),
        ("wasserstein_1d", ("masses differ", "b NaN")),
        ("sinkhorn_divergence", ("parameter negative", "masses differ", "X NaN")),
    ],
)
def test_vmap_poisons_only_the_invalid_entries(name, bad):
    fun, args, invalid = (FUNCTIONS | VMAP_ONLY)[name]
    if args is TRANSPORT_ARGS:
        other = (args[0], args[1], args[2] + 0.5, args[3])  # another cost matrix
    else:
        other = (args[0] + 0.5, *args[1:])  # other source points
    entries = [args, *(invalid[case](*args) for case in bad), other]
    batch = tuple(jnp.stack([jnp.asarray(x) for x in column]) for column in zip(*entries))
    values = np.asarray(_compiled("vmap", name)(*batch))
    assert np.all(np.isnan(values[1:-1]))
    for k in (0, -1):
        expected = float(_eager(fun, entries[k])[0])
        assert values[k] == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_reg_checked_only_when_traced():
    """A Python reg is checked eagerly even when the arrays are traced."""
    a, b, M, _ = TRANSPORT_ARGS
    with pytest.raises(ValueError, match="reg"):
        jax.jit(lambda M: ot.sinkhorn2(a, b, M, -1.0))(M)


def test_host_callback_error_becomes_nan_and_warning():
    """emd2 runs on the host through jax.pure_callback: under jit its value checks run there;
    the user gets NaN and a warning with otkit's message naming the argument."""
    a, b, M, _ = TRANSPORT_ARGS
    run = jax.jit(lambda M: ot.emd2(a, b, M))
    bad = M.at[0, 0].set(jnp.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = run(bad)
        grad = jax.jit(jax.grad(lambda M: ot.emd2(a, b, M)))(bad)
    assert _all_nan(value) and _all_nan(grad)
    messages = [str(w.message) for w in caught]
    assert any("M contains 1 NaN or infinite value(s)" in m for m in messages), messages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.asarray(jax.vmap(lambda M: ot.emd2(a, b, M))(jnp.stack([M, bad, M])))
    assert np.isnan(values[1])
    np.testing.assert_allclose(values[[0, 2]], float(ot.emd2(a, b, M)), rtol=1e-12)
    # Eagerly the ValueError is raised as before.
    with pytest.raises(ValueError, match="M contains"):
        ot.emd2(a, b, bad)
