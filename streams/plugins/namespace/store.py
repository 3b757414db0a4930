"""Writing and reading namespace files: the content to internal storage, the change as an
event on `namespace-file-events` (acknowledged), reads from the live view.

`store_content` is shared by the API and the worker; `LiveNamespaceFiles` is the worker's
port (streams/plugins/base.py NamespaceFilesPort), bound to one task run for the audit
fields.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from schemas.storage import Storage
from streams.plugins.namespace.events import (
    NamespaceFileDeleted,
    NamespaceFileWritten,
    content_uri,
)
from streams.plugins.namespace.paths import normalise
from streams.plugins.namespace.view import FileVersion

# (record key, value) -> acknowledged by the broker.
Send = Callable[[str, bytes], Awaitable[None]]

_CATCH_UP_S = 10.0
_CHUNK = 1024 * 1024


class NamespaceFilesUnavailable(Exception):
    pass


class FilesView(Protocol):
    """What the store reads: streams/plugins/namespace/view.py LiveNamespaceFilesView."""

    def get(self, tenant: str, namespace: str, path: str) -> FileVersion | None: ...

    def files(self, tenant: str, namespace: str) -> list[FileVersion]: ...

    def catch_up(self, timeout_s: float = 10.0) -> bool: ...


def digest(source: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of a file, read in chunks."""
    sha, size = hashlib.sha256(), 0
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def store_content(
    storage: Storage, tenant: str, namespace: str, source: Path
) -> tuple[str, int, str]:
    """Puts a file's content where its digest says; (uri, size, sha256). Equal content is
    stored once: a redelivered or repeated write finds it there."""
    sha, size = digest(source)
    uri = content_uri(tenant, namespace, sha)
    if not storage.exists(uri):
        storage.put_file(uri, source)
    return uri, size, sha


class LiveNamespaceFiles:
    def __init__(
        self,
        view: FilesView,
        storage: Storage,
        send: Send,
        tenant: str,
        now: Callable[[], dt.datetime],
        execution_id: str | None = None,
        task_run_id: str | None = None,
    ) -> None:
        self._view = view
        self._storage = storage
        self._send = send
        self._tenant = tenant
        self._now = now
        self._execution_id = execution_id
        self._task_run_id = task_run_id

    async def files(self, namespace: str) -> list[tuple[str, str]]:
        """(path, content URI) of every live file of the namespace, sorted by path."""
        await self.catch_up()
        return [(f.path, f.written.uri) for f in self._view.files(self._tenant, namespace)]

    async def write(self, namespace: str, path: str, source: Path) -> str:
        """Stores `source` as the namespace file `path` (a new version); its content URI."""
        path = normalise(path)
        uri, size, sha = await asyncio.to_thread(
            store_content, self._storage, self._tenant, namespace, source
        )
        event = NamespaceFileWritten(
            tenant=self._tenant,
            namespace=namespace,
            path=path,
            uri=uri,
            size=size,
            sha256=sha,
            time=self._now(),
            execution_id=self._execution_id,
            task_run_id=self._task_run_id,
        )
        await self._send(event.record_key, event.model_dump_json().encode())
        return uri

    async def delete(self, namespace: str, path: str) -> bool:
        """Deletes the file (its versions stay in storage and on the log); whether it was
        there."""
        path = normalise(path)
        await self.catch_up()
        existed = self._view.get(self._tenant, namespace, path) is not None
        if existed:
            event = NamespaceFileDeleted(
                tenant=self._tenant,
                namespace=namespace,
                path=path,
                time=self._now(),
                execution_id=self._execution_id,
                task_run_id=self._task_run_id,
            )
            await self._send(event.record_key, event.model_dump_json().encode())
        return existed

    async def catch_up(self) -> None:
        if not await asyncio.to_thread(self._view.catch_up, _CATCH_UP_S):
            raise NamespaceFilesUnavailable(
                f"the namespace files view did not catch up within {_CATCH_UP_S:.0f} s"
            )
