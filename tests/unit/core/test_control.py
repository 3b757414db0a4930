"""Kill, pause and resume, wake-ups, and reports that no longer apply."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.commands import (
    ChangeTaskRunState,
    ReplayExecution,
    RestartExecution,
    SubflowEnded,
)
from schemas.states import Operation, State, operator_may
from schemas.worker import WorkerJob
from streams.core.effects import effects_of
from tests.unit.core.driver import Result, Sim
from tests.unit.core.helpers import assert_legal_histories, flow, run

SLEEP = "io.kestra.plugin.core.flow.Sleep"
LOG = "io.kestra.plugin.core.log.Log"
FLOW = "io.kestra.plugin.core.flow"

IN_FLIGHT = f"""
tasks:
  - id: par
    type: {FLOW}.Parallel
    tasks:
      - id: slow
        type: {SLEEP}
        duration: PT1H
      - id: quick
        type: {LOG}
        message: done
  - id: after
    type: {LOG}
    message: never
"""


def _held() -> Sim:
    sim = run(IN_FLIGHT, hold=["slow"])
    assert sim.state().state == State.RUNNING
    assert [j.task_id for j in sim.held] == ["slow"]
    return sim


# --- kill -----------------------------------------------------------------------------


def test_kill_with_a_worker_task_in_flight() -> None:
    sim = _held()
    events = sim.send(sim.kill())
    types = [e.type for e in events]
    assert types[0] == "ExecutionKilling" and types[-1] == "ExecutionKilled"
    s = sim.state()
    assert [h.state for h in s.history][-2:] == [State.KILLING, State.KILLED]
    assert sim.run_of("slow").state == State.KILLED
    assert sim.run_of("par").state == State.KILLED
    assert sim.run_of("quick").state == State.SUCCESS
    assert sim.runs("after") == []
    assert all(r.state.is_terminal for r in s.task_runs.values())
    assert_legal_histories(s)
    sim.check()
    # The worker's late report for that attempt changes nothing.
    [job] = sim.held
    assert sim.send(sim.report(job, kind="started")) == []
    assert sim.send(sim.report(job, state=State.SUCCESS)) == []
    # Nor does a second kill.
    assert sim.send(sim.kill()) == []


def test_kill_of_a_finished_execution_emits_nothing() -> None:
    sim = run(IN_FLIGHT)
    assert sim.state().state == State.SUCCESS
    assert sim.send(sim.kill()) == []


def test_kill_while_paused() -> None:
    sim = run(
        f"""
        tasks:
          - id: wait
            type: {FLOW}.Pause
        """
    )
    assert sim.state().state == State.PAUSED
    sim.send(sim.kill())
    assert sim.state().state == State.KILLED
    assert sim.run_of("wait").state == State.KILLED
    assert_legal_histories(sim.state())
    sim.check()


def test_kill_with_a_foreach_in_flight_starts_nothing_new() -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.ForEach
            values: [a, b, c]
            tasks:
              - id: work
                type: {SLEEP}
                duration: PT1S
        """,
        hold=["work"],
    )
    assert [r.value for r in sim.runs("work")] == ["a"]
    sim.send(sim.kill())
    assert [r.value for r in sim.runs("work")] == ["a"]
    assert sim.state().state == State.KILLED
    sim.check()


def test_kill_of_a_parent_waiting_on_a_subflow() -> None:
    child = flow(
        f"""
        tasks:
          - id: slow
            type: {SLEEP}
            duration: PT1S
        """,
        flow_id="child",
    )
    sim = run(
        f"""
        tasks:
          - id: call
            type: {FLOW}.Subflow
            namespace: company.team
            flowId: child
        """,
        None,
        None,
        child,
        hold=["slow"],
    )
    [child_id] = [e for e in sim.records if e != "e1"]
    sim.send(sim.kill())
    assert sim.state().state == State.KILLED
    assert sim.run_of("call").state == State.KILLED
    # The child's end, arriving later, changes nothing in the parent.
    [job] = sim.held
    sim.send(sim.report(job, kind="started"))
    sim.send(sim.report(job))
    sim.run()
    assert sim.state(child_id).state == State.SUCCESS
    assert sim.state().state == State.KILLED
    sim.check()


# --- stale and duplicate reports ------------------------------------------------------


