"""Kestra's `::{...}::` lines: what a script says to its task besides its output.

A line that is exactly `::{json}::` (Kestra's PluginUtilsService pattern) carries any of
`outputs` (a map merged into the task's `vars`), `metrics` (counters, timers and gauges:
`{"name", "type", "value", "tags"}`) and `logs` (`{"level", "message"}`, logged at that
level). This is what the `kestra` helper library prints. Kestra only warns about such a
line when it cannot read it and drops what it carried; here the task run fails with the
reason instead, because a silently lost output or metric breaks the flow later, farther
from the cause.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError

from schemas.inputs import parse_duration
from schemas.metrics import TaskMetric
from streams.plugins.base import LogLevel

_LINE = re.compile(r"^::(\{.*\})::$", re.DOTALL)
_LEVELS: dict[str, LogLevel] = {
    "TRACE": "TRACE",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
}


class ProtocolError(ValueError):
    """A `::{...}::` line that cannot be read; the message says why."""


@dataclass
class ProtocolMessage:
    outputs: dict[str, Any] = field(default_factory=dict)
    metrics: list[TaskMetric] = field(default_factory=list)
    logs: list[tuple[LogLevel, str]] = field(default_factory=list)


def is_protocol_line(line: str) -> bool:
    return _LINE.match(line.strip()) is not None


def parse_protocol(line: str, now: dt.datetime) -> ProtocolMessage | None:
    """The message of a protocol line; None for ordinary output; ProtocolError if the
    line has the protocol's shape but not its content."""
    match = _LINE.match(line.strip())
    if match is None:
        return None
    try:
        raw = json.loads(match.group(1))
    except ValueError as exc:
        raise ProtocolError(f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolError("the JSON between the :: must be an object")
    message = ProtocolMessage()
    outputs = raw.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, dict):
            raise ProtocolError("`outputs` must be an object")
        message.outputs = outputs
    message.metrics = [_metric(item, now) for item in _list(raw, "metrics")]
    message.logs = [_log(item) for item in _list(raw, "logs")]
    return message


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"`{key}` must be a list")
    return value


def _metric(item: Any, now: dt.datetime) -> TaskMetric:
    if not isinstance(item, dict):
        raise ProtocolError("each metric must be an object with name, type and value")
    data = cast(dict[str, Any], item)
    kind = data.get("type")
    value = data.get("value")
    if kind == "timer" and isinstance(value, str):
        try:  # Kestra reads a timer as a Duration: a number of seconds, or ISO-8601
            value = parse_duration(value).total_seconds()
        except ValueError as exc:
            raise ProtocolError(f"metric {data.get('name')!r}: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"metric {data.get('name')!r}: value must be a number, not {value!r}")
    try:
        return TaskMetric(
            name=data.get("name"),  # validated by the model
            type=kind,
            value=float(value),
            tags=data.get("tags") or {},
            time=now,
        )
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ProtocolError(f"metric {data.get('name')!r}: {reasons}") from None


def _log(item: Any) -> tuple[LogLevel, str]:
    if not isinstance(item, dict) or not isinstance(item.get("message"), str):
        raise ProtocolError("each log must be an object with level and message")
    level = _LEVELS.get(str(item.get("level", "INFO")).upper())
    if level is None:
        raise ProtocolError(f"unknown log level {item.get('level')!r}")
    return level, item["message"]
