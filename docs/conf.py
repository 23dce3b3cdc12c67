"""Sphinx configuration of otkit's documentation.

Generated at build time, so that nothing needs editing when otkit grows or a benchmark is
rerun (the generators live in ``_ext/``):

- the API reference (``generated_api_list.rst``, included by ``api.rst``), by family under
  POT's module paths (``otkit.lp``, ``otkit.bregman``, ...), from the families' ``__all__``;
  the flat names of ``otkit.__all__`` resolve to the family pages (``_ext/otkit_api.py``);
- the "Where each function runs" table of the user guide (``generated_runs_where.rst``), from
  the README's "What runs where" table, and the performance page
  (``generated_performance.rst``), from the README's summary table and
  ``benchmarks/results/*.md`` (``_ext/otkit_pages.py``);
- the gallery sources (``_gallery_src/``): a copy of ``../examples`` plus the gallery header
  ``gallery_header.rst``; only ``plot_*.py`` files become gallery pages and are executed.

A public function missing from the README's table or from the user guide's "Which function
for which job" table is a build warning (an error under ``-W``, as in CI).

``OTKIT_DOCS_FAST=1`` renders the gallery without executing the examples. Nothing is
fetched from the network at build time (no intersphinx).
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import sys
from pathlib import Path

import otkit

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))  # the page generators, imported below

import otkit_api
import otkit_pages

os.environ.setdefault("MPLBACKEND", "Agg")  # examples and docstrings never open a window

EXAMPLES = DOCS.parent / "examples"
FAST = os.environ.get("OTKIT_DOCS_FAST", "").strip().lower() not in ("", "0", "false", "no")

# The repository's public address, shown in the sidebar; empty until the project has one
# (OTKIT_REPOSITORY_URL fills it at build time). Every API page links to its highlighted
# source in the site itself (sphinx.ext.viewcode) either way.
REPOSITORY_URL = os.environ.get("OTKIT_REPOSITORY_URL", "").strip()

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
    "sphinx.ext.viewcode",
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
    "generated_runs_where.rst",  # included by user_guide.rst
    "generated_performance.rst",  # included by performance.rst
    "generated_backend_list.rst",  # included by developer.rst
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
    "page_width": "1240px",
    "sidebar_width": "230px",
    "extra_nav_links": {"Source code repository": REPOSITORY_URL} if REPOSITORY_URL else {},
}
html_context = {"repository_url": REPOSITORY_URL}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_static_path = ["_static"]
html_css_files = ["otkit.css"]
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

# -- Generated pages: the API reference, the README's tables, the benchmark reports -------

API_LIST = DOCS / "generated_api_list.rst"  # included by api.rst
STUBS = DOCS / "generated"  # autosummary's pages, one per documented name
RUNS_WHERE = DOCS / "generated_runs_where.rst"  # included by user_guide.rst
PERFORMANCE = DOCS / "generated_performance.rst"  # included by performance.rst
BACKEND_LIST = DOCS / "generated_backend_list.rst"  # included by developer.rst
README = DOCS.parent / "README.md"
RESULTS = DOCS.parent / "benchmarks" / "results"

API = otkit_api.api_model()
otkit_api.write_api_list(API_LIST, STUBS, API)
# The function template adds the flat name's examples to the family page's mini-gallery
# (sphinx-gallery records ``ot.emd(...)`` under ``otkit.emd``).
autosummary_context = {"flat_names": {path: alias for alias, path in API.aliases.items()}}


def write_if_changed(path: Path, lines: list[str]) -> None:
    """Write a generated page, touching it only when it changes (keeps rebuilds fast)."""
    text = "\n".join(lines).rstrip() + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


_README_TEXT = README.read_text(encoding="utf-8")
GENERATION_PROBLEMS = list(API.problems)
try:
    write_if_changed(RUNS_WHERE, otkit_pages.runs_where_rst(_README_TEXT, API))
except ValueError as error:
    GENERATION_PROBLEMS.append(f"README.md's '{otkit_pages.RUNS_WHERE_HEADING}' table: {error}")
    write_if_changed(RUNS_WHERE, ["(The README's table could not be read.)"])
try:
    write_if_changed(PERFORMANCE, otkit_pages.performance_rst(_README_TEXT, RESULTS, API))
except ValueError as error:
    GENERATION_PROBLEMS.append(f"performance page: {error}")
    write_if_changed(PERFORMANCE, ["(The benchmark results could not be read.)"])
write_if_changed(BACKEND_LIST, otkit_api.internal_list())
GENERATION_PROBLEMS += otkit_pages.coverage_problems(
    API, _README_TEXT, (DOCS / "user_guide.rst").read_text(encoding="utf-8")
)


# -- The README's commands, quoted verbatim --------------------------------------------


def readme_command(marker: str) -> str:
    """First line of the fenced code block after ``<!-- marker -->`` in README.md.

    The same rule as ``.ci/run``: the quick start page shows exactly what CI runs.
    """
    lines = _README_TEXT.splitlines()
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
    app.connect("builder-inited", report_generation_problems)
    app.connect("autodoc-process-docstring", escape_reference_initials)
    app.connect("env-updated", otkit_api.register_flat_aliases(API))
    app.connect("missing-reference", otkit_api.resolve_flat_alias(API))
    app.connect("build-finished", otkit_api.write_redirects(API))
    return {"parallel_read_safe": True}


_CITATION_INITIAL = re.compile(r"^(\s*\.\. \[[^\]]+\]\s+)([A-Z])\.(\s)")


def escape_reference_initials(app, what, name, obj, options, lines) -> None:
    """``.. [1] R. K. Ahuja, ...`` on one line would render as a list item "R": escape it.

    reST reads a one-line citation that opens with an initial as an enumerated list (items
    "R", "K", ...). Escaping the first period (``R\\. K. Ahuja``) keeps the text and the
    citation; docstrings may already be written that way.
    """
    for index, line in enumerate(lines):
        lines[index] = _CITATION_INITIAL.sub(r"\1\2\\.\3", line)


def report_generation_problems(app) -> None:
    """What the generators found wrong (a public function missing from a table, ...)."""
    from sphinx.util import logging

    logger = logging.getLogger("otkit-docs")
    for problem in GENERATION_PROBLEMS:
        logger.warning(problem)
