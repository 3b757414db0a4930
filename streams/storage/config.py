"""Which storage back end a process uses: an S3-compatible bucket when
`LANNER_STORAGE_S3_BUCKET` is set (`LANNER_STORAGE_S3_ENDPOINT`, `LANNER_STORAGE_S3_PREFIX`,
AWS credentials as boto3 finds them), else a folder: `LANNER_STORAGE_DIR`, else
`<data dir>/storage`.

Read at the process edge (the worker, the API) and passed in; never by the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streams.storage.base import Storage
from streams.storage.local import LocalStorage

STORAGE_DIR_ENV = "LANNER_STORAGE_DIR"


def storage_from_env(environ: Mapping[str, str], data_dir: str) -> Storage:
    bucket = environ.get("LANNER_STORAGE_S3_BUCKET", "").strip()
    if bucket:
        from streams.storage.s3 import S3Storage

        return S3Storage(
            bucket,
            prefix=environ.get("LANNER_STORAGE_S3_PREFIX", ""),
            endpoint_url=environ.get("LANNER_STORAGE_S3_ENDPOINT") or None,
            region=environ.get("AWS_DEFAULT_REGION") or None,
        )
    configured = environ.get(STORAGE_DIR_ENV, "").strip()
    root = Path(configured) if configured else Path(data_dir) / "storage"
    root.mkdir(parents=True, exist_ok=True)
    return LocalStorage(root)
