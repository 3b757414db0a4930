"""A quick task sends one report ("finished"), not two: nothing is lost in the window before it.

A worker reports "started" only for a task still running after
LANNER_WORKER_STARTED_REPORT_DELAY_S (0.2 s by default). Here the delay is long, so the
window is wide enough to hit on purpose: the task is running on the worker (its first log
line is on the log) and no report of it is on the broker yet.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import pytest

from schemas.states import State
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, distinct_history

NAP = """
id: nap
namespace: company.hops
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"""

LONG_NAP = """
id: long_nap
namespace: company.hops
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(
        kafka_broker.bootstrap,
        f"hops{os.getpid()}{time.monotonic_ns() % 10**6}",
        partitions=1,  # one jobs partition: the surviving worker takes over the killed one's
        env={"LANNER_WORKER_STARTED_REPORT_DELAY_S": "30"},
    )
    try:
        cluster.start_executor_and_worker()
        cluster.deploy(NAP)
        cluster.deploy(LONG_NAP)
        yield cluster
    finally:
        cluster.close()


def _reports(cluster: Cluster, execution_id: str) -> list[dict[str, object]]:
    return [
        json.loads(r.value)
        for r in cluster.records(cluster.topics.worker_results)
        if r.key == execution_id
    ]


def _naps_begun(cluster: Cluster, execution_id: str) -> list[dict[str, object]]:
    """The Sleep's first line ("Waiting for ..."), written by the worker as the task runs."""
    return [
        line
        for line in cluster.logs_of(execution_id)
        if line["task_id"] == "nap" and str(line["message"]).startswith("Waiting for")
    ]


def _wait_running_unreported(cluster: Cluster, execution_id: str) -> None:
    deadline = time.monotonic() + 30
    while not _naps_begun(cluster, execution_id):
        assert time.monotonic() < deadline, "the task never began on the worker"
        time.sleep(0.05)
    # The window: the task runs, and the broker holds no report of it.
    assert _reports(cluster, execution_id) == []


def test_a_worker_killed_before_reporting_leaves_its_job_to_the_next_worker(
    cluster: Cluster,
) -> None:
    execution_id = cluster.create("company.hops", "nap").execution_id
    _wait_running_unreported(cluster, execution_id)
    cluster.kill("worker")
    cluster.start("worker", name="worker-2")
    survivor = f"{socket.gethostname()}-{cluster.processes['worker-2'].pid}"

    execution = cluster.wait_for_end(execution_id, timeout_s=120)

    assert execution.state == State.SUCCESS
    nap = next(r for r in execution.task_runs.values() if r.task_id == "nap")
    # The job was delivered again (its offset was never committed) and ran again, as the
    # same attempt: the executor never saw the first run, so nothing was retried.
    assert len(_naps_begun(cluster, execution_id)) == 2
    assert [(a.number, a.state, a.worker_id) for a in nap.attempts] == [
        (1, State.SUCCESS, survivor)
    ]
    reports = _reports(cluster, execution_id)
    assert {(r["kind"], r["worker_id"]) for r in reports} == {("finished", survivor)}
    history = list(distinct_history(cluster.events_of(execution_id)))
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert [e.type for e in history].count("TaskRunRunning") == 1


def test_a_kill_stops_a_task_its_worker_has_not_reported_yet(cluster: Cluster) -> None:
    execution_id = cluster.create("company.hops", "long_nap").execution_id
    _wait_running_unreported(cluster, execution_id)
    killed_at = time.monotonic()
    cluster.executions.kill(execution_id, actor="tests")

    execution = cluster.wait_for_end(execution_id, timeout_s=30)
    assert execution.state == State.KILLED
    # The worker got the stop request and ended the 60 s sleep at once: its only report
    # says KILLED, long before the task would have ended.
    deadline = killed_at + 20
    while not (reports := _reports(cluster, execution_id)):
        assert time.monotonic() < deadline, "the worker never stopped the task"
        time.sleep(0.1)
    assert [(r["kind"], r["state"]) for r in reports] == [("finished", "KILLED")]
    assert time.monotonic() - killed_at < 20
