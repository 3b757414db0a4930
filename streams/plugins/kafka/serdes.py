"""Kafka keys and values as Kestra's serializers write them (Java's byte layouts), and the
client settings a task passes to librdkafka.

Reading goes through the Kafka trigger's deserializers (streams/triggers/kafka_records.py),
so a record a Produce task writes reads back the same in a Consume task and in a trigger.
AVRO and PROTOBUF need a schema registry, which Lanner's Kafka tasks do not speak (yet).
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import uuid
from typing import Any, Literal

SerdeType = Literal[
    "STRING",
    "JSON",
    "BYTES",
    "BYTE_ARRAY",
    "BYTE_BUFFER",
    "INTEGER",
    "LONG",
    "SHORT",
    "FLOAT",
    "DOUBLE",
    "UUID",
    "VOID",
    "AVRO",
    "PROTOBUF",
]
NEEDS_REGISTRY = ("AVRO", "PROTOBUF")

_FIXED = {"INTEGER": ">i", "LONG": ">q", "SHORT": ">h", "FLOAT": ">f", "DOUBLE": ">d"}


class Unserializable(ValueError):
    """A key or value that its serializer cannot write."""


def serialize(kind: SerdeType, value: Any, what: str) -> bytes | None:
    """`value` as `kind` writes it; None stays None (a Kafka null)."""
    if value is None or kind == "VOID":
        return None
    if kind in NEEDS_REGISTRY:
        raise Unserializable(f"{what}: {kind} needs a schema registry, which is not supported")
    try:
        if kind == "STRING":
            return (value if isinstance(value, str) else json.dumps(value)).encode()
        if kind == "JSON":
            return json.dumps(value, separators=(",", ":")).encode()
        if kind == "UUID":
            return str(uuid.UUID(str(value))).encode()
        if kind in _FIXED:
            number: Any = float(value) if kind in ("FLOAT", "DOUBLE") else int(value)
            return struct.pack(_FIXED[kind], number)
        # BYTES, BYTE_ARRAY, BYTE_BUFFER: JSON has no bytes, so a flow gives them as
        # base64 text (as a Consume task or a trigger shows them).
        if isinstance(value, bytes):
            return value
        return base64.b64decode(str(value), validate=True)
    except (ValueError, TypeError, struct.error, binascii.Error) as exc:
        raise Unserializable(f"{what}: {value!r:.100} is not {kind}: {exc}") from None


def check_serde(kind: str, what: str) -> None:
    if kind in NEEDS_REGISTRY:
        raise ValueError(f"`{what}: {kind}` needs a schema registry, which is not supported")
