"""Kafka triggers on real brokers: Lanner's log on one, the external producers' cluster on
a second. Records become executions exactly once in effect, whatever happens to the
listener's process; what cannot be read goes to the dead-letter topic with its reason."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.events import EXECUTION_EVENT_ADAPTER
from schemas.execution import Execution
from schemas.states import State
from schemas.triggers import TRIGGER_EVENT_ADAPTER, TriggerDisabled, TriggerEnabled
from streams.core.evolve import evolve
from streams.storage.local import LocalStorage
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, wait_until

REALTIME = """
id: on_order
namespace: company.orders
triggers:
  - id: orders
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: {topic}
    groupId: lanner-orders
    valueDeserializer: JSON
    properties:
      bootstrap.servers: {servers}
      auto.offset.reset: earliest
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.value.n }}}} from {{{{ trigger.topic }}}}/{{{{ trigger.partition }}}}"
"""

BATCH = """
id: on_orders_batch
namespace: company.orders
triggers:
  - id: batches
    type: io.kestra.plugin.kafka.Trigger
    topic: {topic}
    groupId: lanner-batches
    interval: PT0.5S
    pollDuration: PT1S
    maxRecords: 10
    properties:
      bootstrap.servers: {servers}
      auto.offset.reset: earliest
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.messagesCount }}}} in {{{{ trigger.uri }}}}"
"""


def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)


def _produce(bootstrap: str, topic: str, values: list[tuple[int, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for number, value in values:
        producer.produce(topic, key=str(number).encode(), value=value)
        producer.poll(0)
    assert producer.flush(30) == 0


def _orders(first: int, last: int) -> list[tuple[int, bytes]]:
    """Every 50th record is not JSON: the dead-letter topic must get exactly those."""
    return [
        (n, b"not json {" if n % 50 == 0 else json.dumps({"n": n}).encode())
        for n in range(first, last)
    ]


def _executions(cluster: Cluster, flow_id: str) -> tuple[dict[str, Execution], Counter[str]]:
    """The flow's executions folded from the log, and how often each was created."""
    states: dict[str, Execution] = {}
    created: Counter[str] = Counter()
    for record in cluster.records(cluster.topics.execution_events):
        event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
        if event.flow_id != flow_id:
            continue
        current = states.get(event.execution_id)
        if current is not None and event.seq <= current.seq:
            continue
        if event.type == "ExecutionCreated":
            created[event.execution_id] += 1
        states[event.execution_id] = evolve(current, event)
    return states, created


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"kt{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        cluster.start("scheduler")
        yield cluster
    finally:
        cluster.close()


def test_records_become_executions_once_while_the_listener_is_killed(
    cluster: Cluster, external_kafka: KafkaBroker
) -> None:
    """Two scheduler processes share the trigger's partitions; one is SIGKILLed halfway
    and started again, so partitions move twice while records keep coming."""
    topic = f"orders{time.monotonic_ns() % 10**8}"
    _create_topic(external_kafka.bootstrap, topic, partitions=3)
    cluster.start("scheduler", name="scheduler-2")
    cluster.deploy(REALTIME.format(topic=topic, servers=external_kafka.bootstrap))
    _produce(external_kafka.bootstrap, topic, _orders(0, 1000))
    wait_until(lambda: len(_executions(cluster, "on_order")[1]) >= 300, 120, "first executions")
    for name in ("scheduler", "scheduler-2"):  # the group spreads the partitions over both
        wait_until(
            lambda name=name: (
                "kafka listener assigned partitions"  # type: ignore[misc]
                in cluster.log_of(name)
            ),
            60,
            f"partitions for {name}",
        )

    cluster.kill("scheduler")  # mid-stream: some records requested, none committed yet
    _produce(external_kafka.bootstrap, topic, _orders(1000, 2000))
    time.sleep(1)
    cluster.start("scheduler")

    good = {n for n, value in _orders(0, 2000) if not value.startswith(b"not")}
    wait_until(lambda: len(_executions(cluster, "on_order")[1]) >= len(good), 180, "every record")
    time.sleep(2)  # anything doubled would show by now
    runs, created = _executions(cluster, "on_order")
    assert len(runs) == len(good) == 1960
    assert max(created.values()) == 1, "an execution was created twice"
    numbers = Counter(int((run.trigger or {})["value"]["n"]) for run in runs.values())
    assert set(numbers) == good and max(numbers.values()) == 1
    positions = {(r.trigger or {})["partition"] for r in runs.values()}
    assert positions == {0, 1, 2}

    dead = [json.loads(r.value) for r in cluster.records(cluster.topics.trigger_dead_letters)]
    dead_keys = {int(base64.b64decode(d["key"])) for d in dead}
    assert dead_keys == {n for n in range(2000) if n % 50 == 0}
    assert all(d["topic"] == topic and "not JSON" in d["reason"] for d in dead)

    wait_until(
        lambda: all(r.state.is_terminal for r in _executions(cluster, "on_order")[0].values()),
        120,
        "every execution to end",
    )
    ended = _executions(cluster, "on_order")[0].values()
    assert {r.state for r in ended} == {State.SUCCESS}


