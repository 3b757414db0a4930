"""What a Kafka trigger's listener reports on trigger-events (streams/triggers/kafka_report)."""

from __future__ import annotations

from typing import Any, cast

from schemas.triggers import (
    TRIGGER_EVENT_ADAPTER,
    ListenerErrored,
    ListenerProgress,
    ListenerRecovered,
    TriggerEvent,
)
from schemas.triggers.kafka import KafkaRealtimeTrigger
from streams.log.topics import Topics
from streams.triggers.kafka_report import ListenerReport
from streams.triggers.kafka_target import ListenerPorts, ListenerTarget

TOPICS = Topics("unit.")


class Sent:
    def __init__(self) -> None:
        self.events: list[TriggerEvent] = []

    def send(self, topic: str, key: str, value: bytes, headers: Any = None) -> None:
        assert topic == TOPICS.trigger_events
        event = TRIGGER_EVENT_ADAPTER.validate_json(value)
        assert key == event.key
        self.events.append(event)


def report() -> tuple[ListenerReport, Sent]:
    trigger = KafkaRealtimeTrigger.model_validate(
        {
            "id": "orders",
            "type": "io.kestra.plugin.kafka.RealtimeTrigger",
            "topic": "o",
            "properties": {"bootstrap.servers": "127.0.0.1:1"},
        }
    )
    target = ListenerTarget("main", "ns", "f", trigger, "fp")
    sent = Sent()
    ports = cast(ListenerPorts, type("Ports", (), {"producer": sent, "topics": TOPICS})())
    return ListenerReport(target, ports), sent


def test_progress_sums_what_moved_since_the_last_and_nothing_when_nothing_did() -> None:
    reported, sent = report()
    reported.progress()
    assert sent.events == []
    reported.count(positions={"o/0": 5}, accepted=3)
    reported.count(positions={"o/0": 9, "o/1": 2}, dead_lettered=1)
    reported.maybe_progress()
    reported.count(accepted=1)
    reported.maybe_progress()  # within the second: held back
    reported.progress()  # forced (revoke, stop)
    first, second = sent.events
    assert isinstance(first, ListenerProgress) and isinstance(second, ListenerProgress)
    assert (first.positions, first.accepted, first.dead_lettered) == ({"o/0": 9, "o/1": 2}, 3, 1)
    assert (second.positions, second.accepted, second.dead_lettered) == ({"o/0": 9, "o/1": 2}, 1, 0)
    assert first.key == "main/ns/f/orders" and first.actor == "trigger:orders"


def test_an_error_is_recorded_once_until_recovered() -> None:
    reported, sent = report()
    reported.recovered()  # not in error: nothing
    reported.errored("all brokers down")
    reported.errored("all brokers down")
    reported.errored("still down")  # a new reason is logged, not recorded again
    assert reported.in_error and reported.error == "still down"
    reported.recovered()
    assert not reported.in_error
    assert [type(e) for e in sent.events] == [ListenerErrored, ListenerRecovered]
    assert cast(ListenerErrored, sent.events[0]).error == "all brokers down"
