"""Undefined values: strict when used, chainable when looked into, and described by what
was looked up and where (`undefined variable 'outputs.t1.x' (keys of outputs.t1: ...)`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from jinja2 import Undefined, UndefinedError
from jinja2.runtime import StrictUndefined
from jinja2.utils import missing

_SHOWN_KEYS = 10


class MissingValue(UndefinedError):
    """An undefined value was used; keeps what was looked up, and where, for the message."""

    def __init__(self, message: str, name: Any, owner: Any) -> None:
        super().__init__(message)
        self.name = name
        self.owner = owner


class ChainableUndefined(StrictUndefined):
    """Strict when used, but chainable: `a.missing.b | default(x)` and `a.missing.b ?? x`
    see one undefined value instead of failing on the inner attribute access."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise MissingValue(self._undefined_message, self._undefined_name, self._undefined_obj)


# Jinja binds every strict operation (__str__, __eq__, __add__...) to the base class's
# failing method; point them at ours so each failure carries the name and its owner.
for _base in (Undefined, StrictUndefined):
    for _attr, _value in list(vars(_base).items()):
        strict_op = _value is _base._fail_with_undefined_error and _attr.startswith("__")
        if strict_op and _attr not in ("__getattr__", "__getitem__"):
            setattr(ChainableUndefined, _attr, ChainableUndefined._fail_with_undefined_error)


def _path_of(target: Any, context: Mapping[str, Any], depth: int = 4) -> str | None:
    """Where `target` sits in the context (by identity), e.g. `outputs.task1`."""
    frontier: list[tuple[str, Any]] = [(k, v) for k, v in context.items() if not k.startswith("_")]
    for _ in range(depth):
        nxt: list[tuple[str, Any]] = []
        for path, value in frontier:
            if value is target:
                return path
            if isinstance(value, Mapping):
                nxt.extend((f"{path}.{k}", v) for k, v in value.items())
            elif isinstance(value, list):
                nxt.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        frontier = nxt
    return None


def describe_missing(exc: MissingValue, context: Mapping[str, Any]) -> str:
    if exc.owner is missing:
        return f"undefined variable {exc.name!r}"
    if not isinstance(exc.owner, Mapping):
        return exc.message or "undefined value"
    known = ", ".join(sorted(map(str, exc.owner))[:_SHOWN_KEYS]) or "none"
    if len(exc.owner) > _SHOWN_KEYS:
        known += ", ..."
    path = _path_of(exc.owner, context)
    if path is None:
        return f"undefined key {exc.name!r} (available: {known})"
    return f"undefined variable '{path}.{exc.name}' (keys of {path}: {known})"
