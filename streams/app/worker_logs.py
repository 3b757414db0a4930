"""The worker's log lines, handed to the producer in batches instead of one by one.

Measured (bench/log_lines.py, 100,000 lines printed by one Script task): sent one
`topic.send` per line, the producer made a produce request of a few records each
(linger 0 for the hot path's sake), and the task needed ~28 s, most of it in the
producer's per-record and per-request work. Here a line costs an append to a list; the
lines of one key (the execution id, the records' key and so their partition) leave
together once a few milliseconds pass, a batch fills up, or the task run reports how it
ended: many lines as record batches of up to 512 KB (the producer's own are 16 KB, and
aiokafka sends one batch per partition per request), a few lines into the producer's open
batch. Each line is still its own record on the logs topic, so readers (the indexer,
replays) are unchanged.

Order: lines of one key are taken from one list and enqueued under one lock, so they
reach the partition in the order they were written. `flush(key)` enqueues a key's lines
before the worker sends its "finished" report through the same producer, so the lines
are never behind the report that ends their task run (as with one send per line). A
worker killed with lines still in memory loses them, as it lost its producer's buffer
before: the attempt is run again, under a new attempt number, and logs its lines anew.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

# aiokafka ships no type hints (Faust wraps it; see the mypy overrides for faust.*).
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from aiokafka.producer.message_accumulator import BatchBuilder  # type: ignore[import-untyped]

log = logging.getLogger("lanner.worker")

# How long a line may wait for company: short enough to follow a task's output live.
LINGER_S = 0.005
# A record batch's bytes: below the broker's default message.max.bytes (1 MB).
BATCH_BYTES = 512 * 1024
_NO_COMPRESSION = 0  # aiokafka's code for no compression
# Up to this many lines join the producer's open batch rather than make one of their own.
FEW = 64
# Lines a key may hold before they are sent without waiting for the linger.
MAX_PENDING = 5000


class LogBatches:
    def __init__(self, app: faust.App, topic: str, *, linger_s: float = LINGER_S) -> None:
        self.app = app
        self.topic = topic
        self.linger_s = linger_s
        self._pending: dict[bytes, list[bytes]] = {}
        self._timers: dict[bytes, asyncio.TimerHandle] = {}
        self._sending = asyncio.Lock()
        self._partitions: list[int] | None = None
        self._flushes: set[asyncio.Future[None]] = set()  # lingering flushes in progress

    async def add(self, key: bytes, value: bytes) -> None:
        """Queue one record; it is sent within the linger, or at once with a full batch."""
        pending = self._pending.setdefault(key, [])
        pending.append(value)
        if len(pending) >= MAX_PENDING:
            await self.flush(key)
        elif key not in self._timers:
            self._timers[key] = asyncio.get_running_loop().call_later(
                self.linger_s, self._flush_later, key
            )

    def _flush_later(self, key: bytes) -> None:
        self._timers.pop(key, None)
        flush = asyncio.ensure_future(self.flush(key))
        self._flushes.add(flush)
        flush.add_done_callback(self._flushes.discard)

    async def flush(self, key: bytes) -> None:
        """Hand every queued record of `key` to the producer (enqueued, not yet acked)."""
        async with self._sending:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            values = self._pending.pop(key, None)
            if values:
                await self._send(key, values)

    async def _send(self, key: bytes, values: list[bytes]) -> None:
        # Faust's producer wraps aiokafka's; its batch API takes many records per call.
        producer: Any = getattr(self.app.producer, "_ensure_producer")()  # noqa: B009
        if self._partitions is None:
            self._partitions = sorted(await producer.partitions_for(self.topic))
        # The partition Faust's own send picks for the key (aiokafka's murmur2, as Java).
        partition = DefaultPartitioner()(key, self._partitions, self._partitions)
        if len(values) <= FEW:
            # Few lines (a quick task's): they join the partition's open batch. A batch
            # of their own would first wait for the one before it to leave (aiokafka
            # keeps one batch per partition in flight), and the report with them.
            for value in values:
                sent = await producer.send(self.topic, value, key=key, partition=partition)
                self._watch(key, sent)
            return
        # Many lines: batches far larger than the producer's own (16 KB), each one
        # request; waiting for the one before to leave is the backpressure they need.
        batch = BatchBuilder(BATCH_BYTES, _NO_COMPRESSION)
        for value in values:
            if batch.append(timestamp=None, key=key, value=value) is None:
                self._watch(key, await producer.send_batch(batch, self.topic, partition=partition))
                batch = BatchBuilder(BATCH_BYTES, _NO_COMPRESSION)
                batch.append(timestamp=None, key=key, value=value)  # an empty batch takes any
        self._watch(key, await producer.send_batch(batch, self.topic, partition=partition))

    def _watch(self, key: bytes, delivered: asyncio.Future[Any]) -> None:
        def check(future: asyncio.Future[Any]) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.error(
                    "log lines were not delivered",
                    extra={
                        "topic": self.topic,
                        "execution_id": key.decode(errors="replace"),
                        "reason": repr(future.exception()),
                    },
                )

        delivered.add_done_callback(check)
