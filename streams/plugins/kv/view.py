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
import time

from streams.log.reader import end_offsets, tail
from streams.plugins.kv.events import KV_EVENT_ADAPTER, KvDeleted, KvSet

log = logging.getLogger("lanner.kv")


class KvFold:
    def __init__(self) -> None:
        self._values: dict[str, KvSet] = {}
        self._positions: dict[int, int] = {}
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)

    def apply(self, event: KvSet | KvDeleted, partition: int = 0, offset: int = -1) -> None:
        with self._moved:
            # Log order decides (one key, one partition): the last event is the value.
            if isinstance(event, KvDeleted):
                self._values.pop(event.record_key, None)
            else:
                self._values[event.record_key] = event
            if offset >= 0:
                self._positions[partition] = max(self._positions.get(partition, 0), offset + 1)
            self._moved.notify_all()

    def get(self, tenant: str, namespace: str, key: str, now: dt.datetime) -> KvSet | None:
        with self._lock:
            found = self._values.get(f"{tenant}/{namespace}/{key}")
        if found is None or (found.expires is not None and found.expires <= now):
            return None  # expired values are gone for readers (TTL)
        return found

    def wait_until(self, ends: dict[int, int], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._moved:
            while any(self._positions.get(p, 0) < end for p, end in ends.items() if end > 0):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._moved.wait(remaining)
            return True


class LiveKvView(KvFold):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        self._bootstrap = bootstrap
        self._topic = topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kv-view", daemon=True)

    def start(self) -> LiveKvView:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def catch_up(self, timeout_s: float = 10.0) -> bool:
        """Block until everything written to the topic so far is folded (bounded)."""
        return self.wait_until(end_offsets(self._bootstrap, self._topic), timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for record in tail(
                    self._bootstrap, [self._topic], from_beginning=True, stop=self._stop
                ):
                    try:
                        event = KV_EVENT_ADAPTER.validate_json(record.value)
                    except ValueError:
                        log.warning(
                            "skipping a malformed KV event",
                            extra={"partition": record.partition, "offset": record.offset},
                        )
                        event = None
                    if event is not None:
                        self.apply(event, record.partition, record.offset)
                    else:
                        self.apply_position(record.partition, record.offset)
                return
            except Exception:
                log.exception("KV view lost its consumer; reconnecting")
                time.sleep(1.0)

    def apply_position(self, partition: int, offset: int) -> None:
        with self._moved:
            self._positions[partition] = max(self._positions.get(partition, 0), offset + 1)
            self._moved.notify_all()
