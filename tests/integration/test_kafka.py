"""The Kafka tasks (streams/plugins/kafka) through the real path: flows deployed on the log,
run by real executor and worker processes, producing to and consuming from the session's
real Kafka broker; what reached the topics is read back with a plain consumer."""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.execution import Execution, TaskRun
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster

NS = "it.kafka"


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    with task_cluster(kafka_broker.bootstrap, f"kafkatasks{os.getpid()}") as cluster:
        yield cluster


def _topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    for future in futures.values():
        future.result(timeout=30)


def _records(bootstrap: str, topic: str, expected: int, polls: int = 60) -> list[Any]:
    """Every record of `topic` (one partition), read with a plain consumer."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "it-reader", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    found: list[Any] = []
    try:
        for _ in range(polls):
            found += [m for m in consumer.consume(100, timeout=0.5) if m.error() is None]
            if len(found) >= expected:
                break
    finally:
        consumer.close()
    return found


def _runs(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.values()}


def _lines(cluster: Cluster, uri: str) -> list[dict[str, Any]]:
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    return [json.loads(line) for line in storage.get_bytes(uri).decode().splitlines()]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_produce_a_list_then_consume_it_to_a_file(
    cluster: Cluster, kafka_broker: KafkaBroker, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}-orders"
    _topics(kafka_broker.bootstrap, topic)
    cluster.deploy(f"""
id: produce_list
namespace: {NS}
tasks:
  - id: produce
    type: io.kestra.plugin.kafka.Produce
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {topic}
    keySerializer: STRING
    valueSerializer: JSON
    from:
      - key: "{{{{ execution.id }}}}"
        value: {{"sku": "A-1", "qty": 3}}
        timestamp: "2026-01-02T03:04:05Z"
        headers:
          x-source: lanner
      - key: second
        value: {{"sku": "B-2", "qty": 1}}
  - id: consume
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {topic}
    valueDeserializer: JSON
    pollDuration: PT2S
""")
    execution = cluster.run(NS, "produce_list", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["produce"].outputs == {"messagesCount": 2}
    assert runs["consume"].outputs["messagesCount"] == 2
    messages = _lines(cluster, runs["consume"].outputs["uri"])
    assert [(m["key"], m["value"]) for m in messages] == [
        (execution.id, {"sku": "A-1", "qty": 3}),
        ("second", {"sku": "B-2", "qty": 1}),
    ]
    first = messages[0]
    assert first["topic"] == topic and first["partition"] == 0 and first["offset"] == 0
    assert first["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert first["headers"] == [{"x-source": "lanner"}]
    # On the topic, as a Java JSON serializer writes it; committed (transactional).
    raw = _records(kafka_broker.bootstrap, topic, 2)
    assert [json.loads(r.value()) for r in raw] == [
        {"sku": "A-1", "qty": 3},
        {"sku": "B-2", "qty": 1},
    ]


def test_serializers_write_java_byte_layouts(
    cluster: Cluster, kafka_broker: KafkaBroker, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}-numbers"
    _topics(kafka_broker.bootstrap, topic)
    cluster.deploy(f"""
id: produce_numbers
namespace: {NS}
tasks:
  - id: produce
    type: io.kestra.plugin.kafka.Produce
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {topic}
    transactional: false
    keySerializer: INTEGER
    valueSerializer: DOUBLE
    from:
      key: 42
      value: 2.5
  - id: consume
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {topic}
    keyDeserializer: INTEGER
    valueDeserializer: DOUBLE
    pollDuration: PT2S
