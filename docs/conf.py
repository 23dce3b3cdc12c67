"""Sphinx configuration of otkit's documentation.

Two things are generated at build time, so that neither needs editing when otkit grows:

- the API reference list (``generated_api_list.rst``, included by ``api.rst``), from
  ``otkit.__all__`` and the public submodules, grouped by the module that defines each
  function (see :func:`write_api_list`);
- the gallery sources (``_gallery_src/``): a copy of ``../examples`` plus the gallery header
  ``gallery_header.rst``; only ``plot_*.py`` files become gallery pages and are executed.

``OTKIT_DOCS_FAST=1`` renders the gallery without executing the examples. Nothing is
fetched from the network at build time (no intersphinx).
"""

from __future__ import annotations

import filecmp
import importlib
import inspect
import os
import pkgutil
import shutil
from pathlib import Path

import otkit

os.environ.setdefault("MPLBACKEND", "Agg")  # examples and docstrings never open a window

DOCS = Path(__file__).resolve().parent
EXAMPLES = DOCS.parent / "examples"
FAST = os.environ.get("OTKIT_DOCS_FAST", "").strip().lower() not in ("", "0", "false", "no")
# The gallery scripts also save their figures to OTKIT_EXAMPLE_OUTPUT (default: the working
# directory, which sphinx-gallery sets to _gallery_src, where sync_gallery_sources deletes
# unknown files and then the whole rendered gallery): keep those files in the build folder.
os.environ.setdefault("OTKIT_EXAMPLE_OUTPUT", str(DOCS / "_build" / "example_output"))

# -- Project -----------------------------------------------------------------------------

project = "otkit"
author = "the otkit developers"
copyright = "the otkit developers"
release = otkit.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_gallery_src",  # gallery sources: sphinx-gallery reads them, Sphinx must not
    "_templates",
    "gallery_header.rst",  # copied into _gallery_src as its GALLERY_HEADER.rst
    "generated_api_list.rst",  # included by api.rst, not a page of its own
    "README.md",
    "Thumbs.db",
    ".DS_Store",
]
root_doc = "index"
nitpicky = False  # docstrings name numpy/torch/matplotlib objects that have no target here

# -- autodoc / autosummary / numpydoc ----------------------------------------------------

autosummary_generate = ["generated_api_list.rst"]
autosummary_generate_overwrite = True
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False  # class pages list members with autoclass :members:
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False  # would need intersphinx for numpy/torch types

