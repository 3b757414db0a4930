"""The worker's log batches (streams/app/worker_logs.py): lines leave as record batches,
in the order they were written, on the partition Faust's own send picks for the key, at
the latest after the linger, at once when a batch fills or the run reports its end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from aiokafka.record.default_records import DefaultRecordBatch  # type: ignore[import-untyped]

from streams.app import worker_logs
from streams.app.worker_logs import LogBatches


class FakeProducer:
    """aiokafka's producer as LogBatches uses it: records each batch it is handed."""

    def __init__(self, partitions: int = 4) -> None:
        self.partitions = set(range(partitions))
        self.batches: list[tuple[str, int, list[tuple[bytes, bytes]]]] = []
        self.single: list[tuple[str, int, bytes, bytes]] = []  # records sent one by one

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        records = DefaultRecordBatch(bytes(batch._build()))
        self.batches.append((topic, partition, [(r.key, r.value) for r in records]))
        return _done()

    async def send(self, topic: str, value: bytes, *, key: bytes, partition: int) -> Any:
        self.single.append((topic, partition, key, value))
        self.batches.append((topic, partition, [(key, value)]))
        return _done()


def _done() -> asyncio.Future[Any]:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class FakeApp:
    def __init__(self, producer: FakeProducer) -> None:
        self.producer = self
        self._producer = producer

    def _ensure_producer(self) -> FakeProducer:
        return self._producer


def _values(producer: FakeProducer, key: bytes) -> list[bytes]:
    return [v for _, _, records in producer.batches for k, v in records if k == key]


def test_lines_wait_for_the_linger_then_leave_together_on_the_keys_partition() -> None:
    async def scenario() -> None:
        producer = FakeProducer()
        logs = LogBatches(FakeApp(producer), "logs", linger_s=0.02)  # type: ignore[arg-type]
        for i in range(100):
            await logs.add(b"exec-1", f"line {i}".encode())
        assert producer.batches == []  # nothing sent per line
        await asyncio.sleep(0.05)
        [(topic, partition, records)] = producer.batches  # more than FEW: one batch
        assert topic == "logs"
        assert partition == DefaultPartitioner()(b"exec-1", [0, 1, 2, 3], [0, 1, 2, 3])
        assert [v for _, v in records] == [f"line {i}".encode() for i in range(100)]

    asyncio.run(scenario())


def test_flush_sends_a_keys_lines_at_once_and_leaves_other_keys_to_their_linger() -> None:
    async def scenario() -> None:
        producer = FakeProducer()
        logs = LogBatches(FakeApp(producer), "logs", linger_s=10.0)  # type: ignore[arg-type]
        await logs.add(b"a", b"a0")
        await logs.add(b"b", b"b0")
        await logs.add(b"a", b"a1")
        await logs.flush(b"a")
        assert _values(producer, b"a") == [b"a0", b"a1"]
        assert _values(producer, b"b") == []
        # A few lines join the producer's open batch (no batch of their own to wait for).
        assert [value for *_, value in producer.single] == [b"a0", b"a1"]
        await logs.flush(b"a")  # nothing left: nothing sent
        assert len(producer.batches) == 2

    asyncio.run(scenario())


def test_many_lines_keep_their_order_across_full_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_logs, "MAX_PENDING", 1000)
    monkeypatch.setattr(worker_logs, "BATCH_BYTES", 4096)

    async def scenario() -> None:
        producer = FakeProducer()
        logs = LogBatches(FakeApp(producer), "logs", linger_s=0.01)  # type: ignore[arg-type]
        for i in range(5000):
            await logs.add(b"exec-1", f"line {i}".encode())
        await logs.flush(b"exec-1")
        assert _values(producer, b"exec-1") == [f"line {i}".encode() for i in range(5000)]
        # Sent while being written (MAX_PENDING), in batches the byte bound cut.
        assert len(producer.batches) > 5
        assert all(len(records) < 1000 for _, _, records in producer.batches)

    asyncio.run(scenario())


def test_a_line_larger_than_a_batch_still_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_logs, "BATCH_BYTES", 1024)
    monkeypatch.setattr(worker_logs, "FEW", 0)  # through the batch path

    async def scenario() -> None:
        producer = FakeProducer()
        logs = LogBatches(FakeApp(producer), "logs")  # type: ignore[arg-type]
        big = b"x" * 10_000
        await logs.add(b"e", b"small")
        await logs.add(b"e", big)
        await logs.flush(b"e")
        assert _values(producer, b"e") == [b"small", big]
        assert producer.single == []

    asyncio.run(scenario())
