"""The `metrics` view: one document per metric a task run reported (Kestra's MetricEntry).

Folded from the events that end or retry an attempt, which carry its metrics. A document's
id is (execution, event seq, position), so a redelivered event rewrites the same document.
The tenant and the task id come from the execution fold, which knows every task run.
"""

from __future__ import annotations

from typing import Any

from schemas.events import ExecutionEvent, TaskRunRetrying
from schemas.execution import Execution
from schemas.metrics import TaskMetric

METRICS = "metrics"

_KEYWORD = {"type": "keyword"}
METRICS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "tenantId": _KEYWORD,
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "taskId": _KEYWORD,
        "executionId": _KEYWORD,
        "taskRunId": _KEYWORD,
        "attemptNumber": {"type": "integer"},
        "type": _KEYWORD,
        "name": _KEYWORD,
        "value": {"type": "double"},
        "timestamp": {"type": "date"},
        # `key:value` pairs, searchable; `tags` itself stays in _source.
        "tagPairs": _KEYWORD,
        "tags": {"type": "object", "enabled": False},
    },
}

Doc = tuple[str, int, dict[str, Any]]


def metric_docs(event: ExecutionEvent, state: Execution | None) -> list[Doc]:
    """The documents of the metrics `event` carries (none for most events)."""
    metrics: tuple[TaskMetric, ...] = getattr(event, "metrics", ())
    task_run_id: str | None = getattr(event, "task_run_id", None)
    if not metrics or task_run_id is None:
        return []
    run = state.task_runs.get(task_run_id) if state is not None else None
    if isinstance(event, TaskRunRetrying):
        attempt: int | None = event.attempt
    else:
        attempt = run.attempt_number if run is not None else None
    base = {
        "tenantId": state.tenant if state is not None else None,
        "namespace": event.namespace or (state.namespace if state else None),
        "flowId": event.flow_id or (state.flow_id if state else None),
        "taskId": run.task_id if run is not None else None,
        "executionId": event.execution_id,
        "taskRunId": task_run_id,
        "attemptNumber": attempt,
    }
    return [
        (
            f"{event.execution_id}/{event.seq}/{index}",
            1,
            {
                **base,
                "type": metric.type,
                "name": metric.name,
                "value": metric.view_value,
                "timestamp": metric.time.isoformat(),
                "tags": metric.tags,
                "tagPairs": [f"{k}:{v}" for k, v in metric.tags.items()],
            },
        )
        for index, metric in enumerate(metrics)
    ]


def api_metric(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document as Kestra's API shows a MetricEntry."""
    keys = ("tenantId", "namespace", "flowId", "taskId", "executionId", "taskRunId", "type")
    return {
        **{k: doc.get(k) for k in keys},
        "name": doc.get("name"),
        "value": doc.get("value"),
        "timestamp": doc.get("timestamp"),
        "tags": doc.get("tags") or {},
        "deleted": False,
    }