def test_the_batch_trigger_cuts_records_by_max_records(
    cluster: Cluster, external_kafka: KafkaBroker
) -> None:
    topic = f"batches{time.monotonic_ns() % 10**8}"
    _create_topic(external_kafka.bootstrap, topic, partitions=1)
    _produce(
        external_kafka.bootstrap, topic, [(n, json.dumps({"n": n}).encode()) for n in range(25)]
    )
    cluster.deploy(BATCH.format(topic=topic, servers=external_kafka.bootstrap))
    wait_until(lambda: len(_executions(cluster, "on_orders_batch")[0]) >= 3, 90, "three batches")
    time.sleep(2)
    runs = _executions(cluster, "on_orders_batch")[0]
    counts = sorted(int((r.trigger or {})["messagesCount"]) for r in runs.values())
    assert counts == [5, 10, 10]
    storage = LocalStorage(Path(cluster.settings.data_dir) / "storage")
    seen: list[int] = []
    for run in runs.values():
        uri = str((run.trigger or {})["uri"])
        lines = storage.get_bytes(uri).decode().splitlines()
        assert len(lines) == int((run.trigger or {})["messagesCount"])
        seen += [json.loads(json.loads(line)["value"])["n"] for line in lines]
    assert sorted(seen) == list(range(25))


def test_a_listener_follows_disable_enable_update_and_delete(
    cluster: Cluster, external_kafka: KafkaBroker
) -> None:
    topic = f"toggle{time.monotonic_ns() % 10**8}"
    _create_topic(external_kafka.bootstrap, topic, partitions=1)
    cluster.deploy(REALTIME.format(topic=topic, servers=external_kafka.bootstrap))
    _produce(external_kafka.bootstrap, topic, _orders(1, 4))
    wait_until(lambda: len(_executions(cluster, "on_order")[0]) == 3, 60, "three executions")

    fields = {
        "tenant": "main",
        "namespace": "company.orders",
        "flow_id": "on_order",
        "trigger_id": "orders",
        "actor": "tests",
    }
    disabled = TriggerDisabled(**fields, time=_now(), reason="maintenance")
    cluster.producer.send_and_wait(
        cluster.topics.trigger_events, disabled.key, disabled.model_dump_json().encode()
    )
    time.sleep(1.5)  # the listener stops within a second
    _produce(external_kafka.bootstrap, topic, _orders(4, 7))
    time.sleep(4)
    assert len(_executions(cluster, "on_order")[0]) == 3

    enabled = TriggerEnabled(**fields, time=_now())
    cluster.producer.send_and_wait(
        cluster.topics.trigger_events, enabled.key, enabled.model_dump_json().encode()
    )
    wait_until(lambda: len(_executions(cluster, "on_order")[0]) == 6, 60, "the held records")

    # A new revision on another topic moves the listener; a deleted flow has none.
    moved = f"{topic}moved"
    _create_topic(external_kafka.bootstrap, moved, partitions=1)
    cluster.deploy(REALTIME.format(topic=moved, servers=external_kafka.bootstrap))
    time.sleep(1.5)
    _produce(external_kafka.bootstrap, topic, _orders(7, 8))
    _produce(external_kafka.bootstrap, moved, _orders(8, 9))
    wait_until(lambda: len(_executions(cluster, "on_order")[0]) == 7, 60, "the new topic's record")
    time.sleep(2)
    runs = _executions(cluster, "on_order")[0].values()
    assert sorted((r.trigger or {})["topic"] for r in runs).count(moved) == 1
    assert len(runs) == 7

    cluster.flows.delete("company.orders", "on_order", actor="tests")
    time.sleep(1.5)
    _produce(external_kafka.bootstrap, moved, _orders(9, 10))
    time.sleep(4)
    assert len(_executions(cluster, "on_order")[0]) == 7


def test_an_unreachable_cluster_is_the_triggers_error_until_it_returns(
    cluster: Cluster,
) -> None:
    with KafkaBroker() as remote:
        topic = "late"
        _create_topic(remote.bootstrap, topic, partitions=1)
        remote.stop()
        cluster.deploy(REALTIME.format(topic=topic, servers=remote.bootstrap))
        wait_until(
            lambda: "ListenerErrored" in _trigger_event_types(cluster), 60, "the trigger's error"
        )
        remote.start()
        _produce(remote.bootstrap, topic, _orders(1, 3))
        wait_until(
            lambda: len(_executions(cluster, "on_order")[0]) == 2,
            90,
            "executions after the cluster came back",
        )
        wait_until(
            lambda: "ListenerRecovered" in _trigger_event_types(cluster),
            30,
            "the trigger's recovery",
        )


def _trigger_event_types(cluster: Cluster) -> list[str]:
    return [
        TRIGGER_EVENT_ADAPTER.validate_json(r.value).type
        for r in cluster.records(cluster.topics.trigger_events)
    ]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
