"""The execution as a flowable sees it (streams/plugins/flowable.py's ExecutionView),
read-only, over the walk that steps it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from schemas.execution import Execution, TaskRun
from schemas.flow import Flow
from streams.core.context import _values_path, render_context

if TYPE_CHECKING:
    from streams.core.walk import Walker


class WalkView:
    def __init__(self, walker: Walker) -> None:
        self._w = walker

    @property
    def execution(self) -> Execution:
        return self._w.state

    @property
    def now(self) -> dt.datetime:
        return self._w.em.time

    @property
    def killing(self) -> bool:
        return self._w.killing

    def find(self, parent_id: str | None, task_id: str, value: str | None) -> TaskRun | None:
        return self._w.find(parent_id, task_id, value)

    def children(self, run: TaskRun) -> list[TaskRun]:
        return [r for r in self._w.state.task_runs.values() if r.parent_id == run.id]

    def context(self, run: TaskRun, task_type: str) -> dict[str, Any]:
        return render_context(self._w.flow.flow, self._w.state, run, task_type)

    def render(self, value: Any, context: dict[str, Any]) -> Any:
        return self._w.render(value, context)

    def render_bool(self, value: Any, context: dict[str, Any]) -> bool:
        return self._w.render_bool(value, context)

    def decided_here(self, value: Any, what: str) -> Any:
        return self._w.decided_here(value, what)

    def flow(self, namespace: str, flow_id: str, revision: int | None) -> Flow | None:
        found = self._w.catalog.get(self._w.state.tenant, namespace, flow_id, revision)
        return None if found is None else found.flow

    def check_fan_out(self, count: int, what: str) -> None:
        self._w.bounds.check_fan_out(count, what)

    def loop_values(self, run: TaskRun) -> list[str]:
        return _values_path(self._w.state, run)
