"""io.kestra.plugin.core.http.Request: one HTTP call, with httpx.

Outputs as in Kestra: `code`, `headers` (name -> list of values), `body` (parsed when
the response is JSON), `uri`. A status outside `allowedResponseCodes` (default: 2xx and
3xx, or anything with `allowFailed`) fails the task, with the status and the start of
the body in the error. A connection refused or a timeout fails it with that reason.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from schemas.inputs import parse_duration
from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask

_KESTRA = "io.kestra.plugin.core.http"
# A response body bigger than this is refused rather than held in memory and an event.
MAX_BODY_BYTES = 10 * 1024 * 1024
_ERROR_BODY_CHARS = 500


class HttpOptions(BaseModel):
    """Kestra's `options` (the subset that applies to one request)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    connectTimeout: str | None = None
    readTimeout: str | None = None
    readIdleTimeout: str | None = None
    followRedirects: bool = True
    allowFailed: bool = False
    allowedResponseCodes: list[int] | None = None


def _seconds(value: str | None, default: float) -> float:
    return default if value is None else parse_duration(value).total_seconds()


class Request(WorkerTask):
    TYPE: ClassVar[str] = "http.Request"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.Request",
        "io.kestra.plugin.fs.http.Request",
    )

    uri: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    formData: dict[str, Any] | None = None
    contentType: str | None = None
    options: HttpOptions = Field(default_factory=HttpOptions)
    # Older Kestra spelled these at the top level.
    allowFailed: bool | None = None
    allowedResponseCodes: list[int] | None = None

    def _is_allowed(self, code: int) -> bool:
        allowed = self.allowedResponseCodes or self.options.allowedResponseCodes
        if allowed:
            return code in allowed
        if self.allowFailed or self.options.allowFailed:
            return True
        return code < 400

    def _content(self) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.contentType:
            headers["Content-Type"] = self.contentType
        if self.formData is not None:
            data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.formData.items()}
            return {"headers": headers, "data": data}
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return {"headers": headers, "content": json.dumps(self.body).encode()}
        if self.body is not None:
            return {"headers": headers, "content": self.body.encode()}
        return {"headers": headers}

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            timeout = httpx.Timeout(
                connect=_seconds(self.options.connectTimeout, 10.0),
                read=_seconds(self.options.readTimeout or self.options.readIdleTimeout, 60.0),
                write=60.0,
                pool=10.0,
            )
        except ValueError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: bad timeout: {exc}")
        await ctx.log("DEBUG", f"{self.method} {self.uri}")
        try:
            async with (
                httpx.AsyncClient(
                    timeout=timeout, follow_redirects=self.options.followRedirects
                ) as client,
                client.stream(self.method, self.uri, **self._content()) as response,
            ):
                raw = await _read_bounded(response)
        except httpx.InvalidURL as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: invalid URL {self.uri!r}: {exc}")
        except httpx.TimeoutException as exc:
            kind = type(exc).__name__
            return Outcome(State.FAILED, error=f"task {self.id}: {kind} calling {self.uri}")
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            return Outcome(
                State.FAILED, error=f"task {self.id}: request to {self.uri} failed: {reason}"
            )
        except _TooBig as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        outputs = {
            "code": response.status_code,
            "headers": _headers(response.headers),
            "body": _body(raw, response.headers.get("content-type", "")),
            "uri": str(response.url),
        }
        await ctx.log("INFO", f"{self.method} {self.uri} -> {response.status_code}")
        if not self._is_allowed(response.status_code):
            text = raw.decode("utf-8", errors="replace")[:_ERROR_BODY_CHARS]
            return Outcome(
                State.FAILED,
                outputs,
                error=f"task {self.id}: {self.uri} answered {response.status_code}: {text}",
            )
        return Outcome(State.SUCCESS, outputs)


class _TooBig(Exception):
    pass


async def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooBig(f"response body is bigger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _headers(headers: httpx.Headers) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in headers.multi_items():
        result.setdefault(name.lower(), []).append(value)
    return result


def _body(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower() and text.strip():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
