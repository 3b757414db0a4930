"""How far the indexer is behind the log: end offset minus committed offset, per partition.

Read with a throw-away consumer that names the indexer's group but never subscribes, so
asking (from the API's /metrics) never joins or disturbs the group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from schemas.settings import LannerSettings
from streams.log.client_logging import kafka_logging
from streams.log.topics import Topics


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int

    @property
    def lag(self) -> int:
        return max(0, self.end - max(self.committed, 0))


def indexer_group(settings: LannerSettings) -> str:
    return f"lanner-{settings.tenant_id}-indexer"


def indexed_topics(settings: LannerSettings) -> list[str]:
    topics = Topics(settings.full_topic_prefix)
    return [topics.flow_events, topics.execution_events, topics.logs, topics.trigger_events]


def indexer_lag(settings: LannerSettings, timeout_s: float = 5.0) -> list[PartitionLag]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": indexer_group(settings),
            "client.id": f"lanner-lag-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **kafka_logging(),
        }
    )
    try:
        partitions: list[TopicPartition] = []
        metadata = consumer.list_topics(timeout=timeout_s)
        for name in indexed_topics(settings):
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            partitions.extend(TopicPartition(name, p) for p in sorted(topic.partitions))
        committed = consumer.committed(partitions, timeout=timeout_s) if partitions else []
        result: list[PartitionLag] = []
        for tp in committed:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=timeout_s, cached=False
            )
            result.append(PartitionLag(tp.topic, tp.partition, int(high), int(tp.offset)))
        return result
    finally:
        consumer.close()
