"""/api/v1/audit: who did what, when, over every flow and execution event (the `audit`
view, fed by the indexer)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.web.models import ANSWER
from api.web.models_ops import AuditPage
from api.web.queries import BadParameter, as_utc, namespace_filter, page_offset, utc_iso
from api.web.services import Services, services
from projections.audit import AUDIT

router = APIRouter(prefix="/audit", tags=["audit"])
Svc = Annotated[Services, Depends(services)]


def audit_query(
    actor: str | None,
    types: list[str],
    namespace: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if actor:
        filters.append({"term": {"actor": actor}})
    if types:
        filters.append({"terms": {"type": types}})
    if namespace:
        filters.append(namespace_filter(namespace))
    if start and end and as_utc(start, "from") > as_utc(end, "to"):
        raise BadParameter("from", "must not be after `to`")
    bounds = {
        op: utc_iso(when, name)
        for op, when, name in (("gte", start, "from"), ("lte", end, "to"))
        if when
    }
    if bounds:
        filters.append({"range": {"time": bounds}})
    return {"bool": {"filter": filters}}


@router.get("", response_model=AuditPage, **ANSWER)
def search_audit(
    svc: Svc,
    actor: str | None = None,
    event_type: Annotated[list[str] | None, Query(alias="type")] = None,
    namespace: str | None = None,
    start: Annotated[dt.datetime | None, Query(alias="from")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Events by actor, type, namespace (prefix) and time, oldest first, paged."""
    query = audit_query(actor, event_type or [], namespace, start, end)
    total, docs = svc.store.search(
        AUDIT,
        query,
        size=size,
        from_=page_offset(page, size),
        sort=[{"time": "asc"}, {"id": "asc"}],
    )
    return {"results": docs, "total": total, "page": page, "size": size}
