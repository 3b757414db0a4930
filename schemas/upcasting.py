"""Upcasters: older versions of an event type still decode, one small function per change.

An event type's version is the default of its model's `version` field. When a type
changes shape, its model's version goes up by one and an upcaster is registered for
(type, previous version): a pure function from the old JSON object to the next
version's. Decoding applies the chain until the event is current, so every reader (the
executor, projections, history verification, time travel) sees only current events
and no reader ever branches on versions. A version newer than the code knows is refused,
never guessed at.

Pure and dependency-free on purpose: `schemas.events` hooks it into its adapters, so it
must not import them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# The `version` field arrived with version 1: a record without it is version 1.
UNVERSIONED = 1

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UpcastError(ValueError):
    """An event that no chain of upcasters brings to the current version."""


def register(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: `fn` turns a `from_version` object of `event_type` into the next version."""

    def add(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS and _UPCASTERS[key] is not fn:
            raise ValueError(f"an upcaster for {event_type} v{from_version} exists already")
        _UPCASTERS[key] = fn
        return fn

    return add


def unregister(event_type: str, from_version: int) -> None:
    """For tests that register a synthetic upcaster."""
    _UPCASTERS.pop((event_type, from_version), None)


def upcast(data: dict[str, Any], current: Mapping[str, int]) -> dict[str, Any]:
    """`data` brought to the current version of its type (itself when already current)."""
    event_type = data.get("type")
    if not isinstance(event_type, str) or event_type not in current:
        return data  # not ours to judge: the discriminated union reports it
    version = data.get("version", UNVERSIONED)
    if not isinstance(version, int):
        raise UpcastError(f"{event_type}: version {version!r} is not an integer")
    target = current[event_type]
    if version > target:
        raise UpcastError(
            f"{event_type} v{version} is newer than this code knows (v{target}); upgrade "
            "the reader before reading it"
        )
    while version < target:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise UpcastError(f"no upcaster for {event_type} v{version} (current v{target})")
        data = {**step(dict(data)), "version": version + 1}
        version += 1
        # An upcaster may rename a type; the chain continues under the new name.
        event_type = str(data.get("type", event_type))
        target = current.get(event_type, target)
    return data


def current_versions(union: Any) -> dict[str, int]:
    """type name -> current version, read from the models of an (annotated) union."""
    members = get_args(union)
    if members and not isinstance(members[0], type):
        members = get_args(members[0])  # Annotated[A | B, Field(...)] -> (A, B)
    versions: dict[str, int] = {}
    for model in members:
        if isinstance(model, type) and issubclass(model, BaseModel):
            name = model.model_fields["type"].default
            versions[str(name)] = int(model.model_fields["version"].default)
    return versions


def upcasting(union: Any) -> Any:
    """`union` with upcasting in front: pass the result to a TypeAdapter."""
    current = current_versions(union)

    def before(data: Any) -> Any:
        if isinstance(data, dict) and data.get("version", UNVERSIONED) != current.get(
            str(data.get("type")), UNVERSIONED
        ):
            return upcast(data, current)
        return data  # the common case: already current, untouched

    return Annotated[union, BeforeValidator(before)]
