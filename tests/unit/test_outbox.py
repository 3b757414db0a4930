"""The executor's outbox (streams/app/outbox.py): an input's outputs leave only once its
record is on the log, in input order, and its future says when the broker has them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.app.outbox import Outbox


class FakeTopic:
    """Records sends (as the producer under it); each send's acknowledgement is a future
    the test resolves."""

    def __init__(self, sent: list[bytes]) -> None:
        self.sent = sent
        self.acks: list[asyncio.Future[Any]] = []

    def get_topic_name(self) -> str:
        return "events"

    async def send(self, topic: str, value: bytes, *, key: bytes) -> asyncio.Future[Any]:
        assert topic == "events"
        self.sent.append(value)
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_outputs_wait_for_their_record_and_keep_input_order() -> None:
    async def scenario() -> None:
        sent: list[bytes] = []
        topic = FakeTopic(sent)
        outbox = Outbox(lambda: topic)
        sender = asyncio.ensure_future(outbox.run())
        first_record: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        second_record: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        first = await outbox.put(first_record, [(topic, b"k", b"1a"), (topic, b"k", b"1b")])  # type: ignore[list-item]
        second = await outbox.put(second_record, [(topic, b"k", b"2")])  # type: ignore[list-item]
        second_record.set_result("on the log")
        await _settle()
        assert sent == [], "nothing leaves before the first input's record is on the log"
        first_record.set_result("on the log")
        await _settle()
        assert sent == [b"1a", b"1b", b"2"]
        assert not first.done()
        topic.acks[0].set_result("ack")
        topic.acks[1].set_result("ack")
        await _settle()
        assert first.done() and not second.done()
        topic.acks[2].set_result("ack")
        await _settle()
        assert second.done()
        sender.cancel()

    asyncio.run(scenario())


def test_a_record_that_never_reached_the_log_sends_nothing_and_says_so() -> None:
    async def scenario() -> None:
        sent: list[bytes] = []
        topic = FakeTopic(sent)
        outbox = Outbox(lambda: topic)
        sender = asyncio.ensure_future(outbox.run())
        record: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed = await outbox.put(record, [(topic, b"k", b"lost")])  # type: ignore[list-item]
        replayed = await outbox.put(None, [(topic, b"k", b"again")])  # type: ignore[list-item]
        record.set_exception(TimeoutError("no broker"))
        await _settle()
        with pytest.raises(TimeoutError):
            failed.result()
        assert sent == [b"again"], "the failed input's outputs never leave; later ones do"
        topic.acks[0].set_exception(TimeoutError("no broker"))
        await _settle()
        with pytest.raises(TimeoutError):
            replayed.result()
        sender.cancel()

    asyncio.run(scenario())


def test_the_agent_waits_when_too_many_inputs_are_in_flight() -> None:
    async def scenario() -> None:
        outbox = Outbox(lambda: None, limit=1)
        record: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await outbox.put(record, [])
        blocked = asyncio.ensure_future(outbox.put(None, []))
        await _settle()
        assert not blocked.done()
        sender = asyncio.ensure_future(outbox.run())
        await _settle()
        assert blocked.done()
        sender.cancel()

    asyncio.run(scenario())
