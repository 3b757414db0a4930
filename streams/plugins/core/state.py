"""io.kestra.plugin.core.state.Get / Set / Delete: named JSON states of a flow.

As in Kestra, a state is one entry of the namespace KV store, a map: its key is
`<flow id slug>_states_<name>` (no flow part with `namespace: true`), followed by
`_<hash of taskrun.value>` inside a ForEach unless `taskrunValue: false`. Set merges
`data` into the stored map (maps deeply, lists appended, as Kestra's MapUtils.merge).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, ClassVar

from pydantic import Field

from schemas.states import State
from streams.plugins.base import KvPort, Outcome, WorkerContext, WorkerTask
from streams.plugins.core.murmur import hash_to_string

_KESTRA = "io.kestra.plugin.core.state"
_KESTRA_OLD = "io.kestra.core.tasks.states"


def slugify(text: str) -> str:
    """Kestra's Slugify.of (Java's `\\w` is ASCII: accents go after NFD)."""
    slug = re.sub(r"\s", "-", text)
    slug = unicodedata.normalize("NFD", slug)
    slug = re.sub(r"[^A-Za-z0-9_-]", "", slug).replace("_", "-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    slug = slug.removeprefix("-").removesuffix("-")
    return slug.lower()


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Kestra's MapUtils.merge: `b` over `a`, maps merged, lists concatenated, null keeps."""
    result = dict(a)
    for key, value in b.items():
        original = a.get(key)
        if value is None:
            result[key] = original
        elif isinstance(value, dict) and isinstance(original, dict):
            result[key] = merge(original, value)
        elif isinstance(value, list) and isinstance(original, list):
            result[key] = [*original, *value]
        else:
            result[key] = value
    return result


class StateTask(WorkerTask):
    name: str = "default"
    namespace: bool = False
    taskrunValue: bool = True

    def key(self, ctx: WorkerContext) -> str:
        key = "states_" + self.name
        if not self.namespace and ctx.flow_id:
            key = f"{slugify(ctx.flow_id)}_{key}"
        if self.taskrunValue and ctx.task_run_value is not None:
            key += "_" + hash_to_string(ctx.task_run_value)
        return key

    async def current(self, kv: KvPort, ctx: WorkerContext) -> dict[str, Any] | None:
        found, value = await kv.get(ctx.namespace, self.key(ctx))
        if not found:
            return None
        if isinstance(value, str | bytes):
            value = json.loads(value)  # a state written as JSON text (as Kestra does)
        if not isinstance(value, dict):
            raise ValueError(f"state {self.key(ctx)!r} is not a map")
        return value

    async def act(self, kv: KvPort, ctx: WorkerContext) -> Outcome:
        raise NotImplementedError

    async def run(self, ctx: WorkerContext) -> Outcome:
        if ctx.kv is None:
            return Outcome(State.FAILED, error=f"task {self.id}: this worker has no KV store")
        try:
            return await self.act(ctx.kv, ctx)
        except ValueError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")

    def missing(self) -> Outcome:
        return Outcome(
            State.FAILED, error=f"task {self.id}: unable to find the state file '{self.name}'"
        )


class StateGet(StateTask):
    """The state's map as `data`, and its size as `count` (empty when there is none)."""

    TYPE: ClassVar[str] = "state.Get"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.Get", f"{_KESTRA_OLD}.Get")
    errorOnMissing: bool = False

    async def act(self, kv: KvPort, ctx: WorkerContext) -> Outcome:
        data = await self.current(kv, ctx)
        if data is None and self.errorOnMissing:
            return self.missing()
        data = data or {}
        return Outcome(State.SUCCESS, {"count": len(data), "data": data})


class StateSet(StateTask):
    """Merges `data` into the state; outputs its `count` of keys and its KV `key`."""

    TYPE: ClassVar[str] = "state.Set"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.Set", f"{_KESTRA_OLD}.Set")
    data: dict[str, Any] = Field(default_factory=dict)

    async def act(self, kv: KvPort, ctx: WorkerContext) -> Outcome:
        merged = merge(await self.current(kv, ctx) or {}, self.data)
        key = self.key(ctx)
        await kv.set(ctx.namespace, key, merged, None)
        return Outcome(State.SUCCESS, {"count": len(merged), "key": key})


class StateDelete(StateTask):
    """Deletes the state; `deleted` says whether there was one."""

    TYPE: ClassVar[str] = "state.Delete"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.Delete", f"{_KESTRA_OLD}.Delete")
    errorOnMissing: bool = False

    async def act(self, kv: KvPort, ctx: WorkerContext) -> Outcome:
        deleted = await kv.delete(ctx.namespace, self.key(ctx))
        if not deleted and self.errorOnMissing:
            return self.missing()
        return Outcome(State.SUCCESS, {"deleted": deleted})
