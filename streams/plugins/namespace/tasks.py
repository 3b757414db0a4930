"""io.kestra.plugin.core.namespace.UploadFiles / DownloadFiles / DeleteFiles."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from schemas.states import State
from schemas.storage import StorageError, is_storage_uri, task_file_uri
from streams.plugins.base import NamespaceFilesPort, Outcome, WorkerContext, WorkerTask
from streams.plugins.namespace.paths import BadPath, Selection, folder, normalise

_KESTRA = "io.kestra.plugin.core.namespace"
MAX_FILES = 10_000


class _FilesTask(WorkerTask):
    namespace: str | None = None

    def _failed(self, message: str) -> Outcome:
        return Outcome(State.FAILED, error=f"task {self.id}: {message}")

    def _port(self, ctx: WorkerContext) -> NamespaceFilesPort:
        if ctx.namespace_files is None or ctx.storage is None:
            raise _TaskError("this worker has no namespace file store")
        return ctx.namespace_files


class _TaskError(Exception):
    pass


def _patterns(files: str | list[str]) -> Selection:
    return Selection.of([files] if isinstance(files, str) else files)


class UploadFiles(_FilesTask):
    """Stores files as namespace files: `files` (patterns of the WorkingDirectory's files)
    and/or `filesMap` (namespace path -> `kestra://` URI, or the content itself), under
    `destination`; `conflict` says what to do with a path that exists."""

    TYPE: ClassVar[str] = "namespace.UploadFiles"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.UploadFiles",)
    files: list[str] | None = None
    filesMap: dict[str, str] | None = None
    destination: str = "/"
    conflict: Literal["OVERWRITE", "ERROR", "SKIP"] = "OVERWRITE"

    async def run(self, ctx: WorkerContext) -> Outcome:
        namespace = self.namespace or ctx.namespace
        if self.files is None and self.filesMap is None:
            return self._failed("files or filesMap is required")
        try:
            port = self._port(ctx)
            wanted = self._wanted(ctx)
            existing = dict(await port.files(namespace))
            done: dict[str, str] = {}
            for path, source in wanted.items():
                if path in existing and self.conflict == "ERROR":
                    raise _TaskError(f"{path} exists in namespace {namespace} (conflict: ERROR)")
                if path in existing and self.conflict == "SKIP":
                    continue
                done[path] = await self._upload(ctx, port, namespace, path, source)
        except (_TaskError, BadPath, StorageError) as exc:
            return self._failed(str(exc))
        await ctx.log("INFO", f"{len(done)} file(s) uploaded to namespace {namespace}")
        return Outcome(State.SUCCESS, {"files": done})

    def _wanted(self, ctx: WorkerContext) -> dict[str, Path | str]:
        """Namespace path -> a local file or a `kestra://` URI or content."""
        base = folder(self.destination)
        wanted: dict[str, Path | str] = {}
        if self.files is not None:
            if ctx.shared_dir is None:
                raise _TaskError("`files` names files of a WorkingDirectory; use filesMap here")
            selected = _patterns(self.files)
            root = ctx.shared_dir
            for local in sorted(p for p in root.rglob("*") if p.is_file()):
                relative = "/" + local.relative_to(root).as_posix()
                if selected(relative):
                    wanted[normalise(base + relative)] = local
        for name, source in (self.filesMap or {}).items():
            wanted[normalise(base + name)] = source
        if len(wanted) > MAX_FILES:
            raise _TaskError(f"{len(wanted)} files to upload, more than {MAX_FILES}")
        return wanted

    async def _upload(
        self,
        ctx: WorkerContext,
        port: NamespaceFilesPort,
        namespace: str,
        path: str,
        source: Path | str,
    ) -> str:
        if isinstance(source, Path):
            return await port.write(namespace, path, source)
        assert ctx.storage is not None
        with tempfile.TemporaryDirectory(prefix="lanner-upload-") as spool:
            local = Path(spool) / "content"
            if is_storage_uri(source):
                if not source.startswith(f"kestra://{ctx.tenant}/"):
                    raise _TaskError(f"{source} belongs to another tenant")
                await asyncio.to_thread(ctx.storage.get_file, source, local)
            else:
                local.write_text(source)
            return await port.write(namespace, path, local)


class DownloadFiles(_FilesTask):
    """Copies the namespace files matching `files` into this task run's storage; output
    `files`: namespace path -> `kestra://` URI of the copy."""

    TYPE: ClassVar[str] = "namespace.DownloadFiles"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.DownloadFiles",)
    files: str | list[str]
    destination: str = ""

    async def run(self, ctx: WorkerContext) -> Outcome:
        namespace = self.namespace or ctx.namespace
        try:
            port = self._port(ctx)
            selected = _patterns(self.files)
            found = [(p, uri) for p, uri in await port.files(namespace) if selected(p)]
            base = folder(self.destination) if self.destination else "/"
            copied: dict[str, str] = {}
            for path, uri in found:
                copied[path] = await asyncio.to_thread(self._copy, ctx, uri, base + path[1:])
        except (_TaskError, BadPath, StorageError) as exc:
            return self._failed(str(exc))
        await ctx.log("INFO", f"{len(copied)} file(s) downloaded from namespace {namespace}")
        return Outcome(State.SUCCESS, {"files": copied})

    @staticmethod
    def _copy(ctx: WorkerContext, uri: str, name: str) -> str:
        assert ctx.storage is not None
        with tempfile.TemporaryDirectory(prefix="lanner-download-") as spool:
            local = Path(spool) / "content"
            ctx.storage.get_file(uri, local)
            return ctx.storage.put_file(task_file_uri(ctx.files_prefix(), name), local)


class DeleteFiles(_FilesTask):
    """Deletes the namespace files matching `files`; output `files`: the deleted paths
    with the URI of their last version (which stays readable in storage)."""

    TYPE: ClassVar[str] = "namespace.DeleteFiles"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.DeleteFiles",)
    files: str | list[str]
    # Kestra removes emptied folders; here folders exist only through their files.
    deleteParentFolder: bool = True

    async def run(self, ctx: WorkerContext) -> Outcome:
        namespace = self.namespace or ctx.namespace
        try:
            port = self._port(ctx)
            selected = _patterns(self.files)
            deleted: dict[str, Any] = {}
            for path, uri in await port.files(namespace):
                if selected(path) and await port.delete(namespace, path):
                    deleted[path] = uri
        except (_TaskError, BadPath) as exc:
            return self._failed(str(exc))
        await ctx.log("INFO", f"{len(deleted)} file(s) deleted from namespace {namespace}")
        return Outcome(State.SUCCESS, {"files": deleted})
