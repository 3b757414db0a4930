"""The scheduler role on the real broker: a cron trigger fires executions on time, and a
scheduler killed and restarted neither skips a schedule nor fires one twice."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

from schemas.events import EXECUTION_EVENT_ADAPTER
from schemas.execution import Execution
from schemas.states import State
from streams.core.evolve import evolve
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, wait_until

EVERY_TWO_SECONDS = """
id: every_two_seconds
namespace: company.sched
inputs:
  - id: who
    type: STRING
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/2 * * * * *"
    withSeconds: true
    inputs:
      who: cron
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }} for {{ trigger.date }}"
"""

STEP = dt.timedelta(seconds=2)


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"sched{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        yield cluster
    finally:
        cluster.close()


def _scheduled_runs(cluster: Cluster) -> dict[str, Execution]:
    """The flow's executions, folded from the log."""
    states: dict[str, Execution] = {}
    for record in cluster.records(cluster.topics.execution_events):
        event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
        if event.flow_id != "every_two_seconds":
            continue
        current = states.get(event.execution_id)
        if current is None or event.seq > current.seq:
            states[event.execution_id] = evolve(current, event)
    return states


def _dates(runs: dict[str, Execution]) -> list[dt.datetime]:
    return sorted(dt.datetime.fromisoformat(str((r.trigger or {})["date"])) for r in runs.values())


def test_a_cron_trigger_fires_on_time_and_survives_a_scheduler_kill(cluster: Cluster) -> None:
    cluster.start("scheduler")
    cluster.deploy(EVERY_TWO_SECONDS)
    wait_until(lambda: len(_scheduled_runs(cluster)) >= 3, 60, "three scheduled executions")

    cluster.kill("scheduler")
    before = _dates(_scheduled_runs(cluster))
    time.sleep(5)  # two or three schedules fall due while no scheduler runs
    cluster.start("scheduler")
    resumed_after = before[-1] + 4 * STEP
    wait_until(
        lambda: _dates(_scheduled_runs(cluster))[-1] >= resumed_after,
        60,
        "schedules after the kill",
    )
    time.sleep(1)  # the newest executions end

    runs = _scheduled_runs(cluster)
    dates = _dates(runs)
    # Every schedule once: consecutive, 2 s apart, none skipped while the scheduler was
    # down (recoverMissedSchedules defaults to ALL), none doubled.
    assert all(later - earlier == STEP for earlier, later in pairwise(dates)), dates
    assert len(set(dates)) == len(runs)
    for run in runs.values():
        if run.state.is_terminal:
            assert run.state == State.SUCCESS
            assert run.inputs == {"who": "cron"}
            assert run.trigger is not None and run.trigger["id"] == "tick"
    ended = [r for r in runs.values() if r.state.is_terminal]
    assert len(ended) >= len(runs) - 1
    outputs = {r.task_runs[next(iter(r.task_runs))].outputs.get("value") for r in ended}
    assert all(str(o).startswith("hello cron for ") for o in outputs)