# -- HTML --------------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"otkit {release}"
html_theme_options = {
    "description": "Optimal transport for NumPy, PyTorch and JAX",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_static_path: list[str] = []
html_show_sourcelink = False

# -- Gallery -----------------------------------------------------------------------------

GALLERY_SRC = DOCS / "_gallery_src"
GALLERY_HEADER = DOCS / "gallery_header.rst"
GALLERY_OUT = DOCS / "auto_examples"


def sync_gallery_sources(source: Path = EXAMPLES, target: Path = GALLERY_SRC) -> None:
    """Mirror ``examples/`` into ``target`` and add the gallery header.

    sphinx-gallery needs a ``GALLERY_HEADER.rst`` beside the examples; the docs own that
    text, so the examples folder stays plain scripts. Unchanged files are not rewritten
    (sphinx-gallery skips re-running examples whose source did not change), and files that
    left ``examples/`` are removed, with the generated gallery.
    """
    wanted: dict[Path, Path] = {Path("GALLERY_HEADER.rst"): GALLERY_HEADER}
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_file() and not any(
                part.startswith(".") or part == "__pycache__" for part in relative.parts
            ):
                wanted[relative] = path
    target.mkdir(exist_ok=True)
    removed = False
    for path in sorted(target.rglob("*"), reverse=True):  # children before their folders
        relative = path.relative_to(target)
        if path.is_file() and relative not in wanted:
            path.unlink()
            removed = True
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if removed:  # sphinx-gallery never deletes the page of a removed example: start afresh
        shutil.rmtree(GALLERY_OUT, ignore_errors=True)
    for relative, path in wanted.items():
        destination = target / relative
        if not (destination.is_file() and filecmp.cmp(path, destination, shallow=False)):
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


sync_gallery_sources()

plot_gallery = "False" if FAST else "True"  # a string: sphinx-gallery declares it so
sphinx_gallery_conf = {
    "examples_dirs": "_gallery_src",
    "gallery_dirs": "auto_examples",
    # Only plot_*.py files are executed, and (ignore_pattern) only they become pages:
    # examples/quickstart.py is a command-line script, not a gallery example.
    "filename_pattern": "/plot_",
    "ignore_pattern": r"(^|[\\/])(?!plot_)[^\\/]*\.py$",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("otkit",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"otkit": None},
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": True,
    "show_memory": False,
}

# -- API reference, generated from otkit.__all__ -----------------------------------------

API_LIST = DOCS / "generated_api_list.rst"
STUBS = DOCS / "generated"  # autosummary's pages, one per documented name

# Titles and order of the sections of top-level functions, by defining module. A function
# from a module not listed here still gets a page: its section is titled from the first
# sentence of its module's docstring and comes after these.
SECTIONS = [
    ("otkit.solvers._solve", "Unified entry points"),
    ("otkit.solvers._solve_sample", "Unified entry points"),
    ("otkit.utils._result", "Unified entry points"),
    ("otkit.lp._emd", "Exact optimal transport (network simplex)"),
    ("otkit.lp._one_d", "Optimal transport on the real line"),
    ("otkit.sliced._sliced", "Sliced Wasserstein distances"),
    ("otkit.bregman._sinkhorn", "Entropic optimal transport (Sinkhorn)"),
    ("otkit.bregman._sinkhorn_init", "Entropic optimal transport (Sinkhorn)"),
    ("otkit.unbalanced._sinkhorn", "Unbalanced optimal transport"),
    ("otkit.bregman._divergence", "Point clouds and Sinkhorn divergences"),
    ("otkit.bregman._empirical", "Point clouds and Sinkhorn divergences"),
    ("otkit.geomloss._samples_loss", "Point clouds and Sinkhorn divergences"),
    ("otkit.bregman._barycenter", "Barycenters and interpolation"),
    ("otkit.lp._barycenter_1d", "Barycenters and interpolation"),
    ("otkit.bregman._convolutional", "Barycenters and interpolation"),
    ("otkit.lp._barycenter", "Barycenters and interpolation"),
    ("otkit.lp._free_support", "Barycenters and interpolation"),
    ("otkit.bregman._free_support_entropic", "Barycenters and interpolation"),
    ("otkit.utils._costs", "Costs and weights"),
]
# Descriptions of module-level constants (their values are shown whatever is listed here).
CONSTANTS = {"METRICS": "The names accepted by the ``metric`` argument of :func:`otkit.dist`."}


def _heading(title: str, mark: str) -> list[str]:
    return [title, mark * len(title), ""]


def _module_title(module_name: str) -> str:
    """First clause of the first line of a module's docstring (or the module's name)."""
    try:
        doc = (inspect.getdoc(importlib.import_module(module_name)) or "").strip()
    except ImportError:
        doc = ""
    first_line = doc.splitlines()[0] if doc else ""
    title = first_line.split(":")[0].split(". ")[0].rstrip(".").strip()
    return title or module_name


def _public_submodules() -> list[str]:
    """Public submodules of otkit: those in ``__all__`` and the lazily imported ones."""
    names = {name for name in otkit.__all__ if inspect.ismodule(getattr(otkit, name, None))}
    names |= {info.name for info in pkgutil.iter_modules(otkit.__path__)}
    return sorted(name for name in names if not name.startswith("_"))


def _documentable(obj: object) -> bool:
    """Functions and classes get a page of their own; other objects are constants."""
    return inspect.isroutine(obj) or inspect.isclass(obj)


def _autosummary(names: list[str], module: str, pages: set[str]) -> list[str]:
    pages.update(f"{module}.{name}" for name in names)
    lines = [f".. currentmodule:: {module}", "", ".. autosummary::"]
    lines += ["   :toctree: generated", "   :nosignatures:", ""]
    return lines + [f"   {name}" for name in names] + [""]


def _constant(qualified_name: str, value: object) -> list[str]:
    description = CONSTANTS.get(qualified_name.rsplit(".", 1)[-1])
    lines = [f".. py:data:: {qualified_name}", f"   :value: {value!r}", ""]
    return lines + ([f"   {description}", ""] if description else [])


def api_list() -> tuple[list[str], set[str]]:
    """reST of the API reference and the names that get a page.

    Top-level functions and classes by section, top-level constants, then one section per
    public submodule (its own functions; those it shares with the top level are linked).
    """
    pages: set[str] = set()
    titles = dict(SECTIONS)
    order: dict[str, int] = {}
    for _, title in SECTIONS:
        order.setdefault(title, len(order))
    top_level: dict[str, object] = {}
    sections: dict[str, list[str]] = {}
    constants: list[str] = []
    for name in otkit.__all__:
        obj = getattr(otkit, name)
        if name.startswith("__") or inspect.ismodule(obj):
            continue  # submodules get their own sections below
        if not _documentable(obj):
            constants.append(name)
            continue
        top_level[name] = obj
        module = getattr(obj, "__module__", None) or "otkit"
        title = titles.get(module) or _module_title(module)
        order.setdefault(title, len(order))
        sections.setdefault(title, []).append(name)

    lines = [".. This file is written by conf.py at every build: do not edit it.", ""]
    for title in sorted(sections, key=order.__getitem__):
        lines += _heading(title, "-") + _autosummary(sections[title], "otkit", pages)
    if constants:
        lines += _heading("Constants", "-") + [".. currentmodule:: otkit", ""]
        for name in constants:
            lines += _constant(f"otkit.{name}", getattr(otkit, name))

    lines += _heading("Submodules", "-")
    for sub in _public_submodules():
        module = importlib.import_module(f"otkit.{sub}")
        public = [n for n in getattr(module, "__all__", []) if not n.startswith("__")]
        shared = [n for n in public if top_level.get(n) is getattr(module, n)]
        own = [n for n in public if n not in shared and _documentable(getattr(module, n))]
        own_constants = [
            n
            for n in public
            if n not in shared and n not in own and not inspect.ismodule(getattr(module, n))
        ]
        lines += _heading(f"otkit.{sub}", "~")
        lines += [f".. automodule:: otkit.{sub}", "   :no-members:", ""]
        if shared:
            links = ", ".join(f":obj:`{n} <otkit.{n}>`" for n in shared)
            lines += [f"Also exports the top-level {links} (the same objects).", ""]
        if own:
            lines += _autosummary(own, f"otkit.{sub}", pages)
        for name in own_constants:
            lines += _constant(f"otkit.{sub}.{name}", getattr(module, name))
    return lines, pages


def write_api_list(path: Path = API_LIST) -> None:
    """Write the API list, touching the file only when it changes (keeps rebuilds fast).

    Also deletes the pages of names that left the API: autosummary never does, and a stale
    page is a "not in any toctree" warning.
    """
    lines, pages = api_list()
    text = "\n".join(lines).rstrip() + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    for stub in STUBS.glob("*.rst"):
        if stub.stem not in pages:
            stub.unlink()


write_api_list()


# -- The README's commands, quoted verbatim --------------------------------------------

README = DOCS.parent / "README.md"


def readme_command(marker: str) -> str:
    """First line of the fenced code block after ``<!-- marker -->`` in README.md.

    The same rule as ``.ci/run``: the quick start page shows exactly what CI runs.
    """
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if f"<!-- {marker} -->" in line), None)
    if start is None:
        raise ValueError(f"README.md has no <!-- {marker} --> marker")
    fences = [i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("```")]
    if len(fences) < 2 or fences[1] == fences[0] + 1:
        raise ValueError(f"README.md: no command in the code block after <!-- {marker} -->")
    return lines[fences[0] + 1].strip()


def setup(app):
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class ReadmeCommand(Directive):
        """``.. readme-command:: demo-command``: the README command after that marker."""

        required_arguments = 1

        def run(self):
            self.state.document.settings.env.note_dependency(str(README))
            try:
                command = readme_command(self.arguments[0])
            except ValueError as error:
                raise self.error(str(error)) from None
            block = nodes.literal_block(command, command)
            block["language"] = "bash"
            return [block]

    app.add_directive("readme-command", ReadmeCommand)
    return {"parallel_read_safe": True}