""")
    execution = cluster.run(NS, "produce_numbers", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    [raw] = _records(kafka_broker.bootstrap, topic, 1)
    assert raw.key() == struct.pack(">i", 42) and raw.value() == struct.pack(">d", 2.5)
    [message] = _lines(cluster, _runs(execution)["consume"].outputs["uri"])
    assert (message["key"], message["value"]) == (42, 2.5)


# Five Ion values, one a line, as Kestra's FileSerde writes them (a timestamp, bare field
# names): `{key:"k1",value:{n:1,at:2026-01-01T00:00:00Z},headers:{h:"v1"}}`...
ION_LINES = (
    'for i in 1 2 3 4 5; do echo "{key:\\"k$i\\",value:{n:$i,at:2026-01-0${i}T00:00:00Z},'
    'headers:{h:\\"v$i\\"}}" >> rows.ion; done'
)


def test_produce_a_file_and_consume_with_a_group_and_max_records(
    cluster: Cluster, kafka_broker: KafkaBroker, unique_prefix: str
) -> None:
    """A file of Ion lines (as Kestra writes them) goes to a topic; a Consume's own file is
    sent again (each message names its topic, which wins over the task's, as in Kestra;
    headers as Consume writes them); a group reads the ten in runs of maxRecords, each
    starting where the last one committed."""
    first = f"{unique_prefix}-ion"
    _topics(kafka_broker.bootstrap, first)
    cluster.deploy(f"""
id: produce_file
namespace: {NS}
tasks:
  - id: write
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - {ION_LINES}
    outputFiles: ["rows.ion"]
  - id: produce
    type: io.kestra.plugin.kafka.Produce
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {first}
    valueSerializer: JSON
    from: "{{{{ outputs.write.outputFiles['rows.ion'] }}}}"
  - id: read_all
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {first}
    valueDeserializer: JSON
    pollDuration: PT2S
  - id: forward
    type: io.kestra.plugin.kafka.Produce
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {unique_prefix}-never-used
    valueSerializer: JSON
    from: "{{{{ outputs.read_all.uri }}}}"
""")
    execution = cluster.run(NS, "produce_file", timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["produce"].outputs == {"messagesCount": 5}
    assert runs["forward"].outputs == {"messagesCount": 5}
    raw = _records(kafka_broker.bootstrap, first, 10)
    assert [json.loads(r.value())["n"] for r in raw] == [1, 2, 3, 4, 5] * 2
    assert json.loads(raw[5].value())["at"] == "2026-01-01T00:00:00+00:00"
    assert [r.key() for r in raw[5:7]] == [b"k1", b"k2"]
    assert [r.headers() for r in raw[5:7]] == [[("h", b"v1")], [("h", b"v2")]]

    cluster.deploy(f"""
id: consume_group
namespace: {NS}
tasks:
  - id: consume
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
      auto.offset.reset: earliest
    topicPattern: "{unique_prefix}-i.n"
    groupId: {unique_prefix}-group
    valueDeserializer: JSON
    maxRecords: 6
    maxDuration: PT30S
    pollDuration: PT3S
""")
    seen: list[int] = []
    for expected in (6, 4, 0):
        run = cluster.run(NS, "consume_group", timeout_s=90)
        assert run.state == State.SUCCESS, run.error
        outputs = _runs(run)["consume"].outputs
        assert outputs["messagesCount"] == expected
        seen += [m["value"]["n"] for m in _lines(cluster, outputs["uri"])]
    assert seen == [1, 2, 3, 4, 5] * 2


def test_bad_input_fails_the_task_run_with_the_reason(
    cluster: Cluster, kafka_broker: KafkaBroker, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}-bad"
    _topics(kafka_broker.bootstrap, topic)
    closed = _closed_port()
    cluster.deploy(f"""
id: kafka_bad
namespace: {NS}
inputs:
  - id: case
    type: STRING
