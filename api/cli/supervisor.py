"""A process tree of Lanner roles: one child process per role, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

from rich.console import Console


class Supervisor:
    def __init__(self, env: Mapping[str, str], console: Console) -> None:
        self.env = dict(env)
        self.console = console
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, role: str) -> None:
        command = [sys.executable, "-m", "api.cli.main", "server", role]
        # Own session: Ctrl-C (or a signal to the group) reaches the supervisor only, which
        # stops the roles in order and the back end last, so none is left talking to a
        # broker that is already gone.
        self.children[role] = subprocess.Popen(
            command, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.console.log(f"started {role} (pid {self.children[role].pid})")

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
