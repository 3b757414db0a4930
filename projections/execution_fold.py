"""Fold execution events into states with `evolve`, remembering recent states (LRU).

A state not in memory is read back from the `executions` view (its `model` field), so
a restarted indexer continues where the view stands. Events at or below the known seq
are dropped: that is how a redelivered or duplicated record leaves the view unchanged.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from pydantic import ValidationError

from schemas.events import ExecutionEvent
from schemas.execution import Execution
from streams.core import HistoryError, evolve

log = logging.getLogger(__name__)

StateLoader = Callable[[list[str]], dict[str, Execution]]


class ExecutionFolder:
    def __init__(self, load: StateLoader, capacity: int = 10_000) -> None:
        self._load = load
        self._capacity = capacity
        self._states: OrderedDict[str, Execution] = OrderedDict()

    def clear(self) -> None:
        """Forget every state: after a failed write or a rebalance memory may be ahead of,
        or behind, the view; the view is the truth to restart from."""
        self._states.clear()

    def fold(self, events: list[ExecutionEvent]) -> dict[str, Execution]:
        """Apply `events` (log order) and return the states that changed, by id."""
        missing = [
            eid for eid in dict.fromkeys(e.execution_id for e in events) if eid not in self._states
        ]
        if missing:
            for eid, loaded in self._load(missing).items():
                self._remember(eid, loaded)
        changed: dict[str, Execution] = {}
        for event in events:
            state = self._states.get(event.execution_id)
            if state is not None and event.seq <= state.seq:
                continue  # seen already: a redelivery
            new: Execution | None
            try:
                new = evolve(state, event)
            except HistoryError as exc:
                new = self._retry_from_view(event, exc)
            if new is None:
                continue
            self._remember(event.execution_id, new)
            changed[event.execution_id] = new
        return changed

    def _retry_from_view(self, event: ExecutionEvent, error: HistoryError) -> Execution | None:
        # Memory may be behind the view (another indexer owned the partition for a while):
        # reload once; if the history still does not fit, the event is skipped loudly.
        stored = self._load([event.execution_id]).get(event.execution_id)
        if stored is not None and event.seq <= stored.seq:
            self._remember(event.execution_id, stored)
            return None
        try:
            return evolve(stored, event)
        except HistoryError:
            log.error(
                "event does not fit the execution's history; skipped",
                extra={
                    "execution_id": event.execution_id,
                    "seq": event.seq,
                    "event_type": event.type,
                    "reason": str(error),
                },
            )
            return None

    def _remember(self, execution_id: str, state: Execution) -> None:
        self._states[execution_id] = state
        self._states.move_to_end(execution_id)
        while len(self._states) > self._capacity:
            self._states.popitem(last=False)


def state_from_doc(doc: dict[str, object]) -> Execution | None:
    model = doc.get("model")
    if not isinstance(model, dict):
        return None
    try:
        return Execution.model_validate(model)
    except ValidationError:
        log.warning(
            "stored execution model does not validate; its later events will be skipped",
            extra={"execution_id": doc.get("id")},
        )
        return None
