"""What a Flow trigger's model cannot say alone: condition types that exist (with a close
suggestion when not), durations that parse, time windows that hold together, filters with
the value their type needs, expressions that compile. Pure; registered with
streams/core/trigger_checks.py, so each problem is a validation error with its line."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from pydantic import BaseModel, ValidationError

from schemas.inputs import parse_duration
from schemas.states import State
from schemas.triggers.flow import (
    CONDITION_MODELS,
    LIST_FILTERS,
    UNARY_FILTERS,
    ExecutionOutputsCondition,
    ExpressionCondition,
    FlowTrigger,
    Preconditions,
    TimeWindow,
)
from streams.core.expressions import patterns, syntax_errors
from streams.core.trigger_checks import Problem, checks


@checks(FlowTrigger)
def _flow(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, FlowTrigger)
    if State.CREATED in trigger.states:
        yield "states", "a Flow trigger cannot react to CREATED (it is no state change)"
    for index, spec in enumerate(trigger.conditions):
        yield from _condition(f"conditions[{index}]", spec.model_dump())
    if trigger.preconditions is not None:
        yield from _preconditions("preconditions", trigger.preconditions)
    for name, value in trigger.inputs.items():
        yield from _expression(f"inputs.{name}", value)


def _condition(path: str, raw: dict[str, object]) -> Iterator[Problem]:
    type_name = str(raw.get("type"))
    model = CONDITION_MODELS.get(type_name)
    if model is None and type_name.endswith(".MultipleCondition"):
        yield f"{path}.type", "MultipleCondition is written as the trigger's `preconditions` here"
        return
    if model is None:
        message = f"unknown condition type '{type_name}'"
        hint = closest_condition_types(type_name)
        if hint:
            message += f"; did you mean {' or '.join(hint)}?"
        yield f"{path}.type", message
        return
    try:
        condition = model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            yield (f"{path}.{where}" if where else path), error["msg"]
        return
    if isinstance(condition, ExecutionOutputsCondition | ExpressionCondition):
        yield from _expression(f"{path}.expression", condition.expression)


def closest_condition_types(type_name: str) -> list[str]:
    """Known condition types near the given one, by the last segment of the name first."""
    names = sorted(CONDITION_MODELS)
    last = type_name.rsplit(".", 1)[-1].lower()
    by_last = [n for n in names if n.rsplit(".", 1)[-1].lower() == last]
    if by_last:
        return by_last[:1]
    lasts = {n.rsplit(".", 1)[-1]: n for n in names if n.startswith("io.kestra.plugin.core.")}
    near = difflib.get_close_matches(type_name.rsplit(".", 1)[-1], list(lasts), n=1, cutoff=0.6)
    return [lasts[n] for n in near]


def _preconditions(path: str, pre: Preconditions) -> Iterator[Problem]:
    if not pre.flows and not pre.where:
        yield path, "preconditions need at least one entry in `flows` or `where`"
    yield from _time_window(f"{path}.timeWindow", pre.timeWindow)
    for index, upstream in enumerate(pre.flows):
        if State.CREATED in (upstream.states or []):
            yield f"{path}.flows[{index}].states", "an upstream state cannot be CREATED"
    seen: set[str] = set()
    for index, where in enumerate(pre.where):
        at = f"{path}.where[{index}]"
        if where.id in seen:
            yield f"{at}.id", f"duplicate filter id '{where.id}'"
        seen.add(where.id)
        for position, item in enumerate(where.filters):
            spot = f"{at}.filters[{position}]"
            if item.type in LIST_FILTERS and not item.values:
                yield spot, f"a {item.type} filter needs `values`"
            elif item.type not in LIST_FILTERS + UNARY_FILTERS and item.value is None:
                yield spot, f"a {item.type} filter needs `value`"
            if item.field == "EXPRESSION":
                if item.value is None:
                    yield spot, "an EXPRESSION filter needs the expression as `value`"
                else:
                    yield from _expression(f"{spot}.value", item.value)
            if item.type == "REGEX" and item.value is not None:
                try:
                    patterns.check(item.value)
                except patterns.PatternError as exc:
                    yield f"{spot}.value", exc.message


# Which properties each window type may (and must) have, as Kestra's TimeWindowValidator.
_ALLOWED = {
    "DURATION_WINDOW": {"window", "windowAdvance"},
    "SLIDING_WINDOW": {"window"},
    "DAILY_TIME_DEADLINE": {"deadline"},
    "DAILY_TIME_WINDOW": {"startTime", "endTime"},
}
_REQUIRED = {
    "DAILY_TIME_DEADLINE": ("deadline",),
    "DAILY_TIME_WINDOW": ("startTime", "endTime"),
}


def _time_window(path: str, window: TimeWindow) -> Iterator[Problem]:
    given = {
        name
        for name in ("window", "windowAdvance", "deadline", "startTime", "endTime")
        if getattr(window, name) is not None
    }
    for name in sorted(given - _ALLOWED[window.type]):
        yield f"{path}.{name}", f"a {window.type} time window cannot have `{name}`"
    for name in _REQUIRED.get(window.type, ()):
        if name not in given:
            yield path, f"a {window.type} time window needs `{name}`"
    for name in ("window", "windowAdvance"):
        text = getattr(window, name)
        if text is None:
            continue
        try:
            length = parse_duration(text)
        except ValueError as exc:
            yield f"{path}.{name}", str(exc)
            continue
        if name == "window" and length.total_seconds() <= 0:
            yield f"{path}.{name}", "the window must be longer than zero"
    if (
        window.type == "DAILY_TIME_WINDOW"
        and window.startTime is not None
        and window.endTime is not None
        and window.startTime >= window.endTime
    ):
        yield f"{path}.endTime", "endTime must be after startTime (windows stay within one day)"


def _expression(path: str, value: object) -> Iterator[Problem]:
    if isinstance(value, str):
        for message in syntax_errors(value):
            yield path, f"expression syntax error: {message}"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _expression(f"{path}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expression(f"{path}[{index}]", item)
