"""Processes die; nothing accepted is lost and no event is doubled (real broker, SIGKILL)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from schemas.states import State
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, distinct_history

CHAIN = """
id: chain
namespace: company.faults
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.05S
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} and two"
"""

LONG = """
id: long_task
namespace: company.faults
tasks:
  - id: long_sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT4S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"""

TIMED_PAUSE = """
id: timed_pause
namespace: company.faults
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT4S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: resumed
"""


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"faults{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        cluster.deploy(CHAIN)
        cluster.deploy(LONG)
        yield cluster
    finally:
        cluster.close()


def _assert_each_event_once(cluster: Cluster, execution_ids: set[str]) -> int:
    """Every execution's history is 1..n without gaps; copies are exact re-emissions."""
    total = 0
    for execution_id in execution_ids:
        history = list(distinct_history(cluster.events_of(execution_id)))
        assert [e.seq for e in history] == list(range(1, len(history) + 1)), execution_id
        assert (
            sum(
                1
                for e in history
                if e.type.startswith("Execution")
                and e.type not in ("ExecutionCreated", "ExecutionStarted")
            )
            == 1
        )
        total += len(history)
    return total


def test_executor_killed_during_a_burst_loses_and_doubles_nothing(cluster: Cluster) -> None:
    ids = {cluster.create("company.faults", "chain").execution_id for _ in range(100)}
    time.sleep(0.3)
    cluster.kill("executor")
    ids |= {cluster.create("company.faults", "chain").execution_id for _ in range(100)}
    cluster.start("executor")
    ended = cluster.wait_for_all(ids, timeout_s=180)
    assert len(ended) == 200
    assert {e.state for e in ended.values()} == {State.SUCCESS}
    assert all(e.task_runs and len(e.task_runs) == 3 for e in ended.values())
    events = _assert_each_event_once(cluster, ids)
    assert events == 200 * 13  # created, started, 3 x (created, started, ended), 1 running, ended


def test_worker_killed_mid_task_is_rerun_elsewhere(cluster: Cluster) -> None:
    requested = cluster.create("company.faults", "long_task")
    deadline = time.monotonic() + 30
    while not any(e.type == "TaskRunRunning" for e in cluster.events_of(requested.execution_id)):
        assert time.monotonic() < deadline, "the long task never started"
        time.sleep(0.1)
    cluster.kill("worker")
    cluster.start("worker", name="worker-2")
    execution = cluster.wait_for_end(requested.execution_id, timeout_s=90)
    assert execution.state == State.SUCCESS
    _assert_each_event_once(cluster, {requested.execution_id})
    long_sleep = next(r for r in execution.task_runs.values() if r.task_id == "long_sleep")
    # The lost attempt ran again (through the health loop, or the redelivered job): the run
    # succeeded on a later attempt, and the first one is recorded as failed, with why.
    assert len(long_sleep.attempts) >= 2
    assert long_sleep.attempts[0].state == State.FAILED
    assert "heartbeats" in (long_sleep.attempts[0].error or "")
    assert long_sleep.attempts[-1].state == State.SUCCESS


def test_a_worker_stopped_gracefully_hands_its_task_back(cluster: Cluster) -> None:
    requested = cluster.create("company.faults", "long_task")
    deadline = time.monotonic() + 30
    while not any(e.type == "TaskRunRunning" for e in cluster.events_of(requested.execution_id)):
        assert time.monotonic() < deadline, "the long task never started"
        time.sleep(0.1)
    cluster.start("worker", name="worker-2")
    cluster.stop("worker")
    execution = cluster.wait_for_end(requested.execution_id, timeout_s=90)
    assert execution.state == State.SUCCESS
    long_sleep = next(r for r in execution.task_runs.values() if r.task_id == "long_sleep")
    assert "handed the task back" in (long_sleep.attempts[0].error or "")
    _assert_each_event_once(cluster, {requested.execution_id})


def test_a_timed_pause_resumes_after_the_executor_was_killed_while_it_waited(
    cluster: Cluster,
) -> None:
    """The wake-up is a timer the executor keeps in memory only: a restarted executor must
    rebuild it from its restored table."""
    cluster.deploy(TIMED_PAUSE)
    requested = cluster.create("company.faults", "timed_pause")
    deadline = time.monotonic() + 30
    while not any(e.type == "ExecutionPaused" for e in cluster.events_of(requested.execution_id)):
        assert time.monotonic() < deadline, "the execution never paused"
        time.sleep(0.1)
    cluster.kill("executor")
    cluster.start("executor")
    execution = cluster.wait_for_end(requested.execution_id, timeout_s=60)
    assert execution.state == State.SUCCESS
    after = next(r for r in execution.task_runs.values() if r.task_id == "after")
    assert after.outputs == {"value": "resumed"}
    history = list(distinct_history(cluster.events_of(requested.execution_id)))
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    types = [e.type for e in history]
    assert types.count("ExecutionPaused") == 1 and types.count("ExecutionSucceeded") == 1
