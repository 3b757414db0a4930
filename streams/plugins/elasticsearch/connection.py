"""What every io.kestra.plugin.elasticsearch task shares: Kestra's `connection` (hosts,
basicAuth, headers, pathPrefix, trustAllSsl...), the client made from it, and the
server's own words when a call fails.

The official client is synchronous here (its async flavour needs aiohttp, which Lanner
does not depend on), so tasks call it in a thread and keep the worker's loop free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from pydantic import BaseModel, ConfigDict, Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, workdir
from streams.plugins.rows import RowFormatError

_KESTRA = "io.kestra.plugin.elasticsearch"
REQUEST_TIMEOUT_S = 60.0
_REASON_CHARS = 1000

T = TypeVar("T")


class EsTaskError(Exception):
    """A task's own refusal (a missing document with errorOnMissing, a failed bulk item)."""


class BasicAuth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    password: str


class Connection(BaseModel):
    """Kestra's ElasticsearchConnection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hosts: list[str] = Field(min_length=1)
    basicAuth: BasicAuth | None = None
    # "Name: Value" lines, as Kestra takes them.
    headers: list[str] = Field(default_factory=list)
    pathPrefix: str | None = None
    strictDeprecationMode: bool | None = None
    trustAllSsl: bool = False
    targetServerVersion: int = Field(default=8, ge=8, le=9)

    def header_map(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.headers:
            name, colon, value = line.partition(":")
            if not colon:
                raise EsTaskError(f"Invalid header format, expected `Name: Value` but got `{line}`")
            found[name.strip()] = value.strip()
        return found

    def client(self) -> Elasticsearch:
        headers = self.header_map()
        has_authorization = any(name.lower() == "authorization" for name in headers)
        prefix = "/" + self.pathPrefix.strip("/") if self.pathPrefix else ""
        options: dict[str, Any] = {}
        if self.basicAuth is not None and not has_authorization:
            options["basic_auth"] = (self.basicAuth.username, self.basicAuth.password)
        if headers:
            options["headers"] = headers
        if self.trustAllSsl:
            options.update(verify_certs=False, ssl_show_warn=False)
        return Elasticsearch(
            [host.rstrip("/") + prefix for host in self.hosts],
            request_timeout=REQUEST_TIMEOUT_S,
            **options,
        )


def describe(exc: Exception, hosts: list[str]) -> str:
    """The server's own message: its status, error type and reason; or why it could not
    be reached."""
    if isinstance(exc, ApiError):
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        if isinstance(error, dict):
            text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
            cause = error.get("caused_by")
            if isinstance(cause, dict) and cause.get("reason"):
                text += f" (caused by {cause.get('type')}: {cause['reason']})"
        else:
            text = str(error if error is not None else exc.body or exc.message)
        return f"Elasticsearch answered {exc.meta.status}: {text[:_REASON_CHARS]}"
    return f"cannot reach Elasticsearch at {', '.join(hosts)}: {exc}"


class ElasticsearchTask(WorkerTask):
    """Runs `work` with a client; any failure fails the task run with the reason."""

    KESTRA_PREFIX: ClassVar[str] = _KESTRA
    connection: Connection
    routing: str | None = None

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        raise NotImplementedError

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            es = self.connection.client()
            try:
                async with workdir(ctx) as folder:
                    outputs = await self.work(ctx, es, folder)
            finally:
                await asyncio.to_thread(es.close)
        except (ApiError, TransportError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {describe(exc, self.hosts)}")
        except (EsTaskError, RowFormatError, TaskFileError, ValueError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        return Outcome(State.SUCCESS, outputs)

    @property
    def hosts(self) -> list[str]:
        return self.connection.hosts


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A client call in a thread."""
    return await asyncio.to_thread(function, *args, **kwargs)


def names(name: str) -> tuple[str, ...]:
    return (f"{_KESTRA}.{name}",)
