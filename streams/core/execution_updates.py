"""What an inline task may do to its own execution (Kestra's ExecutionUpdatableTask):
add labels (Labels), or end it (Exit). Pure: it emits the events that record it."""

from __future__ import annotations

from schemas.events import ExecutionLabelsChanged
from schemas.execution import TaskRun
from schemas.worker import LogLine
from streams.core.emitter import Emitter
from streams.core.terminate import terminate
from streams.plugins.base import Outcome


class WalkStopped(Exception):
    """The execution ended in the middle of the walk (an Exit): nothing more is stepped."""


def apply_to_execution(
    em: Emitter, run: TaskRun, task_id: str, outcome: Outcome, logs: tuple[LogLine, ...]
) -> None:
    """Before the task run ends: its labels join the execution's. An exit ends the
    execution (and the task run, with its logs) here, and stops the walk."""
    if outcome.exit_state is not None:
        error = None
        if outcome.exit_state.is_failure:
            error = f"task {task_id} ended the execution {outcome.exit_state}"
        terminate(em, outcome.exit_state, error=error, run_id=run.id, logs=logs)
        raise WalkStopped
    if outcome.labels:
        em.emit(ExecutionLabelsChanged, labels=dict(outcome.labels))
