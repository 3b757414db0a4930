"""The executor's table of records, kept in parts (streams/core/record_parts.py).

The Faust table holds the parts, as its changelog does; the whole records of the
executions this process works on are kept beside it, so that an input neither reassembles
nor re-parses its execution. That cache is dropped whenever partitions move (another
executor may have moved those executions on meanwhile) and refilled from the parts.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from schemas.events import ExecutionEvent
from streams.core.handle import ExecutorRecord
from streams.core.record_parts import (
    SEPARATOR,
    InputPart,
    Layout,
    RecordHead,
    TaskRunPart,
    assemble,
    every_key,
    head_key,
    is_head_key,
    writes,
)
from streams.core.walk_memo import WalkMemo

log = logging.getLogger("lanner.executor")

_PART_TYPES: dict[str, type[BaseModel]] = {"run": TaskRunPart, "input": InputPart}


class RecordTable:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._cache: dict[str, tuple[ExecutorRecord, Layout | None]] = {}
        # What the walk learnt of each execution worked on here, dropped with the cache.
        self._memos: dict[str, WalkMemo] = {}

    def get(self, execution_id: str) -> ExecutorRecord | None:
        cached = self._cache.get(execution_id)
        if cached is not None:
            return cached[0]
        if not is_head_key(execution_id):
            return None
        value = self.table.get(head_key(execution_id).encode())
        if value is None:
            return None
        try:
            record, layout = self._read_back(execution_id, value)
        except (KeyError, ValueError):
            # Never a reason to stop the executor (this runs in its recovery too): the
            # execution is left alone, and said so.
            log.exception("execution record unreadable", extra={"execution_id": execution_id})
            return None
        self._cache[execution_id] = (record, layout)
        return record

    def memo(self, execution_id: str) -> WalkMemo:
        return self._memos.setdefault(execution_id, WalkMemo())

    def drop_memo(self, execution_id: str) -> None:
        self._memos.pop(execution_id, None)

    def contains(self, execution_id: str) -> bool:
        return execution_id in self._cache or (
            is_head_key(execution_id) and self.table.get(execution_id.encode()) is not None
        )

    def put(
        self,
        execution_id: str,
        old: ExecutorRecord | None,
        new: ExecutorRecord,
        events: list[ExecutionEvent],
    ) -> None:
        """Writes what `new` changed since `old` (within an input's processing: the table
        writes to the input's partition)."""
        cached = self._cache.get(execution_id)
        layout = cached[1] if cached is not None and cached[0] is old else None
        changes, after = writes(execution_id, old, layout, new, events)
        for key, part in changes:
            encoded = key.encode()
            if part is not None:
                self.table[encoded] = part
            elif encoded in self.table:
                del self.table[encoded]
        self._cache[execution_id] = (new, after)

    def delete(self, execution_id: str) -> None:
        """Every part of the execution leaves the table (tombstones on the changelog)."""
        self._cache.pop(execution_id, None)
        self._memos.pop(execution_id, None)
        head = self.table.get(head_key(execution_id).encode())
        keys = (
            every_key(execution_id, _parsed_head(head))
            if head is not None and _is_parts_head(head)
            else [head_key(execution_id)]
        )
        for key in keys:
            encoded = key.encode()
            if encoded in self.table:
                del self.table[encoded]

    def execution_ids(self) -> list[str]:
        """The executions with a record in this process's partitions."""
        keys = (key.decode() for key in list(self.table.keys()))
        return [key for key in keys if is_head_key(key)]

    def forget_cache(self) -> None:
        """Partitions moved: the records are read back from the table when next needed."""
        self._cache.clear()
        self._memos.clear()

    def _read_back(self, execution_id: str, value: Any) -> tuple[ExecutorRecord, Layout | None]:
        if isinstance(value, ExecutorRecord):  # the whole-record layout, written here
            return value, None
        if isinstance(value, bytes | bytearray) and not _is_parts_head(value):
            # Written whole by an older executor: read whole, rewritten in parts next time.
            return ExecutorRecord.model_validate_json(value), None
        head = _parsed_head(value)
        return assemble(head, self._part)

    def _part(self, key: str) -> BaseModel | None:
        value = self.table.get(key.encode())
        if value is None or isinstance(value, BaseModel):
            return value
        kind = key.split(SEPARATOR)[1]
        return _PART_TYPES[kind].model_validate_json(value)


def _is_parts_head(value: Any) -> bool:
    if isinstance(value, RecordHead):
        return True
    return isinstance(value, bytes | bytearray) and b'"layout":"parts-1"' in value[:64]


def _parsed_head(value: Any) -> RecordHead:
    if isinstance(value, RecordHead):
        return value
    return RecordHead.model_validate_json(value)
