"""Export a namespace's log to JSON lines, and import such a file into another cluster.

Both stream: a record is read, written, and forgotten. What is kept is one small set of
execution ids (export) or of record ids already present in the target (import), which
is what makes an import idempotent: an event is recognised by its event id or
(execution, seq), a command by its command id, a worker report by its input id, a log
line by its log id. A malformed line stops the import at that line, after everything
before it was delivered and nothing after it was sent; running the import again resumes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from pydantic import ValidationError

from schemas.commands import COMMAND_ADAPTER
from schemas.decode import decode_execution_event, decode_flow_event
from schemas.events import ExecutionCreated
from schemas.worker import LogLine, TaskRunReport
from streams.log.reader import read_all
from streams.log.topics import Topics

# Log order of an export: flows first, so a reader of the file meets a flow before the
# executions of it; then the facts, then the inputs that led to them.
TOPICS = ("flow-events", "execution-events", "logs", "commands", "worker-results")

Tick = Callable[[str], None]


class Sink(Protocol):
    """What an import writes to (a LogProducer)."""

    def send(self, topic: str, key: str, value: bytes) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


class MalformedLine(ValueError):
    def __init__(self, number: int, reason: str, stats: ImportStats) -> None:
        super().__init__(
            f"line {number}: {reason} (import stopped there; {stats.written} "
            f"records written before it, {stats.skipped} already present)"
        )
        self.number = number
        self.stats = stats


@dataclass
class ExportStats:
    executions: int = 0
    lines: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0


@dataclass
class ImportStats:
    lines: int = 0
    written: int = 0
    skipped: int = 0


def _physical(topics: Topics, logical: str) -> str:
    return f"{topics.prefix}{logical}"


def in_namespace(namespace: str, candidate: str) -> bool:
    # The API's prefix semantics: `company` holds `company.team`, never `companyx`.
    return candidate == namespace or candidate.startswith(f"{namespace}.")


def _selected_executions(
    bootstrap: str, topics: Topics, namespace: str, since: dt.datetime | None
) -> set[str]:
    chosen: set[str] = set()
    for record in read_all(bootstrap, topics.execution_events):
        if b'"ExecutionCreated"' not in record.value:
            continue  # cheap pre-filter: only creations say where an execution belongs
        try:
            event = decode_execution_event(record.value)
        except (ValidationError, ValueError):
            continue
        if (
            isinstance(event, ExecutionCreated)
            and in_namespace(namespace, event.namespace)
            and (since is None or event.time >= since)
        ):
            chosen.add(event.execution_id)
    return chosen


def export_namespace(
    bootstrap: str,
    topics: Topics,
    namespace: str,
    out: TextIO,
    *,
    since: dt.datetime | None = None,
    tick: Tick | None = None,
) -> ExportStats:
    stats = ExportStats()
    chosen = _selected_executions(bootstrap, topics, namespace, since)
    stats.executions = len(chosen)
    for logical in TOPICS:
        stats.lines[logical] = 0
        for record in read_all(bootstrap, _physical(topics, logical)):
            key = record.key or ""
            if logical == "flow-events":
                parts = key.split("/")
                wanted = len(parts) == 3 and in_namespace(namespace, parts[1])
            else:
                wanted = key in chosen  # every other topic is keyed by execution id
            if not wanted:
                continue
            try:
                value = json.loads(record.value)
            except ValueError:
                stats.unreadable += 1  # garbage on a topic is not part of any history
                continue
            out.write(
                json.dumps(
                    {
                        "topic": logical,
                        "key": key,
                        "partition": record.partition,
                        "offset": record.offset,
                        "timestamp": record.timestamp_ms,
                        "value": value,
                    },
                    separators=(",", ":"),
                    ensure_ascii=False,
                )
                + "\n"
            )
            stats.lines[logical] += 1
            if tick:
                tick(logical)
    return stats


def record_id(logical: str, value: Any) -> str:
    """The identity of a record, by which a second copy is recognised (raises ValueError
    or ValidationError when the value is not a valid record of its topic)."""
    if not isinstance(value, dict):
        raise ValueError("value is not a JSON object")
    if logical == "flow-events":
        return f"flow:{decode_flow_event(value).event_id}"
    if logical == "execution-events":
        return f"event:{decode_execution_event(value).event_id}"
    if logical == "commands":
        return f"command:{COMMAND_ADAPTER.validate_python(value).command_id}"
    if logical == "worker-results":
        return TaskRunReport.model_validate(value).message_id
    if logical == "logs":
        return f"log:{LogLine.model_validate(value).log_id}"
    raise ValueError(f"unknown topic {logical!r}")


def _digest(logical: str, rid: str) -> bytes:
    # 12 bytes per id instead of the id itself keeps the set small on a big target.
    return hashlib.blake2b(f"{logical}\x1f{rid}".encode(), digest_size=12).digest()


def present_ids(bootstrap: str, topics: Topics, tick: Tick | None = None) -> set[bytes]:
    """Ids of what the target already holds (its own malformed records are ignored)."""
    seen: set[bytes] = set()
    for logical in TOPICS:
        for record in read_all(bootstrap, _physical(topics, logical)):
            try:
                seen.add(_digest(logical, record_id(logical, json.loads(record.value))))
            except (ValidationError, ValueError):
                continue
            if tick:
                tick(logical)
    return seen


def _lines(source: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise _Bad(number, f"not JSON ({exc})") from None
        if (
            not isinstance(item, dict)
            or item.get("topic") not in TOPICS
            or not isinstance(item.get("key"), str)
            or "value" not in item
        ):
            raise _Bad(number, "expected an object with topic, key and value")
        yield number, item


class _Bad(Exception):
    def __init__(self, number: int, reason: str) -> None:
        self.number = number
        self.reason = reason


def import_lines(
    producer: Sink,
    topics: Topics,
    source: Iterable[str],
    present: set[bytes],
    tick: Tick | None = None,
) -> ImportStats:
    stats = ImportStats()
    try:
        for number, item in _lines(source):
            logical, key = str(item["topic"]), str(item["key"])
            try:
                digest = _digest(logical, record_id(logical, item["value"]))
            except (ValidationError, ValueError) as exc:
                raise _Bad(number, f"not a valid {logical} record: {str(exc)[:300]}") from None
            stats.lines += 1
            if digest in present:
                stats.skipped += 1
                continue
            value = json.dumps(item["value"], separators=(",", ":"), ensure_ascii=False)
            producer.send(_physical(topics, logical), key, value.encode())
            present.add(digest)
            stats.written += 1
            if tick:
                tick(logical)
    except _Bad as bad:
        producer.flush()  # everything before the bad line is in; nothing after was sent
        raise MalformedLine(bad.number, bad.reason, stats) from None
    producer.flush()
    return stats
