"""The checks of one flow: its model, every task against its plugin's model, and the rules
no single model sees (unique ids, Dag dependencies, triggers, expression syntax) (pure).

Every problem is collected with its path and line, so a flow author sees them all at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ValidationError

from schemas.flow import Flow
from schemas.limits import Limits
from schemas.triggers import TRIGGER_MODELS
from streams.core.expressions import syntax_errors
from streams.core.flow_yaml import join_path
from streams.core.model_errors import input_problem_paths, pydantic_problems
from streams.core.task_slots import task_slots
from streams.core.trigger_checks import trigger_problems
from streams.core.type_names import closest_type_names
from streams.plugins.base import FlowableTask, Task
from streams.plugins.core.flowables import Dag
from streams.plugins.core.for_each_item import ForEachItem

if TYPE_CHECKING:  # handed in by the caller: the core does not discover plugins
    from streams.plugins.registry import PluginRegistry


@dataclass(frozen=True)
class FlowProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        if self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class FlowChecker:
    def __init__(
        self, data: dict[str, Any], lines: dict[str, int], registry: PluginRegistry, limits: Limits
    ) -> None:
        self.data = data
        self.lines = lines
        self.registry = registry
        self.limits = limits
        self.problems: dict[tuple[str, str], FlowProblem] = {}

    def report(self, path: str, message: str) -> None:
        # Dict keyed by (path, message): the flow model and a task's own model both check
        # the common task properties, and must not report the same error twice.
        self.problems.setdefault((path, message), FlowProblem(path, self.line_of(path), message))

    def line_of(self, path: str) -> int | None:
        """The line of the node at `path`, or of its nearest ancestor (for missing ones)."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[: max(cut, 0)]

    def sorted_problems(self) -> list[FlowProblem]:
        return sorted(self.problems.values(), key=lambda p: p.line or 0)

    def report_pydantic(
        self, exc: ValidationError, raw: Any, base: str, model: type[BaseModel]
    ) -> None:
        for relative, message in pydantic_problems(exc, raw, model):
            if relative.startswith("inputs[") and base == "":
                for path, text in input_problem_paths(relative, message, raw):
                    self.report(path, text)
                continue
            self.report(join_path(base, relative) if relative else base, message)

    def check_flow(self) -> Flow | None:
        try:
            return Flow.model_validate(self.data)
        except ValidationError as exc:
            self.report_pydantic(exc, self.data, "", Flow)
            return None

    def check_tasks(self) -> dict[str, Task]:
        tasks: dict[str, Task] = {}
        first_use: dict[str, str] = {}
        # (path, raw task, depth): a top-level task is at depth 1.
        pending = [(path, raw, 1) for path, raw in task_slots(Flow, self.data, "")]
        while pending:
            path, raw, depth = pending.pop(0)
            if depth > self.limits.nesting_depth:
                # Deeper tasks are not checked: the executor's walk recurses per level.
                self.report(
                    path,
                    f"tasks nested {depth} levels deep: more than "
                    f"LANNER_LIMITS_NESTING_DEPTH={self.limits.nesting_depth}",
                )
                continue
            task_id = raw.get("id")
            if isinstance(task_id, str):
                if task_id in first_use:
                    self.report(
                        join_path(path, "id"),
                        f"duplicate task id '{task_id}' (already used at {first_use[task_id]}); "
                        "task ids must be unique in the whole flow",
                    )
                else:
                    first_use[task_id] = path
            plugin = self.plugin_of(raw, path)
            if plugin is None:
                continue
            children = [(p, r, depth + 1) for p, r in task_slots(plugin, raw, path)]
            # Children next, in document order, so "first used at" reads top to bottom.
            pending[0:0] = children
            try:
                task = plugin.model_validate(raw)
            except ValidationError as exc:
                self.report_pydantic(exc, raw, path, plugin)
                continue
            if isinstance(task_id, str):
                tasks.setdefault(task_id, task)
            if isinstance(task, ForEachItem):
                # Its subtasks (`<id>_split`, `_items`, `_merge`) are task runs too.
                for sub in task.main_specs():
                    if sub.id in first_use:
                        self.report(
                            join_path(path, "id"),
                            f"task id '{sub.id}' of ForEachItem '{task.id}' is already used "
                            f"at {first_use[sub.id]}",
                        )
                    first_use.setdefault(sub.id, path)
                    tasks.setdefault(sub.id, cast(Task, sub))
            if isinstance(task, Dag):
                self.check_dag(task, path)
        return tasks

    def plugin_of(self, raw: Mapping[str, Any], path: str) -> type[Task] | None:
        type_name = raw.get("type")
        if not isinstance(type_name, str):
            return None  # the flow model reports the missing or mistyped `type`
        plugin = self.registry.get(type_name)
        if plugin is None and type_name.rsplit(".", 1)[-1] == "Template":
            self.report(join_path(path, "type"), _TEMPLATES)
            return None
        if plugin is None:
            message = f"unknown task type '{type_name}'"
            nearest = self.registry.nearest(type_name)
            if nearest:
                message += f"; did you mean {_either(nearest)}?"
            self.report(join_path(path, "type"), message)
        if plugin is not None and plugin.KIND == "flowable" and not _walkable(plugin):
            self.report(
                join_path(path, "type"),
                f"task type '{type_name}' is a flowable that does not implement the flowable "
                "protocol (a FlowableTask with next_children; see streams/plugins/flowable.py)",
            )
            return None
        return plugin

    def check_dag(self, dag: Dag, path: str) -> None:
        ids = [entry.task.id for entry in dag.tasks]
        known = set(ids)
        depends = {entry.task.id: entry.dependsOn for entry in dag.tasks}
        for index, entry in enumerate(dag.tasks):
            for position, name in enumerate(entry.dependsOn):
                if name not in known:
                    hint = difflib.get_close_matches(name, ids, n=1)
                    suffix = f"; did you mean '{hint[0]}'?" if hint else ""
                    self.report(
                        f"{path}.tasks[{index}].dependsOn[{position}]",
                        f"depends on '{name}', which is not a task of this Dag{suffix}",
                    )
        for cycle in _cycles(ids, depends):
            index = ids.index(cycle[0])
            self.report(
                f"{path}.tasks[{index}].dependsOn",
                "dependency cycle: " + " -> ".join([*cycle, cycle[0]]),
            )

    def check_inputs(self) -> None:
        inputs = self.data.get("inputs")
        if not isinstance(inputs, list):
            return
        first_use: dict[str, int] = {}
        for index, item in enumerate(inputs):
            input_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(input_id, str):
                continue
            if input_id in first_use:
                first = first_use[input_id]
                self.report(
                    f"inputs[{index}].id",
                    f"duplicate input id '{input_id}' (already used at inputs[{first}])",
                )
            else:
                first_use[input_id] = index

    def check_triggers(self) -> None:
        """Every trigger must be of a type that runs here (schemas.triggers.TRIGGER_MODELS);
        a type Lanner does not implement is an error, never a trigger that silently
        never fires. Each type's own checks (cron, time zone, ...) follow its model's."""
        triggers = self.data.get("triggers")
        if not isinstance(triggers, list):
            return
        seen: set[str] = set()
        for index, raw in enumerate(triggers):
            if not isinstance(raw, dict):
                continue
            path = f"triggers[{index}]"
            type_name = raw.get("type")
            model = TRIGGER_MODELS.get(type_name) if isinstance(type_name, str) else None
            if model is None:
                message = f"unknown trigger type {type_name!r}"
                hint = _closest_trigger_types(type_name) if isinstance(type_name, str) else []
                if hint:
                    message += f"; did you mean {_either(hint)}?"
                self.report(f"{path}.type", message)
                continue
            trigger_id = raw.get("id")
            if isinstance(trigger_id, str):
                if trigger_id in seen:
                    self.report(f"{path}.id", f"duplicate trigger id '{trigger_id}'")
                seen.add(trigger_id)
            if "conditions" in raw and "conditions" not in model.model_fields:
                self.report_unsupported_conditions(raw["conditions"], path, str(type_name))
                raw = {k: v for k, v in raw.items() if k != "conditions"}
            try:
                trigger = model.model_validate(raw)
            except ValidationError as exc:
                self.report_pydantic(exc, raw, path, model)
                continue
            for field, problem in trigger_problems(trigger):
                self.report(f"{path}.{field}" if field else path, problem)

    def report_unsupported_conditions(self, conditions: Any, path: str, type_name: str) -> None:
        """Kestra's trigger `conditions` on a trigger type that does not evaluate them here:
        an error naming each condition, never a trigger that fires regardless of them."""
        items = conditions if isinstance(conditions, list) else [conditions]
        for index, item in enumerate(items):
            kind = item.get("type") if isinstance(item, dict) else None
            self.report(
                f"{path}.conditions[{index}]",
                f"condition {kind or item!r} is not supported on {type_name} triggers "
                "here: the trigger would fire without it",
            )

    def check_expressions(self) -> None:
        # The raw top-level tasks hold their nested tasks, so walking them covers all.
        roots: list[tuple[str, Any]] = list(task_slots(Flow, self.data, ""))
        inputs = self.data.get("inputs")
        if isinstance(inputs, list):
            roots += [
                (f"inputs[{i}].defaults", item["defaults"])
                for i, item in enumerate(inputs)
                if isinstance(item, dict) and "defaults" in item
            ]
        roots += [(key, self.data[key]) for key in ("variables", "outputs") if key in self.data]
        for root, value in roots:
            for path, text in _strings(value, root):
                for message in syntax_errors(text):
                    self.report(path, _expression_message(message))


