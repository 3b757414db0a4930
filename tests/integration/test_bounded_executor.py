"""Bounded executor state on the real broker: a finished execution leaves the executor's
table (a tombstone on its changelog) once its retention has passed; the views keep
serving it, an operator's restart, state by hand and replay still reach it, and a late
input for it never brings it back. The executor keeps its table in RocksDB here."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from schemas.commands import KillExecution
from streams.log.producer import LogProducer
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.stack import Stack, running_stack, wait_for
from tests.integration.test_control_api import FLAKY


@pytest.fixture(scope="module")
def forgetful(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("forgetful")
    # The on-disk store here; every other test runs the default memory store.
    env = {"LANNER_EXECUTOR_RETAIN_FINISHED_S": "1", "LANNER_EXECUTOR_STORE": "rocksdb://"}
    with running_stack(kafka_broker, es_node, work, env) as the_stack:
        yield the_stack
    # The executor's table was on disk, where its data folder says.
    assert list((work / "data").rglob("executions-*.db")), sorted((work / "data").rglob("*"))


def _changelog(stack: Stack, bootstrap: str) -> dict[str, list[bytes | None]]:
    """The executor table's changelog: each key's values in order (None: a tombstone)."""
    topic = f"{stack.settings.full_topic_prefix}executor-executions-changelog"
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"probe-{secrets.token_hex(4)}"}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: dict[str, list[bytes | None]] = {}
        positions = dict.fromkeys(partitions, 0)
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        while any(positions[p] < ends[p] for p in partitions):
            assert dt.datetime.now(dt.UTC) < deadline, "the changelog could not be read"
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            key = message.key()
            assert key is not None
            values.setdefault(key.decode(), []).append(message.value())
            positions[message.partition()] = message.offset() + 1
        return values
    finally:
        consumer.close()


def _topic_config(stack: Stack, bootstrap: str) -> dict[str, str]:
    topic = f"{stack.settings.full_topic_prefix}executor-executions-changelog"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return {name: entry.value for name, entry in future.result(timeout=30).items()}


def _forgotten(stack: Stack, bootstrap: str, *ids: str, times: int = 1) -> None:
    """Until each execution's record was deleted `times` times and is deleted now."""

    def probe() -> bool | None:
        log = _changelog(stack, bootstrap)
        done = [i in log and log[i][-1] is None and log[i].count(None) >= times for i in ids]
        return all(done) or None

    wait_for(probe, 30, f"executions {', '.join(ids)} to leave the executor's table")


def _ended_after(stack: Stack, execution_id: str, seq: int, state: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = stack.http.get(f"/executions/{execution_id}").json()
        return body if body["seq"] > seq and body["state"]["current"] == state else None

    return wait_for(probe, 30, f"execution {execution_id} to be {state} again")


def test_finished_executions_leave_the_table_and_operators_still_reach_them(
    forgetful: Stack, kafka_broker: KafkaBroker
) -> None:
    stack, bootstrap = forgetful, kafka_broker.bootstrap
    ns = f"company.b{secrets.token_hex(3)}"
    stack.deploy(FLAKY.format(ns=ns))
    passed = [stack.run(ns, "flaky", inputs={"fail": "false"})["id"] for _ in range(3)]
    failed = stack.until_ended(stack.run(ns, "flaky")["id"])
    for execution_id in passed:
        assert stack.until_ended(execution_id)["state"]["current"] == "SUCCESS"
    assert failed["state"]["current"] == "FAILED"
    execution_id = failed["id"]
    _forgotten(stack, bootstrap, *passed, execution_id)
    # Compaction cleans only rolled segments: the changelog rolls, drops its tombstones
    # and is cleaned within ten minutes (LANNER_CHANGELOG_COMPACTION_S), not a week.
    config = _topic_config(stack, bootstrap)
    for name in ("segment.ms", "delete.retention.ms", "max.compaction.lag.ms"):
        assert config[name] == "600000", (name, config)
    # The views still serve what the executor forgot.
    assert stack.http.get(f"/executions/{passed[0]}").json()["state"]["current"] == "SUCCESS"

    # Restart: the command carries the execution as the views hold it.
    assert stack.http.post(f"/executions/{execution_id}/restart").status_code == 202
    restarted = _ended_after(stack, execution_id, failed["seq"], "FAILED")
    assert "RESTARTED" in [h["state"] for h in restarted["state"]["histories"]]
    _forgotten(stack, bootstrap, execution_id, times=2)

    # State by hand on the forgotten execution: it carries on to the end.
    [check] = [r for r in restarted["taskRunList"] if r["taskId"] == "check"]
    response = stack.http.post(
        f"/executions/{execution_id}/state", json={"taskRunId": check["id"], "state": "SUCCESS"}
    )
    assert response.status_code == 202, response.text
    done = _ended_after(stack, execution_id, restarted["seq"], "SUCCESS")
    [last] = [r for r in done["taskRunList"] if r["taskId"] == "last"]
    assert last["outputs"] == {"value": "one and last"}
    _forgotten(stack, bootstrap, execution_id, times=3)

    # Replay of the forgotten execution into a new one.
    response = stack.http.post(
        f"/executions/{execution_id}/replay", params={"taskRunId": check["id"]}
    )
    assert response.status_code == 202, response.text
    replay = stack.until_ended(response.json()["id"])
    assert replay["originalId"] == execution_id and replay["state"]["current"] == "FAILED"

    # The history stays one gapless sequence across every forgetting.
    events = stack.http.get(f"/executions/{execution_id}/events").json()
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == done["seq"] + 1
    assert events[-1]["type"] == "ExecutionReplayed"  # the original records its replay


def test_a_late_input_for_a_forgotten_execution_never_brings_it_back(
    forgetful: Stack, kafka_broker: KafkaBroker
) -> None:
    stack, bootstrap = forgetful, kafka_broker.bootstrap
    ns = f"company.l{secrets.token_hex(3)}"
    stack.deploy(FLAKY.format(ns=ns))
    ended = stack.until_ended(stack.run(ns, "flaky", inputs={"fail": "false"})["id"])
    _forgotten(stack, bootstrap, ended["id"])
    late = KillExecution(
        command_id=f"late-{secrets.token_hex(3)}",
        execution_id=ended["id"],
        time=dt.datetime.now(dt.UTC),
        actor="test",
    )
    producer = LogProducer(bootstrap)
    try:
        producer.send_and_wait(
            stack.topics.commands, late.execution_id, late.model_dump_json().encode()
        )
    finally:
        producer.close()
    # Parked (nothing decided), then dropped once the retention has passed again.
    _forgotten(stack, bootstrap, ended["id"], times=2)
    parked = _changelog(stack, bootstrap)[ended["id"]][-2]
    assert parked is not None and b'"early"' in parked and b'"execution":null' in parked
    after = stack.http.get(f"/executions/{ended['id']}").json()
    assert after["seq"] == ended["seq"] and after["state"]["current"] == "SUCCESS"
