"""The Kafka edge of history verification: read recorded histories and flow revisions.

Reads with `read_all` (no consumer group, up to the end captured at the start), so a
verification never disturbs the running apps and always finishes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.commands import EXECUTOR_MESSAGE_ADAPTER
from schemas.decode import decode_execution_event, decode_flow_event
from schemas.events import ExecutionCreated
from schemas.settings import Limits
from streams.core.bounds import Bounds
from streams.core.validation import UnrunnableFlow, ValidatedFlow, flow_from_source
from streams.flow_catalog import FlowSources
from streams.histories.recorded import Position, Recorded, RecordedEvent, RecordedMessage
from streams.histories.verify import ExecutionVerdict, VerifyReport, flow_resolver, verify_many
from streams.log.reader import Record, read_all
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry

log = logging.getLogger(__name__)

Tick = Callable[[str], None]


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


def read_flows(
    bootstrap: str, topics: Topics, registry: PluginRegistry, limits: Limits | None = None
) -> FlowSources:
    sources = FlowSources(registry, limits)
    for record in read_all(bootstrap, topics.flow_events):
        try:
            sources.apply(decode_flow_event(record.value))
        except ValueError:
            log.warning("skipping a malformed flow event", extra={"offset": record.offset})
    return sources


def source_validator(
    registry: PluginRegistry, limits: Limits | None = None
) -> Callable[[str, int], ValidatedFlow | UnrunnableFlow]:
    """A flow from the source a CreateExecution carries, as the executor validates it."""
    cache: dict[tuple[str, int], ValidatedFlow | UnrunnableFlow] = {}

    def validated(source: str, revision: int) -> ValidatedFlow | UnrunnableFlow:
        if (source, revision) not in cache:
            cache[(source, revision)] = flow_from_source(source, revision, registry, limits)
        return cache[(source, revision)]

    return validated


def _position(record: Record) -> Position:
    return Position(record.topic, record.partition, record.offset)


def read_recorded(
    bootstrap: str, topics: Topics, selection: Selection, tick: Tick | None = None
) -> tuple[dict[str, Recorded], ReadStats]:
    """The recorded histories of the selected executions.

    Events are read first: their ExecutionCreated says which executions are selected;
    then the inputs of those executions. Malformed records are counted and skipped,
    as the executor skips them.
    """
    stats = ReadStats()
    found: dict[str, Recorded] = {}
    for record in read_all(bootstrap, topics.execution_events):
        stats.records += 1
        if tick:
            tick("execution-events")
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
            found[eid].events.append(RecordedEvent(event, _position(record)))
    for topic in (topics.commands, topics.worker_results):
        for record in read_all(bootstrap, topic):
            stats.records += 1
            if tick:
                tick(topic.removeprefix(topics.prefix))
            try:
                inp = EXECUTOR_MESSAGE_ADAPTER.validate_json(record.value)
            except (ValidationError, ValueError):
                stats.malformed += 1
                continue
            target = found.get(inp.execution_id)
            if target is None:
                continue
            item = RecordedMessage(inp, _position(record), record.timestamp_ms)
            (target.commands if topic == topics.commands else target.results).append(item)
    return found, stats


def verify_log(
    bootstrap: str,
    topics: Topics,
    selection: Selection,
    registry: PluginRegistry,
    *,
    tick: Tick | None = None,
    on_verified: Callable[[ExecutionVerdict], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    limits: Limits | None = None,
) -> tuple[VerifyReport, ReadStats]:
    """Read what the log recorded, then re-decide it with the current code (and the limits
    the executor ran with)."""
    flows = read_flows(bootstrap, topics, registry, limits)
    recorded, stats = read_recorded(bootstrap, topics, selection, tick)
    if on_read:
        on_read(len(recorded))
    flow_for = flow_resolver(flows, source_validator(registry, limits))
    bounds = Bounds(limits or Limits())
    return verify_many(recorded, flows, flow_for, on_verified, bounds), stats
