"""Index names and explicit mappings of the query views.

Every index is `dynamic: false`: only the fields listed here are searchable, the rest
(inputs, outputs, task runs, the folded model) stays in `_source`. Free-form user data
(outputs of different types under one name) could otherwise break a bulk with a
mapping conflict, and the view would stop moving.
"""

from __future__ import annotations

from typing import Any

from projections.audit import AUDIT, AUDIT_MAPPING
from projections.metrics_view import METRICS, METRICS_MAPPING

FLOWS = "flows"
FLOW_REVISIONS = "flow-revisions"
EXECUTIONS = "executions"
EVENTS = "events"
LOGS = "logs"
TRIGGERS = "triggers"

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_TEXT = {"type": "text"}
_INT = {"type": "integer"}
_LONG = {"type": "long"}
_BOOL = {"type": "boolean"}
_UNINDEXED = {"type": "object", "enabled": False}
_LABELS = {"properties": {"key": _KEYWORD, "value": _KEYWORD}}

_FLOW_FIELDS: dict[str, Any] = {
    "tenantId": _KEYWORD,
    "namespace": _KEYWORD,
    "id": _KEYWORD,
    "revision": _INT,
    "source": {"type": "text", "index": True},
    "description": _TEXT,
    "labels": _LABELS,
    "labelPairs": _KEYWORD,
    "taskTypes": _KEYWORD,
    "triggerTypes": _KEYWORD,
    "deleted": _BOOL,
    "updated": _DATE,
    "actor": _KEYWORD,
    "fulltext": _TEXT,
}

MAPPINGS: dict[str, dict[str, Any]] = {
    FLOWS: {"dynamic": False, "properties": _FLOW_FIELDS},
    FLOW_REVISIONS: {"dynamic": False, "properties": {**_FLOW_FIELDS, "event": _KEYWORD}},
    EXECUTIONS: {
        "dynamic": False,
        "properties": {
            "id": _KEYWORD,
            "tenantId": _KEYWORD,
            "namespace": _KEYWORD,
            "flowId": _KEYWORD,
            "flowRevision": _INT,
            "state": {
                "properties": {
                    "current": _KEYWORD,
                    "startDate": _DATE,
                    "endDate": _DATE,
                    "duration": {"type": "double"},
                    "histories": _UNINDEXED,
                }
            },
            "labels": _LABELS,
            "labelPairs": _KEYWORD,
            "parentId": _KEYWORD,
            "correlationId": _KEYWORD,
            "seq": _LONG,
            "runningTaskRuns": _INT,
            "taskIds": _KEYWORD,
            "fulltext": _TEXT,
            # The folded Execution, kept to continue the fold after a restart.
            "model": _UNINDEXED,
        },
    },
    EVENTS: {
        "dynamic": False,
        "properties": {
            "executionId": _KEYWORD,
            "seq": _LONG,
            "type": _KEYWORD,
            "time": _DATE,
            "taskRunId": _KEYWORD,
            "actor": _KEYWORD,
            "event": _UNINDEXED,
        },
    },
    LOGS: {
        "dynamic": False,
        "properties": {
            "tenantId": _KEYWORD,
            "namespace": _KEYWORD,
            "flowId": _KEYWORD,
            "executionId": _KEYWORD,
            "taskRunId": _KEYWORD,
            "taskId": _KEYWORD,
            "attemptNumber": _INT,
            "level": _KEYWORD,
            "levelRank": _INT,
            "message": _TEXT,
            "timestamp": _DATE,
            "index": _INT,
        },
    },
    # One document per trigger: its folded TriggerState (projections/trigger_fold.py).
    TRIGGERS: {
        "dynamic": False,
        "properties": {
            "key": _KEYWORD,
            "tenantId": _KEYWORD,
            "namespace": _KEYWORD,
            "flowId": _KEYWORD,
            "triggerId": _KEYWORD,
            "date": _DATE,
            "nextExecutionDate": _DATE,
            "lastFireDate": _DATE,
            "updatedDate": _DATE,
            "disabled": _BOOL,
            "locked": _BOOL,
            "lastError": _TEXT,
            "offset": _LONG,
            "backfill": _UNINDEXED,
            "positions": _UNINDEXED,
            "lastBatch": _UNINDEXED,
            "model": _UNINDEXED,
        },
    },
}

MAPPINGS[AUDIT] = AUDIT_MAPPING
MAPPINGS[METRICS] = METRICS_MAPPING

LEVEL_RANK: dict[str, int] = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4}
