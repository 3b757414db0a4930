"""Retries, restart, replay, changing a state by hand, lost workers (the pure core)."""

from __future__ import annotations

import datetime as dt
import itertools

from schemas.commands import (
    ChangeTaskRunState,
    ReplayExecution,
    RestartExecution,
    WorkerLost,
)
from schemas.flow import RetrySpec
from schemas.states import State
from schemas.worker import WorkerJob
from streams.core.effects import effects_of
from streams.core.handle import handle
from streams.core.retry import delay, next_retry
from streams.core.validation import UnrunnableFlow
from tests.unit.core.driver import T0, Result, Sim, parse
from tests.unit.core.helpers import assert_legal_histories, flow, run

SLEEP = "io.kestra.plugin.core.flow.Sleep"
RETURN = "io.kestra.plugin.core.debug.Return"
FAIL = "io.kestra.plugin.core.execution.Fail"
SEQ = "io.kestra.plugin.core.flow.Sequential"


def failing_until(attempt: int) -> object:
    def outcome(job: WorkerJob) -> Result:
        return (
            Result() if job.attempt >= attempt else Result(State.FAILED, error=f"try {job.attempt}")
        )

    return outcome


def retried(retry: str, outcome: object) -> Sim:
    return run(
        f"""
        tasks:
          - id: flaky
            type: {SLEEP}
            duration: PT0S
            retry:
{retry}
          - id: after
            type: {RETURN}
            format: ok
        """,
        None,
        {"flaky": outcome},  # type: ignore[dict-item]
    )


CONSTANT = """              type: constant
              interval: PT10S
              maxAttempt: 3"""  # indented to sit under `retry:` once the body is dedented


def test_a_failing_task_is_retried_until_it_succeeds() -> None:
    sim = retried(CONSTANT, failing_until(3))
    flaky = sim.run_of("flaky")
    assert sim.state().state == State.SUCCESS
    assert [a.state for a in flaky.attempts] == [State.FAILED, State.FAILED, State.SUCCESS]
    assert [a.error for a in flaky.attempts[:2]] == ["try 1", "try 2"]
    assert sim.types().count("TaskRunRetrying") == 2
    # The waits are timers in the log: each new attempt starts at its retry time.
    starts = [a.start for a in flaky.attempts]
    assert all(
        b is not None and a is not None and b - a >= dt.timedelta(seconds=10)
        for a, b in itertools.pairwise(starts)
    )
    assert_legal_histories(sim.state())


def test_retries_stop_at_max_attempts() -> None:
    sim = retried(CONSTANT, Result(State.FAILED, error="always"))
    flaky = sim.run_of("flaky")
    assert sim.state().state == State.FAILED
    assert len(flaky.attempts) == 3 and flaky.state == State.FAILED
    assert sim.runs("after") == []


def test_warning_on_retry() -> None:
    sim = retried(CONSTANT + "\n              warningOnRetry: true", failing_until(2))
    assert sim.run_of("flaky").state == State.WARNING
    assert sim.state().state == State.WARNING


def test_inline_tasks_retry_too_and_flow_retry_applies_to_tasks_without_their_own() -> None:
    sim = run(
        f"""
        retry:
          type: constant
          interval: PT1S
          maxAttempt: 2
          behavior: RETRY_FAILED_TASK
        tasks:
          - id: boom
            type: {FAIL}
        """
    )
    assert [a.state for a in sim.run_of("boom").attempts] == [State.FAILED, State.FAILED]


