"""`io.kestra.plugin.kafka.Trigger`: records gathered into batches, one execution each.

Every `interval` the listener gathers records until `maxRecords`, `maxDuration`, or a
quiet `pollDuration`; the batch becomes a JSON-lines file in internal storage, passed to
the execution as `trigger.uri` with `trigger.messagesCount`. The batch is recorded
(BatchClosed, with its offset ranges) before its execution is requested, and requested
again by whoever takes its partitions over, so no restart cuts records differently.
"""

from __future__ import annotations

import json
import time

from confluent_kafka import Consumer, TopicPartition

from schemas.inputs import parse_duration
from schemas.storage import execution_prefix
from schemas.triggers import BatchClosed, TriggerState
from schemas.triggers.kafka import KafkaBatchTrigger
from streams.triggers.kafka_listener import KafkaListener
from streams.triggers.kafka_records import RawRecord
from streams.triggers.kafka_target import ListenerPorts, ListenerTarget


class BatchListener(KafkaListener):
    def __init__(self, target: ListenerTarget, ports: ListenerPorts) -> None:
        super().__init__(target, ports)
        assert isinstance(self.trigger, KafkaBatchTrigger)
        self.batch_trigger: KafkaBatchTrigger = self.trigger
        self._interval_s = parse_duration(self.trigger.interval).total_seconds()
        self._quiet_s = parse_duration(self.trigger.pollDuration).total_seconds()
        self._max_s = (
            parse_duration(self.trigger.maxDuration).total_seconds()
            if self.trigger.maxDuration
            else None
        )
        self._next_start = 0.0

    def _consumer_config(self) -> dict[str, object]:
        config = super()._consumer_config()
        # The consumer is not polled between two evaluations: tell the group it is alive.
        longest = self._interval_s + (self._max_s or 0) + self._quiet_s + 60
        config.setdefault("max.poll.interval.ms", max(300_000, int(longest * 1000)))
        return config

    def poll_once(self, consumer: Consumer) -> None:
        wait = self._next_start - time.monotonic()
        if wait > 0:
            # Stop-aware and short, so a disable or a stop is honoured at once.
            self._stop.wait(min(wait, 0.2))
            return
        self._next_start = time.monotonic() + self._interval_s
        records = self._gather(consumer)
        if records:
            self._close_batch(records)

    def _gather(self, consumer: Consumer) -> list[RawRecord]:
        limit = self.batch_trigger.maxRecords
        started = time.monotonic()
        gathered: list[RawRecord] = []
        while not self.stopping:
            timeout = self._quiet_s
            if self._max_s is not None:
                timeout = min(timeout, started + self._max_s - time.monotonic())
            if timeout <= 0:
                break
            fetched = self.fetch(consumer, timeout)
            if not fetched:
                break
            room = len(fetched) if limit is None else limit - len(gathered)
            gathered += fetched[:room]
            if room < len(fetched):
                self._seek_back(consumer, fetched[room:])
                break
            if limit is not None and len(gathered) >= limit:
                break
        return gathered

    def _active_consumer(self) -> Consumer:
        assert self._consumer is not None
        return self._consumer

    def _seek_back(self, consumer: Consumer, unread: list[RawRecord]) -> None:
        """Records fetched past `maxRecords` are read again by the next batch."""
        first: dict[tuple[str, int], int] = {}
        for record in unread:
            first.setdefault((record.topic, record.partition), record.offset)
        for (topic, partition), offset in first.items():
            consumer.seek(TopicPartition(topic, partition, offset))

    def _close_batch(self, records: list[RawRecord]) -> None:
        ranges: dict[str, tuple[int, int]] = {}
        lines: list[str] = []
        for record in records:
            first, _ = ranges.get(record.position, (record.offset, record.offset))
            ranges[record.position] = (min(first, record.offset), record.offset + 1)
            if not self.keep(record):
                continue
            variables = self.requests.decode(record)
            if variables is not None:
                lines.append(json.dumps(variables, separators=(",", ":")))
        ends = {position: end for position, (_, end) in ranges.items()}
        if not lines:  # every record filtered out or dead-lettered: nothing to run
            self.requests.write_pending([])
            self.commit(ends)
            return
        spans = ",".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(ranges.items()))
        execution_id = self.requests.execution_id("batch", spans)
        uri = (
            execution_prefix(
                self.target.tenant, self.target.namespace, self.target.flow_id, execution_id
            )
            + f"trigger/{self.trigger.id}.jsonl"
        )
        variables = {"uri": uri, "messagesCount": len(lines)}
        if self.requests.command_for(None, execution_id, variables) is None:
            # The flow takes no execution now: read the batch again at the next interval.
            self._seek_back(self._active_consumer(), records)
            self.requests.pending.clear()
            return
        self.ports.storage.put_bytes(uri, ("\n".join(lines) + "\n").encode())
        batch = BatchClosed(
            **self.report.event_fields(),
            execution_id=execution_id,
            uri=uri,
            count=len(lines),
            ranges=ranges,
        )
        self.requests.write_pending([])  # dead letters of this batch, before it is recorded
        self.report.emit(batch, wait=True)
        self._request(batch)
        self.commit(ends)

    def _request(self, batch: BatchClosed) -> None:
        command = self.requests.command_for(
            None, batch.execution_id, {"uri": batch.uri, "messagesCount": batch.count}
        )
        self.requests.write_pending([command] if command is not None else [])

    def recover_batches(self, state: TriggerState | None, partitions: list[TopicPartition]) -> None:
        if state is None:
            return
        again: dict[str, BatchClosed] = {}
        for tp in partitions:
            batch = state.last_batches.get(f"{tp.topic}/{tp.partition}")
            if batch is not None:
                again[batch.execution_id] = batch
        for batch in again.values():
            # A no-op when the execution exists; its creation when a crash came between.
            self._request(batch)
