"""Kestra's results on its own test flows, held in the pure core (bench/kestra_cases.jsonl
names the Java test each family comes from)."""

from __future__ import annotations

import datetime as dt

from schemas.commands import RestartExecution
from schemas.states import State
from tests.unit.core.driver import Sim
from tests.unit.core.helpers import flow, run

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
FLOW = "io.kestra.plugin.core.flow"


def test_properties_that_fail_to_render_are_a_failed_attempt_the_retry_policy_retries() -> None:
    # retry-success.yaml (RetryCaseTest.retrySuccess): one task run, four attempts, WARNING.
    sim = run(
        f"""
        tasks:
          - id: failed
            type: {LOG}
            message: "{{{{ taskrun.attemptsCount == 3 ? 'ok' : ko }}}}"
            retry:
              type: constant
              interval: PT0.250S
              maxAttempt: 4
              maxDuration: PT15S
              warningOnRetry: true
        errors:
          - id: never-happen
            type: {LOG}
            message: never
        """
    )
    assert sim.state().state == State.WARNING
    assert [r.task_id for r in sim.state().task_runs.values()] == ["failed"]
    failed = sim.run_of("failed")
    assert len(failed.attempts) == 4
    assert [a.state for a in failed.attempts[:3]] == [State.FAILED] * 3
    assert failed.state == State.WARNING


def test_a_render_failure_without_retry_fails_once_with_the_reason() -> None:
    sim = run(
        f"""
        tasks:
          - id: bad
            type: {LOG}
            message: "{{{{ nope }}}}"
        """
    )
    assert sim.state().state == State.FAILED
    bad = sim.run_of("bad")
    assert len(bad.attempts) == 1
    assert bad.error is not None and "nope" in bad.error


def test_a_null_among_foreach_values_fails_the_foreach_with_kestras_message() -> None:
    # each-null.yaml (EachSequentialTest.eachNullTest): one task run, FAILED.
    sim = run(
        f"""
        tasks:
          - id: 1_each
            type: {FLOW}.ForEach
            values: '[1, null, {{"key": "my-key", "value": "my-value"}}]'
            tasks:
              - id: 1-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ taskrun.value }}}}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: end
        """
    )
    assert sim.state().state == State.FAILED
    each = sim.run_of("1_each")
    assert len(sim.state().task_runs) == 1
    assert each.error is not None
    assert "Found '1' null values on Each, with values=[1, null, {key=my-key, value=my-value}]" in (
        each.error
    )


def _allowed(task: str, allow_warning: bool) -> str:
    flags = "allowFailure: true\n" + ("            allowWarning: true\n" if allow_warning else "")
    return task.replace("FLAGS\n", flags)


RUNNABLE = f"""
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            FLAGS
            retry:
              type: constant
              interval: PT0.100S
              maxAttempt: 3
          - id: log
            type: {LOG}
            message: allowed
        """

FLOWABLE = f"""
        tasks:
          - id: seq
            type: {FLOW}.Sequential
            FLAGS
            tasks:
              - id: fail
                type: io.kestra.plugin.core.execution.Fail
              - id: log-not-allowed
                type: {LOG}
                message: not allowed
          - id: log-allowed
            type: {LOG}
            message: allowed
        """


def test_allow_failure_and_allow_warning_on_a_runnable_task() -> None:
    # task-allow-{failure,warning}-runnable.yml (TaskWithAllow{Failure,Warning}Test).
    for allow_warning, expected in ((False, State.WARNING), (True, State.SUCCESS)):
        sim = run(_allowed(RUNNABLE, allow_warning))
        assert sim.state().state == expected
        assert len(sim.state().task_runs) == 2
        assert len(sim.run_of("fail").attempts) == 3


def test_allow_failure_and_allow_warning_on_a_flowable() -> None:
    # task-allow-{failure,warning}-flowable.yml: three task runs.
    for allow_warning, expected in ((False, State.WARNING), (True, State.SUCCESS)):
        sim = run(_allowed(FLOWABLE, allow_warning))
        assert sim.state().state == expected
        assert sorted(r.task_id for r in sim.state().task_runs.values()) == [
            "fail",
            "log-allowed",
            "seq",
        ]


