"""The variables an expression sees, built from the execution state (pure)."""

from __future__ import annotations

from typing import Any

from schemas.execution import Execution, TaskRun
from schemas.flow import Flow


def outputs_view(state: Execution) -> dict[str, Any]:
    """Kestra's `outputs`: `outputs.t.x`, and `outputs.t[value].x` inside a ForEach."""
    view: dict[str, Any] = {}
    for run in state.task_runs.values():
        if not run.outputs:
            continue
        if run.value is None:
            view[run.task_id] = run.outputs
        else:
            bucket = view.setdefault(run.task_id, {})
            if isinstance(bucket, dict):
                bucket[run.value] = run.outputs
    return view


def _parents(state: Execution, run: TaskRun | None) -> list[dict[str, Any]]:
    parents: list[dict[str, Any]] = []
    current = state.task_runs.get(run.parent_id) if run and run.parent_id else None
    while current is not None:
        parents.append(
            {"taskrun": {"value": current.value, "id": current.id}, "task": {"id": current.task_id}}
        )
        current = state.task_runs.get(current.parent_id) if current.parent_id else None
    return parents


def render_context(
    flow: Flow, state: Execution, run: TaskRun | None, task_type: str | None
) -> dict[str, Any]:
    parents = _parents(state, run)
    context: dict[str, Any] = {
        "inputs": state.inputs,
        "vars": flow.variables,
        "outputs": outputs_view(state),
        "labels": state.labels,
        "trigger": state.trigger or {},
        "execution": {
            "id": state.id,
            "namespace": state.namespace,
            "flowId": state.flow_id,
            "startDate": state.created,
            "state": state.state.value,
            "originalId": state.id,
        },
        "flow": {
            "id": flow.id,
            "namespace": flow.namespace,
            "revision": state.flow_revision,
            "tenantId": state.tenant,
        },
        "parents": parents,
        "parent": parents[0] if parents else {},
        # errorLogs(): the errors of the task runs that failed so far (Kestra gives the
        # ERROR log lines; a task run's error is the line that made it fail).
        "_error_logs": [
            {"taskId": r.task_id, "taskRunId": r.id, "level": "ERROR", "message": r.error}
            for r in state.task_runs.values()
            if r.state.is_failure and r.error
        ],
    }
    if run is not None:
        context["task"] = {"id": run.task_id, "type": task_type}
        context["taskrun"] = {
            "id": run.id,
            "value": run.value,
            "iteration": run.iteration,
            "parentId": run.parent_id,
            "startDate": run.start,
            "attemptsCount": len(run.attempts),
        }
    return context
