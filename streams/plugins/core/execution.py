"""Tasks that act on an execution: Labels and Exit change their own execution (in the
executor, like Kestra's ExecutionUpdatableTask); Resume, Count and PurgeExecutions work
on others through the views (on a worker)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from schemas.states import Operation, State, operator_may
from schemas.storage import execution_prefix
from streams.core.expressions import ExpressionError, render
from streams.core.expressions.values import to_text
from streams.core.labels import SYSTEM_LABEL_PREFIX
from streams.plugins.base import (
    InlineLog,
    InlineTask,
    Outcome,
    ViewsPort,
    WorkerContext,
    WorkerTask,
)
from streams.plugins.core.files import delete_under

_KESTRA = "io.kestra.plugin.core"
_KESTRA_OLD = "io.kestra.core.tasks"


class TaskError(Exception):
    """The task cannot do what it was asked: it fails with this message."""


def label_map(labels: Any) -> dict[str, str]:
    """Rendered `labels` (a map, a list of {key, value}, or a JSON object as text) as a
    map of texts, values printed as Kestra prints them (42, 3.14, true)."""
    if isinstance(labels, str):
        try:
            labels = json.loads(labels)
        except json.JSONDecodeError as exc:
            raise TaskError(f"labels is not a JSON object: {exc}") from None
        if not isinstance(labels, dict):
            raise TaskError("labels text must be a JSON object")
    if isinstance(labels, list):
        found: dict[str, str] = {}
        for item in labels:
            if not isinstance(item, dict) or "key" not in item:
                raise TaskError(f"Unknown value type: {type(item).__name__}")
            found[to_text(item["key"])] = to_text(item.get("value"))
        return found
    if isinstance(labels, dict):
        return {to_text(k): to_text(v) for k, v in labels.items()}
    raise TaskError(f"Unknown value type: {type(labels).__name__}")


class Labels(InlineTask):
    """Adds labels to the running execution, or overrides some; system labels refused."""

    TYPE: ClassVar[str] = "execution.Labels"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.execution.Labels",
        f"{_KESTRA_OLD}.executions.Labels",
    )
    labels: str | list[Any] | dict[str, Any]

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        try:
            found = label_map(self.labels)
        except TaskError as exc:
            return Outcome(State.FAILED, error=str(exc))
        for key, value in found.items():
            if key.startswith(SYSTEM_LABEL_PREFIX):
                return Outcome(
                    State.FAILED,
                    error="System labels can only be set by Kestra itself, offending label: "
                    f"{key}={value}",
                )
        return Outcome(State.SUCCESS, labels=found)


_EXIT_STATES = {
    "SUCCESS": State.SUCCESS,
    "WARNING": State.WARNING,
    "KILLED": State.KILLED,
    "FAILED": State.FAILED,
    "CANCELED": State.CANCELLED,
}


class Exit(InlineTask):
    """Ends the execution at once with `state`; the tasks after it do not run."""

    TYPE: ClassVar[str] = "execution.Exit"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.execution.Exit",)
    state: Literal["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"] = "SUCCESS"

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        return Outcome(State.SUCCESS, exit_state=_EXIT_STATES[self.state])


def views_of(ctx: WorkerContext) -> ViewsPort:
    if ctx.views is None:
        raise TaskError("this worker has no access to the search store's views")
    return ctx.views


def parse_date(text: str | None, name: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise TaskError(f"{name}: not an ISO-8601 date: {text!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def target_execution(
    ctx: WorkerContext, namespace: str | None, flow_id: str | None, execution_id: str | None
) -> tuple[str, str, str]:
    """(namespace, flow id, execution id) a task names; its own execution by default
    (Kestra's rules: namespace and flowId only with executionId, and both or neither)."""
    if execution_id is not None:
        if namespace is not None and flow_id is not None:
            return namespace, flow_id, execution_id
        if namespace is not None or flow_id is not None:
            raise TaskError("Both `namespace` and `flowId` must be set when `executionId` is set.")
        return ctx.namespace, ctx.flow_id, execution_id
    if namespace is not None or flow_id is not None:
        raise TaskError("`namespace` and `flowId` should only be set when `executionId` is set.")
    return ctx.namespace, ctx.flow_id, ctx.execution_id


class ViewsTask(WorkerTask):
    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            return Outcome(State.SUCCESS, await self.work(ctx, views_of(ctx)))
        except TaskError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")

    async def work(self, ctx: WorkerContext, views: ViewsPort) -> dict[str, Any]:
        raise NotImplementedError


class Resume(ViewsTask):
    """Resumes a PAUSED execution (this one by default) with `inputs` for its Pause."""

    TYPE: ClassVar[str] = "execution.Resume"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.execution.Resume",)
    namespace: str | None = None
    flowId: str | None = None
    executionId: str | None = None
    inputs: dict[str, Any] | None = None

    async def work(self, ctx: WorkerContext, views: ViewsPort) -> dict[str, Any]:
        _, _, execution_id = target_execution(ctx, self.namespace, self.flowId, self.executionId)
        doc = await views.execution(ctx.tenant, execution_id)
        if doc is None:
            raise TaskError(f"No execution found for execution id {execution_id}")
        current = (doc.get("state") or {}).get("current")
        if current not in set(State) or not operator_may(Operation.RESUME, State(current)):
            raise TaskError(f"execution {execution_id} is {current}, not PAUSED")
        await views.resume(
            execution_id,
            # One command per attempt: a redelivered job sends the same one again.
            f"resume:{execution_id}:{ctx.task_run_id}:{ctx.attempt}",
            f"task:{ctx.namespace}.{ctx.flow_id}.{ctx.task_id}",
            self.inputs or {},
        )
        return {}


class FlowFilter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str
    flowId: str


class Count(ViewsTask):
    """Counts the executions of flows (or namespaces) by state and start date; keeps the
    flows whose `count` makes `expression` true."""

    TYPE: ClassVar[str] = "execution.Count"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.execution.Count",
        f"{_KESTRA_OLD}.executions.Counts",
    )
    # Rendered on the worker, once per flow, with `count` (the executor cannot).
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"expression"})
    flows: list[FlowFilter] | None = None
    namespaces: list[str] | None = None
    states: list[State] | None = None
    startDate: str
    endDate: str | None = None
    expression: str

    async def work(self, ctx: WorkerContext, views: ViewsPort) -> dict[str, Any]:
        if self.flows is None and self.namespaces is None:
            raise TaskError("You must provide a list of flows or namespaces")
        counts = await views.count_executions(
            ctx.tenant,
            [(f.namespace, f.flowId) for f in self.flows] if self.flows is not None else None,
            self.namespaces,
            [s.value for s in self.states] if self.states else None,
            parse_date(self.startDate, "startDate"),
            parse_date(self.endDate, "endDate"),
        )
        results = []
        for namespace, flow_id, count in counts:
            try:
                kept = render(self.expression, {"count": count}, now=ctx.now())
            except ExpressionError as exc:
                raise TaskError(f"expression: {exc}") from None
            if to_text(kept) == "true":
                results.append({"namespace": namespace, "flowId": flow_id, "count": count})
        await ctx.log("DEBUG", f"{len(results)} flows matching the expression")
        return {"results": results, "total": sum(r["count"] for r in results)}


