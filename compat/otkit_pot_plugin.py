"""Pytest plugin: run POT's own tests with POT's public functions replaced by otkit's.

Loaded by ``compat/pot_harness.py tests`` as ``python -m pytest -p otkit_pot_plugin`` with
``compat/`` on ``PYTHONPATH``. It is driven by environment variables:

``OTKIT_COMPAT_MODE``
    ``replace`` (default): for every name of otkit's public modules (``otkit.__all__`` for the
    flat API, each subpackage's ``__all__``) that POT's matching module also has, POT's
    attribute is set to otkit's object, and so is every attribute of a module under ``ot.``
    (POT's private submodules, which re-export or use the same function) that *is* POT's
    original object. POT's backend (``ot.backend``, the ``nx`` fixtures) stays POT's.
    ``strict``: as ``replace``, and every other public function or class of those POT modules
    becomes a stub that raises :class:`OtkitMissingError` when called, so that a test which
    needs a POT name otkit lacks fails instead of silently running POT's code.
    ``baseline``: nothing is replaced (POT alone).
``OTKIT_COMPAT_OUT``
    path of a JSON-lines file; one record per test (outcome, first error line, exception
    type, where it was raised, the otkit functions the test called).
``OTKIT_COMPAT_TRACK``
    ``1`` (default): otkit functions are installed behind a thin recording wrapper
    (``functools.wraps``), so the report says which tests actually exercised otkit; in
    ``replace`` mode the public POT functions otkit lacks are wrapped too, and the report says
    which tests called them directly (they pass on POT's code, not otkit's).

The patching runs in ``pytest_configure``, before any test module is imported (collection),
so ``from ot.bregman import sinkhorn`` in a test module also gets otkit's function.
"""

from __future__ import annotations

import functools
import importlib
import json
import linecache
import os
import pkgutil
import sys
import traceback
import types
import warnings

import pytest

# (otkit module, POT module) pairs whose public names are matched.
MODULE_PAIRS = (
    ("otkit", "ot"),
    ("otkit.lp", "ot.lp"),
    ("otkit.bregman", "ot.bregman"),
    ("otkit.unbalanced", "ot.unbalanced"),
    ("otkit.sliced", "ot.sliced"),
    ("otkit.utils", "ot.utils"),
    ("otkit.datasets", "ot.datasets"),
    ("otkit.plot", "ot.plot"),
    ("otkit.solvers", "ot.solvers"),
)

_STATE = {
    "mode": "replace",
    "replaced": [],  # "ot.X.name" entries set to otkit's object (public modules)
    "reexports": [],  # "ot._private.name" entries set because they were POT's same object
    "stubbed": [],  # strict mode: public POT names otkit lacks
    "pot_only": [],  # replace mode: the same names, kept as POT's and call-recorded
    "pot_skipped": [],  # POT submodules that cannot be imported here (optional deps)
    "errors": [],  # otkit modules that failed to import, etc.
    "current": None,  # node id of the running test
    "calls": {},  # node id -> {"direct", "via_pot", "pot_only"}: sets of names called
}


class OtkitMissingError(AttributeError):
    """Raised by a strict-mode stub: the test needs a POT name that otkit does not offer."""


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return [n for n in names if not n.startswith("_")]


