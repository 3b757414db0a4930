"""Each core task and flowable, run through the simulated executor and worker."""

from __future__ import annotations

import json

import pytest

from schemas.events import ExecutionFailed, TaskRunFailed
from schemas.states import State
from tests.unit.core.driver import Result, Sim
from tests.unit.core.helpers import flow, run

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
SLEEP = "io.kestra.plugin.core.flow.Sleep"
FAIL = "io.kestra.plugin.core.execution.Fail"
FLOW = "io.kestra.plugin.core.flow"


def _peak_active(sim: Sim, parent_task: str, by_value: bool = False) -> int:
    """Most children (or ForEach values) of `parent_task` not yet ended, over time."""
    peak = 0
    for snapshot in sim.snapshots["e1"]:
        parents = {r.id for r in snapshot.task_runs.values() if r.task_id == parent_task}
        active = [
            r
            for r in snapshot.task_runs.values()
            if r.parent_id in parents and not r.state.is_terminal
        ]
        count = len({r.value for r in active}) if by_value else len(active)
        peak = max(peak, count)
    return peak


# --- simple tasks ----------------------------------------------------------------------


def test_log_writes_its_lines_with_the_ending_event() -> None:
    sim = run(
        f"""
        tasks:
          - id: hi
            type: {LOG}
            level: WARN
            message: ["one {{{{ 1 + 1 }}}}", {{"k": 1}}]
        """
    )
    assert sim.state().state == State.SUCCESS
    ended = next(e for e in sim.events["e1"] if e.type == "TaskRunSucceeded")
    assert [(line.level, line.message, line.index) for line in ended.logs] == [
        ("WARN", "one 2", 0),
        ("WARN", '{"k": 1}', 1),
    ]
    assert all(line.task_id == "hi" and line.attempt == 1 for line in ended.logs)


def test_return_and_output_values_publish_outputs_that_later_tasks_read() -> None:
    sim = run(
        f"""
        inputs:
          - id: name
            type: STRING
            defaults: world
        tasks:
          - id: ret
            type: {RETURN}
            format: "{{{{ inputs.name | upper }}}}"
          - id: vals
            type: io.kestra.plugin.core.output.OutputValues
            values:
              a: "{{{{ outputs.ret.value }}}}!"
              b: 2
        outputs:
          - id: both
            type: STRING
            value: "{{{{ outputs.vals['values'].a }}}}-{{{{ outputs.vals['values'].b }}}}"
        """
    )
    s = sim.state()
    assert s.state == State.SUCCESS
    assert sim.run_of("ret").outputs == {"value": "WORLD"}
    assert sim.run_of("vals").outputs == {"values": {"a": "WORLD!", "b": 2}}
    assert s.outputs == {"both": "WORLD!-2"}
    assert sim.types()[-1] == "ExecutionSucceeded"


def test_fail_without_condition_fails_the_execution_with_its_message() -> None:
    sim = run(
        f"""
        tasks:
          - id: boom
            type: {FAIL}
            errorMessage: "broken {{{{ 40 + 2 }}}}"
          - id: never
            type: {LOG}
            message: never
        """
    )
    s = sim.state()
    assert s.state == State.FAILED
    assert s.error == "broken 42"
    assert sim.runs("never") == []
    failed = next(e for e in sim.events["e1"] if isinstance(e, TaskRunFailed))
    assert [line.level for line in failed.logs] == ["ERROR"]


@pytest.mark.parametrize(("flag", "expected"), [(True, State.FAILED), (False, State.SUCCESS)])
def test_fail_with_condition(flag: bool, expected: State) -> None:
    sim = run(
        f"""
        inputs:
          - id: fail
            type: BOOLEAN
        tasks:
          - id: check
            type: {FAIL}
            condition: "{{{{ inputs.fail }}}}"
        """,
        {"fail": flag},
    )
    assert sim.run_of("check").state == expected
    assert sim.state().state == expected


