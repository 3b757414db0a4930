"""The Kafka trigger's selection options through the real path (a second real broker as
the producers' cluster): `topicPattern`, `partitions`, `headerFilters`, `since`, and
`onSerdeError: DLQ` to a topic of that cluster."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from streams.storage.local import LocalStorage
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, wait_until
from tests.integration.test_kafka_triggers import _create_topic, _executions

FLOW = """
id: picky
namespace: company.orders
triggers:
  - id: picky
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topicPattern: '{prefix}\\..*'
    groupId: lanner-picky-{prefix}
    partitions: [0]
    headerFilters:
      source: shop
    since: "{since}"
    valueDeserializer: JSON
    onSerdeError:
      type: DLQ
      topic: {dlq}
    properties:
      bootstrap.servers: {servers}
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.value.n }}}}"
"""


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"ko{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        cluster.start("scheduler")
        yield cluster
    finally:
        cluster.close()


def _send(
    producer: Producer, topic: str, partition: int, n: int, source: str, value: bytes | None = None
) -> None:
    body = json.dumps({"n": n}).encode() if value is None else value
    producer.produce(topic, value=body, partition=partition, headers=[("source", source.encode())])


def _external_dead_letters(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append(message.value() or b"")
    finally:
        consumer.close()
    return found


def test_pattern_partitions_headers_since_and_an_external_dlq_select_the_records(
    cluster: Cluster, external_kafka: KafkaBroker
) -> None:
    prefix = f"opts{time.monotonic_ns() % 10**8}"
    dlq = f"dlq{prefix}"
    for topic, partitions in ((f"{prefix}.a", 2), (f"{prefix}.b", 1), (dlq, 1)):
        _create_topic(external_kafka.bootstrap, topic, partitions)
    producer = Producer({"bootstrap.servers": external_kafka.bootstrap})
    # Before `since`: never read, though they match everything else.
    for n in (1, 2):
        _send(producer, f"{prefix}.a", 0, n, "shop")
    assert producer.flush(30) == 0
    time.sleep(1.5)
    since = time.time()
    time.sleep(0.5)
    _send(producer, f"{prefix}.a", 0, 10, "shop")  # read
    _send(producer, f"{prefix}.b", 0, 11, "shop")  # read: the pattern covers both topics
    _send(producer, f"{prefix}.a", 1, 12, "shop")  # partition 1: not ours
    _send(producer, f"{prefix}.a", 0, 13, "app")  # another source: filtered out
    _send(producer, f"{prefix}.a", 0, 14, "shop", value=b"not json")  # dead letter
    _send(producer, f"{prefix}.b", 0, 15, "shop")  # read
    assert producer.flush(30) == 0

    since_iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since)) + (
        f".{int(since % 1 * 1000):03d}+00:00"
    )
    cluster.deploy(
        FLOW.format(prefix=prefix, since=since_iso, dlq=dlq, servers=external_kafka.bootstrap)
    )
    wait_until(lambda: len(_executions(cluster, "picky")[0]) >= 3, 90, "three executions")
    time.sleep(3)  # anything else that would arrive, arrives
    runs = _executions(cluster, "picky")[0].values()
    assert sorted(int((r.trigger or {})["value"]["n"]) for r in runs) == [10, 11, 15]
    assert {(r.trigger or {})["partition"] for r in runs} == {0}

    assert _external_dead_letters(external_kafka.bootstrap, dlq, 1) == [b"not json"]
    dead = [json.loads(r.value) for r in cluster.records(cluster.topics.trigger_dead_letters)]
    assert [(d["topic"], d["partition"]) for d in dead] == [(f"{prefix}.a", 0)]
    assert "not JSON" in dead[0]["reason"]


BATCHES = """
id: batches
namespace: company.orders
triggers:
  - id: batches
    type: io.kestra.plugin.kafka.Trigger
    topic: {topic}
    groupId: lanner-{topic}
    interval: PT0.1S
    pollDuration: PT0.5S
    maxRecords: 50
    properties:
      bootstrap.servers: {servers}
      auto.offset.reset: earliest
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.messagesCount }}}}"
"""


def test_batches_hold_every_record_once_across_a_killed_listener(
    cluster: Cluster, external_kafka: KafkaBroker
) -> None:
    """A batch is recorded before it is requested and requested again by the next owner:
    after a SIGKILL mid-stream no record is in two batches and none is in none."""
    topic = f"bk{time.monotonic_ns() % 10**8}"
    _create_topic(external_kafka.bootstrap, topic, 2)
    producer = Producer({"bootstrap.servers": external_kafka.bootstrap, "linger.ms": 5})
    for n in range(1000):
        producer.produce(topic, value=json.dumps({"n": n}).encode(), partition=n % 2)
    assert producer.flush(30) == 0
    cluster.deploy(BATCHES.format(topic=topic, servers=external_kafka.bootstrap))
    wait_until(lambda: len(_executions(cluster, "batches")[0]) >= 4, 90, "the first batches")
    cluster.kill("scheduler")
    for n in range(1000, 2000):
        producer.produce(topic, value=json.dumps({"n": n}).encode(), partition=n % 2)
    assert producer.flush(30) == 0
    cluster.start("scheduler")

    def batched() -> list[int]:
        runs = _executions(cluster, "batches")[0].values()
        return [int((r.trigger or {})["messagesCount"]) for r in runs]

    wait_until(lambda: sum(batched()) >= 2000, 180, "every record in a batch")
    time.sleep(3)
    runs, created = _executions(cluster, "batches")
    assert max(created.values()) == 1
    storage = LocalStorage(Path(cluster.settings.data_dir) / "storage")
    numbers: list[int] = []
    for run in runs.values():
        lines = storage.get_bytes(str((run.trigger or {})["uri"])).decode().splitlines()
        assert 1 <= len(lines) == int((run.trigger or {})["messagesCount"]) <= 50
        numbers += [json.loads(json.loads(line)["value"])["n"] for line in lines]
    assert sorted(numbers) == list(range(2000))
