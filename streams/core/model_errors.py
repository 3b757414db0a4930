"""Pydantic's validation errors as flow problems: each at the path of the data it is
about (union member tags left out), with a message a flow author reads (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from streams.core.flow_yaml import PathPart, join_path


def pydantic_problems(
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
            path, last, node = join_path(path, str(part)), str(part), node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path, last, node = join_path(path, part), str(part), node[part]
        elif part == "[key]":
            continue
        elif is_last and error_type == "missing":
            path, last = join_path(path, str(part)), str(part)
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


# InputDef checks its properties together in one model validator, so pydantic places its
# errors on the whole input; these fragments of its messages say which property is meant.
_INPUT_FIELD_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("needs 'values'", ("values", "type")),
    ("min/max", ("min", "max")),
    ("is greater than max", ("min",)),
    ("validator", ("validator",)),
    ("itemType", ("itemType",)),
)


def input_problem_paths(
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
