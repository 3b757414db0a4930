"""gate(state, request) -> (state, replies), pure, idempotent under redelivery.

Acquiring twice does not take two slots, releasing twice frees one, and a queued
execution is admitted in arrival order, so at-least-once delivery of requests cannot
over-admit nor lose a waiting execution.
"""

from __future__ import annotations

from schemas.commands import AdmitExecution, RefuseExecution
from schemas.concurrency import GateRequest, GateState
from schemas.states import State

Reply = AdmitExecution | RefuseExecution


def _admit(execution_id: str, request: GateRequest) -> AdmitExecution:
    return AdmitExecution(
        command_id=f"admit:{execution_id}",
        execution_id=execution_id,
        time=request.time,
        actor="system",
    )


def gate(state: GateState | None, request: GateRequest) -> tuple[GateState, list[Reply]]:
    state = state or GateState()
    execution_id = request.execution_id
    if request.kind == "acquire":
        state = state.model_copy(update={"limit": request.limit})
    if request.kind == "release":
        running = tuple(e for e in state.running if e != execution_id)
        queue = tuple(e for e in state.queue if e != execution_id)
        replies: list[Reply] = []
        while queue and len(running) < state.limit:
            running += (queue[0],)
            replies.append(_admit(queue[0], request))
            queue = queue[1:]
        return GateState(running=running, queue=queue, limit=state.limit), replies
    if execution_id in state.running:
        return state, [_admit(execution_id, request)]  # a redelivered acquire: same answer
    if execution_id in state.queue:
        return state, []
    if len(state.running) < request.limit:
        return state.model_copy(update={"running": (*state.running, execution_id)}), [
            _admit(execution_id, request)
        ]
    if request.behavior == "QUEUE":
        return state.model_copy(update={"queue": (*state.queue, execution_id)}), []
    refused = State.CANCELLED if request.behavior == "CANCEL" else State.FAILED
    reason = f"the flow's concurrency limit ({request.limit}) is reached"
    return state, [
        RefuseExecution(
            command_id=f"refuse:{execution_id}",
            execution_id=execution_id,
            time=request.time,
            actor="system",
            state=refused,
            reason=reason,
        )
    ]
