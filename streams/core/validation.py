"""Flow validation: every problem of a flow's YAML at once, each with its path and line.

Pure (no I/O): the caller hands in the source text and the plugin registry. The flow
model checks the common properties, then every task (nested ones too) is checked
against its plugin's model, then the cross-task rules that no single model can see:
unique ids, Dag dependencies, expression syntax.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import TYPE_CHECKING, Any, Union, cast, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from schemas.flow import Flow, TaskSpec
from schemas.limits import Limits
from schemas.triggers import TRIGGER_MODELS
from streams.core.expressions import syntax_errors
from streams.core.plugin_defaults import apply_plugin_defaults, declared_defaults
from streams.core.trigger_checks import trigger_problems
from streams.core.type_names import closest_type_names
from streams.core.yaml_loader import FlowLoader, YamlLimitExceeded, source_too_large
from streams.plugins.base import Task
from streams.plugins.core.flowables import Dag
from streams.plugins.core.for_each_item import ForEachItem

if TYPE_CHECKING:  # handed in by the caller: the core does not discover plugins
    from streams.plugins.registry import PluginRegistry

PathPart = str | int


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


@dataclass(frozen=True)
class ValidatedFlow:
    flow: Flow
    tasks: dict[str, Task]


def validate_flow(
    source: str,
    registry: PluginRegistry,
    limits: Limits | None = None,
    *,
    check_triggers: bool = True,
) -> ValidatedFlow | list[FlowProblem]:
    """The flow parsed into its models, or every problem found in it.

    `limits` bound what the YAML may cost (source size, aliases, depth, expanded nodes);
    past one, that is the only problem reported. Callers pass their settings' limits;
    None stands for the defaults. `check_triggers=False` re-reads a stored revision: one
    deployed before a trigger rule existed still runs its tasks; each trigger runtime
    checks its own trigger again.
    """
    limits = limits or Limits()
    try:
        too_large = source_too_large(source, limits)
        if too_large is not None:
            raise too_large
        data, lines, duplicate_keys = _load(source, limits)
    except YamlLimitExceeded as exc:
        return [FlowProblem("", exc.line, str(exc))]
    except RecursionError:
        message = f"the YAML is nested too deeply (tasks may nest {limits.nesting_depth} deep)"
        return [FlowProblem("", None, message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return [FlowProblem("", line, f"malformed YAML: {_yaml_message(exc)}")]
    except yaml.YAMLError as exc:
        return [FlowProblem("", None, f"malformed YAML: {exc}")]

    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {_kind(data)}, not a mapping"
        message = f"a flow must be a YAML mapping; this document is {kind}"
        return [FlowProblem("", lines.get("", 1), message)]

    data = apply_plugin_defaults(data, declared_defaults(data), registry.aliases)
    checker = _Checker(data, lines, registry, limits)
    for path, message in duplicate_keys:
        checker.report(path, message)
    flow = checker.check_flow()
    tasks = checker.check_tasks()
    checker.check_inputs()
    if check_triggers:
        checker.check_triggers()
    checker.check_expressions()
    if checker.problems or flow is None:
        return checker.sorted_problems()
    return ValidatedFlow(flow=flow, tasks=tasks)


@dataclass(frozen=True)
class UnrunnableFlow:
    """A flow the executor was handed but cannot run (a creation's own source that does
    not validate): the execution it would create fails with this reason."""

    reason: str


# Problems named in an UnrunnableFlow's reason; the rest are counted.
_REASON_PROBLEMS = 5


def validate_revision(
    source: str, revision: int, registry: PluginRegistry, limits: Limits | None
) -> ValidatedFlow | list[FlowProblem]:
    """A stored flow source as the executor runs it: at its revision, its triggers not
    checked again (one deployed before a trigger rule existed still runs its tasks; each
    trigger runtime checks its own trigger)."""
    result = validate_flow(source, registry, limits, check_triggers=False)
    if isinstance(result, list):
        return result
    return ValidatedFlow(
        flow=result.flow.model_copy(update={"revision": revision}), tasks=result.tasks
    )


def flow_from_source(
    source: str, revision: int, registry: PluginRegistry, limits: Limits | None
) -> ValidatedFlow | UnrunnableFlow:
    """The flow a CreateExecution carries (`flow_source`), or why it cannot run: the
    executor and the replayer decide the same creation from it."""
    try:
        result = validate_revision(source, revision, registry, limits)
    except Exception as exc:  # a flow that cannot even be validated cannot run
        return UnrunnableFlow(f"its source could not be validated: {type(exc).__name__}: {exc}")
    if not isinstance(result, list):
        return result
    named = "; ".join(str(p) for p in result[:_REASON_PROBLEMS])
    more = len(result) - _REASON_PROBLEMS
    return UnrunnableFlow(
        f"its source does not validate: {named}" + (f" (and {more} more)" if more > 0 else "")
    )


# --- YAML: data, plus a map of paths to lines --------------------------------------------


def _load(source: str, limits: Limits) -> tuple[Any, dict[str, int], list[tuple[str, str]]]:
    loader = FlowLoader(source, limits)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, str]] = []
    if node is not None:
        # After construction: merge keys (`<<`) have been flattened into their mappings.
        lines[""] = node.start_mark.line + 1
        _map_lines(node, "", lines, duplicates)
    return data, lines, duplicates


def _map_lines(
    node: yaml.Node, path: str, lines: dict[str, int], duplicates: list[tuple[str, str]]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            child = _join(path, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                # PyYAML keeps the last value silently; a flow author rarely means that.
                first = seen[key_node.value]
                duplicates.append(
                    (child, f"duplicate key '{key_node.value}' (first on line {first})")
                )
            seen[key_node.value] = line
            lines[child] = line
            _map_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines[child] = item.start_mark.line + 1
            _map_lines(item, child, lines, duplicates)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [exc.context, exc.problem]
    return ", ".join(p for p in parts if p) or str(exc)


def _join(path: str, part: PathPart) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


# --- pydantic errors to paths -----------------------------------------------------------


def _pydantic_problems(
    exc: ValidationError, raw: Any, model: type[BaseModel]
) -> list[tuple[str, str]]:
    """(relative path, message) pairs; errors of one union at one path become one message."""
    by_path: dict[str, list[str]] = {}
    errors = exc.errors()
    tags = {part for error in errors for part in error["loc"] if isinstance(part, str)}
    for error in errors:
        located = _locate(error["loc"], raw, error["type"], tags)
        if located is None:
            continue
        path, last = located
        message = _message(error, last)
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
            names = [field.alias or name for name, field in model.model_fields.items()]
            hint = difflib.get_close_matches(last, names, n=1)
            if hint:
                message += f"; did you mean '{hint[0]}'?"
        by_path.setdefault(path, []).append(message)
    return [(path, _merge(messages)) for path, messages in by_path.items()]


def _locate(
    loc: tuple[PathPart, ...], raw: Any, error_type: str, tags: set[str]
) -> tuple[str, str] | None:
    """The path of an error in the data, without pydantic's union member tags.

    None when the error belongs to a union branch that the data's shape already rules
    out (a list given where the branch wants a dict), so only the relevant branch speaks.
    """
    path = ""
    last = ""
    node: Any = raw
    for position, part in enumerate(loc):
        is_last = position == len(loc) - 1
        if isinstance(node, dict) and part in node:
            path, last, node = _join(path, str(part)), str(part), node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path, last, node = _join(path, part), str(part), node[part]
        elif part == "[key]":
            continue
        elif is_last and error_type == "missing":
            path, last = _join(path, str(part)), str(part)
        elif isinstance(part, str) and _shape_rules_out(part, node, tags):
            return None
        # Otherwise a union member tag such as 'str' or 'list[any]': not part of the path.
    return path, last


def _shape_rules_out(tag: str, value: Any, tags: set[str]) -> bool:
    """A list branch given a mapping, when the union also has a dict branch (or the reverse)."""
    has_dict = any(t.startswith("dict[") for t in tags)
    has_list = any(t.startswith("list[") for t in tags)
    return (tag.startswith("list[") and isinstance(value, dict) and has_dict) or (
        tag.startswith("dict[") and isinstance(value, list) and has_list
    )


def _message(error: Mapping[str, Any], last: str) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"required property '{last}' is missing"
    if kind == "extra_forbidden":
        return f"unknown property '{last}'"
    text = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if isinstance(given, (str, int, float, bool)) and kind != "value_error":
        shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
        text = f"{text} (got {shown})"
    return text


def _merge(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages))
    prefix = "Input should be "
    if len(unique) > 1 and all(m.startswith(prefix) for m in unique):
        # Union branches: "Input should be a valid string or a valid list".
        alternatives = [m.removeprefix(prefix).split(" (got ")[0] for m in unique]
        tail = unique[0].split(" (got ", 1)
        got = f" (got {tail[1]}" if len(tail) == 2 else ""
        return prefix + " or ".join(alternatives) + got
    return "; ".join(unique)


# --- which parts of a model's data are tasks --------------------------------------------


def _task_slots(
    model: type[BaseModel], raw: Mapping[str, Any], path: str
) -> Iterator[tuple[str, Any]]:
    """(path, raw task) of every task held directly by `raw`, found from the model's types.

    Reading the annotations (rather than knowing the core flowables) lets a third-party
    flowable's children be checked as deeply as the core ones.
    """
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in raw:
            yield from _tasks_in(field.annotation, raw[key], _join(path, key))


def _tasks_in(annotation: Any, value: Any, path: str) -> Iterator[tuple[str, Any]]:
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, TaskSpec):
        if isinstance(value, dict):
            yield path, value
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(value, dict):
            yield from _task_slots(annotation, value, path)
    elif origin is list and isinstance(value, list):
        (item_type,) = get_args(annotation) or (Any,)
        for index, item in enumerate(value):
            yield from _tasks_in(item_type, item, _join(path, index))
    elif origin is dict and isinstance(value, dict):
        _, item_type = get_args(annotation) or (Any, Any)
        for key, item in value.items():
            yield from _tasks_in(item_type, item, _join(path, str(key)))
    elif origin is Union or origin is UnionType:
        # The first alternative that finds tasks wins, so none is reported twice.
        for alternative in get_args(annotation):
            found = list(_tasks_in(alternative, value, path))
            if found:
                yield from found
                return


# --- the checks ---------------------------------------------------------------------------


class _Checker:
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
        for relative, message in _pydantic_problems(exc, raw, model):
            if relative.startswith("inputs[") and base == "":
                for path, text in _input_problem_paths(relative, message, raw):
                    self.report(path, text)
                continue
            self.report(_join(base, relative) if relative else base, message)

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
        pending = [(path, raw, 1) for path, raw in _task_slots(Flow, self.data, "")]
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
                        _join(path, "id"),
                        f"duplicate task id '{task_id}' (already used at {first_use[task_id]}); "
                        "task ids must be unique in the whole flow",
                    )
                else:
                    first_use[task_id] = path
            plugin = self.plugin_of(raw, path)
            if plugin is None:
                continue
            children = [(p, r, depth + 1) for p, r in _task_slots(plugin, raw, path)]
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
                            _join(path, "id"),
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
            self.report(_join(path, "type"), _TEMPLATES)
            return None
        if plugin is None:
            message = f"unknown task type '{type_name}'"
            nearest = self.registry.nearest(type_name)
            if nearest:
                message += f"; did you mean {_either(nearest)}?"
            self.report(_join(path, "type"), message)
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
        roots: list[tuple[str, Any]] = list(_task_slots(Flow, self.data, ""))
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
            yield from _strings(item, _join(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, _join(path, index))


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


# InputDef checks its properties together in one model validator, so pydantic places its
# errors on the whole input; these fragments of its messages say which property is meant.
_INPUT_FIELD_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("needs 'values'", ("values", "type")),
    ("min/max", ("min", "max")),
    ("is greater than max", ("min",)),
    ("validator", ("validator",)),
    ("itemType", ("itemType",)),
)


def _input_problem_paths(
    relative: str, message: str, data: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    head, _, rest = relative.partition("]")
    if rest:  # already points at a property of the input
        yield relative, message
        return
    index = int(head.removeprefix("inputs["))
    inputs = data.get("inputs")
    item = inputs[index] if isinstance(inputs, list) and index < len(inputs) else {}
    for part in message.split("; "):
        field = next(
            (
                name
                for fragment, names in _INPUT_FIELD_HINTS
                if fragment in part
                for name in names
                if isinstance(item, dict) and name in item
            ),
            None,
        )
        yield (f"{relative}.{field}" if field else relative), part
