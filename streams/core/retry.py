"""Retry policies (Kestra's `retry`): when the next attempt is due, as pure arithmetic.

The `random` policy must not use a random number generator here (the core is pure):
its jitter is derived from the task run id and attempt, so history verification computes the same
time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from schemas.flow import Flow, RetrySpec, TaskSpec
from schemas.inputs import parse_duration

_DEFAULT_INTERVAL = dt.timedelta(seconds=1)


def retry_policy(
    task: TaskSpec, flow: Flow, ancestors: Iterable[TaskSpec] = ()
) -> RetrySpec | None:
    """The task's own policy, else the nearest enclosing flowable's (innermost first in
    `ancestors`), else the flow's when it retries failed tasks: Kestra's order."""
    if task.retry is not None:
        return task.retry
    for ancestor in ancestors:
        if ancestor.retry is not None:
            return ancestor.retry
    if flow.retry is not None and flow.retry.behavior == "RETRY_FAILED_TASK":
        return flow.retry
    return None


def _duration(text: str | None, default: dt.timedelta) -> dt.timedelta:
    return parse_duration(text) if text else default


def delay(policy: RetrySpec, run_id: str, attempt: int) -> dt.timedelta:
    """How long to wait after failed attempt number `attempt` (1-based)."""
    interval = _duration(policy.interval, _DEFAULT_INTERVAL)
    if policy.type == "constant":
        return interval
    if policy.type == "exponential":
        factor = policy.delayFactor if policy.delayFactor is not None else 2.0
        wait = interval * (factor ** (attempt - 1))
        if policy.maxInterval:
            wait = min(wait, parse_duration(policy.maxInterval))
        return wait
    low = _duration(policy.minInterval, dt.timedelta(0))
    high = _duration(policy.maxInterval, interval)
    digest = hashlib.blake2b(f"{run_id}/{attempt}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return low + (high - low) * fraction


def next_retry(
    policy: RetrySpec, run_id: str, attempt: int, first_start: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    """When attempt `attempt + 1` is due, or None when the policy allows no more."""
    if policy.maxAttempts is not None and attempt >= policy.maxAttempts:
        return None
    due = now + delay(policy, run_id, attempt)
    if policy.maxDuration and due - first_start > parse_duration(policy.maxDuration):
        return None
    if policy.maxAttempts is None and not policy.maxDuration:
        # Kestra requires one of the two; a policy without either would retry forever.
        return None
    return due
