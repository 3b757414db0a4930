"""Pure functions from log records to view documents (no I/O: unit-tested alone)."""

from __future__ import annotations

from typing import Any

import yaml

from projections.mappings import LEVEL_RANK
from projections.views.kestra_shape import execution_to_api
from schemas.events import ExecutionEvent, FlowDeleted, FlowEvent
from schemas.execution import Execution
from schemas.states import State
from schemas.worker import LogLine

_TASK_LISTS = ("tasks", "errors", "finally", "afterExecution")


def flow_key(tenant: str, namespace: str, flow_id: str) -> str:
    return f"{tenant}/{namespace}/{flow_id}"


def _parsed(source: str) -> dict[str, Any]:
    # The source was validated before it was written; a revision that no longer parses
    # (a YAML library change) still gets a document, just without the derived fields.
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _label_map(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {
            str(item.get("key")): str(item.get("value"))
            for item in raw
            if isinstance(item, dict) and "key" in item
        }
    return {}


def _task_types(node: Any, found: list[str]) -> None:
    # Any mapping with an id and a type below a task list is a task, however deep
    # (Parallel's tasks, If's then/else, Switch's cases ...).
    if isinstance(node, dict):
        if isinstance(node.get("type"), str) and "id" in node:
            found.append(node["type"])
        for value in node.values():
            _task_types(value, found)
    elif isinstance(node, list):
        for item in node:
            _task_types(item, found)


def labels_fields(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "labels": [{"key": k, "value": v} for k, v in labels.items()],
        "labelPairs": [f"{k}:{v}" for k, v in labels.items()],
    }


def flow_docs(event: FlowEvent, previous_source: str | None = None) -> dict[str, Any]:
    """The `flows` document after `event`. A deletion keeps the last source it knows."""
    source = previous_source if isinstance(event, FlowDeleted) else event.source
    data = _parsed(source or "")
    types: list[str] = []
    for key in _TASK_LISTS:
        _task_types(data.get(key), types)
    triggers = data.get("triggers")
    trigger_types = (
        [t["type"] for t in triggers if isinstance(t, dict) and isinstance(t.get("type"), str)]
        if isinstance(triggers, list)
        else []
    )
    description = data.get("description")
    labels = _label_map(data.get("labels"))
    return {
        "tenantId": event.tenant,
        "namespace": event.namespace,
        "id": event.flow_id,
        "revision": event.revision,
        "source": source,
        "description": description if isinstance(description, str) else None,
        **labels_fields(labels),
        "taskTypes": sorted(set(types)),
        "triggerTypes": sorted(set(trigger_types)),
        "deleted": isinstance(event, FlowDeleted),
        "updated": event.time.isoformat(),
        "actor": event.actor,
        "event": event.type,
        "fulltext": " ".join(
            [
                event.namespace,
                event.flow_id,
                description if isinstance(description, str) else "",
                *labels.values(),
            ]
        ),
    }


def execution_doc(state: Execution) -> dict[str, Any]:
    """The `executions` document: the Kestra shape, search helpers, and the model."""
    doc = execution_to_api(state)
    doc.update(labels_fields(state.labels))
    doc["runningTaskRuns"] = sum(1 for r in state.task_runs.values() if r.state is State.RUNNING)
    doc["taskIds"] = sorted({r.task_id for r in state.task_runs.values()})
    doc["fulltext"] = " ".join([state.id, state.namespace, state.flow_id, *state.labels.values()])
    doc["model"] = state.model_dump(mode="json")
    return doc


def api_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the API shows it: without the storage-only fields."""
    return {
        k: v
        for k, v in doc.items()
        if k not in ("model", "fulltext", "labelPairs", "runningTaskRuns", "taskIds")
    }


def event_doc(event: ExecutionEvent) -> dict[str, Any]:
    return {
        "executionId": event.execution_id,
        "seq": event.seq,
        "type": event.type,
        "time": event.time.isoformat(),
        "taskRunId": getattr(event, "task_run_id", None),
        "actor": event.actor,
        "event": event.model_dump(mode="json"),
    }


def log_doc(line: LogLine) -> dict[str, Any]:
    return {
        "id": line.log_id,
        "tenantId": line.tenant,
        "namespace": line.namespace,
        "flowId": line.flow_id,
        "executionId": line.execution_id,
        "taskRunId": line.task_run_id,
        "taskId": line.task_id,
        "attemptNumber": line.attempt,
        "level": line.level,
        "levelRank": LEVEL_RANK[line.level],
        "message": line.message,
        "timestamp": line.time.isoformat(),
        "index": line.index,
    }