def test_sleep_runs_on_a_worker_with_the_rendered_job() -> None:
    sim = run(
        f"""
        tasks:
          - id: nap
            type: {SLEEP}
            duration: "PT{{{{ 1 + 1 }}}}S"
            timeout: PT1M
        """
    )
    assert sim.state().state == State.SUCCESS
    [job] = sim.jobs
    assert job.task_id == "nap" and job.attempt == 1
    assert job.task["duration"] == "PT2S"
    assert job.deadline is not None and job.deadline - job.dispatched == __import__(
        "datetime"
    ).timedelta(minutes=1)
    assert sim.types() == [
        "ExecutionCreated",
        "ExecutionStarted",
        "TaskRunCreated",
        "TaskRunStarted",
        "TaskRunRunning",
        "TaskRunSucceeded",
        "ExecutionSucceeded",
    ]
    assert sim.run_of("nap").attempts[-1].worker_id == "w1"


@pytest.mark.parametrize(
    ("outcome", "task_state", "execution_state"),
    [
        (State.SUCCESS, State.SUCCESS, State.SUCCESS),
        (State.WARNING, State.WARNING, State.WARNING),
        (State.FAILED, State.FAILED, State.FAILED),
        (State.KILLED, State.KILLED, State.KILLED),
        (State.SKIPPED, State.FAILED, State.FAILED),  # RUNNING -> SKIPPED is not allowed
        (State.RUNNING, State.FAILED, State.FAILED),  # a non-terminal "finished" is a failure
        (State.CANCELLED, State.FAILED, State.FAILED),
    ],
)
def test_worker_outcomes(outcome: State, task_state: State, execution_state: State) -> None:
    sim = run(
        f"""
        tasks:
          - id: nap
            type: {SLEEP}
            duration: PT1S
        """,
        outcomes={"nap": Result(outcome, {"x": 1}, error="worker said so")},
    )
    assert sim.run_of("nap").state == task_state
    assert sim.run_of("nap").outputs == {"x": 1}
    assert sim.state().state == execution_state


# --- flowables ----------------------------------------------------------------------


def test_sequential_runs_children_in_order() -> None:
    sim = run(
        f"""
        tasks:
          - id: seq
            type: {FLOW}.Sequential
            tasks:
              - id: a
                type: {SLEEP}
                duration: PT1S
              - id: b
                type: {RETURN}
                format: "after {{{{ outputs.a.done }}}}"
        """,
        outcomes={"a": Result(outputs={"done": "a"})},
    )
    a, b, seq = sim.run_of("a"), sim.run_of("b"), sim.run_of("seq")
    assert a.parent_id == seq.id and b.parent_id == seq.id
    assert a.history[-1].date <= b.history[0].date
    assert b.outputs == {"value": "after a"}
    assert seq.state == State.SUCCESS and sim.state().state == State.SUCCESS


@pytest.mark.parametrize("limit", [0, 1, 2])
def test_parallel_respects_its_concurrent_limit(limit: int) -> None:
    children = "\n".join(
        f"""
              - id: p{i}
                type: {SLEEP}
                duration: PT1S"""
        for i in range(5)
    )
    sim = run(
        f"""
        tasks:
          - id: par
            type: {FLOW}.Parallel
            concurrent: {limit}
            tasks:{children}
        """,
        seed=7,
    )
    assert sim.state().state == State.SUCCESS
    assert len(sim.state().task_runs) == 6
    assert _peak_active(sim, "par") == (limit or 5)


def test_parallel_failure_starts_no_new_child_and_fails() -> None:
    sim = run(
        f"""
        tasks:
          - id: par
            type: {FLOW}.Parallel
            concurrent: 1
            tasks:
              - id: a
                type: {SLEEP}
                duration: PT1S
              - id: b
                type: {SLEEP}
                duration: PT1S
        """,
        outcomes={"a": Result(State.FAILED, error="a broke")},
    )
    assert sim.runs("b") == []
    assert sim.run_of("par").state == State.FAILED
    assert sim.state().state == State.FAILED and sim.state().error == "a broke"


@pytest.mark.parametrize(("flag", "ran", "not_ran"), [(True, "yes", "no"), (False, "no", "yes")])
def test_if_takes_one_branch(flag: bool, ran: str, not_ran: str) -> None:
    sim = run(
        f"""
        inputs:
          - id: flag
            type: BOOLEAN
        tasks:
          - id: cond
            type: {FLOW}.If
            condition: "{{{{ inputs.flag }}}}"
            then:
              - id: "yes"
                type: {LOG}
                message: then
            else:
              - id: "no"
                type: {LOG}
                message: else
        """,
        {"flag": flag},
    )
    assert sim.run_of(ran).state == State.SUCCESS
    assert sim.runs(not_ran) == []
    assert sim.run_of("cond").decision == {"condition": flag}


