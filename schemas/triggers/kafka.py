"""Kafka triggers for external producers, under Kestra's plugin names and properties.

`RealtimeTrigger` starts one execution per record; `Trigger` gathers records into a batch
(closed by `maxRecords`, `maxDuration`, or a quiet `pollDuration`), stores it as a
JSON-lines file and starts one execution for it. The external cluster is described by
`properties` (client settings passed to librdkafka as they are, SASL/SSL included).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REALTIME_TYPES = ("io.kestra.plugin.kafka.RealtimeTrigger", "kafka.RealtimeTrigger")
BATCH_TYPES = ("io.kestra.plugin.kafka.Trigger", "kafka.Trigger")

# Kestra's SerdeType names this listener can read without a schema registry.
Deserializer = Literal[
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
# Kestra reads these through a schema registry, which Lanner's listener does not (yet).
NEEDS_REGISTRY = ("AVRO", "PROTOBUF")


class OnSerdeError(BaseModel):
    """Kestra's `onSerdeError`: SKIPPED drops the record (logged), DLQ also writes it to
    `topic` on the external cluster. Lanner's own dead-letter topic always gets it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["SKIPPED", "DLQ", "STORE"] = "SKIPPED"
    topic: str | None = None


class KafkaTriggerBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    description: str | None = None
    disabled: bool = False
    topic: str | list[str] | None = None
    topicPattern: str | None = None
    partitions: list[int] | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    serdeProperties: dict[str, str] = Field(default_factory=dict)
    groupId: str | None = None
    groupType: Literal["CONSUMER"] = "CONSUMER"
    keyDeserializer: Deserializer = "STRING"
    valueDeserializer: Deserializer = "STRING"
    # An ISO date-time: where a listener that never committed starts reading.
    since: str | None = None
    onSerdeError: OnSerdeError | None = None
    headerFilters: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_subscription(self) -> KafkaTriggerBase:
        if (self.topic is None) == (self.topicPattern is None):
            raise ValueError("set exactly one of `topic` or `topicPattern`")
        if self.topicPattern is not None and not self.groupId:
            raise ValueError("`groupId` is required with `topicPattern`")
        return self

    @property
    def topics(self) -> list[str]:
        if self.topic is None:
            return []
        return [self.topic] if isinstance(self.topic, str) else list(self.topic)


class KafkaRealtimeTrigger(KafkaTriggerBase):
    pass


class KafkaBatchTrigger(KafkaTriggerBase):
    # Kestra polls every `interval` (PT1M); the batch is what one evaluation gathers.
    interval: str = "PT1M"
    pollDuration: str = "PT5S"
    maxRecords: int | None = Field(default=None, ge=1)
    maxDuration: str | None = None


MODELS: dict[str, type[BaseModel]] = {
    **{name: KafkaRealtimeTrigger for name in REALTIME_TYPES},
    **{name: KafkaBatchTrigger for name in BATCH_TYPES},
}
