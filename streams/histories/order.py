"""The order in which the executor consumed an execution's inputs.

Commands and worker results are two topics: each is in partition order, but how the
executor interleaved them is not written anywhere directly. The recorded events are:
every event names the input that caused it (`causation_id`), and the executor handles
one input at a time, so the causes in seq order give the order of every input that
produced events. An input that produced none (a duplicate, a stale report) is placed as
late as its own topic allows, and before an input of the other topic only when it was
written earlier (record timestamps); such inputs change no state but the bookkeeping of
applied inputs, so this placement is the one that keeps the record identical.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from schemas.events import ExecutionEvent
from streams.histories.recorded import Divergence, RecordedMessage


def causes_in_order(history: Iterable[ExecutionEvent]) -> list[str]:
    causes: list[str] = []
    for event in history:
        if not causes or causes[-1] != event.causation_id:
            causes.append(event.causation_id)
    return causes


def order_messages(
    execution_id: str,
    commands: list[RecordedMessage],
    results: list[RecordedMessage],
    history: list[ExecutionEvent],
) -> tuple[list[RecordedMessage], Divergence | None]:
    queues = (deque(commands), deque(results))
    causes = causes_in_order(history)
    pending = set(causes)
    first_seq: dict[str, int] = {}
    for event in history:
        first_seq.setdefault(event.causation_id, event.seq)
    ordered: list[RecordedMessage] = []
    for cause in causes:
        found = None
        for side, queue in enumerate(queues):
            index = next((i for i, r in enumerate(queue) if r.inp.message_id == cause), None)
            if index is not None:
                found = (side, index)
                break
        if found is None:
            return ordered, Divergence(
                execution_id,
                "input",
                first_seq[cause],
                f"events from seq {first_seq[cause]} were caused by {cause}, which is in "
                "neither the commands nor the worker-results topic",
            )
        side, index = found
        own, other = queues[side], queues[1 - side]
        target = own[index]
        pending.discard(cause)
        # Inputs of the other topic that caused nothing and were written before it.
        while (
            other
            and other[0].inp.message_id not in pending
            and other[0].timestamp_ms <= target.timestamp_ms
        ):
            ordered.append(other.popleft())
        for _ in range(index + 1):
            ordered.append(own.popleft())
    # What caused nothing after the last event: merged by timestamp, each topic's own
    # order kept.
    commands_left, results_left = queues
    while commands_left and results_left:
        earlier = (
            commands_left
            if commands_left[0].timestamp_ms <= results_left[0].timestamp_ms
            else results_left
        )
        ordered.append(earlier.popleft())
    ordered.extend([*commands_left, *results_left])
    return ordered, None
