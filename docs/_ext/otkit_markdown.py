"""The little Markdown the README and the benchmark reports use, rendered as reST.

The documentation shows some Markdown verbatim: the README's "What runs where" table and its
performance table, and the reports in ``benchmarks/results/*.md``. Rather than copying their
numbers into the docs by hand (where they would go stale), the build converts them. Only what
those files use is supported: ``#`` headings, paragraphs, ``-`` bullet lists, pipe tables,
and inline code, bold and links. Anything else is kept as plain, escaped text.

A ``resolve`` callback turns an inline code span that names an otkit object (``emd2``,
``ot.bregman.sinkhorn_knopp``) into a cross-reference; a ``link`` callback rewrites links
(``benchmarks/results/emd.md`` becomes a reference to that report's section).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = [
    "TableSyntaxError",
    "document_rst",
    "find_table_after_heading",
    "inline_rst",
    "lines_between_markers",
    "parse_table",
    "table_rst",
]

Resolve = Callable[[str], "str | None"]  # code span -> reST role text, or None
Link = Callable[[str, str], "str | None"]  # (text, url) -> reST, or None for plain text

# A code span (one or two backticks), bold text, or a link [text](url).
_INLINE = re.compile(
    r"(?P<code>``(?P<code2>.+?)``|`(?P<code1>[^`]+)`)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<text>[^\]]+)\]\((?P<url>[^)\s]+)\)"
)
# Characters reST reads as markup inside a paragraph.
_SPECIAL = re.compile(r"([\\*`_|])")
# What reST would read as the start of an enumerated or bullet list, or of a field list.
_ENUMERATOR = re.compile(r"^(\(?)(\d+|#|[A-Za-z]|[ivxlcdmIVXLCDM]+)([.)])(\s|$)")


class TableSyntaxError(ValueError):
    """A Markdown table whose rows do not all have the header's number of cells."""


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def _protect_line_start(text: str) -> str:
    """Escape what would make reST start a list or a block at the beginning of a cell."""
    match = _ENUMERATOR.match(text)
    if match:
        start = match.start(3)
        return text[:start] + "\\" + text[start:]
    if text[:1] in {"-", "+", "•", ":", ".", "=", ">", "#"}:
        return "\\" + text
    return text


def _literal(code: str) -> str:
    # reST literals cannot contain a backquote pair; the reports never need one.
    return f"``{code}``" if "``" not in code else _escape(code)


def inline_rst(text: str, resolve: Resolve | None = None, link: Link | None = None) -> str:
    """One line of Markdown inline text as reST inline text.

    Markup is wrapped in escaped spaces (``\\ ``, which reST drops) so that it is recognised
    whatever characters touch it (``(`None`)``, ``**0.88**;``).
    """
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[position : match.start()]))
        if match.group("code") is not None:
            code = (
                match.group("code2") if match.group("code2") is not None else match.group("code1")
            )
            code = code.strip()
            rendered = (resolve(code) if resolve else None) or _literal(code)
        elif match.group("bold") is not None:
            rendered = f"**{_escape(match.group('bold'))}**"
        else:
            label, url = match.group("text"), match.group("url")
            rendered = link(label, url) if link else None
            if rendered is None:
                rendered = _escape(label)
                out.append(rendered)
                position = match.end()
                continue
        out.append(f"\\ {rendered}\\ ")
        position = match.end()
    out.append(_escape(text[position:]))
    # An escaped space at either end is useless there and reST may warn about it.
    result = re.sub(r"^\s*(\\ )+", "", "".join(out))
    result = re.sub(r"(\\ )+\s*$", "", result).strip()
    if result and not text.lstrip().startswith(("`", "**", "[")):
        result = _protect_line_start(result)
    return result


