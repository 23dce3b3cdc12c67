"""POT compatibility harness: does ``import otkit as ot`` give a POT user the same results?

Two measurements (see compat/README.md):

``python compat/pot_harness.py tests``
    runs POT's own test suite (downloaded at run time, never copied into this repository) with
    POT's public functions replaced by otkit's (pytest plugin ``otkit_pot_plugin``).
``python compat/pot_harness.py gallery --pot-repo GITDIR``
    runs the in-scope scripts of POT's example gallery with POT and with otkit (only the import
    lines rewritten) and compares what they print and what they plot (``_gallery.py``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
POT_VERSION = "0.9.7.post1"
DEFAULT_CACHE = Path(os.path.expanduser("~/.cache/otkit-compat"))

# POT test files of the families otkit offers, with the reason each one is in scope.
IN_SCOPE_TESTS = {
    "test_ot.py": "exact OT: emd/emd2, their options and gradients, LP and free-support barycenters",
    "test_bregman.py": "Sinkhorn family, empirical Sinkhorn, divergences, entropic barycenters",
    "test_1d_solver.py": "1D exact OT: emd_1d, emd2_1d, wasserstein_1d, 1D barycenters",
    "sliced/test_sliced_distances.py": "sliced and max-sliced Wasserstein distances",
    "unbalanced/test_sinkhorn.py": "unbalanced Sinkhorn (sinkhorn_unbalanced, ...2, barycenter)",
    "unbalanced/test_mm.py": "unbalanced OT by majorization-minimization (mm_unbalanced)",
    "unbalanced/test_1d_solver.py": "unbalanced 1D (uot_1d): the unbalanced family's 1D solver",
    "unbalanced/test_lbfgs.py": "unbalanced OT by L-BFGS-B: same family (ot.unbalanced)",
    "unbalanced/test_sliced.py": "sliced unbalanced OT: ot.unbalanced family (and sliced)",
    "test_utils.py": "ot.utils: dist, unif, OTResult and the helpers POT users call",
    "test_solvers.py": "ot.solve / ot.solve_sample (exact, entropic, unbalanced, 1D, sliced)",
    "test_plot.py": "ot.plot (plot1D_mat, plot2D_samples_mat)",
}

# Every other test file of POT 0.9.7, and why it is left out.
EXCLUDED_TESTS = {
    "test_helpers.py": "tests POT's build helpers (OpenMP flags, compiler), imported from POT's "
    "repository root: not an API, nothing otkit could replace",
    "test_backend.py": "POT's backend layer (ot.backend) stays POT's in this harness by design",
    "sliced/test_sliced_plans.py": "sliced transport plans: not offered by otkit",
    "sliced/test_spherical_sliced.py": "spherical sliced Wasserstein: not offered",
    "test_circle_solver.py": "Wasserstein on the circle: not offered",
    "test_gaussian.py": "Gaussian (Bures) OT: not offered",
    "test_gmm.py": "GMM OT: not offered",
    "test_da.py": "domain adaptation classes (ot.da): not offered",
    "test_dr.py": "dimension reduction (ot.dr, needs pymanopt): not offered",
    "test_partial.py": "partial OT: not offered",
    "test_smooth.py": "smooth/sparse OT (ot.smooth): not offered",
    "test_stochastic.py": "stochastic OT (ot.stochastic): not offered",
    "test_optim.py": "conditional gradient solvers (ot.optim): not offered",
    "test_weak.py": "weak OT: not offered",
    "test_lowrank.py": "low-rank Sinkhorn: not offered",
    "test_factored.py": "factored OT: not offered",
    "test_coot.py": "CO-optimal transport: not offered",
    "test_ucoot.py": "unbalanced CO-optimal transport: not offered",
    "test_dmmot.py": "d-MMOT: not offered",
    "test_mapping.py": "OT mapping estimation (ot.mapping): not offered",
    "test_regpath.py": "regularization path (ot.regpath): not offered",
    "test_gnn.py": "OT graph layers (needs torch_geometric): not offered",
    "test_bspot.py": "BSP-OT: not offered",
    "test_semidiscrete.py": "semi-discrete OT: not offered",
    "test_sgot.py": "Spectral-Grassmann OT: not offered",
    "gromov/": "Gromov-Wasserstein family: not offered",
    "batch/": "batched solvers (ot.batch): not offered",
}


# ---------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------


def otkit_revision() -> tuple[str, bool]:
    """(short commit of the otkit checkout, whether its tree has uncommitted changes outside
    compat/)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", ".", ":!compat"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    return commit, bool(status.strip())


