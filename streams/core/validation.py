"""Flow validation: every problem of a flow's YAML at once, each with its path and line.

Pure (no I/O): the caller hands in the source text and the plugin registry. The flow
model checks the common properties, then every task (nested ones too) is checked
against its plugin's model, then the cross-task rules that no single model can see:
unique ids, Dag dependencies, expression syntax (streams/core/flow_checks.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from schemas.flow import Flow
from schemas.limits import Limits
from streams.core.flow_checks import FlowChecker, FlowProblem
from streams.core.flow_yaml import kind_of, load_with_lines, yaml_message
from streams.core.plugin_defaults import apply_plugin_defaults, declared_defaults
from streams.core.yaml_loader import YamlLimitExceeded, source_too_large
from streams.plugins.base import Task

if TYPE_CHECKING:  # handed in by the caller: the core does not discover plugins
    from streams.plugins.registry import PluginRegistry

__all__ = [
    "FlowProblem",
    "UnrunnableFlow",
    "ValidatedFlow",
    "flow_from_source",
    "validate_flow",
    "validate_revision",
]


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
    namespace_defaults: Sequence[Mapping[str, Any]] = (),
) -> ValidatedFlow | list[FlowProblem]:
    """The flow parsed into its models, or every problem found in it.

    `limits` bound what the YAML may cost (source size, aliases, depth, expanded nodes);
    past one, that is the only problem reported. Callers pass their settings' limits;
    None stands for the defaults. `check_triggers=False` re-reads a stored revision: one
    deployed before a trigger rule existed still runs its tasks; each trigger runtime
    checks its own trigger again. `namespace_defaults`: the pluginDefaults of the flow's
    namespace and its parents, most important first; the flow's own come before them.
    """
    limits = limits or Limits()
    try:
        too_large = source_too_large(source, limits)
        if too_large is not None:
            raise too_large
        data, lines, duplicate_keys = load_with_lines(source, limits)
    except YamlLimitExceeded as exc:
        return [FlowProblem("", exc.line, str(exc))]
    except RecursionError:
        message = f"the YAML is nested too deeply (tasks may nest {limits.nesting_depth} deep)"
        return [FlowProblem("", None, message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return [FlowProblem("", line, f"malformed YAML: {yaml_message(exc)}")]
    except yaml.YAMLError as exc:
        return [FlowProblem("", None, f"malformed YAML: {exc}")]

    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {kind_of(data)}, not a mapping"
        message = f"a flow must be a YAML mapping; this document is {kind}"
        return [FlowProblem("", lines.get("", 1), message)]

    defaults = [*declared_defaults(data), *namespace_defaults]
    data = apply_plugin_defaults(data, defaults, registry.aliases)
    checker = FlowChecker(data, lines, registry, limits)
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
    source: str,
    revision: int,
    registry: PluginRegistry,
    limits: Limits | None,
    namespace_defaults: Sequence[Mapping[str, Any]] = (),
) -> ValidatedFlow | list[FlowProblem]:
    """A stored flow source as the executor runs it: at its revision, its triggers not
    checked again (one deployed before a trigger rule existed still runs its tasks; each
    trigger runtime checks its own trigger), with the namespace defaults it was written with."""
    result = validate_flow(
        source, registry, limits, check_triggers=False, namespace_defaults=namespace_defaults
    )
    if isinstance(result, list):
        return result
    return ValidatedFlow(
        flow=result.flow.model_copy(update={"revision": revision}), tasks=result.tasks
    )


def flow_from_source(
    source: str, revision: int, registry: PluginRegistry, limits: Limits | None
) -> ValidatedFlow | UnrunnableFlow:
    """The flow a CreateExecution carries (`flow_source`), or why it cannot run: the
    executor and history verification decide the same creation from it."""
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
