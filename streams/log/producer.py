"""Write records to the log with low latency and loud failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streams.log.client_logging import kafka_logging
from streams.log.errors import DeliveryError, LogTimeoutError, UnknownTopicError

log = logging.getLogger(__name__)

# Large enough for a 1 MB task output plus the record overhead; brokers must allow it too.
MAX_RECORD_BYTES = 2 * 1024 * 1024

_Headers = list[tuple[str, str | bytes | None]]


def _low_latency_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        # Every hop on the hot path pays linger.ms, so no batching delay at all.
        "linger.ms": 0,
        # Idempotence keeps order per partition across retries and needs acks=all.
        "acks": "all",
        "enable.idempotence": True,
        "message.max.bytes": MAX_RECORD_BYTES,
        # Topics are created before use (ensure_topics), so a topic still unknown after
        # this long is a mistake to report, not a propagation delay to wait out.
        "topic.metadata.propagation.max.ms": 10_000,
        # Topics are made by ensure_topics only; a typo must fail, not create a topic.
        "allow.auto.create.topics": False,
        # Java's (and aiokafka's, so Faust's) key hashing: a command written here for an
        # execution must land on the partition where Faust writes that execution's worker
        # results, or the executor's table would see the execution split in two.
        "partitioner": "murmur2_random",
    }


class LogProducer:
    """One confluent-kafka producer; thread-safe like the client it wraps.

    `send` buffers and returns at once; a failed delivery is raised by the next `send`,
    `flush` or `close`, as a DeliveryError naming the topic and key of the lost record.
    """

    def __init__(
        self, bootstrap: str, *, client_id: str = "lanner", config: Mapping[str, Any] | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._producer = Producer(
            {**_low_latency_config(bootstrap, client_id), **dict(config or {}), **kafka_logging()}
        )
        self._failures: list[DeliveryError] = []
        self._known_topics: set[str] = set()

    def send(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self._raise_failures()
        self._produce(topic, key, value, headers, self._on_delivery)

    def send_reporting(
        self, topic: str, key: str, value: bytes, report: Callable[[str | None, int, int], None]
    ) -> None:
        """Write one record; `report(error, partition, offset)` is called from whichever
        thread serves the producer's reports (streams/log/async_sends.py polls for it)."""

        def deliver(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                report(_describe(error), -1, -1)
            else:
                report(None, message.partition() or 0, message.offset() or 0)

        self._produce(topic, key, value, None, deliver)

    def serve_reports(self, timeout_s: float) -> None:
        """Serve delivery reports (their callbacks run on this thread)."""
        self._producer.poll(timeout_s)

    def send_and_wait(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: dict[str, str] | None = None,
        *,
        timeout_s: float = 30.0,
    ) -> tuple[int, int]:
        """Write one record and return its (partition, offset) once the broker has it."""
        [position] = self._deliver([(topic, key, value, headers)], timeout_s)
        return position

    def send_all_and_wait(
        self,
        records: list[tuple[str, str, bytes]],
        *,
        timeout_s: float = 30.0,
    ) -> None:
        """Write (topic, key, value) records and return once the broker has every one;
        unlike `flush`, waits only for these (other threads may share the producer)."""
        self._deliver([(topic, key, value, None) for topic, key, value in records], timeout_s)

    def _deliver(
        self,
        records: list[tuple[str, str, bytes, dict[str, str] | None]],
        timeout_s: float,
    ) -> list[tuple[int, int]]:
        """Write the records, wait for the broker's report on each; their positions."""
        reports: dict[int, tuple[KafkaError | None, Message]] = {}

        def keep(index: int) -> Any:
            return lambda err, msg: reports.__setitem__(index, (err, msg))

        for index, (topic, key, value, headers) in enumerate(records):
            self._produce(topic, key, value, headers, keep(index))
        deadline = time.monotonic() + timeout_s
        while len(reports) < len(records):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # A record may still be delivered later; the caller must treat it as unknown.
                if len(records) == 1:
                    topic, key = records[0][:2]
                    raise LogTimeoutError(
                        f"no delivery report for topic {topic!r} key {key!r} "
                        f"after {timeout_s:.0f} s"
                    )
                raise LogTimeoutError(
                    f"{len(records) - len(reports)} of {len(records)} records undelivered "
                    f"after {timeout_s:.0f} s"
                )
            # poll returns as soon as a report is served: no added latency.
            self._producer.poll(min(remaining, 1.0))
        positions: list[tuple[int, int]] = []
        for index, (topic, key, _value, _headers) in enumerate(records):
            error, message = reports[index]
            if error is not None:
                raise DeliveryError(topic, key, _describe(error))
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            positions.append((partition, offset))
        return positions

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every buffered record is delivered; raise the first failure."""
        remaining = self._producer.flush(timeout_s)
        self._raise_failures()
        if remaining:
            raise LogTimeoutError(
                f"{remaining} records still undelivered to "
                f"{self._bootstrap} after {timeout_s:.0f} s"
            )

    def close(self, timeout_s: float = 30.0) -> None:
        self.flush(timeout_s)

    def _produce(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None, callback: Any
    ) -> None:
        if topic not in self._known_topics:
            self._check_topic(topic)
        encoded: _Headers | None = (
            [(name, text.encode()) for name, text in headers.items()] if headers else None
        )
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key.encode(), headers=encoded, on_delivery=callback
                )
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                self._producer.poll(0.1)
                continue
            except Exception as exc:  # KafkaException or a bad argument
                raise DeliveryError(topic, key, str(exc)) from exc
            break
        self._producer.poll(0)

    def _check_topic(self, topic: str) -> None:
        # Once per topic: without it a typo surfaces only after the metadata propagation
        # timeout, as a vaguer delivery error.
        metadata = self._producer.list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            if found is None or found.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise UnknownTopicError(topic, self._bootstrap)
            return  # a transient metadata error: let the producer's own retries handle it
        self._known_topics.add(topic)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        key = message.key()
        failure = DeliveryError(
            message.topic() or "?",
            key.decode(errors="replace") if isinstance(key, bytes) else None,
            _describe(error),
        )
        log.error(
            "delivery failed",
            extra={"topic": failure.topic, "key": failure.key, "reason": failure.reason},
        )
        self._failures.append(failure)

    def _raise_failures(self) -> None:
        if self._failures:
            first, count = self._failures[0], len(self._failures)
            self._failures.clear()
            if count > 1:
                first.add_note(f"{count - 1} more records failed too")
            raise first

    def __enter__(self) -> LogProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _describe(error: KafkaError) -> str:
    return f"{error.name()}: {error.str()}"
