"""Decoding an agent's record, or saying in the log which record could not be decoded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def decode_or_log(
    event: Any, decode: Callable[[bytes], T], what: str, log: logging.Logger
) -> T | None:
    """The decoded record, or None after an error naming where the record sits: garbage on
    a consumed topic is skipped, never allowed to stop the agent (and its partitions)."""
    try:
        return decode(event.value)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        message = event.message
        log.error(
            f"skipping a malformed {what}",
            extra={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error": str(exc)[:500],
            },
        )
        return None
