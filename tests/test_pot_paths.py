"""POT 0.9.7's module paths resolve in otkit, to the same objects as otkit's flat names.

``POT_PATHS`` lists every public function and class of POT's ``ot``, ``ot.lp``,
``ot.bregman``, ``ot.unbalanced``, ``ot.sliced``, ``ot.utils``, ``ot.datasets``, ``ot.plot`` and
``ot.solvers`` that otkit offers (written out, so that the test runs without POT;
tests/test_pot_signatures.py compares the signatures when POT is installed). A name that is
also flat in POT is the same object under both paths in otkit, as in POT.
"""

from __future__ import annotations

import importlib

import pytest

import otkit

POT_PATHS = [
    "barycenter",
    "barycenter_unbalanced",
    "dist",
    "emd",
    "emd2",
    "emd2_1d",
    "emd_1d",
    "max_sliced_wasserstein_distance",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "sliced_wasserstein_distance",
    "solve",
    "solve_sample",
    "tic",
    "toc",
    "toq",
    "unif",
    "uot_1d",
    "wasserstein_1d",
    "lp.barycenter",
    "lp.emd",
    "lp.emd2",
    "lp.emd2_1d",
    "lp.emd_1d",
    "lp.free_support_barycenter",
    "lp.wasserstein_1d",
    "bregman.barycenter",
    "bregman.barycenter_debiased",
    "bregman.barycenter_sinkhorn",
    "bregman.barycenter_stabilized",
    "bregman.convolutional_barycenter2d",
    "bregman.convolutional_barycenter2d_debiased",
    "bregman.empirical_sinkhorn",
    "bregman.empirical_sinkhorn2",
    "bregman.empirical_sinkhorn_divergence",
    "bregman.empirical_sinkhorn_nystroem",
    "bregman.empirical_sinkhorn_nystroem2",
    "bregman.free_support_sinkhorn_barycenter",
    "bregman.geometricBar",
    "bregman.geometricMean",
    "bregman.greenkhorn",
    "bregman.projC",
    "bregman.projR",
    "bregman.screenkhorn",
    "bregman.sinkhorn",
    "bregman.sinkhorn2",
    "bregman.sinkhorn_epsilon_scaling",
    "bregman.sinkhorn_knopp",
    "bregman.sinkhorn_log",
    "bregman.sinkhorn_stabilized",
    "bregman.unmix",
    "unbalanced.barycenter_unbalanced",
    "unbalanced.barycenter_unbalanced_sinkhorn",
    "unbalanced.barycenter_unbalanced_stabilized",
    "unbalanced.lbfgsb_unbalanced",
    "unbalanced.lbfgsb_unbalanced2",
    "unbalanced.mm_unbalanced",
    "unbalanced.mm_unbalanced2",
    "unbalanced.sinkhorn_knopp_unbalanced",
    "unbalanced.sinkhorn_stabilized_unbalanced",
    "unbalanced.sinkhorn_unbalanced",
    "unbalanced.sinkhorn_unbalanced2",
    "unbalanced.sinkhorn_unbalanced_translation_invariant",
    "unbalanced.uot_1d",
    "sliced.max_sliced_wasserstein_distance",
    "sliced.sliced_wasserstein_distance",
    "utils.DataScaler",
    "utils.LazyTensor",
    "utils.OTResult",
    "utils.apply_scaler",
    "utils.check_params",
    "utils.check_random_state",
    "utils.clean_zeros",
    "utils.cost_normalization",
    "utils.dist",
    "utils.dist0",
    "utils.dots",
    "utils.euclidean_distances",
    "utils.get_coordinate_circle",
    "utils.get_parameter_pair",
    "utils.is_all_finite",
    "utils.kernel",
    "utils.label_normalization",
    "utils.labels_to_masks",
    "utils.laplacian",
    "utils.list_to_array",
    "utils.parmap",
    "utils.proj_SDP",
    "utils.proj_simplex",
    "utils.tic",
    "utils.toc",
    "utils.toq",
    "utils.unif",
    "datasets.get_1D_gauss",
    "datasets.get_2D_samples_gauss",
    "datasets.get_data_classif",
    "datasets.make_1D_gauss",
    "datasets.make_2D_samples_gauss",
    "datasets.make_data_classif",
    "datasets.make_gauss_hd",
    "plot.plot1D_mat",
    "plot.plot2D_samples_mat",
    "plot.rescale_for_imshow_plot",
    "solvers.solve",
    "solvers.solve_sample",
]

# Paths whose last name is flat for another function, in POT as in otkit.
NOT_THE_FLAT_OBJECT = {"lp.barycenter": "ot.barycenter is ot.bregman.barycenter (entropic)"}


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    owner = importlib.import_module("otkit" + ("." + module if module else ""))
    return getattr(owner, name)


@pytest.mark.parametrize("path", POT_PATHS)
def test_pot_path_resolves_to_the_flat_object(path):
    obj = _resolve(path)
    assert callable(obj), path
    name = path.rpartition(".")[2]
    if name in otkit.__all__ and path not in NOT_THE_FLAT_OBJECT:
        assert obj is getattr(otkit, name), f"otkit.{path} is not otkit.{name}"


@pytest.mark.parametrize("family", ["lp", "bregman", "unbalanced", "sliced", "utils", "solvers"])
def test_flat_names_are_their_family_objects(family):
    module = importlib.import_module(f"otkit.{family}")
    shared = [n for n in module.__all__ if n in otkit.__all__]
    assert shared or family == "utils"
    for name in shared:
        if f"{family}.{name}" in NOT_THE_FLAT_OBJECT:
            assert getattr(module, name) is not getattr(otkit, name)
            continue
        assert getattr(module, name) is getattr(otkit, name), f"otkit.{family}.{name}"


def test_listed_paths_are_in_the_public_lists():
    for path in POT_PATHS:
        module, _, name = path.rpartition(".")
        owner = importlib.import_module("otkit" + ("." + module if module else ""))
        assert name in owner.__all__, f"{path} resolves but is not in {owner.__name__}.__all__"


def test_array_libraries_resolve_from_otkit_backend_as_from_pots():
    # POT's gallery takes torch from its backend module: ``from ot.backend import torch``.
    torch = pytest.importorskip("torch")
    from otkit.backend import torch as from_backend

    assert from_backend is torch
    with pytest.raises(AttributeError, match="no attribute 'not_a_library'"):
        otkit.backend.not_a_library  # noqa: B018
