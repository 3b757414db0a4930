"""Filters and tests under their Kestra/Pebble names.

Where Pebble and Jinja disagree (`default`, `capitalize`, `first`, `replace`...), Pebble's
behaviour wins because flows are written against Kestra's documentation. Filters raise
ExpressionError with an empty expression; the engine fills in the template source.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import Undefined

from streams.core.expressions import (
    dates,
    filters_collections,
    filters_data,
    filters_text,
    patterns,
)
from streams.core.expressions.errors import ExpressionError
from streams.core.expressions.values import is_empty, to_json, to_text


def _str(value: Any) -> str:
    return to_text(value)


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    # Pebble: undefined, null, "" and empty collections all take the default. `boolean`
    # is accepted for Jinja compatibility and also sends other falsy values to the default.
    if is_empty(value) or (boolean and not value):
        return default_value
    return value


def first(value: Any) -> Any:
    if isinstance(value, str):
        return value[:1]
    return next(iter(value), None)


def last(value: Any) -> Any:
    if isinstance(value, str):
        return value[-1:]
    if isinstance(value, Mapping):
        value = list(value)
    try:
        return value[-1] if len(value) else None
    except TypeError:
        items = list(value)
        return items[-1] if items else None


def join(value: Iterable[Any], separator: str = "") -> str:
    return separator.join(_str(v) for v in value)


def length(value: Any) -> int:
    return 0 if value is None else len(value)


def replace(value: Any, *args: Any, regexp: bool = False) -> Any:
    """Kestra `replace({'a': 'b', ...}, regexp=false)` (also inside maps and lists, where
    every leaf becomes text), or Jinja `replace(old, new[, count])`."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {
            k: replace(v if v is not None else "null", *args, regexp=regexp)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [replace(v if v is not None else "null", *args, regexp=regexp) for v in value]
    text = _str(value)
    if len(args) == 1 and isinstance(args[0], Mapping):
        pairs = [(str(k), _str(v)) for k, v in args[0].items()]
    elif len(args) in (2, 3):
        count = int(args[2]) if len(args) == 3 else -1
        if regexp:
            return patterns.substitute(str(args[0]), _str(args[1]), text, count=max(count, 0))
        return text.replace(str(args[0]), _str(args[1]), count)
    else:
        raise ExpressionError("", "replace expects a mapping, or an old and a new string")
    for old, new in pairs:
        if regexp:
            text = patterns.substitute(old, patterns.java_replacement(new), text)
        else:
            text = text.replace(old, new)
    return text


def capitalize(value: Any) -> str:
    text = _str(value)
    return text[:1].upper() + text[1:]


def number(value: Any, kind: str | None = None) -> int | float:
    if isinstance(value, bool):
        return int(value)
    try:
        if isinstance(value, int | float):
            parsed: int | float = value
        else:
            text = _str(value).strip()
            try:
                parsed = int(text)
            except ValueError:
                parsed = float(text)
    except ValueError:
        raise ExpressionError("", f"{value!r} is not a number") from None
    if kind is None:
        return parsed
    if kind.upper() in ("INT", "INTEGER", "LONG", "BIGINTEGER", "SHORT", "BYTE"):
        return int(parsed)
    if kind.upper() in ("FLOAT", "DOUBLE", "BIGDECIMAL"):
        return float(parsed)
    raise ExpressionError("", f"unknown number type {kind!r}")


