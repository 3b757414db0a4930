"""SQL text as the SQL tasks need it: split into statements, named parameters bound.

Both scan the text once, skipping what is not code: quoted strings and identifiers,
PostgreSQL's dollar-quoted bodies (`$$...$$`, `$fn$...$fn$`) and comments, so a `;` or a
`:name` inside them is left alone (Kestra's SqlSplitter does the same walk).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _pieces(sql: str) -> Iterator[tuple[bool, str]]:
    """(is code, text) runs of `sql`: code, or a literal/comment to copy as it is."""
    i, start, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        end = -1
        if ch in "'\"`":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # a doubled quote is the quote
                        end += 2
                        continue
                    break
                end += 1
            end = min(end + 1, n)
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            end = n if newline < 0 else newline
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end = n if close < 0 else close + 2
        elif ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag:
                close = sql.find(tag.group(0), tag.end())
                end = n if close < 0 else close + len(tag.group(0))
        if end < 0:
            i += 1
            continue
        if start < i:
            yield True, sql[start:i]
        yield False, sql[i:end]
        i = start = end
    if start < n:
        yield True, sql[start:]


def split_statements(sql: str) -> list[str]:
    """The non-empty statements of `sql`, without their `;`."""
    statements: list[str] = []
    current: list[str] = []
    for is_code, text in _pieces(sql):
        if not is_code:
            current.append(text)
            continue
        parts = text.split(";")
        for part in parts[:-1]:
            current.append(part)
            statements.append("".join(current))
            current = []
        current.append(parts[-1])
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(is_code and text.strip() for is_code, text in _pieces(statement))


def bind_named(
    sql: str, parameters: Mapping[str, Any], placeholder: str, percent_escaped: bool
) -> tuple[str, list[Any]]:
    """`:name` placeholders in order replaced by the driver's `placeholder` (`?` or `%s`),
    with their values, as Kestra binds them. PostgreSQL's `::type` casts are not names.
    With `percent_escaped` (psycopg), a literal `%` in the code is doubled."""
    out: list[str] = []
    values: list[Any] = []
    for is_code, text in _pieces(sql):
        if not is_code:
            out.append(text.replace("%", "%%") if percent_escaped else text)
            continue
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == ":" and text.startswith("::", i):
                out.append("::")
                i += 2
                continue
            name = _NAME.match(text, i + 1) if ch == ":" else None
            if name is not None and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                out.append(placeholder)
                # A name missing from `parameters` binds NULL, as on Kestra.
                values.append(parameters.get(name.group(0)))
                i = name.end()
                continue
            out.append("%%" if percent_escaped and ch == "%" else ch)
            i += 1
    return "".join(out), values


def positional(sql: str, placeholder: str, percent_escaped: bool) -> tuple[str, int]:
    """JDBC's `?` placeholders as the driver's `placeholder`, and how many there are; a
    `?` in a literal or comment is left alone (PostgreSQL's `?|` JSON operators are not
    placeholders either)."""
    out: list[str] = []
    count = 0
    for is_code, text in _pieces(sql):
        if not is_code:
            out.append(text.replace("%", "%%") if percent_escaped else text)
            continue
        for i, ch in enumerate(text):
            if ch == "?" and not text.startswith(("?|", "?&"), i):
                out.append(placeholder)
                count += 1
            else:
                out.append("%%" if percent_escaped and ch == "%" else ch)
    return "".join(out), count
