"""The Kafka edge of the replayer: read recorded histories and flow revisions.

Reads with `read_all` (no consumer group, up to the end captured at the start), so a
verification never disturbs the running apps and always finishes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from schemas.decode import decode_flow_event
from schemas.settings import Limits
from streams.core.bounds import Bounds
from streams.flow_catalog import FlowSources
from streams.histories.collect import RawRecord, ReadStats, Selection, collect_recorded
from streams.histories.recorded import Position, Recorded
from streams.histories.verify import (
    ExecutionVerdict,
    VerifyReport,
    flow_resolver,
    source_validator,
    verify_many,
)
from streams.log.reader import Record, read_all
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry

# Selection and ReadStats are part of this module's interface (the CLI, tests, bench).
__all__ = ["ReadStats", "Selection", "read_flows", "read_recorded", "verify_log"]

log = logging.getLogger(__name__)

Tick = Callable[[str], None]


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


def _position(record: Record) -> Position:
    return Position(record.topic, record.partition, record.offset)


def read_recorded(
    bootstrap: str, topics: Topics, selection: Selection, tick: Tick | None = None
) -> tuple[dict[str, Recorded], ReadStats]:
    """The recorded histories of the selected executions (see `collect_recorded`)."""
    stats = ReadStats()

    def raw(topic: str) -> Iterator[RawRecord]:
        for record in read_all(bootstrap, topic):
            yield RawRecord(_position(record), record.timestamp_ms, record.value)

    def inputs() -> Iterator[tuple[RawRecord, bool]]:
        for topic in (topics.commands, topics.worker_results):
            for record in raw(topic):
                yield record, topic == topics.commands

    def ticked(record: RawRecord) -> None:
        if tick:
            tick(record.position.topic.removeprefix(topics.prefix))

    found = collect_recorded(raw(topics.execution_events), inputs(), selection, stats, ticked)
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
    """Read what the log recorded, then replay it with the current code (and the limits
    the executor ran with)."""
    flows = read_flows(bootstrap, topics, registry, limits)
    recorded, stats = read_recorded(bootstrap, topics, selection, tick)
    if on_read:
        on_read(len(recorded))
    flow_for = flow_resolver(flows, source_validator(registry, limits))
    bounds = Bounds(limits or Limits())
    return verify_many(recorded, flows, flow_for, on_verified, bounds), stats
