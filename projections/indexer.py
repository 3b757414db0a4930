"""The indexer: a consumer group that folds the log into the Elasticsearch views.

At least once, made exact by the documents: a batch is written in bulk, and only then
are its offsets committed. A crash between the two replays the batch, and every
document has a log-derived id and external version, so the replay changes nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from projections import mappings
from projections.batch import BatchProjector, RawRecord, Writes
from projections.execution_fold import ExecutionFolder, state_from_doc
from projections.lag import indexed_topics, indexer_group
from projections.store.client import SearchStore
from schemas.execution import Execution
from schemas.settings import LannerSettings
from streams.log.topics import Topics

log = logging.getLogger(__name__)

BATCH_RECORDS = 500
BATCH_WAIT_S = 0.05
_RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def ensure_indices(store: SearchStore) -> None:
    for name, mapping in mappings.MAPPINGS.items():
        store.ensure_index(name, mapping)


@dataclass
class IndexerStats:
    records: int = 0
    written: int = 0
    skipped: int = 0
    malformed: int = 0
    batches: int = 0
    # Seconds spent projecting and writing (the rest of the loop is Kafka).
    project_s: float = 0.0
    write_s: float = 0.0


class TransientWriteError(RuntimeError):
    """ES refused part of a batch for a reason that may pass (overload, node down)."""


class Indexer:
    def __init__(self, settings: LannerSettings, store: SearchStore | None = None) -> None:
        self.settings = settings
        self.store = store or SearchStore(settings.elasticsearch_url, settings.full_index_prefix)
        self.topics = Topics(settings.full_topic_prefix)
        self.folder = ExecutionFolder(self._load_states)
        self.projector = BatchProjector(self.topics, self.folder, self._stored_source)
        self.stats = IndexerStats()
        self._consumer: Consumer | None = None

    # --- lookups in the view, used on a cache miss -----------------------------------

    def _load_states(self, ids: list[str]) -> dict[str, Execution]:
        found: dict[str, Execution] = {}
        for doc_id, doc in self.store.get_many(mappings.EXECUTIONS, ids).items():
            state = state_from_doc(doc)
            if state is not None:
                found[doc_id] = state
        return found

    def _stored_source(self, key: str) -> str | None:
        doc = self.store.get(mappings.FLOWS, key)
        source = doc.get("source") if doc else None
        return source if isinstance(source, str) else None

    # --- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        ensure_indices(self.store)
        consumer = Consumer({
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "group.id": indexer_group(self.settings),
            "client.id": f"lanner-{self.settings.tenant_id}-indexer",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
            "logger": log,
        })
        self._consumer = consumer
        consumer.subscribe(indexed_topics(self.settings), on_assign=self._on_assign,
                           on_revoke=self._on_revoke)
        log.info("indexer started", extra={"group": indexer_group(self.settings),
                                           "index_prefix": self.settings.full_index_prefix})
        try:
            while not stop.is_set():
                messages = self._next_batch(consumer)
                records = self._records(messages)
                if records:
                    self._project_until_written(records, stop)
                    self._commit(consumer, records)
        finally:
            consumer.close()
            self._consumer = None
            log.info("indexer stopped", extra={"records": self.stats.records,
                                               "written": self.stats.written})

    def _next_batch(self, consumer: Consumer) -> list[Message]:
        # Block for the first record only, then take what is already fetched (up to a
        # batch): an idle indexer answers a lone event at once instead of waiting out a
        # batching window, and a busy one still writes in large bulks.
        first = consumer.poll(BATCH_WAIT_S)
        if first is None:
            return []
        return [first, *consumer.consume(BATCH_RECORDS - 1, timeout=0)]

    def _records(self, messages: list[Message]) -> list[RawRecord]:
        records: list[RawRecord] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", extra={"error": error.str()})
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            key, value = message.key(), message.value()
            records.append(RawRecord(
                topic, partition, offset,
                key.decode(errors="replace") if isinstance(key, bytes) else None,
                value if isinstance(value, bytes) else b""))
        return records

    def _project_until_written(self, records: list[RawRecord], stop: threading.Event) -> None:
        attempt = 0
        while True:
            try:
                begun = time.perf_counter()
                writes = self.projector.project(records)
                projected = time.perf_counter()
                self._write(writes)
                self.stats.project_s += projected - begun
                self.stats.write_s += time.perf_counter() - projected
            except Exception as exc:
                # Memory may now be ahead of the view: forget it, the view is the truth.
                self.folder.clear()
                delay = _RETRY_BACKOFF_S[min(attempt, len(_RETRY_BACKOFF_S) - 1)]
                log.warning("batch not written; retrying", extra={
                    "records": len(records), "attempt": attempt + 1, "error": str(exc)[:500],
                    "retry_in_s": delay})
                attempt += 1
                if stop.wait(delay):
                    raise
                continue
            self.stats.records += len(records)
            self.stats.malformed += writes.malformed
            self.stats.batches += 1
            return

    def _write(self, writes: Writes) -> None:
        for index, docs in writes.docs.items():
            if not docs:
                continue
            result = self.store.bulk_put(index, docs)
            self.stats.written += result.written
            self.stats.skipped += result.skipped
            transient = [f for f in result.failures if f.status == 429 or f.status >= 500]
            if transient:
                raise TransientWriteError(f"{len(transient)} documents refused by {index}: "
                                          f"{transient[0].reason}")
            for failure in result.failures:
                # A document ES will never take (4xx) must not stop the view for good.
                log.error("document refused; skipped", extra={
                    "index": index, "doc_id": failure.doc_id, "status": failure.status,
                    "reason": failure.reason})

    def _commit(self, consumer: Consumer, records: list[RawRecord]) -> None:
        positions: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            positions[key] = max(positions.get(key, -1), record.offset + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except Exception as exc:
            # Lost the partitions in a rebalance: their new owner replays, harmlessly.
            log.warning("offset commit failed", extra={"error": str(exc)})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.folder.clear()
        log.info("partitions assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.folder.clear()
        log.info("partitions revoked", extra={"partitions": _names(partitions)})


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]


def run_indexer(settings: LannerSettings) -> None:
    """Run until SIGTERM or Ctrl-C (`lanner server indexer`)."""
    from streams.app.run import ensure_lanner_topics

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    ensure_lanner_topics(settings)
    store = SearchStore(settings.elasticsearch_url, settings.full_index_prefix)
    store.wait_ready()
    started = time.monotonic()
    try:
        Indexer(settings, store).run(stop)
    finally:
        store.close()
        log.info("indexer exited", extra={"seconds": round(time.monotonic() - started, 1)})


__all__ = ["Indexer", "ensure_indices", "run_indexer"]
