"""The `audit` view: one document per flow event and execution event, for search by
actor, type, namespace and time (GET /api/v1/audit).

Facts never change, so every document is written once (external version 1): a redelivered
record is skipped by Elasticsearch like any stale version.
"""

from __future__ import annotations

from typing import Any

from schemas.events import ExecutionCreated, ExecutionEvent, FlowEvent

AUDIT = "audit"

_KEYWORD = {"type": "keyword"}
AUDIT_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": _KEYWORD,
        "kind": _KEYWORD,
        "type": _KEYWORD,
        "actor": _KEYWORD,
        "tenantId": _KEYWORD,
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "executionId": _KEYWORD,
        "seq": {"type": "long"},
        "revision": {"type": "integer"},
        "time": {"type": "date"},
        "causationId": _KEYWORD,
        "correlationId": _KEYWORD,
        "taskRunId": _KEYWORD,
        "version": {"type": "integer"},
    },
}

Doc = tuple[str, int, dict[str, Any]]


def execution_event_doc(event: ExecutionEvent, namespace: str | None, flow_id: str | None) -> Doc:
    """`namespace` and `flow_id` come from the folded execution: only the creation
    event carries them itself."""
    if isinstance(event, ExecutionCreated) or event.namespace is not None:
        namespace, flow_id = event.namespace, event.flow_id
    doc = {
        "id": event.event_id,
        "kind": "execution",
        "type": event.type,
        "actor": event.actor,
        "namespace": namespace,
        "flowId": flow_id,
        "executionId": event.execution_id,
        "seq": event.seq,
        "time": event.time.isoformat(),
        "causationId": event.causation_id,
        "correlationId": event.correlation_id,
        "taskRunId": getattr(event, "task_run_id", None),
        "version": event.version,
    }
    return event.event_id, 1, doc


def flow_event_doc(event: FlowEvent) -> Doc:
    doc_id = f"flow:{event.event_id}"
    doc = {
        "id": event.event_id,
        "kind": "flow",
        "type": event.type,
        "actor": event.actor,
        "tenantId": event.tenant,
        "namespace": event.namespace,
        "flowId": event.flow_id,
        "revision": event.revision,
        "time": event.time.isoformat(),
        "version": event.version,
    }
    return doc_id, 1, doc
