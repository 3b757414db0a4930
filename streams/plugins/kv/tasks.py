"""io.kestra.plugin.core.kv.Set / Get / Delete: worker tasks over the namespace KV store."""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.inputs import parse_duration
from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask

_KESTRA = "io.kestra.plugin.core.kv"


def _no_store(task_id: str) -> Outcome:
    return Outcome(State.FAILED, error=f"task {task_id}: this worker has no KV store")


class KvSetTask(WorkerTask):
    """Sets a key (in the flow's namespace unless `namespace` is given), with a TTL."""

    TYPE: ClassVar[str] = "kv.Set"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.Set",)
    key: str
    value: Any = None
    namespace: str | None = None
    ttl: str | None = None
    overwrite: bool = True
    kvType: str | None = None  # Kestra's type hint; values keep their JSON type here

    async def run(self, ctx: WorkerContext) -> Outcome:
        if ctx.kv is None:
            return _no_store(self.id)
        namespace = self.namespace or ctx.namespace
        expires = None
        if self.ttl is not None:
            try:
                expires = ctx.now() + parse_duration(self.ttl)
            except ValueError as exc:
                return Outcome(State.FAILED, error=f"task {self.id}: ttl {exc}")
        if not self.overwrite:
            exists, _ = await ctx.kv.get(namespace, self.key)
            if exists:
                return Outcome(
                    State.FAILED,
                    error=f"task {self.id}: key {self.key!r} exists (overwrite: false)",
                )
        await ctx.kv.set(namespace, self.key, self.value, expires)
        return Outcome(State.SUCCESS)


class _KeyTask(WorkerTask):
    """A task on one existing key: Get and Delete."""

    key: str
    namespace: str | None = None
    errorOnMissing: bool = False

    def _missing(self) -> Outcome:
        return Outcome(State.FAILED, error=f"task {self.id}: KV key {self.key!r} is not set")


class KvGetTask(_KeyTask):
    """Gets a key's value as the output `value`."""

    TYPE: ClassVar[str] = "kv.Get"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.Get",)

    async def run(self, ctx: WorkerContext) -> Outcome:
        if ctx.kv is None:
            return _no_store(self.id)
        found, value = await ctx.kv.get(self.namespace or ctx.namespace, self.key)
        if not found and self.errorOnMissing:
            return self._missing()
        return Outcome(State.SUCCESS, {"value": value})


class KvDeleteTask(_KeyTask):
    """Deletes a key; output `deleted` says whether it existed."""

    TYPE: ClassVar[str] = "kv.Delete"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.Delete",)

    async def run(self, ctx: WorkerContext) -> Outcome:
        if ctx.kv is None:
            return _no_store(self.id)
        deleted = await ctx.kv.delete(self.namespace or ctx.namespace, self.key)
        if not deleted and self.errorOnMissing:
            return self._missing()
        return Outcome(State.SUCCESS, {"deleted": deleted})


class KvGetKeysTask(WorkerTask):
    """Lists the keys of a namespace (the flow's unless `namespace` is given) that start
    with `prefix` (all when unset), sorted, as the output `keys`."""

    TYPE: ClassVar[str] = "kv.GetKeys"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.GetKeys",)
    prefix: str | None = None
    namespace: str | None = None

    async def run(self, ctx: WorkerContext) -> Outcome:
        if ctx.kv is None:
            return _no_store(self.id)
        keys = await ctx.kv.keys(self.namespace or ctx.namespace)
        prefix = self.prefix or ""
        return Outcome(State.SUCCESS, {"keys": [k for k in keys if k.startswith(prefix)]})
