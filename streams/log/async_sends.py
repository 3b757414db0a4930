"""Writes awaited on an event loop: the API's request path writes a command and awaits the
broker's acknowledgement without a thread per request.

Concurrent requests share the producer, so their records travel in the same produce
requests (librdkafka batches what is queued while a request is in flight): batching
across requests comes from the client, not from a delay on each.
"""

from __future__ import annotations

import asyncio
import threading

from streams.log.errors import DeliveryError
from streams.log.producer import LogProducer

# How long the report thread waits for a report at a time (a stop takes at most this).
_POLL_S = 0.05


class AsyncSends:
    def __init__(self, producer: LogProducer) -> None:
        self.producer = producer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="log-delivery-reports", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.producer.serve_reports(_POLL_S)

    async def send(self, topic: str, key: str, value: bytes) -> tuple[int, int]:
        """Write one record; its (partition, offset) once the broker has it."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[int, int]] = loop.create_future()

        def settle(error: str | None, partition: int, offset: int) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(DeliveryError(topic, key, error))
            else:
                done.set_result((partition, offset))

        def report(error: str | None, partition: int, offset: int) -> None:
            loop.call_soon_threadsafe(settle, error, partition, offset)

        self.producer.send_reporting(topic, key, value, report)
        return await done

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
