"""What an HTTP trigger's model cannot say alone: an interval that parses (at least a
second), a web address, expressions that compile, one body at most. Pure; registered
with streams/core/trigger_checks.py (errors with their line)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from schemas.inputs import parse_duration
from schemas.triggers.http import HttpTrigger
from streams.core.expressions import syntax_errors
from streams.core.trigger_checks import Problem, checks

MIN_INTERVAL_S = 1.0


def _is_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


def _duration(field: str, text: str | None, minimum: float) -> Iterator[Problem]:
    if text is None:
        return
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError:
        yield field, f"'{text}' is not an ISO-8601 duration (e.g. PT30S)"
        return
    if seconds < minimum:
        yield field, f"'{text}' is shorter than {minimum:g} second(s)"


def _expressions(field: str, text: str) -> Iterator[Problem]:
    for message in syntax_errors(text):
        yield field, f"expression syntax error: {message.removeprefix('syntax error: ')}"


@checks(HttpTrigger)
def _http(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, HttpTrigger)
    yield from _duration("interval", trigger.interval, MIN_INTERVAL_S)
    yield from _duration("options.connectTimeout", trigger.options.connectTimeout, 0.001)
    yield from _duration("options.readTimeout", trigger.options.readTimeout, 0.001)
    yield from _duration("options.readIdleTimeout", trigger.options.readIdleTimeout, 0.001)
    if _is_expression(trigger.uri):
        yield from _expressions("uri", trigger.uri)
    elif not trigger.uri.lower().startswith(("http://", "https://")):
        yield "uri", f"'{trigger.uri}' is not an http:// or https:// address"
    if not trigger.responseCondition.strip():
        yield "responseCondition", "the condition cannot be empty"
    else:
        yield from _expressions("responseCondition", trigger.responseCondition)
    if trigger.body is not None and trigger.formData is not None:
        yield "body", "set `body` or `formData`, not both"
    if trigger.body is not None and _is_expression(trigger.body):
        yield from _expressions("body", trigger.body)
