"""Ending an execution at once, from inside a decision (pure): an Exit task, a violated SLA.

Kestra ends the task run that asked (and its parents) with the exit state and kills the
rest; here every other unfinished task run is KILLED too (their jobs are stopped), so a
finished execution never keeps a task run that looks alive. A task run has no
CANCELLED state: where the execution is CANCELLED, its runs are KILLED.
"""

from __future__ import annotations

from schemas.events import EXECUTION_END_STATES, ExecutionKilling
from schemas.states import State
from schemas.worker import LogLine
from streams.core.emitter import Emitter


def terminate(
    em: Emitter,
    target: State,
    *,
    error: str | None = None,
    run_id: str | None = None,
    logs: tuple[LogLine, ...] = (),
) -> None:
    """End the execution with `target`; `run_id` (with its ancestors) ends with it too,
    carrying `logs`. KILLED goes through KILLING, as a kill does."""
    state = em.current
    if state.state.is_terminal or target not in EXECUTION_END_STATES:
        return
    run_state = State.KILLED if target == State.CANCELLED else target
    start = state.task_runs.get(run_id) if run_id else None
    chain = [r.id for r in [start, *state.ancestors(start)]] if start else []
    if target == State.KILLED:
        em.emit(ExecutionKilling, kill_children=True)
    # Later runs first: a child ends before its parent.
    for run in reversed(list(state.task_runs.values())):
        if not run.state.is_terminal and run.id not in chain:
            em.end_task_run(run.id, State.KILLED, error=error or "killed")
    for index, chained in enumerate(chain):
        first = index == 0
        em.end_task_run(
            chained,
            run_state,
            error=error if first and run_state.is_failure else None,
            logs=logs if first else (),
        )
    em.emit(EXECUTION_END_STATES[target], error=error if target.is_failure else None)