_TEMPLATES = (
    "Kestra's templates (flow.Template) are not supported: Kestra deprecated them and turns "
    "them off by default; put the template's tasks in the flow, or run it as a flow.Subflow"
)


def _expression_message(message: str) -> str:
    # The engine's messages start with "syntax error" today; don't say it twice.
    if message.startswith("syntax error"):
        return f"expression {message}"
    return f"expression syntax error: {message}"


def _closest_trigger_types(type_name: str) -> list[str]:
    """Known trigger types near the given one (the same rule as for task types)."""
    return closest_type_names(type_name, TRIGGER_MODELS)


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        # Only text with a `{` can hold an expression; the rest needs no parse.
        if "{" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, join_path(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, join_path(path, index))


def _cycles(ids: list[str], depends: Mapping[str, list[str]]) -> list[list[str]]:
    """One path per dependency cycle (each cycle reported once, from its first task)."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(ids, white)
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(task_id: str) -> None:
        color[task_id] = grey
        stack.append(task_id)
        for dep in depends.get(task_id, []):
            if color.get(dep) == grey:
                found.append(stack[stack.index(dep) :])
            elif color.get(dep) == white:
                visit(dep)
        stack.pop()
        color[task_id] = black

    for task_id in ids:
        if color[task_id] == white:
            visit(task_id)
    return found


def _walkable(plugin: type[Task]) -> bool:
    return issubclass(plugin, FlowableTask) and plugin.implements_protocol()
