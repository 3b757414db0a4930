"""One Kafka trigger's consumer on its external cluster, in a thread of its own.

Exactly once in effect, without transactions (DESIGN.md "Triggers, limits and scale"):
- an execution's id derives from the cluster, topic, partition and offset of its record
  (a batch's from its offset ranges), so requesting it twice creates it once;
- the external offset is committed only after the CreateExecution is on Lanner's log;
- where a partition starts is the larger of the group's committed offset and the
  position recorded on trigger-events (ListenerProgress, BatchClosed): both only ever
  move past what is durably requested, so either is safe and the larger skips less work.
A batch is recorded (BatchClosed) before its execution is requested; whoever takes its
partitions over requests it again, so a crash between the two loses nothing and a batch
is never cut differently the second time.

Consumers join the trigger's group (`groupId`, else one derived from the trigger), so the
partitions of one trigger are spread over every scheduler process that runs listeners,
one owner per partition at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from schemas.commands import CreateExecution
from schemas.storage import Storage
from schemas.triggers import TriggerState, trigger_key
from schemas.triggers.kafka import KafkaTriggerBase
from streams.core.ids import derive_id
from streams.gateway.executions import REFUSED, ExecutionGateway
from streams.log.client_logging import kafka_logging
from streams.log.producer import MAX_RECORD_BYTES, LogProducer
from streams.log.topics import Topics
from streams.triggers.kafka_records import (
    RawRecord,
    Undeserializable,
    client_config,
    dead_letter,
    matches_headers,
    message,
)
from streams.triggers.kafka_report import ListenerReport

log = logging.getLogger("lanner.triggers.kafka")

# Errors after which the cluster is, for now, out of reach (the client keeps retrying).
_UNREACHABLE = {
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TRANSPORT,
    KafkaError._RESOLVE,
    KafkaError._AUTHENTICATION,
    KafkaError._SSL,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}
_DRAIN = 500


@dataclass(frozen=True)
class ListenerTarget:
    """Which trigger of which flow; `fingerprint` changes when the listener must restart."""

    tenant: str
    namespace: str
    flow_id: str
    trigger: KafkaTriggerBase
    fingerprint: str

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.trigger.id)

    @property
    def group_id(self) -> str:
        return self.trigger.groupId or f"lanner-{self.key.replace('/', '.')}"

    @property
    def log_context(self) -> dict[str, Any]:
        return {
            "trigger": self.key,
            "flow": f"{self.namespace}.{self.flow_id}",
            "trigger_type": self.trigger.type,
        }


@dataclass(frozen=True)
class ListenerPorts:
    """What a listener writes to and reads from on Lanner's side."""

    producer: LogProducer
    gateway: ExecutionGateway
    topics: Topics
    trigger_state: Callable[[str], TriggerState | None]
    catch_up_states: Callable[[], bool]
    # Internal storage, for batch files.
    storage: Storage


