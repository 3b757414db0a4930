"""Create topics explicitly, before any app subscribes.

A topic that a producer auto-creates after a consumer group formed is only seen at the
next metadata refresh (minutes): see DESIGN.md, "Speed".
"""

from __future__ import annotations

import functools
import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # its typed home; .admin re-exports it untyped

from schemas.settings import LannerSettings
from streams.log.client_logging import admin_config
from streams.log.errors import LogTimeoutError, TopicError
from streams.log.producer import MAX_RECORD_BYTES
from streams.log.topics import Topics

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def shared_admin(bootstrap: str) -> AdminClient:
    """One AdminClient per cluster for the process, for the look-ups a server makes per
    request (/health, a webhook's tenant): a new client each time cost ~0.3 s under load
    (a connection and a metadata round trip), enough to fail a prober's deadline."""
    return AdminClient(admin_config(bootstrap))


def ensure_topics(
    bootstrap: str,
    names: list[str],
    partitions: int,
    replication: int = 1,
    config: dict[str, str] | None = None,
    *,
    timeout_s: float = 30.0,
) -> None:
    """Create the topics that are missing and wait until the broker serves all of them.

    Idempotent: existing topics are left as they are (their partition count included);
    a concurrent creator winning the race is fine too. New topics accept records up to
    MAX_RECORD_BYTES unless `config` says otherwise: brokers default to 1 MB, which a
    1 MB task output plus its envelope would exceed.
    """
    if not names:
        return
    admin = AdminClient(admin_config(bootstrap))
    existing = _existing(admin, timeout_s)
    missing = [name for name in dict.fromkeys(names) if name not in existing]
    if missing:
        topic_config = {"max.message.bytes": str(MAX_RECORD_BYTES), **(config or {})}
        if replication > 1:
            # With acks=all (every producer here), a write needs this many replicas in
            # sync: one broker down still accepts writes, none is acknowledged by one copy.
            topic_config.setdefault("min.insync.replicas", str(min(2, replication - 1)))
        futures = admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication,
                    config=topic_config,
                )
                for name in missing
            ],
            operation_timeout=timeout_s,
            request_timeout=timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
            except KafkaException as exc:
                error = exc.args[0]
                if isinstance(error, KafkaError) and (
                    error.code() == KafkaError.TOPIC_ALREADY_EXISTS
                ):
                    continue
                raise TopicError(f"creating topic {name!r} on {bootstrap} failed: {exc}") from exc
        log.info(
            "topics created",
            extra={"bootstrap": bootstrap, "topics": missing, "partitions": partitions},
        )
    _wait_visible(admin, bootstrap, names, timeout_s)


def _existing(admin: AdminClient, timeout_s: float) -> set[str]:
    try:
        return set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise TopicError(f"cannot list topics: {exc}") from exc


def _wait_visible(admin: AdminClient, bootstrap: str, names: list[str], timeout_s: float) -> None:
    # Creation returns when the controller accepted it; metadata (and leaders) may lag.
    deadline = time.monotonic() + timeout_s
    pending = set(names)
    while True:
        metadata = admin.list_topics(timeout=max(0.1, deadline - time.monotonic()))
        for name in list(pending):
            topic = metadata.topics.get(name)
            if (
                topic is not None
                and topic.error is None
                and topic.partitions
                and all(part.leader >= 0 for part in topic.partitions.values())
            ):
                pending.discard(name)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise LogTimeoutError(
                f"topics {sorted(pending)} not ready on {bootstrap} after {timeout_s:.0f} s"
            )
        time.sleep(0.05)


def group_is_consuming(bootstrap: str, group: str, topic: str, *, timeout_s: float = 5.0) -> bool:
    """True when `group` is stable and some member has partitions of `topic` assigned.

    This is how a client knows that a freshly started Faust app will see what it writes
    next without waiting for a rebalance.
    """
    from confluent_kafka import ConsumerGroupState

    admin = AdminClient(admin_config(bootstrap))
    try:
        futures = admin.describe_consumer_groups([group], request_timeout=timeout_s)
        described = futures[group].result(timeout=timeout_s)
    except (KafkaException, TimeoutError):
        return False
    if described.state != ConsumerGroupState.STABLE:
        return False
    return any(
        tp.topic == topic
        for member in described.members
        if member.assignment is not None
        for tp in member.assignment.topic_partitions
    )


def wait_group_consuming(bootstrap: str, group: str, topic: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not group_is_consuming(bootstrap, group, topic):
        if time.monotonic() > deadline:
            raise LogTimeoutError(
                f"consumer group {group!r} not consuming {topic!r} after {timeout_s:.0f} s"
            )
        time.sleep(0.2)


RECORD_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}


def ensure_lanner_topics(settings: LannerSettings) -> None:
    """Create every topic before any consumer subscribes (DESIGN.md: a topic created
    after the group formed is not seen for minutes)."""
    topics = Topics(settings.full_topic_prefix)
    # The log is the record: Kafka's default retention (7 days) would silently delete the
    # history that the views, audits and replays are rebuilt from. Only stop requests to
    # workers are transient.
    transient = [topics.worker_control]
    ensure_topics(
        settings.kafka_bootstrap,
        [t for t in topics.all() if t not in transient],
        settings.partitions,
        settings.replication_factor,
        config=RECORD_TOPIC_CONFIG,
    )
    ensure_topics(
        settings.kafka_bootstrap, transient, settings.partitions, settings.replication_factor
    )