def test_if_without_else_and_false_condition_succeeds_empty() -> None:
    sim = run(
        f"""
        tasks:
          - id: cond
            type: {FLOW}.If
            condition: "{{{{ 1 == 2 }}}}"
            then:
              - id: t
                type: {LOG}
                message: then
        """
    )
    assert sim.run_of("cond").state == State.SUCCESS
    assert sim.runs("t") == []


@pytest.mark.parametrize(("value", "ran"), [("a", "ta"), ("b", "tb"), ("zzz", "tdef")])
def test_switch_cases_and_defaults(value: str, ran: str) -> None:
    sim = run(
        f"""
        inputs:
          - id: v
            type: STRING
        tasks:
          - id: sw
            type: {FLOW}.Switch
            value: "{{{{ inputs.v }}}}"
            cases:
              a:
                - id: ta
                  type: {LOG}
                  message: a
              b:
                - id: tb
                  type: {SLEEP}
                  duration: PT1S
            defaults:
              - id: tdef
                type: {LOG}
                message: default
        """,
        {"v": value},
    )
    ran_ids = {r.task_id for r in sim.state().task_runs.values()} - {"sw"}
    assert ran_ids == {ran}
    assert sim.run_of("sw").decision == {"value": value}
    assert sim.state().state == State.SUCCESS


FOREACH = """
tasks:
  - id: each
    type: {flow}.ForEach
    values: {values}
    concurrencyLimit: {limit}
    tasks:
      - id: work
        type: {sleep}
        duration: PT1S
      - id: echo
        type: {ret}
        format: "v={{{{ taskrun.value }}}} i={{{{ taskrun.iteration }}}}"
  - id: after
    type: {ret}
    format: "{{{{ outputs.echo['b'].value }}}}"
"""


@pytest.mark.parametrize("values", ['["a", "b", "c", "d"]', '\'["a", "b", "c", "d"]\''])
@pytest.mark.parametrize(("limit", "peak"), [(1, 1), (2, 2), (0, 4)])
def test_foreach_values_and_concurrency(values: str, limit: int, peak: int) -> None:
    sim = run(
        FOREACH.format(flow=FLOW, sleep=SLEEP, ret=RETURN, values=values, limit=limit), seed=11
    )
    assert sim.state().state == State.SUCCESS
    echoes = {r.value: r.outputs["value"] for r in sim.runs("echo")}
    assert echoes == {"a": "v=a i=0", "b": "v=b i=1", "c": "v=c i=2", "d": "v=d i=3"}
    assert sim.run_of("after").outputs == {"value": "v=b i=1"}
    assert sim.run_of("each").decision == {"values": ["a", "b", "c", "d"]}
    assert _peak_active(sim, "each", by_value=True) == peak


def test_foreach_non_string_values_are_json_and_empty_list_succeeds() -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.ForEach
            values: [1, {{"k": 2}}]
            tasks:
              - id: echo
                type: {RETURN}
                format: "{{{{ taskrun.value }}}}"
          - id: none
            type: {FLOW}.ForEach
            values: "[]"
            tasks:
              - id: never
                type: {LOG}
                message: x
        """
    )
    assert sorted(r.value or "" for r in sim.runs("echo")) == ["1", json.dumps({"k": 2})]
    assert sim.run_of("none").state == State.SUCCESS and sim.runs("never") == []


def test_foreach_values_that_are_not_a_list_fail_the_task() -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.ForEach
            values: "not json"
            tasks:
              - id: echo
                type: {LOG}
                message: x
        """
    )
    each = sim.run_of("each")
    assert each.state == State.FAILED
    assert each.error is not None and "JSON array" in each.error
    assert sim.state().state == State.FAILED


