"""The API reference of otkit, generated from the package at every build.

The reference is organised by family, under POT's module paths (``otkit.lp``,
``otkit.bregman``, ...): each function has one page, at its family path
(``generated/otkit.bregman.sinkhorn.html``). The flat names of ``otkit.__all__``
(``ot.sinkhorn``) are the same objects; they get no page of their own but

- cross-references to them (``:func:`otkit.sinkhorn```, in the guides and in docstrings) are
  resolved to the family page (:func:`register_flat_aliases` makes them inventory entries of
  that page; :func:`resolve_flat_alias` handles their attributes, ``otkit.OTResult.value``),
- ``generated/otkit.sinkhorn.html`` is a redirect to it (:func:`write_redirects`), so links to
  the flat pages of earlier builds keep working.

``otkit.backend`` is internal: it is left out of this reference (see ``developer.rst``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FAMILIES",
    "SECTIONS",
    "ApiModel",
    "api_model",
    "internal_list",
    "register_flat_aliases",
    "resolve_flat_alias",
    "write_api_list",
    "write_redirects",
]

# The public families, in the order of the reference, with POT's module paths.
FAMILIES = [
    "otkit.lp",
    "otkit.bregman",
    "otkit.unbalanced",
    "otkit.sliced",
    "otkit.solvers",
    "otkit.geomloss",
    "otkit.utils",
    "otkit.datasets",
    "otkit.plot",
]
INTERNAL = ["otkit.backend"]  # documented on the developer page, not in the reference

# Subsections of a family, by the private module that defines the functions. A function from a
# module not listed here still gets a page: its subsection is titled from the first clause of
# its module's docstring. A family whose functions all fall in one subsection has no
# subsection heading. A listed module that no longer exists is a build warning.
SECTIONS = [
    ("otkit.lp._emd", "Exact optimal transport (network simplex)"),
    ("otkit.lp._one_d", "Optimal transport on the real line"),
    ("otkit.lp._barycenter", "Barycenters and interpolation"),
    ("otkit.lp._barycenter_1d", "Barycenters and interpolation"),
    ("otkit.lp._free_support", "Barycenters and interpolation"),
    ("otkit.bregman._sinkhorn", "Sinkhorn on a cost matrix"),
    ("otkit.bregman._sinkhorn_init", "Sinkhorn on a cost matrix"),
    ("otkit.bregman._meta_init", "Sinkhorn on a cost matrix"),
    ("otkit.bregman._initializers", "Sinkhorn on a cost matrix"),
    ("otkit.bregman._pot_entry_points", "POT's per-method entry points"),
    ("otkit.bregman._divergence", "Point clouds and Sinkhorn divergences"),
    ("otkit.bregman._empirical", "Point clouds and Sinkhorn divergences"),
    ("otkit.bregman._kl_projections", "Bregman-projection helpers"),
    ("otkit.bregman._barycenter", "Entropic barycenters"),
    ("otkit.bregman._convolutional", "Entropic barycenters"),
    ("otkit.bregman._free_support_entropic", "Entropic barycenters"),
    ("otkit.bregman._unsupported", "POT's names without an implementation"),
    ("otkit.unbalanced._sinkhorn_api", "Entropic unbalanced OT (Sinkhorn)"),
    ("otkit.unbalanced._mm_api", "Exact unbalanced OT"),
    ("otkit.unbalanced._lbfgsb", "Exact unbalanced OT"),
    ("otkit.unbalanced._solver_1d", "Exact unbalanced OT"),
    ("otkit.unbalanced._barycenter", "Unbalanced barycenters"),
    ("otkit.sliced._sliced", "Sliced Wasserstein distances"),
    ("otkit.solvers._solve", "Unified entry points"),
    ("otkit.solvers._solve_sample", "Unified entry points"),
    ("otkit.solvers._pairwise", "Pairwise OT matrices"),
    ("otkit.geomloss._samples_loss", "GeomLoss-style loss objects"),
    ("otkit.utils._costs", "Costs and weights"),
    ("otkit.utils._result", "Result object"),
    ("otkit.utils._matrices", "Matrices and kernels"),
    ("otkit.utils._projections", "Projections"),
    ("otkit.utils._scaler", "Feature scaling"),
    ("otkit.utils._helpers", "Arguments, labels and timers"),
]
# Descriptions of module-level constants (their values are shown whatever is listed here).
CONSTANTS = {
    "METRICS": "The names accepted by the ``metric`` argument of :func:`otkit.utils.dist`.",
    "DATASETS": "The names accepted by :func:`otkit.datasets.make_data_classif`.",
}


@dataclass
class ApiModel:
    """What the reference documents.

    ``pages``: every documented function or class, by its family path (``otkit.lp.emd``);
    ``aliases``: flat name (``otkit.emd``) -> family path; ``reexports``: a family's name for
    an object documented in another family -> that family path; ``families``: family -> names.
    """

    pages: dict[str, object] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    families: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    reexports: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def canonical(self, target: str) -> str | None:
        """Family path of ``otkit.<flat name>[.attribute]``, or None."""
        for alias, path in [*self.aliases.items(), *self.reexports.items()]:
            if target == alias:
                return path
            if target.startswith(alias + "."):
                return path + target[len(alias) :]
        return None


def _documentable(obj: object) -> bool:
    """Functions and classes get a page of their own; other objects are constants."""
    return inspect.isroutine(obj) or inspect.isclass(obj)


def _home(obj: object) -> str:
    module = getattr(obj, "__module__", None) or ""
    return next((f for f in FAMILIES + INTERNAL if module == f or module.startswith(f + ".")), "")


def _public_names(module) -> list[str]:
    return [n for n in getattr(module, "__all__", []) if not n.startswith("__")]


def api_model() -> ApiModel:
    """Collect the families, their names, and the flat aliases of ``otkit.__all__``."""
    import otkit

    model = ApiModel()
    exported: list[tuple[str, str, object]] = []  # (family, name, object), in order
    for family in FAMILIES:
        try:
            module = importlib.import_module(family)
        except ImportError as error:
            model.problems.append(f"cannot import {family}: {error}")
            continue
        model.families[family] = []
        for name in _public_names(module):
            if not hasattr(module, name):
                model.problems.append(f"{family}.__all__ lists {name!r}, which it lacks")
                continue
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            if not _documentable(obj):
                model.constants[f"{family}.{name}"] = obj
                continue
            model.families[family].append(name)
            exported.append((family, name, obj))
    # One page per object: at its home family (where it is defined) when that family exports
    # it, else at the first family that does; the other families link to that page.
    chosen: dict[int, tuple[str, str]] = {}
    for family, name, obj in exported:
        if id(obj) not in chosen or (family == _home(obj) and chosen[id(obj)][0] != family):
            chosen[id(obj)] = (family, name)
    for family, name, obj in exported:
        if chosen[id(obj)] == (family, name):
            model.pages[f"{family}.{name}"] = obj
        else:
            model.reexports[f"{family}.{name}"] = ".".join(chosen[id(obj)])
    by_id = {}
    for path, obj in model.pages.items():  # the first family path of each object wins
        by_id.setdefault(id(obj), path)
    for name in _public_names(otkit):
        obj = getattr(otkit, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        if id(obj) in by_id:
            model.aliases[f"otkit.{name}"] = by_id[id(obj)]
        elif not _documentable(obj):
            path = next((p for p, c in model.constants.items() if c is obj), None)
            if path:
                model.aliases[f"otkit.{name}"] = path
        else:
            model.problems.append(f"otkit.{name} is in no family's __all__: it has no page")
    for module_name, _ in SECTIONS:
        if importlib.util.find_spec(module_name) is None:
            model.problems.append(
                f"SECTIONS in docs/_ext/otkit_api.py names {module_name}, which does not exist"
            )
    return model


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


def _autosummary(names: list[str], module: str) -> list[str]:
    lines = [f".. currentmodule:: {module}", "", ".. autosummary::"]
    lines += ["   :toctree: generated", "   :nosignatures:", ""]
    return lines + [f"   {name}" for name in names] + [""]


def _constant(path: str, value: object) -> list[str]:
    description = CONSTANTS.get(path.rsplit(".", 1)[-1])
    lines = [f".. py:data:: {path}", f"   :value: {value!r}", ""]
    return lines + ([f"   {description}", ""] if description else [])


def api_list(model: ApiModel) -> list[str]:
    """reST of the reference: one section per family, subsections by defining module."""
    titles = dict(SECTIONS)
    order = {title: k for k, (_, title) in reversed(list(enumerate(SECTIONS)))}
    flat_of = {path: alias for alias, path in model.aliases.items()}
    lines = [".. This file is written by conf.py at every build: do not edit it.", ""]
    for family, names in model.families.items():
        lines += [f".. _api-{family.removeprefix('otkit.')}:", ""]
        lines += _heading(f"{family}", "-")
        lines += [f".. automodule:: {family}", "   :no-members:", ""]
        own = [n for n in names if f"{family}.{n}" in model.pages]
        elsewhere = [n for n in names if n not in own]
        flat = [flat_of[f"{family}.{n}"] for n in own if f"{family}.{n}" in flat_of]
        flat += [
            a
            for a, p in model.aliases.items()
            if p.startswith(family + ".") and p in model.constants
        ]
        if flat:
            listed = ", ".join(f"``ot.{a.removeprefix('otkit.')}``" for a in flat)
            lines += [f"Also at the top level of ``otkit``: {listed} (the same objects).", ""]
        if elsewhere:
            links = ", ".join(f":obj:`{model.reexports[f'{family}.{n}']}`" for n in elsewhere)
            lines += [f"Also exports {links} (the same objects, documented there).", ""]
        groups: dict[str, list[str]] = {}
        # Functions before classes, the top-level names first, then alphabetically.
        own.sort(
            key=lambda n: (
                inspect.isclass(model.pages[f"{family}.{n}"]),
                f"{family}.{n}" not in flat_of,
                n.lower(),
            )
        )
        for name in own:
            module = getattr(model.pages[f"{family}.{name}"], "__module__", "") or ""
            title = titles.get(module) or _module_title(module)
            order.setdefault(title, len(order))
            groups.setdefault(title, []).append(name)
        if len(groups) == 1:
            lines += _autosummary(next(iter(groups.values())), family)
        elif not groups:
            pass
        else:
            for title in sorted(groups, key=order.__getitem__):
                lines += _heading(title, "~") + _autosummary(groups[title], family)
        constants = [p for p in model.constants if p.rsplit(".", 1)[0] == family]
        if constants:
            if len(groups) > 1:
                lines += _heading("Constants", "~")
            lines += [f".. currentmodule:: {family}", ""]
            for path in constants:
                lines += _constant(path, model.constants[path])
    return lines


def internal_list() -> list[str]:
    """reST summary table (no pages) of the internal modules' names, for the developer page."""
    lines = [".. This file is written by conf.py at every build: do not edit it.", ""]
    for name in INTERNAL:
        module = importlib.import_module(name)
        names = [n for n in _public_names(module) if _documentable(getattr(module, n, None))]
        lines += [f".. currentmodule:: {name}", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {n}" for n in names] + [""]
    return lines


def write_api_list(path: Path, stubs: Path, model: ApiModel) -> None:
    """Write the API list, touching the file only when it changes (keeps rebuilds fast).

    Also deletes the pages of names that left the API: autosummary never does, and a stale
    page is a "not in any toctree" warning.
    """
    text = "\n".join(api_list(model)).rstrip() + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    for stub in stubs.glob("*.rst"):
        if stub.stem not in model.pages:
            stub.unlink()


def resolve_flat_alias(model: ApiModel):
    """A ``missing-reference`` handler: ``otkit.emd`` resolves to ``otkit.lp.emd``'s entry."""

    def handler(app, env, node, contnode):
        if node.get("refdomain") != "py":
            return None
        target = node.get("reftarget", "")
        module = node.get("py:module") or ""
        candidates = [target] if target.startswith("otkit.") else []
        if module and not target.startswith("otkit."):
            candidates.append(f"{module}.{target}")
        candidates.append(f"otkit.{target}")
        for candidate in candidates:
            canonical = model.canonical(candidate)
            if canonical:
                domain = env.get_domain("py")
                return domain.resolve_xref(
                    env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
                ) or domain.resolve_xref(
                    env, node["refdoc"], app.builder, "obj", canonical, node, contnode
                )
        return None

    return handler


def register_flat_aliases(model: ApiModel):
    """An ``env-updated`` handler: ``otkit.emd`` becomes an inventory entry of ``otkit.lp.emd``.

    So the flat names are in ``objects.inv`` and the search index (other projects'
    intersphinx, sphinx-gallery's links from ``ot.emd(...)`` in the examples) and resolve
    like any documented name, pointing at the family page.
    """

    def handler(app, env):
        from sphinx.domains.python import ObjectEntry

        objects = env.get_domain("py").objects
        for alias, path in [*model.aliases.items(), *model.reexports.items()]:
            entry = objects.get(path)
            if entry is not None and alias not in objects:
                objects[alias] = ObjectEntry(entry.docname, entry.node_id, entry.objtype, False)
        return []

    return handler


REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{alias}</title>
<link rel="canonical" href="{target}">
<meta http-equiv="refresh" content="0; url={target}">
</head>
<body><p><code>{alias}</code> is <a href="{target}"><code>{path}</code></a>.</p></body>
</html>
"""


def write_redirects(model: ApiModel):
    """A ``build-finished`` handler: ``generated/otkit.emd.html`` redirects to its family page."""

    def handler(app, exception):
        if exception is not None or app.builder.format != "html":
            return
        folder = Path(app.outdir) / "generated"
        for alias, path in model.aliases.items():
            if path not in model.pages:
                continue  # constants are on the reference page itself
            target = f"{path}{app.builder.link_suffix}"
            if (folder / target).is_file():
                page = folder / f"{alias}{app.builder.out_suffix}"
                page.write_text(REDIRECT.format(alias=alias, path=path, target=target), "utf-8")

    return handler
