"""One poll of an HTTP trigger: the call (bounded in time and size), the condition on its
response, and the `trigger` variables of the execution it starts. No Kafka here: the
poller (streams/triggers/http_poller.py) records what a poll did.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from schemas.inputs import parse_duration
from schemas.triggers.http import HttpTrigger
from streams.core.expressions import render, truthy

# A response body bigger than this is a failed poll, never held in memory nor an event.
MAX_BODY_BYTES = 1024 * 1024
# No poll runs longer than this (connect, send and read together), nor than its interval.
MAX_POLL_S = 60.0
_CONNECT_S = 10.0


class PollError(Exception):
    """The poll could not get a response (refused, timed out, too big, bad address)."""


@dataclass(frozen=True)
class Response:
    uri: str
    code: int
    headers: dict[str, list[str]]
    body: str | None


def interval_of(trigger: HttpTrigger) -> dt.timedelta:
    return parse_duration(trigger.interval)


def slot_of(now: dt.datetime, interval: dt.timedelta) -> dt.datetime:
    """The interval slot `now` falls in (slots are counted from the epoch): one poll per
    slot, and the slot names the poll (its execution id) across restarts."""
    step = max(interval.total_seconds(), 1.0)
    start = (now.timestamp() // step) * step
    return dt.datetime.fromtimestamp(start, dt.UTC)


def flow_context(namespace: str, flow_id: str) -> dict[str, Any]:
    return {"flow": {"id": flow_id, "namespace": namespace}}


def _seconds(value: str | None, default: float) -> float:
    return default if value is None else parse_duration(value).total_seconds()


def request_args(trigger: HttpTrigger, context: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The call's method, address, headers and content, rendered with `flow`."""
    headers = {str(k): str(render(v, context, now=now)) for k, v in trigger.headers.items()}
    if trigger.contentType:
        headers["Content-Type"] = trigger.contentType
    args: dict[str, Any] = {
        "method": trigger.method,
        "url": str(render(trigger.uri, context, now=now)),
        "headers": headers,
    }
    if trigger.formData is not None:
        data = render(trigger.formData, context, now=now)
        args["data"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    elif trigger.body is not None:
        args["content"] = str(render(trigger.body, context, now=now)).encode()
    return args


def call(trigger: HttpTrigger, args: dict[str, Any], budget_s: float) -> Response:
    """The HTTP call, at most `budget_s` seconds overall and MAX_BODY_BYTES of body.
    A failed status is a response (the condition decides), as Kestra's allowFailed."""
    options = trigger.options
    deadline = time.monotonic() + budget_s
    timeout = httpx.Timeout(
        connect=min(_seconds(options.connectTimeout, _CONNECT_S), budget_s),
        read=min(_seconds(options.readTimeout or options.readIdleTimeout, budget_s), budget_s),
        write=budget_s,
        pool=budget_s,
    )
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=options.followRedirects) as client,
            client.stream(**args) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise PollError(f"response body is bigger than {MAX_BODY_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise PollError(f"reading the response took more than {budget_s:g}s")
                chunks.append(chunk)
    except httpx.InvalidURL as exc:
        raise PollError(f"invalid URL {args['url']!r}: {exc}") from None
    except httpx.TimeoutException as exc:
        raise PollError(f"{type(exc).__name__} calling {args['url']}") from None
    except httpx.HTTPError as exc:
        raise PollError(f"request to {args['url']} failed: {exc or type(exc).__name__}") from None
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name.lower(), []).append(value)
    raw = b"".join(chunks)
    body = raw.decode("utf-8", errors="replace") if raw else None
    return Response(str(response.url), response.status_code, headers, body)


def condition_met(
    trigger: HttpTrigger, response: Response, context: dict[str, Any], now: dt.datetime
) -> bool:
    """`responseCondition` rendered with `response` (statusCode, body, headers), truthy as
    Kestra reads it. An expression that cannot render raises ExpressionError."""
    variables = {
        **context,
        "response": {
            "statusCode": response.code,
            "body": response.body,
            "headers": response.headers,
        },
    }
    return truthy(render(trigger.responseCondition, variables, now=now))


def trigger_variables(trigger: HttpTrigger, response: Response) -> dict[str, Any]:
    """Kestra's Request output as the execution's `trigger`: uri, code, headers, body."""
    return {
        "id": trigger.id,
        "type": trigger.type,
        "uri": response.uri,
        "code": response.code,
        "headers": response.headers,
        "body": response.body,
    }
