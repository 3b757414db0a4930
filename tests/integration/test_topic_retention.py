"""The log is the record: Lanner's topics keep their records forever (real broker)."""

from __future__ import annotations

import os

from confluent_kafka.admin import AdminClient, ConfigResource

from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics
from streams.log.topics import Topics
from tests.harness.kafka_broker import KafkaBroker


def test_record_topics_have_no_retention_limit(kafka_broker: KafkaBroker) -> None:
    settings = LannerSettings(
        kafka_bootstrap=kafka_broker.bootstrap,
        topic_prefix=f"retention{os.getpid()}.",
        partitions=1,
    )
    ensure_lanner_topics(settings)
    topics = Topics(settings.full_topic_prefix)
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    resources = [ConfigResource("topic", name) for name in topics.all()]
    described = {r.name: f.result(timeout=30) for r, f in admin.describe_configs(resources).items()}
    for name in (topics.flow_events, topics.execution_events, topics.commands, topics.logs):
        assert described[name]["retention.ms"].value == "-1", name
    assert described[topics.worker_control]["retention.ms"].value != "-1"
