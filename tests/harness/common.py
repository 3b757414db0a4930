"""Small helpers shared by the harness: cache location, free ports, bounded waits."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger("tests.harness")


class HarnessError(RuntimeError):
    """A back end could not be fetched, started or stopped."""


def cache_dir() -> Path:
    """The download cache; outside the repository so `git clean` never costs a re-fetch."""
    configured = os.environ.get("LANNER_CACHE", "")
    path = Path(configured) if configured else Path.home() / ".cache" / "lanner"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1, distinct from each other.

    The sockets stay open until all ports are chosen, so two calls in one request cannot
    return the same port; another process may still grab one before we use it (rare on a
    test machine, and the start then fails loudly with the log tail).
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    log_file: Path | None = None,
    interval_s: float = 0.2,
) -> float:
    """Poll `ready` until it is true; return the seconds waited.

    Fails fast when `alive` says the process died, and puts the tail of its log in the
    error either way, since "timed out" alone never explains a broken start.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        if ready():
            return time.monotonic() - started
        if alive is not None and not alive():
            raise HarnessError(f"{what} exited while starting\n{log_tail(log_file)}")
        if time.monotonic() >= deadline:
            raise HarnessError(f"{what} not ready after {timeout_s:.0f} s\n{log_tail(log_file)}")
        time.sleep(interval_s)


def log_tail(path: Path | None, lines: int = 60) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last {len(text)} lines of {path} ---\n" + "\n".join(text)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie counts as dead (PID 1 may not reap in containers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        # The state letter follows the parenthesised command name.
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def terminate_pid(pid: int, *, what: str, timeout_s: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL: a clean stop when possible, a bounded one always."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        if not pid_alive(pid):
            return
        log.info("stopping process", extra={"what": what, "pid": pid, "signal": sig.name})
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if pid_alive(pid):
        raise HarnessError(f"{what} (pid {pid}) survived SIGKILL")


def stop_process(proc: subprocess.Popen[bytes], *, what: str, timeout_s: float = 20.0) -> None:
    """Stop a child we started, and reap it so no zombie is left behind."""
    if proc.poll() is None:
        terminate_pid(proc.pid, what=what, timeout_s=timeout_s)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def run_checked(cmd: list[str], *, what: str, timeout_s: float, cwd: Path | None = None) -> None:
    """Run a short command; on failure raise with its output, which says what went wrong."""
    log.info("running", extra={"what": what, "cmd": cmd})
    try:
        done = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{what} timed out after {timeout_s:.0f} s: {cmd}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise HarnessError(f"{what} failed (exit {done.returncode}): {cmd}\n{output}")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise fetches from parallel sessions (two CI jobs sharing one cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ManagedService:
    """What the harness's services share: a work folder, start/stop, and a context that
    removes the folder whether the start succeeded or not. Subclasses set `_workdir` and
    implement `start` and `stop`."""

    _workdir: Path | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ will not run: remove the work folder here
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
