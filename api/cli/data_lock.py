"""One Lanner process tree per data folder.

`lanner server local|standalone` holds an exclusive flock on `<data folder>/lanner.lock`
while it runs, and hands the open lock to each of its children: the kernel keeps the
lock for as long as any process of the tree lives, and releases it when the last one is
gone, however it died. A second start on the same folder is refused with the pids that
hold it, rather than starting a tree that would fight the first one for its ports.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "lanner.lock"


class DataFolderInUse(RuntimeError):
    pass


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie is gone, only unreaped


class DataFolderLock:
    """The lock of one data folder; `fd` is passed to the tree's children (pass_fds)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> DataFolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holders = self._holders(fd)
            os.close(fd)
            raise DataFolderInUse(
                f"data folder {self.folder} is in use by a running Lanner ({holders}): stop "
                "it first, or use another data folder"
            ) from None
        self.fd = fd
        self.record([os.getpid()])
        return self

    def record(self, pids: list[int]) -> None:
        """Write the tree's pids (supervisor first): what a refused start names."""
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (" ".join(str(p) for p in pids) + "\n").encode(), 0)

    def _holders(self, fd: int) -> str:
        try:
            pids = [int(p) for p in os.pread(fd, 4096, 0).split()]
        except ValueError:
            pids = []
        if not pids:
            return "pid unknown"
        supervisor, children = pids[0], [p for p in pids[1:] if _alive(p)]
        if _alive(supervisor):
            return f"pid {supervisor}"
        # The supervisor died and some child lives on: name the survivors.
        survivors = ", ".join(str(p) for p in children) or "unknown"
        return f"pid {survivors}, left by pid {supervisor}"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
