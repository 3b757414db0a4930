"""Noticing that a stream skipped records of a partition, and what to do about it.

Faust (0.15.3, measured here) can hand an agent a partition's records with a hole in them
after a restart: its fetcher starts on the stream partitions while table recovery is
still resuming them, drops what it fetched while the flow was suspended, and moves on.
Depending on the timing it then either never commits past the hole or records the hole as
a "gap" and commits past it: the skipped commands and worker reports are lost. The agent
therefore checks every record against the next offset it expects (its tracking record)
and, on a hole, seeks back to it.

Measured: the first seek back often brings nothing (Faust's flow-control queue is
cleared on resume while recovery finishes), so an unfilled hole is sought again; a hole
at a partition's tail shows no later record and is found from the high watermark.

A hole is never given up on while its records are on the log: after MAX_SEEKS seeks the
caller asks the broker where the partition's log starts, and only records before that
start (retention, a truncated topic) are accepted as lost. Giving up after a fixed number
of seeks lost 69 executions' messages in a CI run on a loaded machine (the executor was
SIGKILLed in a burst, and its restart's recovery outlasted the seeks).

This module is the pure part: no clock (time comes in), no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

# Seek again when the expected record has not come back this long after a seek.
RESEEK_AFTER_S = 1.0
# A partition with records past the expected offset that delivered nothing for this long
# has a hole at its tail (no later record will come to reveal it).
IDLE_S = 3.0
# After this many seeks that did not bring the record back, ask the broker whether it is
# still on the log (then seek on) or gone (then continue from the log's start).
MAX_SEEKS = 5


class Verdict(Enum):
    PROCESS = "process"
    # A record beyond a hole: skipped now, it comes again after the seek.
    SKIP = "skip"
    # A record beyond a hole: skipped now, and the stream must seek back to `expected`.
    SEEK = "seek"
    # A record beyond a hole that MAX_SEEKS seeks did not fill: ask where the log starts
    # (`log_starts_at`), then check the record again.
    ASK_LOG = "ask_log"


@dataclass
class _Hole:
    expected: int
    sought_at: float
    seeks: int = 1


@dataclass
class GapGuard:
    """Next expected offset per partition; `check` says what to do with a record.

    `expected` maps a partition to the offset after the last record applied; it is
    seeded from the durable tracking record and advanced with `applied`.
    """

    expected: dict[str, int] = field(default_factory=dict)
    holes: dict[str, _Hole] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)

    def check(self, partition: str, offset: int, now: float) -> Verdict:
        self.last_seen[partition] = now
        expected = self.expected.get(partition)
        if expected is None or offset <= expected:
            # At the expected record, or a redelivery of one already applied (the
            # executor's steps are idempotent): both are processed.
            if expected is not None and offset == expected:
                self.holes.pop(partition, None)
            return Verdict.PROCESS
        hole = self.holes.get(partition)
        if hole is None or hole.expected != expected:
            self.holes[partition] = _Hole(expected, now)
            return Verdict.SEEK
        if now - hole.sought_at < RESEEK_AFTER_S:
            return Verdict.SKIP
        if hole.seeks >= MAX_SEEKS:
            return Verdict.ASK_LOG
        hole.seeks += 1
        hole.sought_at = now
        return Verdict.SEEK

    def stalled(self, partition: str, highwater: int | None, now: float) -> int | None:
        """The offset to seek to when the partition has records past the expected one
        but delivered none for IDLE_S: a hole at the tail. None otherwise."""
        expected = self.expected.get(partition)
        if expected is None or highwater is None or highwater <= expected:
            return None
        if partition in self.holes:
            return None  # already being sought (see `overdue`)
        seen = self.last_seen.setdefault(partition, now)
        if now - seen < IDLE_S:
            return None
        self.holes[partition] = _Hole(expected, now)
        return expected

    def overdue(self, now: float) -> dict[str, int]:
        """Holes whose seek brought nothing back in time, with the offset to seek to
        again: a stream that delivers nothing more would otherwise never be asked."""
        due: dict[str, int] = {}
        for partition, hole in self.holes.items():
            if now - hole.sought_at >= RESEEK_AFTER_S and hole.seeks < MAX_SEEKS:
                hole.seeks += 1
                hole.sought_at = now
                due[partition] = hole.expected
        return due

    def outlived(self, now: float) -> set[str]:
        """Holes that MAX_SEEKS seeks did not fill: ask where their logs start."""
        return {
            partition
            for partition, hole in self.holes.items()
            if hole.seeks >= MAX_SEEKS and now - hole.sought_at >= RESEEK_AFTER_S
        }

    def log_starts_at(self, partition: str, log_start: int, now: float) -> bool:
        """The broker's first offset of a partition with a hole that outlived its seeks.
        True: the hole's records are gone from the log, and the partition continues from
        the log's start. False: they are on the log, and another round of seeks starts."""
        expected = self.expected.get(partition)
        if expected is not None and log_start > expected:
            self.expected[partition] = log_start
            self.holes.pop(partition, None)
            return True
        hole = self.holes.get(partition)
        if hole is not None:
            hole.seeks = 0
            hole.sought_at = now - RESEEK_AFTER_S  # due at once
        return False

    def applied(self, partition: str, offset: int) -> None:
        """The record at `offset` was applied: the next one is expected."""
        if offset + 1 > self.expected.get(partition, -1):
            self.expected[partition] = offset + 1

    def forget(self) -> None:
        """Partitions were reassigned: the tracking records are read afresh."""
        self.expected.clear()
        self.holes.clear()
        self.last_seen.clear()
