"""Time travel: an execution exactly as it stood after one of its events.

Computed by folding the history with `evolve`, the function the executor and the
projections fold with, so the past state is the one the live fold had then; a gap or an
illegal move raises HistoryError instead of folding past it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.events import ExecutionEvent
from schemas.execution import Execution
from streams.core.evolve import fold


class OutsideHistory(ValueError):
    """The point asked for is not in the history; says where the history ends."""

    def __init__(self, message: str, last_seq: int) -> None:
        super().__init__(message)
        self.last_seq = last_seq


@dataclass(frozen=True)
class AsOf:
    """A point in an execution's history: after event `seq`, or at instant `time`."""

    seq: int | None = None
    time: dt.datetime | None = None

    @classmethod
    def parse(cls, raw: str) -> AsOf:
        """A sequence number (digits) or an ISO-8601 time (UTC when no zone is given)."""
        text = raw.strip()
        if text.isdigit():
            return cls(seq=int(text))
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{raw!r} is neither a sequence number nor an ISO-8601 time") from None
        return cls(time=when if when.tzinfo else when.replace(tzinfo=dt.UTC))


def events_until(
    history: Sequence[ExecutionEvent], point: AsOf, now: dt.datetime | None = None
) -> list[ExecutionEvent]:
    """The prefix of `history` (ordered by seq) that `point` designates."""
    last = history[-1].seq if history else 0
    if point.seq is not None:
        if point.seq < 1 or point.seq > last:
            raise OutsideHistory(
                f"asOf={point.seq} is outside the history: its events are 1..{last}", last
            )
        return list(history[: point.seq])
    assert point.time is not None
    if not history or point.time < history[0].time:
        raise OutsideHistory(
            f"asOf={point.time.isoformat()} is before the execution was created", last
        )
    if now is not None and point.time > now:
        # The future is not recorded yet: past the last event, say where it ends.
        raise OutsideHistory(
            f"asOf={point.time.isoformat()} is in the future; the last event is {last}", last
        )
    # A prefix, stopping at the first later event: clocks of different senders may
    # disagree, and a fold needs the history without holes.
    until = point.time
    return list(itertools.takewhile(lambda e: e.time <= until, history))


def state_as_of(
    history: Sequence[ExecutionEvent], point: AsOf, now: dt.datetime | None = None
) -> Execution:
    state = fold(events_until(history, point, now))
    assert state is not None  # events_until never returns an empty prefix
    return state
