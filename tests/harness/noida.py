"""noida-db, the embedded Kafka- and Elasticsearch-compatible server of the local default."""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from confluent_kafka.admin import AdminClient

from api.cli.embedded import EmbeddedError
from api.cli.embedded import noida_binary as embedded_binary
from tests.harness.common import (
    HarnessError,
    ManagedService,
    free_ports,
    port_open,
    stop_process,
    wait_until,
)

log = logging.getLogger("tests.harness.noida")


def noida_binary() -> Path:
    """The same binary `lanner server local` runs (api/cli/embedded.py finds it)."""
    try:
        return embedded_binary()
    except EmbeddedError as exc:
        raise HarnessError(str(exc)) from None


class NoidaServer(ManagedService):
    """noida-db with only Kafka and Elasticsearch, on free ports, data in a temp folder."""

    def __init__(self, *, startup_timeout_s: float = 60.0) -> None:
        self._startup_timeout_s = startup_timeout_s
        self.kafka_port, self.es_port = free_ports(2)
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.url = f"http://127.0.0.1:{self.es_port}"
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None

    @property
    def log_file(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "noida.log"

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        started = time.monotonic()
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="lanner-noida-"))
        assert self.log_file is not None
        cmd = [
            str(noida_binary()),
            "start",
            "--data-dir",
            str(self._workdir / "data"),
            "--only",
            "kafka,elasticsearch",
            "--kafka-port",
            str(self.kafka_port),
            "--elasticsearch-port",
            str(self.es_port),
        ]
        with self.log_file.open("ab") as out:
            # Its stderr carries a harmless GLIBC "weak version" warning; kept in the log.
            self._proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = self._proc
        try:
            wait_until(
                self._ready,
                timeout_s=self._startup_timeout_s,
                what="noida-db",
                alive=lambda: proc.poll() is None,
                log_file=self.log_file,
            )
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info(
            "noida-db ready",
            extra={
                "bootstrap": self.bootstrap,
                "url": self.url,
                "pid": proc.pid,
                "seconds": round(self.start_seconds, 2),
            },
        )

    def _ready(self) -> bool:
        if not (port_open(self.kafka_port) and port_open(self.es_port)):
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=2) as resp:
                if json.loads(resp.read()).get("status") not in ("green", "yellow"):
                    return False
            metadata = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except (OSError, urllib.error.URLError, ValueError):
            return False
        except Exception:  # a KafkaException means "not yet"
            return False
        return bool(metadata.brokers)

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, what="noida-db", timeout_s=20)
            self._proc = None
