"""The Kafka port's contract, held by the real broker and by noida-db alike."""

from __future__ import annotations

import threading
import time

import pytest

from streams.log.admin import ensure_topics
from streams.log.errors import DeliveryError, UnknownTopicError
from streams.log.producer import LogProducer
from streams.log.reader import Record, end_offsets, read_all, tail


@pytest.fixture(params=["kafka", "noida"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    backend = request.getfixturevalue("kafka_broker" if request.param == "kafka" else "noida")
    return str(backend.bootstrap)


def test_ensure_topics_is_idempotent(bootstrap: str, unique_prefix: str) -> None:
    names = [f"{unique_prefix}.a", f"{unique_prefix}.b"]
    ensure_topics(bootstrap, names, partitions=3)
    ensure_topics(bootstrap, names, partitions=3)
    ensure_topics(bootstrap, [*names, f"{unique_prefix}.c"], partitions=2)
    assert {name: len(ends) for name in names for ends in [end_offsets(bootstrap, name)]} == {
        names[0]: 3,
        names[1]: 3,
    }
    assert end_offsets(bootstrap, f"{unique_prefix}.c") == {0: 0, 1: 0}


def test_order_per_key_is_kept(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.events"
    ensure_topics(bootstrap, [topic], partitions=4)
    keys = [f"exec-{n}" for n in range(8)]
    with LogProducer(bootstrap) as producer:
        for seq in range(50):
            for key in keys:
                producer.send(topic, key, f"{key}:{seq}".encode())
    records = list(read_all(bootstrap, topic, timeout_s=10))
    assert len(records) == 400
    by_key: dict[str, list[int]] = {}
    partition_of: dict[str, set[int]] = {}
    for record in records:
        assert record.key is not None
        by_key.setdefault(record.key, []).append(int(record.value.split(b":")[1]))
        partition_of.setdefault(record.key, set()).add(record.partition)
    assert all(seqs == list(range(50)) for seqs in by_key.values())
    assert all(len(parts) == 1 for parts in partition_of.values())  # one key, one partition


def test_read_all_stops_at_the_end_captured_at_start(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.events"
    ensure_topics(bootstrap, [topic], partitions=2)
    producer = LogProducer(bootstrap)
    for n in range(10):
        producer.send(topic, f"k{n}", b"before")
    producer.flush()
    seen: list[Record] = []
    for record in read_all(bootstrap, topic, timeout_s=10):
        if not seen:  # written after the read began: must not be waited for nor returned
            producer.send_and_wait(topic, "late", b"after")
        seen.append(record)
    assert [r.value for r in seen] == [b"before"] * 10
    assert sum(end_offsets(bootstrap, topic).values()) == 11
    assert list(read_all(bootstrap, topic, from_beginning=False)) == []


def test_read_all_of_an_empty_topic_returns_at_once(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.empty"
    ensure_topics(bootstrap, [topic], partitions=2)
    started = time.monotonic()
    assert list(read_all(bootstrap, topic, timeout_s=10)) == []
    assert time.monotonic() - started < 5


def test_keys_values_and_headers_roundtrip(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.events"
    ensure_topics(bootstrap, [topic], partitions=1)
    producer = LogProducer(bootstrap)
    value = bytes(range(256))  # every byte value, not just text
    partition, offset = producer.send_and_wait(
        topic, "tenant/ns/flow-é", value, {"type": "FlowCreated", "actor": "ana"}
    )
    producer.send(topic, "second", b"", None)
    producer.close()
    first, second = list(read_all(bootstrap, topic, timeout_s=10))
    assert (first.partition, first.offset) == (partition, offset)
    assert first.key == "tenant/ns/flow-é"
    assert first.value == value
    assert dict(first.headers) == {"type": "FlowCreated", "actor": "ana"}
    assert first.timestamp_ms > 0
    assert (second.key, second.value, dict(second.headers)) == ("second", b"", {})


def test_a_one_megabyte_value_roundtrips(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.big"
    ensure_topics(bootstrap, [topic], partitions=1)
    value = b"0123456789abcdef" * 65536  # 1 MiB
    producer = LogProducer(bootstrap)
    producer.send_and_wait(topic, "big", value)
    [record] = list(read_all(bootstrap, topic, timeout_s=10))
    assert record.value == value


def test_tail_follows_new_records_until_stopped(bootstrap: str, unique_prefix: str) -> None:
    topics = [f"{unique_prefix}.a", f"{unique_prefix}.b"]
    ensure_topics(bootstrap, topics, partitions=2)
    producer = LogProducer(bootstrap)
    producer.send_and_wait(topics[0], "old", b"0")
    stop = threading.Event()
    received: list[Record] = []

    def follow() -> None:
        for record in tail(bootstrap, topics, from_beginning=True, stop=stop):
            received.append(record)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    producer.send_and_wait(topics[1], "new", b"1")
    deadline = time.monotonic() + 15
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    follower.join(timeout=5)
    assert not follower.is_alive()
    assert sorted((r.topic, r.key) for r in received) == [(topics[0], "old"), (topics[1], "new")]


def test_unknown_topic_gives_a_clear_error(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.missing"
    with pytest.raises(UnknownTopicError, match=topic):
        list(read_all(bootstrap, topic, timeout_s=5))
    with pytest.raises(UnknownTopicError, match=topic):
        end_offsets(bootstrap, topic)
    with pytest.raises(UnknownTopicError, match=topic):
        next(tail(bootstrap, [topic], from_beginning=True))
    producer = LogProducer(bootstrap)
    started = time.monotonic()
    with pytest.raises(UnknownTopicError, match=topic):
        producer.send_and_wait(topic, "k", b"v", timeout_s=30)
    with pytest.raises(UnknownTopicError, match=topic):
        producer.send(topic, "k", b"v")
    assert time.monotonic() - started < 5  # not after a metadata timeout
    # Asking must not create it (noida-db creates topics a client may auto-create).
    with pytest.raises(UnknownTopicError):
        end_offsets(bootstrap, topic)


def test_delivery_errors_name_topic_and_key(bootstrap: str, unique_prefix: str) -> None:
    topic = f"{unique_prefix}.small"
    ensure_topics(bootstrap, [topic], partitions=1, config={"max.message.bytes": "1000"})
    producer = LogProducer(bootstrap)
    with pytest.raises(DeliveryError, match=rf"{topic}.*'exec-1'.*MSG_SIZE_TOO_LARGE"):
        producer.send_and_wait(topic, "exec-1", b"x" * 5000)
    producer.send(topic, "exec-2", b"x" * 5000)
    with pytest.raises(DeliveryError, match="exec-2"):
        producer.flush()
    producer.close()  # the failure was reported once, not again
