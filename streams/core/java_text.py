"""Values written the way Java's `toString` writes them, for messages Kestra users know
(`[1, null, {key=my-key}]`): searching the logs for Kestra's wording finds Lanner's."""

from __future__ import annotations

from typing import Any


def java_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    return str(value)
