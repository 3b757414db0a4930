"""The worker's port on the search store's views (executions, logs) and on the command
topic: what Count, Resume, log.Fetch and the purges use (streams/plugins/base.ViewsPort).

The views follow the log: what a task reads is as fresh as the indexer is. Purges take
documents out of the views only; the event log keeps the history, so a rebuild of the
views brings them back (as the API's DELETE of an execution does).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from projections import mappings
from projections.documents import api_view
from projections.store.client import SearchStore
from schemas.commands import ResumeExecution
from schemas.states import State

# (record key, value) -> acknowledged by the broker.
SendCommand = Callable[[str, bytes], Awaitable[None]]

_PAGE = 10_000
_TERMINAL = [s.value for s in State if s.is_terminal]


def _range(field: str, start: dt.datetime | None, end: dt.datetime | None) -> list[dict[str, Any]]:
    bounds: dict[str, str] = {}
    if start is not None:
        bounds["gte"] = start.isoformat()
    if end is not None:
        bounds["lte"] = end.isoformat()
    return [{"range": {field: bounds}}] if bounds else []


def _namespace_filter(namespace: str | None, flow_id: str | None) -> list[dict[str, Any]]:
    """Kestra's purge filter: a flow when `flowId` is set, else a namespace prefix."""
    if namespace is None:
        return []
    if flow_id is not None:
        return [{"term": {"namespace": namespace}}, {"term": {"flowId": flow_id}}]
    return [
        {
            "bool": {
                "should": [
                    {"term": {"namespace": namespace}},
                    {"prefix": {"namespace": namespace + "."}},
                ],
                "minimum_should_match": 1,
            }
        }
    ]


class SearchViews:
    def __init__(self, store: SearchStore, send: SendCommand) -> None:
        self.store = store
        self.send = send

    async def execution(self, tenant: str, execution_id: str) -> dict[str, Any] | None:
        doc = await asyncio.to_thread(self.store.get, mappings.EXECUTIONS, execution_id)
        if doc is None or doc.get("tenantId", tenant) != tenant:
            return None
        return api_view(doc)

    async def count_executions(
        self,
        tenant: str,
        flows: list[tuple[str, str]] | None,
        namespaces: list[str] | None,
        states: list[str] | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> list[tuple[str, str, int]]:
        scope: list[dict[str, Any]] = []
        if flows is not None:
            scope += [
                {"bool": {"filter": [{"term": {"namespace": ns}}, {"term": {"flowId": f}}]}}
                for ns, f in flows
            ]
        if namespaces is not None:
            scope.append({"terms": {"namespace": namespaces}})
        filters: list[dict[str, Any]] = [
            {"term": {"tenantId": tenant}},
            {"bool": {"should": scope, "minimum_should_match": 1}},
            *_range("state.startDate", start, end),
        ]
        if states:
            filters.append({"terms": {"state.current": states}})
        # Nested terms, not multi_terms: the minimal ES build has no x-pack analytics.
        aggs = {
            "namespaces": {
                "terms": {"field": "namespace", "size": _PAGE},
                "aggs": {"flows": {"terms": {"field": "flowId", "size": _PAGE}}},
            }
        }

        def run() -> dict[str, Any]:
            self.store.refresh(mappings.EXECUTIONS)
            return self.store.aggregate(mappings.EXECUTIONS, {"bool": {"filter": filters}}, aggs)

        found = await asyncio.to_thread(run)
        counted = {
            (str(ns["key"]), str(flow["key"])): int(flow["doc_count"])
            for ns in found.get("namespaces", {}).get("buckets", [])
            for flow in ns["flows"]["buckets"]
        }
        # Every flow asked for is answered, 0 when it has no execution (Kestra's way).
        ordered = [(ns, f, counted.pop((ns, f), 0)) for ns, f in flows or []]
        return ordered + [(ns, f, n) for (ns, f), n in sorted(counted.items())]

    async def logs(
        self,
        tenant: str,
        namespace: str,
        flow_id: str,
        execution_id: str,
        task_ids: list[str] | None,
        min_level: str,
    ) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [
            {"term": {"tenantId": tenant}},
            {"term": {"namespace": namespace}},
            {"term": {"flowId": flow_id}},
            {"term": {"executionId": execution_id}},
            {"range": {"levelRank": {"gte": mappings.LEVEL_RANK[min_level]}}},
        ]
        if task_ids is not None:
            filters.append({"terms": {"taskId": task_ids}})

        def run() -> list[dict[str, Any]]:
            self.store.refresh(mappings.LOGS)
            _, docs = self.store.search(
                mappings.LOGS,
                {"bool": {"filter": filters}},
                size=_PAGE,
                sort=[{"timestamp": "asc"}, {"index": "asc"}],
            )
            return docs

        return await asyncio.to_thread(run)

    async def resume(
        self, execution_id: str, command_id: str, actor: str, inputs: Mapping[str, Any]
    ) -> None:
        command = ResumeExecution(
            command_id=command_id,
            execution_id=execution_id,
            time=dt.datetime.now(dt.UTC),
            actor=actor,
            inputs=dict(inputs),
        )
        await self.send(execution_id, command.model_dump_json().encode())

    async def purge_executions(
        self,
        tenant: str,
        namespace: str | None,
        flow_id: str | None,
        states: list[str] | None,
        start: dt.datetime | None,
        end: dt.datetime,
        executions: bool,
        logs: bool,
    ) -> tuple[list[dict[str, Any]], int]:
        # Only finished executions: a running one lives on in the executor.
        wanted = [s for s in states if s in _TERMINAL] if states else _TERMINAL
        filters = [
            {"term": {"tenantId": tenant}},
            {"terms": {"state.current": wanted}},
            *_namespace_filter(namespace, flow_id),
            *_range("state.startDate", start, end),
        ]

        def run() -> tuple[list[dict[str, Any]], int]:
            self.store.refresh(mappings.EXECUTIONS)
            _, docs = self.store.search(
                mappings.EXECUTIONS, {"bool": {"filter": filters}}, size=_PAGE
            )
            purged = [{k: d.get(k) for k in ("id", "namespace", "flowId")} for d in docs]
            ids = [d["id"] for d in purged]
            lines = 0
            if ids and logs:
                lines = self.store.delete_where(mappings.LOGS, {"terms": {"executionId": ids}})
            if ids and executions:
                self.store.delete_where(mappings.EVENTS, {"terms": {"executionId": ids}})
                self.store.delete_where(mappings.EXECUTIONS, {"terms": {"id": ids}})
            return purged, lines

        return await asyncio.to_thread(run)

    async def purge_logs(
        self,
        tenant: str,
        namespace: str | None,
        flow_id: str | None,
        levels: list[str] | None,
        start: dt.datetime | None,
        end: dt.datetime,
    ) -> int:
        filters = [
            {"term": {"tenantId": tenant}},
            *_namespace_filter(namespace, flow_id),
            *_range("timestamp", start, end),
        ]
        if levels:
            filters.append({"terms": {"level": levels}})

        def run() -> int:
            total = 0
            while True:
                deleted = self.store.delete_where(mappings.LOGS, {"bool": {"filter": filters}})
                total += deleted
                if deleted < _PAGE:
                    return total

        return await asyncio.to_thread(run)
