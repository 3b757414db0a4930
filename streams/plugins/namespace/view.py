"""The namespace files projection: `namespace-file-events` folded into each file's versions.

`NamespaceFilesFold` is the pure fold; `LiveNamespaceFilesView` keeps one current from a
thread tailing the topic from the start (as the KV view does), and can wait until it has
caught up, which gives read-your-writes across API processes and workers: a task that
starts after an upload was answered sees the uploaded version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from streams.log.follower import FollowedView
from streams.plugins.namespace.events import (
    NAMESPACE_FILE_EVENT_ADAPTER,
    NamespaceFileDeleted,
    NamespaceFileWritten,
)


@dataclass(frozen=True)
class FileVersion:
    """One version of a file: its number (1 = first write) and the event that wrote it."""

    version: int
    written: NamespaceFileWritten

    @property
    def path(self) -> str:
        return self.written.path


@dataclass
class _History:
    versions: list[FileVersion] = field(default_factory=list)
    deleted: bool = False


class NamespaceFilesFold:
    def __init__(self) -> None:
        self._files: dict[str, _History] = {}
        self._lock = threading.Lock()

    def apply(self, event: NamespaceFileWritten | NamespaceFileDeleted) -> None:
        with self._lock:
            history = self._files.setdefault(event.record_key, _History())
            if isinstance(event, NamespaceFileDeleted):
                history.deleted = True
                return
            last = history.versions[-1] if history.versions else None
            if last is not None and not history.deleted and last.written.sha256 == event.sha256:
                # The same content again (a redelivered write, an unchanged upload): no new
                # version, so at-least-once delivery cannot inflate the history.
                return
            history.versions.append(FileVersion(len(history.versions) + 1, event))
            history.deleted = False

    def get(self, tenant: str, namespace: str, path: str) -> FileVersion | None:
        """The file's current version (None when it was never written, or deleted)."""
        with self._lock:
            history = self._files.get(f"{tenant}/{namespace}{path}")
            if history is None or history.deleted or not history.versions:
                return None
            return history.versions[-1]

    def versions(self, tenant: str, namespace: str, path: str) -> list[FileVersion]:
        """Every version ever written, oldest first (a deleted file's too)."""
        with self._lock:
            history = self._files.get(f"{tenant}/{namespace}{path}")
            return list(history.versions) if history else []

    def files(self, tenant: str, namespace: str) -> list[FileVersion]:
        """The namespace's live files (not its children's), sorted by path."""
        prefix = f"{tenant}/{namespace}/"
        with self._lock:
            found = [
                h.versions[-1]
                for key, h in self._files.items()
                if key.startswith(prefix)
                and not h.deleted
                and h.versions
                and h.versions[-1].written.namespace == namespace
            ]
        return sorted(found, key=lambda f: f.path)

    def has_namespace(self, tenant: str, namespace: str) -> bool:
        """Whether the namespace ever held a file (deleted ones count)."""
        prefix = f"{tenant}/{namespace}/"
        with self._lock:
            return any(
                key.startswith(prefix)
                and h.versions
                and h.versions[0].written.namespace == namespace
                for key, h in self._files.items()
            )

    def forget(self) -> None:
        with self._lock:
            self._files.clear()


class LiveNamespaceFilesView(NamespaceFilesFold, FollowedView):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        decode = NAMESPACE_FILE_EVENT_ADAPTER.validate_json
        self.follow(bootstrap, topic, decode, self.apply, self.forget, name="namespace-files")
