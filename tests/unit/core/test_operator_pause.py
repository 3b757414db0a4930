"""An operator pauses a running execution (Kestra's POST .../pause), then resumes it.

What already runs on workers finishes and is recorded; nothing new starts while the
execution is PAUSED; ResumeExecution brings it back and the walk carries on."""

from __future__ import annotations

import pytest

from schemas.states import Operation, State, operator_may, operator_refusal
from tests.unit.core.driver import Sim, redecide
from tests.unit.core.helpers import assert_legal_histories, flow, run

SLEEP = "io.kestra.plugin.core.flow.Sleep"
LOG = "io.kestra.plugin.core.log.Log"

SLEEP_THEN_LOG = f"""
tasks:
  - id: slow
    type: {SLEEP}
    duration: PT1H
  - id: after
    type: {LOG}
    message: carried on
"""


def _paused() -> Sim:
    """`slow` dispatched and held by its worker, then the execution paused."""
    sim = run(SLEEP_THEN_LOG, hold=["slow"])
    assert sim.state().state == State.RUNNING
    assert [j.task_id for j in sim.held] == ["slow"]
    events = sim.send(sim.pause())
    assert [e.type for e in events] == ["ExecutionPaused"]
    assert events[0].actor == "system" and events[0].causation_id.startswith("command:pause")
    assert sim.state().state == State.PAUSED
    return sim


def test_pause_of_a_running_execution_pauses_it_and_starts_nothing() -> None:
    sim = _paused()
    assert sim.run_of("slow").state == State.RUNNING
    assert sim.runs("after") == []
    sim.run()  # nothing else is pending
    assert sim.state().state == State.PAUSED
    sim.check()


def test_a_worker_result_while_paused_is_recorded_but_nothing_new_starts() -> None:
    sim = _paused()
    [job] = sim.held
    assert [e.type for e in sim.send(sim.report(job, kind="started"))] == ["TaskRunRunning"]
    events = sim.send(sim.report(job, state=State.SUCCESS))
    assert [e.type for e in events] == ["TaskRunSucceeded"]
    sim.run()
    assert sim.run_of("slow").state == State.SUCCESS
    assert sim.runs("after") == []
    assert sim.state().state == State.PAUSED
    assert_legal_histories(sim.state())
    sim.check()


def test_resume_continues_the_walk_to_the_end() -> None:
    sim = _paused()
    [job] = sim.held
    sim.send(sim.report(job, state=State.SUCCESS))
    events = sim.send(sim.resume())
    types = [e.type for e in events]
    assert types[0] == "ExecutionResumed"
    assert "TaskRunCreated" in types  # `after`, created by the walk once resumed
    sim.run()
    s = sim.state()
    assert s.state == State.SUCCESS
    assert [h.state for h in s.history] == [
        State.CREATED,
        State.RUNNING,
        State.PAUSED,
        State.RUNNING,
        State.SUCCESS,
    ]
    assert sim.run_of("after").state == State.SUCCESS
    assert_legal_histories(s)
    sim.check()
    assert redecide(sim) == []


def test_resume_before_the_worker_finishes_waits_for_it() -> None:
    sim = _paused()
    assert [e.type for e in sim.send(sim.resume())] == ["ExecutionResumed"]
    assert sim.runs("after") == []
    [job] = sim.held
    sim.send(sim.report(job, state=State.SUCCESS))
    sim.run()
    assert sim.state().state == State.SUCCESS
    sim.check()
    assert redecide(sim) == []


@pytest.mark.parametrize("how", ["finished", "paused"])
def test_pause_of_a_non_running_execution_is_refused(how: str) -> None:
    if how == "finished":
        sim = run(SLEEP_THEN_LOG)
        assert sim.state().state == State.SUCCESS
    else:
        sim = _paused()
    current = sim.state().state
    assert not operator_may(Operation.PAUSE, current)
    refused = operator_refusal(Operation.PAUSE, "e1", current)
    assert refused == f"execution e1 is {current.value}; only a RUNNING execution can be paused"
    # A pause that slips past the API (its view lagged) changes nothing.
    before = sim.state()
    assert sim.send(sim.pause()) == []
    assert sim.state() == before


def test_a_redelivered_pause_is_a_no_op() -> None:
    sim = run(SLEEP_THEN_LOG, hold=["slow"])
    pause = sim.pause()
    first = sim.send(pause)
    paused = sim.state()
    sim.send(pause)
    again = sim.log[-1]
    # Recognised by its command id: the same events are re-emitted, nothing applied.
    assert again.redelivered and again.events == first
    assert sim.state() == paused
    sim.check()


def test_kill_of_an_operator_paused_execution() -> None:
    sim = _paused()
    sim.send(sim.kill())
    assert sim.state().state == State.KILLED
    assert sim.run_of("slow").state == State.KILLED
    assert sim.runs("after") == []
    assert_legal_histories(sim.state())
    sim.check()


@pytest.mark.parametrize("seed", range(8))
def test_pause_and_resume_under_redelivery(seed: int) -> None:
    sim = Sim(flow(SLEEP_THEN_LOG), hold=["slow"], seed=seed, duplicates=True)
    sim.start("f")
    sim.send(sim.pause())
    [job] = sim.held
    sim.send(sim.report(job, state=State.SUCCESS))
    sim.run()
    assert sim.state().state == State.PAUSED and sim.runs("after") == []
    sim.send(sim.resume())
    sim.run()
    assert sim.state().state == State.SUCCESS
    sim.check()
    assert redecide(sim) == []


def test_a_retry_falling_due_while_paused_waits_for_the_resume() -> None:
    body = f"""
        tasks:
          - id: flaky
            type: {SLEEP}
            duration: PT1S
            retry:
              type: constant
              interval: PT1S
              maxAttempt: 2
          - id: after
            type: {LOG}
            message: carried on
        """
    sim = Sim(flow(body), hold=["flaky"], auto_timers=False)
    sim.start("f")
    sim.send(sim.pause())
    [job] = sim.held
    events = sim.send(sim.report(job, state=State.FAILED, error="boom"))
    assert [e.type for e in events] == ["TaskRunRunning", "TaskRunRetrying"]
    [timer] = sim.timers
    sim.now = max(sim.now, timer.due)
    sim.send(timer)
    sim.run()
    # The retry is due, but a paused execution starts no new attempt.
    assert len(sim.jobs) == 1
    assert sim.run_of("flaky").state == State.RETRYING
    sim.hold.clear()
    sim.send(sim.resume())
    sim.run()
    assert len(sim.jobs) == 2
    assert sim.state().state == State.SUCCESS
    assert_legal_histories(sim.state())
    sim.check()
    assert redecide(sim) == []
