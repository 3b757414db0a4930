"""Labels, Exit and flow SLAs, decided by the pure core (Kestra's RuntimeLabelsTest,
ExitTest and SLATestCase flows), run through the simulated executor and worker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bench.kestra_cases import load_cases
from schemas.commands import CreateExecution
from schemas.events import ExecutionLabelsChanged
from schemas.flow import FlowRef
from schemas.states import State
from streams.app.watch import TimerIndex
from streams.core.labels import CORRELATION_ID
from tests.unit.core.driver import TENANT, Sim, parse, redecide
from tests.unit.core.helpers import assert_legal_histories, flow, run
from tests.unit.core.kestra_scenarios import SCENARIOS

LABELS = "io.kestra.plugin.core.execution.Labels"
EXIT = "io.kestra.plugin.core.execution.Exit"
LOG = "io.kestra.plugin.core.log.Log"
SLEEP = "io.kestra.plugin.core.flow.Sleep"


def _kestra(name: str) -> str:
    return SCENARIOS[name.rsplit(".", 1)[0]]


def _start(sim: Sim, flow_id: str, inputs: dict[str, object], labels: dict[str, str]) -> None:
    sim.queue.append(
        CreateExecution(
            command_id="create:e1",
            execution_id="e1",
            time=sim.now,
            flow=FlowRef(tenant=TENANT, namespace="io.kestra.tests", flow_id=flow_id, revision=1),
            inputs=inputs,
            labels=labels,
        )
    )
    sim.run()
    sim.check()


# --- Labels ------------------------------------------------------------------------------


def test_labels_update_task_adds_and_overrides_labels_from_json_map_and_list() -> None:
    sim = Sim(_kestra("labels-update-task.yml"))
    _start(
        sim,
        "labels-update-task",
        {
            "labelsJson": '{"keyFromJson": "valueFromJson"}',
            "labelsMapKey": "keyFromMap",
            "labelsMapValue": "valueFromMap",
            "labelsListKey": "keyFromList",
            "labelsListValue": "valueFromList",
        },
        {
            "keyFromExecution": "valueFromExecution",
            "overriddenExecutionLabelKey": "executionValueThatWillGetOverridden",
        },
    )
    s = sim.state()
    assert s.state == State.SUCCESS and len(s.task_runs) == 4
    overrider = sim.run_of("override-labels").id
    assert s.labels == {
        CORRELATION_ID: "e1",
        "flowLabelKey": "flowLabelValue",
        "overriddenFlowLabelKey": "io.kestra.tests.labels-update-task",
        "keyFromJson": "valueFromJson",
        "keyFromMap": "valueFromMap",
        "keyFromList": "valueFromList",
        "keyFromExecution": "valueFromExecution",
        "overriddenExecutionLabelKey": overrider,
    }
    changes = [e for e in sim.events["e1"] if isinstance(e, ExecutionLabelsChanged)]
    assert [e.labels for e in changes] == [
        {"keyFromJson": "valueFromJson"},
        {"keyFromMap": "valueFromMap"},
        {"keyFromList": "valueFromList"},
        {
            "overriddenFlowLabelKey": "io.kestra.tests.labels-update-task",
            "overriddenExecutionLabelKey": overrider,
        },
    ]


def test_labels_on_an_execution_without_labels() -> None:
    sim = Sim(_kestra("npe-labels-update-task.yml"))
    _start(sim, "npe-labels-update-task", {}, {})
    assert sim.state().state == State.SUCCESS
    assert sim.state().labels["someLabel"] == sim.run_of("labels").id


def test_primitive_values_become_labels_as_kestra_prints_them() -> None:
    sim = Sim(_kestra("primitive-labels-flow.yml"))
    _start(
        sim,
        "primitive-labels-flow",
        {"intLabel": 42, "boolLabel": True, "floatLabel": 3.14},
        {"existingLabel": "someValue"},
    )
    s = sim.state()
    assert s.state == State.SUCCESS
    assert s.labels == {
        CORRELATION_ID: "e1",
        "intValue": "42",
        "boolValue": "true",
        "floatValue": "3.14",
        "taskRunId": sim.run_of("update-labels").id,
        "existingLabel": "someValue",
    }


def test_a_system_label_fails_the_task_and_changes_nothing() -> None:
    sim = run(
        f"""
        tasks:
          - id: sys
            type: {LABELS}
            labels:
              system.correlationId: mine
        """
    )
    s = sim.state()
    assert s.state == State.FAILED
    assert s.labels[CORRELATION_ID] == "e1"
    assert "System labels can only be set by Kestra itself" in (sim.run_of("sys").error or "")
    assert not any(isinstance(e, ExecutionLabelsChanged) for e in sim.events["e1"])


def test_labels_as_json_text_that_is_not_an_object_fails() -> None:
    sim = run(f"tasks:\n  - id: bad\n    type: {LABELS}\n    labels: '[1, 2]'\n")
    assert sim.state().state == State.FAILED


# --- Exit --------------------------------------------------------------------------------


def _exit_flow(state: str) -> str:
    return f"""
        tasks:
          - id: if
            type: io.kestra.plugin.core.flow.If
            condition: "{{{{ true }}}}"
            then:
              - id: exit
                type: {EXIT}
                state: {state}
          - id: end
            type: {LOG}
            message: never
        """


@pytest.mark.parametrize(
    ("written", "execution", "task_run"),
    [
        ("SUCCESS", State.SUCCESS, State.SUCCESS),
        ("WARNING", State.WARNING, State.WARNING),
        ("FAILED", State.FAILED, State.FAILED),
        ("KILLED", State.KILLED, State.KILLED),
        ("CANCELED", State.CANCELLED, State.KILLED),
    ],
)
def test_exit_ends_the_execution_and_its_parents_with_its_state(
    written: str, execution: State, task_run: State
) -> None:
    sim = run(_exit_flow(written))
    s = sim.state()
    assert s.state == execution
    # As in ExitTest: two task runs (`end` never runs), the first one with the state.
    assert [(r.task_id, r.state) for r in s.task_runs.values()] == [
        ("if", task_run),
        ("exit", task_run),
    ]
    assert_legal_histories(s)


def test_exit_kills_what_still_runs_elsewhere() -> None:
    sim = run(
        f"""
        tasks:
          - id: par
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: slow
                type: {SLEEP}
                duration: PT1H
              - id: seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: log
                    type: {LOG}
                    message: hi
                  - id: exit
                    type: {EXIT}
                    state: WARNING
        """,
        hold=["slow"],
    )
    s = sim.state()
    assert s.state == State.WARNING
    states = {r.task_id: r.state for r in s.task_runs.values()}
    assert states == {
        "par": State.WARNING,
        "slow": State.KILLED,
        "seq": State.WARNING,
        "log": State.SUCCESS,
        "exit": State.WARNING,
    }
    assert_legal_histories(s)


# --- SLA ---------------------------------------------------------------------------------


def test_max_duration_sla_fails_an_execution_that_runs_too_long() -> None:
    sim = Sim(_kestra("sla-max-duration-fail.yaml"), hold=["sleep"])
    _start(sim, "sla-max-duration-fail", {}, {})
    s = sim.state()
    assert s.state == State.FAILED
    assert "SLA 'maxDuration' violated" in (s.error or "")
    assert sim.run_of("sleep").state == State.KILLED
    assert s.deadlines["maxDuration"] == s.created + dt.timedelta(seconds=0.5)
    assert_legal_histories(s)


def test_max_duration_sla_lets_a_quick_execution_succeed() -> None:
    sim = Sim(_kestra("sla-max-duration-ok.yaml"))
    _start(sim, "sla-max-duration-ok", {}, {})
    assert sim.state().state == State.SUCCESS


def test_a_deadline_timer_is_rebuilt_after_a_restart_and_dropped_once_ended() -> None:
    sim = Sim(_kestra("sla-max-duration-fail.yaml"), hold=["sleep"], auto_timers=False)
    _start(sim, "sla-max-duration-fail", {}, {})
    running = sim.state()
    assert running.state == State.RUNNING
    timers = TimerIndex()
    timers.rebuild_from(running, delayed=True)
    (wake,) = timers.due(running.deadlines["maxDuration"])
    assert sim.timers == [wake]
    sim.send(wake)
    assert sim.state().state == State.FAILED
    timers = TimerIndex()
    timers.rebuild_from(sim.state(), delayed=True)
    assert timers.pending == {}


@pytest.mark.parametrize(
    ("given", "state", "labelled"),
    [
        ("PASS", State.SUCCESS, False),
        ("CANCEL", State.CANCELLED, False),
        ("LABEL", State.SUCCESS, True),
    ],
)
def test_execution_assertion_sla(given: str, state: State, labelled: bool) -> None:
    sim = Sim(_kestra("sla-execution-condition.yaml"))
    _start(sim, "sla-execution-condition", {"string": given}, {})
    s = sim.state()
    assert s.state == state
    assert (s.labels.get("sla") == "violated") is labelled
    assert_legal_histories(s)
    changes = [e for e in sim.events["e1"] if isinstance(e, ExecutionLabelsChanged)]
    assert len(changes) == (1 if labelled else 0)  # added once, not at every input


def test_a_passed_none_deadline_labels_once_and_does_not_hide_an_assertion() -> None:
    sim = run(
        f"""
        sla:
          - id: late
            type: MAX_DURATION
            behavior: NONE
            duration: PT1S
            labels:
              late: "yes"
          - id: no-second
            type: EXECUTION_ASSERTION
            behavior: FAIL
            assert: "{{{{ outputs.second is not defined }}}}"
        tasks:
          - id: first
            type: {SLEEP}
            duration: PT1S
          - id: second
            type: io.kestra.plugin.core.debug.Return
            format: x
          - id: third
            type: {SLEEP}
            duration: PT1S
        """
    )
    s = sim.state()
    assert s.state == State.FAILED
    assert "SLA 'no-second' violated: assertion is false" in (s.error or "")
    assert s.labels["late"] == "yes"
    changes = [e for e in sim.events["e1"] if isinstance(e, ExecutionLabelsChanged)]
    assert [e.labels for e in changes] == [{"late": "yes"}]
    assert sim.run_of("third").state == State.KILLED
    assert_legal_histories(s)


def test_an_sla_whose_assertion_does_not_render_is_ignored() -> None:
    sim = run(
        f"""
        sla:
          - id: broken
            type: EXECUTION_ASSERTION
            behavior: FAIL
            assert: "{{{{ nope.nope }}}}"
        tasks:
          - id: log
            type: {LOG}
            message: hi
        """
    )
    assert sim.state().state == State.SUCCESS


def test_an_sla_may_not_set_system_labels() -> None:
    with pytest.raises(AssertionError, match="system labels"):
        parse(
            flow(
                f"""
                sla:
                  - id: s
                    type: MAX_DURATION
                    behavior: NONE
                    duration: PT1S
                    labels:
                      system.x: y
                tasks:
                  - id: log
                    type: {LOG}
                    message: hi
                """
            )
        )


def test_expected_outcomes_of_the_bench_cases_hold() -> None:
    cases = load_cases(Path(__file__).resolve().parents[3] / "bench" / "kestra_cases.jsonl")
    sla = [c for c in cases if c.flow.startswith("sla-") and not c.skip]
    assert sla
    for case in sla:
        sim = Sim(_kestra(case.flow), hold=["sleep"] if "fail" in case.flow else ())
        _start(sim, case.flow.rsplit(".", 1)[0], case.inputs, {})
        assert sim.state().state.value == case.state, case.test


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_labels_exit_and_slas_are_deterministic_under_redelivery(seed: int) -> None:
    body = f"""
        sla:
          - id: quick
            type: MAX_DURATION
            behavior: CANCEL
            duration: PT1H
        tasks:
          - id: labels
            type: {LABELS}
            labels: {{"a": "{{{{ taskrun.id }}}}"}}
          - id: nap
            type: {SLEEP}
            duration: PT1S
          - id: exit
            type: {EXIT}
            state: FAILED
        """
    sim = Sim(flow(body), seed=seed, duplicates=True)
    sim.start("f")
    sim.check()
    assert sim.state().state == State.FAILED
    assert sim.state().labels["a"] == sim.run_of("labels").id
    assert redecide(sim) == []
