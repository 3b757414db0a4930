"""io.kestra.plugin.elasticsearch.Get, Put and Request: one document, or one call.

Get: the document `key` of `index` as `row` (null when missing, or a failure with
`errorOnMissing`). Put: `value` (a map or its JSON text) indexed as `key` (or a new id)
with `opType` INDEX or CREATE and `refreshPolicy`; outputs `id`, `result` (Kestra's names:
Created, Updated...) and `version`. Request: any call (`method`, `endpoint`, `parameters`,
`body`); outputs `status` and `response` (parsed when JSON). A status of 400 or more fails
the task with the server's message, as Kestra's low-level client does.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from elasticsearch import Elasticsearch, NotFoundError

from streams.plugins.base import WorkerContext
from streams.plugins.elasticsearch.connection import ElasticsearchTask, EsTaskError, call, names

# The Java client's Result enum, which Kestra's outputs carry by name.
_RESULTS = {
    "created": "Created",
    "updated": "Updated",
    "deleted": "Deleted",
    "not_found": "NotFound",
    "noop": "NoOp",
}
_REFRESH = {"IMMEDIATE": "true", "WAIT_UNTIL": "wait_for", "NONE": "false"}


class Get(ElasticsearchTask):
    TYPE: ClassVar[str] = "elasticsearch.Get"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Get")
    index: str
    key: str
    docVersion: int | None = None
    errorOnMissing: bool = False

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        args: dict[str, Any] = {"index": self.index, "id": self.key}
        if self.docVersion is not None:
            args["version"] = self.docVersion
        if self.routing:
            args["routing"] = self.routing
        try:
            response = await call(es.get, **args)
            source = response.get("_source") if response.get("found") else None
        except NotFoundError as exc:
            # A missing document is a 404 with `found: false`; a missing index is an error.
            if not isinstance(exc.body, dict) or exc.body.get("found") is not False:
                raise
            source = None
        if source is None and self.errorOnMissing:
            raise EsTaskError(f"Document with key '{self.key}' not found in index '{self.index}'")
        return {"row": source}


class Put(ElasticsearchTask):
    TYPE: ClassVar[str] = "elasticsearch.Put"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Put")
    index: str
    opType: Literal["INDEX", "CREATE"] | None = None
    key: str | None = None
    value: str | dict[str, Any]
    refreshPolicy: Literal["IMMEDIATE", "WAIT_UNTIL", "NONE"] = "NONE"
    contentType: str = "JSON"

    def _document(self) -> dict[str, Any]:
        if isinstance(self.value, dict):
            return self.value
        try:
            document = json.loads(self.value)
        except ValueError as exc:
            raise EsTaskError(f"`value` is not JSON: {exc}: {self.value[:200]!r}") from None
        if not isinstance(document, dict):
            raise EsTaskError(f"`value` must be a JSON object, got {self.value[:200]!r}")
        return document

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        args: dict[str, Any] = {
            "index": self.index,
            "document": self._document(),
            "refresh": _REFRESH[self.refreshPolicy],
        }
        if self.key is not None:
            args["id"] = self.key
        if self.opType is not None:
            args["op_type"] = self.opType.lower()
        if self.routing:
            args["routing"] = self.routing
        response = await call(es.index, **args)
        result = _RESULTS.get(response["result"], response["result"])
        await ctx.log("DEBUG", f"{result} document {response['_id']} in {self.index}")
        return {"id": response["_id"], "result": result, "version": response["_version"]}


class Request(ElasticsearchTask):
    TYPE: ClassVar[str] = "elasticsearch.Request"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Request")
    method: Literal[
        "CONNECT", "CUSTOM", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"
    ] = "GET"
    endpoint: str
    parameters: dict[str, str] | None = None
    body: str | dict[str, Any] | list[Any] | None = None

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        headers = {"accept": "application/json"}
        if self.body is not None:
            headers["content-type"] = "application/json"
        body = self.body if not isinstance(self.body, str) else self.body.encode()
        endpoint = self.endpoint if self.endpoint.startswith("/") else f"/{self.endpoint}"
        response = await call(
            es.perform_request,
            self.method,
            endpoint,
            params=self.parameters or None,
            headers=headers,
            body=body,
        )
        warning = response.meta.headers.get("warning")
        if warning:
            await ctx.log("WARN", warning)
        data = response.body
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        if isinstance(data, str) and data.strip().startswith(("{", "[")):
            with contextlib.suppress(ValueError):  # not JSON after all: kept as text
                data = json.loads(data)
        return {"status": response.meta.status, "response": data}
