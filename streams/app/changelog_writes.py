"""A Faust table's changelog writes, sent together when the agent that made them flushes."""

from __future__ import annotations

import asyncio
from functools import partial
from types import SimpleNamespace
from typing import Any

from streams.app.faust_app import kafka_producer


class ChangelogWrites:
    """A table's changelog writes, handed to the producer together when the agent flushes.

    Faust sends a table write through its producer buffer, a background task that hands
    aiokafka one record at a time and yields in between; aiokafka starts a produce request
    as soon as it holds a record and keeps one request in flight per broker. So the parts
    of one execution's record left in two or three requests, one round trip after another
    (traced: 4-5 produce requests per executor step, each waiting for the one before).
    Here the writes of a step are queued as the table takes them and handed to aiokafka
    with no await between them (`flush`), so they leave in one request; what follows from
    them waits for the latest write's acknowledgement (one partition, in order), as before.
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self._topic = table.changelog_topic
        self._pending: list[tuple[int | None, Any, Any, _WriteFuture]] = []
        self._latest: _WriteFuture | None = None
        self._order = asyncio.Lock()  # flushes hand their writes over one after another
        self._flush_planned = False
        self._sending: set[asyncio.Future[None]] = set()
        table.send_changelog = self._queue

    def _queue(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> asyncio.Future[Any]:
        key_bytes, _ = self._topic.prepare_key(key, key_serializer or self._table.key_serializer)
        value_bytes, _ = self._topic.prepare_value(
            value, value_serializer or self._table.value_serializer
        )
        if partition is None:  # as Faust's eager partitioning: the producer's choice
            partition = self._table.app.producer.key_partition(
                self._topic.get_topic_name(), key_bytes
            ).partition
        acked = _WriteFuture(partition)
        self._pending.append((partition, key_bytes, value_bytes, acked))
        self._latest = acked
        if not self._flush_planned:
            # A write that no agent flushes (none should) still leaves, right after this step.
            self._flush_planned = True
            asyncio.get_running_loop().call_soon(self._flush_later)
        return acked

    def _flush_later(self) -> None:
        self._flush_planned = False
        if self._pending:
            sending = asyncio.ensure_future(self._send_pending())
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)

    async def flush(self) -> asyncio.Future[Any] | None:
        """Hand every queued write to the producer, in order; then the latest write's
        future since the last flush (None: no write since), which resolves once the broker
        has it, and so every write before it."""
        await self._send_pending()
        latest, self._latest = self._latest, None
        return latest

    async def _send_pending(self) -> None:
        async with self._order:
            writes, self._pending = self._pending, []
            producer = kafka_producer(self._table.app)
            topic = self._topic.get_topic_name()
            failed: BaseException | None = None
            for partition, key, value, acked in writes:
                if failed is not None:  # nothing may pass a write that never left
                    acked.set_exception(failed)
                    continue
                try:
                    sent = await producer.send(topic, value, key=key, partition=partition)
                except Exception as exc:
                    failed = exc
                    acked.set_exception(exc)
                    continue
                sent.add_done_callback(partial(_settle_write, acked, self._table))


class _WriteFuture(asyncio.Future[Any]):
    """A write's acknowledgement; Faust's table reads the partition it went to from
    `.message.partition`, as from the future its own send returns."""

    def __init__(self, partition: int | None) -> None:
        super().__init__()
        self.message = SimpleNamespace(partition=partition)


def _settle_write(acked: asyncio.Future[Any], table: Any, sent: asyncio.Future[Any]) -> None:
    if acked.done():
        return
    if sent.cancelled():
        acked.cancel()
    elif sent.exception() is not None:
        acked.set_exception(sent.exception())  # type: ignore[arg-type]
    else:
        # Faust's own bookkeeping of a sent write (RocksDB keeps the changelog offset).
        table._on_changelog_sent(sent)
        acked.set_result(sent.result())
