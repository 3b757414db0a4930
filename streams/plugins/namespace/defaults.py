"""A namespace's `pluginDefaults`, on the `namespace-events` topic (keyed tenant/namespace).

Kestra's semantics (its EE namespaces): the defaults of a namespace apply to every flow
in it and in its child namespaces; a flow's own defaults come first (most important), then
its namespace's, then the parents' outwards. A non-forced default fills what the task does
not say; a forced one overrides it; of two forced defaults the more important wins
(streams/core/plugin_defaults.py applies them).

They are applied when a flow revision is written: the FlowCreated/FlowUpdated event
records the namespace defaults in force (`namespace_defaults`), so a revision means one
thing for every reader, the executor and a replay alike. Setting a namespace's defaults
writes a new revision of each flow they change (api/web/routes_namespace_defaults.py), so
the next execution runs with them and a running one keeps those it started with.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.flow import PluginDefault
from streams.log.follower import FollowedView


class NamespaceDefaultsSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["NamespaceDefaultsSet"] = "NamespaceDefaultsSet"
    tenant: str
    namespace: str
    plugin_defaults: list[PluginDefault] = Field(default_factory=list)
    time: dt.datetime
    actor: str

    @property
    def record_key(self) -> str:
        return f"{self.tenant}/{self.namespace}"


def parents_first_to_last(namespace: str) -> list[str]:
    """ "a.b.c" -> ["a.b.c", "a.b", "a"]: the most important namespace first."""
    parts = namespace.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


class NamespaceDefaultsFold:
    def __init__(self) -> None:
        self._defaults: dict[str, NamespaceDefaultsSet] = {}
        self._lock = threading.Lock()

    def apply(self, event: NamespaceDefaultsSet) -> None:
        with self._lock:
            self._defaults[event.record_key] = event  # log order: the last one is in force

    def own(self, tenant: str, namespace: str) -> NamespaceDefaultsSet | None:
        """What was set on this namespace itself (None: never set)."""
        with self._lock:
            return self._defaults.get(f"{tenant}/{namespace}")

    def in_force(
        self,
        tenant: str,
        namespace: str,
        changed: tuple[str, list[PluginDefault]] | None = None,
    ) -> list[dict[str, Any]]:
        """The defaults a flow of `namespace` receives from it and its parents, most
        important first, as the flow's own pluginDefaults entries are written; `changed`:
        as if (namespace, defaults) were set already (to check a change before it is)."""
        found: list[dict[str, Any]] = []
        with self._lock:
            for name in parents_first_to_last(namespace):
                if changed is not None and changed[0] == name:
                    found += [d.model_dump() for d in changed[1]]
                    continue
                event = self._defaults.get(f"{tenant}/{name}")
                if event is not None:
                    found += [d.model_dump() for d in event.plugin_defaults]
        return found

    def forget(self) -> None:
        with self._lock:
            self._defaults.clear()


class LiveNamespaceDefaultsView(NamespaceDefaultsFold, FollowedView):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        decode = NamespaceDefaultsSet.model_validate_json
        self.follow(bootstrap, topic, decode, self.apply, self.forget, name="namespace-defaults")
