"""Fold a topic from its beginning in a background thread, and know when it caught up.

The shape of every in-memory view of the log in Lanner (flows, KV, tokens, secrets): a
reader applies each record in order, remembers how far it got per partition, and can
block until it has applied everything written before a given moment (read your writes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

from streams.log.reader import Record, end_offsets, tail

log = logging.getLogger(__name__)

E = TypeVar("E")


class TopicFollower(Generic[E]):
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        decode: Callable[[bytes], E],
        apply: Callable[[E], None],
        *,
        name: str,
        reset: Callable[[], None] | None = None,
    ) -> None:
        """`decode` turns a record's value into an event (a ValueError skips the record,
        logged with its position), `apply` folds it; `reset` forgets the fold, because
        after a lost consumer the topic is read again from its beginning."""
        self._bootstrap = bootstrap
        self._topic = topic
        self._decode = decode
        self._apply = apply
        self._reset = reset
        self._name = name
        self._positions: dict[int, int] = {}
        # How many times the topic was read again from its beginning, and which of those
        # readings `ready` last saw caught up (None: none yet).
        self._readings = 0
        self._ready_reading: int | None = None
        self._moved = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait_until(self, ends: dict[int, int], timeout_s: float) -> bool:
        """Until every partition has been applied up to `ends` (exclusive), bounded."""
        deadline = time.monotonic() + timeout_s
        with self._moved:
            while any(self._positions.get(p, 0) < end for p, end in ends.items() if end > 0):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._moved.wait(remaining)
            return True

    def catch_up(self, timeout_s: float = 10.0) -> bool:
        """Until everything written to the topic so far is applied (bounded)."""
        return self.wait_until(end_offsets(self._bootstrap, self._topic), timeout_s)

    @property
    def settled(self) -> bool:
        """`ready` said so since the fold last started over (no I/O: asks nothing)."""
        return self._ready_reading == self._readings

    def ready(self, timeout_s: float = 10.0) -> bool:
        """Caught up since the fold was last (re)started: `catch_up` the first time, and
        again after a lost consumer made the fold start over (until then a fresh fold
        misses what was written before); True at once otherwise, as the follower then
        applies new records within its poll."""
        if self.settled:
            return True
        reading = self._readings
        if not self.catch_up(timeout_s):
            return False
        self._ready_reading = reading
        return True

    def _fold(self, record: Record) -> None:
        try:
            event = self._decode(record.value)
        except ValueError as exc:
            log.warning(
                "skipping a malformed record",
                extra={
                    "follower": self._name,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "error": str(exc)[:300],
                },
            )
            return
        self._apply(event)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for record in tail(
                    self._bootstrap, [self._topic], from_beginning=True, stop=self._stop
                ):
                    self._fold(record)
                    with self._moved:
                        self._positions[record.partition] = max(
                            self._positions.get(record.partition, 0), record.offset + 1
                        )
                        self._moved.notify_all()
                return
            except Exception:
                log.exception(
                    "lost the consumer; reading the topic again",
                    extra={"follower": self._name, "topic": self._topic},
                )
                with self._moved:
                    self._positions.clear()
                    self._readings += 1
                if self._reset is not None:
                    self._reset()
                time.sleep(1.0)


class FollowedView:
    """Base of a live view: a fold kept current by a TopicFollower thread.

    The view calls `follow` once in its constructor with its own `apply` and `forget`;
    `start`, `stop` and `catch_up` then drive the follower.
    """

    _follower: TopicFollower[Any]

    def follow(
        self,
        bootstrap: str,
        topic: str,
        decode: Callable[[bytes], E],
        apply: Callable[[E], None],
        forget: Callable[[], None],
        *,
        name: str,
    ) -> None:
        self._follower = TopicFollower(bootstrap, topic, decode, apply, name=name, reset=forget)

    def start(self) -> Self:
        self._follower.start()
        return self

    def stop(self) -> None:
        self._follower.stop()

    def catch_up(self, timeout_s: float = 10.0) -> bool:
        """Until everything written to the topic so far is folded (bounded)."""
        return self._follower.catch_up(timeout_s)

    def wait_for_record(self, partition: int, offset: int, timeout_s: float = 10.0) -> bool:
        """Until the record at (partition, offset), one this process wrote, is folded
        (bounded): read-your-writes without asking the broker for its end offsets."""
        return self._follower.wait_until({partition: offset + 1}, timeout_s)

    def ready(self, timeout_s: float = 10.0) -> bool:
        """Caught up since the fold last started over (TopicFollower.ready)."""
        return self._follower.ready(timeout_s)

    @property
    def settled(self) -> bool:
        return self._follower.settled