def test_report_for_an_old_attempt_or_an_unknown_run_emits_nothing() -> None:
    sim = _held()
    [job] = sim.held
    assert sim.send(sim.report(job, attempt=0)) == []
    assert sim.send(sim.report(job, attempt=2)) == []
    assert sim.send(sim.report(job, task_run_id="nope")) == []
    assert sim.state().state == State.RUNNING
    # The current attempt still ends the run.
    assert sim.send(sim.report(job)) != []
    sim.run()
    assert sim.state().state == State.SUCCESS


def test_a_duplicate_report_is_replayed_not_applied() -> None:
    sim = _held()
    [job] = sim.held
    report = sim.report(job)
    first = sim.send(report)
    sim.run()
    done = sim.state()
    sim.send(report)
    again = sim.log[-1]
    assert again.redelivered and again.events == first
    assert sim.state() == done


def test_a_heartbeat_for_a_finished_run_emits_nothing() -> None:
    sim = _held()
    [job] = sim.held
    sim.send(sim.report(job))
    # Same attempt, "finished" again but a different input id (a heartbeat's time suffix).
    assert sim.send(sim.report(job, kind="heartbeat")) == []


def test_heartbeat_and_second_started_change_nothing() -> None:
    sim = _held()
    [job] = sim.held
    assert [e.type for e in sim.send(sim.report(job, kind="started"))] == ["TaskRunRunning"]
    assert sim.send(sim.report(job, kind="heartbeat")) == []
    sim.now += dt.timedelta(seconds=5)
    assert sim.send(sim.report(job, kind="heartbeat")) == []


def test_report_for_a_flowable_run_is_ignored() -> None:
    """Only dispatched attempts may be ended by a worker; a Pause has attempt 1 too."""
    sim = run(
        f"""
        tasks:
          - id: wait
            type: {FLOW}.Pause
        """
    )
    pause = sim.run_of("wait")
    s = sim.state()
    stray = WorkerJob(
        execution_id=s.id,
        task_run_id=pause.id,
        task_id="wait",
        attempt=1,
        task={},
        tenant=s.tenant,
        namespace=s.namespace,
        flow_id=s.flow_id,
        dispatched=sim.now,
    )
    assert sim.send(sim.report(stray, kind="started")) == []
    assert sim.send(sim.report(stray)) == []
    assert sim.state().state == State.PAUSED
    assert sim.run_of("wait").state == State.PAUSED


def test_subflow_ended_for_another_child_is_ignored() -> None:
    child = flow(
        f"""
        tasks:
          - id: slow
            type: {SLEEP}
            duration: PT1S
        """,
        flow_id="child",
    )
    sim = run(
        f"""
        tasks:
          - id: call
            type: {FLOW}.Subflow
            namespace: company.team
            flowId: child
        """,
        None,
        None,
        child,
        hold=["slow"],
    )
    call = sim.run_of("call")
    stray = SubflowEnded(
        command_id="stray",
        execution_id="e1",
        time=sim.now,
        task_run_id=call.id,
        child_execution_id="someone-else",
        state=State.FAILED,
    )
    assert sim.send(stray) == []


# --- pause ----------------------------------------------------------------------------

TIMED = f"""
tasks:
  - id: wait
    type: {FLOW}.Pause
    pauseDuration: PT10M
  - id: after
    type: {LOG}
    message: resumed
"""


def test_pause_with_duration_wakes_up_only_when_due() -> None:
    sim = run(TIMED, auto_timers=False)
    s = sim.state()
    assert s.state == State.PAUSED
    wait = sim.run_of("wait")
    assert wait.state == State.PAUSED and wait.resume_at is not None
    [timer] = sim.timers
    assert timer.task_run_id == wait.id and timer.due == wait.resume_at
    early = sim.wake(wait.id, wait.resume_at - dt.timedelta(seconds=1))
    assert sim.send(early) == []
    on_time = sim.wake(wait.id, wait.resume_at)
    types = [e.type for e in sim.send(on_time)]
    # The execution resumes, then the walk ends the Pause (after its tasks, if any).
    assert types[:3] == ["TaskRunResumed", "ExecutionResumed", "TaskRunSucceeded"]
    assert sim.state().state == State.SUCCESS
    assert sim.run_of("after").state == State.SUCCESS
    assert_legal_histories(sim.state())
    sim.check()


def test_pause_with_duration_resumes_through_its_timer() -> None:
    sim = run(TIMED)
    assert sim.state().state == State.SUCCESS
    wait = sim.run_of("wait")
    assert wait.history[-1].date - wait.history[0].date >= dt.timedelta(minutes=10)


