"""Trigger figures on the server path, printed as a table (no asserts).

    PYTHONPATH=. python bench/triggers.py [--records 10000] [--external-broker]

Starts the test harness's real Apache Kafka (Lanner's log) and runs executor, worker and
scheduler as their own `lanner server` processes. External producers write to a topic on
the same broker (or, with --external-broker, on a second broker: two JVMs on 2 cores).

- record -> execution created: a producer writes one record, the clock stops when the
  executor's ExecutionCreated for it is read (p50/p95, one record at a time, warm);
- records/s into executions: a topic holding --records records is given to a new
  RealtimeTrigger; the rate at which CreateExecution commands reach Lanner's log (the
  listener) and ExecutionCreated events come out (the executor), first to last;
- schedule lag: a per-second cron schedule; from each slot to its ExecutionCreated;
- Flow trigger: an upstream execution ends (its ExecutionSucceeded read), the clock stops
  when the downstream flow's CreateExecution for it is read (one upstream at a time).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from bench.latency import pct
from schemas.events import EXECUTION_EVENT_ADAPTER
from streams.log.client_logging import admin_config, kafka_logging
from streams.log.reader import tail
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster

REALTIME = """
id: {flow_id}
namespace: bench
triggers:
  - id: records
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: {topic}
    groupId: bench-{flow_id}
    valueDeserializer: JSON
    properties:
      bootstrap.servers: {servers}
      auto.offset.reset: earliest
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.value.n }}}}"
"""

EVERY_SECOND = """
id: every_second
namespace: bench
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
"""


UPSTREAM = """
id: upstream
namespace: bench
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: done
"""

DOWNSTREAM = """
id: downstream
namespace: bench
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: bench
        flowId: upstream
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }}"
"""


class CreatedWatcher:
    """When each execution's ExecutionCreated is read, by flow, with its trigger."""

    def __init__(self, cluster: Cluster) -> None:
        self.created: dict[str, list[tuple[float, dict[str, object]]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cluster,), daemon=True)
        self._thread.start()
        time.sleep(1.0)

    def _run(self, cluster: Cluster) -> None:
        for record in tail(
            cluster.settings.kafka_bootstrap,
            [cluster.topics.execution_events],
            from_beginning=False,
            stop=self._stop,
            poll_s=0.02,
        ):
            if b'"ExecutionCreated"' not in record.value:
                continue
            seen = time.time()
            event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
            if event.type != "ExecutionCreated":
                continue
            with self._lock:
                self.created.setdefault(event.flow_id, []).append((seen, event.trigger or {}))

    def of(self, flow_id: str) -> list[tuple[float, dict[str, object]]]:
        with self._lock:
            return list(self.created.get(flow_id, []))

    def wait_count(self, flow_id: str, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.of(flow_id)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{flow_id}: {len(self.of(flow_id))} of {count} created")
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()


def _topic(bootstrap: str, name: str) -> str:
    admin = AdminClient(admin_config(bootstrap))
    for future in admin.create_topics([NewTopic(name, 1, 1)]).values():
        future.result(timeout=30)
    return name


def record_latency(
    cluster: Cluster, watcher: CreatedWatcher, servers: str, runs: int
) -> list[float]:
    topic = _topic(servers, f"latency{int(time.time())}")
    cluster.deploy(REALTIME.format(flow_id="latency", topic=topic, servers=servers))
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 0, **kafka_logging()})
    samples: list[float] = []
    for n in range(runs):
        before = len(watcher.of("latency"))
        sent = time.time()
        producer.produce(topic, value=json.dumps({"n": n}).encode())
        producer.flush(10)
        watcher.wait_count("latency", before + 1, 60)
        samples.append(watcher.of("latency")[-1][0] - sent)
    return samples


def records_per_second(
    cluster: Cluster, watcher: CreatedWatcher, servers: str, count: int
) -> tuple[float, float]:
    topic = _topic(servers, f"steady{int(time.time())}")
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 20, **kafka_logging()})
    for n in range(count):
        producer.produce(topic, value=json.dumps({"n": n}).encode())
        producer.poll(0)
    producer.flush(60)
    commands: list[float] = []
    stop = threading.Event()

    def follow_commands() -> None:
        for record in tail(
            cluster.settings.kafka_bootstrap,
            [cluster.topics.commands],
            from_beginning=False,
            stop=stop,
            poll_s=0.02,
        ):
            if b'"steady"' in record.value:
                commands.append(time.time())

    reader = threading.Thread(target=follow_commands, daemon=True)
    reader.start()
    time.sleep(1.0)
    cluster.deploy(REALTIME.format(flow_id="steady", topic=topic, servers=servers))
    watcher.wait_count("steady", count, 600)
    time.sleep(0.5)
    stop.set()
    created = [seen for seen, _ in watcher.of("steady")]
    listener_rate = (len(commands) - 1) / max(1e-9, commands[-1] - commands[0])
    executor_rate = (len(created) - 1) / max(1e-9, created[-1] - created[0])
    return listener_rate, executor_rate


