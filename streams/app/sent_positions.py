"""Which consumed positions may be written: those whose messages' outputs the broker has.

An agent's outputs go through Faust's producer in the background; the position after an
message becomes durable only once every record that message sent is acknowledged, and never
past an earlier message still waiting for its own. (streams/app/consumed_positions.py says
what was measured without this.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class OutputLost(RuntimeError):
    """A message's output never reached the broker: its position must never be written."""


class PositionsAwaitingSends:
    def __init__(self) -> None:
        # per partition key: (position after the message, the message's sends), in message order
        self._waiting: dict[str, deque[tuple[int, list[asyncio.Future[Any]]]]] = {}

    def add(self, key: str, position: int, sends: list[asyncio.Future[Any]]) -> None:
        self._waiting.setdefault(key, deque()).append((position, sends))

    def clear(self) -> None:
        self._waiting.clear()

    def pending(self) -> int:
        return sum(len(waiting) for waiting in self._waiting.values())

    def ready(self) -> dict[str, int]:
        """Per partition, the newest position whose messages' sends have all arrived (each
        is handed out once). Raises OutputLost when a send failed."""
        ready: dict[str, int] = {}
        for key, waiting in self._waiting.items():
            while waiting and all(send.done() for send in waiting[0][1]):
                position, sends = waiting[0]
                for send in sends:
                    if send.cancelled():
                        raise OutputLost(f"{key}: a send before offset {position} was cancelled")
                    if send.exception() is not None:
                        raise OutputLost(
                            f"{key}: a send before offset {position} failed: {send.exception()!r}"
                        )
                waiting.popleft()
                ready[key] = position
        return ready
