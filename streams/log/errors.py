"""Errors of the Kafka port, so callers can catch "the log failed" without librdkafka types."""

from __future__ import annotations


class LogError(RuntimeError):
    """Something went wrong talking to the log (Kafka or a compatible server)."""


class TopicError(LogError):
    """A topic could not be created, or does not have the shape asked for."""


class UnknownTopicError(LogError):
    """The topic does not exist; Lanner never lets the broker create topics implicitly."""

    def __init__(self, topic: str, bootstrap: str) -> None:
        super().__init__(
            f"topic {topic!r} does not exist on {bootstrap} (create it first "
            "with streams.log.admin.ensure_topics)"
        )
        self.topic = topic


class DeliveryError(LogError):
    """A record could not be written; names the topic and key so the caller can act."""

    def __init__(self, topic: str, key: str | None, reason: str) -> None:
        super().__init__(f"delivery to topic {topic!r} with key {key!r} failed: {reason}")
        self.topic = topic
        self.key = key
        self.reason = reason


class LogTimeoutError(LogError):
    """A bounded wait on the log ran out."""
