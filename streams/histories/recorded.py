"""What the log recorded about one execution: the messages it consumed, the events caused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas.commands import ExecutorMessage
from schemas.events import ExecutionEvent


@dataclass(frozen=True)
class Position:
    """Where a record sits in the log: enough to find it again with any Kafka tool."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class RecordedMessage:
    inp: ExecutorMessage
    position: Position
    timestamp_ms: int


@dataclass(frozen=True)
class RecordedEvent:
    event: ExecutionEvent
    position: Position


@dataclass
class Recorded:
    """One execution's records, each list in its topic's partition (= offset) order."""

    execution_id: str
    commands: list[RecordedMessage] = field(default_factory=list)
    results: list[RecordedMessage] = field(default_factory=list)
    events: list[RecordedEvent] = field(default_factory=list)


DivergenceKind = Literal["event", "history", "input"]


@dataclass(frozen=True)
class Divergence:
    """Where the current code and the record part ways.

    `expected` is what was recorded (the truth the code must reproduce), `actual` what
    the current code emits for the same message on the same state.
    """

    execution_id: str
    kind: DivergenceKind
    seq: int | None
    message: str
    position: Position | None = None
    expected: ExecutionEvent | None = None
    actual: ExecutionEvent | None = None
    # The decision that changed, when it concerns a task run: "task <id> (run <id>)".
    decision: str | None = None

    def describe(self) -> str:
        """One line naming the execution, the first differing event and the decision."""
        where = f"execution {self.execution_id}"
        if self.seq is not None:
            where += f", seq {self.seq}"
        event = self.expected or self.actual
        if event is not None:
            where += f" ({event.type})"
        if self.decision:
            where += f", {self.decision}"
        if self.position is not None:
            where += f", at {self.position}"
        return f"{where}: {self.kind}: {self.message}"
