"""What a Kafka trigger's listener reports on `trigger-events`: its progress (positions,
records accepted and dead-lettered, at most once a second), the errors that keep it
from reading, its recovery, and the batches it closes."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from schemas.triggers import (
    ListenerErrored,
    ListenerProgress,
    ListenerRecovered,
    TriggerEventBase,
)

if TYPE_CHECKING:
    from streams.triggers.kafka_target import ListenerPorts, ListenerTarget

log = logging.getLogger("lanner.triggers.kafka")

PROGRESS_EVERY_S = 1.0


class ListenerReport:
    def __init__(self, target: ListenerTarget, ports: ListenerPorts) -> None:
        self.target = target
        self.ports = ports
        self.error: str | None = None
        self._positions: dict[str, int] = {}
        self._dirty = False
        self._accepted = 0
        self._dead_lettered = 0
        self._last_progress = 0.0

    @property
    def in_error(self) -> bool:
        return self.error is not None

    def count(
        self, *, positions: dict[str, int] | None = None, accepted: int = 0, dead_lettered: int = 0
    ) -> None:
        """Note what the next progress event says: `topic/partition -> next offset`
        moved, executions requested, records dead-lettered."""
        if positions:
            self._positions.update(positions)
        self._accepted += accepted
        self._dead_lettered += dead_lettered
        self._dirty = self._dirty or bool(positions or accepted or dead_lettered)

    def maybe_progress(self) -> None:
        """At most once a second while records flow."""
        if time.monotonic() - self._last_progress >= PROGRESS_EVERY_S:
            self.progress()

    def progress(self) -> None:
        """What moved since the last progress event, now (on revoke and stop too)."""
        if not self._dirty:
            return
        self._last_progress = time.monotonic()
        event = ListenerProgress(
            **self.event_fields(),
            positions=dict(self._positions),
            accepted=self._accepted,
            dead_lettered=self._dead_lettered,
        )
        self._accepted = self._dead_lettered = 0
        self._dirty = False
        self.emit(event, wait=False)

    def errored(self, reason: str) -> None:
        if self.error == reason:
            return
        first = self.error is None
        self.error = reason
        log.error("kafka trigger in error", extra={**self.target.log_context, "error": reason})
        if first:
            self.emit(ListenerErrored(**self.event_fields(), error=reason), wait=False)

    def recovered(self) -> None:
        if self.error is None:
            return
        self.error = None
        log.info("kafka trigger recovered", extra=self.target.log_context)
        self.emit(ListenerRecovered(**self.event_fields()), wait=False)

    def event_fields(self) -> dict[str, Any]:
        target = self.target
        return {
            "tenant": target.tenant,
            "namespace": target.namespace,
            "flow_id": target.flow_id,
            "trigger_id": target.trigger.id,
            "time": dt.datetime.now(dt.UTC),
            "actor": f"trigger:{target.trigger.id}",
        }

    def emit(self, event: TriggerEventBase, *, wait: bool) -> None:
        body = event.model_dump_json().encode()
        producer, topic = self.ports.producer, self.ports.topics.trigger_events
        if wait:
            producer.send_and_wait(topic, event.key, body)
        else:
            producer.send(topic, event.key, body)
