"""Bounded executor state: when a record leaves the table, and how an operator's command
reaches an execution the executor has forgotten (streams/core/forget.py, handle.py)."""

from __future__ import annotations

import datetime as dt

from schemas.commands import RestartExecution
from schemas.states import State
from schemas.worker import WorkerJob
from streams.core.forget import forget_at, forget_command, may_forget
from streams.core.handle import MAX_APPLIED, ExecutorRecord, handle
from tests.unit.core.driver import Result
from tests.unit.core.helpers import run
from tests.unit.core.test_resilience import CHAIN

RETAIN = dt.timedelta(minutes=5)


def _failed_once() -> object:
    calls: list[int] = []

    def outcome(job: WorkerJob) -> Result:
        calls.append(job.attempt)
        return Result(State.FAILED, error="down") if len(calls) == 1 else Result()

    return outcome


def test_a_running_execution_is_never_due_and_a_finished_one_is_due_after_the_retention() -> None:
    sim = run(CHAIN, None, {"work": Result(State.FAILED, error="down")})
    finished = sim.records["e1"]
    assert finished.execution is not None and finished.execution.ended is not None
    assert forget_at(finished, RETAIN) == finished.execution.ended + RETAIN
    assert not may_forget(finished, finished.execution.ended + RETAIN / 2, RETAIN)
    assert may_forget(finished, finished.execution.ended + RETAIN, RETAIN)
    running = ExecutorRecord(execution=sim.snapshots["e1"][1])
    assert running.execution is not None and not running.execution.state.is_terminal
    assert forget_at(running, RETAIN) is None
    assert forget_at(ExecutorRecord(), RETAIN) is None  # nothing parked, nothing to plan


def test_a_pending_flow_retry_keeps_the_record_until_its_new_execution_was_asked_for() -> None:
    sim = run(CHAIN, None, {"work": Result(State.FAILED, error="down")})
    state = sim.state()
    assert state.ended is not None
    later = state.ended + dt.timedelta(hours=1)
    record = ExecutorRecord(
        execution=state.model_copy(update={"next_attempt_id": "e2", "next_attempt_at": later})
    )
    assert forget_at(record, RETAIN) == later + RETAIN


def test_the_forget_command_is_the_same_when_a_restarted_timer_sends_it_again() -> None:
    due = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert forget_command("e1", due) == forget_command("e1", due)
    assert forget_command("e1", due).message_id != forget_command("e2", due).message_id


def test_a_restart_carries_the_forgotten_execution_and_it_runs_on_from_its_last_event() -> None:
    sim = run(CHAIN, None, {"work": _failed_once()})
    failed = sim.state()
    assert failed.state == State.FAILED
    del sim.records["e1"]  # the executor forgot it: a tombstone on its changelog
    sim.send(RestartExecution(command_id="r1", execution_id="e1", time=sim.now, known_state=failed))
    sim.run()
    state = sim.state()
    assert state.state == State.SUCCESS
    assert state.seq > failed.seq
    sim.check()  # one gapless history across the forgetting, folding to the kept state


def test_a_late_input_for_a_forgotten_execution_is_parked_never_applied() -> None:
    sim = run(CHAIN, None, {"work": Result(State.FAILED, error="down")})
    failed = sim.state()
    del sim.records["e1"]
    late = RestartExecution(command_id="r1", execution_id="e1", time=sim.now)
    now = sim.now + dt.timedelta(seconds=3)
    handled = handle(None, None, late, sim.catalog, now=now)
    assert handled.events == [] and handled.record.execution is None
    assert handled.record.early == (late,) and handled.record.parked_at == now
    assert forget_at(handled.record, RETAIN) == now + RETAIN
    # A second late input keeps the first parking time: the record leaves on time.
    again = handle(
        handled.record,
        None,
        late.model_copy(update={"command_id": "r2"}),
        sim.catalog,
        now=now + RETAIN,
    )
    assert again.record.parked_at == now
    assert failed.state == State.FAILED


def test_the_known_state_is_ignored_while_the_executor_still_holds_the_execution() -> None:
    sim = run(CHAIN, None, {"work": _failed_once()})
    failed = sim.state()
    stale = failed.model_copy(update={"seq": 1})
    sim.send(RestartExecution(command_id="r1", execution_id="e1", time=sim.now, known_state=stale))
    sim.run()
    assert sim.state().state == State.SUCCESS
    sim.check()


def test_the_applied_inputs_a_record_remembers_are_bounded() -> None:
    sim = run(CHAIN)
    record = sim.records["e1"]
    for n in range(MAX_APPLIED + 50):
        record = handle(
            record,
            sim.flow_of("e1"),
            RestartExecution(command_id=f"noop{n}", execution_id="e1", time=sim.now),
            sim.catalog,
        ).record
    assert len(record.applied) == MAX_APPLIED
    assert f"command:noop{MAX_APPLIED + 49}" in record.applied
    assert "command:noop0" not in record.applied
