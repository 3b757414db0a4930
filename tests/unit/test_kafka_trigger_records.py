"""Kafka trigger records and their validation: pure, no broker."""

from __future__ import annotations

import json
import struct
import uuid

import pytest

from streams.core.validation import FlowProblem, validate_flow
from streams.plugins.registry import PluginRegistry
from streams.triggers.kafka_records import (
    RawRecord,
    Undeserializable,
    client_config,
    dead_letter,
    deserialize,
    matches_headers,
    message,
)

REGISTRY = PluginRegistry.discover()


def _record(value: bytes | None, key: bytes | None = b"k", **extra: object) -> RawRecord:
    fields: dict[str, object] = {
        "topic": "orders",
        "partition": 2,
        "offset": 41,
        "timestamp_ms": 1_700_000_000_000,
        "key": key,
        "value": value,
        "headers": (("source", b"shop"), ("source", b"app")),
    }
    fields.update(extra)
    return RawRecord(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("STRING", "héllo".encode(), "héllo"),
        ("JSON", b'{"n": 1, "tags": ["a"]}', {"n": 1, "tags": ["a"]}),
        ("INTEGER", struct.pack(">i", -7), -7),
        ("LONG", struct.pack(">q", 2**40), 2**40),
        ("SHORT", struct.pack(">h", 300), 300),
        ("DOUBLE", struct.pack(">d", 2.5), 2.5),
        ("FLOAT", struct.pack(">f", 0.5), 0.5),
        ("BYTES", b"\x00\xff", "AP8="),
        (
            "UUID",
            b"12345678-1234-5678-1234-567812345678",
            str(uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ),
        ("VOID", b"anything", None),
    ],
)
def test_each_deserializer_reads_what_javas_serializers_write(
    kind: str, data: bytes, expected: object
) -> None:
    assert deserialize(kind, data, "value") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("JSON", b"not json {"),
        ("STRING", b"\xff\xfe"),
        ("INTEGER", b"\x00\x01"),
        ("UUID", b"not-a-uuid"),
        ("LONG", b""),
    ],
)
def test_bytes_that_do_not_fit_are_undeserializable_with_the_reason(kind: str, data: bytes) -> None:
    with pytest.raises(Undeserializable, match=f"value: .*{kind}"):
        deserialize(kind, data, "value")  # type: ignore[arg-type]


def test_a_null_key_or_value_stays_null() -> None:
    assert deserialize("JSON", None, "key") is None


def test_the_message_has_kestras_fields() -> None:
    msg = message(_record(json.dumps({"n": 3}).encode()), "STRING", "JSON")
    assert msg == {
        "key": "k",
        "value": {"n": 3},
        "topic": "orders",
        "partition": 2,
        "offset": 41,
        "timestamp": "2023-11-14T22:13:20+00:00",
        "headers": [{"source": "shop"}, {"source": "app"}],
    }


def test_header_filters_look_at_the_last_header_of_each_name() -> None:
    record = _record(b"x")
    assert matches_headers(record, {"source": "app"})
    assert not matches_headers(record, {"source": "shop"})
    assert not matches_headers(record, {"missing": "x"})
    assert matches_headers(record, {})


def test_a_dead_letter_keeps_enough_to_replay_the_record() -> None:
    letter = dead_letter("main/ns/flow/t", _record(b"\xff"), "value: not STRING")
    assert letter["reason"] == "value: not STRING"
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("orders", 2, 41)
    assert letter["value"] == "/w==" and letter["key"] == "aw=="
    assert letter["headers"][0] == ["source", "c2hvcA=="]


FLOW = """\
id: f
namespace: company.team
tasks:
  - id: a
    type: log.Log
    message: "{{{{ trigger.value }}}}"
triggers:
  - id: k
    type: io.kestra.plugin.kafka.{kind}
{props}
"""


def _problems(kind: str, props: str) -> dict[str, FlowProblem]:
    result = validate_flow(FLOW.format(kind=kind, props=props), REGISTRY)
    assert isinstance(result, list), "expected problems"
    return {p.path: p for p in result}


def test_a_valid_kafka_trigger_deploys() -> None:
    props = (
        "    topic: [orders, refunds]\n    groupId: g\n    valueDeserializer: JSON\n"
        "    properties:\n      bootstrap.servers: 127.0.0.1:9092\n"
        "      security.protocol: SASL_SSL\n"
    )
    result = validate_flow(FLOW.format(kind="RealtimeTrigger", props=props), REGISTRY)
    assert not isinstance(result, list), [str(p) for p in result]


def test_bad_kafka_trigger_properties_are_errors_with_their_lines() -> None:
    props = (
        "    topicPattern: 'orders.(('\n    groupId: g\n    valueDeserializer: AVRO\n"
        "    since: yesterday\n    properties:\n      client.id: x\n"
    )
    problems = _problems("RealtimeTrigger", props)
    deserializer = problems["triggers[0].valueDeserializer"]
    assert deserializer.line == 12
    assert "AVRO needs a schema registry" in deserializer.message


def test_pattern_since_and_servers_are_checked() -> None:
    props = (
        "    topicPattern: 'orders.(('\n    groupId: g\n    since: yesterday\n"
        "    properties:\n      client.id: x\n"
    )
    problems = _problems("RealtimeTrigger", props)
    assert "not a valid pattern" in problems["triggers[0].topicPattern"].message
    assert "ISO-8601" in problems["triggers[0].since"].message
    assert "bootstrap.servers" in problems["triggers[0].properties"].message


def test_a_batch_trigger_needs_durations_and_one_subscription() -> None:
    props = (
        "    topic: orders\n    topicPattern: 'o.*'\n    groupId: g\n    interval: soon\n"
        "    properties:\n      bootstrap.servers: 127.0.0.1:9092\n"
    )
    problems = _problems("Trigger", props)
    assert any("exactly one of `topic` or `topicPattern`" in p.message for p in problems.values())
    props = (
        "    topic: orders\n    interval: soon\n    maxDuration: PT0S\n"
        "    properties:\n      bootstrap.servers: 127.0.0.1:9092\n"
    )
    problems = _problems("Trigger", props)
    assert "ISO-8601 duration" in problems["triggers[0].interval"].message
    assert "positive duration" in problems["triggers[0].maxDuration"].message
    props = "    topic: orders\n    maxRecords: 0\n    properties:\n      bootstrap.servers: b:1\n"
    assert "triggers[0].maxRecords" in _problems("Trigger", props)


def test_java_client_settings_become_librdkafka_settings() -> None:
    config = client_config(
        {
            "bootstrap.servers": "b:9093",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
            'username="ada" password="s3\\"cret";',
            "value.deserializer": "org.apache.kafka.common.serialization.StringDeserializer",
        }
    )
    assert config == {
        "bootstrap.servers": "b:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ada",
        "sasl.password": 's3"cret',
    }
