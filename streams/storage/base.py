"""The storage port: what a back end must do. Small on purpose, so an S3 back end is easy."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class StorageError(Exception):
    """A file is missing, a URI is malformed, or the back end failed."""


class Storage(Protocol):
    def put_bytes(self, uri: str, data: bytes) -> str:
        """Store `data` at `uri`; returns the URI."""
        ...

    def put_file(self, uri: str, source: Path) -> str:
        """Store the file at `source` (copied, streamed) at `uri`; returns the URI."""
        ...

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The content at `uri`; StorageError when missing or bigger than `max_bytes`."""
        ...

    def get_file(self, uri: str, target: Path) -> None:
        """Copy the content at `uri` to `target` (streamed)."""
        ...

    def exists(self, uri: str) -> bool: ...

    def size(self, uri: str) -> int: ...
