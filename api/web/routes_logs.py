"""/api/v1/logs: an execution's log lines, as JSON, as text, or followed live."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from sse_starlette.sse import EventSourceResponse

from api.web.follow import follow_logs
from api.web.models import ANSWER
from api.web.models_executions import FOLLOW_LOGS, LOG_DOWNLOAD, LogLineView
from api.web.queries import LOG_SORT, log_query
from api.web.routes_executions import execution_or_404
from api.web.services import Services, services
from projections import mappings
from schemas.states import State

router = APIRouter(prefix="/logs", tags=["logs"])
Svc = Annotated[Services, Depends(services)]
# Lines of an execution that ended this recently may not be searchable yet (1 s refresh).
_FRESH_S = 5.0


def read_logs(
    svc: Services, execution_id: str, task_id: str | None, min_level: str | None, q: str | None
) -> list[dict[str, Any]]:
    query = log_query(execution_id, task_id, min_level, q)
    doc = execution_or_404(svc, execution_id)
    ended = doc["state"].get("endDate")
    if (
        State(doc["state"]["current"]).is_terminal
        and ended
        and (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(ended)).total_seconds() < _FRESH_S
    ):
        svc.store.refresh(mappings.LOGS)
    _total, docs = svc.store.search(mappings.LOGS, query, size=10_000, sort=LOG_SORT)
    return docs


@router.get("/{execution_id}", name="get_logs", response_model=list[LogLineView], **ANSWER)
def logs(
    execution_id: str,
    svc: Svc,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    min_level: Annotated[str | None, Query(alias="minLevel")] = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    return read_logs(svc, execution_id, task_id, min_level, q)


@router.get(
    "/{execution_id}/download",
    name="download_logs",
    response_class=PlainTextResponse,
    responses=LOG_DOWNLOAD,
)
def download(
    execution_id: str,
    svc: Svc,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    min_level: Annotated[str | None, Query(alias="minLevel")] = None,
) -> PlainTextResponse:
    lines = read_logs(svc, execution_id, task_id, min_level, None)
    text = "".join(
        f"{d['timestamp']} {d['level']:<5} [{d.get('taskId') or '-'}] {d['message']}\n"
        for d in lines
    )
    return PlainTextResponse(
        text, headers={"content-disposition": f'attachment; filename="{execution_id}.log"'}
    )


@router.get(
    "/{execution_id}/follow",
    name="follow_logs",
    response_class=EventSourceResponse,
    responses=FOLLOW_LOGS,
)
async def follow(
    execution_id: str,
    svc: Svc,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    min_level: Annotated[str | None, Query(alias="minLevel")] = None,
) -> EventSourceResponse:
    await run_in_threadpool(execution_or_404, svc, execution_id)
    log_query(execution_id, task_id, min_level, None)  # a bad minLevel is a 422 up front
    return EventSourceResponse(follow_logs(svc, execution_id, task_id, min_level))
