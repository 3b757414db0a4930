"""A followed view is `ready` once caught up, and again only after its fold started over."""

from __future__ import annotations

import pytest

from streams.log.follower import TopicFollower


def test_ready_catches_up_once_per_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    follower: TopicFollower[bytes] = TopicFollower(
        "127.0.0.1:1", "t", bytes, lambda _: None, name="test"
    )
    answers = [False, True, True]
    asked: list[float] = []

    def catch_up(timeout_s: float = 10.0) -> bool:
        asked.append(timeout_s)
        return answers.pop(0)

    monkeypatch.setattr(follower, "catch_up", catch_up)
    assert not follower.settled
    assert not follower.ready(1.0)  # not caught up within the time: asked again next
    assert follower.ready(2.0) and follower.settled
    assert follower.ready(3.0)
    assert asked == [1.0, 2.0]
    follower._readings += 1  # a lost consumer: the fold starts over from the beginning
    assert not follower.settled
    assert follower.ready(4.0) and follower.ready(5.0)
    assert asked == [1.0, 2.0, 4.0]
