"""A process tree of Lanner roles: one child process per role, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

from rich.console import Console

from api.cli.data_lock import DataFolderLock
from api.cli.lifeline import SUPERVISOR_PID_ENV


class Supervisor:
    def __init__(
        self,
        env: Mapping[str, str],
        console: Console,
        lock: DataFolderLock | None = None,
        other_pids: tuple[int, ...] = (),
    ) -> None:
        self.env = {**env, SUPERVISOR_PID_ENV: str(os.getpid())}
        self.console = console
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = lock
        self.other_pids = other_pids  # e.g. the embedded back end, named in the lock

    def spawn(self, role: str) -> None:
        command = [sys.executable, "-m", "api.cli.main", "server", role]
        # Own session: Ctrl-C (or a signal to the group) reaches the supervisor only, which
        # stops the roles in order and the back end last, so none is left talking to a
        # broker that is already gone. The child dies with the supervisor (it asks the
        # kernel for SIGTERM then, and watches its parent: api/cli/lifeline.py), and
        # holds the data folder's lock as long as it lives.
        keep = (self.lock.fd,) if self.lock is not None and self.lock.fd is not None else ()
        self.children[role] = subprocess.Popen(
            command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=keep,
        )
        self.console.log(f"started {role} (pid {self.children[role].pid})")
        if self.lock is not None:
            pids = [c.pid for c in self.children.values()]
            self.lock.record([os.getpid(), *self.other_pids, *pids])

    def watch(self, stop_after_s: float | None = None) -> int:
        """Wait until Ctrl-C / SIGTERM, or a child dies; then stop everything."""
        stopping = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        previous = signal.signal(signal.SIGTERM, on_signal)
        code = 0
        deadline = None if stop_after_s is None else time.monotonic() + stop_after_s
        try:
            while not stopping and (deadline is None or time.monotonic() < deadline):
                for role, child in self.children.items():
                    if child.poll() is not None:
                        self.console.log(
                            f"[red]{role} exited with {child.returncode}; stopping[/red]"
                        )
                        stopping, code = True, 1
                        break
                time.sleep(0.3)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stop()
        return code

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for role, child in reversed(self.children.items()):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.console.log(f"{role} did not stop in time; killing it")
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
        self.console.log("stopped")
