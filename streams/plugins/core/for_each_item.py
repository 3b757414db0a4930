"""io.kestra.plugin.core.flow.ForEachItem: a subflow execution per batch of a file's lines.

As in Kestra, the task expands into three task runs under its own: `<id>_split` (a
worker splits the file into batches), `<id>_items` (the executor starts one subflow
execution per batch and counts how they end) and `<id>_merge` (a worker gathers the
subflows' outputs into one Ion file). `<id>_items` decides its subflow executions here
(the flowable protocol); streams/core/for_each_item.py counts how they end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.execution import Execution, TaskRun
from schemas.flow import TaskSpec
from schemas.inputs import coerce_inputs
from schemas.states import State
from schemas.storage import StorageError, is_storage_uri
from streams.core.expressions.filters_data import to_ion
from streams.core.ids import derive_id
from streams.plugins.base import FlowableTask, Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, extension_of, fetch, publish, workdir
from streams.plugins.core.storage import Split
from streams.plugins.core.subflow import inherited_labels
from streams.plugins.flowable import (
    AfterStart,
    AwaitInput,
    ChildPlan,
    Decision,
    EndRun,
    ExecutionView,
    in_sequence,
)

_KESTRA = "io.kestra.plugin.core.flow.ForEachItem"
_KESTRA_OLD = "io.kestra.core.tasks.flows.ForEachItem"

SPLIT_SUFFIX = "_split"
ITEMS_SUFFIX = "_items"
MERGE_SUFFIX = "_merge"
ITERATIONS = "iterations"
NUMBER_OF_BATCHES = "numberOfBatches"
BASE_URI = "subflowOutputsBaseUri"


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

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        return in_sequence(self.main_specs(), run.value)

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


class BatchChild(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    executionId: str
    iteration: int
    inputs: dict[str, Any] = Field(default_factory=dict)


class ForEachItemDecision(Decision):
    """The subflow executions of `<id>_items`, one per batch, and how it waits for them."""

    namespace: str
    flowId: str
    revision: int | None
    labels: dict[str, str] = Field(default_factory=dict)
    wait: bool = True
    transmitFailed: bool = True
    children: list[BatchChild] = Field(default_factory=list)


def base_uri(state: Execution, run: TaskRun) -> str:
    """The run's storage folder, as a path (Kestra's `subflowOutputsBaseUri`)."""
    namespace = state.namespace.replace(".", "/")
    return f"/{namespace}/{state.flow_id}/executions/{state.id}/tasks/{run.task_id}/{run.id}"


class ForEachItemExecutable(_SubflowCall):
    """`<id>_items`: one subflow execution per batch; ends when they all have (with `wait`)."""

    TYPE: ClassVar[str] = "flow.ForEachItem.Executable"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}$ForEachItemExecutable",
        f"{_KESTRA_OLD}$ForEachItemExecutable",
    )
    # Rendered once per batch, with taskrun.items and taskrun.iteration.
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"inputs", "errors", "finally_"})
    DECISION: ClassVar[type[Decision]] = ForEachItemDecision

    def main_specs(self) -> list[TaskSpec]:
        return []

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        """The children to start, one per batch the split task listed, all at once."""
        s = view.execution
        if self.scheduleDate is not None:
            raise ValueError("scheduleDate is not supported by Lanner's ForEachItem")
        split = view.find(run.parent_id, self.split_id, run.value)
        uris = split.outputs.get("uris") if split is not None else None
        if not isinstance(uris, list):
            raise ValueError(f"{self.split_id} listed no batches")
        view.check_fan_out(len(uris), "batches")
        name = f"subflow {self.namespace}.{self.flowId}"
        target = view.flow(self.namespace, self.flowId, self.revision)
        if target is None:
            revision = f" revision {self.revision}" if self.revision else ""
            raise ValueError(f"{name}{revision} does not exist")
        raw = view.decided_here(self.inputs, "inputs")
        context = view.context(run, self.type)
        attempt = len(run.attempts) + 1
        children: list[BatchChild] = []
        for iteration, uri in enumerate(uris, start=1):
            taskrun = {**context["taskrun"], "items": uri, "iteration": iteration}
            inputs, errors = coerce_inputs(
                target.inputs, view.render(raw, {**context, "taskrun": taskrun})
            )
            if errors:
                raise ValueError(f"{name} (batch {iteration}): " + "; ".join(errors))
            # A restarted run starts new children, not the ones that ended.
            parts: tuple[Any, ...] = ("iteration", iteration) + ((attempt,) if attempt > 1 else ())
            children.append(
                BatchChild(
                    executionId=derive_id(s.id, run.id, *parts), iteration=iteration, inputs=inputs
                )
            )
        return ForEachItemDecision(
            namespace=self.namespace,
            flowId=self.flowId,
            revision=target.revision,
            labels=inherited_labels(s.labels, self.inheritLabels, self.labels),
            wait=self.wait,
            transmitFailed=self.transmitFailed,
            children=children,
        )

    def after_start(self, run: TaskRun, decision: Decision, view: ExecutionView) -> AfterStart:
        """Without children, or without `wait`, it ends at once; else as they end."""
        count = len(decision.children) if isinstance(decision, ForEachItemDecision) else 0
        if count == 0:
            return EndRun(State.SUCCESS)  # an empty file: no outputs, as Kestra
        if isinstance(decision, ForEachItemDecision) and not decision.wait:
            outputs = {
                ITERATIONS: {State.RUNNING.value: 0, State.SUCCESS.value: count},
                NUMBER_OF_BATCHES: count,
                BASE_URI: base_uri(view.execution, run),
            }
            return EndRun(State.SUCCESS, outputs)
        return AwaitInput()  # streams/core/for_each_item.py counts their ends

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        return None

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
