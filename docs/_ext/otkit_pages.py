"""Pages generated from the README and from ``benchmarks/results/`` at every build.

- ``generated_runs_where.rst`` (included by ``user_guide.rst``): the README's "What runs
  where" table, so that the README and the site show the same table;
- ``generated_performance.rst`` (included by ``performance.rst``): the README's performance
  summary and every benchmark report, so that no number is copied by hand.

Both tables must cover every public function: :func:`coverage_problems` lists those the
README's table and the user guide's "Which function for which job" table leave out, and
``conf.py`` reports them as build warnings (errors in CI).
"""

from __future__ import annotations

import re
from pathlib import Path

from otkit_api import ApiModel
from otkit_markdown import (
    document_rst,
    find_table_after_heading,
    lines_between_markers,
    parse_table,
    table_rst,
)

__all__ = [
    "RUNS_WHERE_HEADING",
    "coverage_problems",
    "job_table_targets",
    "make_resolver",
    "performance_rst",
    "runs_where_rst",
    "runs_where_targets",
]

RUNS_WHERE_HEADING = "What runs where"
PERF_MARKERS = ("<!-- perf-table-start -->", "<!-- perf-table-end -->")
JOB_HEADING = "Which function for which job"
# Benchmark reports in the order of the families; others follow alphabetically.
REPORT_ORDER = ["emd", "1d", "sliced", "sinkhorn", "barycenter", "divergence"]

_NAME = re.compile(r"^(?:ot(?:kit)?\.)?([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)$")


def make_resolver(model: ApiModel, *, flat_only: bool = False):
    """``resolve(code)``: the family path an inline code span names, or None.

    ``emd2`` and ``ot.emd2`` are the flat names; ``ot.lp.barycenter`` a family path; a bare
    name that only one family exports (``sinkhorn_knopp``) is that family's.
    """
    by_name: dict[str, list[str]] = {}
    for path in model.pages:
        by_name.setdefault(path.rsplit(".", 1)[1], []).append(path)

    def resolve(code: str) -> str | None:
        match = _NAME.match(code.strip())
        if not match:
            return None
        name = match.group(1)
        path = model.aliases.get(f"otkit.{name}")
        if path or flat_only:
            return path
        if f"otkit.{name}" in model.pages:
            return f"otkit.{name}"
        candidates = by_name.get(name, [])
        return candidates[0] if len(candidates) == 1 else None

    return resolve


def _role(resolve):
    def role(code: str) -> str | None:
        path = resolve(code)
        return f":py:obj:`{code} <{path}>`" if path else None

    return role


def _code_spans(cell: str) -> list[str]:
    return [a or b for a, b in re.findall(r"``(.+?)``|`([^`]+)`", cell)]


def runs_where_rows(readme: str) -> tuple[list[str], list[list[str]]]:
    return parse_table(find_table_after_heading(readme, RUNS_WHERE_HEADING))


def runs_where_targets(readme: str, model: ApiModel) -> set[str]:
    """Family paths named in the first column of the README's "What runs where" table."""
    resolve = make_resolver(model)
    _, rows = runs_where_rows(readme)
    return {path for row in rows for code in _code_spans(row[0]) if (path := resolve(code))}


def runs_where_rst(readme: str, model: ApiModel) -> list[str]:
    header, rows = runs_where_rows(readme)
    lines = [".. This file is written by conf.py from README.md: edit the README's table.", ""]
    widths = [34, 12, 13, 13, 16, 12] if len(header) == 6 else None
    return lines + table_rst(
        header, rows, resolve=_role(make_resolver(model)), css_class="runs-where", widths=widths
    )


def job_table_targets(guide: str, model: ApiModel) -> set[str]:
    """Family paths the user guide's "Which function for which job" section links to."""
    lines = guide.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == JOB_HEADING), None)
    if start is None:
        return set()
    end = next(
        (i for i in range(start + 2, len(lines)) if re.fullmatch(r"-{3,}", lines[i].strip())),
        len(lines),
    )
    section = "\n".join(lines[start:end])
    targets = set()
    for text in re.findall(r":(?:py:)?(?:func|class|obj|data|meth):`([^`]+)`", section):
        target = re.sub(r"^.*<(.+)>$", r"\1", text).lstrip("~!")
        targets.add(model.canonical(target) or target)
    return targets


def coverage_problems(model: ApiModel, readme: str, guide: str) -> list[str]:
    """Public functions missing from the README's "What runs where" or the job table."""
    problems = []
    try:
        where = runs_where_targets(readme, model)
    except ValueError as error:
        return [f"README.md: {error}"]
    missing = sorted(set(model.pages) - where)
    if missing:
        problems.append(
            f"README.md's '{RUNS_WHERE_HEADING}' table has no row for {', '.join(missing)} "
            "(name each function in a code span of the first column)"
        )
    missing = sorted(set(model.pages) - job_table_targets(guide, model))
    if missing:
        problems.append(
            f"user_guide.rst's '{JOB_HEADING}' table does not link {', '.join(missing)}"
        )
    return problems


def _report_order(path: Path) -> tuple[int, str]:
    stem = path.stem
    return (REPORT_ORDER.index(stem) if stem in REPORT_ORDER else len(REPORT_ORDER), stem)


def performance_rst(readme: str, results: Path, model: ApiModel) -> list[str]:
    """The README's performance summary, then every report of ``results``, as reST."""
    reports = sorted(results.glob("*.md"), key=_report_order)
    stems = {path.stem for path in reports}
    resolve = _role(make_resolver(model, flat_only=True))

    def link(text: str, url: str) -> str | None:
        match = re.fullmatch(r"(?:\.\./)*(?:benchmarks/)?(?:results/)?([\w-]+)\.md", url)
        if match and match.group(1) in stems:
            return f":ref:`{text} <perf-{match.group(1)}>`"
        if re.match(r"https?://", url):
            return f"`{text} <{url}>`__"
        return None

    lines = [".. This file is written by conf.py from README.md and benchmarks/results/.", ""]
    lines += ["Summary", "-------", ""]
    summary = "\n".join(lines_between_markers(readme, *PERF_MARKERS))
    lines += document_rst(
        summary, heading_marks="~^", resolve=resolve, link=link, table_class="perf-table"
    )
    for path in reports:
        text = path.read_text(encoding="utf-8")
        stem = path.stem
        lines += document_rst(
            text,
            heading_marks="-~^",
            label=lambda level, _title, stem=stem: f"perf-{stem}" if level == 1 else None,
            resolve=resolve,
            link=link,
            table_class="perf-table",
        )
        lines += [f"Source: ``benchmarks/results/{path.name}``.", ""]
    return lines
