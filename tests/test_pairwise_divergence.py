"""``pairwise(method='sinkhorn_divergence')``: the clouds checked and prepared once, each pair
solved without the checks of ``sinkhorn_divergence``, with its values bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit.bregman._divergence_pairs import EntropicPairs, cloud

RNG = np.random.default_rng(27)


def _cloud(item):
    return item if isinstance(item, tuple) else (item, None)


def _public(first, second=None, **options):
    """pairwise's matrix from a loop over the public function: OT_eps of each pair and of
    each measure with itself (``debias=False``), combined as pairwise combines them."""
    symmetric = second is None
    second = first if symmetric else second

    def ot_eps(u, v):
        (x, a), (y, b) = _cloud(u), _cloud(v)
        return float(ot.sinkhorn_divergence(x, y, a, b, debias=False, **options))

    self_first = [ot_eps(u, u) for u in first]
    self_second = self_first if symmetric else [ot_eps(v, v) for v in second]
    D = np.zeros((len(first), len(second)))
    for i, u in enumerate(first):
        for j, v in enumerate(second):
            if symmetric and j <= i:
                continue
            D[i, j] = ot_eps(u, v) - 0.5 * (self_first[i] + self_second[j])
            if symmetric:
                D[j, i] = D[i, j]
    return D


def _gaussian(n, d=2, shift=0.0, scale=1.0):
    return (RNG.normal(size=(n, d)) + shift) * scale


# Sizes on each path of the solve: the host kernel (n m > 2**14 or max(n, m) > 128), the
# costs stored on the host (max(n, m) <= 128), one point; and a repeated cloud (its pairs
# are solved as identical clouds).
UNIFORM = [_gaussian(n, shift=k) for k, n in enumerate((150, 210, 40, 90, 1))]
UNIFORM.append(UNIFORM[1])


def _weighted(n, zero=False):
    w = RNG.dirichlet(np.ones(n))
    if zero:
        w[0] = 0.0
        w /= w.sum()
    return _gaussian(n, shift=1.0), w


WEIGHTED = [_weighted(140), _weighted(30), _weighted(170)]
# Zero weights: the masked log-domain loop on stored costs (n m <= 2**12 for every pair)
ZERO_WEIGHTS = [UNIFORM[2], _weighted(30, zero=True), _weighted(50, zero=True), _gaussian(60)]


@pytest.mark.parametrize(
    "options",
    [
        {"reg": 0.1},
        {"blur": 0.3, "scaling": 0.7, "stopThr": 1e-9},
        {"reg": 0.5, "diameter": 20.0, "numItermax": 3000},
        {"reg": 0.2, "batch_size": 64},
        {"reg": 0.3, "p": 1, "metric": "euclidean"},
        {"reg": 0.3, "p": 1.5, "metric": None},
        # (not translation invariant: the points normalized, not centred; pairwise's
        # default p = 2 is not passed on to the cosine cost, which has none)
        {"reg": 0.05, "metric": "cosine"},
        {"reg": 0.05, "metric": "cosine", "p": None},  # (was centred: 0.44 for 0.013)
        {"reg": 1e300},  # (beyond the expansion threshold: the public function's path)
    ],
)
def test_symmetric_matrix_is_the_public_loop_bit_for_bit(options):
    public = {"p": None if options.get("metric") == "cosine" else 2, "metric": "sqeuclidean",
              **options}  # fmt: skip
    D = ot.pairwise(UNIFORM, method="sinkhorn_divergence", **options)
    np.testing.assert_array_equal(D, _public(UNIFORM, **public))


def test_weighted_clouds_are_the_public_loop_bit_for_bit():
    options = {"reg": 0.2, "stopThr": 1e-8}
    public = {"p": 2, "metric": "sqeuclidean", **options}
    D = ot.pairwise(UNIFORM[:4], WEIGHTED, method="sinkhorn_divergence", **options)
    np.testing.assert_array_equal(D, _public(UNIFORM[:4], WEIGHTED, **public))
    D = ot.pairwise(WEIGHTED, method="sinkhorn_divergence", **options)
    np.testing.assert_array_equal(D, _public(WEIGHTED, **public))
    D = ot.pairwise(ZERO_WEIGHTS, method="sinkhorn_divergence", **options)
    np.testing.assert_array_equal(D, _public(ZERO_WEIGHTS, **public))


def test_the_debiased_public_divergence_to_its_tolerance():
    """The public S_eps solves its three problems together (the self terms from other
    starts): equal to the marginal tolerance, 1e-10 on measures of mass 1 and costs ~10."""
    options = {"reg": 0.5, "stopThr": 1e-10, "numItermax": 10000}
    D = ot.pairwise(UNIFORM[:3], WEIGHTED[:2], method="sinkhorn_divergence", **options)
    expected = [
        [float(ot.sinkhorn_divergence(x, y, None, b, **options)) for y, b in WEIGHTED[:2]]
        for x in UNIFORM[:3]
    ]
    np.testing.assert_allclose(D, expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_a_pair_is_the_public_value_bit_for_bit(seed):
    """Random pairs (1 to 40 points, d = 1 to 3, points at 1e-100 to 1e100 and shifted far
    from the origin, uniform, random or partly zero weights, p = 1, 1.5, 2, reg or blur):
    the centre, the rescaling and the cost range from the clouds' means and boxes are those
    of the points, so the value is the public function's."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    scale = 10.0 ** rng.uniform(-100, 100)
    clouds = []
    for _ in range(2):
        n = int(rng.integers(1, 41))
        x = (rng.normal(size=(n, d)) + rng.normal(size=d) * 10.0 ** rng.uniform(0, 6)) * scale
        w = None if rng.random() < 0.4 else rng.dirichlet(np.ones(n))
        if w is not None and n > 1 and rng.random() < 0.3:
            w[0] = 0.0
            w /= w.sum()
        clouds.append((x, w))
    p = float(rng.choice([1.0, 1.5, 2.0]))
    options = {"p": p, "metric": None, "stopThr": 1e-8}
    spread = np.ptp(np.concatenate([x for x, _ in clouds]), axis=0).max() or scale
    if rng.random() < 0.5:
        options["reg"] = rng.uniform(0.05, 1.0) * spread**p
    else:
        options["blur"] = rng.uniform(0.1, 1.0) * spread
    (x, a), (y, b) = clouds
    pairs = EntropicPairs(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a pair may stop above stopThr: both warn)
        expected = float(ot.sinkhorn_divergence(x, y, a, b, debias=False, **options))
        assert pairs.value(cloud(x, a), cloud(y, b)) == expected
        expected = float(ot.sinkhorn_divergence(x, x, a, a, debias=False, **options))
        assert pairs.value(cloud(x, a), cloud(x, a)) == expected


