"""Deferred lookups: what the executor cannot render, because only a worker holds the data.

Pure: looks at task properties and templates only.

- `needs_worker`: an inline task whose rendered properties hold a deferred marker runs on
  a worker (which resolves and masks), not in the executor.
- `defer_lookups`: a template that acts on what secret(), kv() or read()
  return is not rendered here at all. Rendering it with placeholders would let filters act
  on the placeholder (`{{ secret('X') | upper }}` gave the marker in capitals), so the
  whole template travels to the worker as a `render` marker with the variables it reads,
  and the worker renders it with the real values (streams/deferred_lookups.py) and masks the whole
  result. A lookup only printed as is (`Bearer {{ secret('X') }}`) keeps the placeholder.
  The same holds for the variables of a task's working folder (`{{ workingDir }}`...).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from streams.core.context import DEFERRED_OPEN, deferred_marker
from streams.core.expressions import analyse
from streams.core.expressions.values import to_json
from streams.core.folder_variables import FOLDER_VARIABLES, folder_use
from streams.plugins.base import InlineTask, Task

RENDER_KIND = "render"
# Context entries a deferred template may need besides the names it reads.
_ERROR_LOGS = "_error_logs"


def needs_worker(task: Task) -> bool:
    """An inline task whose rendered properties hold a deferred secret()/kv()/read():
    the executor cannot resolve it (it holds no secrets), so a worker runs it and masks
    its logs and outputs."""
    return _holds_marker(task.model_dump())


def may_need_worker(task: InlineTask) -> bool:
    """Whether this inline task's spec can render to a deferred lookup (see needs_worker),
    so that a worker's reports about its runs are genuine."""
    text = task.model_dump_json()
    return any(call in text for call in ("secret(", "kv(", "read(", "fileSize("))


def defer_lookups(
    value: Any,
    context: Mapping[str, Any],
    now: dt.datetime,
    offered: frozenset[str] = frozenset(),
    task_type: str = "",
) -> Any:
    """`value` with every template that acts on what secret()/kv()/read() return, or on a
    folder variable the task type offers (streams/core/folder_variables.py), replaced by a
    marker that carries the template, the variables it reads and the render time.
    ValueError when a template reads a folder variable that the task type does not offer."""
    if isinstance(value, str):
        analysis = analyse(value)
        folder_acted = folder_use(analysis, offered, task_type)
        if not analysis.acted_on and not folder_acted:
            # Printed as is (or no lookup at all): the placeholder is replaced by the value
            # on the worker, and only the secret itself needs masking.
            return value
        # The folder variables are the worker's own; the executor has only stand-ins.
        variables = {
            k: context[k] for k in analysis.names if k in context and k not in FOLDER_VARIABLES
        }
        if "errorLogs" in value and _ERROR_LOGS in context:
            variables[_ERROR_LOGS] = context[_ERROR_LOGS]
        payload = {"template": value, "variables": variables, "now": now.isoformat()}
        # Base64, so that the marker holds no `{{` for the executor's own render to see.
        packed = base64.b64encode(to_json(payload).encode("utf-8")).decode("ascii")
        return deferred_marker(RENDER_KIND, packed)
    if isinstance(value, Mapping):
        return {k: defer_lookups(v, context, now, offered, task_type) for k, v in value.items()}
    if isinstance(value, list):
        return [defer_lookups(v, context, now, offered, task_type) for v in value]
    return value


def lookups_in(value: Any) -> frozenset[str]:
    """Which of secret()/kv()/read() the templates inside `value` call."""
    if isinstance(value, str):
        return analyse(value).lookups
    if isinstance(value, Mapping):
        return frozenset().union(*(lookups_in(v) for v in value.values()))
    if isinstance(value, list):
        return frozenset().union(*(lookups_in(v) for v in value))
    return frozenset()


def unpack_render(argument: Any) -> tuple[str, dict[str, Any], dt.datetime]:
    """(template, variables, now) of a `render` marker's argument (ValueError if bad)."""
    payload = json.loads(base64.b64decode(str(argument), validate=True))
    if not isinstance(payload, dict) or not isinstance(payload.get("template"), str):
        raise ValueError("a deferred render must carry its template")
    variables = payload.get("variables")
    now = dt.datetime.fromisoformat(str(payload.get("now")))
    return payload["template"], variables if isinstance(variables, dict) else {}, now


def _holds_marker(value: Any) -> bool:
    if isinstance(value, str):
        return DEFERRED_OPEN in value
    if isinstance(value, dict):
        return any(_holds_marker(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_marker(v) for v in value)
    return False
