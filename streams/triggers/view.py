"""Every trigger's current state, folded live from `trigger-events`.

The scheduler and the listeners read it to know whether a trigger is disabled or has a
backfill to run; an operator's TriggerDisabled reaches them within the follower's poll.
"""

from __future__ import annotations

import threading

from schemas.triggers import TRIGGER_EVENT_ADAPTER, TriggerEvent, TriggerState, fold_trigger
from streams.log.follower import FollowedView
from streams.log.topics import Topics


def _decode(value: bytes) -> TriggerEvent:
    return TRIGGER_EVENT_ADAPTER.validate_json(value)


class TriggerStates:
    """The fold itself, without I/O (tests and rebuilds use it alone)."""

    def __init__(self) -> None:
        self._states: dict[str, TriggerState] = {}
        self._lock = threading.Lock()

    def apply(self, event: TriggerEvent) -> None:
        with self._lock:
            self._states[event.key] = fold_trigger(self._states.get(event.key), event)

    def forget(self) -> None:
        with self._lock:
            self._states.clear()

    def get(self, key: str) -> TriggerState | None:
        with self._lock:
            return self._states.get(key)


class LiveTriggerStates(TriggerStates, FollowedView):
    def __init__(self, bootstrap: str, topics: Topics) -> None:
        super().__init__()
        self.follow(
            bootstrap,
            topics.trigger_events,
            _decode,
            self.apply,
            self.forget,
            name="trigger-states",
        )
