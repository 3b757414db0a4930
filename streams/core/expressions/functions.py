"""Global functions: `now()`, `secret()`, `kv()`, `read()`, `errorLogs()`, `range()`...

Everything a function needs comes from the render context (private `_`-prefixed keys the
caller fills in, plus `_now` set by the engine), never from the clock, disk or network:
rendering is a pure function of (template, context, now).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from streams.core.expressions import dates, filters_data, functions_extra
from streams.core.expressions.errors import ExpressionError
from streams.core.expressions.filters import read_json

# Context keys the caller provides; templates cannot name them (see engine._check_names).
NOW_KEY = "_now"
SECRETS_KEY = "_secrets"
KV_KEY = "_kv"
FILES_KEY = "_files"
ERROR_LOGS_KEY = "_error_logs"

# Same bound as Jinja's sandbox: a template must not allocate unbounded lists.
MAX_RANGE = 100_000


def _mapping(ctx: Context, key: str) -> Mapping[str, Any]:
    value = ctx.get(key)
    return value if isinstance(value, Mapping) else {}


@pass_context
def now(
    ctx: Context,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> datetime | str:
    """The render time. Kestra's now() gives it as text (`date`'s arguments); without any,
    Lanner keeps it a date, which prints the same ISO text and can go on to `date`."""
    del existingFormat, locale
    value = ctx.get(NOW_KEY)
    assert isinstance(value, datetime), "the engine always sets _now"
    if format is None and timeZone is None:
        return value
    return dates.format_date(value, format, None, timeZone)


@pass_context
def secret(ctx: Context, name: str) -> Any:
    secrets = _mapping(ctx, SECRETS_KEY)
    if name not in secrets:
        raise ExpressionError("", f"secret {name!r} is not defined")
    return secrets[name]


@pass_context
def kv(ctx: Context, key: str, namespace: str | None = None, errorOnMissing: bool = False) -> Any:
    """A KV value; a missing key is null unless `errorOnMissing` (Kestra's default: false)."""
    del namespace  # the caller already resolved the flow's namespace into `_kv`
    store = _mapping(ctx, KV_KEY)
    if key in store:
        return store[key]
    if errorOnMissing:
        raise ExpressionError("", f"KV key {key!r} is not defined")
    return None


@pass_context
def read(ctx: Context, uri: str) -> Any:
    files = _mapping(ctx, FILES_KEY)
    if uri not in files:
        raise ExpressionError("", f"file {uri!r} is not available")
    content = files[uri]
    return content.decode("utf-8") if isinstance(content, bytes) else content


@pass_context
def error_logs(ctx: Context) -> list[Any]:
    logs = ctx.get(ERROR_LOGS_KEY)
    return list(logs) if isinstance(logs, list | tuple) else []


def from_json(json: Any = ...) -> Any:
    """Kestra's fromJson(json) (and the older json()): JSON text to data; null gives null
    (and, in Lanner, data that is already structured comes back as is)."""
    if json is ...:
        raise ExpressionError("", "The 'fromJson' function expects an argument 'json'.")
    return None if json is None else read_json(json)


def pebble_range(start: int, end: int | None = None, step: int = 1) -> list[int]:
    """Pebble's `range(start, end[, step])` includes `end`; a lone `range(n)` is Python's."""
    if end is None:
        start, end = 0, start - 1
    if step == 0:
        raise ExpressionError("", "range step cannot be 0")
    stop = end + (1 if step > 0 else -1)
    if len(range(start, stop, step)) > MAX_RANGE:
        raise ExpressionError("", f"range is longer than {MAX_RANGE} items")
    return list(range(start, stop, step))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": now,
    "secret": secret,
    "kv": kv,
    "read": read,
    "errorLogs": error_logs,
    "json": from_json,
    "fromJson": from_json,
    "range": pebble_range,
    "yaml": filters_data.from_yaml,
    "fromIon": filters_data.from_ion,
    "uuid": functions_extra.uuid,
    "id": functions_extra.short_id,
    "randomInt": functions_extra.random_int,
    "encrypt": functions_extra.encrypt,
    "decrypt": functions_extra.decrypt,
    "fileURI": functions_extra.file_uri,
    "fileSize": functions_extra.file_size,
    "printContext": functions_extra.print_context,
    "fetchContext": functions_extra.print_context,
    "currentEachOutput": functions_extra.current_each_output,
    "render": functions_extra.render,
    "renderOnce": functions_extra.render_once,
    "max": functions_extra.maximum,
    "min": functions_extra.minimum,
}
