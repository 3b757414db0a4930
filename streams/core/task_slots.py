"""Which parts of a model's data are tasks, read from the model's annotations (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from schemas.flow import TaskSpec
from streams.core.flow_yaml import join_path


def task_slots(
    model: type[BaseModel], raw: Mapping[str, Any], path: str
) -> Iterator[tuple[str, Any]]:
    """(path, raw task) of every task held directly by `raw`, found from the model's types.

    Reading the annotations (rather than knowing the core flowables) lets a third-party
    flowable's children be checked as deeply as the core ones.
    """
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in raw:
            yield from _tasks_in(field.annotation, raw[key], join_path(path, key))


def _tasks_in(annotation: Any, value: Any, path: str) -> Iterator[tuple[str, Any]]:
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, TaskSpec):
        if isinstance(value, dict):
            yield path, value
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(value, dict):
            yield from task_slots(annotation, value, path)
    elif origin is list and isinstance(value, list):
        (item_type,) = get_args(annotation) or (Any,)
        for index, item in enumerate(value):
            yield from _tasks_in(item_type, item, join_path(path, index))
    elif origin is dict and isinstance(value, dict):
        _, item_type = get_args(annotation) or (Any, Any)
        for key, item in value.items():
            yield from _tasks_in(item_type, item, join_path(path, str(key)))
    elif origin is Union or origin is UnionType:
        # The first alternative that finds tasks wins, so none is reported twice.
        for alternative in get_args(annotation):
            found = list(_tasks_in(alternative, value, path))
            if found:
                yield from found
                return
