"""A temporary Lanner for `lanner flow test`: its own topics, executor and worker.

On the embedded server (started in a temporary folder) by default, or on the Kafka named
by LANNER_KAFKA_BOOTSTRAP; either way under a fresh topic prefix that is deleted at the
end, so a test run neither sees nor leaves anything behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

from api.cli.embedded import EmbeddedServer, free_port
from api.cli.lifeline import SUPERVISOR_PID_ENV
from schemas.events import EXECUTION_EVENT_ADAPTER
from schemas.execution import Execution
from schemas.settings import LannerSettings, Limits
from streams.core import evolve
from streams.flow_catalog import LiveFlowCatalog
from streams.log.admin import ensure_lanner_topics, wait_group_consuming
from streams.log.client_logging import admin_config
from streams.log.producer import LogProducer
from streams.log.reader import tail
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from streams.writers.executions import ExecutionWriter
from streams.writers.flows import FlowWriter


class TestEnvironmentError(RuntimeError):
    pass


class TestEnvironment:
    def __init__(self, bootstrap: str | None, tenant: str = "main") -> None:
        self._given_bootstrap = bootstrap
        self._tmp = Path(tempfile.mkdtemp(prefix="lanner-flow-test-"))
        self._embedded: EmbeddedServer | None = None
        self._streams: subprocess.Popen[bytes] | None = None
        self.prefix = f"lanner-test-{uuid.uuid4().hex[:8]}."
        self.tenant = tenant
        self.settings: LannerSettings | None = None
        self.catalog: LiveFlowCatalog | None = None
        self.producer: LogProducer | None = None
        self.phases: list[tuple[str, float]] = []
        self._last = time.monotonic()

    def phase(self, name: str) -> None:
        """Record how long the step that just ended took (printed by `flow test`)."""
        now = time.monotonic()
        self.phases.append((name, now - self._last))
        self._last = now

    def __enter__(self) -> TestEnvironment:
        bootstrap = self._given_bootstrap
        if bootstrap is None:
            self._embedded = EmbeddedServer(self._tmp / "noida", free_port(), free_port())
            self._embedded.start()
            bootstrap = self._embedded.bootstrap
            self.phase("embedded back end")
        self.settings = LannerSettings(
            kafka_bootstrap=bootstrap,
            topic_prefix=self.prefix,
            tenant_id=self.tenant,
            partitions=1,
            data_dir=str(self._tmp / "data"),
            limits=Limits.from_env(os.environ),
        )
        env = {
            **os.environ,
            "LANNER_KAFKA_BOOTSTRAP": bootstrap,
            "LANNER_TOPIC_PREFIX": self.prefix,
            "LANNER_TENANT_ID": self.tenant,
            "LANNER_PARTITIONS": "1",
            "LANNER_DATA_DIR": str(self._tmp / "data"),
            "LANNER_LOG_LEVEL": os.environ.get("LANNER_LOG_LEVEL", "WARNING"),
            # The executor/worker process watches this one and stops when it is gone.
            SUPERVISOR_PID_ENV: str(os.getpid()),
        }
        # Started first, so that its interpreter start-up and imports (the larger part of
        # its start on a cold machine) overlap with the topics, catalog and producer made
        # here; it creates the topics itself too (idempotent) before it subscribes.
        log_file = (self._tmp / "streams.log").open("wb")
        self._streams = subprocess.Popen(
            [sys.executable, "-m", "api.cli.streams_process"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        ensure_lanner_topics(self.settings)
        self.phase("topics")
        registry = PluginRegistry.discover()
        topics = Topics(self.settings.full_topic_prefix)
        limits = self.settings.limits
        self.catalog = LiveFlowCatalog(bootstrap, topics, registry, limits).start()
        self.producer = LogProducer(bootstrap, client_id="lanner-flow-test")
        self.flows = FlowWriter(self.producer, self.catalog, registry, topics, self.tenant, limits)
        self.executions = ExecutionWriter(self.producer, self.catalog, topics, self.tenant, limits)
        self.topics = topics
        self.phase("flow catalog and producer")
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until the executor/worker app has joined its group and holds the partitions."""
        assert self.settings is not None
        group = f"{self.settings.full_topic_prefix}streams"
        for topic in (self.topics.commands, self.topics.worker_jobs):
            wait_group_consuming(self.settings.kafka_bootstrap, group, topic, timeout_s)
        self.phase("executor and worker joined")

    def streams_log(self) -> str:
        path = self._tmp / "streams.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def wait_for_end(self, execution_id: str, timeout_s: float) -> Execution | None:
        """Fold the execution's events until it ends (None if it does not in time)."""
        assert self.settings is not None
        stop = threading.Event()
        timer = threading.Timer(timeout_s, stop.set)
        timer.start()
        state: Execution | None = None
        try:
            for record in tail(
                self.settings.kafka_bootstrap,
                [self.topics.execution_events],
                from_beginning=True,
                stop=stop,
            ):
                if record.key != execution_id:
                    continue
                event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
                if state is not None and event.seq <= state.seq:
                    continue  # a re-emitted event
                state = evolve(state, event)
                if state.state.is_terminal:
                    return state
                if self._streams is not None and self._streams.poll() is not None:
                    raise TestEnvironmentError(
                        f"the executor/worker process exited ({self._streams.returncode}):\n"
                        + self.streams_log()
                    )
        finally:
            timer.cancel()
        return None if state is None or not state.state.is_terminal else state

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.catalog is not None:
            self.catalog.stop()
        if self.producer is not None:
            self.producer.close()
        if self._streams is not None and self._streams.poll() is None:
            # Killed, not stopped: everything it holds is thrown away with the temporary
            # topics, and a graceful Faust shutdown costs seconds the user waits for.
            self._streams.kill()
            self._streams.wait(timeout=15)
        if self._embedded is not None:
            self._embedded.stop(graceful=False)  # a temporary folder, deleted next
        elif self.settings is not None:
            self._delete_topics()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _delete_topics(self) -> None:
        assert self.settings is not None
        admin = AdminClient(admin_config(self.settings.kafka_bootstrap))
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        if names:
            for future in admin.delete_topics(names, operation_timeout=10).values():
                try:
                    future.result(timeout=15)
                except Exception:  # cleanup is best effort; the prefix is unique anyway
                    time.sleep(0)
