"""Search parameters -> Elasticsearch queries (pure, so every filter is unit-tested)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.mappings import LEVEL_RANK
from schemas.states import State

EXECUTION_SORTS = {
    "state.startDate",
    "state.endDate",
    "state.duration",
    "namespace",
    "flowId",
    "state.current",
    "id",
}
FLOW_SORTS = {"namespace", "id", "revision", "updated"}


# Elasticsearch's index.max_result_window (our indices keep the default): from + size
# of a search may not pass it.
MAX_RESULT_WINDOW = 10_000


class BadParameter(ValueError):
    """A query parameter that cannot be used; named so the 422 can say which one."""

    status = 422

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"invalid parameter {name!r}: {message}")
        self.name = name
        self.message = message


class PageTooDeep(BadParameter):
    """A page the search index cannot serve: a 400 that names the limit."""

    status = 400


def page_offset(page: int, size: int) -> int:
    """The `from` of a page (pages count from 1), or PageTooDeep past the result window."""
    if page * size > MAX_RESULT_WINDOW:
        raise PageTooDeep(
            "page",
            f"page {page} of size {size} ends past result "
            f"{MAX_RESULT_WINDOW}, the most a search can page through "
            "(Elasticsearch's index.max_result_window); narrow the search "
            "with filters or dates, or reverse the sort",
        )
    return (page - 1) * size


def as_utc(when: dt.datetime, name: str) -> dt.datetime:
    """A time in UTC; one without an offset is taken as UTC. Any offset Python reads
    (up to +/-23:59) works; BadParameter when the UTC time falls outside years 1-9999."""
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:
        raise BadParameter(name, f"{when.isoformat()} is out of range once in UTC") from None


def utc_iso(when: dt.datetime, name: str) -> str:
    """A time as UTC ISO-8601 for the search store, which takes offsets only up to
    +/-18:00 (Java's ZoneOffset)."""
    return as_utc(when, name).isoformat()


def namespace_filter(namespace: str) -> dict[str, Any]:
    # Kestra's prefix semantics: `company` finds `company` and `company.team`, never
    # `companyx`.
    return {
        "bool": {
            "should": [
                {"term": {"namespace": namespace}},
                {"prefix": {"namespace": f"{namespace}."}},
            ],
            "minimum_should_match": 1,
        }
    }


def label_pair(raw: str, name: str = "labels") -> str:
    key, sep, value = raw.partition(":")
    if not sep or not key:
        raise BadParameter(name, f"{raw!r} is not key:value")
    return f"{key}:{value}"


def sort_order(raw: str, allowed: Sequence[str]) -> list[tuple[str, bool]]:
    """Kestra's `sort=field:asc|desc[,field:...]` as (field, descending) pairs; `allowed`
    in the order the 422 lists them."""
    result: list[tuple[str, bool]] = []
    for part in raw.split(","):
        fieldname, _, order = part.strip().partition(":")
        order = order or "asc"
        if fieldname not in allowed:
            raise BadParameter(
                "sort", f"cannot sort by {fieldname!r}; use one of {', '.join(allowed)}"
            )
        if order not in ("asc", "desc"):
            raise BadParameter("sort", f"order {order!r} must be asc or desc")
        result.append((fieldname, order == "desc"))
    return result


def parse_sort(raw: str | None, allowed: set[str], default: list[Any]) -> list[Any]:
    if not raw:
        return default
    return [
        {fieldname: {"order": "desc" if descending else "asc", "unmapped_type": "keyword"}}
        for fieldname, descending in sort_order(raw, sorted(allowed))
    ]


@dataclass(frozen=True)
class ExecutionFilter:
    namespace: str | None = None
    flow_id: str | None = None
    states: list[State] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    q: str | None = None

    def query(self) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        if self.namespace:
            filters.append(namespace_filter(self.namespace))
        if self.flow_id:
            filters.append({"term": {"flowId": self.flow_id}})
        if self.states:
            filters.append({"terms": {"state.current": [s.value for s in self.states]}})
        for pair in self.labels:
            filters.append({"term": {"labelPairs": label_pair(pair)}})
        if self.start_date or self.end_date:
            bounds: dict[str, str] = {}
            if self.start_date:
                bounds["gte"] = utc_iso(self.start_date, "startDate")
            if self.end_date:
                bounds["lte"] = utc_iso(self.end_date, "endDate")
            filters.append({"range": {"state.startDate": bounds}})
        must: list[dict[str, Any]] = []
        if self.q:
            must.append(
                {
                    "bool": {
                        "should": [
                            {"match": {"fulltext": {"query": self.q, "operator": "and"}}},
                            {"term": {"id": self.q}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        return {"bool": {"filter": filters, "must": must}}


def flow_query(
    q: str | None, namespace: str | None, include_deleted: bool = False
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if not include_deleted:
        filters.append({"term": {"deleted": False}})
    if namespace:
        filters.append(namespace_filter(namespace))
    must: list[dict[str, Any]] = []
    if q:
        must.append(
            {
                "bool": {
                    "should": [
                        {"match": {"fulltext": {"query": q, "operator": "and"}}},
                        {"match": {"source": {"query": q, "operator": "and"}}},
                        {"prefix": {"id": q}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    return {"bool": {"filter": filters, "must": must}}


def log_query(
    execution_id: str, task_id: str | None, min_level: str | None, q: str | None
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"term": {"executionId": execution_id}}]
    if task_id:
        filters.append({"term": {"taskId": task_id}})
    if min_level:
        rank = LEVEL_RANK.get(min_level.upper())
        if rank is None:
            raise BadParameter("minLevel", f"{min_level!r} is not one of {', '.join(LEVEL_RANK)}")
        filters.append({"range": {"levelRank": {"gte": rank}}})
    must: list[dict[str, Any]] = []
    if q:
        must.append({"match": {"message": {"query": q, "operator": "and"}}})
    return {"bool": {"filter": filters, "must": must}}


LOG_SORT: list[Any] = [
    {"timestamp": "asc"},
    {"attemptNumber": {"order": "asc", "unmapped_type": "integer"}},
    {"index": "asc"},
]
