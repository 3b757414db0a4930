"""Task metrics: from a worker's report onto the event that ends (or retries) the attempt,
and from those events into the `metrics` view's documents."""

from __future__ import annotations

import datetime as dt

from projections.batch import BatchProjector, RawRecord
from projections.execution_fold import ExecutionFolder
from projections.metrics_view import METRICS, api_metric
from schemas.events import TaskRunFailed, TaskRunRetrying, TaskRunSucceeded
from schemas.execution import Execution
from schemas.metrics import TaskMetric
from schemas.states import State
from streams.log.topics import Topics
from tests.unit.core.driver import Sim
from tests.unit.core.helpers import flow

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SHELL = "io.kestra.plugin.scripts.shell.Commands"
TOPICS = Topics("lanner.main.")


def _metrics() -> tuple[TaskMetric, ...]:
    return (
        TaskMetric(name="rows", type="counter", value=42, tags={"table": "orders"}, time=T0),
        TaskMetric(name="load", type="timer", value=1.5, time=T0),
    )


def _finish(sim: Sim, state: State) -> None:
    job = sim.held.pop(0)
    report = sim.report(job, state=state).model_copy(update={"metrics": _metrics()})
    sim.send(report)


def test_a_reports_metrics_ride_on_the_ending_event_and_on_a_retry() -> None:
    source = flow(
        f"""
        tasks:
          - id: load
            type: {SHELL}
            commands: ["true"]
            retry:
              type: constant
              interval: PT1S
              maxAttempts: 2
        """
    )
    sim = Sim(source, hold={"load"})
    sim.start("f")
    _finish(sim, State.FAILED)
    sim.run()
    retrying = [e for e in sim.events["e1"] if isinstance(e, TaskRunRetrying)]
    assert len(retrying) == 1 and retrying[0].metrics == _metrics()
    _finish(sim, State.SUCCESS)
    sim.run()
    [ended] = [e for e in sim.events["e1"] if isinstance(e, TaskRunSucceeded)]
    assert ended.metrics == _metrics()
    assert sim.state().state == State.SUCCESS


def test_a_failed_attempt_keeps_what_it_measured() -> None:
    sim = Sim(
        flow(f"tasks:\n  - id: load\n    type: {SHELL}\n    commands: ['false']\n"), hold={"load"}
    )
    sim.start("f")
    _finish(sim, State.FAILED)
    sim.run()
    [failed] = [e for e in sim.events["e1"] if isinstance(e, TaskRunFailed)]
    assert failed.metrics == _metrics()


def _nothing_stored(ids: list[str]) -> dict[str, Execution]:
    return {}


def test_the_metrics_view_gets_one_document_per_metric_with_its_task() -> None:
    sim = Sim(
        flow(f"tasks:\n  - id: load\n    type: {SHELL}\n    commands: ['true']\n"), hold={"load"}
    )
    sim.start("f")
    _finish(sim, State.SUCCESS)
    sim.run()
    projector = BatchProjector(TOPICS, ExecutionFolder(_nothing_stored), lambda key: None)
    records = [
        RawRecord(TOPICS.execution_events, 0, i, "e1", event.model_dump_json().encode())
        for i, event in enumerate(sim.events["e1"])
    ]
    writes = projector.project(records)
    docs = writes.docs[METRICS]
    run = sim.run_of("load")
    # Ids from (execution, event seq, position): a redelivered event rewrites them.
    [ended] = [e for e in sim.events["e1"] if isinstance(e, TaskRunSucceeded)]
    assert [doc_id for doc_id, _, _ in docs] == [f"e1/{ended.seq}/0", f"e1/{ended.seq}/1"]
    shown = [api_metric(doc) for _, _, doc in docs]
    assert shown == [
        {
            "tenantId": "main",
            "namespace": "company.team",
            "flowId": "f",
            "taskId": "load",
            "executionId": "e1",
            "taskRunId": run.id,
            "type": "counter",
            "name": "rows",
            "value": 42.0,
            "timestamp": T0.isoformat(),
            "tags": {"table": "orders"},
            "deleted": False,
        },
        {
            "tenantId": "main",
            "namespace": "company.team",
            "flowId": "f",
            "taskId": "load",
            "executionId": "e1",
            "taskRunId": run.id,
            "type": "timer",
            "name": "load",
            "value": 1500.0,  # milliseconds, as Kestra's MetricEntry
            "timestamp": T0.isoformat(),
            "tags": {},
            "deleted": False,
        },
    ]
    # Metrics are written before the execution's state, so a terminal state implies them.
    order = [view for view, found in writes.docs.items() if found]
    assert order.index(METRICS) < order.index("executions")
