"""Every public function otkit shares with POT 0.9.7 accepts POT's call: names, order, defaults.

For each name in POT's public modules that otkit also offers at the same path, the
signatures are compared: every POT parameter must exist in otkit under the same name, a
parameter POT takes by position must sit at the same position in otkit, and POT's default
must be otkit's. otkit's own extra options come after POT's. The differences that remain
are deliberate: listed in ``ALLOWED`` with the reason, and written in the migration guide
(docs/migration.rst), which a test checks.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pathlib
import warnings

import pytest

ot = pytest.importorskip("ot")
import otkit

POT_MODULES = ["", "lp", "bregman", "unbalanced", "sliced", "utils", "datasets", "plot", "solvers"]

# (path, parameter) -> why otkit differs. Each entry must be explained in docs/migration.rst
# (the path appears there).
ALLOWED: dict[tuple[str, str], str] = {
    ("sinkhorn2", "warn"): "non-convergence warns by default (never a silent inaccurate value)",
    ("bregman.sinkhorn2", "warn"): "as otkit.sinkhorn2",
}

MIGRATION_GUIDE = pathlib.Path(__file__).parents[1] / "docs" / "migration.rst"


def _shared_paths() -> list[str]:
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in POT_MODULES:
            pot_module = importlib.import_module("ot" + ("." + module if module else ""))
            otkit_module = importlib.import_module("otkit" + ("." + module if module else ""))
            for name in dir(pot_module):
                obj = getattr(pot_module, name)
                if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
                    continue
                if not (getattr(obj, "__module__", "") or "").startswith("ot"):
                    continue  # third-party objects POT re-exports
                if hasattr(otkit_module, name):
                    paths.append(f"{module}.{name}" if module else name)
    return paths


def _resolve(root, path: str):
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _signature(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    return inspect.signature(target)


def _same_default(x, y) -> bool:
    if x is y:
        return True
    if isinstance(x, (bool, int, float, str, tuple, type(None))) and isinstance(
        y, (bool, int, float, str, tuple, type(None))
    ):
        both_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        return both_nan or (x == y and isinstance(x, bool) == isinstance(y, bool))
    return False  # arrays, callables and other objects: only the same object is the same


def signature_differences(pot_obj, otkit_obj) -> dict[str, str]:
    """{parameter: what differs} between POT's and otkit's signatures."""
    pot_params = [p for p in _signature(pot_obj).parameters.values() if p.name not in ("self",)]
    ours = _signature(otkit_obj).parameters
    ours_list = [p for p in ours.values() if p.name != "self"]
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in ours_list)
    differences = {}
    for index, p in enumerate(pot_params):
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.name not in ours:
            if not has_var_kw:
                differences[p.name] = "missing"
            else:
                differences[p.name] = "only through **kwargs"
            continue
        q = ours[p.name]
        positional = (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        if p.kind in positional:
            if q.kind not in positional:
                differences[p.name] = "keyword-only in otkit"
            elif ours_list.index(q) != index:
                differences[p.name] = f"position {ours_list.index(q)} in otkit, {index} in POT"
        if (p.default is p.empty) != (q.default is q.empty):
            differences[p.name] = "required in one, optional in the other"
        elif p.default is not p.empty and not _same_default(p.default, q.default):
            differences[p.name] = f"default {q.default!r} in otkit, {p.default!r} in POT"
    return differences


SHARED = _shared_paths()


def test_shared_paths_found():
    assert "sinkhorn" in SHARED and "lp.emd" in SHARED


@pytest.mark.parametrize("path", SHARED)
def test_signature_matches_pot(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pot_obj, otkit_obj = _resolve(ot, path), _resolve(otkit, path)
    differences = {
        name: what
        for name, what in signature_differences(pot_obj, otkit_obj).items()
        if (path, name) not in ALLOWED
    }
    assert not differences, f"otkit.{path} differs from ot.{path}: {differences}"


@pytest.mark.parametrize("path_and_name", sorted(ALLOWED), ids=lambda pn: ".".join(pn))
def test_allowed_differences_are_documented(path_and_name):
    path, name = path_and_name
    text = MIGRATION_GUIDE.read_text()
    assert path.rpartition(".")[2] in text and name in text, (
        f"the deliberate difference of {path}({name}=...) is not in docs/migration.rst"
    )


def test_comparison_catches_a_difference():
    """The checker itself: a renamed, a moved and a re-defaulted parameter are reported."""

    def pot_like(a, b, M, reg, numItermax=1000, stopThr=1e-9):
        pass

    def otkit_like(a, b, reg, M, *, numItermax=100, tol=1e-9):
        pass

    assert signature_differences(pot_like, otkit_like) == {
        "M": "position 3 in otkit, 2 in POT",
        "reg": "position 2 in otkit, 3 in POT",
        "numItermax": "keyword-only in otkit",
        "stopThr": "missing",
    } | {"numItermax": "default 100 in otkit, 1000 in POT"}