def _calls(flow_id: str, child: str) -> str:
    return flow(
        f"""
        tasks:
          - id: subflow
            type: {FLOW}.Subflow
            namespace: company.team
            flowId: {child}
        """,
        flow_id=flow_id,
    )


def test_a_subflow_chain_carries_the_root_as_correlation_id_label() -> None:
    # subflow-parent/child/grand-child (CorrelationIdTest): every level SUCCESS, and the
    # grand-child reads `labels.system.correlationId`: the root execution's id.
    grand_child = flow(
        f"""
        tasks:
          - id: firstLevel
            type: {RETURN}
            format: "My grandparent is {{{{ labels.system.correlationId }}}}"
        """,
        flow_id="grand-child",
    )
    sim = Sim(_calls("f", "child"), _calls("child", "grand-child"), grand_child)
    sim.start("f")
    sim.check()
    assert len(sim.records) == 3
    for execution_id in sim.records:
        assert sim.state(execution_id).state == State.SUCCESS
        assert sim.state(execution_id).labels["system.correlationId"] == "e1"
    [last] = [e for e in sim.records if sim.state(e).flow_id == "grand-child"]
    assert sim.run_of("firstLevel", last).outputs == {"value": "My grandparent is e1"}


def test_a_pause_with_tasks_runs_them_once_its_delay_is_over() -> None:
    # pause-delay.yaml (PauseTest.runDelay): PAUSED with one task run, then SUCCESS with
    # three; the Pause went PAUSED once and RUNNING twice.
    sim = run(
        f"""
        tasks:
          - id: pause
            type: {FLOW}.Pause
            delay: PT1S
            tasks:
              - id: subtask
                type: {LOG}
                message: after the pause
          - id: last
            type: {RETURN}
            format: last
        """
    )
    paused = [s for s in sim.snapshots["e1"] if s.state == State.PAUSED]
    assert paused and len(paused[0].task_runs) == 1
    assert sim.state().state == State.SUCCESS
    assert len(sim.state().task_runs) == 3
    pause = sim.run_of("pause")
    moves = [h.state for h in pause.history]
    assert moves.count(State.PAUSED) == 1 and moves.count(State.RUNNING) == 2
    subtask = sim.run_of("subtask")
    assert subtask.parent_id == pause.id
    assert subtask.history[0].date >= pause.history[0].date + dt.timedelta(seconds=1)


def test_outputs_inside_nested_loops_are_keyed_by_every_enclosing_value() -> None:
    # each-sequential-nested.yaml: outputs['1-2-1_return'].s1['a a'].value
    sim = run(
        f"""
        tasks:
          - id: outer
            type: {FLOW}.ForEach
            values: ["s1", "s2"]
            tasks:
              - id: inner
                type: {FLOW}.ForEach
                values: ["a a", "b b"]
                tasks:
                  - id: ret
                    type: {RETURN}
                    format: "{{{{ parent.taskrun.value }}}}/{{{{ taskrun.value }}}}"
                  - id: read
                    type: {RETURN}
                    format: "{{{{ outputs.ret.s1[taskrun.value].value }}}}"
          - id: last
            type: {RETURN}
            format: "{{{{ outputs.ret.s2['a a'].value }}}}"
        """
    )
    assert sim.state().state == State.SUCCESS
    assert sim.run_of("last").outputs == {"value": "s2/a a"}
    assert {r.outputs["value"] for r in sim.runs("read")} == {"s1/a a", "s1/b b"}


def test_switch_compares_a_boolean_as_kestra_prints_it_and_a_map_renders_as_text() -> None:
    # allow-failure.yaml's switch on `{{ inputs.crash is defined }}`; empty-variables.yml.
    sim = run(
        f"""
        inputs:
          - id: obj
            type: JSON
        tasks:
          - id: pick
            type: {FLOW}.Switch
            value: "{{{{ inputs.obj is defined }}}}"
            cases:
              "true":
                - id: log
                  type: {LOG}
                  message: "{{{{ inputs.obj.json.someEmptyObject }}}}"
        """,
        {"obj": '{"json": {"someEmptyObject": {}}}'},
    )
    assert sim.state().state == State.SUCCESS
    ended = next(e for e in sim.events["e1"] if e.type == "TaskRunSucceeded" and e.logs)
    assert [line.message for line in ended.logs] == ["{}"]


