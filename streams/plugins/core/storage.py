"""io.kestra.plugin.core.storage.*: worker tasks on files of the internal storage.

Concat, Split, Reverse (new files), Size, Delete, LocalFiles (Kestra deprecated it) and
PurgeCurrentExecutionFiles. Lines are read as Java's readLine does (`\\n`, `\\r\\n` or
`\\r` end a line) and bytes that are not UTF-8 are carried through unchanged. New files
are files of the task run (`kestra://.../tasks/<task>/<run>/<attempt>/<name>`) and keep
the source's extension, as Kestra's do. FilterItems and DeduplicateItems are in items.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from array import array
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pydantic import Field

from schemas.states import State
from schemas.storage import StorageError, execution_prefix
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import (
    TaskFileError,
    check_own,
    delete_file,
    delete_under,
    extension_of,
    fetch,
    publish,
    storage_of,
    workdir,
)
from streams.plugins.scripts.files import (
    FilesError,
    collect_output_files,
    parse_input_files,
    write_input_files,
)

_KESTRA = "io.kestra.plugin.core.storage"
_KESTRA_OLD = "io.kestra.core.tasks.storages"


def _names(name: str) -> tuple[str, ...]:
    return (f"{_KESTRA}.{name}", f"{_KESTRA_OLD}.{name}")


class StorageTask(WorkerTask):
    """Runs `work`; a missing file, a foreign URI or a bad property fails the task run."""

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        raise NotImplementedError

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            return Outcome(State.SUCCESS, await self.work(ctx))
        except (TaskFileError, StorageError, FilesError, ValueError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")


def read_lines(path: Path) -> Iterator[str]:
    """The lines of a text file without their ends (a generator; the file closes after)."""
    with path.open(encoding="utf-8", errors="surrogateescape", newline=None) as lines:
        for line in lines:
            yield line[:-1] if line.endswith("\n") else line


class Concat(StorageTask):
    """Concatenates files (a list, or a JSON text of one) into one, `separator` after each."""

    TYPE: ClassVar[str] = "storage.Concat"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Concat")
    files: list[str] | str
    separator: str | None = None
    extension: str = ".tmp"

    def _files(self) -> list[str]:
        if isinstance(self.files, list):
            return self.files
        parsed = json.loads(self.files)
        if not isinstance(parsed, list) or not all(isinstance(f, str) for f in parsed):
            raise ValueError("`files` must be a list of kestra:// URIs or a JSON text of one")
        return parsed

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        files = self._files()
        async with workdir(ctx) as folder:
            target = folder / f"concat{self.extension}"
            with target.open("wb") as out:
                for i, uri in enumerate(files):
                    part = await fetch(ctx, uri, folder / f"part-{i}")
                    with part.open("rb") as source:
                        await asyncio.to_thread(shutil.copyfileobj, source, out)
                    part.unlink()
                    if self.separator is not None:
                        out.write(self.separator.encode())
            return {"uri": await publish(ctx, target, target.name)}


_BYTES = re.compile(r"^\s*(\d+)\s*(KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_bytes(value: str | int) -> int:
    """Micronaut's readable sizes, as Kestra reads `bytes`: 1024, "10MB", "200KB", "1GB"."""
    if isinstance(value, int):
        return value
    match = _BYTES.match(value)
    if match is None:
        raise ValueError(f"invalid size with value {value!r}")
    unit = match.group(2).upper() if match.group(2) else None
    return int(match.group(1)) * _UNITS[unit]


class Split(StorageTask):
    """Splits a file by lines into `bytes`-sized, `rows`-long, or `partitions` files."""

    TYPE: ClassVar[str] = "storage.Split"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Split")
    from_: str = Field(alias="from")
    bytes: str | int | None = None
    partitions: int | None = None
    rows: int | None = None
    separator: str = "\n"

    def _split(self, source: Path, folder: Path, ext: str) -> list[Path]:
        if self.bytes is not None:
            limit = parse_bytes(self.bytes)
            return self._chunks(source, folder, ext, lambda size, _: size >= limit)
        if self.partitions is not None:
            return self._partition(source, folder, ext, self.partitions)
        if self.rows is not None:
            rows = self.rows
            return self._chunks(source, folder, ext, lambda _, count: count >= rows)
        raise ValueError("invalid configuration with no bytes, partitions nor rows")

    def _chunks(self, source: Path, folder: Path, ext: str, full: Any) -> list[Path]:
        files: list[Path] = []
        out = None
        size = count = 0
        try:
            for row in read_lines(source):
                if out is None or full(size, count):
                    if out is not None:
                        out.close()
                    files.append(folder / f"split-{len(files):05d}{ext}")
                    out = files[-1].open("wb")
                    size = count = 0
                data = (row + self.separator).encode("utf-8", "surrogateescape")
                out.write(data)
                size += len(data)
                count += 1
        finally:
            if out is not None:
                out.close()
        return files

    def _partition(self, source: Path, folder: Path, ext: str, count: int) -> list[Path]:
        if count < 1:
            raise ValueError("partitions must be at least 1")
        files = [folder / f"split-{i:05d}{ext}" for i in range(count)]
        outs = [f.open("wb") for f in files]
        try:
            for i, row in enumerate(read_lines(source)):
                outs[i % count].write((row + self.separator).encode("utf-8", "surrogateescape"))
        finally:
            for out in outs:
                out.close()
        return [f for f in files if f.stat().st_size > 0]

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        ext = extension_of(self.from_)
        async with workdir(ctx) as folder:
            source = await fetch(ctx, self.from_, folder / "source")
            parts = await asyncio.to_thread(self._split, source, folder, ext)
            return {"uris": [await publish(ctx, part, part.name) for part in parts]}


