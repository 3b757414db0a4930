"""Inline tasks that must run on a worker: those whose properties use secret(), kv() or
read(), which only a worker can resolve (and mask). Pure: looks at rendered text only."""

from __future__ import annotations

from typing import Any

from streams.core.context import DEFERRED_OPEN
from streams.plugins.base import InlineTask, Task


def needs_worker(task: Task) -> bool:
    """An inline task whose rendered properties hold a deferred secret()/kv()/read():
    the executor cannot resolve it (it holds no secrets), so a worker runs it and masks
    its logs and outputs."""
    return _holds_marker(task.model_dump())


def may_need_worker(task: InlineTask) -> bool:
    """Whether this inline task's spec can render to a deferred lookup (see needs_worker),
    so that a worker's reports about its runs are genuine."""
    text = task.model_dump_json()
    return any(call in text for call in ("secret(", "kv(", "read("))


def _holds_marker(value: Any) -> bool:
    if isinstance(value, str):
        return DEFERRED_OPEN in value
    if isinstance(value, dict):
        return any(_holds_marker(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_marker(v) for v in value)
    return False
