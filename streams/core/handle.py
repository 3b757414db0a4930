"""The executor's step for one input, safe under at-least-once delivery.

`handle` wraps `decide` with the bookkeeping that makes a redelivered input harmless:
the record remembers which inputs it applied and the events each produced, and an input
seen again re-emits those same events (consumers drop them by (execution id, seq))
instead of being applied twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from schemas.commands import CreateExecution, ExecutorMessage, OnFinishedBase
from schemas.events import EXECUTION_END_STATES, ExecutionEvent
from schemas.execution import Execution
from schemas.states import State, execution_may_move
from streams.core.bounds import DEFAULT_BOUNDS, Bounds, LimitExceeded
from streams.core.decide import FlowCatalog, decide
from streams.core.emitter import Emitter
from streams.core.evolve import fold
from streams.core.messages import create_execution
from streams.core.validation import UnrunnableFlow, ValidatedFlow
from streams.core.walk_memo import WalkMemo

# How many recent events a record keeps for re-emission. A redelivery comes from the
# inputs after the last committed offset (Faust commits every 0.5 s, after flushing what
# they produced), which is far fewer events than this; the latest input's events are
# always kept whole, however many there are.
RECENT_EVENTS = 1024
# How many applied inputs a record remembers. A redelivery comes from the inputs after
# the last position written (streams/app/consumed_positions.py: written as soon as an
# input's sends are acknowledged), a window of a few hundred inputs at most; an input
# older than that and delivered again is late, and decisions ignore late inputs (a
# report for an attempt no longer current, a command for a state that has moved on).
# Bounded, so one execution's bookkeeping does not grow with every input it takes.
MAX_APPLIED = 2048
# Inputs kept for an execution that does not exist (yet): bounded, so commands naming an
# execution that will never exist cannot grow a record without end.
MAX_EARLY_INPUTS = 256
# A failure's reason goes into an event; a runaway message must not make it too big.
_MAX_ERROR_CHARS = 10_000


class ExecutorRecord(BaseModel):
    """One row of the executor's table: the execution and its delivery bookkeeping."""

    model_config = ConfigDict(frozen=True)

    execution: Execution | None = None
    # input id -> (first seq, last seq) of the events it produced; (0, -1) for none.
    applied: dict[str, tuple[int, int]] = Field(default_factory=dict)
    recent: tuple[ExecutionEvent, ...] = ()
    # Inputs that arrived before their execution was created, applied right after it,
    # and when the first of them was parked (the record is forgotten some time after,
    # if the creation never comes: streams/core/forget.py).
    early: tuple[ExecutorMessage, ...] = ()
    parked_at: dt.datetime | None = None
    # The time of the execution's latest event (decisions never go back before it), kept
    # apart from `recent`, which holds only what inputs may need to re-emit.
    last_event_at: dt.datetime | None = None


@dataclass(frozen=True)
class Handled:
    record: ExecutorRecord
    events: list[ExecutionEvent]
    redelivered: bool
    # A decision that raised (a bug, not a limit): the events fail the execution with its
    # reason; the exception is handed to the caller's edge, which logs it.
    failure: Exception | None = None


def handle(
    record: ExecutorRecord | None,
    flow: ValidatedFlow | UnrunnableFlow | None,
    inp: ExecutorMessage,
    catalog: FlowCatalog,
    *,
    bounds: Bounds = DEFAULT_BOUNDS,
    now: dt.datetime | None = None,
    memo: WalkMemo | None = None,
) -> Handled:
    """`now` is the decision time, read once by the executor's edge when the input arrives
    (None: the input's own time). A redelivered input that was applied re-emits its events
    as they were, times included; the inputs parked until their execution's creation are
    decided with the creation, at its time. `memo`: what the walk learnt of this
    execution from the inputs before (streams/core/walk_memo.py)."""
    record = taken_up(record, inp) or ExecutorRecord()
    seen = record.applied.get(inp.message_id)
    if seen is not None:
        first, last = seen
        again = [e for e in record.recent if first <= e.seq <= last]
        return Handled(record, again, redelivered=True)
    if record.execution is None and not isinstance(inp, CreateExecution):
        # Commands and worker results travel on different topics: after a restart the
        # executor may read a worker's report before the command that created its
        # execution. Dropping it would leave the execution waiting forever for a job the
        # worker will not run again; it waits here, durably, until the creation.
        if inp in record.early or len(record.early) >= MAX_EARLY_INPUTS:
            return Handled(record, [], redelivered=True)
        parked_at = record.parked_at or now or inp.time
        parked = record.model_copy(update={"early": (*record.early, inp), "parked_at": parked_at})
        return Handled(parked, [], False)
    handled = _apply(record, flow, inp, catalog, bounds, now, memo)
    if not isinstance(inp, CreateExecution) or not record.early:
        return handled
    events = list(handled.events)
    failure = handled.failure
    current = handled.record.model_copy(update={"early": (), "parked_at": None})
    for waiting in record.early:
        later = _apply(current, flow, waiting, catalog, bounds, now, memo)
        current, events = later.record, events + later.events
        failure = failure or later.failure
    if events:
        # A redelivered creation must re-emit all that its first delivery emitted: the
        # waiting inputs' offsets were committed when they were parked.
        applied = _remember(current.applied, inp.message_id, (events[0].seq, events[-1].seq))
        current = current.model_copy(update={"applied": applied})
    return Handled(current, events, redelivered=False, failure=failure)


