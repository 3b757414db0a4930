"""Tasks on the logs view: Fetch (an execution's logs into a file) and PurgeLogs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar, Literal

from schemas.storage import task_file_uri
from streams.plugins.base import ViewsPort, WorkerContext
from streams.plugins.core.execution import (
    TaskError,
    ViewsTask,
    parse_date,
    target_execution,
)
from streams.plugins.core.files import storage_of

# How long log.Fetch waits for the views to hold the logs written before it.
FETCH_WAIT_S = 10.0

_KESTRA = "io.kestra.plugin.core"
_KESTRA_OLD = "io.kestra.core.tasks"
Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    """A log line as Kestra's LogEntry names its fields."""
    return {
        "tenantId": doc.get("tenantId"),
        "namespace": doc.get("namespace"),
        "flowId": doc.get("flowId"),
        "taskId": doc.get("taskId"),
        "executionId": doc.get("executionId"),
        "taskRunId": doc.get("taskRunId"),
        "attemptNumber": doc.get("attemptNumber"),
        "timestamp": doc.get("timestamp"),
        "level": doc.get("level"),
        "message": doc.get("message"),
    }


class Fetch(ViewsTask):
    """Writes the logs of this execution (or `executionId`), at `level` and above, one
    per line, into a file in internal storage (`uri`); `size` is how many."""

    TYPE: ClassVar[str] = "log.Fetch"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.log.Fetch",
        f"{_KESTRA_OLD}.log.Fetch",
    )
    namespace: str | None = None
    flowId: str | None = None
    executionId: str | None = None
    tasksId: list[str] | None = None
    level: Level = "INFO"

    async def work(self, ctx: WorkerContext, views: ViewsPort) -> dict[str, Any]:
        namespace, flow_id, execution_id = target_execution(
            ctx, self.namespace, self.flowId, self.executionId
        )
        if execution_id == ctx.execution_id:
            await _indexed_up_to_here(ctx, views)
        lines = await views.logs(
            ctx.tenant, namespace, flow_id, execution_id, self.tasksId, self.level
        )
        # One JSON object a line: text ION reads it as well (Kestra writes ION).
        data = "".join(json.dumps(_entry(doc), default=str) + "\n" for doc in lines).encode()
        uri = task_file_uri(ctx.files_prefix(), "logs.ion")
        stored = await asyncio.to_thread(storage_of(ctx).put_bytes, uri, data)
        return {"uri": stored, "size": len(lines)}


async def _indexed_up_to_here(ctx: WorkerContext, views: ViewsPort) -> None:
    """Read your own writes: the logs of the tasks before this one reach the views with
    the events that ended them; once the view shows this task run started, they are
    there (bounded: a lagging indexer gives what it has after FETCH_WAIT_S)."""
    deadline = time.monotonic() + FETCH_WAIT_S
    while time.monotonic() < deadline:
        doc = await views.execution(ctx.tenant, ctx.execution_id)
        runs = (doc or {}).get("taskRunList") or []
        if any(run.get("id") == ctx.task_run_id for run in runs):
            return
        await asyncio.sleep(0.1)


class PurgeLogs(ViewsTask):
    """Purges log lines (of a namespace prefix, or a flow) from the logs view."""

    TYPE: ClassVar[str] = "log.PurgeLogs"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.log.PurgeLogs",)
    namespace: str | None = None
    flowId: str | None = None
    logLevels: list[Level] | None = None
    startDate: str | None = None
    endDate: str

    async def work(self, ctx: WorkerContext, views: ViewsPort) -> dict[str, Any]:
        if self.flowId is not None and self.namespace is None:
            raise TaskError("You need to provide the `namespace` to purge a flow's logs")
        end = parse_date(self.endDate, "endDate")
        assert end is not None
        count = await views.purge_logs(
            ctx.tenant,
            self.namespace,
            self.flowId,
            list(self.logLevels) if self.logLevels else None,
            parse_date(self.startDate, "startDate"),
            end,
        )
        return {"count": count}
