"""Does an upstream execution's state change concern a Flow trigger? Pure functions.

Kestra's order (FlowTriggerService): never the trigger's own flow; the state must be one
of the trigger's `states`; every `conditions` entry must hold; then each precondition
(`flows` entry, `where` filter) is met or not by this execution on its own, and the join
(streams/triggers/flow_join.py) decides whether they are all met inside the window.
Expressions render with the upstream event's time as `now`, never the clock.
"""

from __future__ import annotations

from typing import Any

from schemas.triggers.flow import (
    Condition,
    ExecutionFilter,
    ExecutionFlowCondition,
    ExecutionLabelsCondition,
    ExecutionNamespaceCondition,
    ExecutionOutputsCondition,
    ExecutionStatusCondition,
    ExpressionCondition,
    Filter,
    FlowTrigger,
    UpstreamFlow,
)
from schemas.triggers.upstream import UpstreamExecution
from streams.core.expressions import ExpressionError, patterns, render, render_bool, truthy


def trigger_variables(trigger: FlowTrigger, upstream: UpstreamExecution) -> dict[str, Any]:
    """The new execution's `trigger` (Kestra's Flow.Output, plus the upstream outputs)."""
    return {
        "id": trigger.id,
        "type": trigger.type,
        "executionId": upstream.execution_id,
        "namespace": upstream.namespace,
        "flowId": upstream.flow_id,
        "flowRevision": upstream.flow_revision,
        "state": str(upstream.state),
        "outputs": upstream.outputs,
    }


def expression_context(trigger: FlowTrigger, upstream: UpstreamExecution) -> dict[str, Any]:
    """What conditions, filters and the trigger's `inputs` can refer to."""
    return {
        "trigger": trigger_variables(trigger, upstream),
        "execution": {
            "id": upstream.execution_id,
            "namespace": upstream.namespace,
            "flowId": upstream.flow_id,
            "flowRevision": upstream.flow_revision,
            "state": str(upstream.state),
            "outputs": upstream.outputs,
        },
        "labels": upstream.labels,
        "outputs": {},
        "inputs": {},
        "vars": {},
        "flow": {
            "namespace": upstream.namespace,
            "id": upstream.flow_id,
            "revision": upstream.flow_revision,
        },
    }


class TriggerInputError(ValueError):
    """An input of the trigger could not be rendered; the message names it."""


def render_inputs(trigger: FlowTrigger, upstream: UpstreamExecution) -> dict[str, Any]:
    """The trigger's `inputs` rendered over `trigger.*`; raises TriggerInputError."""
    context = expression_context(trigger, upstream)
    rendered: dict[str, Any] = {}
    for name, value in trigger.inputs.items():
        try:
            rendered[name] = render(value, context, now=upstream.time)
        except ExpressionError as exc:
            raise TriggerInputError(f"input '{name}': {exc}") from exc
    return rendered


def concerns(trigger: FlowTrigger, flow_key: tuple[str, str], upstream: UpstreamExecution) -> bool:
    """The trigger reacts to this state change (states and `conditions`), before any
    precondition. `flow_key` is the trigger's own (namespace, flow id): never itself."""
    if (upstream.namespace, upstream.flow_id) == flow_key:
        return False
    if upstream.state not in trigger.states:
        return False
    context = expression_context(trigger, upstream)
    return all(holds(c, upstream, context) for c in trigger.parsed_conditions())


def holds(condition: Condition, upstream: UpstreamExecution, context: dict[str, Any]) -> bool:
    if isinstance(condition, ExecutionFlowCondition):
        return (upstream.namespace, upstream.flow_id) == (condition.namespace, condition.flowId)
    if isinstance(condition, ExecutionNamespaceCondition):
        comparison = condition.comparison or ("PREFIX" if condition.prefix else "EQUALS")
        if comparison == "PREFIX":
            return upstream.namespace.startswith(condition.namespace)
        if comparison == "SUFFIX":
            return upstream.namespace.endswith(condition.namespace)
        return upstream.namespace == condition.namespace
    if isinstance(condition, ExecutionStatusCondition):
        if condition.in_ is not None and upstream.state not in condition.in_:
            return False
        return condition.notIn is None or upstream.state not in condition.notIn
    if isinstance(condition, ExecutionLabelsCondition):
        return all(upstream.labels.get(k) == v for k, v in condition.label_map().items())
    if isinstance(condition, ExecutionOutputsCondition):
        # Kestra: no outputs, no match (the expression is not even evaluated).
        return bool(upstream.outputs) and _true(condition.expression, context, upstream)
    if isinstance(condition, ExpressionCondition):
        return _true(condition.expression, context, upstream)
    raise AssertionError(f"unhandled condition {type(condition).__name__}")


def _true(expression: str, context: dict[str, Any], upstream: UpstreamExecution) -> bool:
    try:
        return render_bool(expression, context, now=upstream.time)
    except ExpressionError:
        # Kestra counts a condition that cannot be evaluated as not met.
        return False


def met_preconditions(trigger: FlowTrigger, upstream: UpstreamExecution) -> tuple[str, ...]:
    """The names (Preconditions.condition_ids) of the preconditions this execution meets."""
    pre = trigger.preconditions
    if pre is None:
        return ()
    context = expression_context(trigger, upstream)
    met = [f"flows[{i}]" for i, f in enumerate(pre.flows) if upstream_flow_matches(f, upstream)]
    met += [f"where[{w.id}]" for w in pre.where if filter_matches(w, upstream, context)]
    return tuple(met)


def upstream_flow_matches(flow: UpstreamFlow, upstream: UpstreamExecution) -> bool:
    if flow.namespace != upstream.namespace:
        return False
    if flow.flowId is not None and flow.flowId != upstream.flow_id:
        return False
    if flow.states is not None and upstream.state not in flow.states:
        return False
    return flow.labels is None or all(
        upstream.labels.get(k) == str(v) for k, v in flow.labels.items()
    )


def filter_matches(
    where: ExecutionFilter, upstream: UpstreamExecution, context: dict[str, Any]
) -> bool:
    results = (_filter(item, upstream, context) for item in where.filters)
    return any(results) if where.operand == "OR" else all(results)


def _filter(item: Filter, upstream: UpstreamExecution, context: dict[str, Any]) -> bool:
    value: str | None
    if item.field == "FLOW_ID":
        value = upstream.flow_id
    elif item.field == "NAMESPACE":
        value = upstream.namespace
    elif item.field == "STATE":
        value = str(upstream.state)
    else:
        try:
            rendered = render(item.value, context, now=upstream.time)
        except ExpressionError:
            return False
        value = None if rendered is None else _text(rendered)
    kind = item.type
    if kind == "EQUAL_TO":
        return value == item.value
    if kind == "NOT_EQUAL_TO":
        return value != item.value
    if kind == "IN":
        return value in (item.values or [])
    if kind == "NOT_IN":
        return value not in (item.values or [])
    if kind == "IS_TRUE":
        return truthy(value)
    if kind == "IS_FALSE":
        return not truthy(value)
    if kind == "IS_NULL":
        return value is None
    if kind == "IS_NOT_NULL":
        return value is not None
    if value is None or item.value is None:
        return False
    if kind == "STARTS_WITH":
        return value.startswith(item.value)
    if kind == "ENDS_WITH":
        return value.endswith(item.value)
    if kind == "REGEX":
        # Java's String.matches: the whole value must match. A pattern that backtracks
        # for longer than a second does not match (as a filter that fails to render).
        try:
            return patterns.matches_whole(item.value, value)
        except patterns.PatternError:
            return False
    return item.value in value  # CONTAINS


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
