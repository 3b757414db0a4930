"""Lanner's streams roles as real processes on a real broker, for integration tests.

Each role is a `lanner server ROLE` child process that a test can SIGKILL and restart;
everything lives under the test's own topic prefix, so tests share the session broker
but never data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from schemas.events import EXECUTION_EVENT_ADAPTER, ExecutionEvent
from schemas.execution import Execution
from schemas.settings import LannerSettings
from streams.core.evolve import evolve
from streams.flow_catalog import LiveFlowCatalog
from streams.log.admin import ensure_lanner_topics, wait_group_consuming
from streams.log.producer import LogProducer
from streams.log.reader import Record, read_all, tail
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from streams.writers.executions import ExecutionWriter, Requested
from streams.writers.flows import Deployed, FlowWriter

REPO = Path(__file__).resolve().parents[2]


class Cluster:
    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        *,
        partitions: int = 2,
        worker_threads: int = 4,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="lanner-it-"))
        self.settings = LannerSettings(
            kafka_bootstrap=bootstrap,
            topic_prefix=f"{prefix}.",
            partitions=partitions,
            worker_threads=worker_threads,
            data_dir=str(self.workdir / "data"),
        )
        self.topics = Topics(self.settings.full_topic_prefix)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "LANNER_KAFKA_BOOTSTRAP": bootstrap,
            "LANNER_TOPIC_PREFIX": self.settings.topic_prefix,
            "LANNER_PARTITIONS": str(partitions),
            "LANNER_WORKER_THREADS": str(worker_threads),
            "LANNER_DATA_DIR": self.settings.data_dir,
            "LANNER_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        ensure_lanner_topics(self.settings)
        registry = PluginRegistry.discover()
        self.catalog = LiveFlowCatalog(bootstrap, self.topics, registry).start()
        self.producer = LogProducer(bootstrap, client_id="lanner-tests")
        self.flows = FlowWriter(self.producer, self.catalog, registry, self.topics, "main")
        self.executions = ExecutionWriter(self.producer, self.catalog, self.topics, "main")

    # --- processes -------------------------------------------------------------------

    def start(self, role: str, name: str | None = None) -> None:
        name = name or role
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "server", role],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, role: str, timeout_s: float = 90.0) -> None:
        group = f"{self.settings.full_topic_prefix}{role}"
        topic = {"executor": self.topics.commands, "worker": self.topics.worker_jobs}[role]
        wait_group_consuming(self.settings.kafka_bootstrap, group, topic, timeout_s)

    def start_executor_and_worker(self) -> None:
        """The two roles every execution needs, both consuming when this returns."""
        self.start("executor")
        self.start("worker")
        self.wait_ready("executor")
        self.wait_ready("worker")

    def kill(self, name: str) -> None:
        proc = self.processes.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str, timeout_s: float = 30.0) -> None:
        """A graceful stop (SIGTERM), as an orchestrator scaling down would do."""
        proc = self.processes.pop(name)
        proc.terminate()
        proc.wait(timeout=timeout_s)

    def log_of(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.catalog.stop()
        self.producer.close()

    # --- flows and executions ----------------------------------------------------------

    def deploy(self, source: str) -> Deployed:
        result = self.flows.deploy(source, actor="tests")
        assert not isinstance(result, list), [str(p) for p in result]
        return result

    def deploy_file(self, name: str) -> Deployed:
        return self.deploy((REPO / "flows" / name).read_text())

    def run(
        self,
        namespace: str,
        flow_id: str,
        inputs: dict[str, Any] | None = None,
        timeout_s: float = 60.0,
    ) -> Execution:
        requested = self.executions.create(namespace, flow_id, inputs or {}, actor="tests")
        return self.wait_for_end(requested.execution_id, timeout_s)

    def create(
        self, namespace: str, flow_id: str, inputs: dict[str, Any] | None = None
    ) -> Requested:
        return self.executions.create(namespace, flow_id, inputs or {}, actor="tests")

    def send_creations(self, namespace: str, flow_id: str, count: int) -> set[str]:
        """`count` creations of one flow, straight onto the commands topic in one flush (a
        burst, as no API would send it); their execution ids."""
        ids: set[str] = set()
        for _ in range(count):
            command = self.executions.prepare_create(namespace, flow_id, {}, actor="tests")
            self.producer.send(
                self.topics.commands, command.execution_id, command.model_dump_json().encode()
            )
            ids.add(command.execution_id)
        self.producer.flush()
        return ids

    def wait_for_end(self, execution_id: str, timeout_s: float = 60.0) -> Execution:
        ended = self.wait_for_all({execution_id}, timeout_s)
        return ended[execution_id]

    def wait_for_all(
        self, execution_ids: set[str], timeout_s: float = 120.0
    ) -> dict[str, Execution]:
        """Fold execution-events until every execution has ended; fail with the laggards."""
        states: dict[str, Execution] = {}
        ended: dict[str, Execution] = {}
        stop = threading.Event()
        timer = threading.Timer(timeout_s, stop.set)
        timer.start()
        try:
            for record in tail(
                self.settings.kafka_bootstrap,
                [self.topics.execution_events],
                from_beginning=True,
                stop=stop,
            ):
                if record.key not in execution_ids:
                    continue
                event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
                current = states.get(event.execution_id)
                if current is not None and event.seq <= current.seq:
                    continue
                states[event.execution_id] = evolve(current, event)
                if states[event.execution_id].state.is_terminal:
                    ended[event.execution_id] = states[event.execution_id]
                    if len(ended) == len(execution_ids):
                        return ended
        finally:
            timer.cancel()
        missing = {
            i: (states[i].state if i in states else "no event") for i in execution_ids - set(ended)
        }
        raise AssertionError(
            f"{len(missing)} executions did not end in {timeout_s:.0f} s: "
            f"{dict(list(missing.items())[:5])}\n{self._diagnosis(list(missing)[:3])}"
        )

    def _diagnosis(self, execution_ids: list[str]) -> str:
        """What a stuck run needs to be understood after the broker is gone: each laggard's
        events and the jobs and reports about it, and every process's warnings."""
        lines: list[str] = []
        jobs = self.records(self.topics.worker_jobs)
        reports = self.records(self.topics.worker_results)
        for execution_id in execution_ids:
            events = [f"{e.seq}:{e.type}" for e in self.events_of(execution_id)]
            mine = [r for r in jobs if execution_id.encode() in r.value]
            told = [r for r in reports if r.key == execution_id]
            lines.append(
                f"--- {execution_id}: events {events}; jobs at "
                f"{[(r.partition, r.offset) for r in mine]}; reports at "
                f"{[(r.partition, r.offset, _kind(r.value)) for r in told]}"
            )
        for name in sorted(p.stem for p in self.workdir.glob("*.log")):
            notable = [
                line
                for line in self.log_of(name).splitlines()
                if any(level in line for level in (" WARNING ", " ERROR ", " CRITICAL "))
            ]
            lines.append(f"--- {name}: {len(notable)} warnings/errors, the last ones:")
            lines.extend(line[:300] for line in notable[-15:])
        lines.append(f"--- executor log tail:\n{self.log_of('executor')[-2000:]}")
        return "\n".join(lines)

    # --- the log as the record ---------------------------------------------------------

    def records(self, topic: str) -> list[Record]:
        return list(read_all(self.settings.kafka_bootstrap, topic))

    def executor_changelog(self) -> list[Record]:
        """What a restarted executor reads back into its table of executions."""
        return self.records(f"{self.settings.full_topic_prefix}executor-executions-changelog")

    def events_of(self, execution_id: str) -> list[ExecutionEvent]:
        return [
            EXECUTION_EVENT_ADAPTER.validate_json(r.value)
            for r in self.records(self.topics.execution_events)
            if r.key == execution_id
        ]

    def logs_of(self, execution_id: str) -> list[dict[str, Any]]:
        return [
            json.loads(r.value) for r in self.records(self.topics.logs) if r.key == execution_id
        ]


def _kind(value: bytes) -> str:
    try:
        return str(json.loads(value).get("kind"))
    except ValueError:
        return "?"


def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def distinct_history(events: list[ExecutionEvent]) -> Iterator[ExecutionEvent]:
    """The history without re-emitted copies, checking that copies are identical."""
    seen: dict[int, ExecutionEvent] = {}
    for event in events:
        if event.seq in seen:
            assert seen[event.seq] == event, f"two different events with seq {event.seq}"
            continue
        seen[event.seq] = event
    for seq in sorted(seen):
        yield seen[seq]
