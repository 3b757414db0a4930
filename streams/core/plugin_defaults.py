"""`pluginDefaults`: default (or forced) property values for every plugin of a type.

Kestra's semantics, applied to the flow's data before it is validated, so a default
counts exactly as if the author had written it: every mapping with a `type` anywhere in
the flow (tasks at any depth, triggers, conditions) whose type equals a default's type, or
starts with it (a prefix such as `io.kestra.plugin.core.log`), receives the default's
`values`. The task's own properties win over a default; a `forced` default wins over the
task's. Maps merge deeply; lists concatenate (Kestra's MapUtils.merge). `taskDefaults`
is Kestra's older name for the same list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

# A plugin type's other names (Kestra's old `io.kestra.core.tasks...`, Lanner's short one).
Aliases = Callable[[str], Iterable[str]]


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` wins; maps merge key by key, lists are joined, a None never erases."""
    merged = dict(base)
    for key, value in over.items():
        original = merged.get(key)
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(original, Mapping):
            merged[key] = merge(original, value)
        elif isinstance(value, list) and isinstance(original, list):
            merged[key] = [*original, *value]
        else:
            merged[key] = value
    return merged


def declared_defaults(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The flow's defaults, `pluginDefaults` first, then the older `taskDefaults`."""
    found: list[Mapping[str, Any]] = []
    for key in ("pluginDefaults", "taskDefaults"):
        items = data.get(key)
        if isinstance(items, list):
            found.extend(item for item in items if isinstance(item, Mapping))
    return found


def apply_plugin_defaults(
    data: Mapping[str, Any], defaults: list[Mapping[str, Any]], aliases: Aliases
) -> dict[str, Any]:
    """The flow's data with every default applied (the defaults lists themselves kept)."""
    usable = [d for d in defaults if isinstance(d.get("type"), str) and _values(d)]
    body = {k: v for k, v in data.items() if k not in ("pluginDefaults", "taskDefaults")}
    if not usable:
        return dict(data)
    plain = [d for d in usable if not d.get("forced")]
    # Forced defaults apply last, the first declared last of all, so it wins (Kestra).
    forced = list(reversed([d for d in usable if d.get("forced")]))
    result: dict[str, Any] = _walk(_walk(body, plain, aliases), forced, aliases)
    for key in ("pluginDefaults", "taskDefaults"):
        if key in data:
            result[key] = data[key]
    return result


def _values(default: Mapping[str, Any]) -> Mapping[str, Any]:
    values = default.get("values")
    return values if isinstance(values, Mapping) else {}


def _walk(node: Any, defaults: list[Mapping[str, Any]], aliases: Aliases) -> Any:
    if isinstance(node, Mapping):
        walked = {key: _walk(value, defaults, aliases) for key, value in node.items()}
        type_name = walked.get("type")
        if isinstance(type_name, str) and defaults:
            return _with_defaults(walked, type_name, defaults, aliases)
        return walked
    if isinstance(node, list):
        return [_walk(item, defaults, aliases) for item in node]
    return node


def _with_defaults(
    plugin: dict[str, Any],
    type_name: str,
    defaults: list[Mapping[str, Any]],
    aliases: Aliases,
) -> dict[str, Any]:
    names = {type_name, *aliases(type_name)}
    result = plugin
    for default in defaults:
        wanted = str(default["type"])
        if not any(name == wanted or name.startswith(wanted) for name in names):
            continue
        values = _values(default)
        result = merge(result, values) if default.get("forced") else merge(values, result)
    return result
