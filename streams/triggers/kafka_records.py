"""An external Kafka record as a flow sees it: deserialized key and value, and Kestra's
`trigger.*` variables. Pure functions; the listener (kafka_listener.py) does the I/O."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from schemas.triggers.kafka import Deserializer


class Undeserializable(ValueError):
    """The record's key or value cannot be read as its trigger says."""


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}"


_FIXED: dict[str, tuple[str, int]] = {
    "INTEGER": (">i", 4),
    "LONG": (">q", 8),
    "SHORT": (">h", 2),
    "FLOAT": (">f", 4),
    "DOUBLE": (">d", 8),
}


def deserialize(kind: Deserializer, data: bytes | None, what: str) -> Any:
    """Read bytes as Kafka's (Java) serializers wrote them; a null stays null."""
    if data is None or kind == "VOID":
        return None
    try:
        if kind in ("STRING", "JSON", "UUID"):
            text = data.decode("utf-8")
            if kind == "STRING":
                return text
            if kind == "UUID":
                return str(uuid.UUID(text))
            return json.loads(text)
        if kind in _FIXED:
            fmt, size = _FIXED[kind]
            if len(data) != size:
                raise Undeserializable(
                    f"{what}: {kind} needs {size} bytes, the record has {len(data)}"
                )
            return struct.unpack(fmt, data)[0]
        # BYTES, BYTE_ARRAY, BYTE_BUFFER: JSON has no bytes; Kestra shows them as base64.
        return base64.b64encode(data).decode("ascii")
    except Undeserializable:
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        raise Undeserializable(f"{what}: not {kind}: {exc}") from exc


def header_pairs(headers: tuple[tuple[str, bytes | None], ...]) -> list[dict[str, str | None]]:
    """Kestra's `trigger.headers`: a list of one-entry maps, in record order (a header
    name may repeat)."""
    return [
        {name: None if value is None else value.decode("utf-8", errors="replace")}
        for name, value in headers
    ]


def matches_headers(record: RawRecord, filters: dict[str, str]) -> bool:
    """Kestra's headerFilters: the last header of each name must equal the filter value."""
    if not filters:
        return True
    last: dict[str, bytes | None] = {}
    for name, value in record.headers:
        last[name] = value
    for name, wanted in filters.items():
        value = last.get(name)
        if value is None or value.decode("utf-8", errors="replace") != wanted:
            return False
    return True


def message(record: RawRecord, key_kind: Deserializer, value_kind: Deserializer) -> dict[str, Any]:
    """The record as Kestra's Message: key, value, topic, partition, offset, timestamp,
    headers. Raises Undeserializable."""
    timestamp = (
        dt.datetime.fromtimestamp(record.timestamp_ms / 1000, dt.UTC).isoformat()
        if record.timestamp_ms is not None and record.timestamp_ms >= 0
        else None
    )
    return {
        "key": deserialize(key_kind, record.key, "key"),
        "value": deserialize(value_kind, record.value, "value"),
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": timestamp,
        "headers": header_pairs(record.headers),
    }


def dead_letter(trigger_key: str, record: RawRecord, reason: str) -> dict[str, Any]:
    """What the dead-letter topic keeps of a record no flow could read: enough to send it again."""
    return {
        "trigger": trigger_key,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp_ms,
        "reason": reason,
        "key": None if record.key is None else base64.b64encode(record.key).decode("ascii"),
        "value": None if record.value is None else base64.b64encode(record.value).decode("ascii"),
        "headers": [
            [name, None if value is None else base64.b64encode(value).decode("ascii")]
            for name, value in record.headers
        ],
    }


# Java client settings that Kestra flows carry and librdkafka does not know: a JAAS login
# becomes librdkafka's username and password; Java class names have no meaning here.
_JAAS_FIELD = re.compile(r'(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"')
_JAVA_ONLY = ("key.deserializer", "value.deserializer", "key.serializer", "value.serializer")


def client_config(properties: dict[str, str]) -> dict[str, str]:
    """A trigger's `properties` as librdkafka settings (SASL/SSL pass through as they are)."""
    config = {k: v for k, v in properties.items() if k not in _JAVA_ONLY}
    jaas = config.pop("sasl.jaas.config", None)
    if jaas is not None:
        for field, value in _JAAS_FIELD.findall(jaas):
            config.setdefault(f"sasl.{field}", value.replace('\\"', '"'))
    return config
