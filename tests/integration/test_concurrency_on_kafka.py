"""A concurrency-limited flow under 50 simultaneous triggers, on the real broker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from schemas.execution import Execution
from schemas.states import State
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster

LIMITED = """
id: limited
namespace: company.gate
concurrency:
  limit: 2
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.1S
"""

CANCELLING = """
id: cancelling
namespace: company.gate
concurrency:
  limit: 1
  behavior: CANCEL
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
"""


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"gate{os.getpid()}", partitions=4)
    try:
        cluster.start_executor_and_worker()
        cluster.deploy(LIMITED)
        cluster.deploy(CANCELLING)
        yield cluster
    finally:
        cluster.close()


def _running_interval(execution: Execution) -> tuple[float, float]:
    start = next(h.date for h in execution.history if h.state == State.RUNNING)
    assert execution.ended is not None
    return start.timestamp(), execution.ended.timestamp()


def test_fifty_triggers_never_run_more_than_the_limit(cluster: Cluster) -> None:
    ids = [cluster.create("company.gate", "limited").execution_id for _ in range(50)]
    ended = cluster.wait_for_all(set(ids), timeout_s=240)
    assert {e.state for e in ended.values()} == {State.SUCCESS}
    assert all(State.QUEUED in [h.state for h in e.history] for e in ended.values())
    intervals = sorted(_running_interval(e) for e in ended.values())
    # At any moment at most two executions were between admission and their end.
    moments = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda m: (m[0], m[1])
    )
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    assert peak <= 2


def test_cancel_behaviour_refuses_what_exceeds_the_limit(cluster: Cluster) -> None:
    first = cluster.create("company.gate", "cancelling").execution_id
    time.sleep(0.5)
    extra = [cluster.create("company.gate", "cancelling").execution_id for _ in range(3)]
    ended = cluster.wait_for_all({first, *extra}, timeout_s=60)
    assert ended[first].state == State.SUCCESS
    assert {ended[e].state for e in extra} == {State.CANCELLED}
    assert all(not ended[e].task_runs for e in extra)
    assert "concurrency limit (1)" in (ended[extra[0]].error or "")
