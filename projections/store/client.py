"""A small, typed face on Elasticsearch 8 for projections and the API.

Every index name a caller passes is short (`executions`); the store adds its prefix
(`lanner-main-executions`), so tenants and tests never see each other's data.
No scripts anywhere: the integ-test build of ES has no painless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, cast

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError

log = logging.getLogger(__name__)

_BULK_DOCS = 2500
_BULK_BYTES = 8 * 1024 * 1024
# Requests of one bulk_put in flight at once: Elasticsearch indexes each on its own write
# thread (one shard takes concurrent writers), so a 5,000-document batch keeps two cores
# busy instead of one while the indexer waits.
_BULK_PARALLEL = 2
_BULK_ANSWER = "items.*.status,items.*.error"
_INDEX_SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"}

Refresh = bool | Literal["wait_for"]


class StoreError(RuntimeError):
    """The search store refused or failed a request."""


@dataclass(frozen=True)
class BulkFailure:
    doc_id: str
    status: int
    reason: str


@dataclass
class BulkResult:
    written: int = 0
    # Stale versions (409): the view already holds this or a newer event, as intended.
    skipped: int = 0
    failures: list[BulkFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class SearchStore:
    def __init__(self, url: str, index_prefix: str, *, request_timeout_s: float = 30.0) -> None:
        if index_prefix != index_prefix.lower() or not index_prefix:
            raise ValueError(f"index prefix {index_prefix!r} must be non-empty lower case")
        self.url = url
        self.index_prefix = index_prefix
        self._es = Elasticsearch(url, request_timeout=request_timeout_s)
        self._pool: ThreadPoolExecutor | None = None  # bulk requests in parallel
        self._slow_encode = self._es.transport.serializers.get_serializer("application/json").dumps

    def full_name(self, name: str) -> str:
        return f"{self.index_prefix}-{name}"

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until the cluster is yellow or green.

        Uses /_cluster/health: `info()` (GET /) answers 405 on the minimal ES build.
        """
        deadline = time.monotonic() + timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            try:
                health = self._es.cluster.health(wait_for_status="yellow", timeout="1s")
                if health.get("status") in ("green", "yellow"):
                    return
                last_error = f"status {health.get('status')}"
            except (TransportConnectionError, ConnectionTimeout, ApiError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise StoreError(f"{self.url} not ready after {timeout_s:.0f} s: {last_error}")

    def ensure_index(self, name: str, mappings: dict[str, Any]) -> str:
        """Create `{prefix}-{name}` when missing; return its full name. Idempotent."""
        index = self.full_name(name)
        if self._es.indices.exists(index=index):
            return index
        try:
            self._es.indices.create(index=index, settings=_INDEX_SETTINGS, mappings=mappings)
            log.info("index created", extra={"index": index})
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":  # lost a benign race
                raise StoreError(f"creating index {index}: {exc}") from exc
        return index

    def bulk_put(
        self,
        index: str,
        docs: Iterable[tuple[str, int, dict[str, Any]]],
        *,
        refresh: Refresh = False,
    ) -> BulkResult:
        """Index documents with external versions: only a newer version replaces a doc.

        Writing events again is therefore harmless; a repeated one comes back as `skipped`.
        """
        full = self.full_name(index)
        result = BulkResult()
        requests = list(self._bulk_bodies(full, docs))
        if len(requests) > 1:
            answers = list(
                self._bulk_pool().map(lambda r: self._send_bulk(r[1], refresh), requests)
            )
        else:
            answers = [self._send_bulk(operations, refresh) for _ids, operations in requests]
        for (ids, _operations), items in zip(requests, answers, strict=True):
            for doc_id, item in zip(ids, items, strict=True):
                outcome = item["index"]
                status = int(outcome.get("status", 0))
                if status in (200, 201):
                    result.written += 1
                elif status == 409:
                    result.skipped += 1
                else:
                    error = outcome.get("error", {})
                    reason = (
                        f"{error.get('type')}: {error.get('reason')}"
                        if isinstance(error, dict)
                        else str(error)
                    )
                    result.failures.append(BulkFailure(doc_id, status, reason))
        if result.failures:
            log.warning(
                "bulk failures",
                extra={
                    "index": full,
                    "failed": len(result.failures),
                    "first": result.failures[0].reason,
                },
            )
        return result

    def _send_bulk(self, operations: list[bytes], refresh: Refresh) -> list[dict[str, Any]]:
        """One bulk request; its items' statuses and errors, in request order (the answer
        is cut to those: a 5,000-document answer was measured costing the indexer as much
        to parse as its body to build)."""
        # Pre-encoded lines: the client forwards bytes as they are (NDJSON).
        response = self._es.bulk(
            operations=cast(Any, operations), refresh=refresh, filter_path=_BULK_ANSWER
        )
        return list(response.get("items", ()))

    def _bulk_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_BULK_PARALLEL, thread_name_prefix="bulk")
        return self._pool

    def _bulk_bodies(
        self, full: str, docs: Iterable[tuple[str, int, dict[str, Any]]]
    ) -> Iterator[tuple[list[str], list[bytes]]]:
        """The bulk requests' document ids and lines, cut at _BULK_DOCS documents or
        _BULK_BYTES bytes.

        Measured (bench/log_indexing.py, 100,000 log lines): at 500 records a batch and
        1,000 documents a request the indexer spent its time on requests, each paying its
        round trip and its translog fsync; few large requests cost far less per document.
        The byte bound keeps a batch of large execution documents to a sane request."""
        ids: list[str] = []
        lines: list[bytes] = []
        size = 0
        for doc_id, version, body in docs:
            header = {"_index": full, "_id": doc_id, "version": version}
            ids.append(doc_id)
            lines.append(self._encode({"index": {**header, "version_type": "external"}}))
            lines.append(self._encode(body))
            size += len(lines[-1]) + len(lines[-2])
            if len(ids) >= _BULK_DOCS or size >= _BULK_BYTES:
                yield ids, lines
                ids, lines, size = [], [], 0
        if lines:
            yield ids, lines

    def _encode(self, value: dict[str, Any]) -> bytes:
        """orjson (measured: the stdlib encoder was a fifth of the indexer's time on a log
        backlog); what it refuses (an integer past 64 bits in a task's output, a key that
        is not a string) goes through the client's own encoder, as before."""
        try:
            return orjson.dumps(value)
        except (orjson.JSONEncodeError, TypeError):
            return self._slow_encode(value)

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        """The document's source, or None when there is no such document."""
        try:
            found = self._es.get(index=self.full_name(index), id=doc_id)
        except NotFoundError as exc:
            if exc.error == "index_not_found_exception":
                raise StoreError(f"index {self.full_name(index)} does not exist") from exc
            return None
        source: dict[str, Any] = found["_source"]
        return source

    def get_many(self, index: str, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Sources of the documents that exist among `doc_ids`, in one round trip."""
        if not doc_ids:
            return {}
        response = self._es.mget(index=self.full_name(index), ids=doc_ids)
        return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}

    def aggregate(
        self, index: str, query: dict[str, Any] | None, aggs: dict[str, Any]
    ) -> dict[str, Any]:
        """Run `aggs` over the matches of `query`; return the `aggregations` part."""
        response = self._es.search(
            index=self.full_name(index), query=query or {"match_all": {}}, aggs=aggs, size=0
        )
        result: dict[str, Any] = response.get("aggregations", {})
        return result

    def delete_where(self, index: str, query: dict[str, Any], *, limit: int = 10_000) -> int:
        """Delete up to `limit` matches of `query`; return how many were deleted.

        Search then bulk delete: delete_by_query lives in the reindex module, which the
        minimal ES build lacks.
        """
        full = self.full_name(index)
        # Recent documents are not searchable before a refresh; they must go too.
        self._es.indices.refresh(index=full)
        response = self._es.search(index=full, query=query, size=limit, source=False)
        ids = [hit["_id"] for hit in response["hits"]["hits"]]
        if not ids:
            return 0
        result = self._es.bulk(
            operations=[{"delete": {"_index": full, "_id": doc_id}} for doc_id in ids], refresh=True
        )
        return sum(1 for item in result["items"] if item["delete"].get("status") == 200)

    def healthy(self) -> tuple[bool, str]:
        """(usable, cluster status or error), for health checks; never raises."""
        try:
            status = str(self._es.cluster.health(timeout="2s").get("status"))
        except Exception as exc:  # a health check reports, it does not fail
            return False, str(exc)
        return status in ("green", "yellow"), status

    def search(
        self,
        index: str,
        query: dict[str, Any] | None = None,
        *,
        size: int = 10,
        from_: int = 0,
        sort: list[Any] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(exact total of matches, sources of the requested page)."""
        response = self._es.search(
            index=self.full_name(index),
            query=query or {"match_all": {}},
            size=size,
            from_=from_,
            sort=sort,
            track_total_hits=True,
        )
        hits = response["hits"]
        return int(hits["total"]["value"]), [hit["_source"] for hit in hits["hits"]]

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        response = self._es.count(index=self.full_name(index), query=query or {"match_all": {}})
        return int(response["count"])

    def refresh(self, index: str) -> None:
        self._es.indices.refresh(index=self.full_name(index))

    def exists(self, name: str) -> bool:
        """Whether `name` is an index or an alias."""
        return bool(self._es.indices.exists(index=self.full_name(name)))

    def is_alias(self, name: str) -> bool:
        return bool(self._alias_targets(self.full_name(name)))

    def delete_index(self, name: str) -> None:
        """Delete the index if it exists (idempotent); for an alias, the indices it names.

        ES refuses to delete through an alias, and a view's name is an alias.
        """
        targets = self._alias_targets(self.full_name(name))
        for index in targets or [self.full_name(name)]:
            self._es.indices.delete(index=index, ignore_unavailable=True)

    def point_alias(self, alias: str, index: str) -> None:
        """Make `alias` name `index` only, in one atomic step (how a rebuilt view goes live)."""
        self.point_aliases({alias: index})

    def point_aliases(self, pairs: dict[str, str]) -> None:
        """Point every alias to its index in ONE atomic request: readers see all the old
        views or all the new ones, never a mix.

        An alias whose name is still taken by a concrete index (a view created before
        views had aliases) replaces that index in the same request (`remove_index`).
        """
        actions: list[dict[str, Any]] = []
        for alias, index in pairs.items():
            full_alias, full_index = self.full_name(alias), self.full_name(index)
            targets = self._alias_targets(full_alias)
            # `exists` is also true for an alias (another process may have just made it):
            # only a concrete index of that name is replaced.
            concrete = (
                not targets
                and self._es.indices.exists(index=full_alias)
                and not self._es.indices.exists_alias(name=full_alias)
            )
            if concrete:
                actions.append({"remove_index": {"index": full_alias}})
            actions.extend(
                {"remove": {"index": current, "alias": full_alias}}
                for current in targets
                if current != full_index
            )
            actions.append({"add": {"index": full_index, "alias": full_alias}})
        self._es.indices.update_aliases(actions=actions)
        log.info(
            "aliases pointed",
            extra={"aliases": {self.full_name(a): self.full_name(i) for a, i in pairs.items()}},
        )

    def index_for_alias(self, alias: str) -> str | None:
        """The short name of the index `alias` points to, or None when it points nowhere."""
        targets = self._alias_targets(self.full_name(alias))
        if not targets:
            return None
        if len(targets) > 1:
            raise StoreError(
                f"alias {self.full_name(alias)} points to several indices: {sorted(targets)}"
            )
        return targets[0].removeprefix(f"{self.index_prefix}-")

    def _alias_targets(self, full_alias: str) -> list[str]:
        try:
            response = self._es.indices.get_alias(name=full_alias)
        except NotFoundError:
            return []
        return sorted(response.keys())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._es.close()

    def __enter__(self) -> SearchStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
