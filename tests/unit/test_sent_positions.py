"""A position becomes durable only after its input's outputs, and never past an earlier
input still waiting for its own (streams/app/sent_positions.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.app.sent_positions import OutputLost, PositionsAwaitingSends


def _sends(loop: asyncio.AbstractEventLoop, n: int) -> list[asyncio.Future[Any]]:
    return [loop.create_future() for _ in range(n)]


def test_a_position_waits_for_every_send_of_its_input() -> None:
    loop = asyncio.new_event_loop()
    try:
        waiting = PositionsAwaitingSends()
        first = _sends(loop, 2)
        waiting.add("commands:0", 11, first)
        assert waiting.ready() == {}
        first[0].set_result("ack")
        assert waiting.ready() == {}
        first[1].set_result("ack")
        assert waiting.ready() == {"commands:0": 11}
        assert waiting.ready() == {}, "each position is handed out once"
    finally:
        loop.close()


def test_a_later_input_never_passes_an_earlier_one_still_sending() -> None:
    loop = asyncio.new_event_loop()
    try:
        waiting = PositionsAwaitingSends()
        slow, fast = _sends(loop, 1), _sends(loop, 1)
        waiting.add("commands:0", 5, slow)
        waiting.add("commands:0", 6, fast)
        waiting.add("commands:0", 7, [])  # an input that sent nothing
        fast[0].set_result("ack")
        assert waiting.ready() == {}
        slow[0].set_result("ack")
        assert waiting.ready() == {"commands:0": 7}
    finally:
        loop.close()


def test_partitions_advance_independently() -> None:
    loop = asyncio.new_event_loop()
    try:
        waiting = PositionsAwaitingSends()
        blocked = _sends(loop, 1)
        waiting.add("commands:0", 3, blocked)
        waiting.add("worker-results:0", 9, [])
        waiting.add("commands:1", 4, [])
        assert waiting.ready() == {"worker-results:0": 9, "commands:1": 4}
        assert waiting.pending() == 1
    finally:
        loop.close()


def test_a_failed_send_is_never_passed() -> None:
    loop = asyncio.new_event_loop()
    try:
        waiting = PositionsAwaitingSends()
        failed = _sends(loop, 1)
        waiting.add("commands:0", 3, failed)
        waiting.add("commands:0", 4, [])
        failed[0].set_exception(TimeoutError("no broker"))
        with pytest.raises(OutputLost, match="commands:0"):
            waiting.ready()
        with pytest.raises(OutputLost):
            waiting.ready()  # still not passed, whoever asks again
    finally:
        loop.close()


def test_a_revoked_partition_forgets_what_waited() -> None:
    waiting = PositionsAwaitingSends()
    waiting.add("commands:0", 3, [])
    waiting.clear()
    assert waiting.ready() == {}
