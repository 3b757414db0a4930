"""A task's properties rendered before it starts (pure): every property but those its
plugin renders itself (UNRENDERED) and those that steer the executor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from schemas.flow import NOT_RENDERED_AS_INPUTS
from streams.core.deferred import defer_lookups
from streams.core.expressions.values import templated_text
from streams.core.folder_variables import placeholders
from streams.plugins.base import Task


def rendered(
    task: Task,
    context: Callable[[], dict[str, Any]],
    render: Callable[[Any, dict[str, Any]], Any],
    now: dt.datetime,
) -> Task:
    """The task with its properties rendered (unless it has no expression at all);
    ValueError when the rendered properties do not validate."""
    raw = task.model_dump(by_alias=True, exclude_unset=True)
    names = [k for k in raw if k not in NOT_RENDERED_AS_INPUTS and k not in task.UNRENDERED]
    if not any(_has_expression(raw[k]) for k in names):
        return task
    offered = task.FOLDER_VARIABLES
    # `{{ workingDir }}` and the like: stand-ins the worker replaces (folder_variables.py).
    variables = {**context(), **placeholders(offered)} if offered else context()
    written = dict(raw)
    for key in names:
        # Templates acting on secret()/kv()/read() or a folder variable render on the worker.
        deferred = defer_lookups(raw[key], variables, now, offered, task.type)
        raw[key] = render(deferred, variables)
        if key in task.text_properties():
            raw[key] = templated_text(written[key], raw[key])
    try:
        return type(task).model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"rendered properties are invalid: {_short_validation(exc)}") from None


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    return False


def _short_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
