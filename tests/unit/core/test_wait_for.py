"""WaitFor in the pure core, on Kestra's own test flows (WaitForCaseTest)."""

from __future__ import annotations

from schemas.commands import RestartExecution
from schemas.states import State
from schemas.worker import WorkerJob
from tests.unit.core.driver import Result, Sim
from tests.unit.core.helpers import assert_legal_histories, run

FLOW = "io.kestra.plugin.core.flow"
OUTPUT = "io.kestra.plugin.core.output.OutputValues"


def _loop(condition: str, extra: str = "", more_tasks: str = "") -> str:
    return f"""
        tasks:
          - id: waitfor
            type: {FLOW}.WaitFor
            condition: "{condition}"
{extra}            tasks:
              - id: output_values
                type: {OUTPUT}
                values:
                  count: "{{{{ outputs.waitfor.iterationCount + 1 }}}}"
{more_tasks}"""


FREQ = (
    "            checkFrequency:\n              maxIterations: {max}\n"
    "              interval: PT0.2S\n"
)


def _counts(sim: Sim) -> list[str]:
    return [r.outputs["values"]["count"] for r in sim.runs("output_values")]


def test_waitfor_ends_when_the_condition_holds_after_the_first_iteration() -> None:
    # waitfor.yaml: SUCCESS, the WaitFor's outputs are set.
    sim = run(_loop("{{ outputs.output_values.values.count != '4'}}"))
    assert sim.state().state == State.SUCCESS
    assert sim.run_of("waitfor").outputs == {"iterationCount": 1}
    assert _counts(sim) == ["2"]


def test_waitfor_iterates_until_the_condition_holds() -> None:
    # waitfor-multiple-tasks.yaml: the last output_values says count '4' (OutputValues
    # renders its templates to text, as Kestra's does).
    sim = run(
        _loop(
            "{{ outputs.output_values.values.count == '4'}}",
            more_tasks="",
        ).replace(
            "            tasks:\n",
            "            tasks:\n              - id: echo\n"
            "                type: io.kestra.core.tasks.log.Log\n"
            "                message: looping ...\n",
            1,
        )
    )
    state = sim.state()
    assert state.state == State.SUCCESS
    assert _counts(sim) == ["2", "3", "4"]
    assert [r.iteration for r in sim.runs("echo")] == [1, 2, 3]
    assert sim.run_of("waitfor").outputs == {"iterationCount": 3}
    # Between iterations the WaitFor and the execution were paused, as on Kestra.
    moves = [h.state for h in sim.run_of("waitfor").history]
    assert moves.count(State.PAUSED) == 2
    assert [h.state for h in state.history].count(State.PAUSED) == 2
    assert_legal_histories(state)


def test_waitfor_waits_the_interval_between_iterations() -> None:
    sim = run(
        _loop("{{ outputs.output_values.values.count == '3'}}").replace(
            "            tasks:\n",
            "            checkFrequency:\n              interval: PT1M\n            tasks:\n",
            1,
        )
    )
    first, second = sim.runs("output_values")
    assert first.history[-1].date is not None and second.start is not None
    assert (second.start - first.history[-1].date).total_seconds() >= 60


def test_waitfor_max_iterations_with_fail_on_max_reached_fails() -> None:
    # waitfor-max-iterations.yaml: FAILED after three iterations.
    extra = FREQ.format(max=3) + "            failOnMaxReached: true\n"
    sim = run(_loop("{{ outputs.output_values.values.count == '10'}}", extra))
    assert sim.state().state == State.FAILED
    assert _counts(sim) == ["2", "3", "4"]
    assert sim.run_of("waitfor").outputs == {"iterationCount": 4}


def test_waitfor_max_iterations_without_fail_succeeds() -> None:
    # waitfor-no-success.yaml: SUCCESS (the condition holds at the fifth iteration).
    sim = run(_loop("{{ outputs.output_values.values.count == '6'}}", FREQ.format(max=5)))
    assert sim.state().state == State.SUCCESS
    assert len(_counts(sim)) == 5 and sim.run_of("waitfor").outputs == {"iterationCount": 5}
    never = run(_loop("{{ outputs.output_values.values.count == 'x'}}", FREQ.format(max=2)))
    assert never.state().state == State.SUCCESS
    assert len(_counts(never)) == 2


