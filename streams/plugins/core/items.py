"""io.kestra.plugin.core.storage.FilterItems and DeduplicateItems: one item a line.

Kestra's item files are ION, one value a line. Lanner's are JSON lines: each line is one
JSON object, and its fields are the variables of the expression (`filterCondition`,
`expr`), rendered on the worker for each item. Kestra also gives that expression the
execution's variables (`inputs`, `outputs`...); here it sees the item's fields only.
Lines are copied to the output unchanged; blank lines are skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from streams.core.expressions import ExpressionError, render, truthy
from streams.plugins.base import WorkerContext
from streams.plugins.core.files import extension_of, fetch, publish, workdir
from streams.plugins.core.storage import StorageTask, read_lines

_KESTRA = "io.kestra.plugin.core.storage"
_KESTRA_OLD = "io.kestra.core.tasks.storages"


class ItemError(ValueError):
    """An item that cannot be read, or an expression that fails on it."""


def _items(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise ItemError(f"line {number} is not JSON: {line[:200]!r}") from None
        if not isinstance(item, dict):
            raise ItemError(f"line {number} is not a JSON object: {line[:200]!r}")
        yield line, item


class _ItemsTask(StorageTask):
    from_: str = Field(alias="from")
    # Rendered for each item on the worker, with the item's fields as variables.
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"filterCondition", "expr"})

    def transform(self, source: Path, target: Path, now: dt.datetime) -> dict[str, Any]:
        raise NotImplementedError

    async def work(self, ctx: WorkerContext) -> dict[str, Any]:
        ext = extension_of(self.from_, ".ion")
        async with workdir(ctx) as folder:
            source = await fetch(ctx, self.from_, folder / "source")
            target = folder / f"{self.TYPE.rsplit('.', 1)[-1].lower()}{ext}"
            outputs = await asyncio.to_thread(self.transform, source, target, ctx.now())
            return {"uri": await publish(ctx, target, target.name), **outputs}


class FilterItems(_ItemsTask):
    """Keeps (INCLUDE) or drops (EXCLUDE) the items for which `filterCondition` is true.

    An expression that fails or gives null on an item fails the task (`FAIL`), or
    includes or excludes that item (`errorOrNullBehavior`)."""

    TYPE: ClassVar[str] = "storage.FilterItems"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.FilterItems",
        f"{_KESTRA_OLD}.FilterItems",
    )
    filterCondition: str
    filterType: Literal["INCLUDE", "EXCLUDE"] = "INCLUDE"
    errorOrNullBehavior: Literal["FAIL", "INCLUDE", "EXCLUDE"] = "FAIL"

    def _keep(self, line: str, item: dict[str, Any], now: dt.datetime) -> bool:
        try:
            value = render(self.filterCondition, item, now=now)
        except ExpressionError as exc:
            if self.errorOrNullBehavior == "FAIL":
                raise ItemError(f"{exc} on item {line[:200]}") from None
            return self.errorOrNullBehavior == "INCLUDE"
        if value is None:
            if self.errorOrNullBehavior == "FAIL":
                raise ItemError(f"expression `{self.filterCondition}` is null on item {line}")
            return self.errorOrNullBehavior == "INCLUDE"
        return truthy(value) == (self.filterType == "INCLUDE")

    def transform(self, source: Path, target: Path, now: dt.datetime) -> dict[str, Any]:
        processed = dropped = 0
        with target.open("w", encoding="utf-8", errors="surrogateescape") as out:
            for line, item in _items(source):
                processed += 1
                if self._keep(line, item, now):
                    out.write(line + "\n")
                else:
                    dropped += 1
        return {"processedItemsTotal": processed, "droppedItemsTotal": dropped}


def _key_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


class DeduplicateItems(_ItemsTask):
    """Keeps, of the items sharing a key (`expr`), the last one, in file order."""

    TYPE: ClassVar[str] = "storage.DeduplicateItems"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.DeduplicateItems",
        f"{_KESTRA_OLD}.DeduplicateItems",
    )
    expr: str

    def _key_of(self, now: dt.datetime) -> Callable[[str, dict[str, Any]], str]:
        def key(line: str, item: dict[str, Any]) -> str:
            try:
                return _key_text(render(self.expr, item, now=now))
            except ExpressionError as exc:
                raise ItemError(f"{exc} on item {line[:200]}") from None

        return key

    def transform(self, source: Path, target: Path, now: dt.datetime) -> dict[str, Any]:
        key = self._key_of(now)
        # Two passes, as Kestra does: the last position of each key, then the copy.
        last: dict[str, int] = {}
        for position, (line, item) in enumerate(_items(source)):
            last[key(line, item)] = position
        processed = dropped = 0
        with target.open("w", encoding="utf-8", errors="surrogateescape") as out:
            for position, (line, item) in enumerate(_items(source)):
                processed += 1
                if last.get(key(line, item)) == position:
                    out.write(line + "\n")
                else:
                    dropped += 1
        return {
            "numKeys": len(last),
            "processedItemsTotal": processed,
            "droppedItemsTotal": dropped,
        }
