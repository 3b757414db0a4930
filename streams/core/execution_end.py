"""How the walk ends an execution (pure): its outputs rendered, the error that failed
it, and when (and as which execution) a flow-level retry tries again."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from schemas.events import EXECUTION_END_STATES
from schemas.states import State
from streams.core.context import render_context
from streams.core.expressions import ExpressionError
from streams.core.ids import derive_id
from streams.core.retry import next_retry
from streams.plugins.base import FlowableTask

if TYPE_CHECKING:
    from streams.core.walk import Walker


def end_execution(w: Walker, result: State) -> None:
    flow = w.flow.flow
    outputs: dict[str, Any] = {}
    error: str | None = None
    if result in (State.SUCCESS, State.WARNING) and flow.outputs:
        try:
            context = render_context(flow, w.state, None, None)
            outputs = {o.id: w.render(o.value, context) for o in flow.outputs}
        except ExpressionError as exc:
            result, error = State.FAILED, f"flow outputs: {exc}"
    if result.is_failure and error is None:
        error = _blame(w)
    next_id, next_at = _next_attempt(w, result)
    w.em.emit(
        EXECUTION_END_STATES[result],
        outputs=outputs,
        error=error,
        next_attempt_id=next_id,
        next_attempt_at=next_at,
    )


def _next_attempt(w: Walker, result: State) -> tuple[str | None, dt.datetime | None]:
    """Flow-level retry with CREATE_NEW_EXECUTION: when, and under which id, to try again."""
    policy = w.flow.flow.retry
    if result != State.FAILED or policy is None or policy.behavior != "CREATE_NEW_EXECUTION":
        return None, None
    state = w.state
    trigger = state.trigger or {}
    retrying = trigger.get("type") == "retry"
    attempt = int(trigger.get("attempt", 1)) if retrying else 1
    first = str(trigger.get("originalId")) if retrying else state.id
    first_start = (
        dt.datetime.fromisoformat(str(trigger["firstStart"]))
        if retrying and "firstStart" in trigger
        else state.created
    )
    due = next_retry(policy, first, attempt, first_start, w.em.time)
    if due is None:
        return None, None
    return derive_id(first, "retry", attempt + 1), due


def _blame(w: Walker) -> str | None:
    """The error of the failure that failed the execution: not one that was allowed."""
    state = w.state
    for run in reversed(list(state.task_runs.values())):
        if not run.state.is_failure or not run.error:
            continue
        tasks = (w.flow.tasks[r.task_id] for r in [run, *state.ancestors(run)])
        if not any(t.allowFailure or _absorbs_failure(t) for t in tasks):
            return run.error
    return None


def _absorbs_failure(task: object) -> bool:
    return isinstance(task, FlowableTask) and task.ABSORBS_FAILURE
