"""Replay a recording kept as a file: the JSON lines `lanner log export` writes (topic,
key, partition, offset, timestamp, value), such as the recorded histories under
tests/data/histories/.

The same verification as the live log's (`source.verify_log`): flows from the file's
flow-events, executions and their inputs from its execution-events, commands and
worker-results; the `logs` lines play no part in a decision and are ignored. A line that
is not such an object is counted as malformed, as a malformed record on a topic is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

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
from streams.plugins.registry import PluginRegistry

_INPUT_TOPICS = {"commands": True, "worker-results": False}


@dataclass
class ExportLines:
    """An export's lines by topic, each list in the file's (= the log's) order."""

    flow_events: list[dict[str, Any]] = field(default_factory=list)
    events: list[RawRecord] = field(default_factory=list)
    inputs: list[tuple[RawRecord, bool]] = field(default_factory=list)
    malformed: int = 0


def _raw(item: dict[str, Any], topic: str) -> RawRecord:
    position = Position(topic, int(item.get("partition", 0)), int(item.get("offset", 0)))
    return RawRecord(position, int(item.get("timestamp", 0)), item["value"])


def parse_export(lines: Iterable[str]) -> ExportLines:
    parsed = ExportLines()
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            topic = item["topic"]
            value = item["value"]
            if not isinstance(value, dict):
                raise TypeError("value is not an object")
            if topic == "flow-events":
                parsed.flow_events.append(value)
            elif topic == "execution-events":
                parsed.events.append(_raw(item, topic))
            elif topic in _INPUT_TOPICS:
                parsed.inputs.append((_raw(item, topic), _INPUT_TOPICS[topic]))
        except (ValueError, KeyError, TypeError):
            parsed.malformed += 1
    return parsed


def read_export(
    lines: Iterable[str],
    registry: PluginRegistry,
    selection: Selection | None = None,
    limits: Limits | None = None,
) -> tuple[FlowSources, dict[str, Recorded], ReadStats]:
    parsed = parse_export(lines)
    stats = ReadStats(records=parsed.malformed, malformed=parsed.malformed)
    flows = FlowSources(registry, limits)
    for value in parsed.flow_events:
        stats.records += 1
        try:
            flows.apply(decode_flow_event(value))
        except ValueError:
            stats.malformed += 1
    recorded = collect_recorded(parsed.events, parsed.inputs, selection or Selection(), stats)
    return flows, recorded, stats


def verify_export(
    lines: Iterable[str],
    registry: PluginRegistry,
    *,
    selection: Selection | None = None,
    limits: Limits | None = None,
    on_verified: Callable[[ExecutionVerdict], None] | None = None,
) -> tuple[VerifyReport, ReadStats]:
    """Replay an exported recording with the current code (and the given limits, which
    must be the ones the recording's executor ran with)."""
    flows, recorded, stats = read_export(lines, registry, selection, limits)
    flow_for = flow_resolver(flows, source_validator(registry, limits))
    bounds = Bounds(limits or Limits())
    return verify_many(recorded, flows, flow_for, on_verified, bounds), stats
