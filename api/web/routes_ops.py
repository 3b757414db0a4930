"""Health, Prometheus metrics and execution statistics."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from api.web.models import ANSWER
from api.web.models_ops import HEALTH, METRICS, Check, Checks, DailyStats, Health
from api.web.prometheus_task_metrics import task_metric_lines
from api.web.queries import BadParameter, namespace_filter, utc_iso
from api.web.services import Services, public_services, services
from projections import mappings
from projections.lag import indexer_lag
from schemas.states import TERMINAL_STATES
from streams.log.admin import shared_admin

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])
Svc = Annotated[Services, Depends(services)]
PublicSvc = Annotated[Services, Depends(public_services)]


def kafka_ok(bootstrap: str) -> tuple[bool, str]:
    try:
        metadata = shared_admin(bootstrap).list_topics(timeout=2)
    except Exception as exc:  # a health check reports, it does not fail
        return False, str(exc)
    return True, f"{len(metadata.brokers)} broker(s)"


@router.get("/health", response_model=None, responses=HEALTH)
def health(svc: PublicSvc) -> JSONResponse:
    kafka_up, kafka_detail = kafka_ok(svc.settings.kafka_bootstrap)
    es_up, es_detail = svc.store.healthy()
    up = kafka_up and es_up
    body = Health(
        status="UP" if up else "DOWN",
        checks=Checks(
            kafka=Check(status="UP" if kafka_up else "DOWN", detail=kafka_detail),
            elasticsearch=Check(status="UP" if es_up else "DOWN", detail=es_detail),
        ),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if up else 503)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/metrics", response_class=PlainTextResponse, responses=METRICS)
def metrics(svc: Svc) -> PlainTextResponse:
    lines: list[str] = []
    try:
        lags = indexer_lag(svc.settings)
    except Exception as exc:
        log.warning("indexer lag unavailable", extra={"error": str(exc)})
        lags = []
    lines += [
        "# HELP lanner_indexer_lag Records the indexer has not committed yet.",
        "# TYPE lanner_indexer_lag gauge",
    ]
    lines += [
        f'lanner_indexer_lag{{topic="{_escape(p.topic)}",partition="{p.partition}"}} {p.lag}'
        for p in lags
    ]
    lines += [
        "# HELP lanner_indexer_lag_total Sum of lanner_indexer_lag.",
        "# TYPE lanner_indexer_lag_total gauge",
        f"lanner_indexer_lag_total {sum(p.lag for p in lags)}",
    ]
    aggs = svc.store.aggregate(
        mappings.EXECUTIONS,
        None,
        {
            "states": {"terms": {"field": "state.current", "size": 50}},
            "live": {
                "filter": {
                    "bool": {
                        "must_not": {"terms": {"state.current": [s.value for s in TERMINAL_STATES]}}
                    }
                },
                "aggs": {"running": {"sum": {"field": "runningTaskRuns"}}},
            },
        },
    )
    lines += [
        "# HELP lanner_executions Executions in the view, by current state.",
        "# TYPE lanner_executions gauge",
    ]
    lines += [
        f'lanner_executions{{state="{b["key"]}"}} {b["doc_count"]}'
        for b in aggs.get("states", {}).get("buckets", [])
    ]
    running = int(aggs.get("live", {}).get("running", {}).get("value") or 0)
    lines += [
        "# HELP lanner_task_runs_running Task runs in state RUNNING.",
        "# TYPE lanner_task_runs_running gauge",
        f"lanner_task_runs_running {running}",
    ]
    try:
        lines += task_metric_lines(svc.store)
    except Exception as exc:  # a scrape still answers with what it has
        log.warning("task metrics unavailable", extra={"error": str(exc)})
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get(
    "/stats/executions/daily",
    name="daily_execution_stats",
    response_model=list[DailyStats],
    **ANSWER,
)
def daily(
    svc: Svc,
    start_date: Annotated[dt.datetime | None, Query(alias="startDate")] = None,
    end_date: Annotated[dt.datetime | None, Query(alias="endDate")] = None,
    namespace: str | None = None,
    flow_id: Annotated[str | None, Query(alias="flowId")] = None,
) -> list[dict[str, Any]]:
    end = end_date or dt.datetime.now(dt.UTC)
    try:
        start = start_date or end - dt.timedelta(days=30)
    except OverflowError:
        raise BadParameter(
            "endDate", f"{end.isoformat()} leaves no room for 30 days before it; give startDate too"
        ) from None
    filters: list[dict[str, Any]] = [
        {
            "range": {
                "state.startDate": {
                    "gte": utc_iso(start, "startDate"),
                    "lte": utc_iso(end, "endDate"),
                }
            }
        }
    ]
    if namespace:
        filters.append(namespace_filter(namespace))
    if flow_id:
        filters.append({"term": {"flowId": flow_id}})
    aggs = svc.store.aggregate(
        mappings.EXECUTIONS,
        {"bool": {"filter": filters}},
        {
            "days": {
                "date_histogram": {
                    "field": "state.startDate",
                    "calendar_interval": "day",
                    "min_doc_count": 1,
                },
                "aggs": {
                    "states": {"terms": {"field": "state.current", "size": 50}},
                    "duration": {"stats": {"field": "state.duration"}},
                },
            }
        },
    )
    return [
        {
            "startDate": b["key_as_string"],
            "total": b["doc_count"],
            "executionCounts": {s["key"]: s["doc_count"] for s in b["states"]["buckets"]},
            "duration": {k: b["duration"].get(k) for k in ("min", "avg", "max", "sum")},
        }
        for b in aggs.get("days", {}).get("buckets", [])
    ]
