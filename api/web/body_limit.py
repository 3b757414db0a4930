"""Request bodies are bounded before anything reads them (413, naming the limit).

An ASGI middleware, outside every route: a body whose Content-Length is over the limit is
refused before a byte of it is read; a chunked body (or one that lies about its length)
is cut as soon as the bytes received pass the limit. Without it a 50 MB body was read and
parsed in full, and /health waited behind it.

FILE inputs are the one body that may be large: multipart uploads to the routes that take
them (create an execution, resume one) have their own limit, `upload_bytes`. Starlette
spools each file part to a temporary file past 1 MB, and the route copies it to storage in
chunks, so an upload never sits in memory whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.web.models import ErrorBody
from schemas.settings import Limits

_EXECUTION_POSTS = re.compile(r"^/api/v1/executions/[^/]+/(?P<last>[^/]+)/?$")
# POST /executions/{id}/<action> routes that take no file.
_NO_FILES = frozenset({"kill", "pause", "restart", "replay", "state"})


def takes_files(method: str, path: str) -> bool:
    """POST /api/v1/executions/{namespace}/{flow_id} and /executions/{id}/resume."""
    match = _EXECUTION_POSTS.match(path)
    return method == "POST" and match is not None and match["last"] not in _NO_FILES


class BodyTooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing lets it through as it is (it turns
    any other exception while reading a body into a 400)."""

    def __init__(self, limit: str, max_bytes: int, received: int | None) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.received = received
        size = f"{received} bytes" if received is not None else f"more than {max_bytes} bytes"
        env = f"LANNER_LIMITS_{limit.upper()}"
        self.message = (
            f"the request body is {size}; the limit is {max_bytes} bytes (limits.{limit}, {env})"
        )
        super().__init__(413, self.message)

    def error_body(self) -> ErrorBody:
        return ErrorBody(message=self.message, limit=self.limit, maxBytes=self.max_bytes)

    def payload(self) -> dict[str, object]:
        return self.error_body().model_dump(mode="json", exclude_unset=True)

    def body(self) -> bytes:
        return json.dumps(self.payload()).encode()


class BodyLimit:
    """ASGI middleware; place it inside TenantPaths so it sees tenant-less paths."""

    def __init__(
        self, app: ASGIApp, limits: Limits, uploads: Callable[[str, str], bool] = takes_files
    ) -> None:
        self.app = app
        self.limits = limits
        self.uploads = uploads

    def _limit(self, scope: Scope) -> tuple[str, int]:
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind == b"multipart/form-data" and self.uploads(scope["method"], scope["path"]):
            return "upload_bytes", self.limits.upload_bytes
        return "request_body_bytes", self.limits.request_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name, max_bytes = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _refuse(send, BodyTooLarge(name, max_bytes, declared))
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(name, max_bytes, None)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge as exc:
            if started:  # too late for a status: the connection just ends
                raise
            await _refuse(send, exc)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers") or []:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, exc: BodyTooLarge) -> None:
    body = exc.body()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
