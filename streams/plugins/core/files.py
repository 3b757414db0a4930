"""What the core storage tasks share: reading and writing `kestra://` files of a task run,
and deleting them.

The storage port (schemas/storage.py) has no delete and no listing yet; `delete_file` and
`delete_under` use a back end's own `delete`/`delete_under` methods (both back ends that
ship with Lanner, streams/storage/local.py and s3.py, have them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

from schemas.storage import SCHEME, Storage, StorageError, is_storage_uri, task_file_uri
from streams.plugins.base import WorkerContext
from streams.plugins.scripts.files import make_workdir, remove_workdir


class TaskFileError(Exception):
    """A task cannot do its file work: no storage, a foreign or missing file, a bad URI."""


def storage_of(ctx: WorkerContext) -> Storage:
    if ctx.storage is None:
        raise TaskFileError("this worker has no storage")
    return ctx.storage


def check_own(ctx: WorkerContext, uri: str) -> str:
    """`uri` if it is a storage URI of this tenant (a task never reads another's files)."""
    if not is_storage_uri(uri):
        raise TaskFileError(f"{uri!r} is not a kestra:// storage URI")
    if not uri.startswith(f"{SCHEME}{ctx.tenant}/"):
        raise TaskFileError(f"{uri} belongs to another tenant")
    return uri


def extension_of(uri: str, default: str = ".tmp") -> str:
    """The file extension of a URI's last part, with its dot (Kestra keeps it on outputs)."""
    suffix = PurePosixPath(uri.rsplit("/", 1)[-1]).suffix
    return suffix if suffix else default


@contextlib.asynccontextmanager
async def workdir(ctx: WorkerContext) -> AsyncIterator[Path]:
    """A fresh folder for this attempt's temporary files, removed afterwards."""
    path = make_workdir(ctx)
    try:
        yield path
    finally:
        await asyncio.to_thread(remove_workdir, path, ctx)


async def fetch(ctx: WorkerContext, uri: str, target: Path) -> Path:
    """Copy an own storage file to `target` (streamed); TaskFileError when it is missing."""
    storage = storage_of(ctx)
    try:
        await asyncio.to_thread(storage.get_file, check_own(ctx, uri), target)
    except StorageError as exc:
        raise TaskFileError(str(exc)) from None
    return target


async def publish(ctx: WorkerContext, source: Path, name: str) -> str:
    """Store a local file as a file of this task run; returns its URI."""
    uri = task_file_uri(ctx.files_prefix(), name)
    return await asyncio.to_thread(storage_of(ctx).put_file, uri, source)


def delete_file(storage: Storage, uri: str) -> bool:
    """Delete one file; whether it existed."""
    own = getattr(storage, "delete", None)
    if callable(own):
        return bool(own(uri))
    raise TaskFileError(f"this storage ({type(storage).__name__}) cannot delete files")


def delete_under(storage: Storage, prefix: str) -> list[str]:
    """Delete every file whose URI starts with the folder `prefix`; their URIs, sorted."""
    folder = prefix.rstrip("/")
    own = getattr(storage, "delete_under", None)
    if callable(own):
        return sorted(own(folder + "/"))
    raise TaskFileError(f"this storage ({type(storage).__name__}) cannot delete files")
