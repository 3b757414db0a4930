"""Which storage back end a process uses: an S3-compatible bucket when
`LANNER_STORAGE_S3_BUCKET` is set (`LANNER_STORAGE_S3_ENDPOINT`, `LANNER_STORAGE_S3_PREFIX`,
AWS credentials as boto3 finds them), else a folder: `LANNER_STORAGE_DIR`, else
`<data dir>/storage`.

Read at the process edge (the worker, the API) and passed in; never by the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.storage import Storage, StorageError
from streams.storage.local import LocalStorage

if TYPE_CHECKING:
    from streams.storage.s3 import S3Storage

STORAGE_DIR_ENV = "LANNER_STORAGE_DIR"
S3_BUCKET_ENV = "LANNER_STORAGE_S3_BUCKET"
# The S3 client (boto3) is an optional extra: most installations store files locally.
S3_EXTRA_HINT = "pip install 'lanner[s3]'"


class StorageExtraMissing(StorageError):
    """S3 storage is configured but its client is not installed."""


def check_storage_extra(environ: Mapping[str, str]) -> None:
    """StorageExtraMissing, naming the install command, when the configured storage needs
    a package that is not installed; called by every server role before it starts."""
    if environ.get(S3_BUCKET_ENV, "").strip():
        _s3_storage_class()


def _s3_storage_class() -> type[S3Storage]:
    try:
        from streams.storage.s3 import S3Storage
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("boto3", "botocore"):
            raise
        raise StorageExtraMissing(
            f"{S3_BUCKET_ENV} is set, but the S3 client is not installed: {S3_EXTRA_HINT}"
        ) from None
    return S3Storage


def storage_from_env(environ: Mapping[str, str], data_dir: str) -> Storage:
    bucket = environ.get(S3_BUCKET_ENV, "").strip()
    if bucket:
        return _s3_storage_class()(
            bucket,
            prefix=environ.get("LANNER_STORAGE_S3_PREFIX", ""),
            endpoint_url=environ.get("LANNER_STORAGE_S3_ENDPOINT") or None,
            region=environ.get("AWS_DEFAULT_REGION") or None,
        )
    configured = environ.get(STORAGE_DIR_ENV, "").strip()
    root = Path(configured) if configured else Path(data_dir) / "storage"
    root.mkdir(parents=True, exist_ok=True)
    return LocalStorage(root)
