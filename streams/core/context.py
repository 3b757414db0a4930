"""The variables an expression sees, built from the execution state (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from schemas.execution import Execution, TaskRun
from schemas.flow import Flow
from streams.core.expressions.values import loop_values
from streams.core.labels import labels_view

# --- deferred lookups ----------------------------------------------------------------
# The executor holds no secrets, KV data or file contents, yet renders task properties.
# Unless the caller passes them in, `secret()`, `kv()` and `read()` render to a marker
# "\x00lanner-deferred:<kind>:<json argument>\x00" that the worker resolves just before
# the task runs (streams/deferred_lookups.py), so secret values never travel in events. Pure: the
# marker is a function of the call only. Data that could come from outside (inputs,
# trigger, labels) is defanged, so a caller cannot smuggle a marker in; worker outputs are
# defanged by the worker before they are reported. The variables of a task's working
# folder (`{{ workingDir }}`...) travel the same way (streams/core/folder_variables.py).
DEFERRED_OPEN = "\x00lanner-deferred:"
DEFANGED_OPEN = "\x00lanner-defanged:"
DEFERRED_PATTERN = re.compile("\x00lanner-deferred:(secret|kv|read|render|folder):([^\x00]*)\x00")


def deferred_marker(kind: str, argument: Any) -> str:
    # json.dumps escapes control characters, so the argument never contains a NUL.
    return f"{DEFERRED_OPEN}{kind}:{json.dumps(argument)}\x00"


class _Deferred(Mapping[str, Any]):
    """A mapping that has every key: each lookup gives a marker for the worker to resolve."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __getitem__(self, key: str) -> str:
        return deferred_marker(self._kind, key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def defang(value: Any) -> Any:
    """`value` with any deferred-marker opening neutralised (copied only when needed)."""
    if isinstance(value, str):
        return value.replace(DEFERRED_OPEN, DEFANGED_OPEN) if DEFERRED_OPEN in value else value
    if isinstance(value, Mapping):
        return {k: defang(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [defang(v) for v in value]
    return value


def outputs_view(state: Execution) -> dict[str, Any]:
    """Kestra's `outputs`: `outputs.t.x`, `outputs.t[value].x` inside a ForEach, and
    `outputs.t[outer][inner].x` inside nested ones (every enclosing value, outermost first)."""
    view: dict[str, Any] = {}
    for run in state.task_runs.values():
        if not run.outputs:
            continue
        path = _values_path(state, run)
        if not path:
            view[run.task_id] = run.outputs
            continue
        bucket = view.setdefault(run.task_id, {})
        for value in path[:-1]:
            if not isinstance(bucket, dict):
                break
            bucket = bucket.setdefault(value, {})
        if isinstance(bucket, dict):
            bucket[path[-1]] = run.outputs
    return view


def _values_path(state: Execution, run: TaskRun) -> list[str]:
    """The loop values around a task run, outermost first. A value a plain flowable
    (Sequential, If...) passes down to its children counts once."""
    return loop_values([r.value for r in reversed(state.ancestors(run))] + [run.value])


def _parents(state: Execution, run: TaskRun | None) -> list[dict[str, Any]]:
    return [
        {"taskrun": {"value": r.value, "id": r.id}, "task": {"id": r.task_id}}
        for r in state.ancestors(run)
    ]


def render_context(
    flow: Flow,
    state: Execution,
    run: TaskRun | None,
    task_type: str | None,
    *,
    secrets: Mapping[str, Any] | None = None,
    kv: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    parents = _parents(state, run)
    context: dict[str, Any] = {
        # Data passed in, or deferred to the worker (see above).
        "_secrets": _Deferred("secret") if secrets is None else secrets,
        "_kv": _Deferred("kv") if kv is None else kv,
        "_files": _Deferred("read") if files is None else files,
        "inputs": defang(state.inputs),
        "vars": flow.variables,
        "outputs": outputs_view(state),
        "labels": defang(labels_view(state.labels)),
        "trigger": defang(state.trigger or {}),
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
