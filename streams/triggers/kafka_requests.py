"""What a Kafka trigger's listener writes to Lanner's log: the CreateExecution of a record
(or of a batch), under an id derived from where the record was, and the dead letters of
records that cannot become one. Nothing here is committed on the external cluster: the
listener commits only once `write_pending` returned."""

from __future__ import annotations

import json
import logging
from typing import Any

from confluent_kafka import Producer

from schemas.commands import CreateExecution
from streams.core.ids import derive_id
from streams.log.client_logging import kafka_logging
from streams.log.producer import MAX_RECORD_BYTES
from streams.triggers.kafka_records import (
    RawRecord,
    Undeserializable,
    client_config,
    dead_letter,
    message,
)
from streams.triggers.kafka_report import ListenerReport
from streams.triggers.kafka_target import ListenerPorts, ListenerTarget
from streams.writers.executions import REFUSED

log = logging.getLogger("lanner.triggers.kafka")


class ListenerRequests:
    def __init__(
        self, target: ListenerTarget, ports: ListenerPorts, report: ListenerReport
    ) -> None:
        self.target = target
        self.trigger = target.trigger
        self.ports = ports
        self.report = report
        # The external cluster's id, once the listener reached it: part of every derived id.
        self.cluster_id = ""
        self._external_dlq: Producer | None = None
        # Records for Lanner's log that must be durable before the next commit.
        self.pending: list[tuple[str, str, bytes]] = []

    def execution_id(self, *parts: str | int) -> str:
        return derive_id(
            self.target.tenant,
            self.target.namespace,
            self.target.flow_id,
            self.trigger.id,
            self.cluster_id,
            *parts,
        )

    def prepare(self, execution_id: str, trigger_vars: dict[str, Any]) -> CreateExecution:
        return self.ports.execution_writer.prepare_create(
            self.target.namespace,
            self.target.flow_id,
            {},
            actor=f"trigger:{self.trigger.id}",
            labels=self.trigger.labels,
            trigger={
                "id": self.trigger.id,
                "type": self.trigger.type,
                **trigger_vars,
            },
            execution_id=execution_id,
        )

    def encode(self, command: CreateExecution) -> tuple[str, str, bytes] | None:
        value = command.model_dump_json().encode()
        if len(value) > MAX_RECORD_BYTES:
            return None
        return self.ports.topics.commands, command.execution_id, value

    def decode(self, record: RawRecord) -> dict[str, Any] | None:
        """Kestra's Message for the record, or None when it was dead-lettered."""
        try:
            return message(record, self.trigger.keyDeserializer, self.trigger.valueDeserializer)
        except Undeserializable as exc:
            self.dead_letter(record, str(exc))
            return None

    def dead_letter(self, record: RawRecord, reason: str) -> None:
        log.warning(
            "kafka record skipped to the dead-letter topic",
            extra={
                **self.target.log_context,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )
        body = json.dumps(dead_letter(self.target.key, record, reason)).encode()
        # Written with the poll's own records, before its offsets are committed.
        self.pending.append((self.ports.topics.trigger_dead_letters, self.target.key, body))
        self.report.count(dead_lettered=1)
        on_error = self.trigger.onSerdeError
        if on_error is not None and on_error.type == "DLQ" and on_error.topic:
            self._external_dead_letter(on_error.topic, record)

    def _external_dead_letter(self, topic: str, record: RawRecord) -> None:
        if self._external_dlq is None:
            self._external_dlq = Producer(
                {**client_config(self.trigger.properties), **kafka_logging()}
            )
        self._external_dlq.produce(
            topic, key=record.key, value=record.value, headers=list(record.headers)
        )
        self._external_dlq.poll(0)

    def write_pending(self, records: list[tuple[str, str, bytes]]) -> None:
        """Write `records` and every pending dead letter; return once all are durable."""
        batch, self.pending = [*self.pending, *records], []
        if batch:
            self.ports.producer.send_all_and_wait(batch)
        if self._external_dlq is not None:
            self._external_dlq.flush(30)
        self.report.count(
            accepted=sum(1 for topic, _, _ in records if topic == self.ports.topics.commands)
        )

    def command_for(
        self, record: RawRecord | None, execution_id: str, trigger_vars: dict[str, Any]
    ) -> tuple[str, str, bytes] | None:
        """The CreateExecution record to write, or None when the request cannot be made
        (the flow refuses it, or it is too large for the log): then the record goes to
        the dead-letter topic with the reason, and the trigger shows the error."""
        try:
            encoded = self.encode(self.prepare(execution_id, trigger_vars))
            reason = None if encoded else f"the execution request is over {MAX_RECORD_BYTES} bytes"
        except REFUSED as exc:
            encoded, reason = None, str(exc)
        if reason is not None:
            self.report.errored(reason)
            if record is not None:
                self.dead_letter(record, reason)
        return encoded
