"""io.kestra.plugin.core.http.Download: an HTTP response body, streamed to storage.

The request properties are Request's (method, headers, body, formData, options...).
Outputs as in Kestra: `uri` (the file, named by the response's Content-Disposition or
with the extension of the URL's path), `code`, `headers` (lower-case name -> values),
`length`. A status of 400 or more fails it unless `allowFailed`; an empty body fails it
when `failOnEmptyResponse` (the default) and not `allowFailed`, else it is a warning.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import httpx

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext
from streams.plugins.core.files import TaskFileError, publish, workdir
from streams.plugins.http.request import Request, _headers, _seconds

_KESTRA = "io.kestra.plugin.core.http"


def filename_from_header(value: str) -> str | None:
    """The file name of a Content-Disposition header (its last path part), or None."""
    name = None
    for part in value.split(";"):
        part = part.strip()
        if part.startswith("filename*"):
            # RFC 5987: charset'lang'percent-encoded
            name = unquote(part.split("'", 2)[-1]) if part.count("'") >= 2 else None
        elif part.startswith("filename="):
            name = part.split("=", 1)[1]
    if name and len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        name = name[1:-1]
    if name:
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return name if name and name not in (".", "..") else None


def _extension(uri: str) -> str:
    path = urlsplit(uri).path.rsplit("/", 1)[-1]
    return path[path.index(".") :] if "." in path else ""


class Download(Request):
    TYPE: ClassVar[str] = "http.Download"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.Download",
        "io.kestra.plugin.fs.http.Download",
    )
    failOnEmptyResponse: bool = True
    allowFailed: bool | None = False

    async def _download(self, target: Path) -> tuple[int, httpx.Headers, int]:
        timeout = httpx.Timeout(
            connect=_seconds(self.options.connectTimeout, 10.0),
            read=_seconds(self.options.readTimeout or self.options.readIdleTimeout, 60.0),
            write=60.0,
            pool=10.0,
        )
        size = 0
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=self.options.followRedirects) as c,
            c.stream(self.method, self.uri, **self._content()) as response,
        ):
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    await asyncio.to_thread(out.write, chunk)
                    size += len(chunk)
        return response.status_code, response.headers, size

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                return await self._run_in(ctx, folder / "download")
        except (httpx.HTTPError, TaskFileError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            return Outcome(State.FAILED, error=f"task {self.id}: download of {self.uri}: {reason}")

    async def _run_in(self, ctx: WorkerContext, target: Path) -> Outcome:
        await ctx.log("DEBUG", f"{self.method} {self.uri}")
        code, headers, size = await self._download(target)
        outputs: dict[str, Any] = {"code": code, "headers": _headers(headers), "length": size}
        if not self._is_allowed(code):
            return Outcome(
                State.FAILED, outputs, error=f"task {self.id}: {self.uri} answered {code}"
            )
        expected = headers.get("content-length")
        encoded = headers.get("content-encoding", "identity") != "identity"
        if expected is not None and expected.isdigit() and int(expected) != size and not encoded:
            # A body cut short; a compressed one is longer than its Content-Length.
            error = f"task {self.id}: got {size} bytes, expected {expected}"
            return Outcome(State.FAILED, outputs, error=error)
        if size == 0:
            if self.failOnEmptyResponse and not self.allowFailed:
                error = f"task {self.id}: no response from server"
                return Outcome(State.FAILED, outputs, error=error)
            await ctx.log("WARN", f"File '{self.uri}' is empty")
        disposition = headers.get("content-disposition")
        name = filename_from_header(disposition) if disposition else None
        name = name or f"download{_extension(self.uri)}"
        outputs["uri"] = await publish(ctx, target, PurePosixPath(name).name)
        await ctx.log("DEBUG", f"File '{self.uri}' downloaded to '{outputs['uri']}'")
        return Outcome(State.SUCCESS, outputs)