def test_waitfor_max_duration_fails() -> None:
    # waitfor-max-duration.yaml: FAILED once PT5S passed (the fake clock ticks 1 s a step).
    extra = (
        "            checkFrequency:\n              maxDuration: PT5S\n"
        "              interval: PT0.2S\n            failOnMaxReached: true\n"
    )
    sim = run(_loop("{{ outputs.output_values.values.count == '-5'}}", extra))
    assert sim.state().state == State.FAILED
    assert 1 < len(_counts(sim)) < 100


def test_a_failing_child_fails_the_waitfor_at_once() -> None:
    # waitfor-multiple-tasks-failed.yaml: FAILED, fail ran once with one attempt.
    more = "              - id: fail\n                type: io.kestra.core.tasks.executions.Fail\n"
    sim = run(_loop("{{ outputs.output_values.values.count == '6'}}", FREQ.format(max=5), more))
    assert sim.state().state == State.FAILED
    assert len(sim.run_of("fail").attempts) == 1
    assert sim.run_of("waitfor").state == State.FAILED


def test_a_condition_that_does_not_render_fails_the_waitfor() -> None:
    sim = run(_loop("{{ nope.nope }}"))
    assert sim.state().state == State.FAILED
    assert "waitfor" in (sim.run_of("waitfor").error or "")


def test_killing_a_paused_waitfor_kills_it() -> None:
    sim = run(
        _loop("{{ false }}").replace(
            "            tasks:\n",
            "            checkFrequency:\n              interval: PT1H\n            tasks:\n",
            1,
        ),
        auto_timers=False,
    )
    assert sim.state().state == State.PAUSED
    sim.send(sim.kill())
    sim.run()
    assert sim.state().state == State.KILLED
    assert sim.run_of("waitfor").state == State.KILLED


def test_output_values_renders_its_templates_to_text_as_kestra_does() -> None:
    # Kestra's OutputValues renders its map (runContext.render): a template is text.
    sim = run(
        f"""
        tasks:
          - id: vals
            type: {OUTPUT}
            values:
              n: "{{{{ 1 + 1 }}}}"
              literal: 3
              nested:
                items: ["{{{{ [1] }}}}", 2]
        """
    )
    assert sim.run_of("vals").outputs == {
        "values": {"n": "2", "literal": 3, "nested": {"items": ["[1]", 2]}}
    }


def test_a_failed_iteration_runs_the_errors_branch() -> None:
    more = "              - id: fail\n                type: io.kestra.core.tasks.executions.Fail\n"
    body = _loop("{{ false }}", "", more) + (
        "            errors:\n"
        "              - id: handler\n"
        "                type: io.kestra.plugin.core.debug.Return\n"
        "                format: handled\n"
    )
    sim = run(body)
    assert sim.state().state == State.FAILED
    assert sim.run_of("handler").outputs == {"value": "handled"}
    assert sim.run_of("waitfor").state == State.FAILED


def test_a_restarted_waitfor_goes_on_from_the_iteration_that_failed() -> None:
    # The check fails at the second iteration once, then succeeds when restarted.
    failing = {"n": 0}

    def check(job: WorkerJob) -> Result:
        failing["n"] += 1
        return Result(State.FAILED if failing["n"] == 2 else State.SUCCESS)

    more = (
        "              - id: check\n"
        "                type: io.kestra.plugin.scripts.shell.Commands\n"
        '                commands: ["true"]\n'
    )
    sim = run(
        _loop("{{ outputs.output_values.values.count == '4'}}", FREQ.format(max=10), more),
        outcomes={"check": check},
    )
    assert sim.state().state == State.FAILED
    assert sim.run_of("waitfor").outputs == {"iterationCount": 2}
    sim.send(RestartExecution(command_id="restart1", execution_id="e1", time=sim.now))
    sim.run()
    sim.check()
    assert sim.state().state == State.SUCCESS
    assert _counts(sim) == ["2", "3", "4"]
    assert sim.run_of("waitfor").outputs == {"iterationCount": 3}
