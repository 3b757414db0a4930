"""A flow's YAML read for validation: the data, plus a map of paths to lines (pure).

Every problem names its line: `lines` maps each path (`tasks[0].id`) to the line of its
node, and keys repeated in one mapping, which PyYAML would silently collapse, are listed.
"""

from __future__ import annotations

from typing import Any

import yaml

from schemas.limits import Limits
from streams.core.yaml_loader import FlowLoader

PathPart = str | int


def load_with_lines(
    source: str, limits: Limits
) -> tuple[Any, dict[str, int], list[tuple[str, str]]]:
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
            child = join_path(path, str(key_node.value))
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


def yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [exc.context, exc.problem]
    return ", ".join(p for p in parts if p) or str(exc)


def join_path(path: str, part: PathPart) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
