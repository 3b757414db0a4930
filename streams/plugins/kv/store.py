"""The worker's KV port: writes go to `kv-events` (acknowledged), reads to the view."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from streams.plugins.kv.events import KvDeleted, KvSet
from streams.plugins.kv.view import LiveKvView

# (record key, value) -> acknowledged by the broker.
Send = Callable[[str, bytes], Awaitable[None]]

_CATCH_UP_S = 10.0


class KvUnavailable(Exception):
    pass


class LiveKvStore:
    """Bound to one task run (for the audit fields); shares the worker's view and sender."""

    def __init__(
        self,
        view: LiveKvView,
        send: Send,
        tenant: str,
        now: Callable[[], dt.datetime],
        execution_id: str | None = None,
        task_run_id: str | None = None,
    ) -> None:
        self._view = view
        self._send = send
        self._tenant = tenant
        self._now = now
        self._execution_id = execution_id
        self._task_run_id = task_run_id

    async def set(self, namespace: str, key: str, value: Any, expires: dt.datetime | None) -> None:
        event = KvSet(
            tenant=self._tenant,
            namespace=namespace,
            key=key,
            value=value,
            expires=expires,
            time=self._now(),
            execution_id=self._execution_id,
            task_run_id=self._task_run_id,
        )
        await self._send(event.record_key, event.model_dump_json().encode())

    async def get(self, namespace: str, key: str) -> tuple[bool, Any]:
        await self.catch_up()
        found = self._view.get(self._tenant, namespace, key, self._now())
        return (False, None) if found is None else (True, found.value)

    async def delete(self, namespace: str, key: str) -> bool:
        existed, _ = await self.get(namespace, key)
        event = KvDeleted(
            tenant=self._tenant,
            namespace=namespace,
            key=key,
            time=self._now(),
            execution_id=self._execution_id,
            task_run_id=self._task_run_id,
        )
        await self._send(event.record_key, event.model_dump_json().encode())
        return existed

    async def keys(self, namespace: str) -> list[str]:
        await self.catch_up()
        return [e.key for e in self._view.entries(self._tenant, namespace, self._now())]

    async def catch_up(self) -> None:
        if not await asyncio.to_thread(self._view.catch_up, _CATCH_UP_S):
            raise KvUnavailable(f"the KV view did not catch up within {_CATCH_UP_S:.0f} s")