class PurgeExecutions(ViewsTask):
    """Purges finished executions, their logs and files, from the views and storage."""

    TYPE: ClassVar[str] = "execution.PurgeExecutions"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.execution.PurgeExecutions",
        f"{_KESTRA_OLD}.storages.Purge",
        f"{_KESTRA}.storage.Purge",
    )
    namespace: str | None = None
    flowId: str | None = None
    startDate: str | None = None
    endDate: str
    states: list[State] | None = None
    purgeExecution: bool = True
    purgeLog: bool = True
    purgeMetric: bool = True
    purgeStorage: bool = True

    async def work(self, ctx: WorkerContext, views: ViewsPort) -> dict[str, Any]:
        purged, logs = await views.purge_executions(
            ctx.tenant,
            self.namespace,
            self.flowId,
            [s.value for s in self.states] if self.states else None,
            parse_date(self.startDate, "startDate"),
            parse_date(self.endDate, "endDate") or dt.datetime.now(dt.UTC),
            self.purgeExecution,
            self.purgeLog,
        )
        files = 0
        if self.purgeStorage and ctx.storage is not None:
            for doc in purged:
                prefix = execution_prefix(ctx.tenant, doc["namespace"], doc["flowId"], doc["id"])
                files += len(await asyncio.to_thread(delete_under, ctx.storage, prefix))
        return {
            "executionsCount": len(purged) if self.purgeExecution else 0,
            "logsCount": logs,
            "storagesCount": files,
            # Lanner keeps no metrics.
            "metricsCount": 0,
        }
