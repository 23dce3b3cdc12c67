"""The package layout: families in subpackages, imports pointing one way, every file installed.

POT's module paths are checked in tests/test_pot_paths.py.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

import otkit

PACKAGE = pathlib.Path(otkit.__file__).parent

# Layers from the bottom up: a module may import its own layer and the layers below, never
# a layer above (the families build on the backend, the shared checks and each other in
# this order only).
LAYERS = [
    {"otkit.backend"},
    {"otkit._validation"},
    {"otkit._boundary"},
    {"otkit.utils", "otkit.datasets", "otkit.plot"},
    {"otkit.lp"},
    {"otkit.sliced", "otkit.bregman"},
    {"otkit.unbalanced", "otkit.geomloss"},
    {"otkit.solvers"},
    {"otkit"},
]


def _family(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _layer(module: str) -> int:
    family = _family(module)
    for level, families in enumerate(LAYERS):
        if family in families:
            return level
    raise AssertionError(f"{module} belongs to no layer of tests/test_layout.py: add it")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: pathlib.Path) -> set[str]:
    """otkit modules imported by ``path`` (absolute names), at any depth of the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "otkit" or target.startswith("otkit."):
                # ``from . import lp`` imports the subpackage lp
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else []
                found.update(n for n in names if _is_module(n)) if names else found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("otkit"))
    return found


def _is_module(name: str) -> bool:
    relative = pathlib.Path(*name.split(".")[1:])
    return (PACKAGE / relative).is_dir() or (PACKAGE / relative).with_suffix(".py").exists()


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path):
    module = _module_name(path)
    level = _layer(module)
    upward = sorted(
        target
        for target in _imported_modules(path)
        if _family(target) != _family(module) and _layer(target) > level
    )
    assert not upward, f"{module} (layer {level}) imports from a layer above: {upward}"


def test_no_flat_private_modules():
    """Implementations live in their family's package; only shared checks stay at the top."""
    flat = sorted(p.name for p in PACKAGE.glob("_*.py") if p.name != "__init__.py")
    assert flat == ["_boundary.py", "_validation.py"], flat


def _meson_sources() -> set[str]:
    """Every Python file named in otkit's meson.build files, relative to the package."""
    listed = set()
    for meson in PACKAGE.rglob("meson.build"):
        folder = meson.parent.relative_to(PACKAGE)
        for name in re.findall(r"'([^']+\.py)'", meson.read_text()):
            listed.add(str(folder / name) if str(folder) != "." else name)
    return listed


def test_every_python_file_is_installed():
    if not (PACKAGE / "meson.build").exists():
        pytest.skip("otkit is installed from a wheel: no meson.build beside it")
    on_disk = {str(p.relative_to(PACKAGE)) for p in SOURCES}
    listed = _meson_sources()
    assert on_disk - listed == set(), f"not installed by meson: {sorted(on_disk - listed)}"
    assert listed - on_disk == set(), f"listed in meson but missing: {sorted(listed - on_disk)}"
