"""Which Flow triggers exist, as the flows were at a given time.

An upstream execution's state change is matched against the flows as they were when it
happened (the revision deployed then), as Kestra evaluates Flow triggers when the
execution ends: a scheduler that lags or restarts decides the same, and a flow deployed
later does not fire for executions that ended before it existed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.events import FlowDeleted
from schemas.triggers import TRIGGER_MODELS, trigger_key
from schemas.triggers.flow import FLOW_TYPES, FlowTrigger
from streams.flow_catalog import FlowSources

log = logging.getLogger("lanner.flow_triggers")


@dataclass(frozen=True)
class Target:
    """One Flow trigger of one flow revision."""

    tenant: str
    namespace: str
    flow_id: str
    revision: int
    trigger: FlowTrigger

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.trigger.id)


class FlowTriggerIndex:
    def __init__(self, catalog: FlowSources) -> None:
        self.catalog = catalog
        # (flow key, revision) -> the revision's enabled Flow triggers (none if disabled).
        self._parsed: dict[tuple[str, int], tuple[Target, ...]] = {}
        # The flows whose source names a Flow trigger in some revision, per tenant, as of
        # a catalog version: most flows have none, and are never validated nor walked here.
        self._candidates: dict[str, list[tuple[str, str]]] = {}
        self._candidates_version = -1
        self._lock = threading.Lock()

    def revision_at(
        self, tenant: str, namespace: str, flow_id: str, time: dt.datetime
    ) -> int | None:
        """The flow's revision deployed at `time`; None if it did not exist (or was deleted)."""
        history = self.catalog.history(tenant, namespace, flow_id)
        if history is None:
            return None
        revision: int | None = None
        for event in list(history.events):
            if event.time > time:
                break
            revision = None if isinstance(event, FlowDeleted) else event.revision
        return revision

    def targets_at(self, tenant: str, time: dt.datetime) -> list[Target]:
        """Every enabled Flow trigger of the tenant's enabled flows, as of `time`."""
        found: list[Target] = []
        for namespace, flow_id in self._flows_with_flow_triggers(tenant):
            revision = self.revision_at(tenant, namespace, flow_id, time)
            if revision is not None:
                found.extend(self.targets_of(tenant, namespace, flow_id, revision))
        return found

    def _flows_with_flow_triggers(self, tenant: str) -> list[tuple[str, str]]:
        version = self.catalog.version
        with self._lock:
            if version == self._candidates_version:
                return self._candidates.get(tenant, [])
        candidates: dict[str, list[tuple[str, str]]] = {}
        for key in self.catalog.flow_keys():
            owner, namespace, flow_id = key.split("/", 2)
            history = self.catalog.history(owner, namespace, flow_id)
            sources = list(history.revisions.values()) if history is not None else []
            # A cheap test on the text; the revision's model decides (targets_of).
            if any(name in source for source in sources for name in FLOW_TYPES):
                candidates.setdefault(owner, []).append((namespace, flow_id))
        with self._lock:
            self._candidates, self._candidates_version = candidates, version
        return candidates.get(tenant, [])

    def targets_of(
        self, tenant: str, namespace: str, flow_id: str, revision: int
    ) -> tuple[Target, ...]:
        cache_key = (f"{tenant}/{namespace}/{flow_id}", revision)
        with self._lock:
            cached = self._parsed.get(cache_key)
        if cached is not None:
            return cached
        flow = self.catalog.get(tenant, namespace, flow_id, revision)
        if flow is None:
            return ()  # not in the catalog yet (not cached: it may be soon)
        targets: list[Target] = []
        if not flow.flow.disabled:
            for spec in flow.flow.triggers:
                if spec.type not in FLOW_TYPES or spec.disabled:
                    continue
                try:
                    trigger = FlowTrigger.model_validate(spec.model_dump(exclude_unset=True))
                except ValidationError as exc:  # validation refuses it at deploy; be safe
                    log.error(
                        "invalid flow trigger",
                        extra={"trigger": f"{cache_key[0]}/{spec.id}", "error": str(exc)},
                    )
                    continue
                targets.append(Target(tenant, namespace, flow_id, revision, trigger))
        result = tuple(targets)
        with self._lock:
            self._parsed[cache_key] = result
        return result

    def target(
        self, tenant: str, namespace: str, flow_id: str, revision: int, trigger_id: str
    ) -> Target | None:
        for target in self.targets_of(tenant, namespace, flow_id, revision):
            if target.trigger.id == trigger_id:
                return target
        return None

    def stop_after(self, tenant: str, namespace: str, flow_id: str, trigger_id: str) -> list[str]:
        """The `stopAfter` states of any trigger type, in the flow's latest revision."""
        flow = self.catalog.get(tenant, namespace, flow_id)
        if flow is None:
            return []
        for spec in flow.flow.triggers:
            if spec.id != trigger_id:
                continue
            model = TRIGGER_MODELS.get(spec.type)
            if model is None:
                return []
            try:
                parsed = model.model_validate(spec.model_dump(exclude_unset=True))
            except ValidationError:
                return []
            states = getattr(parsed, "stopAfter", None) or []
            return [str(s) for s in states]
        return []
