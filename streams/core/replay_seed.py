"""What a replay carries over from its original execution (pure).

Replaying from task run X keeps every run created before X that is not one of X's
ancestors, as it ended; X's ancestors are carried over as new (CREATED), so the walk
enters them again and creates X, and everything after it, afresh.
"""

from __future__ import annotations

from schemas.execution import Execution, StateEntry, TaskRun
from schemas.states import State


def replay_seed(state: Execution, task_run_id: str | None) -> list[TaskRun]:
    if task_run_id is None:
        return []
    runs = list(state.task_runs.values())
    position = next(i for i, r in enumerate(runs) if r.id == task_run_id)
    ancestors: set[str] = set()
    current = state.task_runs[task_run_id]
    while current.parent_id is not None:
        ancestors.add(current.parent_id)
        current = state.task_runs[current.parent_id]
    seed: list[TaskRun] = []
    for run in runs[:position]:
        if run.id in ancestors:
            created = run.history[0].date if run.history else state.created
            seed.append(
                TaskRun(
                    id=run.id,
                    task_id=run.task_id,
                    parent_id=run.parent_id,
                    value=run.value,
                    iteration=run.iteration,
                    history=(StateEntry(state=State.CREATED, date=created),),
                )
            )
        elif _inside(state, run, ancestors, task_run_id):
            seed.append(run)
    return seed


def _inside(state: Execution, run: TaskRun, ancestors: set[str], chosen: str) -> bool:
    """Runs under a carried-over ancestor are kept only if they ended (they all did: a
    replay starts from a finished execution); runs elsewhere are kept as they are."""
    return run.state.is_terminal and run.id != chosen