def download_sdist(cache: Path) -> Path:
    """POT's sdist in ``cache`` (downloaded with pip on first use)."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"[pP][oO][tT]-{POT_VERSION}.tar.gz"))
    if found:
        return found[0]
    # ``--no-binary=:all:`` would also make pip build the sdist's *build* dependencies from
    # source (cmake, numpy: tens of minutes). ``--no-binary=pot`` fetches POT's sdist only, and
    # ``--no-build-isolation`` reads its metadata with the setuptools/Cython already installed.
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=pot"]
    target = [f"pot=={POT_VERSION}", "-d", str(cache)]
    for extra in (["--no-build-isolation"], []):
        print(f"downloading POT {POT_VERSION} sdist into {cache} ...", file=sys.stderr)
        done = subprocess.run(base + extra + target, capture_output=True, text=True, check=False)
        found = sorted(cache.glob(f"[pP][oO][tT]-{POT_VERSION}.tar.gz"))
        if found:
            return found[0]
        print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
    raise SystemExit(f"could not download POT {POT_VERSION}'s sdist with pip")


def _git_head(git_dir: Path) -> str:
    return subprocess.run(
        [
            "git",
            "--git-dir" if (git_dir / "HEAD").exists() else "-C",
            str(git_dir),
            "rev-parse",
            "HEAD",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def git_archive(git_dir: Path, folder: str, dest: Path) -> str:
    """Extract ``folder`` of ``git_dir``'s HEAD under ``dest``; return the commit."""
    flag = "--git-dir" if (git_dir / "HEAD").exists() else "-C"
    archive = subprocess.run(
        ["git", flag, str(git_dir), "archive", "--format=tar", "HEAD", folder],
        capture_output=True,
        check=True,
    ).stdout
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / ".archive.tar"
    tmp.write_bytes(archive)
    with tarfile.open(tmp) as tar:
        tar.extractall(dest, filter="data")
    tmp.unlink()
    return _git_head(git_dir)


def prepare_test_tree(cache: Path, pot_repo: Path | None) -> tuple[Path, dict]:
    """POT's ``test/`` folder in the cache, and where each of its files came from.

    POT 0.9.7.post1's sdist ships ``test/test_*.py`` but neither ``test/conftest.py`` (the
    ``nx`` backend fixture) nor the sub-folders (``sliced/``, ``unbalanced/``, ``gromov/``):
    those are taken from a POT git checkout (``--pot-repo``) with ``git archive``; the sdist's
    files win where both exist (they are the released 0.9.7 versions).
    """
    sdist = download_sdist(cache)
    root = cache / f"pot-{POT_VERSION}-tests"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    provenance: dict[str, str] = {}
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/test/" in m.name and m.isfile()]
        for m in members:
            rel = m.name.split("/test/", 1)[1]
            target = root / "test" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(m).read())
            provenance[rel] = f"sdist {sdist.name}"
    needed = ["conftest.py"] + [f for f in IN_SCOPE_TESTS if f not in provenance]
    missing = [f for f in needed if not (root / "test" / f).exists()]
    if missing:
        if pot_repo is None:
            raise SystemExit(
                f"POT's sdist lacks {', '.join(missing)}; pass --pot-repo GITDIR (a POT git "
                "checkout or mirror, e.g. /work/.mirror/PythonOT+POT/repo)"
            )
        scratch = cache / ".git-test"
        if scratch.exists():
            shutil.rmtree(scratch)
        commit = git_archive(pot_repo, "test", scratch)
        for path in sorted((scratch / "test").rglob("*")):
            rel = path.relative_to(scratch / "test").as_posix()
            if path.is_file() and rel not in provenance:
                target = root / "test" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                provenance[rel] = f"git {commit[:10]}"
        shutil.rmtree(scratch)
    (root / "PROVENANCE.json").write_text(json.dumps(provenance, indent=1, sort_keys=True))
    return root / "test", provenance


# ---------------------------------------------------------------------------------------------
# failure causes
# ---------------------------------------------------------------------------------------------

_RETURN_SHAPE = re.compile(
    r"not subscriptable|cannot unpack|unpack|not iterable|has no len|object is not callable"
    r"|shapes? mismatch|\(shapes|shape \(|broadcast|Mismatched dimensions|incompatible shape",
    re.IGNORECASE,
)


