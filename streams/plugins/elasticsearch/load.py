"""io.kestra.plugin.elasticsearch.Bulk and Load: a file of the internal storage into
Elasticsearch, `chunk` operations per bulk request (1000 by default). Output: `size`.

Bulk's file is the bulk API's own: an action line (`{"index": {"_index": ..., "_id": ...}}`,
`create`, `update` (an upsert of the next line, as in Kestra) or `delete`), then the
document line (not for delete). Load's file has one document a line, indexed into `index`,
its id taken from the `idKey` field (removed from the document unless `removeIdKey: false`).
Files are JSON lines, or Ion as Kestra writes them (streams/plugins/rows.py).

A line that does not parse fails the task with its number; a document Elasticsearch
refuses fails it with the server's reason and the line it came from. Chunks already sent
stay indexed (as with Kestra): give documents ids so that a retry overwrites them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from elasticsearch import Elasticsearch
from pydantic import Field

from streams.plugins.base import WorkerContext
from streams.plugins.core.files import fetch
from streams.plugins.elasticsearch.connection import ElasticsearchTask, EsTaskError, names
from streams.plugins.rows import RowFormatError, read_lines, read_rows

_SHOWN_ERRORS = 10
_ACTIONS = ("index", "create", "update", "delete")


@dataclass
class Operation:
    """One bulk operation: its NDJSON lines and the file line it came from."""

    line: int
    lines: list[str]


@dataclass
class _Sent:
    records: int = 0
    requests: int = 0
    took_ms: int = 0
    errors: list[str] = field(default_factory=list)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _LoadTask(ElasticsearchTask):
    from_: str = Field(alias="from")
    chunk: int = Field(default=1000, ge=1)

    def operations(self, path: Path) -> Iterator[Operation]:
        raise NotImplementedError

    async def work(self, ctx: WorkerContext, es: Elasticsearch, folder: Path) -> dict[str, Any]:
        path = await fetch(ctx, self.from_, folder / "from")
        sent = await asyncio.to_thread(self._send, es, path)
        await ctx.log(
            "INFO",
            f"Successfully send {sent.requests} requests for {sent.records} records"
            f" in {sent.took_ms} ms",
        )
        return {"size": sent.records}

    def _send(self, es: Elasticsearch, path: Path) -> _Sent:
        sent = _Sent()
        batch: list[Operation] = []
        for operation in self.operations(path):
            batch.append(operation)
            if len(batch) >= self.chunk:
                self._bulk(es, batch, sent)
                batch = []
        if batch:
            self._bulk(es, batch, sent)
        return sent

    def _bulk(self, es: Elasticsearch, batch: list[Operation], sent: _Sent) -> None:
        # Lines of JSON text go through the client's NDJSON serializer unchanged.
        body: Any = [line for operation in batch for line in operation.lines]
        options: dict[str, Any] = {"routing": self.routing} if self.routing else {}
        response = es.bulk(operations=body, **options)
        sent.requests += 1
        sent.records += len(batch)
        sent.took_ms += int(response.get("took", 0))
        if response.get("errors"):
            failed = _failures(response["items"], batch)
            shown = "\n".join(failed[:_SHOWN_ERRORS])
            more = len(failed) - _SHOWN_ERRORS
            tail = f"\n... and {more} more" if more > 0 else ""
            raise EsTaskError(f"Indexer failed bulk:\n{shown}{tail}")


def _failures(items: list[dict[str, Any]], batch: list[Operation]) -> list[str]:
    found = []
    for item, operation in zip(items, batch, strict=False):
        result = next(iter(item.values()))
        error = result.get("error")
        if error is None:
            continue
        reason = error.get("reason", error) if isinstance(error, dict) else error
        kind = error.get("type", "error") if isinstance(error, dict) else "error"
        found.append(
            f"line {operation.line}: {result.get('_index')}: {result.get('status')}"
            f" - {kind}: {reason}"
        )
    return found


class Bulk(_LoadTask):
    TYPE: ClassVar[str] = "elasticsearch.Bulk"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Bulk")

    def operations(self, path: Path) -> Iterator[Operation]:
        # A JSON line is sent as it is written; an Ion one as the JSON of its value.
        lines = read_lines(path)
        for line in lines:
            number, action = line.number, line.value
            if not (
                isinstance(action, dict) and len(action) == 1 and next(iter(action)) in _ACTIONS
            ):
                raise RowFormatError(
                    f"line {number}: Invalid bulk request type on '{line.text[:200]}'"
                )
            kind, meta = next(iter(action.items()))
            if not isinstance(meta, dict):
                raise RowFormatError(f"line {number}: `{kind}` must name a map of metadata")
            head = line.text if line.is_json else _compact(action)
            if kind == "delete":
                yield Operation(number, [head])
                continue
            document = next(lines, None)
            if document is None:
                raise RowFormatError(f"line {number}: `{kind}` has no document line after it")
            doc = document.value
            if not isinstance(doc, dict):
                raise RowFormatError(
                    f"line {document.number} is not a document: {document.text[:200]!r}"
                )
            if kind == "update":
                yield Operation(number, [head, _compact({"doc": doc, "doc_as_upsert": True})])
            else:
                yield Operation(
                    number, [head, document.text if document.is_json else _compact(doc)]
                )


class Load(_LoadTask):
    TYPE: ClassVar[str] = "elasticsearch.Load"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = names("Load")
    index: str
    opType: Literal["INDEX", "CREATE"] | None = None
    idKey: str | None = None
    removeIdKey: bool = True

    def operations(self, path: Path) -> Iterator[Operation]:
        action = "create" if self.opType == "CREATE" else "index"
        for number, row in read_rows(path):
            if not isinstance(row, dict):
                raise RowFormatError(f"line {number} is not a document: {row!r:.200}")
            meta: dict[str, Any] = {"_index": self.index}
            if self.idKey is not None:
                if row.get(self.idKey) is None:
                    raise EsTaskError(f"line {number}: no `{self.idKey}` field for the id")
                meta["_id"] = str(row[self.idKey])
                if self.removeIdKey:
                    row = {k: v for k, v in row.items() if k != self.idKey}
            yield Operation(number, [_compact({action: meta}), _compact(row)])