def test_foreach_failed_iteration_stops_new_ones() -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.ForEach
            values: ["a", "b", "c"]
            tasks:
              - id: work
                type: {SLEEP}
                duration: PT1S
        """,
        outcomes={"work": lambda job: Result(State.FAILED if job.value == "a" else State.SUCCESS)},
    )
    assert [r.value for r in sim.runs("work")] == ["a"]
    assert sim.state().state == State.FAILED


def test_each_sequential_runs_one_value_at_a_time() -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.EachSequential
            value: ["x", "y", "z"]
            tasks:
              - id: work
                type: {SLEEP}
                duration: PT1S
        """,
        seed=3,
    )
    assert sim.state().state == State.SUCCESS
    assert sorted(r.value or "" for r in sim.runs("work")) == ["x", "y", "z"]
    assert _peak_active(sim, "each", by_value=True) == 1


@pytest.mark.parametrize(("limit", "peak"), [(0, 3), (2, 2)])
def test_each_parallel_runs_values_together(limit: int, peak: int) -> None:
    sim = run(
        f"""
        tasks:
          - id: each
            type: {FLOW}.EachParallel
            value: '["x", "y", "z"]'
            concurrent: {limit}
            tasks:
              - id: work
                type: {SLEEP}
                duration: PT1S
        """,
        seed=3,
    )
    assert sim.state().state == State.SUCCESS
    assert _peak_active(sim, "each", by_value=True) == peak


def test_allow_failure_turns_a_failure_into_a_warning() -> None:
    sim = run(
        f"""
        tasks:
          - id: tolerant
            type: {FLOW}.AllowFailure
            tasks:
              - id: boom
                type: {FAIL}
              - id: skipped_by_failure
                type: {LOG}
                message: x
          - id: after
            type: {LOG}
            message: still runs
        """
    )
    assert sim.run_of("boom").state == State.FAILED
    assert sim.runs("skipped_by_failure") == []
    assert sim.run_of("tolerant").state == State.WARNING
    assert sim.run_of("after").state == State.SUCCESS
    assert sim.state().state == State.WARNING
    assert sim.state().error is None


DAG = f"""
tasks:
  - id: dag
    type: {FLOW}.Dag
    tasks:
      - task:
          id: c
          type: {SLEEP}
          duration: PT1S
        dependsOn: [a, b]
      - task:
          id: a
          type: {SLEEP}
          duration: PT1S
      - task:
          id: b
          type: {SLEEP}
          duration: PT1S
        dependsOn: [a]
      - task:
          id: d
          type: {SLEEP}
          duration: PT1S
"""


def test_dag_runs_in_dependency_order() -> None:
    sim = run(DAG, seed=5)
    assert sim.state().state == State.SUCCESS
    end = {t: sim.run_of(t).history[-1].date for t in "abcd"}
    start = {t: sim.run_of(t).history[0].date for t in "abcd"}
    assert end["a"] <= start["b"]
    assert max(end["a"], end["b"]) <= start["c"]
    # `d` depends on nothing: it starts with `a`.
    assert start["d"] == start["a"]


def test_dag_failed_dependency_stops_its_dependents() -> None:
    sim = run(DAG, outcomes={"a": Result(State.FAILED, error="a broke")})
    assert sim.runs("b") == [] and sim.runs("c") == []
    assert sim.run_of("d").state == State.SUCCESS
    assert sim.run_of("dag").state == State.FAILED
    assert sim.state().state == State.FAILED and sim.state().error == "a broke"


def test_dag_dependency_on_a_disabled_task_does_not_block() -> None:
    sim = run(
        f"""
        tasks:
          - id: dag
            type: {FLOW}.Dag
            tasks:
              - task:
                  id: a
                  type: {LOG}
                  message: a
                  disabled: true
              - task:
                  id: b
                  type: {LOG}
                  message: b
                dependsOn: [a]
        """
    )
    assert sim.runs("a") == []
    assert sim.run_of("b").state == State.SUCCESS
    assert sim.state().state == State.SUCCESS


def test_dag_concurrent_limit() -> None:
    sim = run(
        DAG.replace(
            "type: io.kestra.plugin.core.flow.Dag",
            "type: io.kestra.plugin.core.flow.Dag\n    concurrent: 1",
        ),
        seed=2,
    )
    assert sim.state().state == State.SUCCESS
    assert _peak_active(sim, "dag") == 1


# --- subflows -----------------------------------------------------------------------

