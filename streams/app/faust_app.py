"""The Faust app of one Lanner role, tuned for latency (measured: see bench/latency.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust

from schemas.settings import LannerSettings
from streams.app.codecs import register_codecs
from streams.log.admin import ensure_topics


def make_app(settings: LannerSettings, role: str) -> faust.App:
    register_codecs()
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


class ChangelogWrites:
    """Faust sends a table write to its changelog in the background and drops the future
    of that send; this keeps the latest, so that what follows from the write can wait
    until the broker has it."""

    def __init__(self, table: Any) -> None:
        self._latest: asyncio.Future[Any] | None = None
        send_changelog = table.send_changelog

        def keep_future(*args: Any, **kwargs: Any) -> Any:
            self._latest = send_changelog(*args, **kwargs)
            return self._latest

        table.send_changelog = keep_future

    def take(self) -> asyncio.Future[Any] | None:
        """The latest write's future (None: no write since the last take)."""
        latest, self._latest = self._latest, None
        return latest
