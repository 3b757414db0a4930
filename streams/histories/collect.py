"""Group recorded records by execution: the replayer's input, wherever the records come
from (the live log in `source`, an exported file in `export_file`).

Events are taken first: an execution's ExecutionCreated says whether it is selected;
then the inputs of the selected executions. Malformed records are counted and skipped,
as the executor skips them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.commands import EXECUTOR_MESSAGE_ADAPTER, ExecutorMessage
from schemas.decode import decode_execution_event
from schemas.events import ExecutionCreated
from streams.histories.recorded import Position, Recorded, RecordedEvent, RecordedMessage


@dataclass(frozen=True)
class Selection:
    """Which executions to verify: by id, or by namespace (prefix, as in the API) and
    creation time; nothing set means every execution."""

    execution_ids: frozenset[str] = frozenset()
    namespace: str | None = None
    since: dt.datetime | None = None

    def wants(self, created: ExecutionCreated) -> bool:
        if self.execution_ids and created.execution_id not in self.execution_ids:
            return False
        if self.namespace and not (
            created.namespace == self.namespace
            or created.namespace.startswith(f"{self.namespace}.")
        ):
            return False
        return self.since is None or created.time >= self.since


@dataclass
class ReadStats:
    records: int = 0
    malformed: int = 0


@dataclass(frozen=True)
class RawRecord:
    """What the replayer needs of one record: where it is, when it was written, its value
    (bytes from Kafka, or the JSON object an export file holds)."""

    position: Position
    timestamp_ms: int
    value: bytes | dict[str, Any]


def _input(value: bytes | dict[str, Any]) -> ExecutorMessage:
    if isinstance(value, dict):
        return EXECUTOR_MESSAGE_ADAPTER.validate_python(value)
    return EXECUTOR_MESSAGE_ADAPTER.validate_json(value)


def collect_recorded(
    events: Iterable[RawRecord],
    inputs: Iterable[tuple[RawRecord, bool]],
    selection: Selection,
    stats: ReadStats,
    tick: Callable[[RawRecord], None] | None = None,
) -> dict[str, Recorded]:
    """`inputs`: each record with whether it is a command (else a worker result); read
    only after `events` is exhausted, so it may be a lazy read of the next topics."""
    found: dict[str, Recorded] = {}
    for record in events:
        stats.records += 1
        if tick:
            tick(record)
        try:
            event = decode_execution_event(record.value)
        except (ValidationError, ValueError):
            stats.malformed += 1
            continue
        eid = event.execution_id
        # An execution asked for by id is taken even when its creation is missing, so
        # the gap at its start gets reported rather than hidden.
        if eid not in found and (
            eid in selection.execution_ids
            or (isinstance(event, ExecutionCreated) and selection.wants(event))
        ):
            found[eid] = Recorded(eid)
        if eid in found:
            found[eid].events.append(RecordedEvent(event, record.position))
    for record, is_command in inputs:
        stats.records += 1
        if tick:
            tick(record)
        try:
            inp = _input(record.value)
        except (ValidationError, ValueError):
            stats.malformed += 1
            continue
        target = found.get(inp.execution_id)
        if target is None:
            continue
        item = RecordedMessage(inp, record.position, record.timestamp_ms)
        (target.commands if is_command else target.results).append(item)
    return found
