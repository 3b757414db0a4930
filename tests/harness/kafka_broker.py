"""A real one-node Apache Kafka broker (KRaft) on loopback, from jars fetched by Maven."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from tests.harness.common import (
    HarnessError,
    ManagedService,
    cache_dir,
    file_lock,
    free_ports,
    port_open,
    run_checked,
    stop_process,
    wait_until,
)

log = logging.getLogger("tests.harness.kafka")

KAFKA_VERSION = "3.9.1"
# A jar per artifact we must have; a half-finished copy lacks some of them.
_REQUIRED_JARS = (
    f"kafka_2.13-{KAFKA_VERSION}.jar",
    f"kafka-clients-{KAFKA_VERSION}.jar",
    "slf4j-reload4j-1.7.36.jar",
)
_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lanner</groupId><artifactId>kafka-fetch</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies>
</project>
"""
_LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""


def fetch_kafka_libs(cache: Path | None = None) -> Path:
    """Return the folder of the broker's jars, fetching them with Maven when missing."""
    root = (cache or cache_dir()) / "kafka"
    libs = root / "libs"
    if _complete(libs):
        return libs
    with file_lock(root / ".lock"):
        if _complete(libs):  # another session fetched while we waited for the lock
            return libs
        root.mkdir(parents=True, exist_ok=True)
        (root / "pom.xml").write_text(_POM)
        staging = root / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        run_checked(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(root / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            what="maven fetch of the Kafka jars",
            timeout_s=600,
        )
        if not _complete(staging):
            raise HarnessError(f"maven ran but {staging} lacks {_REQUIRED_JARS}")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)  # atomic: a reader sees all jars or none
        log.info(
            "kafka jars fetched",
            extra={"libs": str(libs), "seconds": round(time.monotonic() - started, 1)},
        )
    return libs


def _complete(libs: Path) -> bool:
    return all((libs / name).is_file() for name in _REQUIRED_JARS)


def _cluster_id() -> str:
    # What `StorageTool random-uuid` prints, without paying a JVM start for it.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaBroker(ManagedService):
    """One KRaft broker+controller on 127.0.0.1; `bootstrap` is its client address.

    Ports and folders are chosen once, so `restart()` brings back the same broker with
    its data, as a fault test needs.
    """

    def __init__(
        self, *, cache: Path | None = None, startup_timeout_s: float = 120.0, heap: str = "512m"
    ) -> None:
        self._cache = cache
        self._startup_timeout_s = startup_timeout_s
        self._heap = heap
        self.port, self.controller_port = free_ports(2)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None

    @property
    def log_file(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "server.log"

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        libs = fetch_kafka_libs(self._cache)
        started = time.monotonic()
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="lanner-kafka-"))
            self._write_config()
            run_checked(
                [
                    "java",
                    "-cp",
                    f"{libs}/*",
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(self._workdir / "server.properties"),
                ],
                what="kafka storage format",
                timeout_s=60,
            )
        assert self.log_file is not None
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    "java",
                    f"-Xmx{self._heap}",
                    f"-Xms{self._heap}",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j.configuration=file:{self._workdir / 'log4j.properties'}",
                    "-cp",
                    f"{libs}/*",
                    "kafka.Kafka",
                    str(self._workdir / "server.properties"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in pytest must not kill it half-way
            )
        proc = self._proc
        try:
            wait_until(
                self._ready,
                timeout_s=self._startup_timeout_s,
                what="kafka broker",
                alive=lambda: proc.poll() is None,
                log_file=self.log_file,
            )
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info(
            "kafka broker ready",
            extra={
                "bootstrap": self.bootstrap,
                "pid": proc.pid,
                "seconds": round(self.start_seconds, 1),
            },
        )

    def _write_config(self) -> None:
        assert self._workdir is not None
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self._workdir / "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",  # 50 by default: slow first group join
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "min.insync.replicas": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "message.max.bytes": str(2 * 1024 * 1024 + 1024),
            "replica.fetch.max.bytes": str(2 * 1024 * 1024 + 1024),
            "log.flush.interval.messages": str(2**62),  # tests need no fsync per write
            # The log cleaner looks for compactable changelogs every second (15 s by
            # default), so a test sees forgotten executions leave a changelog in seconds.
            "log.cleaner.backoff.ms": "1000",
        }
        text = "".join(f"{key}={value}\n" for key, value in props.items())
        (self._workdir / "server.properties").write_text(text)
        (self._workdir / "log4j.properties").write_text(_LOG4J)

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            # Only asked once the port is open, so librdkafka does not log refusals.
            metadata = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except Exception:  # any failure means "not yet"
            return False
        return bool(metadata.brokers)

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, what="kafka broker", timeout_s=30)
            self._proc = None
