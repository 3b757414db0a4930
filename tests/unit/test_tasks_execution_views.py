"""Resume, Count, PurgeExecutions, log.Fetch and PurgeLogs on a worker, against a fake
of the views port (the real one runs in tests/integration/test_execution_tasks_on_kafka.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from streams.plugins.base import Outcome, WorkerTask
from streams.plugins.core.execution import Count, PurgeExecutions, Resume
from streams.plugins.core.logs import Fetch, PurgeLogs
from streams.storage import LocalStorage
from tests.unit.test_tasks_helpers import Recorder, make_ctx


@dataclass
class FakeViews:
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: list[tuple[str, str, int]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    async def execution(self, tenant: str, execution_id: str) -> dict[str, Any] | None:
        return self.executions.get(execution_id)

    async def count_executions(self, *args: Any) -> list[tuple[str, str, int]]:
        self.calls.append(("count", args))
        return self.counts

    async def logs(self, *args: Any) -> list[dict[str, Any]]:
        self.calls.append(("logs", args))
        return self.lines

    async def resume(
        self, execution_id: str, command_id: str, actor: str, inputs: Mapping[str, Any]
    ) -> None:
        self.calls.append(("resume", (execution_id, command_id, actor, dict(inputs))))

    async def purge_executions(self, *args: Any) -> tuple[list[dict[str, Any]], int]:
        self.calls.append(("purge_executions", args))
        return [{"id": "old1", "namespace": "company.team", "flowId": "f"}], 7

    async def purge_logs(self, *args: Any) -> int:
        self.calls.append(("purge_logs", args))
        return 3


def _run(task: WorkerTask, tmp: Path, views: FakeViews | None) -> Outcome:
    ctx = make_ctx(tmp, Recorder(), views=views)
    return asyncio.run(task.run(ctx))


def _paused(execution_id: str) -> dict[str, Any]:
    return {"id": execution_id, "state": {"current": "PAUSED"}}


def test_resume_sends_a_resume_command_for_a_paused_execution(tmp_path: Path) -> None:
    views = FakeViews(executions={"p1": _paused("p1")})
    task = Resume(
        id="r",
        type="io.kestra.plugin.core.execution.Resume",
        executionId="p1",
        inputs={"approved": True},
    )
    outcome = _run(task, tmp_path, views)
    assert outcome.state == State.SUCCESS
    assert views.calls == [
        ("resume", ("p1", "resume:p1:run1:1", "task:company.team.flow1.t1", {"approved": True}))
    ]


def test_resume_fails_for_an_unknown_or_running_execution(tmp_path: Path) -> None:
    views = FakeViews(executions={"r1": {"id": "r1", "state": {"current": "RUNNING"}}})
    unknown = _run(Resume(id="r", type="execution.Resume", executionId="nope"), tmp_path, views)
    assert unknown.state == State.FAILED
    assert "No execution found for execution id nope" in (unknown.error or "")
    running = _run(Resume(id="r", type="execution.Resume", executionId="r1"), tmp_path, views)
    assert running.state == State.FAILED and "not PAUSED" in (running.error or "")
    # Its own execution by default: running, so not resumable.
    own = _run(Resume(id="r", type="execution.Resume"), tmp_path, views)
    assert "exec1" in (own.error or "")
    half = _run(
        Resume(id="r", type="execution.Resume", executionId="p", namespace="a"), tmp_path, views
    )
    assert "Both `namespace` and `flowId` must be set" in (half.error or "")
    assert not [c for c in views.calls if c[0] == "resume"]


def test_count_keeps_the_flows_whose_count_makes_the_expression_true(tmp_path: Path) -> None:
    views = FakeViews(counts=[("company.team", "a", 0), ("company.team", "b", 4)])
    task = Count(
        id="c",
        type="io.kestra.plugin.core.execution.Count",
        flows=[
            {"namespace": "company.team", "flowId": "a"},
            {"namespace": "company.team", "flowId": "b"},
        ],
        states=["SUCCESS"],
        startDate="2025-12-31T00:00:00Z",
        expression="{{ count == 0 }}",
    )
    outcome = _run(task, tmp_path, views)
    assert outcome.state == State.SUCCESS
    assert outcome.outputs == {
        "results": [{"namespace": "company.team", "flowId": "a", "count": 0}],
        "total": 0,
    }
    ((_, args),) = views.calls
    assert args == (
        "main",
        [("company.team", "a"), ("company.team", "b")],
        None,
        ["SUCCESS"],
        dt.datetime(2025, 12, 31, tzinfo=dt.UTC),
        None,
    )
    more = Count(
        id="c",
        type="execution.Count",
        namespaces=["company.team"],
        startDate="2025-12-31T00:00:00Z",
        expression="{{ count >= 1 }}",
    )
    assert _run(more, tmp_path, views).outputs["total"] == 4


def test_count_needs_flows_or_namespaces_and_the_views(tmp_path: Path) -> None:
    task = Count(
        id="c", type="execution.Count", startDate="2025-01-01T00:00:00Z", expression="{{ true }}"
    )
    assert "flows or namespaces" in (_run(task, tmp_path, FakeViews()).error or "")
    assert "no access to the search store" in (_run(task, tmp_path, None).error or "")


def test_fetch_writes_the_logs_one_json_object_a_line(tmp_path: Path) -> None:
    lines = [
        {
            "executionId": "exec1",
            "taskId": "t1",
            "level": "INFO",
            "message": "task 1",
            "timestamp": "2026-01-01T00:00:00+00:00",
        },
        {
            "executionId": "exec1",
            "taskId": "t2",
            "level": "WARN",
            "message": "task 2",
            "timestamp": "2026-01-01T00:00:01+00:00",
        },
    ]
    # The view already shows this task run started: the logs before it are indexed.
    indexed = {"id": "exec1", "taskRunList": [{"id": "run1", "taskId": "f"}]}
    views = FakeViews(lines=lines, executions={"exec1": indexed})
    task = Fetch(id="f", type="io.kestra.plugin.core.log.Fetch", tasksId=["t1", "t2"], level="INFO")
    outcome = _run(task, tmp_path, views)
    assert outcome.state == State.SUCCESS and outcome.outputs["size"] == 2
    data = LocalStorage(tmp_path / "storage").get_bytes(outcome.outputs["uri"]).decode()
    assert [json.loads(row)["message"] for row in data.splitlines()] == ["task 1", "task 2"]
    assert outcome.outputs["uri"].endswith("/logs.ion")
    assert views.calls == [
        ("logs", ("main", "company.team", "flow1", "exec1", ["t1", "t2"], "INFO"))
    ]


def test_fetch_of_its_own_execution_waits_until_the_view_holds_its_task_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = FakeViews()
    seen = {"id": "exec1", "taskRunList": [{"id": "run1", "taskId": "f"}]}

    async def later(tenant: str, execution_id: str) -> dict[str, Any] | None:
        views.calls.append(("execution", (execution_id,)))
        return seen if len(views.calls) >= 3 else None  # the indexer catches up

    monkeypatch.setattr(views, "execution", later)
    outcome = _run(Fetch(id="f", type="io.kestra.plugin.core.log.Fetch"), tmp_path, views)
    assert outcome.state == State.SUCCESS
    assert [name for name, _ in views.calls] == ["execution"] * 3 + ["logs"]


def test_fetch_of_another_execution_looks_in_this_flow_unless_told(tmp_path: Path) -> None:
    views = FakeViews()
    _run(Fetch(id="f", type="log.Fetch", executionId="other"), tmp_path, views)
    _run(
        Fetch(id="f", type="log.Fetch", executionId="o2", namespace="n", flowId="g"),
        tmp_path,
        views,
    )
    assert [c[1][1:4] for c in views.calls] == [
        ("company.team", "flow1", "other"),
        ("n", "g", "o2"),
    ]


def test_purges_report_what_they_removed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    storage.put_bytes("kestra://main/company/team/f/executions/old1/tasks/t/r/1/out.txt", b"x")
    views = FakeViews()
    purged = _run(
        PurgeExecutions(
            id="p",
            type="io.kestra.plugin.core.execution.PurgeExecutions",
            endDate="2026-01-01T00:00:00Z",
            states=["SUCCESS"],
        ),
        tmp_path,
        views,
    )
    assert purged.outputs == {
        "executionsCount": 1,
        "logsCount": 7,
        "storagesCount": 1,
        "metricsCount": 0,
    }
    logs = _run(
        PurgeLogs(
            id="l",
            type="io.kestra.plugin.core.log.PurgeLogs",
            namespace="company",
            endDate="2026-01-01T00:00:00Z",
            logLevels=["DEBUG"],
        ),
        tmp_path,
        views,
    )
    assert logs.outputs == {"count": 3}
    assert views.calls[-1][1][:4] == ("main", "company", None, ["DEBUG"])
