"""/api/v1/executions/{id}/restart|replay|state: an operator's hand on an execution.

Each route checks the execution as the views show it and answers 409 (wrong state) or
422 (unknown task run or revision) before writing anything, so a refused request leaves
the execution untouched. The executor checks again: it is the authority.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from fastapi.concurrency import run_in_threadpool

from api.web.errors import ApiError, not_found
from api.web.models import ANSWER, CommandAccepted, ReplayAccepted
from api.web.services import Services, services
from schemas.execution import Execution
from schemas.states import (
    SETTABLE_BY_HAND,
    Operation,
    State,
    may_change_task_run,
    operator_refusal,
)
from streams.core import replay_seed

router = APIRouter(prefix="/executions", tags=["executions"])
Svc = Annotated[Services, Depends(services)]


def _execution(svc: Services, execution_id: str) -> Execution:
    doc = svc.execution_doc(execution_id)
    if doc is None or "model" not in doc:
        raise not_found(f"execution {execution_id}")
    return Execution.model_validate(doc["model"])


@router.post(
    "/{execution_id}/restart",
    name="restart_execution",
    status_code=202,
    response_model=CommandAccepted,
    **ANSWER,
)
def restart(execution_id: str, svc: Svc) -> CommandAccepted:
    execution = _execution(svc, execution_id)
    refused = operator_refusal(Operation.RESTART, execution_id, execution.state)
    if refused:
        raise ApiError(409, refused)
    command_id = svc.executions.restart(execution_id, svc.actor, known=execution)
    return CommandAccepted(id=execution_id, commandId=command_id)


@router.post(
    "/{execution_id}/replay",
    name="replay_execution",
    status_code=202,
    response_model=ReplayAccepted,
    **ANSWER,
)
def replay(
    execution_id: str,
    svc: Svc,
    task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
    revision: Annotated[int | None, Query(ge=1)] = None,
) -> ReplayAccepted:
    execution = _execution(svc, execution_id)
    refused = operator_refusal(Operation.REPLAY, execution_id, execution.state)
    if refused:
        raise ApiError(409, refused)
    if task_run_id is not None and task_run_id not in execution.task_runs:
        raise ApiError(422, f"execution {execution_id} has no task run {task_run_id}")
    target = svc.catalog.get(
        svc.settings.tenant_id,
        execution.namespace,
        execution.flow_id,
        revision or execution.flow_revision,
    )
    if target is None:
        raise ApiError(
            422,
            f"flow {execution.namespace}.{execution.flow_id} has no revision "
            f"{revision or execution.flow_revision}",
        )
    missing = sorted({r.task_id for r in replay_seed(execution, task_run_id)} - set(target.tasks))
    if missing:
        raise ApiError(422, f"revision {target.flow.revision} has no task {', '.join(missing)}")
    new_id, command_id = svc.executions.replay(
        execution_id, svc.actor, task_run_id, revision, known=execution
    )
    return ReplayAccepted(id=new_id, originalId=execution_id, commandId=command_id)


@router.post("/{execution_id}/state", status_code=202, response_model=CommandAccepted, **ANSWER)
async def change_task_run_state(
    execution_id: str,
    svc: Svc,
    task_run_id: Annotated[str, Body(alias="taskRunId", embed=True)],
    state: Annotated[State, Body(embed=True)],
) -> CommandAccepted:
    execution = await run_in_threadpool(_execution, svc, execution_id)
    run = execution.task_runs.get(task_run_id)
    if run is None:
        raise ApiError(422, f"execution {execution_id} has no task run {task_run_id}")
    if state not in SETTABLE_BY_HAND:
        raise ApiError(
            422,
            f"a task run can be set to {', '.join(s.value for s in SETTABLE_BY_HAND)}"
            f" by hand, not {state.value}",
        )
    if not may_change_task_run(execution.state, run.state):
        raise ApiError(
            409,
            f"task run {task_run_id} is {run.state.value} in a "
            f"{execution.state.value} execution; only a finished task run of a "
            "finished or paused execution can be changed",
        )
    command_id = await run_in_threadpool(
        partial(svc.executions.change_state, known=execution),
        execution_id,
        svc.actor,
        task_run_id,
        state,
    )
    return CommandAccepted(id=execution_id, commandId=command_id)
