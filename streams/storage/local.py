"""Storage in a local directory: `kestra://a/b/c` is `<root>/a/b/c`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from schemas.storage import SCHEME, StorageError


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, uri: str) -> Path:
        if not uri.startswith(SCHEME):
            raise StorageError(f"not a storage URI: {uri!r}")
        relative = uri[len(SCHEME) :]
        if "\x00" in relative:
            raise StorageError(f"malformed storage URI (a NUL byte): {uri!r}")
        parts = [p for p in relative.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise StorageError(f"malformed storage URI: {uri!r}")
        path = self.root.joinpath(*parts)
        # Belt and braces against traversal through symlinks or odd parts.
        if not path.resolve().is_relative_to(self.root):
            raise StorageError(f"storage URI escapes the storage root: {uri!r}")
        return path

    def _atomic_target(self, uri: str) -> tuple[Path, Path]:
        path = self.path_of(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        os.close(fd)
        return path, Path(tmp)

    def put_bytes(self, uri: str, data: bytes) -> str:
        path, tmp = self._atomic_target(uri)
        tmp.write_bytes(data)
        # Rename is atomic: a reader never sees half a file, a retried attempt overwrites.
        tmp.replace(path)
        return uri

    def put_file(self, uri: str, source: Path) -> str:
        path, tmp = self._atomic_target(uri)
        shutil.copyfile(source, tmp)
        tmp.replace(path)
        return uri

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        path = self.path_of(uri)
        try:
            size = path.stat().st_size
            if max_bytes is not None and size > max_bytes:
                raise StorageError(f"file {uri} is {size} bytes, more than {max_bytes}")
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StorageError(f"file {uri} does not exist in storage") from None

    def get_file(self, uri: str, target: Path) -> None:
        path = self.path_of(uri)
        try:
            shutil.copyfile(path, target)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StorageError(f"file {uri} does not exist in storage") from None

    def exists(self, uri: str) -> bool:
        return self.path_of(uri).is_file()

    def size(self, uri: str) -> int:
        try:
            path = self.path_of(uri)
            if not path.is_file():
                raise FileNotFoundError(uri)
            return path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            raise StorageError(f"file {uri} does not exist in storage") from None

    def delete(self, uri: str) -> bool:
        """Delete one file; whether it existed."""
        path = self.path_of(uri)
        if not path.is_file():
            return False
        path.unlink(missing_ok=True)
        return True

    def delete_under(self, prefix: str) -> list[str]:
        """Delete every file under the folder `prefix` (ending in "/"); their URIs."""
        folder = prefix.rstrip("/")
        root = self.path_of(folder)
        if not root.is_dir():
            return []
        files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
        deleted = [f"{folder}/{p.relative_to(root).as_posix()}" for p in files]
        shutil.rmtree(root, ignore_errors=True)
        return deleted
