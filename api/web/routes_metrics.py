"""/api/v1/metrics/...: task metrics as Kestra's MetricController serves them.

Read from the `metrics` view (projections/metrics_view.py). Timers are in milliseconds,
as in Kestra's MetricEntry. GET /api/v1/metrics itself is the Prometheus export
(routes_ops.py); these routes all have a segment after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from api.web.models import ANSWER, Answer, Document
from api.web.queries import BadParameter, as_utc, page_offset, parse_sort, utc_iso
from api.web.routes_executions import execution_or_404
from api.web.services import Services, services
from projections.metrics_view import METRICS, api_metric
from schemas.states import State

router = APIRouter(prefix="/metrics", tags=["metrics"])
Svc = Annotated[Services, Depends(services)]
# Metrics of an execution that ended this recently may not be searchable yet (1 s refresh).
_FRESH_S = 5.0
_SORTS = {"name", "timestamp", "value", "taskId", "type"}
# Distinct names or task ids listed per flow (terms buckets).
_MAX_TERMS = 1_000
# Kestra's DateUtils.groupByType: the bucket size follows the range asked for.
# The widest range aggregated (in months, well within the search store's bucket limit).
_MAX_SPAN = dt.timedelta(days=366 * 20)
_GROUPS: tuple[tuple[dt.timedelta, str], ...] = (
    (dt.timedelta(days=365), "month"),
    (dt.timedelta(days=180), "week"),
    (dt.timedelta(days=1), "day"),
    (dt.timedelta(hours=6), "hour"),
)


class MetricView(Document):
    """One measurement of a task run (Kestra's MetricEntry)."""

    tenantId: str | None = None
    namespace: str
    flowId: str
    taskId: str | None = None
    executionId: str | None = None
    taskRunId: str | None = None
    type: str
    name: str
    value: float
    timestamp: dt.datetime
    tags: dict[str, str] = {}
    deleted: bool = False


class MetricPage(Answer):
    results: list[MetricView]
    total: int


class MetricAggregation(Answer):
    name: str
    value: float | None
    date: dt.datetime


class MetricAggregations(Answer):
    groupBy: str
    aggregations: list[MetricAggregation]


def _fresh(svc: Services, execution_id: str) -> None:
    doc = execution_or_404(svc, execution_id)
    ended = doc["state"].get("endDate")
    if State(doc["state"]["current"]).is_terminal and ended:
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(ended)
        if age.total_seconds() < _FRESH_S:
            svc.store.refresh(METRICS)


def _terms(svc: Services, filters: list[dict[str, Any]], field: str) -> list[str]:
    aggs = svc.store.aggregate(
        METRICS,
        {"bool": {"filter": filters}},
        {"values": {"terms": {"field": field, "size": _MAX_TERMS, "order": {"_key": "asc"}}}},
    )
    return [str(b["key"]) for b in aggs.get("values", {}).get("buckets", [])]


def _flow_filters(namespace: str, flow_id: str) -> list[dict[str, Any]]:
    return [{"term": {"namespace": namespace}}, {"term": {"flowId": flow_id}}]


@router.get("/names/{namespace}/{flow_id}", name="flow_metric_names", response_model=list[str])
def flow_metrics(namespace: str, flow_id: str, svc: Svc) -> list[str]:
    return _terms(svc, _flow_filters(namespace, flow_id), "name")


@router.get(
    "/names/{namespace}/{flow_id}/{task_id}", name="task_metric_names", response_model=list[str]
)
def task_metrics(namespace: str, flow_id: str, task_id: str, svc: Svc) -> list[str]:
    filters = [*_flow_filters(namespace, flow_id), {"term": {"taskId": task_id}}]
    return _terms(svc, filters, "name")


@router.get("/tasks/{namespace}/{flow_id}", name="tasks_with_metrics", response_model=list[str])
def tasks(namespace: str, flow_id: str, svc: Svc) -> list[str]:
    return _terms(svc, _flow_filters(namespace, flow_id), "taskId")


def _aggregate(
    svc: Services,
    filters: list[dict[str, Any]],
    metric: str,
    start_date: dt.datetime | None,
    end_date: dt.datetime | None,
    aggregation: str,
) -> dict[str, Any]:
    end = as_utc(end_date, "endDate") if end_date else dt.datetime.now(dt.UTC)
    try:
        start = as_utc(start_date, "startDate") if start_date else end - dt.timedelta(days=30)
    except OverflowError:
        raise BadParameter("endDate", "leaves no room for 30 days before it") from None
    if start > end:
        raise BadParameter("startDate", "must be before endDate")
    span = end - start
    if span > _MAX_SPAN:
        raise BadParameter("startDate", f"a range of at most {_MAX_SPAN.days} days, please")
    group = next((g for limit, g in _GROUPS if span > limit), "minute")
    low, high = utc_iso(start, "startDate"), utc_iso(end, "endDate")
    filters = [
        *filters,
        {"term": {"name": metric}},
        {"range": {"timestamp": {"gte": low, "lte": high}}},
    ]
    histogram: dict[str, Any] = {
        "field": "timestamp",
        "min_doc_count": 0,
        "extended_bounds": {"min": low, "max": high},
        "calendar_interval": group,
    }
    aggs = svc.store.aggregate(
        METRICS,
        {"bool": {"filter": filters}},
        {"dates": {"date_histogram": histogram, "aggs": {"v": {aggregation: {"field": "value"}}}}},
    )
    buckets = aggs.get("dates", {}).get("buckets", [])
    return {
        "groupBy": group,
        "aggregations": [
            {"name": metric, "value": b["v"].get("value"), "date": b["key_as_string"]}
            for b in buckets
        ],
    }


Aggregation = Annotated[Literal["sum", "avg", "min", "max"], Query()]
StartDate = Annotated[dt.datetime | None, Query(alias="startDate")]
EndDate = Annotated[dt.datetime | None, Query(alias="endDate")]


@router.get(
    "/aggregates/{namespace}/{flow_id}/{metric}",
    name="aggregate_flow_metric",
    response_model=MetricAggregations,
)
def aggregate_flow(
    namespace: str,
    flow_id: str,
    metric: str,
    svc: Svc,
    start_date: StartDate = None,
    end_date: EndDate = None,
    aggregation: Aggregation = "sum",
) -> dict[str, Any]:
    filters = _flow_filters(namespace, flow_id)
    return _aggregate(svc, filters, metric, start_date, end_date, aggregation)


@router.get(
    "/aggregates/{namespace}/{flow_id}/{task_id}/{metric}",
    name="aggregate_task_metric",
    response_model=MetricAggregations,
)
def aggregate_task(
    namespace: str,
    flow_id: str,
    task_id: str,
    metric: str,
    svc: Svc,
    start_date: StartDate = None,
    end_date: EndDate = None,
    aggregation: Aggregation = "sum",
) -> dict[str, Any]:
    filters = [*_flow_filters(namespace, flow_id), {"term": {"taskId": task_id}}]
    return _aggregate(svc, filters, metric, start_date, end_date, aggregation)


@router.get("/{execution_id}", name="execution_metrics", response_model=MetricPage, **ANSWER)
def by_execution(
    execution_id: str,
    svc: Svc,
    task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=1000)] = 10,
    sort: str | None = None,
) -> dict[str, Any]:
    _fresh(svc, execution_id)
    filters: list[dict[str, Any]] = [{"term": {"executionId": execution_id}}]
    if task_id is not None:  # as Kestra: taskId first, else taskRunId
        filters.append({"term": {"taskId": task_id}})
    elif task_run_id is not None:
        filters.append({"term": {"taskRunId": task_run_id}})
    order = parse_sort(sort, _SORTS, [{"timestamp": "asc"}, {"name": "asc"}])
    total, docs = svc.store.search(
        METRICS,
        {"bool": {"filter": filters}},
        size=size,
        from_=page_offset(page, size),
        sort=order,
    )
    return {"results": [api_metric(d) for d in docs], "total": total}
