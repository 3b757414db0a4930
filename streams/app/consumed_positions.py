"""Tracking records for the partitions an agent consumes (see streams/log/gaps.py for why).

A changelog-backed table holds, per consumed partition, the offset after the last record
applied, written to the same changelog partition as the record's own state. It is never
ahead of what was applied *and sent*: an agent hands over the sends of each message
(`hold_until_sent`), and the position moves past that message only once the broker has
acknowledged them. Measured (CI, the executor SIGKILLed in a burst): written as soon as
the message was applied, a position reached the broker while the message's worker jobs were
still in the producer's buffer; after the restart the message was not read again, and 69
executions waited for jobs that were never sent. After a restart the table is restored
with the rest of the state, and every partition is read from it, whatever offsets Faust
committed: a record that Faust skipped, or committed past, is read again.

A role without tables (the worker) keeps the positions in memory only: it still reads
again what its stream skips while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import faust

from streams.app.sent_positions import OutputLost, PositionsAwaitingSends
from streams.log.gaps import GapGuard, Verdict

log = logging.getLogger("lanner.consumed_positions")


class ConsumedPositions:
    def __init__(
        self, app: faust.App, partitions: int, topics: set[str], *, durable: bool = True
    ) -> None:
        self.app = app
        self.topics = topics  # the consumed topics guarded
        self.table = (
            app.Table(
                # The table's (and its changelog topic's) name from before the rename:
                # a new name would start every deployed partition from nothing.
                "input-positions",
                default=None,
                partitions=partitions,
                key_type=bytes,
                value_type=bytes,
            )
            if durable
            else None
        )
        self.guard = GapGuard()
        self._partitions: dict[str, Any] = {}  # guard key -> Faust TP, for seeking
        self._channels: dict[int, Any] = {}  # the agents' channels (their buffers)
        # The current message's sends, and per partition the positions waiting for theirs.
        self._held: list[asyncio.Future[Any]] = []
        self._unsent = PositionsAwaitingSends()
        self._lost = False
        self._crashing: asyncio.Future[None] | None = None
        app.timer(interval=1.0)(self._watch)
        # mode types its handlers with mypy_extensions arguments no method can match.
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    async def _on_revoked(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Another process may apply these partitions before they come back here (and
        # must not find an older position written over its own).
        self.guard.forget()
        self._partitions.clear()
        self._unsent.clear()

    async def events(self, stream: Any, *, applied_when_taken: bool = False) -> AsyncIterator[Any]:
        """The agent's events, holes refilled. Each counts as applied when the agent asks
        for the next one, or as soon as it is taken with `applied_when_taken` (the
        worker's actors run jobs concurrently, so they finish out of order)."""
        # The stream's buffer must be empty for a quiet partition to count as stalled.
        self._channels[id(stream.channel)] = stream.channel
        async for event in stream.events():
            if not await self._admit(event):
                continue
            if applied_when_taken:
                self._applied(event)
                yield event
            else:
                yield event
                self._applied(event)

    def _buffers_empty(self) -> bool:
        return all(channel.queue.empty() for channel in self._channels.values())

    def hold_until_sent(self, sends: Iterable[Awaitable[Any]]) -> None:
        """The current message's sends (what Faust's `topic.send` returned): its position is
        written only once the broker has acknowledged every one of them."""
        self._held.extend(asyncio.ensure_future(send) for send in sends)

    async def _watch(self) -> None:
        self._write_sent()  # an idle partition's last positions
        now = time.monotonic()
        for key in self.guard.outlived(now):
            await self._ask_log(key)
        for key, offset in self.guard.overdue(now).items():
            log.warning(
                "skipped records still missing; seeking to them again",
                extra={"partition": key, "expected": offset},
            )
            await self._seek(key, offset)
        # A hole at a partition's tail shows no later record: compare with the broker's
        # high watermark instead.
        if not self._buffers_empty():
            # Records are waiting for the agents: a quiet partition may just be queued
            # behind them (a seek now would only read them twice).
            return
        consumer = self.app.consumer
        for tp in consumer.assignment():
            if tp.topic not in self.topics:
                continue
            key = f"{tp.topic}:{tp.partition}"
            self._partitions[key] = tp
            self._seed(key)
            restart_at = self.guard.stalled(key, consumer.highwater(tp), now)
            if restart_at is not None:
                log.warning(
                    "the stream stopped short of the partition's end; reading again",
                    extra={"partition": key, "expected": restart_at},
                )
                await self._seek(key, restart_at)

    async def _seek(self, key: str, offset: int) -> None:
        # seek_wait runs in the consumer's own thread and resets Faust's read offset;
        # a plain seek from this thread was measured not to bring the records back.
        try:
            await self.app.consumer.seek_wait({self._partitions[key]: offset})
        except Exception:  # e.g. the partition was revoked meanwhile: sought again later
            log.exception("seek failed", extra={"partition": key, "offset": offset})

    def _seed(self, key: str) -> None:
        """The expected offset of a partition not seen yet, from its tracking record; with
        none, nothing of the partition was durably applied, and it is read from its start.

        Measured (the executor SIGKILLed 4 s after its first start, on a loaded machine):
        starting where Faust's committed offset said, the restart skipped worker reports
        whose effects had died in the producer's buffer, and 17 executions waited forever
        (Faust commits what its agents took, not what reached the broker)."""
        if key not in self.guard.expected and self.table is not None:
            stored = self.table.get(key.encode())
            self.guard.expected[key] = int(stored) if stored is not None else 0

    async def _admit(self, event: Any) -> bool:
        """True when the agent should process this event; seeks back over holes."""
        message = event.message
        key = f"{message.topic}:{message.partition}"
        self._seed(key)
        self._partitions[key] = message.tp
        verdict = self.guard.check(key, message.offset, time.monotonic())
        if verdict is Verdict.ASK_LOG:
            await self._ask_log(key)
            verdict = self.guard.check(key, message.offset, time.monotonic())
        if verdict is Verdict.PROCESS:
            return True
        expected = self.guard.expected[key]
        if verdict is Verdict.SEEK:
            log.warning(
                "the stream skipped records; reading them again",
                extra={"partition": key, "expected": expected, "offset": message.offset},
            )
            await self._seek(key, expected)
        return False

    async def _ask_log(self, key: str) -> None:
        """A hole outlived its seeks: give up on its records only if they are gone from
        the log (before its first offset); otherwise keep seeking."""
        expected = self.guard.expected[key]
        try:
            starts = await self.app.consumer.earliest_offsets(self._partitions[key])
            log_start = starts[self._partitions[key]]
        except Exception:  # the broker did not answer: the hole is kept, asked again
            log.exception("could not read where the log starts", extra={"partition": key})
            log_start = 0
        if self.guard.log_starts_at(key, log_start, time.monotonic()):
            log.error(
                "records gone from the log (retention, truncation); continuing from its start",
                extra={"partition": key, "expected": expected, "log_start": log_start},
            )
        else:
            log.warning(
                "skipped records are still on the log; seeking to them again",
                extra={"partition": key, "expected": expected},
            )

    def _applied(self, event: Any) -> None:
        """Record that the event was applied (call after the state it changed)."""
        message = event.message
        key = f"{message.topic}:{message.partition}"
        before = self.guard.expected.get(key)
        self.guard.applied(key, message.offset)
        after = self.guard.expected[key]
        held, self._held = self._held, []
        if after != before and self.table is not None:
            self._unsent.add(key, after, held)
            self._write_sent()

    def _write_sent(self) -> None:
        """Write, per partition, the newest position whose messages' sends all arrived."""
        if self.table is None or self._lost:
            return
        try:
            ready = self._unsent.ready()
        except OutputLost as lost:
            # Nothing after that message may pass it either: the process stops, and its
            # restart reads the message again.
            self._lost = True
            log.critical(
                "a message's output never reached the broker; stopping", extra={"reason": str(lost)}
            )
            self._crashing = asyncio.ensure_future(self.app.crash(lost))
            return
        for key, position in ready.items():
            # The partition is explicit (a timer has no current event); a tracking record
            # shares its message's partition, as the agent's state does.
            encoded, value = key.encode(), str(position).encode()
            self.table.data[encoded] = value
            self.table.send_changelog(int(key.rsplit(":", 1)[1]), encoded, value)