def test_exponential_and_random_delays() -> None:
    exponential = RetrySpec.model_validate(
        {"type": "exponential", "interval": "PT1S", "maxInterval": "PT3S", "maxAttempt": 9}
    )
    assert [delay(exponential, "r", n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 3, 3]
    random_ = RetrySpec.model_validate(
        {"type": "random", "minInterval": "PT1S", "maxInterval": "PT5S", "maxAttempt": 9}
    )
    waits = [delay(random_, f"run{i}", 1).total_seconds() for i in range(50)]
    assert all(1 <= w <= 5 for w in waits) and len(set(waits)) > 10
    assert delay(random_, "run1", 1) == delay(random_, "run1", 1)  # deterministic


def test_max_duration_bounds_retries() -> None:
    policy = RetrySpec.model_validate(
        {"type": "constant", "interval": "PT1M", "maxDuration": "PT2M"}
    )
    assert next_retry(policy, "r", 1, T0, T0) == T0 + dt.timedelta(minutes=1)
    assert next_retry(policy, "r", 2, T0, T0 + dt.timedelta(minutes=1, seconds=30)) is None


CHAIN = f"""
tasks:
  - id: first
    type: {RETURN}
    format: one
  - id: group
    type: {SEQ}
    tasks:
      - id: work
        type: {SLEEP}
        duration: PT0S
  - id: last
    type: {RETURN}
    format: "{{{{ outputs.first.value }}}} done"
"""


def _restart(sim: Sim, execution_id: str = "e1") -> None:
    sim.send(RestartExecution(command_id="restart1", execution_id=execution_id, time=sim.now))
    sim.run()


def test_restart_runs_the_failed_task_runs_again_and_carries_on() -> None:
    attempts: list[int] = []

    def outcome(job: WorkerJob) -> Result:
        attempts.append(job.attempt)
        return Result(State.FAILED, error="down") if len(attempts) == 1 else Result()

    sim = run(CHAIN, None, {"work": outcome})
    assert sim.state().state == State.FAILED
    _restart(sim)
    state = sim.state()
    assert state.state == State.SUCCESS
    assert [h.state for h in state.history][-4:] == [
        State.FAILED,
        State.RESTARTED,
        State.RUNNING,
        State.SUCCESS,
    ]
    assert attempts == [1, 2]
    assert len(sim.run_of("first").attempts) == 1  # what succeeded is not run again
    assert [h.state for h in sim.run_of("group").history] == [
        State.CREATED,
        State.RUNNING,
        State.FAILED,
        State.RESTARTED,
        State.RUNNING,
        State.SUCCESS,
    ]
    assert sim.run_of("last").outputs == {"value": "one done"}
    assert_legal_histories(state)
    sim.check()


def test_restart_of_a_successful_execution_changes_nothing() -> None:
    sim = run(CHAIN)
    before = len(sim.events["e1"])
    _restart(sim)
    assert len(sim.events["e1"]) == before


def test_changing_a_failed_task_run_to_success_lets_the_execution_carry_on() -> None:
    sim = run(CHAIN, None, {"work": Result(State.FAILED, error="down")})
    work = sim.run_of("work")
    sim.send(
        ChangeTaskRunState(
            command_id="c1",
            execution_id="e1",
            time=sim.now,
            task_run_id=work.id,
            state=State.SUCCESS,
            actor="ops",
        )
    )
    sim.run()
    assert sim.state().state == State.SUCCESS
    assert sim.run_of("work").state == State.SUCCESS
    assert len(sim.run_of("work").attempts) == 1
    changed = [e for e in sim.events["e1"] if e.type == "TaskRunStateChanged"]
    assert len(changed) == 1 and changed[0].actor == "ops"
    sim.check()


def test_replay_from_a_task_run_carries_over_what_came_before() -> None:
    sim = run(CHAIN)
    work = sim.run_of("work")
    sim.send(
        ReplayExecution(
            command_id="r1",
            execution_id="e1",
            time=sim.now,
            new_execution_id="e2",
            task_run_id=work.id,
        )
    )
    sim.run()
    original, replay = sim.state("e1"), sim.state("e2")
    assert replay.state == State.SUCCESS
    assert replay.original_id == "e1"
    assert sim.types("e1")[-1] == "ExecutionReplayed"
    # `first` is carried over as it ended; `group` is entered again; `work` and `last` are new.
    assert sim.run_of("first", "e2") == sim.run_of("first", "e1")
    assert sim.run_of("group", "e2").id == sim.run_of("group", "e1").id
    assert sim.run_of("work", "e2").id != work.id
    assert sim.types("e2").count("TaskRunCreated") == 2  # work and last
    assert sim.run_of("last", "e2").outputs == {"value": "one done"}
    assert original.state == State.SUCCESS
    sim.check()


def test_replay_on_a_revision_without_the_task_fails_with_the_reason() -> None:
    sim = Sim(
        flow(CHAIN),
        parse(
            flow(
                CHAIN.replace("id: first", "id: premier").replace(
                    "outputs.first", "outputs.premier"
                )
            ),
            revision=2,
        ),
    )
    sim.start("f")
    sim.send(
        ReplayExecution(
            command_id="r1",
            execution_id="e1",
            time=sim.now,
            new_execution_id="e2",
            task_run_id=sim.run_of("work").id,
            revision=2,
        )
    )
    sim.run()
    assert sim.state("e2").state == State.FAILED
    assert "has no task first" in (sim.state("e2").error or "")


def test_a_lost_worker_means_a_new_attempt_and_its_late_report_is_ignored() -> None:
    sim = run(CHAIN, hold=["work"])
    [job] = sim.held
    sim.send(sim.report(job, kind="started"))
    sim.send(
        WorkerLost(
            command_id="lost1",
            execution_id="e1",
            time=sim.now,
            task_run_id=job.task_run_id,
            attempt=1,
            worker_id="w1",
        )
    )
    sim.run()
    late = sim.send(sim.report(job, state=State.FAILED, error="zombie"))
    assert late == []
    assert [j.attempt for j in sim.jobs if j.task_id == "work"] == [1, 2]
    retrying = [e for e in sim.events["e1"] if e.type == "TaskRunRetrying"]
    assert len(retrying) == 1 and "stopped sending heartbeats" in (retrying[0].error or "")


def test_kill_stops_worker_jobs_and_subflows() -> None:
    sim = run(CHAIN, hold=["work"])
    [job] = sim.held
    sim.send(sim.report(job, kind="started"))
    before = len(sim.events["e1"])
    sim.send(sim.kill())
    events = sim.events["e1"][before:]
    effects = effects_of(sim.state(), events)
    assert [(s.task_run_id, s.attempt) for s in effects.stops] == [(job.task_run_id, 1)]
    assert sim.state().state == State.KILLED


def test_kill_stops_a_job_no_worker_reported_yet() -> None:
    # A worker reports "started" only for a task still running after a delay: a kill in
    # that window must still reach the worker running it, but not the flowable above it.
    sim = run(CHAIN, hold=["work"])
    [job] = sim.held
    before = len(sim.events["e1"])
    sim.send(sim.kill())
    effects = effects_of(sim.state(), sim.events["e1"][before:])
    assert [(s.task_run_id, s.attempt) for s in effects.stops] == [(job.task_run_id, 1)]
    assert sim.state().state == State.KILLED


def test_a_quick_task_reports_only_finished_and_the_run_names_its_worker() -> None:
    sim = run(CHAIN, hold=["work"])
    [job] = sim.held
    sim.send(sim.report(job, kind="finished"))
    sim.run()
    work = next(r for r in sim.state().task_runs.values() if r.task_id == "work")
    assert [e.type for e in sim.events["e1"] if getattr(e, "task_run_id", None) == work.id][
        -2:
    ] == ["TaskRunRunning", "TaskRunSucceeded"]
    assert work.attempts[-1].worker_id == "w1"
    assert sim.state().state == State.SUCCESS
    sim.check()


def test_a_job_handed_back_before_any_report_runs_again() -> None:
    # A worker stopping gracefully hands back a quick task it had not reported yet.
    sim = run(CHAIN, hold=["work"])
    [job] = sim.held
    sim.send(sim.report(job, kind="abandoned"))
    work = sim.state().task_runs[job.task_run_id]
    assert work.attempts[0].state == State.FAILED
    assert "handed the task back" in (work.attempts[0].error or "")
    assert sim.state().state == State.RUNNING
    [_, again] = sim.held
    assert again.attempt == 2
    sim.send(sim.report(again, kind="finished"))
    sim.run()
    assert sim.state().state == State.SUCCESS
    assert sim.state().task_runs[job.task_run_id].attempt_number == 2
    sim.check()


def test_flow_retry_creates_new_executions_until_max_attempts() -> None:
    sim = run(
        f"""
        retry:
          type: constant
          interval: PT1M
          maxAttempt: 3
          behavior: CREATE_NEW_EXECUTION
        tasks:
          - id: boom
            type: {FAIL}
        """
    )
    chain = ["e1"]
    while True:
        state = sim.state(chain[-1])
        assert state.state == State.FAILED
        delayed = effects_of(state, sim.events[chain[-1]][-1:]).delayed
        if not delayed:
            break
        [create] = delayed
        assert create.time == state.ended + dt.timedelta(minutes=1)  # type: ignore[operator]
        assert create.trigger is not None and create.trigger["originalId"] == "e1"
        sim.send(create)
        chain.append(create.execution_id)
    assert len(chain) == 3
    assert [sim.state(e).trigger["attempt"] for e in chain[1:]] == [2, 3]  # type: ignore[index]
    assert sim.state(chain[-1]).next_attempt_id is None


def test_a_report_read_before_its_creation_waits_for_it() -> None:
    """After a restart the executor may read worker-results before commands: the report
    must not be lost (the worker will not run the job again)."""
    first = run(CHAIN, hold=["work"])
    [job] = first.held
    report = first.report(job, state=State.SUCCESS)
    sim = Sim(flow(CHAIN))
    assert sim.send(report) == []  # the execution does not exist yet: it waits
    assert sim.records["e1"].early == (report,)
    events = sim.send(sim.create("f"))
    assert sim.state().state == State.SUCCESS  # the waiting report finished `work`
    assert {e.causation_id for e in events} == {"command:create:e1", report.message_id}
    again = sim.send(sim.create("f"))  # a redelivered creation re-emits all of it
    assert again == events


def test_a_running_execution_whose_flow_is_gone_fails_with_why_instead_of_waiting() -> None:
    # The executor hands over an UnrunnableFlow only once its catalog has caught up with
    # the log and still lacks the revision (or it stopped validating). Before, the input
    # was applied as if it said nothing, and the execution waited forever.
    sim = Sim(flow(f"tasks:\n  - id: nap\n    type: {SLEEP}\n    duration: PT1S\n"), hold=["nap"])
    sim.start("f")
    assert sim.state().state == State.RUNNING
    job = sim.held[0]
    record = sim.records["e1"]
    gone = UnrunnableFlow(reason="flow company.team.f revision 1 does not exist")
    handled = handle(record, gone, sim.report(job), sim.catalog)
    assert [e.type for e in handled.events] == ["ExecutionFailed"]
    ended = handled.record.execution
    assert ended is not None and ended.state == State.FAILED
    assert handled.events[0].error == gone.reason  # type: ignore[union-attr]
    assert_legal_histories(ended)
    later = handle(handled.record, gone, sim.report(job, kind="heartbeat"), sim.catalog)
    assert later.events == []  # an ended execution stays ended
