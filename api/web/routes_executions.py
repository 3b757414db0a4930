"""/api/v1/executions: create, read, search, kill, pause, resume, delete, follow."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.background import BackgroundTask

from api.web.errors import ApiError, not_found
from api.web.follow import follow_execution
from api.web.models import ANSWER, CommandAccepted
from api.web.models_executions import (
    FILE_DOWNLOAD,
    FOLLOW_EXECUTION,
    ExecutionAccepted,
    ExecutionEventView,
    ExecutionPage,
    ExecutionView,
)
from api.web.queries import (
    EXECUTION_SORTS,
    BadParameter,
    ExecutionFilter,
    label_pair,
    page_offset,
    parse_sort,
)
from api.web.request_inputs import INPUTS_BODY, read_inputs, too_large
from api.web.services import Services, services
from projections import mappings
from projections.documents import api_view, execution_doc
from schemas.decode import decode_execution_event
from schemas.states import Operation, State, operator_refusal
from schemas.storage import StorageError, execution_prefix, input_file_uri, is_storage_uri
from streams.core import HistoryError
from streams.histories.as_of import AsOf, OutsideHistory, state_as_of
from streams.writers.executions import InputsTooLarge, InvalidInputs, UnknownFlow, new_id

router = APIRouter(prefix="/executions", tags=["executions"])
_DOWNLOAD_INLINE_BYTES = 1024 * 1024
Svc = Annotated[Services, Depends(services)]
# POST /executions/{namespace}/{flow_id}: the execution, or 202 while the views catch up.
CREATED: dict[int | str, dict[str, Any]] = {
    200: {"model": ExecutionView, "description": "The execution, as its view shows it"},
    202: {
        "model": ExecutionAccepted,
        "description": "Requested; not yet in the views (read it again in a moment)",
    },
}


def execution_or_404(svc: Services, execution_id: str) -> dict[str, Any]:
    doc = svc.execution_doc(execution_id)
    if doc is None:
        raise not_found(f"execution {execution_id}")
    return doc


async def _create(
    svc: Services,
    namespace: str,
    flow_id: str,
    inputs: dict[str, Any],
    labels: dict[str, str],
    revision: int | None,
    execution_id: str | None,
    visible: bool,
) -> Response:
    """The creation is a validated command on the log, nothing more: the answer is the
    execution as created (state CREATED) once the broker has the command; with `visible`
    it waits until the views show it (read-your-writes), 202 if they are slower."""
    try:
        command = svc.executions.prepare_create(
            namespace,
            flow_id,
            inputs,
            actor=svc.actor,
            labels=labels,
            revision=revision,
            execution_id=execution_id,
        )
        created = await svc.executions.submit(svc.sends, command)
    except UnknownFlow:
        raise not_found(f"flow {namespace}.{flow_id}") from None
    except InvalidInputs as exc:
        raise ApiError(422, str(exc), errors=exc.errors) from None
    except InputsTooLarge as exc:
        raise too_large(exc) from None
    svc.mark_written(mappings.EXECUTIONS)
    svc.remember_created(created.id)
    if not visible:
        return JSONResponse(api_view(execution_doc(created)))
    doc = await run_in_threadpool(svc.wait_visible, mappings.EXECUTIONS, created.id)
    if doc is None:
        accepted = ExecutionAccepted(
            id=created.id,
            namespace=namespace,
            flowId=flow_id,
            message="accepted; not yet searchable",
        )
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202)
    return JSONResponse(api_view(doc))


@router.get("/search", response_model=ExecutionPage, **ANSWER)
def search_executions(
    svc: Svc,
    namespace: str | None = None,
    flow_id: Annotated[str | None, Query(alias="flowId")] = None,
    state: Annotated[list[State] | None, Query()] = None,
    labels: Annotated[list[str] | None, Query()] = None,
    start_date: Annotated[dt.datetime | None, Query(alias="startDate")] = None,
    end_date: Annotated[dt.datetime | None, Query(alias="endDate")] = None,
    q: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=1000)] = 25,
    sort: str | None = None,
) -> dict[str, Any]:
    filt = ExecutionFilter(
        namespace=namespace,
        flow_id=flow_id,
        states=state or [],
        labels=[label_pair(x) for x in labels or []],
        start_date=start_date,
        end_date=end_date,
        q=q,
    )
    order = parse_sort(sort, EXECUTION_SORTS, [{"state.startDate": "desc"}])
    offset = page_offset(page, size)
    svc.refresh_if_written(mappings.EXECUTIONS)
    total, docs = svc.store.search(
        mappings.EXECUTIONS, filt.query(), size=size, from_=offset, sort=order
    )
    return {"results": [api_view(d) for d in docs], "total": total}


@router.get("/{execution_id}", response_model=ExecutionView, **ANSWER)
def get_execution(
    execution_id: str,
    svc: Svc,
    as_of: Annotated[
        str | None,
        Query(
            alias="asOf",
            description=(
                "A sequence number, or an ISO-8601 time: the execution as it stood after that "
                "event, folded from its history"
            ),
        ),
    ] = None,
) -> dict[str, Any]:
    if as_of is None:
        return api_view(execution_or_404(svc, execution_id))
    try:
        point = AsOf.parse(as_of)
    except ValueError as exc:
        raise BadParameter("asOf", str(exc)) from None
    history = [decode_execution_event(e) for e in events_of(svc, execution_id)]
    try:
        state = state_as_of(history, point, now=dt.datetime.now(dt.UTC))
    except OutsideHistory as exc:
        raise ApiError(422, str(exc), lastSeq=exc.last_seq) from None
    except HistoryError as exc:
        raise ApiError(409, f"the recorded history does not fold: {exc}", seq=exc.seq) from None
    return {
        **api_view(execution_doc(state)),
        "asOf": {
            "seq": state.seq,
            "time": history[state.seq - 1].time.isoformat(),
            "lastSeq": history[-1].seq,
        },
    }


def events_of(svc: Services, execution_id: str) -> list[dict[str, Any]]:
    doc = execution_or_404(svc, execution_id)
    seq = int(doc.get("seq", 0))
    query = {"term": {"executionId": execution_id}}

    def read() -> list[dict[str, Any]]:
        _total, docs = svc.store.search(mappings.EVENTS, query, size=10_000, sort=[{"seq": "asc"}])
        return [d["event"] for d in docs]

    events = read()
    if len(events) < seq:
        # The execution doc is newer than the last search refresh of the events: the
        # events are indexed (they are written first), just not searchable yet.
        svc.store.refresh(mappings.EVENTS)
        events = read()
    return events


@router.get("/{execution_id}/events", response_model=list[ExecutionEventView], **ANSWER)
def execution_events(
    execution_id: str,
    svc: Svc,
    event_type: Annotated[
        list[str] | None,
        Query(alias="type", description=("Only events of this type; repeat for several")),
    ] = None,
) -> list[dict[str, Any]]:
    """The ordered history, each event with its id, actor, causation and correlation."""
    wanted = set(event_type or ())
    return [
        {"event_id": f"{e['execution_id']}:{e['seq']}", **e}
        for e in events_of(svc, execution_id)
        if not wanted or e.get("type") in wanted
    ]


@router.delete(
    "/{execution_id}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted from the views"}},
)
def delete_execution(execution_id: str, svc: Svc) -> Response:
    doc = execution_or_404(svc, execution_id)
    if not State(doc["state"]["current"]).is_terminal:
        raise ApiError(
            409,
            f"execution {execution_id} is {doc['state']['current']}; kill it before deleting it",
        )
    # Removes it from the views only: the log keeps the history, and a rebuild brings
    # it back.
    svc.store.delete_where(mappings.LOGS, {"term": {"executionId": execution_id}})
    svc.store.delete_where(mappings.EVENTS, {"term": {"executionId": execution_id}})
    svc.store.delete_where(mappings.EXECUTIONS, {"term": {"id": execution_id}})
    return Response(status_code=204)


@router.post("/{execution_id}/kill", status_code=202, response_model=CommandAccepted, **ANSWER)
def kill_execution(execution_id: str, svc: Svc) -> CommandAccepted:
    doc = execution_or_404(svc, execution_id)
    current = State(doc["state"]["current"])
    refused = operator_refusal(Operation.KILL, execution_id, current)
    if refused:
        raise ApiError(409, refused)
    command_id = svc.executions.kill(execution_id, svc.actor)
    return CommandAccepted(id=execution_id, commandId=command_id, state=current.value)


@router.post("/{execution_id}/pause", status_code=202, response_model=CommandAccepted, **ANSWER)
def pause_execution(execution_id: str, svc: Svc) -> CommandAccepted:
    """Kestra's pause: a RUNNING execution becomes PAUSED; what already runs on workers
    finishes, nothing new starts until POST .../resume."""
    doc = execution_or_404(svc, execution_id)
    current = State(doc["state"]["current"])
    refused = operator_refusal(Operation.PAUSE, execution_id, current)
    if refused:
        raise ApiError(409, refused)
    command_id = svc.executions.pause(execution_id, svc.actor)
    return CommandAccepted(id=execution_id, commandId=command_id, state=current.value)


@router.post(
    "/{execution_id}/resume",
    status_code=202,
    openapi_extra=INPUTS_BODY,
    response_model=CommandAccepted,
    **ANSWER,
)
async def resume_execution(execution_id: str, request: Request, svc: Svc) -> CommandAccepted:
    doc = await run_in_threadpool(execution_or_404, svc, execution_id)
    current = State(doc["state"]["current"])
    refused = operator_refusal(Operation.RESUME, execution_id, current)
    if refused:
        raise ApiError(409, refused)
    inputs = await read_inputs(request, svc.settings.limits)
    try:
        command_id = await run_in_threadpool(svc.executions.resume, execution_id, svc.actor, inputs)
    except InputsTooLarge as exc:
        raise too_large(exc) from None
    except InvalidInputs as exc:
        raise ApiError(422, str(exc), errors=exc.errors) from None
    return CommandAccepted(id=execution_id, commandId=command_id, state=current.value)


@router.get(
    "/{execution_id}/follow",
    name="follow_execution",
    response_class=EventSourceResponse,
    responses=FOLLOW_EXECUTION,
)
async def follow(execution_id: str, svc: Svc) -> EventSourceResponse:
    await run_in_threadpool(execution_or_404, svc, execution_id)
    return EventSourceResponse(follow_execution(svc, execution_id))


@router.get("/{execution_id}/file", response_class=Response, responses=FILE_DOWNLOAD)
def download_file(
    execution_id: str, svc: Svc, path: Annotated[str, Query(description="a kestra:// URI")]
) -> Response:
    """A file of this execution (a task's output file, a FILE input) from storage."""
    doc = execution_or_404(svc, execution_id)
    prefix = execution_prefix(svc.settings.tenant_id, doc["namespace"], doc["flowId"], execution_id)
    if not is_storage_uri(path) or not path.startswith(prefix) or "/../" in path or "\x00" in path:
        raise ApiError(
            422,
            f"parameter 'path': {path!r} is not a file of execution "
            f"{execution_id} (expected {prefix}...)",
        )
    headers = {"content-disposition": attachment(path.rsplit("/", 1)[-1])}
    try:
        if svc.storage.size(path) <= _DOWNLOAD_INLINE_BYTES:
            return Response(
                svc.storage.get_bytes(path), media_type="application/octet-stream", headers=headers
            )
        # A large file goes through a temporary copy, streamed: never whole in memory.
        fd, copy = tempfile.mkstemp(prefix="lanner-download-")
        os.close(fd)
        try:
            svc.storage.get_file(path, Path(copy))
        except BaseException:
            os.unlink(copy)
            raise
    except StorageError:  # missing, or a folder
        raise not_found(f"file {path}") from None
    return FileResponse(
        copy,
        media_type="application/octet-stream",
        headers=headers,
        background=BackgroundTask(os.unlink, copy),
    )


def attachment(name: str) -> str:
    """A Content-Disposition for any file name: quotes, line breaks and non-ASCII letters
    would break (or forge) the header, so the plain form gets a safe spelling and the
    exact name travels percent-encoded (RFC 6266)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


# Last: `/{namespace}/{flow_id}` would otherwise swallow `/{id}/kill`, `/{id}/pause`...
@router.post(
    "/trigger/{namespace}/{flow_id}",
    name="trigger_execution",
    description="The same as POST /executions/{namespace}/{flow_id}, at Kestra's older path",
    openapi_extra=INPUTS_BODY,
    response_model=None,
    responses=CREATED,
)
@router.post(
    "/{namespace}/{flow_id}", openapi_extra=INPUTS_BODY, response_model=None, responses=CREATED
)
async def create_execution(
    namespace: str,
    flow_id: str,
    request: Request,
    svc: Svc,
    labels: Annotated[list[str] | None, Query()] = None,
    revision: Annotated[int | None, Query(ge=1)] = None,
    visible: Annotated[
        bool,
        Query(
            description=(
                "Answer once the execution is in the views, so that a read or a search "
                "right after finds it (read-your-writes); 202 if they are slower than the "
                "API's read-your-writes timeout. Without it the answer comes as soon as "
                "the creation is on the log."
            )
        ),
    ] = False,
) -> Response:
    pairs = [label_pair(x).split(":", 1) for x in labels or []]
    # The id is chosen here so that uploaded FILE inputs are stored under it.
    execution_id = new_id()
    tenant = svc.settings.tenant_id

    def files_at(input_id: str, filename: str) -> str:
        return input_file_uri(tenant, namespace, flow_id, execution_id, input_id, filename)

    inputs = await read_inputs(request, svc.settings.limits, files_at, svc.storage)
    labelled = {k: v for k, v in pairs}
    return await _create(svc, namespace, flow_id, inputs, labelled, revision, execution_id, visible)
