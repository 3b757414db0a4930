"""The executor's outputs, sent in message order once the record they follow is on the log.

Each message's record must reach the broker before the events it caused (a restart would
otherwise find events the restored table does not know). Waiting for that round trip in
the agent held every message behind the previous one's: measured 182 one-Return executions
per second in a burst, against 512/s before the wait. The agent now hands each message's
record write and outputs to this outbox and goes on deciding; one sender, in message order,
waits for each record and then sends what followed from it. The message's position moves
only once those sends are acknowledged (`ConsumedPositions.hold_until_sent`), so a crash at
any point re-reads the message, which re-emits the same outputs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

log = logging.getLogger("lanner.executor")

# Inputs decided but not yet sent: the agent waits when this many are in flight.
MAX_IN_FLIGHT = 1000

Output = tuple[faust.TopicT, bytes, bytes]


class Outbox:
    def __init__(self, producer: Callable[[], Any], limit: int = MAX_IN_FLIGHT) -> None:
        """`producer`: the aiokafka producer to send with (streams/app/faust_app.py)."""
        self.producer = producer
        self._queue: asyncio.Queue[
            tuple[Awaitable[Any] | None, Sequence[Output], asyncio.Future[None]]
        ] = asyncio.Queue(maxsize=limit)

    async def put(
        self, record_written: Awaitable[Any] | None, outputs: Sequence[Output]
    ) -> asyncio.Future[None]:
        """Queue a message's outputs behind its record write (None: nothing to wait for);
        the future resolves once the broker has them all, or fails with why."""
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((record_written, outputs, sent))
        return sent

    async def run(self) -> None:
        """The sender: one message at a time, in the order the agent decided them."""
        while True:
            record_written, outputs, sent = await self._queue.get()
            try:
                if record_written is not None:
                    await record_written
                # Straight to aiokafka: no await yields between these sends, so a message's
                # events and jobs leave in one produce request (Faust's topic.send yields
                # after each, and each further record waited a round trip for the one before).
                producer = self.producer()
                acks = [
                    await producer.send(topic.get_topic_name(), value, key=key)
                    for topic, key, value in outputs
                ]
            except Exception as exc:  # the message's position never moves: a restart re-reads it
                log.exception("a message's outputs could not be sent")
                sent.set_exception(exc)
                continue
            _resolve_when_all(acks, sent)


def _resolve_when_all(acks: list[Any], sent: asyncio.Future[None]) -> None:
    if not acks:
        sent.set_result(None)
        return
    gathered = asyncio.gather(*acks)

    def done(all_acks: asyncio.Future[list[Any]]) -> None:
        if all_acks.cancelled():
            sent.cancel()
        elif all_acks.exception() is not None:
            sent.set_exception(all_acks.exception())  # type: ignore[arg-type]
        else:
            sent.set_result(None)

    gathered.add_done_callback(done)
