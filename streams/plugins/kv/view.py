"""The KV projection: `kv-events` folded into {tenant/namespace/key: latest KvSet}.

`KvFold` is the pure fold; `LiveKvView` keeps one up to date from a thread tailing the
topic from the start (as streams/flow_catalog.py does for flows) and can wait until it
has caught up with the topic's end, which gives read-your-writes across workers: a Get
that runs after a Set finished (its event was acknowledged) sees it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from streams.log.follower import FollowedView
from streams.plugins.kv.events import KV_EVENT_ADAPTER, KvDeleted, KvSet

log = logging.getLogger("lanner.kv")


class KvFold:
    def __init__(self) -> None:
        self._values: dict[str, KvSet] = {}
        self._lock = threading.Lock()

    def apply(self, event: KvSet | KvDeleted) -> None:
        with self._lock:
            # Log order decides (one key, one partition): the last event is the value.
            if isinstance(event, KvDeleted):
                self._values.pop(event.record_key, None)
            else:
                self._values[event.record_key] = event

    def get(self, tenant: str, namespace: str, key: str, now: dt.datetime) -> KvSet | None:
        with self._lock:
            found = self._values.get(f"{tenant}/{namespace}/{key}")
        if found is None or (found.expires is not None and found.expires <= now):
            return None  # expired values are gone for readers (TTL)
        return found

    def entries(self, tenant: str, namespace: str, now: dt.datetime) -> list[KvSet]:
        """The live (unexpired) keys of one namespace, sorted by key."""
        prefix = f"{tenant}/{namespace}/"
        with self._lock:
            found = [
                e
                for k, e in self._values.items()
                if k.startswith(prefix) and e.namespace == namespace
            ]
        return sorted(
            (e for e in found if e.expires is None or e.expires > now), key=lambda e: e.key
        )

    def forget(self) -> None:
        with self._lock:
            self._values.clear()


class LiveKvView(KvFold, FollowedView):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        decode = KV_EVENT_ADAPTER.validate_json
        self.follow(bootstrap, topic, decode, self.apply, self.forget, name="kv-view")