def test_pause_without_duration_waits_for_resume() -> None:
    sim = run(TIMED.replace("    pauseDuration: PT10M\n", ""))
    assert sim.state().state == State.PAUSED
    assert sim.timers == []
    assert sim.send(sim.wake(sim.run_of("wait").id, sim.now + dt.timedelta(days=1))) == []
    events = sim.send(sim.resume(inputs={"ok": True}))
    assert [e.type for e in events][:3] == [
        "TaskRunResumed",
        "ExecutionResumed",
        "TaskRunSucceeded",
    ]
    assert sim.run_of("wait").outputs == {"onResume": {"ok": True}}
    assert sim.state().state == State.SUCCESS
    sim.check()


def test_early_resume_then_late_timer() -> None:
    sim = run(TIMED, auto_timers=False)
    sim.send(sim.resume())
    assert sim.state().state == State.SUCCESS
    [timer] = sim.timers
    assert sim.send(timer) == []


@pytest.mark.parametrize("finished", [False, True])
def test_resume_of_a_non_paused_execution_emits_nothing(finished: bool) -> None:
    sim = _held()
    if finished:
        sim.send(sim.report(sim.held[0]))
        sim.run()
        assert sim.state().state == State.SUCCESS
    assert sim.send(sim.resume()) == []


def test_what_the_operator_rules_refuse_on_a_running_execution_emits_nothing() -> None:
    # The API refuses these with 409 by the same table (schemas/states.py OPERATOR_MAY);
    # a command that slips past it (the views lagged) changes nothing here.
    sim = _held()
    quick = sim.run_of("quick")
    assert not operator_may(Operation.RESTART, sim.state().state)
    ids = {"execution_id": "e1", "time": sim.now}
    assert sim.send(RestartExecution(command_id="r1", **ids)) == []
    assert sim.send(ReplayExecution(command_id="r2", new_execution_id="e2", **ids)) == []
    change = ChangeTaskRunState(command_id="r3", task_run_id=quick.id, state=State.FAILED, **ids)
    assert sim.send(change) == []
    assert sim.run_of("quick").state == State.SUCCESS


def test_two_parallel_pauses_resume_the_execution_once_both_are_done() -> None:
    sim = run(
        f"""
        tasks:
          - id: par
            type: {FLOW}.Parallel
            tasks:
              - id: p1
                type: {FLOW}.Pause
                pauseDuration: PT1M
              - id: p2
                type: {FLOW}.Pause
                pauseDuration: PT2M
              - id: work
                type: {SLEEP}
                duration: PT1S
        """,
        auto_timers=False,
    )
    assert sim.state().state == State.PAUSED
    assert [h.state for h in sim.state().history].count(State.PAUSED) == 1
    sim.run()  # the worker's reports arrive while paused
    assert sim.run_of("work").state == State.SUCCESS
    assert sim.state().state == State.PAUSED
    first, second = sorted(sim.timers, key=lambda t: t.due)
    types = [e.type for e in sim.send(first)]
    assert "ExecutionResumed" not in types
    assert sim.state().state == State.PAUSED
    types = [e.type for e in sim.send(second)]
    assert "ExecutionResumed" in types
    assert sim.state().state == State.SUCCESS
    sim.check()


def test_timers_are_effects_of_pause_events() -> None:
    sim = run(TIMED, auto_timers=False)
    paused = [e for e in sim.events["e1"] if e.type == "TaskRunPaused"]
    effects = effects_of(sim.state(), list(paused))
    assert [t.command_id for t in effects.timers] == [t.command_id for t in sim.timers]


def test_pause_inside_foreach_with_all_values_at_once() -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.ForEach
            values: [a, b]
            concurrencyLimit: 0
            tasks:
              - id: wait
                type: {FLOW}.Pause
              - id: echo
                type: {LOG}
                message: "{{{{ taskrun.value }}}}"
        """
    )
    assert len(sim.runs("wait")) == 2
    sim.send(sim.resume())
    sim.run()
    assert sim.state().state == State.SUCCESS
    assert len(sim.runs("echo")) == 2


def test_failed_worker_task_does_not_wait_for_a_pause_elsewhere() -> None:
    sim = run(
        f"""
        tasks:
          - id: par
            type: {FLOW}.Parallel
            tasks:
              - id: wait
                type: {FLOW}.Pause
              - id: work
                type: {SLEEP}
                duration: PT1S
        """,
        outcomes={"work": Result(State.FAILED)},
    )
    # Paused while a sibling failed: the parallel still waits for the pause.
    assert sim.state().state == State.PAUSED
    sim.send(sim.resume())
    assert sim.state().state == State.FAILED
    sim.check()
