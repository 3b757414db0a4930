"""Every revision of every flow, folded from `flow-events` in the background.

Used by the executor (subflows, and executions whose command carries no source), the
scheduler and the API: it implements the pure core's FlowCatalog port on top of the log.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from schemas.events import FLOW_EVENT_ADAPTER, FlowDeleted, FlowEvent
from schemas.settings import Limits
from streams.core.validation import ValidatedFlow, validate_revision
from streams.log.follower import FollowedView
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry

log = logging.getLogger(__name__)


@dataclass
class FlowHistory:
    revisions: dict[int, str] = field(default_factory=dict)
    # revision -> the namespace defaults it was written with (absent: none).
    defaults: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # revision -> the event that wrote it: the first on the log (see FlowSources.apply).
    writers: dict[int, str] = field(default_factory=dict)
    latest: int = 0
    deleted: bool = False
    events: list[FlowEvent] = field(default_factory=list)


class FlowSources:
    """The fold itself: pure bookkeeping, no thread, so it is easy to test and reuse."""

    def __init__(self, registry: PluginRegistry, limits: Limits | None = None) -> None:
        self._registry = registry
        # The same limits the writer checked: a stored source is never re-read under
        # laxer ones (a YAML bomb on the log must not stall its readers).
        self._limits = limits
        self._flows: dict[str, FlowHistory] = {}
        self._validated: dict[tuple[str, int], ValidatedFlow] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # Counts the changes folded, so a reader can cache what it derives from the flows.
        self.version = 0

    def apply(self, event: FlowEvent) -> None:
        with self._changed:
            history = self._flows.setdefault(event.key, FlowHistory())
            history.events.append(event)
            if isinstance(event, FlowDeleted):
                history.deleted = True
            elif event.revision in history.revisions:
                # Two writers (API processes) raced for one revision: the first on the
                # log has it, for every reader alike; the other writer sees it lost and
                # writes the next revision (streams/gateway/flows.py).
                if history.writers.get(event.revision) != event.event_id:
                    log.info(
                        "flow revision already written; this write lost the race",
                        extra={"flow": event.key, "revision": event.revision},
                    )
            else:
                history.writers[event.revision] = event.event_id
                history.revisions[event.revision] = event.source
                if event.namespace_defaults:
                    history.defaults[event.revision] = event.namespace_defaults
                history.latest = max(history.latest, event.revision)
                history.deleted = False
            self.version += 1
            self._changed.notify_all()

    def history(self, tenant: str, namespace: str, flow_id: str) -> FlowHistory | None:
        with self._lock:
            return self._flows.get(f"{tenant}/{namespace}/{flow_id}")

    def flow_keys(self) -> list[str]:
        with self._lock:
            return list(self._flows)

    def get(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> ValidatedFlow | None:
        key = f"{tenant}/{namespace}/{flow_id}"
        with self._lock:
            history = self._flows.get(key)
            if history is None or (revision is None and history.deleted):
                return None
            wanted = revision or history.latest
            source = history.revisions.get(wanted)
            defaults = history.defaults.get(wanted, [])
            cached = self._validated.get((key, wanted))
        if source is None:
            return None
        if cached is not None:
            return cached
        validated = validate_revision(source, wanted, self._registry, self._limits, defaults)
        if isinstance(validated, list):
            log.error(
                "stored flow revision does not validate any more",
                extra={"flow": key, "revision": wanted, "problems": [str(p) for p in validated]},
            )
            return None
        with self._lock:
            self._validated[(key, wanted)] = validated
        return validated

    def writer_of(self, tenant: str, namespace: str, flow_id: str, revision: int) -> str | None:
        """The id of the event that wrote this revision (None: not folded yet)."""
        with self._lock:
            history = self._flows.get(f"{tenant}/{namespace}/{flow_id}")
            return history.writers.get(revision) if history else None

    def wait_for(
        self, tenant: str, namespace: str, flow_id: str, revision: int, timeout_s: float
    ) -> bool:
        key = f"{tenant}/{namespace}/{flow_id}"
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                history = self._flows.get(key)
                if history is not None and revision in history.revisions:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)


class LiveFlowCatalog(FlowSources, FollowedView):
    """FlowSources kept up to date by a thread that folds `flow-events` from the start."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        registry: PluginRegistry,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(registry, limits)
        decode = FLOW_EVENT_ADAPTER.validate_json
        topic = topics.flow_events
        self.follow(bootstrap, topic, decode, self.apply, self._forget, name="flow-catalog")

    def _forget(self) -> None:
        with self._lock:
            self._flows.clear()
            self._validated.clear()
            self.version += 1