CHILD = flow(
    f"""
    inputs:
      - id: n
        type: INT
    tasks:
      - id: work
        type: {SLEEP}
        duration: PT1S
      - id: double
        type: {RETURN}
        format: "{{{{ inputs.n * 2 }}}}"
    outputs:
      - id: doubled
        type: INT
        value: "{{{{ outputs.double.value }}}}"
    """,
    flow_id="child",
)


def _parent(wait: bool = True, transmit: bool = True, inputs: str = "{n: 21}") -> str:
    return f"""
        tasks:
          - id: call
            type: {FLOW}.Subflow
            namespace: company.team
            flowId: child
            inputs: {inputs}
            wait: {str(wait).lower()}
            transmitFailed: {str(transmit).lower()}
          - id: next
            type: {RETURN}
            format: "{{{{ outputs.call.executionId }}}}"
        """


def _child_id(sim: Sim) -> str:
    [child] = [eid for eid in sim.records if eid != "e1"]
    return child


def test_subflow_waits_for_the_child_and_reads_its_outputs() -> None:
    sim = run(_parent(), None, None, CHILD, seed=1)
    child = _child_id(sim)
    call = sim.run_of("call")
    assert call.child_execution_id == child
    assert sim.state(child).state == State.SUCCESS
    assert sim.state(child).parent is not None
    assert sim.state(child).parent.task_run_id == call.id  # type: ignore[union-attr]
    assert sim.state(child).correlation_id == sim.state().correlation_id
    assert call.outputs == {"executionId": child, "state": "SUCCESS", "outputs": {"doubled": 42}}
    assert call.history[-1].date >= sim.state(child).ended  # type: ignore[operator]
    assert sim.state().state == State.SUCCESS


def test_subflow_without_wait_ends_at_once() -> None:
    sim = run(_parent(wait=False), None, {"work": Result(State.FAILED)}, CHILD)
    child = _child_id(sim)
    call = sim.run_of("call")
    assert call.outputs == {"executionId": child}
    assert call.history[-1].date < sim.state(child).ended  # type: ignore[operator]
    assert sim.state(child).state == State.FAILED
    assert sim.state().state == State.SUCCESS


@pytest.mark.parametrize(
    ("transmit", "call_state", "execution_state"),
    [(True, State.FAILED, State.FAILED), (False, State.SUCCESS, State.SUCCESS)],
)
def test_subflow_failure_transmitted_or_not(
    transmit: bool, call_state: State, execution_state: State
) -> None:
    sim = run(_parent(transmit=transmit), None, {"work": Result(State.FAILED)}, CHILD)
    child = _child_id(sim)
    call = sim.run_of("call")
    assert call.state == call_state
    assert call.outputs["state"] == "FAILED"
    assert sim.state().state == execution_state
    if transmit:
        assert sim.state().error == f"subflow execution {child} ended FAILED"


def test_unknown_subflow_fails_the_task_naming_it() -> None:
    sim = run(_parent().replace("flowId: child", "flowId: ghost"))
    call = sim.run_of("call")
    assert call.state == State.FAILED
    assert call.error is not None and "company.team.ghost" in call.error
    assert len(sim.records) == 1
    assert sim.state().state == State.FAILED


@pytest.mark.parametrize("inputs", ["{n: not-a-number}", "{}", "{n: 1, other: 2}"])
def test_subflow_with_wrong_inputs_fails_the_task(inputs: str) -> None:
    sim = run(_parent(inputs=inputs), None, None, CHILD)
    call = sim.run_of("call")
    assert call.state == State.FAILED
    assert call.error is not None and "company.team.child" in call.error
    assert "input '" in call.error
    assert len(sim.records) == 1


# --- flow-level behaviour -------------------------------------------------------------


def test_errors_and_finally_at_flow_level() -> None:
    sim = run(
        f"""
        tasks:
          - id: boom
            type: {FAIL}
            errorMessage: bad
        errors:
          - id: alert
            type: {LOG}
            message: "{{{{ execution.id }}}} failed"
        finally:
          - id: cleanup
            type: {LOG}
            message: always
        """
    )
    assert sim.run_of("alert").state == State.SUCCESS
    assert sim.run_of("cleanup").state == State.SUCCESS
    assert sim.run_of("alert").history[-1].date <= sim.run_of("cleanup").history[0].date
    assert sim.state().state == State.FAILED
    assert sim.state().error == "bad"


