"""The Faust app of one Lanner role, tuned for latency (measured: see bench/latency.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import faust.transport.drivers.aiokafka as faust_aiokafka

from schemas.settings import LannerSettings
from streams.app.codecs import register_codecs
from streams.log.admin import ensure_topics

# How long the broker may hold a fetch that finds nothing new. Faust fixes 1,500 ms, and
# aiokafka keeps one fetch in flight per broker: a partition that had records waiting
# when that fetch left is fetched again only once it returns, so under a burst the
# executor sat idle up to 1.5 s at a time with hundreds of records on the log (traced:
# getmany empty after 1 s, then 288 commands). Measured here, bursts of 500
# one-worker-task executions on a loaded machine: 122/s at 1,500 ms, 183/s at 50 ms,
# 218/s at 20 ms; on a quiet one 374/s at 50 ms. An idle process pays for it with more
# empty fetches: 2.4% of a core at 50 ms, 4.7% at 20 ms, 1.0% at 1,500 ms.
FETCH_MAX_WAIT_MS = 50


def _fetch_sooner() -> None:
    """Give every Faust consumer FETCH_MAX_WAIT_MS (before it starts, when aiokafka builds
    its fetcher from it). Faust offers no setting for it."""
    thread = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread, "_lanner_fetch_sooner", False):
        return
    create = thread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    thread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
    thread._lanner_fetch_sooner = True  # type: ignore[attr-defined]


def make_app(settings: LannerSettings, role: str) -> faust.App:
    register_codecs()
    _fetch_sooner()
    # The topic prefix is part of the id, because Faust names its consumer group and its
    # changelog topics after it: two installations on one Kafka must not share them.
    app_id = f"{settings.full_topic_prefix}{role}"
    data_dir = Path(settings.data_dir).resolve() / "faust" / app_id
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(data_dir),
        # DESIGN.md "Exactly once, honestly": correctness comes from the executor's
        # idempotent steps, so plain at-least-once is the mode, not a compromise.
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # No batching delay on any hop of the hot path.
        producer_linger_ms=0,
        producer_acks=-1,
        # Offsets are committed often enough that a restart redelivers little, but not
        # per record (a commit per record would cost a round trip per message).
        broker_commit_every=1000,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        web_enabled=False,
        stream_recovery_delay=0.0,
        table_standby_replicas=0,
        broker_max_poll_interval=300.0,
        # A killed process leaves the group within 10 s, so its partitions (and a dead
        # worker's unfinished jobs) move to the survivors quickly.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        producer_max_request_size=8 * 1024 * 1024,
    )


def raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    """A topic of bytes: our pydantic models do their own (de)serialization."""
    return app.topic(*names, key_serializer="raw", value_serializer="raw")


def changelog_config(settings: LannerSettings) -> dict[str, str]:
    """A table changelog's topic settings: compacted within `changelog_compaction_s`.

    Compaction cleans only rolled segments (a segment rolls after 7 days by default), keeps
    tombstones a day after it first cleans them, and runs again only when half the log is
    dirty: measured (tests/integration/test_executor_recovery.py), 20,000 forgotten
    executions left 120,000 records on the changelog, and a restarted executor spent 50 s
    reading them into an empty table. Rolling, retaining tombstones and forcing a clean
    within one window keeps a recovery's read to what runs plus about two windows of
    writes. A tombstone is read by a recovery in seconds; one that outlived its retention
    unread would leave a finished record, which the executor forgets again."""
    window_ms = str(int(settings.changelog_compaction_s * 1000))
    return {
        "cleanup.policy": "compact",
        "segment.ms": window_ms,
        "delete.retention.ms": window_ms,
        "max.compaction.lag.ms": window_ms,
    }


def ensure_changelogs(app: faust.App, settings: LannerSettings) -> None:
    """Create every table's changelog topic before the app starts, as every other topic
    is here: measured on a loaded machine, Faust had not created one yet when the first
    record arrived, and the table write failed (PartitionsMismatch: 0 partitions).
    Call it once all the app's tables are declared."""
    ensure_topics(
        settings.kafka_bootstrap,
        [table.changelog_topic.get_topic_name() for table in app.tables.values()],
        settings.partitions,
        settings.replication_factor,
        config=changelog_config(settings),
    )


def kafka_producer(app: faust.App) -> Any:
    """The aiokafka producer under Faust's. A send to it appends to the partition's open
    batch without yielding to the loop, so sends made one after another leave in one
    produce request; Faust's `topic.send` yields between them (one request each)."""
    return getattr(app.producer, "_ensure_producer")()  # noqa: B009
