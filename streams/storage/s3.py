"""Storage in any S3-compatible object store: `kestra://a/b/c` is object `<prefix>a/b/c`.

For a cluster whose workers and API share no folder. Objects are written whole (a
PutObject is atomic: readers never see half a file) and read with a size check first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from schemas.storage import SCHEME, StorageError


class S3Storage:
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # Credentials come from the usual AWS variables or files (boto3's chain).
        self._s3 = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def key_of(self, uri: str) -> str:
        if not uri.startswith(SCHEME):
            raise StorageError(f"not a storage URI: {uri!r}")
        parts = [p for p in uri[len(SCHEME) :].split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise StorageError(f"malformed storage URI: {uri!r}")
        return self.prefix + "/".join(parts)

    def _missing(self, exc: ClientError, uri: str) -> StorageError:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return StorageError(f"file {uri} does not exist in storage")
        return StorageError(f"storage failed for {uri}: {exc}")

    def put_bytes(self, uri: str, data: bytes) -> str:
        self._s3.put_object(Bucket=self.bucket, Key=self.key_of(uri), Body=data)
        return uri

    def put_file(self, uri: str, source: Path) -> str:
        self._s3.upload_file(str(source), self.bucket, self.key_of(uri))
        return uri

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None:
            size = self.size(uri)
            if size > max_bytes:
                raise StorageError(f"file {uri} is {size} bytes, more than {max_bytes}")
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self.key_of(uri))["Body"]
            data: bytes = body.read()
            return data
        except ClientError as exc:
            raise self._missing(exc, uri) from None

    def get_file(self, uri: str, target: Path) -> None:
        try:
            self._s3.download_file(self.bucket, self.key_of(uri), str(target))
        except ClientError as exc:
            raise self._missing(exc, uri) from None

    def exists(self, uri: str) -> bool:
        try:
            self.size(uri)
        except StorageError:
            return False
        return True

    def size(self, uri: str) -> int:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self.key_of(uri))
        except ClientError as exc:
            raise self._missing(exc, uri) from None
        return int(head["ContentLength"])

    def delete(self, uri: str) -> bool:
        """Delete one object; whether it existed."""
        if not self.exists(uri):
            return False
        self._s3.delete_object(Bucket=self.bucket, Key=self.key_of(uri))
        return True

    def delete_under(self, prefix: str) -> list[str]:
        """Delete every object under the folder `prefix` (ending in "/"); their URIs."""
        folder = prefix.rstrip("/")
        key_prefix = self.key_of(folder) + "/"
        deleted_keys: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=key_prefix
        )
        for page in pages:
            keys = [item["Key"] for item in page.get("Contents", [])]
            if keys:
                self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
                )
                deleted_keys.extend(keys)
        return sorted(f"{folder}/{k[len(key_prefix) :]}" for k in deleted_keys)