def _split_row(line: str) -> list[str]:
    body = line.strip()
    body = body.removeprefix("|")
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells = re.split(r"(?<!\\)\|", body)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def parse_table(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a Markdown pipe table (its delimiter row is dropped)."""
    if len(lines) < 2 or not re.fullmatch(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?", lines[1].strip()):
        raise TableSyntaxError(f"not a Markdown table (no delimiter row): {lines[:2]!r}")
    header = _split_row(lines[0])
    rows = [_split_row(line) for line in lines[2:]]
    for row in rows:
        if len(row) != len(header):
            raise TableSyntaxError(
                f"a table row has {len(row)} cells, its header {len(header)}: {row!r}"
            )
    return header, rows


def table_rst(
    header: list[str],
    rows: Iterable[list[str]],
    *,
    resolve: Resolve | None = None,
    link: Link | None = None,
    css_class: str | None = None,
    widths: list[int] | None = None,
    caption: str = "",
) -> list[str]:
    """A ``list-table`` directive (header row first) from cells of Markdown inline text; a
    table without rows (a report whose run filled none) becomes a sentence saying so."""
    rows = list(rows)
    if not rows:
        return ["*(No rows in this run.)*", ""]
    lines = [f".. list-table:: {caption}".rstrip(), "   :header-rows: 1"]
    lines.append(f"   :widths: {' '.join(map(str, widths))}" if widths else "   :widths: auto")
    if css_class:
        lines.append(f"   :class: {css_class}")
    lines.append("")
    for row in [header, *rows]:
        for index, cell in enumerate(row):
            text = inline_rst(cell, resolve, link)
            lines.append(f"   {'*' if index == 0 else ' '} - {text}".rstrip())
    return lines + [""]


def lines_between_markers(text: str, start: str, end: str) -> list[str]:
    """The lines strictly between the lines holding ``start`` and ``end``."""
    lines = text.splitlines()
    try:
        first = next(i for i, line in enumerate(lines) if start in line)
        last = next(i for i in range(first + 1, len(lines)) if end in lines[i])
    except StopIteration:
        raise ValueError(f"markers {start!r} ... {end!r} not found") from None
    return lines[first + 1 : last]


def find_table_after_heading(text: str, heading: str) -> list[str]:
    """The lines of the first pipe table under the Markdown heading ``heading``."""
    lines = text.splitlines()
    pattern = re.compile(rf"^#+\s+{re.escape(heading)}\s*$")
    start = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
    if start is None:
        raise ValueError(f"no heading {heading!r}")
    table: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.lstrip().startswith("|"):
            table.append(line)
        elif table:
            break
    if not table:
        raise ValueError(f"no table under the heading {heading!r}")
    return table


def document_rst(
    text: str,
    *,
    heading_marks: str,
    label: Callable[[int, str], str | None] | None = None,
    resolve: Resolve | None = None,
    link: Link | None = None,
    table_class: str | None = None,
) -> list[str]:
    """A Markdown document as reST.

    ``heading_marks[k]`` underlines the headings of level ``k + 1`` (``#`` is level 1);
    ``label(level, title)`` may return a label to put before a heading.
    """
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading:
            level, title_md = len(heading.group(1)), heading.group(2)
            title = inline_rst(title_md, None, None)
            mark = heading_marks[min(level, len(heading_marks)) - 1]
            name = label(level, title_md) if label else None
            if name:
                out += [f".. _{name}:", ""]
            out += [title, mark * max(len(title), 3), ""]
            i += 1
        elif stripped.startswith("|"):
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i])
                i += 1
            header, rows = parse_table(block)
            out += table_rst(header, rows, resolve=resolve, link=link, css_class=table_class)
        elif re.match(r"^[-*]\s+", stripped):
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                item = re.sub(r"^\s*[-*]\s+", "", lines[i])
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                    item += " " + lines[i].strip()
                    i += 1
                out.append(f"- {inline_rst(item, resolve, link)}")
            out.append("")
        else:
            paragraph = [stripped]
            i += 1
            while (
                i < len(lines) and lines[i].strip() and not re.match(r"^(#|\||\s*[-*]\s)", lines[i])
            ):
                paragraph.append(lines[i].strip())
                i += 1
            out += [inline_rst(" ".join(paragraph), resolve, link), ""]
    return out
