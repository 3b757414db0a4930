"""Many processes of each role on 4 partitions (real broker): a burst of 500 executions
while one of two executors is SIGKILLed and a third joins halfway, and one of two
workers is SIGKILLed. Kafka moves the partitions and the executor's table state to the
survivors: every execution SUCCESS, every task run once, every history gapless, every
copy of an event an exact re-emission."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from schemas.states import State
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.test_faults_on_kafka import CHAIN, _assert_each_event_once

BURST = 500


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    prefix = f"scale{os.getpid()}{time.monotonic_ns() % 10**6}"
    cluster = Cluster(kafka_broker.bootstrap, prefix, partitions=4, worker_threads=4)
    try:
        for name in ("executor-1", "executor-2"):
            cluster.start("executor", name=name)
        for name in ("worker-1", "worker-2"):
            cluster.start("worker", name=name)
        cluster.wait_ready("executor")
        cluster.wait_ready("worker")
        cluster.deploy(CHAIN)
        yield cluster
    finally:
        cluster.close()


def test_a_burst_survives_executors_and_workers_dying_and_joining(cluster: Cluster) -> None:
    ids: list[str] = []
    started = time.monotonic()
    for n in range(BURST):
        ids.append(cluster.create("company.faults", "chain").execution_id)
        if n == BURST // 4:
            cluster.kill("executor-1")
        elif n == BURST // 2:
            cluster.start("executor", name="executor-3")
        elif n == 3 * BURST // 4:
            cluster.kill("worker-1")
    ended = cluster.wait_for_all(set(ids), timeout_s=420)
    print(f"{BURST} executions through kills and a join in {time.monotonic() - started:.0f} s")
    assert len(ended) == BURST
    assert {e.state for e in ended.values()} == {State.SUCCESS}
    for execution in ended.values():
        # Every task run once (a lost attempt may run again, within its one task run).
        assert sorted(r.task_id for r in execution.task_runs.values()) == [
            "first",
            "nap",
            "second",
        ], execution.id
        assert all(r.state == State.SUCCESS for r in execution.task_runs.values())
    _assert_each_event_once(cluster, set(ids))
