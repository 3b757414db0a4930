"""Events carry when the executor decided, not when the command was sent.

The edge reads the clock once per input and passes it in; the pure core stamps every
event of that decision with it; the creation keeps the request's time as `requested`. A
redelivered input re-emits its events unchanged, history verify reads each input's
decision time back from the first event it caused, and histories recorded before this
(events stamped with the request time, ExecutionCreated v1) still fold and verify.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from schemas.commands import CreateExecution
from schemas.events import (
    EXECUTION_EVENT_ADAPTER,
    ExecutionCreated,
    TaskRunRetrying,
    TaskRunStarted,
)
from schemas.flow import FlowRef
from schemas.states import State
from streams.app.executor import decision_time
from streams.core.decide import decide
from streams.core.evolve import fold
from streams.core.handle import handle
from streams.histories.recorded import RecordedEvent
from streams.histories.verify import flow_resolver, verify_execution
from tests.unit.core.driver import T0, Result, Sim, redecide
from tests.unit.core.helpers import flow
from tests.unit.test_history_verify import _sources, recorded_log, verify_all

LATE = dt.timedelta(minutes=10)


def _create(flow_id: str = "hello_world", time: dt.datetime = T0) -> CreateExecution:
    return CreateExecution(
        command_id="c1",
        execution_id="e1",
        time=time,
        flow=FlowRef(tenant="main", namespace="company.team", flow_id=flow_id, revision=1),
        inputs={"user": "ada"},
    )


def test_inline_tasks_decided_late_carry_the_decision_time_and_the_request_time() -> None:
    sim = Sim(*_sources())
    create = _create()
    flow_ = sim.catalog.get("main", "company.team", "hello_world", 1)
    events = decide(flow_, None, create, sim.catalog, now=T0 + LATE)
    assert [e.type for e in events][-1] == "ExecutionSucceeded"
    # One input, one decision: every event of the run of inline tasks carries its time.
    assert {e.time for e in events} == {T0 + LATE}
    created = events[0]
    assert isinstance(created, ExecutionCreated) and created.requested == T0
    state = fold(events)
    assert state.created == T0 + LATE and state.ended == T0 + LATE
    # Without a decision time the input's own time is used (old callers, fake clocks).
    assert {e.time for e in decide(flow_, None, create, sim.catalog)} == {T0}


def test_a_redelivered_input_re_emits_its_events_with_their_first_times() -> None:
    sim = Sim(*_sources())
    create = _create()
    flow_ = sim.catalog.get("main", "company.team", "hello_world", 1)
    first = handle(None, flow_, create, sim.catalog, now=T0 + LATE)
    again = handle(first.record, flow_, create, sim.catalog, now=T0 + 2 * LATE)
    assert again.redelivered and again.events == first.events
    assert {e.time for e in again.events} == {T0 + LATE}


def test_a_job_decided_late_gets_its_deadline_and_retry_from_the_decision() -> None:
    """Before, a job created while the executor was down had a deadline in the past."""
    body = """
        tasks:
          - id: slow
            type: io.kestra.plugin.core.flow.Sleep
            duration: PT1S
            timeout: PT1M
            retry:
              type: constant
              interval: PT30S
              maxAttempts: 2
        """
    sim = Sim(flow(body), outcomes={"slow": Result(State.FAILED, error="boom")}, arrival_lag=LATE)
    sim.start("f")
    first_job = sim.jobs[0]
    assert first_job.dispatched == T0 + LATE
    assert first_job.deadline == T0 + LATE + dt.timedelta(minutes=1)
    retrying = next(e for e in sim.events["e1"] if isinstance(e, TaskRunRetrying))
    assert retrying.retry_at == retrying.time + dt.timedelta(seconds=30)
    assert retrying.time > T0 + LATE  # decided when the failure arrived, not at creation
    assert len([e for e in sim.events["e1"] if isinstance(e, TaskRunStarted)]) == 2
    assert sim.state().state == State.FAILED
    assert redecide(sim) == []


@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("flow_id", ["hello_world", "fan_out", "error_branch", "subflow_parent"])
def test_histories_decided_late_replay_without_divergence(flow_id: str, duplicates: bool) -> None:
    sim = Sim(*_sources(), seed=1, duplicates=duplicates, arrival_lag=LATE)
    sim.start(flow_id)
    sim.check()
    events = [e for history in sim.events.values() for e in history]
    inputs = {d.inp.message_id: d.inp for d in sim.log}
    # Every event is decided after the input that caused it was sent; the first creation
    # (sent by the test's clock at T0) is decided LATE after it.
    assert all(e.time >= inputs[e.causation_id].time for e in events)
    assert sim.events["e1"][0].time == T0 + LATE
    verdicts = verify_all(sim)
    assert [d for v in verdicts for d in v.divergences] == []
    assert sum(v.events for v in verdicts) == len(events)
    assert redecide(sim) == []


def test_an_event_whose_time_is_not_its_decisions_is_a_divergence() -> None:
    """The decision time is read from an input's first recorded event: a later event of
    the same input with another time is not what the executor decided."""
    sim = Sim(*_sources(), arrival_lag=LATE)
    sim.start("hello_world")
    [recorded] = recorded_log(sim).values()
    flow_for = flow_resolver(sim.catalog, lambda source, revision: None)
    assert verify_execution(recorded, sim.catalog, flow_for).divergences == []
    last = recorded.events[-1]
    recorded.events[-1] = RecordedEvent(
        last.event.model_copy(update={"time": last.event.time + dt.timedelta(seconds=1)}),
        last.position,
    )
    [divergence] = verify_execution(recorded, sim.catalog, flow_for).divergences
    assert divergence.seq == last.event.seq


def test_an_old_history_stamped_with_request_times_still_folds_and_verifies() -> None:
    """Recorded before decision times: every event has its input's time, and
    ExecutionCreated is v1 (no `requested`); upcast, it reads as requested = time."""
    sim = Sim(*_sources(), seed=0)
    sim.start("hello_world")
    [recorded] = recorded_log(sim).values()
    old = []
    for item in recorded.events:
        data = json.loads(item.event.model_dump_json())
        if data["type"] == "ExecutionCreated":
            data.pop("requested")
            data["version"] = 1
        old.append(RecordedEvent(EXECUTION_EVENT_ADAPTER.validate_python(data), item.position))
    created = old[0].event
    assert isinstance(created, ExecutionCreated)
    assert created.version == 2 and created.requested == created.time == T0
    recorded.events[:] = old
    flow_for = flow_resolver(sim.catalog, lambda source, revision: None)
    assert verify_execution(recorded, sim.catalog, flow_for).divergences == []
    assert fold([r.event for r in old]) == sim.state()


def test_the_edge_never_decides_before_the_last_event() -> None:
    """Another executor's clock may have run ahead before a rebalance: event times stay in
    seq order, which time travel relies on."""
    sim = Sim(*_sources())
    create = _create()
    flow_ = sim.catalog.get("main", "company.team", "hello_world", 1)
    record = handle(None, flow_, create, sim.catalog, now=T0 + LATE).record
    assert decision_time(record, T0) == T0 + LATE
    assert decision_time(record, T0 + 2 * LATE) == T0 + 2 * LATE
    assert decision_time(None, T0) == T0