def taken_up(record: ExecutorRecord | None, inp: ExecutorMessage) -> ExecutorRecord | None:
    """The record an input applies to. An operator's command for a finished execution
    the executor has forgotten (streams/core/forget.py) carries it as its sender's view
    held it; inputs parked meanwhile were late ones for it, which a finished execution
    ignores anyway."""
    forgotten = record is None or record.execution is None
    if forgotten and isinstance(inp, OnFinishedBase) and inp.known_state is not None:
        return ExecutorRecord(execution=inp.known_state)
    return record


def _apply(
    record: ExecutorRecord,
    flow: ValidatedFlow | UnrunnableFlow | None,
    inp: ExecutorMessage,
    catalog: FlowCatalog,
    bounds: Bounds,
    now: dt.datetime | None,
    memo: WalkMemo | None,
) -> Handled:
    state = record.execution
    failure: Exception | None = None
    try:
        events = decide(flow, state, inp, catalog, bounds=bounds, now=now, memo=memo)
        new_state = fold(events, state) if events else state
    except LimitExceeded as exc:
        events = _fail_execution(state, inp, f"execution {inp.execution_id}: {exc}", now)
        new_state = fold(events, state) if events else state
    except Exception as exc:  # RecursionError included
        # A bug in a decision must not stop the executor nor loop on the same input
        # forever: the execution fails with the reason, deterministically; the events
        # this input would have produced are dropped, the failure follows the old state.
        failure = exc
        reason = f"executor error in execution {inp.execution_id}: {type(exc).__name__}: {exc}"
        events = _fail_execution(state, inp, reason, now)
        new_state = fold(events, state) if events else state
    span = (events[0].seq, events[-1].seq) if events else (0, -1)
    recent = (*record.recent, *events)[-max(RECENT_EVENTS, len(events)) :]
    applied = _remember(record.applied, inp.message_id, span)
    return Handled(
        record.model_copy(
            update={
                "execution": new_state,
                "applied": applied,
                "recent": recent,
                "last_event_at": events[-1].time if events else record.last_event_at,
            }
        ),
        events,
        redelivered=False,
        failure=failure,
    )


def _fail_execution(
    state: Execution | None, inp: ExecutorMessage, error: str, now: dt.datetime | None
) -> list[ExecutionEvent]:
    """The events that end an execution whose decision failed: FAILED where that move is
    legal (KILLED from PAUSED or KILLING). An execution whose creation itself failed is
    created first, so that it exists, with its reason, instead of vanishing."""
    error = error[:_MAX_ERROR_CHARS]
    if state is None:
        if not isinstance(inp, CreateExecution):
            return []
        return _created_and_failed(inp, error, now)
    if state.state.is_terminal:
        return []
    emitter = Emitter(state, inp, now)
    end = State.FAILED if execution_may_move(state.state, State.FAILED) else State.KILLED
    emitter.emit(EXECUTION_END_STATES[end], error=error)
    return emitter.events


def _created_and_failed(
    cmd: CreateExecution, error: str, now: dt.datetime | None
) -> list[ExecutionEvent]:
    emitter = Emitter(None, cmd, now)
    create_execution(emitter, None, cmd, failure=error)
    return emitter.events


def _remember(
    applied: dict[str, tuple[int, int]], input_id: str, span: tuple[int, int]
) -> dict[str, tuple[int, int]]:
    """The applied inputs with this one, the oldest dropped beyond MAX_APPLIED (a dict
    keeps insertion order: the first keys are the oldest inputs)."""
    kept = {**applied, input_id: span}
    while len(kept) > MAX_APPLIED:
        del kept[next(iter(kept))]
    return kept
