"""The local default back end: noida-db (Kafka- and Elasticsearch-compatible) in a child
process, data under ./.lanner. Convenience mode, not the truth (DESIGN.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from importlib.resources import files
from pathlib import Path

from api.cli.lifeline import die_with_parent


class EmbeddedError(RuntimeError):
    pass


def noida_binary() -> Path:
    # The packaged binary itself: the `noida-db` wrapper script would run it as a
    # grandchild, and stopping the wrapper would leave the server running.
    packaged = Path(str(files("noida_db").joinpath("noida-db")))
    if packaged.is_file():
        packaged.chmod(0o755)
        return packaged
    found = shutil.which("noida-db")
    if found is None:
        raise EmbeddedError("noida-db is not installed: pip install noida-db")
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def taken_message(port: int, what: str, setting: str) -> str:
    return (
        f"port {port} for {what} is already taken: stop what uses it, or set {setting} "
        "to a free port"
    )


class EmbeddedServer:
    def __init__(
        self, data_dir: Path, kafka_port: int, es_port: int, keep_fds: tuple[int, ...] = ()
    ) -> None:
        self.data_dir = data_dir
        self.kafka_port = kafka_port
        self.es_port = es_port
        # The data folder's lock: the server holds it too while it lives (api/cli/data_lock.py).
        self.keep_fds = keep_fds
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"

    def start(self, timeout_s: float = 60.0) -> None:
        for port, what, setting in (
            (self.kafka_port, "Kafka", "LANNER_LOCAL_KAFKA_PORT"),
            (self.es_port, "Elasticsearch", "LANNER_LOCAL_ELASTICSEARCH_PORT"),
        ):
            if port_in_use(port):
                raise EmbeddedError(taken_message(port, f"the embedded {what}", setting))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / "noida.log"
        with log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(noida_binary()),
                    "start",
                    "--data-dir",
                    str(self.data_dir / "data"),
                    "--only",
                    "kafka,elasticsearch",
                    "--kafka-port",
                    str(self.kafka_port),
                    "--elasticsearch-port",
                    str(self.es_port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # stopped by us, after the roles that use it
                # ... and by the kernel when we die, so it never outlives its supervisor.
                preexec_fn=die_with_parent(os.getpid()),
                pass_fds=self.keep_fds,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmbeddedError(f"noida-db exited with {self.proc.returncode}; see {log_path}")
            if port_in_use(self.kafka_port) and self._es_ready():
                return
            time.sleep(0.2)
        self.stop()
        raise EmbeddedError(f"noida-db not ready after {timeout_s:.0f} s; see {log_path}")

    def _es_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the server; `graceful=False` kills it at once (its data is thrown away)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if not graceful:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
