"""The indexer: a consumer group that folds the log into the Elasticsearch views.

At least once, made exact by the documents: a batch is written in bulk, and only then
are its offsets committed. A crash between the two reads the batch again, and every
document has a log-derived id and external version, so the second write changes nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from projections.apply import IndexerStats, TransientWriteError, ViewWriter
from projections.batch import RawRecord
from projections.generations import ensure_views
from projections.lag import indexed_topics, indexer_group
from projections.store.client import SearchStore
from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics
from streams.log.client_logging import kafka_logging
from streams.log.topics import Topics

log = logging.getLogger(__name__)

# A backlog (100,000 log lines of one task run) is written in few large bulks, each one
# round trip, translog sync and offset commit (measured: bench/log_indexing.py); an idle
# indexer still writes a lone record at once (see _next_batch).
BATCH_RECORDS = 5000
BATCH_WAIT_S = 0.05


def ensure_indices(store: SearchStore) -> None:
    """Every view as an alias over its current generation (created on the first start)."""
    ensure_views(store)


class Indexer:
    def __init__(self, settings: LannerSettings, store: SearchStore | None = None) -> None:
        self.settings = settings
        self.store = store or SearchStore(settings.elasticsearch_url, settings.full_index_prefix)
        self.topics = Topics(settings.full_topic_prefix)
        # Writes go through the aliases, so a rebuild's swap redirects them mid-run.
        self.writer = ViewWriter(self.store, self.topics)
        self.folder = self.writer.folder
        self.projector = self.writer.projector
        self._consumer: Consumer | None = None

    @property
    def stats(self) -> IndexerStats:
        return self.writer.stats

    # --- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        ensure_indices(self.store)
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap,
                "group.id": indexer_group(self.settings),
                "client.id": f"lanner-{self.settings.tenant_id}-indexer",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 50,
                **kafka_logging(),
            }
        )
        self._consumer = consumer
        consumer.subscribe(
            indexed_topics(self.settings), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        log.info(
            "indexer started",
            extra={
                "group": indexer_group(self.settings),
                "index_prefix": self.settings.full_index_prefix,
            },
        )
        try:
            while not stop.is_set():
                messages = self._next_batch(consumer)
                records = self._records(messages)
                if records:
                    self.writer.apply(records, stop)
                    self._commit(consumer, records)
        finally:
            consumer.close()
            self._consumer = None
            log.info(
                "indexer stopped",
                extra={"records": self.stats.records, "written": self.stats.written},
            )

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
            records.append(RawRecord.of(message))
        return records

    def _commit(self, consumer: Consumer, records: list[RawRecord]) -> None:
        positions: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            positions[key] = max(positions.get(key, -1), record.offset + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except Exception as exc:
            # Lost the partitions in a rebalance: their new owner reads them again, harmlessly.
            log.warning("offset commit failed", extra={"error": str(exc)})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.writer.forget()
        log.info("partitions assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.writer.forget()
        log.info("partitions revoked", extra={"partitions": _names(partitions)})


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]


def run_indexer(settings: LannerSettings) -> None:
    """Run until SIGTERM or Ctrl-C (`lanner server indexer`)."""

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


__all__ = ["Indexer", "IndexerStats", "TransientWriteError", "ensure_indices", "run_indexer"]