SWITCH = f"""
        inputs:
          - id: param
            type: STRING
        tasks:
          - id: switch
            type: {FLOW}.Switch
            value: "{{{{ inputs.param }}}}"
            cases:
              case1:
                - id: one
                  type: {RETURN}
                  format: one
            DEFAULTS
        """


def test_a_switch_with_no_matching_case_and_no_defaults_fails() -> None:
    # fail-on-switch.yaml, switch-impossible.yaml (`defaults: null`): one task run, FAILED.
    for defaults in ("", "defaults: null"):
        sim = run(SWITCH.replace("DEFAULTS", defaults), {"param": "nope"})
        assert sim.state().state == State.FAILED
        assert len(sim.state().task_runs) == 1
        assert "no case matches 'nope'" in (sim.run_of("switch").error or "")


def test_a_switch_outputs_its_value_and_whether_defaults_ran() -> None:
    # switch.yaml (SwitchTest): outputs.parent-seq.value / defaults.
    with_defaults = SWITCH.replace(
        "DEFAULTS",
        f"defaults:\n              - id: other\n                type: {RETURN}\n"
        "                format: other",
    )
    sim = run(with_defaults, {"param": "case1"})
    assert sim.run_of("switch").outputs == {"value": "case1", "defaults": False}
    sim = run(with_defaults, {"param": "else"})
    assert sim.run_of("switch").outputs == {"value": "else", "defaults": True}


def test_a_pause_timeout_fails_it_when_nobody_resumes_in_time() -> None:
    # pause-timeout.yaml (PauseTest.runTimeout): FAILED with one task run.
    body = f"""
        tasks:
          - id: pause
            type: {FLOW}.Pause
            timeout: PT1S
          - id: after
            type: {RETURN}
            format: never
        """
    sim = run(body)
    assert sim.state().state == State.FAILED
    assert [r.task_id for r in sim.state().task_runs.values()] == ["pause"]
    # Resumed by hand before its timer fired, even on a clock past the timeout: it goes on.
    sim = run(body, auto_timers=False)
    sim.now += dt.timedelta(seconds=5)
    assert sim.state().state == State.PAUSED
    sim.send(sim.resume())
    assert sim.state().state == State.SUCCESS  # resumed in time: it carries on


def test_a_return_whose_format_renders_to_null_returns_empty_text() -> None:
    # inputs.yaml (InputsTest.inputFlow): outputs.optional.value == "".
    sim = run(
        f"""
        inputs:
          - id: optional
            type: STRING
            required: false
        tasks:
          - id: optional
            type: {RETURN}
            format: "{{{{ inputs.optional }}}}"
        """
    )
    assert sim.run_of("optional").outputs == {"value": ""}


def test_a_flowables_retry_policy_retries_its_failing_children() -> None:
    # retry-flowable.yaml, retry-flowable-nested-child.yaml (RetryCaseTest): the child has
    # three attempts, the execution ends FAILED.
    sim = run(
        f"""
        tasks:
          - id: flowable
            type: {FLOW}.Sequential
            retry:
              type: constant
              interval: PT1S
              maxAttempt: 3
            tasks:
              - id: nested
                type: {FLOW}.Sequential
                tasks:
                  - id: child
                    type: io.kestra.plugin.core.execution.Fail
        """
    )
    assert sim.state().state == State.FAILED
    assert len(sim.run_of("child").attempts) == 3


def test_the_flows_retry_policy_retries_a_subflow_task_with_a_new_child_each_time() -> None:
    # retry-subflow.yaml (RetryCaseTest.retrySubflow): the Subflow task has 3 attempts.
    failing = flow(
        """
        tasks:
          - id: t1
            type: io.kestra.plugin.core.execution.Fail
        """,
        flow_id="failed-first",
    )
    parent = flow(
        f"""
        retry:
          type: constant
          interval: PT1S
          maxAttempt: 3
        tasks:
          - id: subflow
            type: {FLOW}.Subflow
            namespace: company.team
            flowId: failed-first
        """
    )
    sim = Sim(parent, failing)
    sim.start("f")
    sim.check()
    assert sim.state().state == State.FAILED
    assert len(sim.run_of("subflow").attempts) == 3
    children = [e for e in sim.records if e != "e1"]
    assert len(children) == 3
    assert all(sim.state(c).state == State.FAILED for c in children)


