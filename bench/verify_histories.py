"""History verification throughput: recorded events compared per second.

    PYTHONPATH=. python bench/verify_histories.py [--events 10000] [--bootstrap HOST:PORT]

Histories are generated with the simulated executor and worker of the unit tests
(tests/unit/core/driver.py: the real `handle`, `decide` and `effects_of`), written to a
real Kafka topic set (the test harness's Apache Kafka unless --bootstrap is given), then
verified twice: in memory (the pure check alone) and end to end (`verify_log`: read
flow-events, execution-events, commands and worker-results, then re-decide).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from schemas.events import FlowCreated
from schemas.worker import TaskRunReport
from streams.histories.recorded import Position, Recorded, RecordedEvent, RecordedMessage
from streams.histories.source import Selection, verify_log
from streams.histories.verify import flow_resolver, verify_many
from streams.log.admin import ensure_topics
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from tests.unit.core.driver import NAMESPACE, TENANT, Result, Sim

FLOWS = Path(__file__).resolve().parents[1] / "flows"
MIX = ("fan_out", "subflow_parent", "error_branch", "hello_world")


@contextlib.contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    from tests.harness.kafka_broker import KafkaBroker

    with KafkaBroker() as started:
        yield started.bootstrap


def generate(target_events: int) -> Sim:
    sources = [p.read_text() for p in sorted(FLOWS.glob("*.yml"))]
    sim = Sim(*sources, outcomes={"pause_a_little": Result()}, duplicates=True, seed=7)
    number = 0
    while sum(len(h) for h in sim.events.values()) < target_events:
        flow_id = MIX[number % len(MIX)]
        inputs = {"user": f"u{number}"} if flow_id == "hello_world" else None
        sim.queue.append(sim.create(flow_id, inputs, execution_id=f"bench{number:06d}"))
        sim.run()
        number += 1
    return sim


def in_memory(sim: Sim) -> dict[str, Recorded]:
    found: dict[str, Recorded] = {}
    for clock, delivery in enumerate(sim.log):
        rec = found.setdefault(delivery.execution_id, Recorded(delivery.execution_id))
        results = isinstance(delivery.inp, TaskRunReport)
        item = RecordedMessage(delivery.inp, Position("-", 0, clock), clock)
        (rec.results if results else rec.commands).append(item)
        rec.events.extend(RecordedEvent(e, Position("-", 0, clock)) for e in delivery.events)
    return found


def write(sim: Sim, bootstrap: str, topics: Topics) -> int:
    ensure_topics(bootstrap, topics.all(), partitions=4)
    records = 0
    with LogProducer(bootstrap, client_id="bench-verify-histories") as producer:
        for (namespace, flow_id), revisions in sim.catalog.flows.items():
            for revision, flow in revisions.items():
                assert namespace == NAMESPACE
                event = FlowCreated(
                    event_id=f"bench:{flow_id}:{revision}",
                    tenant=TENANT,
                    namespace=namespace,
                    flow_id=flow_id,
                    revision=revision,
                    time=dt.datetime.now(dt.UTC),
                    actor="bench",
                    source=(FLOWS / f"{flow_id}.yml").read_text(),
                )
                assert flow.flow.id == flow_id
                producer.send(topics.flow_events, event.key, event.model_dump_json().encode())
        for delivery in sim.log:
            topic = (
                topics.worker_results
                if isinstance(delivery.inp, TaskRunReport)
                else topics.commands
            )
            producer.send(topic, delivery.execution_id, delivery.inp.model_dump_json().encode())
            for event in delivery.events:
                producer.send(
                    topics.execution_events, event.execution_id, event.model_dump_json().encode()
                )
            records += 1 + len(delivery.events)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--bootstrap", help="An existing Kafka (default: start one)")
    args = parser.parse_args()
    console = Console(width=110)
    with console.status("generating histories with the simulated executor ..."):
        begun = time.perf_counter()
        sim = generate(args.events)
        generated_s = time.perf_counter() - begun
    distinct = sum(len(h) for h in sim.events.values())
    recorded = in_memory(sim)
    flow_for = flow_resolver(sim.catalog, lambda source, revision: None)
    begun = time.perf_counter()
    report = verify_many(recorded, sim.catalog, flow_for)
    memory_s = time.perf_counter() - begun
    assert report.ok, report.divergences[:3]

    with broker(args.bootstrap) as bootstrap:
        topics = Topics(f"bench{secrets.token_hex(3)}.main.")
        with console.status("writing the histories to Kafka ..."):
            records = write(sim, bootstrap, topics)
        begun = time.perf_counter()
        logged, stats = verify_log(bootstrap, topics, Selection(), PluginRegistry.discover())
        kafka_s = time.perf_counter() - begun
    assert logged.ok, logged.divergences[:3]

    table = Table(title="history verify throughput (bench/verify_histories.py)")
    for column in ("what", "executions", "inputs", "events", "seconds", "events/s"):
        table.add_column(column, justify="right")
    table.add_row(
        "in memory (pure check)",
        str(report.executions),
        str(report.messages),
        str(report.events),
        f"{memory_s:.2f}",
        f"{report.events / memory_s:,.0f}",
    )
    table.add_row(
        "from Kafka (read + check)",
        str(logged.executions),
        str(logged.messages),
        str(logged.events),
        f"{kafka_s:.2f}",
        f"{logged.events / kafka_s:,.0f}",
    )
    console.print(table)
    console.print(
        f"{distinct} distinct events ({records} records with redeliveries and "
        f"re-emissions, {stats.records} read back), generated in {generated_s:.1f} s; "
        f"0 divergences"
    )


if __name__ == "__main__":
    main()