def schedule_lag(cluster: Cluster, watcher: CreatedWatcher, seconds: int) -> list[float]:
    cluster.deploy(EVERY_SECOND)
    time.sleep(seconds)
    lags = []
    for seen, trigger in watcher.of("every_second")[2:]:  # the first fires warm up
        slot = dt.datetime.fromisoformat(str(trigger["date"])).timestamp()
        lags.append(seen - slot)
    return lags


def flow_trigger_latency(cluster: Cluster, runs: int) -> list[float]:
    ended: dict[str, float] = {}  # upstream execution id -> its end read
    requested: dict[str, float] = {}  # upstream execution id -> downstream request read
    stop = threading.Event()
    topics = cluster.topics

    def follow() -> None:
        for record in tail(
            cluster.settings.kafka_bootstrap,
            [topics.execution_events, topics.commands],
            from_beginning=False,
            stop=stop,
            poll_s=0.02,
        ):
            seen = time.time()
            if record.topic == topics.execution_events:
                if b'"ExecutionSucceeded"' in record.value and record.key:
                    ended.setdefault(record.key, seen)
            elif b'"downstream"' in record.value:
                trigger = json.loads(record.value).get("trigger") or {}
                if isinstance(trigger.get("executionId"), str):
                    requested.setdefault(trigger["executionId"], seen)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    time.sleep(1.0)
    cluster.deploy(UPSTREAM)
    cluster.deploy(DOWNSTREAM)
    samples: list[float] = []
    for _ in range(runs):
        upstream = cluster.create("bench", "upstream").execution_id
        deadline = time.monotonic() + 60
        while upstream not in requested or upstream not in ended:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no downstream request for upstream {upstream}")
            time.sleep(0.005)
        samples.append(requested[upstream] - ended[upstream])
    stop.set()
    return samples[2:]  # the first fires warm up


@contextlib.contextmanager
def brokers(external: bool) -> Iterator[tuple[str, str]]:
    with KafkaBroker() as log_broker:
        if not external:
            yield log_broker.bootstrap, log_broker.bootstrap
            return
        with KafkaBroker() as producers:
            yield log_broker.bootstrap, producers.bootstrap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="records in the rate run")
    parser.add_argument("--runs", type=int, default=200, help="records timed one at a time")
    parser.add_argument("--schedule-seconds", type=int, default=20)
    parser.add_argument(
        "--flow-runs", type=int, default=50, help="upstream executions timed one at a time"
    )
    parser.add_argument(
        "--external-broker", action="store_true", help="external producers on a second broker"
    )
    args = parser.parse_args()
    console = Console()
    with brokers(args.external_broker) as (bootstrap, servers):
        cluster = Cluster(bootstrap, f"bencht{int(time.time())}", partitions=1)
        try:
            with console.status("starting executor, worker and scheduler ..."):
                cluster.start_executor_and_worker()
                cluster.start("scheduler")
            watcher = CreatedWatcher(cluster)
            with console.status("warming up ..."):
                record_latency(cluster, watcher, servers, 100)
            with console.status("record -> execution created ..."):
                latency = record_latency(cluster, watcher, servers, args.runs)
            with console.status(f"{args.records} records into executions ..."):
                listener_rate, executor_rate = records_per_second(
                    cluster, watcher, servers, args.records
                )
            with console.status(f"a per-second schedule for {args.schedule_seconds} s ..."):
                lags = schedule_lag(cluster, watcher, args.schedule_seconds)
            with console.status(f"{args.flow_runs} upstream executions, one at a time ..."):
                flow_lags = flow_trigger_latency(cluster, args.flow_runs)
            watcher.stop()
        finally:
            cluster.close()
    ms = 1000.0
    where = "a second broker" if args.external_broker else "the same broker"
    table = Table(title=f"Lanner triggers, real Kafka, producers on {where}, 1 partition")
    for column in ("figure", "value", "target"):
        table.add_column(column)
    table.add_row(
        f"Kafka record -> ExecutionCreated, p50 / p95 ({len(latency)} records)",
        f"{pct(latency, 0.5) * ms:.1f} / {pct(latency, 0.95) * ms:.1f} ms",
        "p50 <= 20 ms",
    )
    table.add_row(
        f"{args.records} records -> CreateExecution on the log (listener)",
        f"{listener_rate:.0f} records/s",
        ">= 1,000/s",
    )
    table.add_row(
        f"{args.records} records -> ExecutionCreated (executor)",
        f"{executor_rate:.0f} executions/s",
        "",
    )
    table.add_row(
        f"schedule lag, slot -> ExecutionCreated, p50 / p95 ({len(lags)} slots)",
        f"{pct(lags, 0.5) * ms:.1f} / {pct(lags, 0.95) * ms:.1f} ms",
        "p95 <= 200 ms",
    )
    table.add_row(
        f"Flow trigger, upstream ExecutionSucceeded -> downstream CreateExecution,"
        f" p50 / p95 ({len(flow_lags)} upstreams)",
        f"{pct(flow_lags, 0.5) * ms:.1f} / {pct(flow_lags, 0.95) * ms:.1f} ms",
        "",
    )
    console.print(table)


if __name__ == "__main__":
    main()