def test_error_logs_tell_the_errors_branch_what_failed() -> None:
    sim = run(
        f"""
        tasks:
          - id: boom
            type: {FAIL}
            errorMessage: kaboom
        errors:
          - id: report
            type: {RETURN}
            format: "{{{{ errorLogs()[0].message }}}} in {{{{ errorLogs()[0].taskId }}}}"
        """
    )
    assert sim.run_of("report").outputs == {"value": "kaboom in boom"}


def test_errors_branch_does_not_run_on_success_but_finally_does() -> None:
    sim = run(
        f"""
        tasks:
          - id: ok
            type: {LOG}
            message: fine
        errors:
          - id: alert
            type: {LOG}
            message: failed
        finally:
          - id: cleanup
            type: {SLEEP}
            duration: PT1S
        """,
        outcomes={"cleanup": Result(State.WARNING)},
    )
    assert sim.runs("alert") == []
    assert sim.run_of("cleanup").state == State.WARNING
    assert sim.state().state == State.WARNING


def test_flowable_errors_branch() -> None:
    sim = run(
        f"""
        tasks:
          - id: seq
            type: {FLOW}.Sequential
            tasks:
              - id: boom
                type: {FAIL}
            errors:
              - id: handle
                type: {LOG}
                message: handled
        """
    )
    assert sim.run_of("handle").parent_id == sim.run_of("seq").id
    assert sim.run_of("seq").state == State.FAILED
    assert sim.state().state == State.FAILED


def test_task_allow_failure_counts_a_failure_as_warning() -> None:
    sim = run(
        f"""
        tasks:
          - id: flaky
            type: {SLEEP}
            duration: PT1S
            allowFailure: true
          - id: after
            type: {LOG}
            message: runs
        """,
        outcomes={"flaky": Result(State.FAILED, error="flaky")},
    )
    assert sim.run_of("flaky").state == State.FAILED
    assert sim.run_of("after").state == State.SUCCESS
    assert sim.state().state == State.WARNING
    assert sim.state().error is None


def test_allow_warning_counts_a_warning_as_success() -> None:
    sim = run(
        f"""
        tasks:
          - id: meh
            type: {SLEEP}
            duration: PT1S
            allowWarning: true
        """,
        outcomes={"meh": Result(State.WARNING)},
    )
    assert sim.state().state == State.SUCCESS


def test_run_if_false_skips_and_disabled_tasks_do_not_run() -> None:
    sim = run(
        f"""
        tasks:
          - id: skipped
            type: {SLEEP}
            duration: PT1S
            runIf: "{{{{ 1 == 2 }}}}"
          - id: off
            type: {FAIL}
            disabled: true
          - id: kept
            type: {LOG}
            message: x
            runIf: "{{{{ true }}}}"
          - id: par
            type: {FLOW}.Parallel
            tasks:
              - id: off2
                type: {FAIL}
                disabled: true
              - id: on2
                type: {LOG}
                message: y
        """
    )
    assert sim.run_of("skipped").state == State.SKIPPED
    assert sim.run_of("skipped").attempts == ()
    assert sim.jobs == []
    assert sim.runs("off") == [] and sim.runs("off2") == []
    assert sim.run_of("kept").state == State.SUCCESS
    assert sim.run_of("on2").state == State.SUCCESS
    assert sim.state().state == State.SUCCESS


@pytest.mark.parametrize(
    ("prop", "needle"),
    [
        ('format: "{{ nothing.here }}"', "nothing"),
        ('runIf: "{{ nothing.here }}"', "nothing"),
    ],
)
def test_expression_errors_fail_the_task_run_not_the_executor(prop: str, needle: str) -> None:
    sim = run(
        f"""
        tasks:
          - id: bad
            type: {RETURN}
            {prop}
        """
    )
    bad = sim.run_of("bad")
    assert bad.state == State.FAILED
    assert bad.error is not None and bad.error.startswith("task bad:") and needle in bad.error
    failed = next(e for e in sim.events["e1"] if isinstance(e, TaskRunFailed))
    assert [line.message for line in failed.logs] == [bad.error]
    assert sim.state().state == State.FAILED
    assert sim.state().error == bad.error
    assert "executor error" not in (sim.state().error or "")