class Reverse(StorageTask):
    """Writes a file's lines in reverse order, each followed by `separator`."""

    TYPE: ClassVar[str] = "storage.Reverse"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Reverse")
    from_: str = Field(alias="from")
    separator: str = "\n"
    charset: str = "UTF-8"

    def _reverse(self, source: Path, target: Path) -> None:
        # Offsets first, then each line read back from the end: memory is 8 bytes a line.
        offsets = array("q")
        with source.open("rb") as lines:
            position = 0
            for line in lines:
                offsets.append(position)
                position += len(line)
            with target.open("wb") as out:
                for offset in reversed(offsets):
                    lines.seek(offset)
                    raw = lines.readline().rstrip(b"\n").rstrip(b"\r")
                    text = raw.decode(self.charset, errors="surrogateescape")
                    out.write((text + self.separator).encode(self.charset, "surrogateescape"))

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        "".encode(self.charset)  # LookupError for an unknown charset, before any work
        ext = extension_of(self.from_)
        async with workdir(ctx) as folder:
            source = await fetch(ctx, self.from_, folder / "source")
            target = folder / f"reverse{ext}"
            await asyncio.to_thread(self._reverse, source, target)
            return {"uri": await publish(ctx, target, target.name)}

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            return await super().run(ctx)
        except LookupError:
            return Outcome(State.FAILED, error=f"task {self.id}: unknown charset {self.charset!r}")


class Size(StorageTask):
    """The size in bytes of a storage file, as the output `size`."""

    TYPE: ClassVar[str] = "storage.Size"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Size")
    uri: str

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        storage = storage_of(ctx)
        return {"size": await asyncio.to_thread(storage.size, check_own(ctx, self.uri))}


class Delete(StorageTask):
    """Deletes a storage file; `deleted` says whether it existed."""

    TYPE: ClassVar[str] = "storage.Delete"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Delete")
    uri: str
    errorOnMissing: bool = False

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        storage = storage_of(ctx)
        deleted = await asyncio.to_thread(delete_file, storage, check_own(ctx, self.uri))
        if not deleted and self.errorOnMissing:
            raise TaskFileError(f"unable to find file '{self.uri}'")
        return {"uri": self.uri, "deleted": deleted}


class PurgeCurrentExecutionFiles(StorageTask):
    """Deletes every storage file of the current execution (inputs and task files);
    `uris` lists them."""

    TYPE: ClassVar[str] = "storage.PurgeCurrentExecutionFiles"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.PurgeCurrentExecutionFiles",
        f"{_KESTRA}.PurgeExecution",
        f"{_KESTRA_OLD}.PurgeExecution",
    )

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        prefix = execution_prefix(ctx.tenant, ctx.namespace, ctx.flow_id, ctx.execution_id)
        return {"uris": await asyncio.to_thread(delete_under, storage_of(ctx), prefix)}


def _files_pattern(pattern: str) -> str:
    # Java's `dir/**` matches every file below dir; Python's matches only folders.
    return pattern + "/*" if pattern == "**" or pattern.endswith("/**") else pattern


def _matches(folder: Path, pattern: str) -> bool:
    relative = PurePosixPath(pattern)
    if not pattern or relative.is_absolute() or ".." in relative.parts:
        return True  # kept, for collect_output_files to refuse with its reason
    return any(f.is_file() for f in folder.glob(pattern))


class LocalFiles(StorageTask):
    """Writes `inputs` (name -> content or kestra:// URI) into a temporary folder and
    stores the files matching the `outputs` globs; `uris` maps their names to URIs.

    Deprecated in Kestra (use a script task's inputFiles/outputFiles). Outside a
    WorkingDirectory the folder is this task's alone, so `outputs` can only match files
    `inputs` wrote; a glob matching nothing is no error, as in Kestra.
    """

    TYPE: ClassVar[str] = "storage.LocalFiles"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("LocalFiles")
    inputs: dict[str, Any] | str | None = None
    outputs: list[str] = Field(default_factory=list)

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        raw = parse_input_files(self.inputs)
        files = {
            name: "" if value is None else value if isinstance(value, str) else json.dumps(value)
            for name, value in raw.items()
        }
        async with workdir(ctx) as folder:
            await write_input_files(ctx, folder, files)
            patterns = [_files_pattern(p) for p in self.outputs]
            matching = [p for p in patterns if _matches(folder, p)]
            return {"uris": await collect_output_files(ctx, folder, matching)}