def _launcher(extract: str) -> str:
    return flow(
        f"""
        tasks:
          - id: launch
            type: {FLOW}.Subflow
            namespace: company.team
            flowId: switch
            outputs:
              extracted: "{extract}"
        """
    )


SWITCHED = flow(
    f"""
    tasks:
      - id: default
        type: {RETURN}
        format: "default > amazing"
    """,
    flow_id="switch",
)


def test_a_subflow_task_extracts_outputs_from_the_child_when_it_ends() -> None:
    # task-flow.yaml (FlowCaseTest.waitSuccess): outputs.launch.outputs.extracted.
    sim = Sim(_launcher("{{ outputs.default.value ?? outputs['error-t1'].value }}"), SWITCHED)
    sim.start("f")
    sim.check()
    assert sim.state().state == State.SUCCESS
    assert sim.run_of("launch").outputs["outputs"] == {"extracted": "default > amazing"}


def test_a_subflow_task_whose_outputs_do_not_render_fails() -> None:
    # task-flow.yaml (FlowCaseTest.invalidOutputs): the child succeeds, the task fails.
    sim = Sim(_launcher("{{ outputs.missing.value }}"), SWITCHED)
    sim.start("f")
    sim.check()
    child = next(e for e in sim.records if e != "e1")
    assert sim.state(child).state == State.SUCCESS
    assert sim.state().state == State.FAILED
    assert "its outputs do not render" in (sim.run_of("launch").error or "")


def test_current_each_output_follows_every_enclosing_loop() -> None:
    # current-output.yaml (CurrentEachOutputFunctionTest.parallel).
    sim = run(
        f"""
        tasks:
          - id: outer
            type: {FLOW}.ForEach
            values: ["v11", "v12"]
            tasks:
              - id: inner
                type: {FLOW}.ForEach
                values: ["v21", "v22"]
                tasks:
                  - id: out
                    type: {RETURN}
                    format: "{{{{ parents[0].taskrun.value }}}}-{{{{ taskrun.value }}}}"
                  - id: ret
                    type: {RETURN}
                    format: "return-{{{{ currentEachOutput(outputs.out).value }}}}"
        """
    )
    assert sim.state().state == State.SUCCESS
    assert sorted(r.outputs["value"] for r in sim.runs("ret")) == [
        "return-v11-v21",
        "return-v11-v22",
        "return-v12-v21",
        "return-v12-v22",
    ]


def test_a_restart_after_a_failure_inside_a_pause_reruns_it_and_carries_on() -> None:
    # restart_pause_last_failed.yaml (ExecutionControllerTest.restartFromLastFailedWithPause):
    # the Pause's own children render only when they run; after the restart, c's second
    # attempt succeeds and d runs: five task runs.
    sim = run(
        f"""
        tasks:
          - id: a
            type: {LOG}
            message: a
          - id: pause
            type: {FLOW}.Pause
            delay: PT1S
            tasks:
              - id: c
                type: {LOG}
                message: "{{{{ taskrun.attemptsCount == 1 ? 'ok' : ko }}}}"
              - id: d
                type: {LOG}
                message: d
        """
    )
    assert sim.state().state == State.FAILED
    assert sim.run_of("c").state == State.FAILED
    sim.send(RestartExecution(command_id="restart1", execution_id="e1", time=sim.now))
    sim.run()
    assert sim.state().state == State.SUCCESS
    assert len(sim.run_of("c").attempts) == 2
    assert sim.run_of("d").state == State.SUCCESS


def test_templates_render_to_text_where_a_property_is_typed_as_text() -> None:
    from streams.plugins.core.simple import Log, OutputValues
    from streams.plugins.core.state import StateSet

    assert "message" in Log.text_properties()  # str | list[Any]
    assert "values" in OutputValues.text_properties()  # Kestra renders the map to text
    assert "data" not in StateSet.text_properties()  # dict[str, Any] keeps its types
