"""Server-sent event streams of an execution's state changes and log lines.

Both poll the views (realtime GET for the execution, search for logs) rather than the
log: the views already hold everything from the start, so a late follower misses
nothing, and every API replica can serve them without a consumer of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from api.web.queries import LOG_SORT, log_query
from api.web.services import Services
from projections import mappings
from projections.documents import api_view
from schemas.states import State

STATE_POLL_S = 0.1
LOG_POLL_S = 0.3
# After the end, logs written just before it may still be on their way to the view.
LOG_GRACE_S = 0.5


def _terminal(doc: dict[str, Any]) -> bool:
    return State(doc["state"]["current"]).is_terminal


async def execution_changes(svc: Services, execution_id: str) -> AsyncIterator[dict[str, Any]]:
    """Each new version of the execution's document, up to and including its terminal one."""
    seen_seq = -1
    while True:
        doc = await asyncio.to_thread(svc.store.get, mappings.EXECUTIONS, execution_id)
        if doc is not None and int(doc.get("seq", 0)) != seen_seq:
            seen_seq = int(doc.get("seq", 0))
            yield doc
            if _terminal(doc):
                return
        await asyncio.sleep(STATE_POLL_S)


async def follow_execution(svc: Services, execution_id: str) -> AsyncIterator[dict[str, str]]:
    async for doc in execution_changes(svc, execution_id):
        yield {
            "event": "execution",
            "id": str(doc.get("seq", 0)),
            "data": json.dumps(api_view(doc), default=str),
        }
        if _terminal(doc):
            yield {
                "event": "end",
                "data": json.dumps({"id": execution_id, "state": doc["state"]["current"]}),
            }


async def until_ended(
    svc: Services, execution_id: str, timeout_s: float
) -> tuple[bool, dict[str, Any] | None]:
    """(ended, the last document seen) once the execution ends or `timeout_s` passed."""
    last: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(timeout_s):
            async for doc in execution_changes(svc, execution_id):
                last = doc
    except TimeoutError:
        return False, last
    return last is not None and _terminal(last), last


async def follow_logs(
    svc: Services, execution_id: str, task_id: str | None, min_level: str | None
) -> AsyncIterator[dict[str, str]]:
    query = log_query(execution_id, task_id, min_level, None)
    seen: set[str] = set()

    async def new_lines() -> list[dict[str, Any]]:
        _total, docs = await asyncio.to_thread(
            svc.store.search, mappings.LOGS, query, size=10_000, sort=LOG_SORT
        )
        fresh = [d for d in docs if d["id"] not in seen]
        seen.update(d["id"] for d in fresh)
        return fresh

    while True:
        doc = await asyncio.to_thread(svc.store.get, mappings.EXECUTIONS, execution_id)
        ended = doc is not None and _terminal(doc)
        if ended:
            await asyncio.sleep(LOG_GRACE_S)
            await asyncio.to_thread(svc.store.refresh, mappings.LOGS)
        for line in await new_lines():
            yield {"event": "log", "data": json.dumps(line, default=str)}
        if ended and doc is not None:
            yield {
                "event": "end",
                "data": json.dumps({"id": execution_id, "state": doc["state"]["current"]}),
            }
            return
        await asyncio.sleep(LOG_POLL_S)
