"""Answers of /health, /api/v1/stats and /api/v1/audit."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.web.models import JSON_ERRORS, Answer, Document

Status = Literal["UP", "DOWN"]


class Check(Answer):
    status: Status
    detail: str


class Checks(Answer):
    kafka: Check
    elasticsearch: Check


class Health(Answer):
    status: Status = Field(description="UP (200) when both checks are UP, else DOWN (503)")
    checks: Checks


HEALTH: dict[int | str, dict[str, Any]] = {
    200: {"model": Health, "description": "Kafka and Elasticsearch answer"},
    503: {"model": Health, "description": "Kafka or Elasticsearch does not answer"},
}
METRICS: dict[int | str, dict[str, Any]] = {
    **JSON_ERRORS,
    200: {
        "description": "Prometheus text exposition (version 0.0.4)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


class DurationStats(Answer):
    """Seconds; null when no execution of the day has ended."""

    min: float | None
    avg: float | None
    max: float | None
    sum: float | None


class DailyStats(Answer):
    startDate: str = Field(description="The day (ISO-8601, UTC midnight)")
    total: int
    executionCounts: dict[str, int] = Field(description="state -> executions of the day")
    duration: DurationStats


class AuditEntry(Document):
    """One flow or execution event in the `audit` view (projections/audit.py)."""

    id: str
    kind: Literal["flow", "execution"]
    type: str
    actor: str
    time: str
    version: int
    tenantId: str | None = None
    namespace: str | None = None
    flowId: str | None = None
    executionId: str | None = None
    seq: int | None = None
    revision: int | None = None
    causationId: str | None = None
    correlationId: str | None = None
    taskRunId: str | None = None


class AuditPage(Answer):
    results: list[AuditEntry]
    total: int = Field(description="Events matching, over every page")
    page: int
    size: int