def test_rendered_property_of_the_wrong_type_fails_the_task() -> None:
    sim = run(
        f"""
        tasks:
          - id: wait
            type: {FLOW}.Pause
            pauseDuration: "{{{{ 5 }}}}"
        """
    )
    wait = sim.run_of("wait")
    assert wait.state == State.FAILED
    assert wait.error is not None and "not an ISO-8601 duration" in wait.error
    assert "pauseDuration" in wait.error
    assert sim.state().state == State.FAILED


def test_a_timeout_that_is_no_duration_fails_the_task_before_dispatch() -> None:
    sim = run(
        f"""
        tasks:
          - id: nap
            type: {SLEEP}
            duration: PT1S
            timeout: soon
        """
    )
    nap = sim.run_of("nap")
    assert nap.state == State.FAILED
    assert nap.error is not None and nap.error.startswith("task nap: timeout")
    assert sim.jobs == []


def test_flow_outputs_that_fail_to_render_fail_the_execution() -> None:
    sim = run(
        f"""
        tasks:
          - id: ok
            type: {LOG}
            message: x
        outputs:
          - id: out
            type: STRING
            value: "{{{{ outputs.missing.value }}}}"
        """
    )
    s = sim.state()
    assert s.state == State.FAILED
    assert s.error is not None and s.error.startswith("flow outputs:")
    assert s.outputs == {}


def test_invalid_inputs_fail_the_execution_naming_the_input() -> None:
    sim = run(
        """
        inputs:
          - id: count
            type: INT
          - id: name
            type: STRING
        tasks:
          - id: t
            type: io.kestra.plugin.core.log.Log
            message: x
        """,
        {"count": "many", "name": "ok"},
    )
    s = sim.state()
    assert sim.types() == ["ExecutionCreated", "ExecutionFailed"]
    assert s.state == State.FAILED
    assert s.error is not None and "input 'count'" in s.error and "'name'" not in s.error
    assert s.task_runs == {}


def test_disabled_flow_fails_at_creation() -> None:
    sim = run(
        """
        disabled: true
        tasks:
          - id: t
            type: io.kestra.plugin.core.log.Log
            message: x
        """
    )
    assert sim.types() == ["ExecutionCreated", "ExecutionFailed"]
    assert "disabled" in (sim.state().error or "")


def test_unknown_flow_fails_at_creation() -> None:
    sim = Sim()
    sim.start("ghost")
    sim.check()
    s = sim.state()
    assert sim.types() == ["ExecutionCreated", "ExecutionFailed"]
    assert s.state == State.FAILED
    assert s.error == "flow company.team.ghost revision 1 does not exist"
    # Later inputs for it change nothing.
    assert sim.send(sim.kill()) == []
    failed = sim.events["e1"][-1]
    assert isinstance(failed, ExecutionFailed)


def test_second_create_for_an_existing_execution_changes_nothing() -> None:
    sim = run(
        f"""
        tasks:
          - id: nap
            type: {SLEEP}
            duration: PT1S
        """,
        hold=["nap"],
    )
    again = sim.create("f").model_copy(update={"command_id": "another"})
    assert sim.send(again) == []


def test_labels_and_variables_reach_the_context() -> None:
    sim = run(
        f"""
        labels:
          team: data
        variables:
          greeting: hi
        tasks:
          - id: r
            type: {RETURN}
            format: >-
              {{{{ vars.greeting }}}} {{{{ labels.team }}}} {{{{ flow.id }}}} {{{{ task.id }}}}
        """
    )
    assert sim.run_of("r").outputs == {"value": "hi data f r"}
    assert sim.state().labels == {"team": "data", "system.correlationId": "e1"}


def test_parallel_limit_frees_the_slot_of_a_flowable_child_that_ends() -> None:
    """Regression: a flowable child ending inside the walk must let the next child start."""
    sim = run(
        f"""
        tasks:
          - id: par
            type: {FLOW}.Parallel
            concurrent: 1
            tasks:
              - id: cond
                type: {FLOW}.If
                condition: "{{{{ true }}}}"
                then:
                  - id: wait
                    type: {FLOW}.Pause
                    pauseDuration: PT1M
              - id: next
                type: {LOG}
                message: x
        """
    )
    assert sim.run_of("next").state == State.SUCCESS
    assert sim.state().state == State.SUCCESS
