"""One consumed batch of records -> the bulk writes that project it.

Pure but for the two lookups it is handed (stored execution states, last flow sources),
so the translation is tested without Kafka; the indexer only moves records and offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from projections import mappings
from projections.audit import AUDIT, execution_event_doc, flow_event_doc
from projections.documents import event_doc, execution_doc, flow_docs, flow_key, log_doc
from projections.execution_fold import ExecutionFolder
from projections.metrics_view import METRICS, metric_docs
from projections.trigger_fold import TriggerFolder, trigger_doc
from schemas.events import (
    EXECUTION_EVENT_ADAPTER,
    FLOW_EVENT_ADAPTER,
    ExecutionEvent,
    FlowDeleted,
    FlowEvent,
)
from schemas.triggers import TRIGGER_EVENT_ADAPTER, TriggerEvent
from schemas.worker import LogLine
from streams.log.topics import Topics

log = logging.getLogger(__name__)

Doc = tuple[str, int, dict[str, Any]]
# A flow's latest (revision, source) as the view stored it.
SourceLookup = Callable[[str], tuple[int, str] | None]


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes

    @classmethod
    def of(cls, message: Any) -> RawRecord:
        """A record as a confluent-kafka consumer hands it over (a message without error)."""
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        key, value = message.key(), message.value()
        return cls(
            topic,
            partition,
            offset,
            key.decode(errors="replace") if isinstance(key, bytes) else None,
            value if isinstance(value, bytes) else b"",
        )


@dataclass
class Writes:
    """Documents per short index name, in the order they should be written."""

    docs: dict[str, list[Doc]] = field(default_factory=dict)
    malformed: int = 0

    def add(self, index: str, doc: Doc) -> None:
        self.docs.setdefault(index, []).append(doc)

    @property
    def count(self) -> int:
        return sum(len(d) for d in self.docs.values())


class BatchProjector:
    def __init__(
        self,
        topics: Topics,
        folder: ExecutionFolder,
        flow_source: SourceLookup,
        triggers: TriggerFolder | None = None,
    ) -> None:
        self._topics = topics
        self._folder = folder
        # Without a view to read states back from: every trigger folds from memory.
        self._triggers = triggers or TriggerFolder(lambda keys: {})
        self._flow_source = flow_source
        # The latest (revision, source) per flow: a deletion document keeps what was
        # deleted, and a revision written twice keeps its first write.
        self._latest: dict[str, tuple[int, str]] = {}

    def project(self, records: list[RawRecord]) -> Writes:
        writes = Writes()
        # Events (and metrics) before executions: once a state is visible its history is.
        for index in (
            mappings.EVENTS,
            mappings.LOGS,
            METRICS,
            mappings.EXECUTIONS,
            mappings.FLOW_REVISIONS,
            mappings.FLOWS,
            mappings.TRIGGERS,
        ):
            writes.docs[index] = []
        events: list[ExecutionEvent] = []
        trigger_events: list[tuple[int, TriggerEvent]] = []
        for record in records:
            try:
                self._one(record, writes, events, trigger_events)
            except (ValidationError, ValueError, UnicodeDecodeError) as exc:
                writes.malformed += 1
                log.warning(
                    "skipping a malformed record",
                    extra={
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                        "error": str(exc)[:500],
                    },
                )
        if events:
            changed = self._folder.fold(events)
            for state in changed.values():
                writes.add(mappings.EXECUTIONS, (state.id, state.seq, execution_doc(state)))
            for event in events:
                folded = changed.get(event.execution_id)
                for doc in metric_docs(event, folded):
                    writes.add(METRICS, doc)
                writes.add(
                    AUDIT,
                    execution_event_doc(
                        event,
                        folded.namespace if folded else None,
                        folded.flow_id if folded else None,
                    ),
                )
        if trigger_events:
            for key, trigger in self._triggers.fold(trigger_events).items():
                writes.add(mappings.TRIGGERS, (key, trigger.offset, trigger_doc(trigger)))
        return writes

    def _one(
        self,
        record: RawRecord,
        writes: Writes,
        events: list[ExecutionEvent],
        trigger_events: list[tuple[int, TriggerEvent]],
    ) -> None:
        if record.topic == self._topics.execution_events:
            event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
            events.append(event)
            writes.add(mappings.EVENTS, (event.event_id, event.seq, event_doc(event)))
        elif record.topic == self._topics.logs:
            line = LogLine.model_validate_json(record.value)
            writes.add(mappings.LOGS, (line.log_id, 1, log_doc(line)))
        elif record.topic == self._topics.flow_events:
            self._flow(FLOW_EVENT_ADAPTER.validate_json(record.value), record, writes)
        elif record.topic == self._topics.trigger_events:
            trigger_events.append(
                (record.offset, TRIGGER_EVENT_ADAPTER.validate_json(record.value))
            )

    def _flow(self, event: FlowEvent, record: RawRecord, writes: Writes) -> None:
        writes.add(AUDIT, flow_event_doc(event))
        key = flow_key(event.tenant, event.namespace, event.flow_id)
        latest = self._latest.get(key) or self._flow_source(key)
        previous = latest[1] if latest else None
        if not isinstance(event, FlowDeleted):
            if latest is not None and event.revision <= latest[0]:
                # Two writers raced for one revision: the first on the log has it (as the
                # flow catalog decides, streams/flow_catalog.py); the other lost.
                return
            self._latest[key] = (event.revision, event.source)
            revision_doc = flow_docs(event)
            writes.add(
                mappings.FLOW_REVISIONS, (f"{key}/{event.revision}", event.revision, revision_doc)
            )
        # One key lives on one partition, so its offsets order its events: the offset is
        # the external version that keeps a redelivered event from moving the view back.
        writes.add(mappings.FLOWS, (key, record.offset + 1, flow_docs(event, previous)))
