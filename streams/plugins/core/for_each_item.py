"""io.kestra.plugin.core.flow.ForEachItem: a subflow execution per batch of a file's lines.

As in Kestra, the task expands into three task runs under its own: `<id>_split` (a
worker splits the file into batches), `<id>_items` (the executor starts one subflow
execution per batch and counts how they end) and `<id>_merge` (a worker gathers the
subflows' outputs into one Ion file). The executor's decisions are in
streams/core/for_each_item.py; the two worker tasks are here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.flow import TaskSpec
from schemas.states import State
from schemas.storage import StorageError, is_storage_uri
from streams.core.expressions.filters_data import to_ion
from streams.plugins.base import FlowableTask, Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, extension_of, fetch, publish, workdir
from streams.plugins.core.storage import Split

_KESTRA = "io.kestra.plugin.core.flow.ForEachItem"
_KESTRA_OLD = "io.kestra.core.tasks.flows.ForEachItem"

SPLIT_SUFFIX = "_split"
ITEMS_SUFFIX = "_items"
MERGE_SUFFIX = "_merge"


class Batch(BaseModel):
    """How the file is split: `bytes`, else `partitions`, else `rows` (1 by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int | str | None = 1
    bytes: int | str | None = None
    partitions: int | str | None = None
    separator: str = "\n"


def _labels(value: Any) -> Any:
    # Kestra takes labels as a map or as a list of {key, value}.
    if isinstance(value, list):
        return {
            str(item.get("key")): str(item.get("value")) for item in value if isinstance(item, dict)
        }
    return value


class _SubflowCall(FlowableTask):
    """The subflow each batch starts and how (ForEachItem's, handed to its `_items`)."""

    namespace: str
    flowId: str
    revision: int | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    wait: bool = True
    transmitFailed: bool = True
    inheritLabels: bool = False
    scheduleDate: str | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _label_list(cls, value: Any) -> Any:
        return _labels(value)


_CALL = [name for name in _SubflowCall.model_fields if name not in FlowableTask.model_fields]


class ForEachItem(_SubflowCall):
    TYPE: ClassVar[str] = "flow.ForEachItem"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (_KESTRA, _KESTRA_OLD)
    # Its subtasks render these themselves (`inputs` once per batch, with taskrun.items).
    UNRENDERED: ClassVar[frozenset[str]] = frozenset(
        {
            "items",
            "batch",
            "namespace",
            "flowId",
            "revision",
            "inputs",
            "labels",
            "wait",
            "transmitFailed",
            "inheritLabels",
            "scheduleDate",
            "errors",
            "finally_",
        }
    )
    items: str = Field(min_length=1)
    batch: Batch = Field(default_factory=Batch)
    namespace: str = Field(min_length=1)
    flowId: str = Field(min_length=1)

    def main_specs(self) -> list[TaskSpec]:
        return [self.split_task(), self.items_task(), self.merge_task()]

    def split_task(self) -> ForEachItemSplit:
        return ForEachItemSplit(
            id=self.id + SPLIT_SUFFIX,
            type=ForEachItemSplit.KESTRA_TYPES[0],
            items=self.items,
            batch=self.batch,
        )

    def items_task(self) -> ForEachItemExecutable:
        return ForEachItemExecutable.model_validate(
            {
                "id": self.id + ITEMS_SUFFIX,
                "type": ForEachItemExecutable.KESTRA_TYPES[0],
                **{name: getattr(self, name) for name in _CALL},
            }
        )

    def merge_task(self) -> ForEachItemMergeOutputs:
        return ForEachItemMergeOutputs(
            id=self.id + MERGE_SUFFIX, type=ForEachItemMergeOutputs.KESTRA_TYPES[0]
        )


class ForEachItemExecutable(_SubflowCall):
    """`<id>_items`: one subflow execution per batch; ends when they all have (with `wait`)."""

    TYPE: ClassVar[str] = "flow.ForEachItem.Executable"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}$ForEachItemExecutable",
        f"{_KESTRA_OLD}$ForEachItemExecutable",
    )
    # Rendered once per batch, with taskrun.items and taskrun.iteration.
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"inputs", "errors", "finally_"})

    def main_specs(self) -> list[TaskSpec]:
        return []

    @property
    def split_id(self) -> str:
        return self.id[: -len(ITEMS_SUFFIX)] + SPLIT_SUFFIX


def _count(value: int | str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"batch.{name} must be a number, got {value!r}") from None


class ForEachItemSplit(WorkerTask):
    """`<id>_split`: the batches, as files of this task run, listed in `splits.txt`."""

    TYPE: ClassVar[str] = "flow.ForEachItem.Split"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}$ForEachItemSplit",
        f"{_KESTRA_OLD}$ForEachItemSplit",
    )
    items: str
    batch: Batch = Field(default_factory=Batch)

    def splitter(self) -> Split:
        b = self.batch
        return Split.model_validate(
            {
                "id": self.id,
                "type": Split.TYPE,
                "from": self.items,
                "bytes": b.bytes,
                "partitions": _count(b.partitions, "partitions"),
                "rows": _count(b.rows, "rows"),
                "separator": b.separator,
            }
        )

    async def run(self, ctx: WorkerContext) -> Outcome:
        if not is_storage_uri(self.items):
            # Kestra's words.
            return Outcome(
                State.FAILED,
                error=f"Unable to split the items from {self.items}, "
                "this is not an internal storage URI!",
            )
        try:
            splitter = self.splitter()
            async with workdir(ctx) as folder:
                source = await fetch(ctx, self.items, folder / "source")
                parts = await asyncio.to_thread(
                    splitter._split, source, folder, extension_of(self.items)
                )
                uris = [await publish(ctx, part, part.name) for part in parts]
                listing = folder / "splits.txt"
                listing.write_text("\n".join(uris), encoding="utf-8")
                splits = await publish(ctx, listing, listing.name)
        except (TaskFileError, StorageError, ValueError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        # `uris` lets the executor start the subflows without reading `splits` itself.
        return Outcome(State.SUCCESS, {"splits": splits, "uris": uris})


class ForEachItemMergeOutputs(WorkerTask):
    """`<id>_merge`: the subflows' outputs, one Ion line per subflow, in batch order.

    `results` is filled in by the executor when it dispatches the task (the outputs the
    subflow executions ended with); it is not a property of the flow."""

    TYPE: ClassVar[str] = "flow.ForEachItem.MergeOutputs"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}$ForEachItemMergeOutputs",
        f"{_KESTRA_OLD}$ForEachItemMergeOutputs",
    )
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"results"})
    results: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def items_id(self) -> str:
        return self.id[: -len(MERGE_SUFFIX)] + ITEMS_SUFFIX

    async def run(self, ctx: WorkerContext) -> Outcome:
        if not self.results:
            return Outcome(State.SUCCESS)  # no subflow execution, or none had outputs
        text = "".join(to_ion(result) + "\n" for result in self.results)
        try:
            async with workdir(ctx) as folder:
                target = Path(folder) / "outputs.ion"
                target.write_text(text, encoding="utf-8")
                uri = await publish(ctx, target, target.name)
        except (TaskFileError, StorageError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        return Outcome(State.SUCCESS, {"subflowOutputs": uri})
