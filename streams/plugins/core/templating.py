"""io.kestra.plugin.core.templating.TemplatedTask: a task whose YAML is an expression.

The executor renders `spec` like any property; on the worker it is read as a task (its
`id` is this task's unless it has one), found among the installed plugins, and run here:
an inline task (Log, Return...) as the executor would, a worker task with this run's
context. Flowables cannot be templated (they need the executor), nor can a TemplatedTask.
The inner task's properties are not rendered a second time, unlike Kestra's, where the
inner task renders its dynamic properties again when it runs.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from pydantic import ValidationError

from schemas.limits import Limits
from schemas.states import State
from streams.core.yaml_loader import load_yaml
from streams.plugins.base import InlineLog, InlineTask, Outcome, WorkerContext, WorkerTask

if TYPE_CHECKING:
    from streams.plugins.registry import PluginRegistry

_NAMES = (
    "io.kestra.plugin.core.templating.TemplatedTask",
    "io.kestra.core.tasks.templating.TemplatedTask",
)


@functools.cache
def _registry() -> PluginRegistry:
    # Imported here: the registry loads this module's package to find the plugins.
    from streams.plugins.registry import PluginRegistry

    return PluginRegistry.discover()


class TemplatedTask(WorkerTask):
    TYPE: ClassVar[str] = "templating.TemplatedTask"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _NAMES
    spec: str

    def _fail(self, message: str) -> Outcome:
        return Outcome(State.FAILED, error=f"task {self.id}: {message}")

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            raw: Any = load_yaml(self.spec, Limits())
        except yaml.YAMLError as exc:
            return self._fail(f"the templated spec is not valid YAML: {exc}")
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            return self._fail("the templated spec must be a task: a map with a `type`")
        raw.setdefault("id", self.id)
        registry = _registry()
        plugin = registry.get(raw["type"])
        if plugin is None:
            near = registry.nearest(raw["type"])
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            return self._fail(f"unknown task type {raw['type']!r}{hint}")
        if issubclass(plugin, TemplatedTask):
            return self._fail(f"The templated task cannot be of type '{_NAMES[0]}'")
        try:
            task = plugin.model_validate(raw)
        except ValidationError as exc:
            return self._fail(f"invalid templated task: {exc}")
        if isinstance(task, InlineTask):
            lines: list[InlineLog] = []
            outcome = task.run_inline(lines)
            for line in lines:
                await ctx.log(line.level, line.message)
            return outcome
        if isinstance(task, WorkerTask):
            return await task.run(ctx)
        return self._fail("The templated task must be a runnable task")