def test_float32_clouds_take_the_public_path():
    clouds = [x.astype(np.float32) for x in UNIFORM[:3]]
    D = ot.pairwise(clouds, method="sinkhorn_divergence", reg=0.1)
    assert D.dtype == np.float32  # (combined in float64, as the loop, then cast)
    expected = _public(clouds, reg=0.1, p=2, metric="sqeuclidean").astype(np.float32)
    np.testing.assert_array_equal(D, expected)


# --- the checks made once ----------------------------------------------------------------------


def test_masses_are_checked_once_naming_the_clouds():
    x, w = WEIGHTED[1]
    with pytest.raises(ValueError, match=r"X\[0\] and X\[1\] must have the same total mass"):
        ot.pairwise([WEIGHTED[0], (x, 1.5 * w)], method="sinkhorn_divergence", reg=0.1)
    with pytest.raises(
        ValueError, match=r"(X\[\d\] and Y\[2\]|Y\[2\] and X\[\d\]) must have the same total mass"
    ):
        ot.pairwise(
            UNIFORM[:2], [*WEIGHTED[:2], (x, 0.5 * w)], method="sinkhorn_divergence", reg=0.1
        )
    # within the tolerance of sinkhorn_divergence (1e-6 relative): accepted, the same values
    clouds = [WEIGHTED[0], (x, (1.0 + 1e-8) * w)]
    D = ot.pairwise(clouds, method="sinkhorn_divergence", reg=0.1)
    np.testing.assert_array_equal(D, _public(clouds, reg=0.1, p=2, metric="sqeuclidean"))


def test_clouds_of_different_dimensions_are_rejected():
    with pytest.raises(
        ValueError, match=r"X\[1\] has points of dimension 3.*X\[0\] of dimension 2"
    ):
        ot.pairwise([UNIFORM[0], _gaussian(5, d=3)], method="sinkhorn_divergence", reg=0.1)
    with pytest.raises(ValueError, match=r"Y\[0\] has points of dimension 1"):
        ot.pairwise(UNIFORM[:2], [np.arange(4.0)], method="sinkhorn_divergence", reg=0.1)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"reg": 0.1, "scaling": 1.5}, "scaling"),
        ({"reg": 0.1, "numItermax": 2.5}, "numItermax"),
        ({"reg": -1.0}, "reg"),
        ({"reg": 0.1, "blur": 0.1}, "not both"),
        ({"reg": 0.1, "diameter": 0.0}, "diameter"),
        ({"reg": 1e-30}, "reg: epsilon is"),
    ],
)
def test_bad_options_raise_the_errors_of_sinkhorn_divergence(options, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ot.pairwise(UNIFORM[:3], method="sinkhorn_divergence", **options)


def test_a_pair_that_does_not_converge_warns_at_the_callers_line():
    with pytest.warns(UserWarning, match="did not converge") as record:
        ot.pairwise(UNIFORM[:2], method="sinkhorn_divergence", reg=0.01, numItermax=2)
    assert {w.filename for w in record} == {__file__}


def test_clouds_on_every_backend(xp):
    """torch and JAX clouds go through sinkhorn_divergence pair by pair: the NumPy values,
    to the marginal tolerance (1e-10 on measures of mass 1, costs of order 10)."""
    options = {"reg": 0.5, "stopThr": 1e-10, "numItermax": 10000}
    clouds = [UNIFORM[2][:12], UNIFORM[3][:9]]
    expected = ot.pairwise(clouds, method="sinkhorn_divergence", **options)
    moved = [to_xp(xp, x) for x in clouds]
    D = ot.pairwise(moved, method="sinkhorn_divergence", **options)
    assert_same_backend(D, moved[0])
    np.testing.assert_allclose(to_np(D), expected, rtol=1e-8, atol=1e-9)
