"""How values turn into text and JSON, the way Kestra prints them.

Mixed text like `id={{ x }}` goes through `to_text`: `true`/`false` rather than Python's
`True`, nothing for null, ISO dates, and compact JSON for maps and lists (so a list
interpolated into a shell command or a URL is still machine-readable).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from jinja2 import Undefined

from streams.core.expressions import budget
from streams.core.expressions.dates import iso


def _json_default(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # strict: an undefined inside a literal still fails
    if isinstance(value, datetime | date):
        return iso(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple | Iterator):
        return list(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    budget.check_serializable(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def to_text(value: Any) -> str:
    """Text of one `{{ }}` in mixed text (also Jinja's `finalize`)."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime | date):
        return iso(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset | Iterator):
        return to_json(value)
    return str(value)  # an Undefined raises here, which is what strictness wants


def templated_text(written: Any, rendered: Any) -> Any:
    """`rendered` with every value that was written as a template taken as its text, as
    Kestra's render of a map gives (`count: "{{ 1 + 1 }}"` is "2"); values written as
    numbers, booleans or plain text stay as they are."""
    if isinstance(written, str):
        return to_text(rendered) if ("{{" in written or "{%" in written) else rendered
    if isinstance(written, Mapping) and isinstance(rendered, Mapping):
        return {k: templated_text(written.get(k), v) for k, v in rendered.items()}
    if isinstance(written, list) and isinstance(rendered, list) and len(written) == len(rendered):
        return [templated_text(w, r) for w, r in zip(written, rendered, strict=True)]
    return rendered


def loop_values(values: list[Any]) -> list[Any]:
    """The loop values that key `outputs` (outermost first) from the values of a task run
    and its ancestors (outermost first): the set ones, a value a plain flowable (Sequential,
    If...) passes down to its children counted once."""
    path: list[Any] = []
    for value in values:
        if value is not None and (not path or path[-1] != value):
            path.append(value)
    return path


def is_empty(value: Any) -> bool:
    """Pebble's notion of empty: null, undefined, "" or an empty collection."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str | Mapping | list | tuple | set | frozenset):
        return len(value) == 0
    return False
