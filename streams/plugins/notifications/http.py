"""Posting a notification to an incoming webhook, as Kestra's AbstractHttpOptionsTask.

A status outside 2xx fails the task run with the status and the start of the server's
answer (its own message). Errors name the webhook's host, never its full URL: a Slack or
Teams webhook URL is itself the credential.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from schemas.inputs import parse_duration
from streams.plugins.base import WorkerContext

_ERROR_BODY_CHARS = 500
_MAX_ANSWER_BYTES = 1024 * 1024


class RequestOptions(BaseModel):
    """Kestra's `options` for notification tasks (the part that applies here)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    connectTimeout: str | None = None
    readIdleTimeout: str | None = None
    readTimeout: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    defaultCharset: str | None = None


class NotificationError(Exception):
    """The notification was not delivered; the message says why (the server's words)."""


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url[:40]


def parse_json_payload(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NotificationError(f"{what} is not valid JSON: {exc}") from None


def _timeout(options: RequestOptions) -> httpx.Timeout:
    def seconds(value: str | None, default: float) -> float:
        return default if value is None else parse_duration(value).total_seconds()

    try:
        read = seconds(options.readTimeout or options.readIdleTimeout, 30.0)
        return httpx.Timeout(
            connect=seconds(options.connectTimeout, 10.0), read=read, write=30.0, pool=10.0
        )
    except ValueError as exc:
        raise NotificationError(f"bad timeout in options: {exc}") from None


async def post_webhook(
    ctx: WorkerContext, url: str, body: bytes, options: RequestOptions, service: str
) -> int:
    """POST `body` (JSON) to the webhook; its status, or NotificationError."""
    host = host_of(url)
    headers = {"Content-Type": "application/json", **options.headers}
    await ctx.log("DEBUG", f"sending a {service} notification to {host}")
    try:
        async with httpx.AsyncClient(timeout=_timeout(options)) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.InvalidURL as exc:
        raise NotificationError(f"invalid {service} webhook URL: {exc}") from None
    except httpx.UnsupportedProtocol as exc:
        raise NotificationError(f"invalid {service} webhook URL: {exc}") from None
    except httpx.TimeoutException as exc:
        raise NotificationError(f"{service} webhook at {host}: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise NotificationError(f"{service} webhook at {host} failed: {reason}") from None
    answer = response.content[:_MAX_ANSWER_BYTES].decode("utf-8", errors="replace")
    if not 200 <= response.status_code < 300:
        raise NotificationError(
            f"{service} webhook at {host} answered {response.status_code}: "
            f"{answer[:_ERROR_BODY_CHARS]}"
        )
    await ctx.log("INFO", f"{service} notification sent to {host} ({response.status_code})")
    return response.status_code