def _import_all_pot_modules() -> None:
    """Import every submodule of POT, so that re-exports can be found in ``sys.modules``."""
    import ot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(ot.__path__, "ot."):
            if info.name.startswith("ot.backend"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as error:  # noqa: BLE001 - optional dependencies (ot.dr, ...)
                _STATE["pot_skipped"].append(f"{info.name}: {type(error).__name__}")


def _tracked(obj, qualname: str, pot_only: bool = False):
    """``obj`` behind a wrapper that records which running test called it, and from where.

    With ``pot_only`` (a POT public function otkit lacks), only calls from outside POT are
    recorded: those are the calls a script written against POT would make.
    """
    if not isinstance(obj, types.FunctionType):
        return obj

    @functools.wraps(obj)
    def wrapper(*args, **kwargs):
        node = _STATE["current"]
        if node is not None:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            from_pot = caller == "ot" or caller.startswith("ot.")
            if pot_only:
                kind = None if from_pot else "pot_only"
            else:
                kind = "via_pot" if from_pot else "direct"
            if kind is not None:
                entry = _STATE["calls"].setdefault(node, _new_calls())
                entry[kind].add(qualname)
        return obj(*args, **kwargs)

    wrapper.__otkit_compat_original__ = obj
    return wrapper


def _new_calls() -> dict:
    return {"direct": set(), "via_pot": set(), "pot_only": set()}


def _stub(pot_name: str):
    def stub(*args, **kwargs):
        raise OtkitMissingError(f"otkit has no {pot_name}")

    stub.__name__ = pot_name.rsplit(".", 1)[-1]
    stub.__qualname__ = stub.__name__
    return stub


def _is_pot_object(obj) -> bool:
    if isinstance(obj, types.ModuleType):
        return False
    if not callable(obj):
        return False
    module = getattr(obj, "__module__", "") or ""
    return module == "ot" or module.startswith("ot.")


def install(mode: str, track: bool = True) -> None:
    """Patch POT's modules in place according to ``mode`` ('replace', 'strict', 'baseline')."""
    if mode not in ("replace", "strict", "baseline"):
        raise ValueError(f"OTKIT_COMPAT_MODE must be replace, strict or baseline, got {mode!r}")
    _STATE["mode"] = mode
    if mode == "baseline":
        return
    _import_all_pot_modules()
    # original POT object id -> (original, replacement); later pairs (subpackages) override the
    # flat API for the scan of private modules.
    mapping: dict[int, tuple[object, object]] = {}
    wrapped: dict[int, object] = {}  # one wrapper per otkit object, shared by every path
    missing_public: list[tuple[object, str, object]] = []
    for otkit_name, pot_name in MODULE_PAIRS:
        try:
            otkit_mod = importlib.import_module(otkit_name)
        except Exception as error:  # noqa: BLE001 - reported, the run goes on
            _STATE["errors"].append(f"import {otkit_name}: {type(error).__name__}: {error}")
            continue
        try:
            pot_mod = importlib.import_module(pot_name)
        except Exception as error:  # noqa: BLE001
            _STATE["errors"].append(f"import {pot_name}: {type(error).__name__}: {error}")
            continue
        offered = set()
        for name in _public_names(otkit_mod):
            try:
                new = getattr(otkit_mod, name)
            except AttributeError as error:
                _STATE["errors"].append(f"{otkit_name}.{name} in __all__ but {error}")
                continue
            if isinstance(new, types.ModuleType):
                continue  # otkit.lp etc.: the module pairs handle those
            offered.add(name)
            if not hasattr(pot_mod, name):
                continue
            old = getattr(pot_mod, name)
            if track:
                new = wrapped.setdefault(id(new), _tracked(new, f"{otkit_name}.{name}"))
            setattr(pot_mod, name, new)
            _STATE["replaced"].append(f"{pot_name}.{name}")
            if _is_pot_object(old):
                mapping[id(old)] = (old, new)
        if mode == "strict" or track:
            for name in _public_names(pot_mod):
                if name in offered:
                    continue
                obj = getattr(pot_mod, name, None)
                if not _is_pot_object(obj):
                    continue
                if not hasattr(pot_mod, "__all__") and not obj.__module__.startswith(pot_name):
                    continue  # a helper imported from elsewhere (ot.datasets.check_random_state)
                missing_public.append((pot_mod, name, obj))
    # re-exports in POT's private modules (ot.bregman._sinkhorn.sinkhorn, ot.lp._network_simplex
    # .emd, ...): same object as a replaced public one
    public = {pot for _, pot in MODULE_PAIRS}
    for mod_name, module in list(sys.modules.items()):
        if not (mod_name.startswith("ot.") and module is not None):
            continue
        if mod_name.startswith("ot.backend") or mod_name in public:
            continue
        for attr, value in list(vars(module).items()):
            hit = mapping.get(id(value))
            if hit is not None and hit[0] is value:
                setattr(module, attr, hit[1])
                _STATE["reexports"].append(f"{mod_name}.{attr}")
    for pot_mod, name, obj in missing_public:
        qualname = f"{pot_mod.__name__}.{name}"
        if mode == "strict":
            setattr(pot_mod, name, _stub(qualname))
            _STATE["stubbed"].append(qualname)
        else:  # replace mode: POT's own function stays, its direct calls are recorded
            setattr(pot_mod, name, _tracked(obj, qualname, pot_only=True))
            _STATE["pot_only"].append(qualname)


# ---------------------------------------------------------------------------------------------
# pytest hooks
# ---------------------------------------------------------------------------------------------

_RESULTS: dict[str, dict] = {}


def pytest_configure(config):
    mode = os.environ.get("OTKIT_COMPAT_MODE", "replace")
    track = os.environ.get("OTKIT_COMPAT_TRACK", "1") != "0"
    install(mode, track=track)
    summary = (
        f"otkit-compat: mode={mode} replaced={len(_STATE['replaced'])} "
        f"reexports={len(_STATE['reexports'])} stubbed={len(_STATE['stubbed'])}"
    )
    print(summary, file=sys.stderr)
    for line in _STATE["errors"]:
        print(f"otkit-compat: {line}", file=sys.stderr)


def _category(path: str) -> str:
    path = path.replace("\\", "/")
    if "/otkit/" in path:
        return "otkit"
    if "/site-packages/ot/" in path:
        return "pot"
    test_dir = os.environ.get("OTKIT_COMPAT_TESTDIR")
    if test_dir and path.startswith(test_dir.rstrip("/") + "/"):
        return "test"
    return "other"


def _origin(tb_entries) -> tuple[str, str, str]:
    """Where the exception came from: the innermost frame in otkit, POT or the test files
    ('otkit'/'pot'/'test'/'other'), that frame as 'file:line', and the innermost file."""
    if not tb_entries:
        return "other", "", ""
    raised_in = f"{tb_entries[-1].filename}:{tb_entries[-1].lineno}"
    for frame in reversed(tb_entries):
        category = _category(frame.filename)
        if category != "other":
            return category, f"{frame.filename}:{frame.lineno}", raised_in
    return "other", raised_in, raised_in


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:400]
    return ""


