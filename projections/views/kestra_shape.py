"""Executions in Kestra's API field names, for the REST API and `lanner flow test`.

One function, so the API, the CLI and the search documents agree on the shape.
"""

from __future__ import annotations

from typing import Any

from schemas.execution import Execution, StateEntry, TaskRun


def _state(history: tuple[StateEntry, ...], current: str, end: Any) -> dict[str, Any]:
    start = history[0].date if history else None
    finished = end if end is not None else None
    duration = (finished - start).total_seconds() if finished and start else None
    return {
        "current": current,
        "histories": [{"state": h.state.value, "date": h.date.isoformat()} for h in history],
        "startDate": start.isoformat() if start else None,
        "endDate": finished.isoformat() if finished else None,
        "duration": duration,
    }


def task_run_to_api(execution: Execution, run: TaskRun) -> dict[str, Any]:
    end = run.history[-1].date if run.state.is_terminal and run.history else None
    return {
        "id": run.id,
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "taskId": run.task_id,
        "parentTaskRunId": run.parent_id,
        "value": run.value,
        "iteration": run.iteration,
        "state": _state(run.history, run.state.value, end),
        "attempts": [
            {
                "number": a.number,
                "workerId": a.worker_id,
                "state": {
                    "current": a.state.value,
                    "startDate": a.start.isoformat() if a.start else None,
                    "endDate": a.end.isoformat() if a.end else None,
                },
            }
            for a in run.attempts
        ],
        "outputs": run.outputs,
        "error": run.error,
        "childExecutionId": run.child_execution_id,
    }


def execution_to_api(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "tenantId": execution.tenant,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "flowRevision": execution.flow_revision,
        "state": _state(execution.history, execution.state.value, execution.ended),
        "inputs": execution.inputs,
        "outputs": execution.outputs,
        "labels": [{"key": k, "value": v} for k, v in execution.labels.items()],
        "taskRunList": [task_run_to_api(execution, r) for r in execution.task_runs.values()],
        "parentId": execution.parent.execution_id if execution.parent else None,
        "originalId": execution.original_id or execution.id,
        "trigger": execution.trigger,
        "correlationId": execution.correlation_id,
        "error": execution.error,
        "seq": execution.seq,
    }
