"""decide(flow, state, input) -> events: what the executor does next, as a pure function.

No clock, no I/O, no randomness: the decision time (`now`) comes with the input, ids are
derived from what is already known, and other flows (for subflows) come from the catalog
argument. So the same (flow, state, input, now) always gives the same events, which is
what makes the executor correct under at-least-once delivery and lets the replayer check
recorded histories.

The walk is Kestra's: after every input, the flow's task tree is stepped from the root;
each flowable creates the children it may now run, inline tasks (Log, Return, ...) run
on the spot, worker tasks are dispatched, and finished children end their parents.
"""

from __future__ import annotations

import datetime as dt

from schemas.commands import (
    AdmitExecution,
    ChangeTaskRunState,
    CreateExecution,
    ExecutorMessage,
    ForgetExecution,
    KillExecution,
    PauseExecution,
    RefuseExecution,
    ReplayExecution,
    RestartExecution,
    ResumeExecution,
    SubflowEnded,
    WakeUp,
    WorkerLost,
)
from schemas.events import (
    EXECUTION_END_STATES,
    ExecutionEvent,
    ExecutionStarted,
)
from schemas.execution import Execution
from schemas.states import State, execution_may_move
from schemas.worker import TaskRunReport

# Properties every task has; they steer the executor and are never rendered as inputs.
from streams.core.bounds import DEFAULT_BOUNDS, Bounds
from streams.core.emitter import Emitter
from streams.core.flow_catalog_port import EmptyCatalog, FlowCatalog
from streams.core.messages import (
    create_execution,
    on_change_state,
    on_kill,
    on_pause,
    on_replay,
    on_report,
    on_restart,
    on_resume,
    on_subflow_ended,
    on_wake_up,
    on_worker_lost,
)
from streams.core.sla import check_slas
from streams.core.validation import UnrunnableFlow, ValidatedFlow
from streams.core.walk import Walker
from streams.core.walk_memo import WalkMemo

__all__ = ["EmptyCatalog", "FlowCatalog", "decide"]


def decide(
    flow: ValidatedFlow | UnrunnableFlow | None,
    state: Execution | None,
    inp: ExecutorMessage,
    catalog: FlowCatalog,
    *,
    bounds: Bounds = DEFAULT_BOUNDS,
    now: dt.datetime | None = None,
    memo: WalkMemo | None = None,
) -> list[ExecutionEvent]:
    """`now` is the decision time (see Emitter); every event emitted here carries it.
    With an UnrunnableFlow, a creation fails with its reason, and so does a running
    execution. `memo`: what the walk learnt from the inputs before (never changes what
    is decided, only how fast)."""
    emitter = Emitter(state, inp, now)
    if memo is None:
        return _decide(flow, state, inp, catalog, bounds, emitter, None)
    memo.begin(state)
    events = _decide(flow, state, inp, catalog, bounds, emitter, memo)
    memo.end(emitter.state, events)
    return events


def _decide(
    flow: ValidatedFlow | UnrunnableFlow | None,
    state: Execution | None,
    inp: ExecutorMessage,
    catalog: FlowCatalog,
    bounds: Bounds,
    emitter: Emitter,
    memo: WalkMemo | None,
) -> list[ExecutionEvent]:
    if isinstance(inp, ForgetExecution):
        return []  # housekeeping of the executor's table (streams/core/forget.py)
    if isinstance(inp, CreateExecution):
        create_execution(emitter, flow, inp)
    elif state is None:
        return []
    elif isinstance(flow, UnrunnableFlow):
        # The execution's revision is gone from the catalog, or stopped validating: it
        # fails with why, rather than waiting forever for inputs that cannot be decided.
        if not state.state.is_terminal:
            end = State.FAILED if execution_may_move(state.state, State.FAILED) else State.KILLED
            emitter.emit(EXECUTION_END_STATES[end], error=flow.reason)
        return emitter.events
    elif not isinstance(flow, ValidatedFlow):
        return []
    elif state.state.is_terminal:
        # Only an operator can bring a finished execution back; everything else is late.
        if isinstance(inp, RestartExecution):
            on_restart(emitter)
        elif isinstance(inp, ChangeTaskRunState):
            on_change_state(emitter, inp, flow)
        elif isinstance(inp, ReplayExecution):
            on_replay(emitter, inp)
        else:
            return []
    elif isinstance(inp, ChangeTaskRunState):
        on_change_state(emitter, inp, flow)
    elif isinstance(inp, WorkerLost):
        on_worker_lost(emitter, inp)
    elif isinstance(inp, AdmitExecution):
        if state.state == State.QUEUED:
            emitter.emit(ExecutionStarted)
    elif isinstance(inp, RefuseExecution):
        if state.state == State.QUEUED:
            emitter.emit(EXECUTION_END_STATES[inp.state], error=inp.reason)
    elif isinstance(inp, TaskRunReport):
        on_report(emitter, inp, flow)
    elif isinstance(inp, KillExecution):
        on_kill(emitter, inp)
    elif isinstance(inp, PauseExecution):
        on_pause(emitter, inp)
    elif isinstance(inp, ResumeExecution):
        on_resume(emitter, inp)
    elif isinstance(inp, WakeUp):
        on_wake_up(emitter, inp)
    elif isinstance(inp, SubflowEnded):
        on_subflow_ended(emitter, inp, flow if isinstance(flow, ValidatedFlow) else None)
    if isinstance(flow, ValidatedFlow) and flow.flow.sla:
        check_slas(emitter, flow, bounds)
    running = emitter.state is not None and not emitter.state.state.is_terminal
    # Walking again after any input is deterministic and cheap; it is also how a retry
    # whose time has come (WakeUp) is started.
    if running and isinstance(flow, ValidatedFlow):
        Walker(emitter, flow, catalog, bounds, memo).advance()
    return emitter.events
