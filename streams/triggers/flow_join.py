"""The join of a Flow trigger's preconditions over time windows. Pure functions.

Times are the upstream events' times (when the upstream execution changed state), never
the clock of the process deciding, so a redelivery, a restart or a slow consumer decides the
same. Windows (Kestra's TimeWindow, UTC):

- DURATION_WINDOW (default `window: P1D`): fixed windows. Shorter than a day, they are cut
  from midnight + `windowAdvance` (PT6H: 00-06, 06-12, ...); a day or longer, from the
  epoch + `windowAdvance`. Conditions met in an earlier window are forgotten.
- SLIDING_WINDOW: every precondition met within `window` of one another.
- DAILY_TIME_DEADLINE: from midnight until `deadline`, each day.
- DAILY_TIME_WINDOW: from `startTime` until `endTime`, each day.

Executions outside a daily window do not count. Each precondition keeps the latest
upstream execution that met it; the trigger fires when all are met inside one window,
and (with `resetOnSuccess`, the default) starts over. The fire's execution id is derived
from the trigger and the upstream executions that satisfied it, so a record read twice,
or a join state restored from an older changelog position, fires the same execution.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.inputs import parse_duration
from schemas.triggers.flow import Preconditions, TimeWindow
from schemas.triggers.upstream import ConditionsMet, JoinEntry, JoinState
from streams.core.ids import derive_id

DAY = dt.timedelta(days=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Input ids remembered per trigger to drop a redelivered record: far more than can be
# in flight between a crash and the restored table.
SEEN_LIMIT = 256


@dataclass(frozen=True)
class Fire:
    execution_id: str
    sources: tuple[JoinEntry, ...]


def window_length(window: TimeWindow) -> dt.timedelta:
    return parse_duration(window.window) if window.window else DAY


def window_of(window: TimeWindow, time: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The fixed window [start, end) holding `time`; None when `time` is in no window (a
    daily window's off hours). Not used for SLIDING_WINDOW, which has no fixed windows."""
    time = time.astimezone(dt.UTC)
    midnight = time.replace(hour=0, minute=0, second=0, microsecond=0)
    if window.type == "DAILY_TIME_DEADLINE":
        assert window.deadline is not None
        return _within(time, midnight, midnight + _since_midnight(window.deadline))
    if window.type == "DAILY_TIME_WINDOW":
        assert window.startTime is not None and window.endTime is not None
        start = midnight + _since_midnight(window.startTime)
        return _within(time, start, midnight + _since_midnight(window.endTime))
    length = window_length(window)
    advance = parse_duration(window.windowAdvance) if window.windowAdvance else dt.timedelta(0)
    if length >= DAY:
        anchor = EPOCH + advance
        start = anchor + ((time - anchor) // length) * length
        return start, start + length
    anchor = midnight + advance
    if time < anchor:
        anchor -= DAY
    start = anchor + ((time - anchor) // length) * length
    return start, min(start + length, anchor + DAY)


def _since_midnight(moment: dt.time) -> dt.timedelta:
    return dt.timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)


def _within(
    time: dt.datetime, start: dt.datetime, end: dt.datetime
) -> tuple[dt.datetime, dt.datetime] | None:
    return (start, end) if start <= time < end else None


def together(window: TimeWindow, times: list[dt.datetime], current: dt.datetime) -> bool:
    """All `times` fall in the window that holds `current`."""
    if window.type == "SLIDING_WINDOW":
        return max(times) - min(times) <= window_length(window)
    bounds = window_of(window, current)
    return bounds is not None and all(bounds[0] <= t < bounds[1] for t in times)


def _still_useful(window: TimeWindow, entry: JoinEntry, current: dt.datetime) -> bool:
    """An entry that can no longer be in one window with `current` (or anything later)."""
    if window.type == "SLIDING_WINDOW":
        return current - entry.time <= window_length(window)
    bounds = window_of(window, current)
    return bounds is None or entry.time >= bounds[0]


def join(
    state: JoinState | None, met: ConditionsMet, pre: Preconditions
) -> tuple[JoinState, Fire | None]:
    """The trigger's join state after `met`, and the execution to start if it fires."""
    if state is None or state.flow_revision != met.flow_revision:
        # A new revision of the downstream flow may name other preconditions: start over.
        state = JoinState(flow_revision=met.flow_revision, seen=state.seen if state else ())
    upstream = met.upstream
    if upstream.message_id in state.seen:
        return state, None
    seen = (*state.seen, upstream.message_id)[-SEEN_LIMIT:]
    current = upstream.time
    window = pre.timeWindow
    if window.type != "SLIDING_WINDOW" and window_of(window, current) is None:
        return state.model_copy(update={"seen": seen}), None
    entry = JoinEntry(time=current, execution_id=upstream.execution_id, seq=upstream.seq)
    entries = {c: e for c, e in state.met.items() if _still_useful(window, e, current)}
    for condition in met.conditions:
        previous = entries.get(condition)
        if previous is None or previous.time <= current:
            entries[condition] = entry
    required = pre.condition_ids()
    fire: Fire | None = None
    if (
        met.conditions
        and required
        and all(c in entries for c in required)
        and together(window, [entries[c].time for c in required], current)
    ):
        sources = tuple(entries[c] for c in required)
        parts = sorted({f"{s.execution_id}:{s.seq}" for s in sources})
        fire = Fire(execution_id=derive_id(met.key, pre.id, *parts), sources=sources)
        if pre.resetOnSuccess:
            entries = {}
    return state.model_copy(update={"met": entries, "seen": seen}), fire