tasks:
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.case }}}}"
    cases:
      refused:
        - id: refused
          type: io.kestra.plugin.kafka.Produce
          properties:
            bootstrap.servers: 127.0.0.1:{closed}
          topic: {topic}
          from: {{key: a, value: b}}
      unknown_topic:
        - id: unknown_topic
          type: io.kestra.plugin.kafka.Produce
          properties:
            bootstrap.servers: {kafka_broker.bootstrap}
          topic: {unique_prefix}-missing
          from: {{key: a, value: b}}
      no_bootstrap:
        - id: no_bootstrap
          type: io.kestra.plugin.kafka.Consume
          properties: {{}}
          topic: {topic}
      bad_line:
        - id: write
          type: io.kestra.plugin.scripts.shell.Commands
          commands:
            - |
              printf '{{"key":"a","value":"1"}}\\n{{"key": "b", "value": \\n' > rows.jsonl
          outputFiles: ["rows.jsonl"]
        - id: bad_line
          type: io.kestra.plugin.kafka.Produce
          properties:
            bootstrap.servers: {kafka_broker.bootstrap}
          topic: {topic}
          from: "{{{{ outputs.write.outputFiles['rows.jsonl'] }}}}"
      bad_value:
        - id: bad_value
          type: io.kestra.plugin.kafka.Produce
          properties:
            bootstrap.servers: {kafka_broker.bootstrap}
          topic: {topic}
          valueSerializer: INTEGER
          from: [{{key: a, value: "twelve"}}]
""")
    expected = {
        "refused": ("refused", f"127.0.0.1:{closed}", "Connection refused"),
        "unknown_topic": ("unknown_topic", f"{unique_prefix}-missing", "Unknown topic"),
        "no_bootstrap": ("no_bootstrap", "bootstrap.servers", ""),
        "bad_line": ("bad_line", "line 2 is not JSON", '{"key": "b", "value": '),
        "bad_value": ("bad_value", "record 1 of `from`", "'twelve' is not INTEGER"),
    }
    for case, (task_id, *fragments) in expected.items():
        execution = cluster.run(NS, "kafka_bad", {"case": case}, timeout_s=90)
        assert execution.state == State.FAILED, case
        error = _runs(execution)[task_id].error or ""
        assert f"task {task_id}" in error, (case, error)
        for fragment in fragments:
            assert fragment in error, (case, error)
    # Nothing of the refused records reached the topic (one transaction, aborted).
    assert _records(kafka_broker.bootstrap, topic, 1, polls=6) == []


def test_a_flow_without_properties_or_with_two_subscriptions_is_refused(cluster: Cluster) -> None:
    problems = cluster.flows.deploy(
        f"""
id: kafka_invalid
namespace: {NS}
tasks:
  - id: produce
    type: io.kestra.plugin.kafka.Produce
    topic: t
    from: {{key: a, value: b}}
  - id: consume
    type: io.kestra.plugin.kafka.Consume
    properties: {{bootstrap.servers: "127.0.0.1:9"}}
    topic: t
    topicPattern: "t.*"
""",
        actor="tests",
    )
    assert isinstance(problems, list)
    text = "\n".join(str(p) for p in problems)
    assert "properties" in text and "exactly one of `topic` or `topicPattern`" in text, text


def test_consume_since_a_date_and_from_chosen_partitions(
    cluster: Cluster, kafka_broker: KafkaBroker, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}-dated"
    _topics(kafka_broker.bootstrap, topic, partitions=2)
    cluster.deploy(f"""
id: consume_since
namespace: {NS}
tasks:
  - id: produce
    type: io.kestra.plugin.kafka.Produce
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {topic}
    from:
      - {{key: a, value: old, partition: 0, timestamp: "2020-01-01T00:00:00Z"}}
      - {{key: b, value: mid, partition: 0, timestamp: "2022-01-01T00:00:00Z"}}
      - {{key: c, value: new, partition: 1, timestamp: "2024-01-01T00:00:00Z"}}
  - id: since
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: [{topic}]
    since: "2021-06-01T00:00:00Z"
    pollDuration: PT2S
  - id: partition_zero
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {kafka_broker.bootstrap}
    topic: {topic}
    partitions: [0]
    pollDuration: PT2S
""")
    execution = cluster.run(NS, "consume_since", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    since = sorted(m["value"] for m in _lines(cluster, runs["since"].outputs["uri"]))
    assert since == ["mid", "new"]
    zero = [
        (m["value"], m["partition"]) for m in _lines(cluster, runs["partition_zero"].outputs["uri"])
    ]
    assert zero == [("old", 0), ("mid", 0)]
