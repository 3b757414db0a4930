"""Kafka tasks (io.kestra.plugin.kafka.*), registered under the `lanner.plugins` entry
point `kafka`. The Kafka triggers are in streams/triggers."""

from streams.plugins.base import Task
from streams.plugins.kafka.consume import Consume
from streams.plugins.kafka.produce import Produce

PLUGINS: list[type[Task]] = [Produce, Consume]
