"""The Kafka tasks' pure parts: serializers, records built from `from`, validation.
(Sending and consuming run against the real broker in tests/integration/test_kafka.py.)"""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from streams.plugins.kafka import Consume, Produce
from streams.plugins.kafka.clients import HeardErrors, KafkaTaskError, settings
from streams.plugins.kafka.consume import _anchored
from streams.plugins.kafka.produce import RecordError, _inline_rows
from streams.plugins.kafka.serdes import Unserializable, serialize
from streams.triggers.kafka_records import deserialize


def _produce(**extra: Any) -> Produce:
    spec = {
        "id": "send",
        "type": "io.kestra.plugin.kafka.Produce",
        "properties": {"bootstrap.servers": "127.0.0.1:9092"},
        "topic": "orders",
        "from": {"key": "k", "value": "v"},
        **extra,
    }
    return Produce.model_validate(spec)


@pytest.mark.parametrize(
    ("kind", "value", "raw", "read_back"),
    [
        ("STRING", "héllo", "héllo".encode(), "héllo"),
        ("STRING", {"a": 1}, b'{"a": 1}', '{"a": 1}'),
        ("JSON", {"a": [1, "x"]}, b'{"a":[1,"x"]}', {"a": [1, "x"]}),
        ("INTEGER", 42, struct.pack(">i", 42), 42),
        ("INTEGER", "-7", struct.pack(">i", -7), -7),
        ("LONG", 2**40, struct.pack(">q", 2**40), 2**40),
        ("SHORT", 3, struct.pack(">h", 3), 3),
        ("FLOAT", 1.5, struct.pack(">f", 1.5), 1.5),
        ("DOUBLE", 2.25, struct.pack(">d", 2.25), 2.25),
        ("BYTE_ARRAY", "aGk=", b"hi", "aGk="),
        ("BYTES", "aGk=", b"hi", "aGk="),
        ("VOID", "anything", None, None),
        ("STRING", None, None, None),
    ],
)
def test_serializers_write_what_the_trigger_reads_back(
    kind: Any, value: Any, raw: Any, read_back: Any
) -> None:
    assert serialize(kind, value, "value") == raw
    assert deserialize(kind, raw, "value") == read_back


def test_uuid_is_written_as_its_text() -> None:
    value = uuid.uuid4()
    assert serialize("UUID", str(value).upper(), "key") == str(value).encode()


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("INTEGER", "twelve", "'twelve' is not INTEGER"),
        ("INTEGER", 2**40, "is not INTEGER"),
        ("BYTE_ARRAY", "not base64!", "is not BYTE_ARRAY"),
        ("UUID", "nope", "is not UUID"),
        ("AVRO", {"a": 1}, "schema registry"),
    ],
)
def test_a_value_its_serializer_cannot_write_is_refused(
    kind: Any, value: Any, fragment: str
) -> None:
    with pytest.raises(Unserializable, match="value: ") as caught:
        serialize(kind, value, "value")
    assert fragment in str(caught.value)


def test_a_record_takes_topic_partition_timestamp_and_headers() -> None:
    task = _produce(keySerializer="STRING", valueSerializer="JSON")
    record = task._record(
        "record 1",
        {
            "key": "k",
            "value": {"n": 1},
            "partition": 2,
            "timestamp": "2026-01-02T03:04:05Z",
            "headers": {"a": "1", "b": {"x": 2}},
        },
    )
    assert record == {
        "topic": "orders",
        "key": b"k",
        "value": b'{"n":1}',
        "partition": 2,
        "timestamp": 1767323045000,
        "headers": [("a", b"1"), ("b", b'{"x": 2}')],
    }
    # A Consume task's message: its own topic wins, headers are one-entry maps.
    consumed = {"key": "k", "value": 1, "topic": "elsewhere", "headers": [{"h": "v"}, {"h": "w"}]}
    record = task._record("line 3", consumed)
    assert record["topic"] == "elsewhere"
    assert record["headers"] == [("h", b"v"), ("h", b"w")]


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("just text", "a record must be a map"),
        ({"value": 1, "timestamp": "yesterday"}, "is not an ISO date-time"),
        ({"value": 1, "headers": "h=v"}, "headers must be a map"),
    ],
)
def test_a_bad_record_is_named(row: Any, fragment: str) -> None:
    with pytest.raises(RecordError, match="record 4") as caught:
        _produce()._record("record 4", row)
    assert fragment in str(caught.value)


def test_a_record_without_any_topic_is_refused() -> None:
    with pytest.raises(RecordError, match="no topic"):
        _produce(topic=None)._record("record 1", {"value": 1})


def test_inline_from_is_a_record_a_list_or_their_json_text() -> None:
    assert list(_inline_rows({"key": "a"})) == [("`from`", {"key": "a"})]
    assert [w for w, _ in _inline_rows([{"a": 1}, {"a": 2}])] == [
        "record 1 of `from`",
        "record 2 of `from`",
    ]
    assert list(_inline_rows('[{"value": 3}]')) == [("record 1 of `from`", {"value": 3})]
    with pytest.raises(RecordError, match="neither a kestra:// file"):
        list(_inline_rows("s3://bucket/file"))


def test_settings_need_bootstrap_servers_and_drop_java_only_entries() -> None:
    with pytest.raises(KafkaTaskError, match=r"bootstrap\.servers"):
        settings({}, None, HeardErrors())
    config = settings(
        {
            "bootstrap.servers": "h:1",
            "value.serializer": "org.apache.kafka.common.serialization.StringSerializer",
            "sasl.jaas.config": 'x required username="u" password="p";',
        },
        None,
        HeardErrors(),
    )
    assert config["bootstrap.servers"] == "h:1"
    assert "value.serializer" not in config
    assert (config["sasl.username"], config["sasl.password"]) == ("u", "p")


def test_registry_serializers_and_bad_subscriptions_are_refused_at_validation() -> None:
    with pytest.raises(ValidationError, match="schema registry"):
        _produce(valueSerializer="AVRO")
    base = {"id": "c", "type": "io.kestra.plugin.kafka.Consume", "properties": {}}
    with pytest.raises(ValidationError, match="exactly one of `topic` or `topicPattern`"):
        Consume.model_validate(base)
    with pytest.raises(ValidationError, match="`groupId` is required"):
        Consume.model_validate({**base, "topicPattern": "a.*"})
    with pytest.raises(ValidationError, match="Invalid regex"):
        Consume.model_validate({**base, "topicPattern": "a(", "groupId": "g"})
    with pytest.raises(ValidationError, match="maxRecords"):
        Consume.model_validate({**base, "topic": "t", "maxRecords": 0})


def test_a_topic_pattern_matches_whole_names_as_java_does() -> None:
    assert _anchored("orders-.*") == "^orders-.*$"
    assert _anchored("^orders$") == "^orders$"