def slugify(value: Any) -> str:
    text = unicodedata.normalize("NFKD", _str(value)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def substring_before(value: Any, separator: str) -> str:
    text = _str(value)
    i = text.find(separator)
    return text if i < 0 else text[:i]


def substring_after(value: Any, separator: str) -> str:
    text = _str(value)
    i = text.find(separator)
    return "" if i < 0 else text[i + len(separator) :]


def substring_before_last(value: Any, separator: str) -> str:
    text = _str(value)
    i = text.rfind(separator)
    return text if i < 0 or not separator else text[:i]


def substring_after_last(value: Any, separator: str) -> str:
    text = _str(value)
    i = text.rfind(separator)
    return "" if i < 0 or not separator else text[i + len(separator) :]


def starts_with(value: Any, prefix: str) -> bool:
    return _str(value).startswith(prefix)


def ends_with(value: Any, suffix: str) -> bool:
    return _str(value).endswith(suffix)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else _str(value).encode("utf-8")


def base64encode(value: Any) -> str:
    return base64.b64encode(_bytes(value)).decode("ascii")


def base64decode(value: Any) -> str:
    try:
        return base64.b64decode(_bytes(value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ExpressionError("", f"invalid base64 text: {exc}") from None


def _digest(name: str) -> Callable[[Any], str | None]:
    return lambda value: None if value is None else hashlib.new(name, _bytes(value)).hexdigest()


def read_json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value  # already structured: reading it again is a no-op
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ExpressionError("", f"invalid JSON: {exc}") from None


def date(
    value: Any,
    # Argument names are Pebble's, since flows pass them by keyword.
    format: str | None = None,
    existingFormat: str | None = None,
    timeZone: str | None = None,
    locale: str | None = None,
) -> str:
    del locale  # names are always English so output never depends on the host
    return dates.format_date(value, format, existingFormat, timeZone)


def date_add(
    value: Any,
    amount: int,
    unit: str,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> datetime | str | None:
    """Kestra's dateAdd. Without `format` the result stays a date (printed in ISO), so that
    it can go on to `date` or `timestamp`; with one it is formatted like `date`."""
    del locale
    if value is None:
        return None
    tz = dates.zone(timeZone) if timeZone else None
    start = dates.to_datetime(value, existingFormat, tz or UTC)
    moved = dates.date_add(start.astimezone(tz) if tz else start, int(amount), unit)
    return moved if format is None else dates.format_in(moved.astimezone(tz or UTC), format)


def _timestamp(per_second: int) -> Callable[..., Any]:
    def stamp(
        value: Any, timeZone: str | None = None, existingFormat: str | None = None
    ) -> int | None:
        if value is None:
            return None
        return dates.timestamp(value, per_second, timeZone, existingFormat)

    return stamp


def _is_json(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Fail on an undefined argument with the engine's "undefined variable" message,
    rather than with whatever type error the filter would hit on it."""

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, Undefined):
                arg._fail_with_undefined_error()
        return fn(*args, **kwargs)

    return checked


_LENIENT: dict[str, Callable[..., Any]] = {"default": default, "d": default}
_STRICT: dict[str, Callable[..., Any]] = {
    "first": first,
    "last": last,
    "join": join,
    "length": length,
    "keys": filters_collections.keys,
    "values": filters_collections.values,
    "split": filters_collections.split,
    "chunk": filters_collections.chunk,
    "flatten": filters_collections.flatten,
    "merge": filters_collections.merge,
    "slice": filters_collections.slice_,
    "sort": filters_collections.sort,
    "rsort": filters_collections.rsort,
    "reverse": filters_collections.reverse,
    "jq": filters_collections.jq,
    "abbreviate": filters_text.abbreviate,
    "title": filters_text.title,
    "lower": filters_text.lower,
    "upper": filters_text.upper,
    "trim": filters_text.trim,
    "escapeChar": filters_text.escape_char,
    "indent": filters_text.indent,
    "nindent": filters_text.nindent,
    "urlencode": filters_text.urlencode,
    "urldecode": filters_text.urldecode,
    "numberFormat": filters_text.number_format,
    "nl2br": filters_text.nl2br,
    "className": filters_text.class_name,
    "yaml": filters_data.to_yaml,
    "toIon": filters_data.to_ion,
    "replace": replace,
    "capitalize": capitalize,
    "number": number,
    "slugify": slugify,
    "substringBefore": substring_before,
    "substringAfter": substring_after,
    "substringBeforeLast": substring_before_last,
    "substringAfterLast": substring_after_last,
    "startsWith": starts_with,
    "endsWith": ends_with,
    "base64encode": base64encode,
    "base64decode": base64decode,
    "sha256": _digest("sha256"),
    "sha1": _digest("sha1"),
    "sha512": _digest("sha512"),
    "md5": _digest("md5"),
    "json": to_json,
    "toJson": to_json,
    "fromJson": read_json,
    "date": date,
    "dateAdd": date_add,
    "timestamp": _timestamp(1),
    "timestampMilli": _timestamp(1_000),
    "timestampMicro": _timestamp(1_000_000),
    "timestampNano": _timestamp(1_000_000_000),
}
FILTERS: dict[str, Callable[..., Any]] = _LENIENT | {k: _strict(f) for k, f in _STRICT.items()}

TESTS: dict[str, Callable[..., bool]] = {
    # Internal: what `??` checks. Defined and not null.
    "_present": lambda v: v is not None and not isinstance(v, Undefined),
    "startsWith": starts_with,
    "endsWith": ends_with,
    "empty": is_empty,
    "null": lambda v: v is None,
    "map": lambda v: isinstance(v, Mapping),
    # Pebble: a Java Iterable (a list, not a text or a map).
    "iterable": lambda v: isinstance(v, list | tuple | set | frozenset),
    "json": _is_json,
}
