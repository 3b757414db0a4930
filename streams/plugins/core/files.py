"""What the core storage tasks share: reading and writing `kestra://` files of a task run,
and deleting them.

The storage port (streams/storage/base.py) has no delete and no listing yet; until it does,
`delete_file` and `delete_under` use a back end's own `delete`/`delete_under` methods when
it has them, and otherwise know the two back ends that ship with Lanner (a local folder,
an S3-compatible bucket).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

from streams.plugins.base import WorkerContext
from streams.plugins.scripts.files import make_workdir, remove_workdir
from streams.storage import LocalStorage, Storage, StorageError, is_storage_uri, task_file_uri
from streams.storage.uris import SCHEME


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
    if isinstance(storage, LocalStorage):
        path = storage.path_of(uri)
        if not path.is_file():
            return False
        path.unlink(missing_ok=True)
        return True
    s3 = _s3_parts(storage)
    if s3 is not None:
        client, bucket, key = s3[0], s3[1], s3[2](uri)
        if not storage.exists(uri):
            return False
        client.delete_object(Bucket=bucket, Key=key)
        return True
    raise TaskFileError(f"this storage ({type(storage).__name__}) cannot delete files")


def delete_under(storage: Storage, prefix: str) -> list[str]:
    """Delete every file whose URI starts with the folder `prefix`; their URIs, sorted."""
    folder = prefix.rstrip("/")
    own = getattr(storage, "delete_under", None)
    if callable(own):
        return sorted(own(folder + "/"))
    if isinstance(storage, LocalStorage):
        root = storage.path_of(folder)
        if not root.is_dir():
            return []
        files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
        deleted = [f"{folder}/{p.relative_to(root).as_posix()}" for p in files]
        shutil.rmtree(root, ignore_errors=True)
        return deleted
    s3 = _s3_parts(storage)
    if s3 is not None:
        client, bucket, key_of = s3
        key_prefix = key_of(folder) + "/"
        deleted_keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key_prefix
        ):
            keys = [item["Key"] for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
                )
                deleted_keys.extend(keys)
        return sorted(f"{folder}/{k[len(key_prefix) :]}" for k in deleted_keys)
    raise TaskFileError(f"this storage ({type(storage).__name__}) cannot delete files")


def _s3_parts(storage: Storage) -> tuple[Any, str, Any] | None:
    """(client, bucket, key_of) of an S3Storage, without importing boto3 otherwise."""
    if type(storage).__name__ != "S3Storage":
        return None
    return storage._s3, storage.bucket, storage.key_of  # type: ignore[attr-defined]
