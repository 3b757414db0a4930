"""Collection filters with Pebble's and Kestra's meaning: chunk, flatten, keys, values,
merge, slice, sort, rsort, reverse, split (a Java regular expression), and jq."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jq as jqlib

from streams.core.expressions import budget, patterns
from streams.core.expressions.errors import ExpressionError
from streams.core.expressions.values import to_json, to_text


def chunk(value: Any, size: int) -> Any:
    """Kestra: the list cut into lists of `size` items (the last one may be shorter)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ExpressionError(
            "", f"'chunk' filter can only be applied to List. Actual type was: {_kind(value)}"
        )
    if not isinstance(size, int) or size <= 0:
        raise ExpressionError("", "'chunk' filter expects a positive size")
    return [list(value[i : i + size]) for i in range(0, len(value), size)]


def flatten(value: Any) -> Any:
    """Kestra: one level of nested lists merged into the outer list."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ExpressionError("", "The 'flatten' filter can only be applied to lists.")
    out: list[Any] = []
    for item in value:
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


def keys(value: Any) -> Any:
    """Kestra: a map's keys, or a list's indexes."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, list | tuple):
        return list(range(len(value)))
    raise ExpressionError(
        "",
        f"'keys' filter can only be applied to List, Map, Array. Actual type was: {_kind(value)}",
    )


def values(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.values())
    raise ExpressionError(
        "", f"'values' filter can only be applied to Map. Actual type was: {_kind(value)}"
    )


def merge(value: Any, items: Any) -> Any:
    """Pebble: the left side's kind wins; a map merged with a list maps each item to itself,
    a list merged with a map gets its entries (as [key, value] pairs here)."""
    if value is None:
        if items is None:
            raise ExpressionError("", "The two arguments to be merged are null")
        return items
    if items is None:
        return value
    if isinstance(value, Mapping):
        if isinstance(items, Mapping):
            return {**value, **items}
        if isinstance(items, list | tuple):
            return {**value, **{item: item for item in items}}
        raise ExpressionError("", "Currently, only Maps and Lists can be merged with a Map.")
    if isinstance(value, list | tuple):
        if isinstance(items, Mapping):
            return [*value, *([k, v] for k, v in items.items())]
        if isinstance(items, list | tuple):
            return [*value, *items]
        raise ExpressionError("", "Currently, only Maps and Lists can be merged with a List.")
    raise ExpressionError("", "The object being filtered is not a Map/List/Array")


def slice_(value: Any, fromIndex: int | None = None, toIndex: int | None = None) -> Any:
    """Pebble's slice(fromIndex, toIndex) of a list or a text (not Jinja's `slice`)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple | str):
        raise ExpressionError(
            "", f"Slice filter can only be applied to String, List and array inputs: {_kind(value)}"
        )
    start = 0 if fromIndex is None else int(fromIndex)
    if start < 0:
        raise ExpressionError("", "fromIndex must be greater than 0")
    end = len(value) if toIndex is None else int(toIndex)
    if toIndex is not None and end > len(value):
        raise ExpressionError("", f"toIndex must be smaller than input size: {len(value)}")
    if toIndex is not None and start >= end:
        raise ExpressionError("", "toIndex must be greater than fromIndex")
    part = value[start:end]
    return list(part) if isinstance(part, tuple) else part


def _sortable(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value)
    if isinstance(value, str):
        raise ExpressionError("", "sort: a text cannot be sorted (a list is expected)")
    return list(value)


def sort(
    value: Any,
    reverse: bool = False,
    case_sensitive: bool = True,
    attribute: str | int | None = None,
) -> Any:
    """Pebble: natural order, case-sensitive (Jinja's keyword arguments still work)."""
    items = _sortable(value)

    def key(item: Any) -> Any:
        indexable = isinstance(item, Mapping) or (
            isinstance(item, list | tuple) and (isinstance(attribute, int))
        )
        if attribute is not None and indexable:
            item = item[attribute]
        return item.lower() if isinstance(item, str) and not case_sensitive else item

    try:
        return sorted(items, key=key, reverse=reverse)
    except TypeError as exc:
        raise ExpressionError("", f"sort: the items cannot be compared ({exc})") from None


def rsort(value: Any) -> Any:
    return sort(value, reverse=True)


def reverse(value: Any) -> Any:
    """A reversed text or list (a list, not Jinja's iterator)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(list(value)))


def split(value: Any, delimiter: str, limit: int | None = None) -> Any:
    """Java's String.split: `delimiter` is a regular expression; without a limit (or 0),
    trailing empty pieces are dropped; a positive limit caps the number of pieces."""
    if value is None:
        return None
    if not isinstance(delimiter, str):
        raise ExpressionError("", "missing delimiter parameter in split filter")
    text = to_text(value)
    count = 0 if limit is None else int(limit)
    pieces = patterns.split(delimiter, text, count - 1 if count > 0 else 0)
    if count == 0 and len(pieces) > 1:
        while pieces and pieces[-1] == "":
            pieces.pop()
    return pieces


# --- jq --------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    try:
        return jqlib.compile(expression)
    except ValueError as exc:
        raise ExpressionError("", f"invalid jq expression {expression!r}: {exc}") from None


def jq(value: Any, expression: str) -> Any:
    """Kestra's jq: the list of every result of `expression` on the value (a text is read
    as JSON first), so `| jq('.a') | first` gives the first one."""
    if value is None:
        return None
    if not isinstance(expression, str):
        raise ExpressionError("", "The 'jq' filter expects an argument 'expression'.")
    program = _program(expression)
    budget.check_serializable(value)
    text = value if isinstance(value, str) else to_json(value)
    try:
        results = program.input_text(text).all()
    except ValueError as exc:
        shown = text if len(text) <= 100 else text[:97] + "..."
        raise ExpressionError(
            "", f"Failed to resolve JQ expression {expression!r} and value {shown!r}: {exc}"
        ) from None
    return budget.check_result(list(results))


def _kind(value: Any) -> str:
    return type(value).__name__