class KafkaListener:
    """The shared machinery; `RealtimeListener` and `BatchListener` say what a poll makes."""

    def __init__(self, target: ListenerTarget, ports: ListenerPorts) -> None:
        self.target = target
        self.ports = ports
        self.trigger = target.trigger
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"kafka-trigger:{target.key}", daemon=True
        )
        self._consumer: Consumer | None = None
        self._cluster_id = ""
        self._last_probe = 0.0
        # Progress, errors and batches, as trigger-events.
        self.report = ListenerReport(target, ports)
        self._external_dlq: Producer | None = None
        # Records for Lanner's log that must be durable before the next commit.
        self.pending: list[tuple[str, str, bytes]] = []

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        log.info("kafka listener starting", extra=self.target.log_context)
        while not self._stop.is_set():
            try:
                self._consume_until_stopped()
            except Exception as exc:  # a bad property, a client that died: retry later
                log.exception("kafka listener failed; retrying", extra=self.target.log_context)
                self.report.errored(f"{type(exc).__name__}: {exc}")
                self._close_consumer()
                self._stop.wait(2.0)
        self._close_consumer()
        log.info("kafka listener stopped", extra=self.target.log_context)

    def _consume_until_stopped(self) -> None:
        consumer = Consumer(self._consumer_config())
        self._consumer = consumer
        self._cluster_id = self._find_cluster_id(consumer)
        subscription = self.trigger.topics or [self._pattern()]
        consumer.subscribe(subscription, on_assign=self._on_assign, on_revoke=self._on_revoke)
        while not self._stop.is_set():
            self.poll_once(consumer)
            self.report.maybe_progress()
            if self.report.in_error:
                self._probe(consumer)

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        self.report.progress()
        try:
            consumer.close()  # leaves the group at once: its partitions move without delay
        except Exception:
            log.debug("closing the consumer failed", extra=self.target.log_context, exc_info=True)

    # --- the external cluster ---------------------------------------------------------

    def _consumer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            # A dead process's partitions move after this; Kafka's 45 s default would stall
            # a restarted listener that long.
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 2000,
            "fetch.wait.max.ms": 10,
            **client_config(self.trigger.properties),
            "group.id": self.target.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "error_cb": self._on_client_error,
            **kafka_logging(),
        }
        return config

    def _pattern(self) -> str:
        pattern = self.trigger.topicPattern or ""
        return pattern if pattern.startswith("^") else f"^{pattern}"

    def _find_cluster_id(self, consumer: Consumer) -> str:
        while not self._stop.is_set():
            try:
                metadata = consumer.list_topics(timeout=5)
                return str(metadata.cluster_id or self.trigger.properties["bootstrap.servers"])
            except KafkaException as exc:
                self.report.errored(f"cannot reach {self._servers()}: {exc}")
                self._stop.wait(2.0)
        return ""

    def _servers(self) -> str:
        return self.trigger.properties.get("bootstrap.servers", "?")

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() in _UNREACHABLE or error.fatal():
            self.report.errored(f"{error.name()}: {error.str()} ({self._servers()})")

    def _probe(self, consumer: Consumer) -> None:
        """While in error, ask the cluster now and then whether it answers again."""
        if time.monotonic() - self._last_probe < 2.0:
            return
        self._last_probe = time.monotonic()
        try:
            metadata = consumer.list_topics(timeout=1)
        except KafkaException:
            return
        missing = [
            t
            for t in self.trigger.topics
            if t not in metadata.topics or metadata.topics[t].error is not None
        ]
        if not missing:
            self.report.recovered()

    # --- partitions -------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        wanted = [p for p in partitions if self._wanted(p.partition)]
        self.ports.catch_up_states()
        state = self.ports.trigger_state(self.target.key)
        self.recover_batches(state, wanted)
        committed = consumer.committed(wanted, timeout=10) if wanted else []
        since_ms = self._since_ms()
        for tp in committed:
            recorded = state.positions.get(f"{tp.topic}/{tp.partition}") if state else None
            start = max(tp.offset if tp.offset >= 0 else -1, recorded if recorded else -1)
            tp.offset = start if start >= 0 else OFFSET_INVALID
        if since_ms is not None:
            self._seek_since(
                consumer, [tp for tp in committed if tp.offset == OFFSET_INVALID], since_ms
            )
        consumer.assign(committed)
        self.report.recovered()
        log.info(
            "kafka listener assigned partitions",
            extra={
                **self.target.log_context,
                "partitions": {f"{tp.topic}/{tp.partition}": tp.offset for tp in committed},
            },
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.report.progress()
        consumer.unassign()

    def _wanted(self, partition: int) -> bool:
        return self.trigger.partitions is None or partition in self.trigger.partitions

    def _since_ms(self) -> int | None:
        if not self.trigger.since:
            return None
        since = dt.datetime.fromisoformat(self.trigger.since.replace("Z", "+00:00"))
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        return int(since.timestamp() * 1000)

    def _seek_since(self, consumer: Consumer, fresh: list[TopicPartition], since_ms: int) -> None:
        if not fresh:
            return
        asked = [TopicPartition(tp.topic, tp.partition, since_ms) for tp in fresh]
        found = {
            (tp.topic, tp.partition): tp.offset
            for tp in consumer.offsets_for_times(asked, timeout=10)
        }
        for tp in fresh:
            offset = found.get((tp.topic, tp.partition), -1)
            # -1: nothing at or after `since` yet; start at the end, where it will come.
            tp.offset = offset if offset >= 0 else OFFSET_INVALID

    # --- polling ----------------------------------------------------------------------

    def poll_once(self, consumer: Consumer) -> None:
        raise NotImplementedError

    def fetch(self, consumer: Consumer, timeout_s: float) -> list[RawRecord]:
        """The next records: wait for the first, then take what is already there."""
        first = consumer.poll(timeout_s)
        if first is None:
            return []
        messages = [first, *consumer.consume(_DRAIN, 0)]
        records: list[RawRecord] = []
        for msg in messages:
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self._on_client_error(error)
                continue
            records.append(_raw(msg))
        if records:
            self.report.recovered()
        return records

    def recover_batches(self, state: TriggerState | None, partitions: list[TopicPartition]) -> None:
        """Batch triggers re-request the batches recorded for these partitions."""

    def commit(self, ends: dict[str, int]) -> None:
        """Commit `topic/partition -> next offset` (asynchronously: Lanner's own recorded
        positions are the guard, the group's offsets follow for the cluster's tools)."""
        self.report.count(positions=ends)
        consumer = self._consumer
        if consumer is None or not ends:
            return
        offsets = []
        for position, offset in ends.items():
            topic, _, partition = position.rpartition("/")
            offsets.append(TopicPartition(topic, int(partition), offset))
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # a partition revoked meanwhile: the next owner re-reads
            log.debug("commit refused", extra={**self.target.log_context, "error": str(exc)})

    # --- making executions ------------------------------------------------------------

    def execution_id(self, *parts: str | int) -> str:
        return derive_id(
            self.target.tenant,
            self.target.namespace,
            self.target.flow_id,
            self.trigger.id,
            self._cluster_id,
            *parts,
        )

    def prepare(self, execution_id: str, trigger_vars: dict[str, Any]) -> CreateExecution:
        return self.ports.gateway.prepare_create(
            self.target.namespace,
            self.target.flow_id,
            {},
            actor=f"trigger:{self.trigger.id}",
            labels=self.trigger.labels,
            trigger={"id": self.trigger.id, "type": self.trigger.type, **trigger_vars},
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

    def keep(self, record: RawRecord) -> bool:
        return self._wanted(record.partition) and matches_headers(
            record, self.trigger.headerFilters
        )

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

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


def _raw(msg: Message) -> RawRecord:
    _, timestamp = msg.timestamp()
    raw_headers = msg.headers() or []
    pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
    headers = [
        (str(name), value.encode() if isinstance(value, str) else value) for name, value in pairs
    ]
    return RawRecord(
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
        timestamp_ms=timestamp,
        key=msg.key(),
        value=msg.value(),
        headers=tuple(headers),
    )
