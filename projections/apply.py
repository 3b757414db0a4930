"""Records -> documents -> bulk writes, with retries: the one projection code path.

The live indexer and a rebuild both hand consumed records to a `ViewWriter`; they differ
only in where the documents go. The live indexer writes each view through its alias
(`executions`); a rebuild writes into the fresh physical index it is filling
(`executions-v2`), and only into the views it rebuilds. Keeping a single path means a
rebuilt view is, by construction, what the live indexer would have written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from projections import mappings
from projections.batch import BatchProjector, RawRecord, Writes
from projections.execution_fold import ExecutionFolder, state_from_doc
from projections.store.client import SearchStore
from projections.trigger_fold import FoldedTrigger, TriggerFolder, folded_from_doc
from schemas.execution import Execution
from streams.log.topics import Topics

log = logging.getLogger(__name__)

_RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class IndexerStats:
    records: int = 0
    written: int = 0
    skipped: int = 0
    malformed: int = 0
    batches: int = 0
    # Seconds spent projecting and writing (the rest of the loop is Kafka).
    project_s: float = 0.0
    write_s: float = 0.0
    # Per view (short name): documents written and seconds spent in its bulk requests.
    written_by_view: dict[str, int] = field(default_factory=dict)
    write_s_by_view: dict[str, float] = field(default_factory=dict)


class TransientWriteError(RuntimeError):
    """ES refused part of a batch for a reason that may pass (overload, node down)."""


class ViewWriter:
    """Project batches of records and write them, retrying until they are written.

    `targets` maps a view's short name to the index name to write it to; views absent
    from it are projected but not written. None writes every view through its alias.
    Lookups (stored execution states, last flow sources) read where the view is written,
    or through the alias for a view that is not being written.
    """

    def __init__(
        self, store: SearchStore, topics: Topics, targets: Mapping[str, str] | None = None
    ) -> None:
        self.store = store
        self.targets: dict[str, str] = (
            dict(targets) if targets is not None else {name: name for name in mappings.MAPPINGS}
        )
        self.folder = ExecutionFolder(self._load_states)
        self.trigger_folder = TriggerFolder(self._load_triggers)
        self.projector = BatchProjector(
            topics, self.folder, self._stored_source, self.trigger_folder
        )
        self.stats = IndexerStats()

    def _read_index(self, view: str) -> str:
        return self.targets.get(view, view)

    # --- lookups in the view, used on a cache miss -----------------------------------

    def _load_states(self, ids: list[str]) -> dict[str, Execution]:
        found: dict[str, Execution] = {}
        for doc_id, doc in self.store.get_many(self._read_index(mappings.EXECUTIONS), ids).items():
            state = state_from_doc(doc)
            if state is not None:
                found[doc_id] = state
        return found

    def _load_triggers(self, keys: list[str]) -> dict[str, FoldedTrigger]:
        found: dict[str, FoldedTrigger] = {}
        for key, doc in self.store.get_many(self._read_index(mappings.TRIGGERS), keys).items():
            folded = folded_from_doc(doc)
            if folded is not None:
                found[key] = folded
        return found

    def forget(self) -> None:
        """Forget the folds in memory: the views are the truth to restart from."""
        self.folder.clear()
        self.trigger_folder.clear()

    def _stored_source(self, key: str) -> tuple[int, str] | None:
        doc = self.store.get(self._read_index(mappings.FLOWS), key)
        if doc is None or not isinstance(doc.get("source"), str):
            return None
        return int(doc.get("revision") or 0), doc["source"]

    # --- projecting and writing --------------------------------------------------------

    def apply(self, records: list[RawRecord], stop: threading.Event) -> None:
        """Project and write `records`; retry with backoff until written or `stop`."""
        attempt = 0
        while True:
            try:
                begun = time.perf_counter()
                writes = self.projector.project(records)
                projected = time.perf_counter()
                self._write(writes)
                self.stats.project_s += projected - begun
                self.stats.write_s += time.perf_counter() - projected
            except Exception as exc:
                # Memory may now be ahead of the view: forget it, the view is the truth.
                self.forget()
                delay = _RETRY_BACKOFF_S[min(attempt, len(_RETRY_BACKOFF_S) - 1)]
                log.warning(
                    "batch not written; retrying",
                    extra={
                        "records": len(records),
                        "attempt": attempt + 1,
                        "error": str(exc)[:500],
                        "retry_in_s": delay,
                    },
                )
                attempt += 1
                if stop.wait(delay):
                    raise
                continue
            self.stats.records += len(records)
            self.stats.malformed += writes.malformed
            self.stats.batches += 1
            return

    def _write(self, writes: Writes) -> None:
        for view, docs in writes.docs.items():
            index = self.targets.get(view)
            if not docs or index is None:
                continue
            begun = time.perf_counter()
            result = self.store.bulk_put(index, docs)
            stats = self.stats
            stats.written += result.written
            stats.skipped += result.skipped
            stats.written_by_view[view] = stats.written_by_view.get(view, 0) + result.written
            stats.write_s_by_view[view] = (
                stats.write_s_by_view.get(view, 0.0) + time.perf_counter() - begun
            )
            transient = [f for f in result.failures if f.status == 429 or f.status >= 500]
            if transient:
                raise TransientWriteError(
                    f"{len(transient)} documents refused by {index}: {transient[0].reason}"
                )
            for failure in result.failures:
                # A document ES will never take (4xx) must not stop the view for good.
                log.error(
                    "document refused; skipped",
                    extra={
                        "index": index,
                        "doc_id": failure.doc_id,
                        "status": failure.status,
                        "reason": failure.reason,
                    },
                )


__all__ = ["IndexerStats", "TransientWriteError", "ViewWriter"]
