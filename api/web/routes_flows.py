"""/api/v1/flows: YAML in, Kestra-shaped flows out; reads come from the `flows` view."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.web.errors import ApiError, not_found
from api.web.models import ANSWER, FlowProblemBody
from api.web.models_flows import (
    DEPLOYED,
    FlowAccepted,
    FlowPage,
    FlowRevision,
    FlowValidation,
    FlowView,
)
from api.web.queries import FLOW_SORTS, flow_query, page_offset, parse_sort
from api.web.services import Services, services
from projections import mappings
from projections.documents import flow_key
from streams.core import FlowProblem, ValidatedFlow
from streams.writers.flows import Deployed, FlowNotFound

router = APIRouter(prefix="/flows", tags=["flows"])

YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml", "text/plain")
_HIDDEN = ("fulltext", "labelPairs", "event")

Svc = Annotated[Services, Depends(services)]
# The body is read by yaml_body, not declared as a parameter: say what it is for the
# OpenAPI document (clients, and the fuzzing test that drives the API from it).
YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-yaml": {"schema": {"type": "string", "description": "a flow's YAML"}}
        },
    }
}


async def yaml_body(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in YAML_TYPES:
        raise ApiError(415, f"send the flow as YAML (content-type application/x-yaml), not {kind}")
    raw = await request.body()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"the flow is not UTF-8 text: {exc}") from None


def problem_bodies(problems: list[FlowProblem]) -> list[FlowProblemBody]:
    return [FlowProblemBody(path=p.path, line=p.line, message=p.message) for p in problems]


def problems_response(problems: list[FlowProblem]) -> ApiError:
    count = len(problems)
    return ApiError(
        422,
        f"the flow is invalid ({count} problem{'s' if count != 1 else ''})",
        problems=problem_bodies(problems),
    )


def flow_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


def _deploy(
    svc: Services, source: str, expect_existing: bool | None, path: tuple[str, str] | None = None
) -> Response:
    checked, _defaults = svc.flows.check(source)  # with the namespace's pluginDefaults
    if not isinstance(checked, ValidatedFlow):
        raise problems_response(checked)
    flow = checked.flow
    if path is not None and (flow.namespace, flow.id) != path:
        raise ApiError(
            422,
            f"the flow's namespace and id ({flow.namespace}.{flow.id}) differ "
            f"from the path ({path[0]}.{path[1]})",
        )
    tenant = svc.settings.tenant_id
    history = svc.catalog.history(tenant, flow.namespace, flow.id)
    exists = history is not None and not history.deleted
    if expect_existing is False and exists:
        raise ApiError(
            409,
            f"flow {flow.namespace}.{flow.id} already exists; update it with "
            f"PUT /api/v1/flows/{flow.namespace}/{flow.id}",
        )
    if expect_existing is True and not exists:
        raise not_found(f"flow {flow.namespace}.{flow.id}")
    deployed = svc.flows.deploy(source, svc.actor, wait_s=svc.settings.read_your_writes_timeout_s)
    if not isinstance(deployed, Deployed):
        raise problems_response(deployed)
    svc.mark_written(mappings.FLOWS)
    doc = svc.wait_visible(
        mappings.FLOWS,
        flow_key(tenant, deployed.namespace, deployed.flow_id),
        lambda d: int(d.get("revision", 0)) >= deployed.revision and not d.get("deleted"),
    )
    if doc is None:
        accepted = FlowAccepted(
            namespace=deployed.namespace,
            id=deployed.flow_id,
            revision=deployed.revision,
            outcome=deployed.outcome,
            message="accepted; not yet searchable",
        )
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202)
    # Read your writes in searches too: flows change rarely, a refresh costs little.
    svc.store.refresh(mappings.FLOWS)
    return JSONResponse({**flow_view(doc), "outcome": deployed.outcome})


@router.post("", openapi_extra=YAML_BODY, response_model=None, responses=DEPLOYED)
async def create_flow(svc: Svc, source: Annotated[str, Depends(yaml_body)]) -> Response:
    """Create a flow from its YAML source (409 when it exists: use PUT to update)."""
    return await run_in_threadpool(_deploy, svc, source, False)


@router.post(
    "/validate",
    name="validate_flow",
    openapi_extra=YAML_BODY,
    response_model=FlowValidation,
    **ANSWER,
)
async def validate(svc: Svc, source: Annotated[str, Depends(yaml_body)]) -> FlowValidation:
    # Off the event loop: validating a large flow takes a while, and /health must not wait.
    checked, _defaults = await run_in_threadpool(svc.flows.check, source)
    if isinstance(checked, ValidatedFlow):
        return FlowValidation(
            valid=True, namespace=checked.flow.namespace, id=checked.flow.id, problems=[]
        )
    return FlowValidation(valid=False, problems=problem_bodies(checked))


@router.get("/search", response_model=FlowPage, **ANSWER)
def search_flows(
    svc: Svc,
    q: str | None = None,
    namespace: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=1000)] = 25,
    sort: str | None = None,
) -> dict[str, Any]:
    order = parse_sort(sort, FLOW_SORTS, [{"namespace": "asc"}, {"id": "asc"}])
    offset = page_offset(page, size)
    # A search right after this API deployed or deleted a flow finds the change.
    svc.refresh_if_written(mappings.FLOWS)
    total, docs = svc.store.search(
        mappings.FLOWS, flow_query(q, namespace), size=size, from_=offset, sort=order
    )
    return {"results": [flow_view(d) for d in docs], "total": total}


@router.put(
    "/{namespace}/{flow_id}", openapi_extra=YAML_BODY, response_model=None, responses=DEPLOYED
)
async def update_flow(
    namespace: str, flow_id: str, svc: Svc, source: Annotated[str, Depends(yaml_body)]
) -> Response:
    return await run_in_threadpool(_deploy, svc, source, True, (namespace, flow_id))


@router.get("/{namespace}/{flow_id}", response_model=FlowView, **ANSWER)
def get_flow(
    namespace: str, flow_id: str, svc: Svc, revision: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    key = flow_key(svc.settings.tenant_id, namespace, flow_id)
    if revision is not None:
        doc = svc.store.get(mappings.FLOW_REVISIONS, f"{key}/{revision}")
        if doc is None:
            raise not_found(f"revision {revision} of flow {namespace}.{flow_id}")
        return flow_view(doc)
    doc = svc.store.get(mappings.FLOWS, key)
    if doc is None or doc.get("deleted"):
        raise not_found(f"flow {namespace}.{flow_id}")
    return flow_view(doc)


@router.get("/{namespace}/{flow_id}/revisions", response_model=list[FlowRevision], **ANSWER)
def flow_revisions(namespace: str, flow_id: str, svc: Svc) -> list[dict[str, Any]]:
    query = {
        "bool": {
            "filter": [
                {"term": {"tenantId": svc.settings.tenant_id}},
                {"term": {"namespace": namespace}},
                {"term": {"id": flow_id}},
            ]
        }
    }
    key = flow_key(svc.settings.tenant_id, namespace, flow_id)
    latest = svc.store.get(mappings.FLOWS, key)

    def read() -> list[dict[str, Any]]:
        return svc.store.search(
            mappings.FLOW_REVISIONS, query, size=1000, sort=[{"revision": "asc"}]
        )[1]

    docs = read()
    if latest is not None and len(docs) < int(latest.get("revision", 0)):
        # Indexed with the flow, just not searchable until the next refresh.
        svc.store.refresh(mappings.FLOW_REVISIONS)
        docs = read()
    if not docs:
        raise not_found(f"flow {namespace}.{flow_id}")
    return with_diffs([flow_view(d) for d in docs], namespace, flow_id)


def with_diffs(
    revisions: list[dict[str, Any]], namespace: str, flow_id: str
) -> list[dict[str, Any]]:
    """Each revision (in order) with the unified diff of its source from the previous one."""
    previous = ""
    out: list[dict[str, Any]] = []
    for doc in revisions:
        source = str(doc.get("source") or "")
        name = f"{namespace}/{flow_id}.yml"
        diff = difflib.unified_diff(
            previous.splitlines(keepends=True),
            source.splitlines(keepends=True),
            fromfile=f"{name}@{doc.get('revision', 1) - 1}" if previous else "/dev/null",
            tofile=f"{name}@{doc.get('revision')}",
        )
        out.append({**doc, "diff": "".join(diff)})
        previous = source
    return out


def _delete(svc: Services, namespace: str, flow_id: str) -> None:
    try:
        svc.flows.delete(namespace, flow_id, svc.actor)
    except FlowNotFound:
        raise not_found(f"flow {namespace}.{flow_id}") from None
    svc.mark_written(mappings.FLOWS)
    svc.wait_visible(
        mappings.FLOWS,
        flow_key(svc.settings.tenant_id, namespace, flow_id),
        lambda d: bool(d.get("deleted")),
    )


@router.delete(
    "/{namespace}/{flow_id}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted: the flow is gone from the views"}},
)
async def delete_flow(namespace: str, flow_id: str, svc: Svc) -> Response:
    await run_in_threadpool(_delete, svc, namespace, flow_id)
    return Response(status_code=204)