def _exception_info(excinfo) -> dict:
    exc = excinfo.value
    entries = traceback.extract_tb(excinfo.tb)
    origin, where, raised_in = _origin(entries)
    return {
        "exc_type": type(exc).__name__,
        "error": f"{type(exc).__name__}: {_first_line(exc)}",
        "origin": origin,
        "where": where,
        "raised_in": raised_in,
        "otkit_in_traceback": any(_category(e.filename) == "otkit" for e in entries),
        "otkit_entered_from": _otkit_entry(entries),
        "expects_error": _expects_error(entries),
    }


def _expects_error(entries) -> bool:
    """Whether the innermost test-file frame sits in a ``raises`` check (``pytest.raises``,
    ``assert_raises``) written within the 3 lines above it: the test expected an exception,
    so an otkit exception there is a different exception type than POT's."""
    for frame in reversed(entries):
        if _category(frame.filename) == "test":
            lines = [
                linecache.getline(frame.filename, n)
                for n in range(frame.lineno - 3, frame.lineno + 1)
            ]
            return any("raises(" in line for line in lines)
    return False


def _otkit_entry(entries) -> str | None:
    """Who called into otkit on the failing path: 'test' (the test called an otkit function),
    'pot' (POT's own code, e.g. ot.solve_gromov, called otkit's replacement), or None."""
    caller = None
    for frame in entries:
        category = _category(frame.filename)
        if category == "otkit":
            return caller
        if frame.filename != __file__:  # the recording wrapper sits in between
            caller = category
    return None


def pytest_runtest_setup(item):
    _STATE["current"] = item.nodeid


def pytest_runtest_teardown(item):
    _STATE["current"] = item.nodeid


def _record(nodeid: str) -> dict:
    return _RESULTS.setdefault(nodeid, {"id": nodeid, "outcome": None})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    # runs before pytest's own implementation and returns None: reads the exception only
    if call.excinfo is None:
        return
    rec = _record(item.nodeid)
    if "exc_type" not in rec and not call.excinfo.errisinstance(pytest.skip.Exception):
        rec.update(_exception_info(call.excinfo))
        rec["phase"] = call.when


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return _first_line(longrepr[2] if isinstance(longrepr, tuple) else longrepr)


def pytest_runtest_logreport(report):
    rec = _record(report.nodeid)
    wasxfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            rec["outcome"] = "xpassed" if wasxfail else "passed"
        elif report.skipped:
            rec["outcome"] = "xfailed" if wasxfail else "skipped"
            rec["skip_reason"] = _skip_reason(report)
        else:
            rec["outcome"] = "failed"
    elif report.failed:  # setup or teardown error
        if rec["outcome"] in (None, "passed"):
            rec["outcome"] = "error"
    elif report.skipped and report.when == "setup":
        rec["outcome"] = "xfailed" if wasxfail else "skipped"
        rec["skip_reason"] = _skip_reason(report)
    if report.failed and "error" not in rec:
        crash = getattr(report.longrepr, "reprcrash", None)
        rec["error"] = _first_line(crash.message if crash is not None else report.longrepr)
        rec.setdefault("exc_type", rec["error"].split(":", 1)[0])
        rec.setdefault("origin", "other")
    if report.when == "teardown":
        calls = _STATE["calls"].pop(report.nodeid, None)
        if calls:
            rec["otkit_direct"] = sorted(calls["direct"])
            rec["otkit_via_pot"] = sorted(calls["via_pot"])
            rec["pot_only_called"] = sorted(calls["pot_only"])
        _STATE["current"] = None


def pytest_collectreport(report):
    if report.failed:
        rec = _record(report.nodeid or "<collection>")
        rec["outcome"] = "error"
        rec["phase"] = "collect"
        rec["error"] = _first_line(getattr(report.longrepr, "longrepr", None) or report.longrepr)
        text = str(report.longrepr)
        for line in reversed(text.splitlines()):
            if line.startswith("E "):
                rec["error"] = line[1:].strip()[:400]
                break
        rec["exc_type"] = rec["error"].split(":", 1)[0]
        rec["origin"] = "collect"


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("OTKIT_COMPAT_OUT")
    if not out:
        return
    with open(out, "w", encoding="utf-8") as fh:
        meta = {
            "meta": True,
            "mode": _STATE["mode"],
            "replaced": sorted(_STATE["replaced"]),
            "reexports": sorted(_STATE["reexports"]),
            "stubbed": sorted(_STATE["stubbed"]),
            "pot_only": sorted(_STATE["pot_only"]),
            "pot_skipped": _STATE["pot_skipped"],
            "errors": _STATE["errors"],
        }
        fh.write(json.dumps(meta) + "\n")
        fh.writelines(json.dumps(rec) + "\n" for rec in _RESULTS.values())
