"""io.kestra.plugin.elasticsearch.Search and Scroll: a search request, its hits' sources as
outputs or as a file.

`request` is the search body (a map, or its JSON text), `indexes` the indices (all when
absent). Search's `fetchType` says where the hits go: FETCH (`rows`), FETCH_ONE (`row`),
STORE (`uri`, a JSON-lines file of the sources) or NONE; `size` is how many hits came back
and `total` how many matched. Scroll pages through every hit with the scroll API into a
file: `size` and `uri`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from elasticsearch import Elasticsearch

from streams.plugins.base import WorkerContext
from streams.plugins.core.files import publish
from streams.plugins.elasticsearch.connection import ElasticsearchTask, EsTaskError, call, names
from streams.plugins.rows import RowWriter

FetchType = Literal["FETCH", "FETCH_ONE", "STORE", "NONE"]
_SCROLL_KEEP_ALIVE = "60s"


def request_body(request: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(request, dict):
        return request
    try:
        body = json.loads(request)
    except ValueError as exc:
        raise EsTaskError(f"`request` is not JSON: {exc}: {request[:200]!r}") from None
    if not isinstance(body, dict):
        raise EsTaskError(f"`request` must be a JSON object, got {request[:200]!r}")
    return body


def _sources(response: Any) -> list[Any]:
    return [hit.get("_source") for hit in response["hits"]["hits"]]


def _total(response: Any) -> int | None:
    total = response["hits"].get("total")
    return total.get("value") if isinstance(total, dict) else total


class _SearchTask(ElasticsearchTask):
    indexes: list[str] | None = None
    request: str | dict[str, Any]
    contentType: str = "JSON"

    def _search_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"body": request_body(self.request)}
        if self.indexes:
            args["index"] = self.indexes
        if self.routing:
            args["routing"] = self.routing
        return args


class Search(_SearchTask):
    TYPE: ClassVar[str] = "elasticsearch.Search"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Search")
    fetchType: FetchType = "FETCH"

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        response = await call(es.search, **self._search_args())
        sources = _sources(response)
        outputs: dict[str, Any] = {"total": _total(response), "size": len(sources)}
        if self.fetchType == "FETCH":
            outputs["rows"] = sources
        elif self.fetchType == "FETCH_ONE":
            outputs["row"] = sources[0] if sources else None
            outputs["size"] = 1 if sources else 0
        elif self.fetchType == "STORE":
            target = folder / "search.jsonl"
            with target.open("w", encoding="utf-8") as out:
                writer = RowWriter(out)
                for source in sources:
                    writer.write(source)
            outputs["uri"] = await publish(ctx, target, target.name)
        await ctx.log("DEBUG", f"search took {response.get('took')} ms: {len(sources)} hits")
        return outputs


class Scroll(_SearchTask):
    TYPE: ClassVar[str] = "elasticsearch.Scroll"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Scroll")

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        target = folder / "scroll.jsonl"
        count = requests = 0
        scroll_id: str | None = None
        try:
            with target.open("w", encoding="utf-8") as out:
                writer = RowWriter(out)
                response = await call(es.search, scroll=_SCROLL_KEEP_ALIVE, **self._search_args())
                while True:
                    requests += 1
                    scroll_id = response.get("_scroll_id")
                    sources = _sources(response)
                    if not sources or scroll_id is None:
                        break
                    for source in sources:
                        writer.write(source)
                    count += len(sources)
                    response = await call(es.scroll, scroll_id=scroll_id, scroll=_SCROLL_KEEP_ALIVE)
        finally:
            if scroll_id is not None:
                await _clear(ctx, es, scroll_id)
        await ctx.log("INFO", f"scrolled {count} documents in {requests} requests")
        return {"size": count, "uri": await publish(ctx, target, target.name)}


async def _clear(ctx: WorkerContext, es: Elasticsearch, scroll_id: str) -> None:
    try:
        await call(es.clear_scroll, scroll_id=scroll_id)
    except Exception as exc:  # the search already ended or failed; this is tidying up
        await ctx.log("WARN", f"Failed to clear scroll: {exc}")