def classify(rec: dict) -> str:
    """A cause label for one failing test record of the plugin (heuristic, from the error).

    Failures on a path where POT's own code called otkit (``otkit_entered_from == 'pot'``,
    e.g. ``ot.solve_gromov`` calling otkit's ``sinkhorn``) get the prefix
    "inside a POT-only function: ".
    """
    label = _classify(rec)
    if rec.get("otkit_entered_from") == "pot":
        return "inside a POT-only function: " + label
    return label


def _classify(rec: dict) -> str:
    exc = rec.get("exc_type", "") or ""
    err = rec.get("error", "") or ""
    origin = rec.get("origin", "other")
    if rec.get("phase") == "collect":
        return "collection error (module path or name missing at import)"
    if exc == "OtkitMissingError":
        return "POT name that otkit lacks (strict mode)"
    if rec.get("expects_error") and origin == "otkit" and exc not in ("AssertionError",):
        return "different exception type (the test expects POT's)"
    if exc in ("ImportError", "ModuleNotFoundError"):
        return "missing module path or attribute"
    if exc == "AttributeError":
        if origin == "test" or "module 'ot" in err or "module 'otkit" in err:
            return "missing module path or attribute"
        return "missing attribute on a returned object (different return type)"
    if exc == "TypeError":
        if "unexpected keyword" in err or "got multiple values" in err:
            return "unexpected keyword argument"
        if "positional argument" in err:
            return "different positional arguments"
        if _RETURN_SHAPE.search(err):
            return "different return shape/type"
        if origin == "otkit":
            return "error where POT returns (TypeError raised by otkit)"
        return "TypeError elsewhere (type of a result or input)"
    if exc == "ValueError":
        if "unpack" in err:
            return "different return shape/type"
        if origin == "otkit":
            return "error where POT returns (ValueError raised by otkit)"
        return "ValueError elsewhere (shape/value of a result)"
    if exc == "KeyError":
        return "missing key in the log dict"
    if exc in ("NotImplementedError",):
        return "not implemented in otkit" if origin == "otkit" else "NotImplementedError"
    if exc in ("Failed",) or err.startswith("Failed:"):
        if "DID NOT RAISE" in err:
            return "no error where POT raises (otkit accepts the input)"
        if "DID NOT WARN" in err or "No warnings" in err:
            return "no warning where POT warns"
        return "pytest.fail"
    if exc == "AssertionError":
        if "DID NOT WARN" in err or "No warnings" in err:
            return "no warning where POT warns"
        if _RETURN_SHAPE.search(err):
            return "different return shape/type"
        if "Not equal to tolerance" in err or "not almost equal" in err or "Mismatched" in err:
            return "wrong numbers"
        return "assertion failed in the test (wrong numbers or flags)"
    if origin == "otkit":
        return f"{exc} raised by otkit"
    return f"{exc} ({origin})"


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------

_OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def _run_one_file(test_dir: Path, rel: str, args, out: Path) -> tuple[list, dict, float, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OTKIT_COMPAT_MODE"] = args.mode
    env["OTKIT_COMPAT_OUT"] = str(out)
    env["OTKIT_COMPAT_TESTDIR"] = str(test_dir)
    env["OTKIT_COMPAT_TRACK"] = "0" if args.no_track else "1"
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "otkit_pot_plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rN",
        "--tb=no",
        "--color=no",
        "--rootdir",
        str(test_dir.parent),
        "-o",
        "addopts=",
        str(test_dir / rel),
    ]
    if args.k:
        cmd += ["-k", args.k]
    if out.exists():
        out.unlink()
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cmd,
            cwd=test_dir.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
        )
        code, tail = done.returncode, (done.stdout + done.stderr)[-3000:]
    except subprocess.TimeoutExpired as exc:
        code, tail = -9, f"timed out after {args.timeout} s\n{exc.stdout or ''}"[-3000:]
    seconds = time.perf_counter() - start
    records, meta = [], {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("meta"):
                meta = rec
            else:
                records.append(rec)
    if not records and code not in (0, 5):
        records.append(
            {
                "id": rel,
                "outcome": "error",
                "phase": "run",
                "error": f"pytest exited with {code}: " + (tail.strip().splitlines() or [""])[-1],
                "exc_type": "Crash",
                "origin": "other",
            }
        )
    meta["pytest_tail"] = tail
    return records, meta, seconds, code


def cmd_tests(args) -> int:
    test_dir, provenance = prepare_test_tree(args.cache, args.pot_repo)
    files = args.files or list(IN_SCOPE_TESTS)
    unknown = [f for f in files if not (test_dir / f).exists()]
    if unknown:
        raise SystemExit(f"no such POT test file: {', '.join(unknown)}")
    commit, dirty = otkit_revision()
    baseline_fail: set[str] | None = None
    baseline_skip: set[str] | None = None
    if args.baseline_json:
        base = json.loads(Path(args.baseline_json).read_text())
        baseline_fail = {f["id"] for f in base["failures"]}
        if "skipped" in base:
            baseline_skip = set(base["skipped"])
    report = {
        "kind": "tests",
        "mode": args.mode,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "otkit_commit": commit,
        "otkit_tree_dirty": dirty,
        "pot_version": _pot_version(),
        "test_sources": {f: provenance.get(f, "?") for f in ["conftest.py", *files]},
        "k": args.k,
        "files": {},
        "totals": dict.fromkeys(_OUTCOMES, 0),
        "failures": [],
        "skipped": {},
    }
    report["totals"]["exercised_otkit"] = 0
    report["totals"]["passed_with_pot_only"] = 0
    report["passed_with_pot_only"] = {}
    pot_only_use: Counter = Counter()
    scratch = args.cache / f"results-{args.mode}"
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"POT tests, mode={args.mode}, otkit {commit}{' (dirty tree)' if dirty else ''}")
    print(
        f"{'file':40s} {'pass':>5s} {'fail':>5s} {'err':>5s} {'skip':>5s} {'xfail':>5s}"
        f" {'otkit':>6s} {'sec':>6s}"
    )
    for rel in files:
        out = scratch / (rel.replace("/", "__") + ".jsonl")
        records, meta, seconds, code = _run_one_file(test_dir, rel, args, out)
        counts = Counter(r.get("outcome") or "error" for r in records)
        row = {k: counts.get(k, 0) for k in _OUTCOMES}
        row["exercised_otkit"] = sum(1 for r in records if r.get("otkit_direct"))
        # passed, but only because a POT function otkit lacks was there to call
        row["passed_with_pot_only"] = sum(
            1 for r in records if r.get("outcome") == "passed" and r.get("pot_only_called")
        )
        for r in records:
            for name in r.get("pot_only_called", []):
                pot_only_use[name] += 1
            if r.get("outcome") == "passed" and r.get("pot_only_called"):
                report["passed_with_pot_only"][r["id"]] = r["pot_only_called"]
        row["seconds"] = round(seconds, 1)
        row["pytest_exit"] = code
        report["files"][rel] = row
        for key in (*_OUTCOMES, "exercised_otkit", "passed_with_pot_only"):
            report["totals"][key] += row[key]
        for key in ("replaced", "reexports", "stubbed", "pot_only", "pot_skipped", "errors"):
            if key in meta and key not in report:
                report[key] = meta[key]
        if code not in (0, 1, 5):
            row["pytest_tail"] = meta.get("pytest_tail", "")[-1500:]
        for rec in records:
            if rec.get("outcome") == "skipped":
                report["skipped"][rec["id"]] = rec.get("skip_reason", "")
            if rec.get("outcome") in ("failed", "error"):
                entry = {
                    "id": rec["id"],
                    "file": rel,
                    "outcome": rec["outcome"],
                    "error": rec.get("error", ""),
                    "exc_type": rec.get("exc_type", ""),
                    "origin": rec.get("origin", ""),
                    "where": rec.get("where", ""),
                    "raised_in": rec.get("raised_in", ""),
                    "otkit_entered_from": rec.get("otkit_entered_from"),
                    "expects_error": rec.get("expects_error", False),
                    "otkit_direct": rec.get("otkit_direct", []),
                    "otkit_via_pot": rec.get("otkit_via_pot", []),
                    "pot_only_called": rec.get("pot_only_called", []),
                    "cause": classify(rec),
                }
                if baseline_fail is not None:
                    entry["fails_on_pot_alone"] = rec["id"] in baseline_fail
                report["failures"].append(entry)
        print(
            f"{rel:40s} {row['passed']:5d} {row['failed']:5d} {row['error']:5d} "
            f"{row['skipped']:5d} {row['xfailed']:5d} {row['exercised_otkit']:6d} "
            f"{seconds:6.0f}" + ("" if code in (0, 1, 5) else f"  (pytest exit {code})"),
            flush=True,
        )
    t = report["totals"]
    print(
        f"{'TOTAL':40s} {t['passed']:5d} {t['failed']:5d} {t['error']:5d} {t['skipped']:5d} "
        f"{t['xfailed']:5d} {t['exercised_otkit']:6d}"
    )
    if baseline_skip is not None:
        # skipped here but not on POT alone: often a test that skips on NotImplementedError
        report["skipped_not_on_pot"] = {
            k: v for k, v in report["skipped"].items() if k not in baseline_skip
        }
        if report["skipped_not_on_pot"]:
            print(f"{len(report['skipped_not_on_pot'])} tests skipped that POT alone runs")
    report["pot_only_names_called"] = dict(pot_only_use.most_common())
    if t["passed_with_pot_only"]:
        print(
            f"{t['passed_with_pot_only']} passing tests also called POT functions otkit lacks "
            f"(most used: {', '.join(n for n, _ in pot_only_use.most_common(8))})"
        )
    causes: dict[str, list] = defaultdict(list)
    for f in report["failures"]:
        if not f.get("fails_on_pot_alone"):
            causes[f["cause"]].append(f["id"])
    report["causes"] = {
        c: {"count": len(ids), "example": ids[0]}
        for c, ids in sorted(causes.items(), key=lambda kv: -len(kv[1]))
    }
    if report["causes"]:
        print("\nfailures by cause" + (" (not failing on POT alone)" if baseline_fail else ""))
        for c, v in report["causes"].items():
            print(f"  {v['count']:5d}  {c}   e.g. {v['example']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"\nJSON report: {args.json}")
    return 0


def _pot_version() -> str:
    try:
        from importlib.metadata import version

        return version("pot")
    except Exception:  # noqa: BLE001 - informative only
        return "unknown"


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"download/extract folder (default {DEFAULT_CACHE})",
    )
    common.add_argument(
        "--pot-repo",
        type=Path,
        default=None,
        help="POT git checkout or mirror (test/ files the sdist lacks; examples)",
    )
    common.add_argument("--json", help="write the full report to this JSON file")
    sub = parser.add_subparsers(dest="command", required=True)

    tests = sub.add_parser("tests", parents=[common], help="run POT's test suite against otkit")
    tests.add_argument("-k", default=None, help="pytest -k expression")
    tests.add_argument("--files", nargs="+", help="test files (relative to POT's test/)")
    group = tests.add_mutually_exclusive_group()
    group.add_argument(
        "--baseline",
        action="store_const",
        dest="mode",
        const="baseline",
        help="no replacement: POT alone (what fails in this environment)",
    )
    group.add_argument(
        "--strict",
        action="store_const",
        dest="mode",
        const="strict",
        help="also stub every POT public name otkit lacks (fails when called)",
    )
    tests.set_defaults(mode="replace")
    tests.add_argument(
        "--baseline-json",
        help="a --baseline report: flag failures that "
        "also fail on POT alone and leave them out of the cause summary",
    )
    tests.add_argument("--timeout", type=int, default=3600, help="seconds per test file")
    tests.add_argument(
        "--no-track",
        action="store_true",
        help="do not wrap otkit functions to record which tests call them",
    )

    gallery = sub.add_parser(
        "gallery", parents=[common], help="run POT's gallery scripts with POT and otkit"
    )
    gallery.add_argument("--examples", type=Path, help="folder of example scripts")
    gallery.add_argument("--scripts", nargs="+", help="only these scripts (paths or names)")
    gallery.add_argument("--timeout", type=int, default=600, help="seconds per script run")
    gallery.add_argument("--rtol", type=float, default=1e-5)
    gallery.add_argument("--atol", type=float, default=1e-8)
    gallery.add_argument("--keep", action="store_true", help="keep the temporary folders")
    gallery.add_argument(
        "--no-pot-twice",
        dest="pot_twice",
        action="store_false",
        help="skip the second POT run (it tells reproducible numbers from run-to-run noise)",
    )

    args = parser.parse_args(argv)
    args.cache = args.cache.expanduser()
    if args.command == "tests":
        return cmd_tests(args)
    from _gallery import cmd_gallery  # sibling module (compat/ is on sys.path)

    return cmd_gallery(args, otkit_revision)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
