"""The confluent-kafka clients of the Kafka tasks: settings from the task's `properties`,
and the broker's own words when it cannot be reached.

librdkafka retries a broker it cannot reach for ever and only reports through its error
callback, so every client here records what that callback says, and a task that waits for
the cluster gives up after CONNECT_TIMEOUT_S with the last thing the client heard.
"""

from __future__ import annotations

import base64
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from streams.log.client_logging import kafka_logging
from streams.triggers.kafka_records import client_config

CONNECT_TIMEOUT_S = 15.0
# Java keystores given inline (base64), as Kestra accepts them; librdkafka reads PEM files.
_FILE_SETTINGS = ("ssl.keystore.location", "ssl.truststore.location", "ssl.ca.location")


class KafkaTaskError(Exception):
    """The cluster refused or could not be reached; the message is the client's own."""


@dataclass
class HeardErrors:
    """What librdkafka's error callback said, most recent last."""

    messages: list[str] = field(default_factory=list)
    all_brokers_down: bool = False

    def __call__(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.all_brokers_down = True
        else:
            self.messages.append(error.str())
            del self.messages[:-5]

    def last(self) -> str:
        return self.messages[-1] if self.messages else "no answer from the cluster"


def reach(client: Any, topic: str | None, heard: HeardErrors) -> Any:
    """The cluster's metadata (of `topic` only, when given), asked through `client`; fails
    fast when every broker refused, else after CONNECT_TIMEOUT_S, in the client's words."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            return client.list_topics(topic, timeout=1.0)
        except KafkaException as exc:
            client.poll(0)  # serves the error callback: what the client heard
            if heard.all_brokers_down or time.monotonic() >= deadline:
                raise KafkaTaskError(f"cannot reach Kafka: {heard.last()} ({exc})") from None


def settings(properties: dict[str, str], folder: Path | None, heard: HeardErrors) -> dict[str, Any]:
    """A task's `properties` as librdkafka settings (SASL/SSL pass through as they are)."""
    if "bootstrap.servers" not in properties:
        raise KafkaTaskError("`properties` must set `bootstrap.servers`")
    config: dict[str, Any] = client_config(properties)
    for name in _FILE_SETTINGS:
        value = config.get(name)
        if value and folder is not None and not Path(value).exists():
            config[name] = _inline_file(value, folder)
    config["error_cb"] = heard
    return {**config, **kafka_logging()}


def _inline_file(value: str, folder: Path) -> str:
    try:
        data = base64.b64decode(value.replace("\n", ""), validate=True)
    except ValueError:
        return value  # a path that does not exist: librdkafka names it in its error
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".pem") as out:
        out.write(data)
    return out.name
