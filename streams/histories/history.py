"""The distinct, gapless history of an execution out of its recorded events.

The executor re-emits the events of a redelivered input, so the log may hold an event
more than once: a copy must be identical, and is dropped. A first occurrence must carry
the next sequence number; a gap, or a seq out of order, is reported with its position
and the history is cut there, never folded past it.
"""

from __future__ import annotations

from schemas.events import ExecutionEvent
from streams.histories.recorded import Divergence, RecordedEvent


def distinct_history(
    execution_id: str, recorded: list[RecordedEvent]
) -> tuple[list[ExecutionEvent], Divergence | None]:
    history: list[ExecutionEvent] = []
    for item in recorded:
        event = item.event
        if event.execution_id != execution_id:
            return history, Divergence(
                execution_id,
                "history",
                event.seq,
                f"event of execution {event.execution_id} keyed as {execution_id}",
                item.position,
                actual=event,
            )
        if 1 <= event.seq <= len(history):
            if history[event.seq - 1] != event:
                return history, Divergence(
                    execution_id,
                    "history",
                    event.seq,
                    f"two different events with seq {event.seq}",
                    item.position,
                    expected=history[event.seq - 1],
                    actual=event,
                )
            continue  # a re-emitted copy
        expected = len(history) + 1
        if event.seq != expected:
            what = "gap" if event.seq > expected else "seq out of order"
            return history, Divergence(
                execution_id,
                "history",
                event.seq,
                f"{what}: expected seq {expected}, found {event.seq}",
                item.position,
                actual=event,
            )
        history.append(event)
    return history, None
