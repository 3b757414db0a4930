"""Import of an exported log: idempotent by record id, stops at a malformed line having
written everything before it and nothing after, and resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.log.topics import Topics
from streams.log.transfer import MalformedLine, import_lines, in_namespace, record_id
from tests.unit.core.driver import Result, Sim

FLOWS = Path(__file__).resolve().parents[2] / "flows"
TOPICS = Topics("target.")


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.flushed = 0

    def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout_s: float = 30.0) -> None:
        self.flushed = len(self.sent)


def _export_lines() -> list[str]:
    sim = Sim(
        *[p.read_text() for p in sorted(FLOWS.glob("*.yml"))],
        outcomes={"pause_a_little": Result()},
        duplicates=True,
        seed=1,
    )
    sim.start("fan_out")
    lines = []
    for offset, delivery in enumerate(sim.log):
        topic = "worker-results" if delivery.inp.type == "TaskRunReport" else "commands"
        lines.append(
            {
                "topic": topic,
                "key": delivery.execution_id,
                "partition": 0,
                "offset": offset,
                "value": delivery.inp.model_dump(mode="json"),
            }
        )
        for event in delivery.events:
            lines.append(
                {
                    "topic": "execution-events",
                    "key": event.execution_id,
                    "partition": 0,
                    "offset": offset,
                    "value": event.model_dump(mode="json"),
                }
            )
    return [json.dumps(line) + "\n" for line in lines]


def _distinct(lines: list[str]) -> int:
    return len(
        {
            (json.loads(x)["topic"], record_id(json.loads(x)["topic"], json.loads(x)["value"]))
            for x in lines
        }
    )


def test_import_writes_each_record_once_and_again_nothing() -> None:
    lines = _export_lines()
    present: set[bytes] = set()
    sink = FakeProducer()
    stats = import_lines(sink, TOPICS, lines, present)
    assert stats.written == _distinct(lines) == len(sink.sent)
    assert stats.skipped == len(lines) - stats.written > 0  # redeliveries and re-emissions
    assert {topic for topic, _k, _v in sink.sent} == {
        "target.commands",
        "target.worker-results",
        "target.execution-events",
    }
    again = import_lines(FakeProducer(), TOPICS, lines, present)
    assert (again.written, again.skipped) == (0, len(lines))


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        '{"topic": "nowhere", "key": "k", "value": {}}',
        '{"topic": "execution-events", "key": "k", "value": {"a": 1}}',
    ],
)
def test_a_malformed_line_stops_the_import_there_and_it_resumes(bad: str) -> None:
    lines = _export_lines()
    broken = [*lines[:10], bad + "\n", *lines[10:]]
    present: set[bytes] = set()
    sink = FakeProducer()
    with pytest.raises(MalformedLine) as stopped:
        import_lines(sink, TOPICS, broken, present)
    assert stopped.value.number == 11
    assert "line 11" in str(stopped.value)
    assert sink.flushed == len(sink.sent) == _distinct(lines[:10])
    resumed = FakeProducer()
    stats = import_lines(resumed, TOPICS, lines, present)
    assert len(sink.sent) + len(resumed.sent) == _distinct(lines)
    assert stats.skipped == len(lines) - len(resumed.sent)


def test_record_ids_and_namespaces() -> None:
    value: dict[str, Any] = {
        "tenant": "main",
        "namespace": "n",
        "flow_id": "f",
        "execution_id": "e",
        "task_run_id": "r",
        "attempt": 1,
        "message": "m",
        "time": "2026-01-01T00:00:00Z",
        "index": 3,
    }
    assert record_id("logs", value) == "log:e/r/1/3"
    assert in_namespace("company", "company.team") and not in_namespace("company", "companyx")
