"""ForEachItem through the simulated executor: the split, the subflows, the counts, the merge.

The fake worker answers `<id>_split` with the batch URIs it would have written; the
subflow executions run in the simulator like any other; the worker tasks' own file work
is tested in tests/unit/plugins/test_for_each_item_tasks.py.
"""

from __future__ import annotations

import pytest

from schemas.states import State
from tests.unit.core.driver import Result, Sim
from tests.unit.core.helpers import assert_legal_histories, flow, run

FLOW = "io.kestra.plugin.core.flow"
FILE = "kestra://main/company/team/f/executions/e1/inputs/file/file.txt"

CHILD = flow(
    """
    inputs:
      - id: items
        type: STRING
    tasks:
      - id: per-item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ inputs.items }}"
    outputs:
      - id: value
        type: STRING
        value: "{{ outputs['per-item'].value }}"
    """,
    flow_id="child",
)


FAILING = flow(
    """
    inputs:
      - id: items
        type: STRING
    tasks:
      - id: per-item
        type: io.kestra.plugin.core.execution.Fail
    """,
    flow_id="child",
)

# Fails the second batch only.
SECOND_FAILS = flow(
    """
    inputs:
      - id: items
        type: STRING
    tasks:
      - id: maybe
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ inputs.items | endsWith('#2') }}"
    """,
    flow_id="child",
)


def _parent(extra: str = "", type_name: str = f"{FLOW}.ForEachItem") -> str:
    return f"""
        inputs:
          - id: file
            type: FILE
        tasks:
          - id: each
            type: {type_name}
            items: "{{{{ inputs.file }}}}"
            batch:
              rows: 4
            namespace: company.team
            flowId: child
            inputs:
              items: "{{{{ taskrun.items }}}} #{{{{ taskrun.iteration }}}}"
            {extra}
        """


def _batches(count: int) -> dict[str, Result]:
    uris = [f"kestra://main/company/team/f/executions/e1/tasks/b/{i}.txt" for i in range(count)]
    return {"each_split": Result(outputs={"splits": "kestra://s/splits.txt", "uris": uris})}


def _children(sim: Sim) -> list[str]:
    return [eid for eid in sim.records if eid != "e1"]


def _ids(sim: Sim) -> list[str]:
    return [r.task_id for r in sim.state().task_runs.values()]


@pytest.mark.parametrize(
    "type_name", [f"{FLOW}.ForEachItem", "io.kestra.core.tasks.flows.ForEachItem"]
)
def test_one_subflow_per_batch_and_kestras_three_task_runs(type_name: str) -> None:
    sim = run(_parent(type_name=type_name), {"file": FILE}, _batches(26), CHILD, seed=3)
    assert sim.state().state == State.SUCCESS
    assert _ids(sim) == ["each", "each_split", "each_items", "each_merge"]
    items = sim.run_of("each_items")
    assert len(items.attempts) == 1
    assert items.outputs["numberOfBatches"] == 26
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    assert items.outputs["subflowOutputsBaseUri"].startswith("/company/team/f/executions/e1/")
    children = _children(sim)
    assert len(children) == 26
    for child in children:
        state = sim.state(child)
        assert state.state == State.SUCCESS
        assert state.parent is not None and state.parent.task_run_id == items.id
        assert state.labels["system.correlationId"] == "e1"
    # taskrun.items is the batch's URI, taskrun.iteration its number from 1
    inputs = sorted((sim.state(c).inputs["items"] for c in children), key=lambda i: (len(i), i))
    assert inputs[0] == "kestra://main/company/team/f/executions/e1/tasks/b/0.txt #1"
    assert "tasks/b/25.txt #26" in inputs[-1]
    assert_legal_histories(sim.state())


def test_merge_gets_the_subflows_outputs_in_batch_order() -> None:
    sim = run(_parent(), {"file": FILE}, _batches(3), CHILD, seed=5)
    [merge_job] = [j for j in sim.jobs if j.task_id == "each_merge"]
    assert merge_job.task["results"] == [
        {"value": f"kestra://main/company/team/f/executions/e1/tasks/b/{i}.txt #{i + 1}"}
        for i in range(3)
    ]
    assert merge_job.task["type"] == f"{FLOW}.ForEachItem$ForEachItemMergeOutputs"


def test_outputs_of_the_merge_are_readable_as_each_merge() -> None:
    body = (
        _parent()
        + """
          - id: after
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.each_merge.subflowOutputs }}"
        """
    )
    outcomes = {**_batches(2), "each_merge": Result(outputs={"subflowOutputs": "kestra://m.ion"})}
    sim = run(body, {"file": FILE}, outcomes, CHILD)
    assert sim.run_of("after").outputs == {"value": "kestra://m.ion"}
    assert len(sim.state().task_runs) == 5


def test_an_empty_file_starts_no_subflow() -> None:
    sim = run(_parent(), {"file": FILE}, _batches(0), CHILD)
    assert sim.state().state == State.SUCCESS
    assert _ids(sim) == ["each", "each_split", "each_items", "each_merge"]
    assert sim.run_of("each_items").outputs == {}
    assert _children(sim) == []
    [merge_job] = [j for j in sim.jobs if j.task_id == "each_merge"]
    assert merge_job.task["results"] == []


@pytest.mark.parametrize(
    ("transmit", "items_state", "execution_state"),
    [(True, State.FAILED, State.FAILED), (False, State.SUCCESS, State.SUCCESS)],
)
def test_failed_subflows_are_counted_and_transmitted_or_not(
    transmit: bool, items_state: State, execution_state: State
) -> None:
    body = _parent(f"transmitFailed: {str(transmit).lower()}")
    outcomes = {**_batches(5)}
    sim = run(body, {"file": FILE}, outcomes, FAILING, seed=7)
    items = sim.run_of("each_items")
    assert items.state == items_state
    # every subflow ran to its end: a failure does not stop the others
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "FAILED": 5}
    assert sim.state().state == execution_state
    # Kestra's hasSize(3) when failed: no merge after a failed `_items`
    assert len(sim.state().task_runs) == (3 if transmit else 4)
    if transmit:
        assert items.error == "5 of 5 subflow executions ended FAILED"


def test_allow_failure_on_the_for_each_item_warns_and_goes_on() -> None:
    body = (
        _parent("allowFailure: true")
        + """
          - id: log-allowed
            type: io.kestra.plugin.core.log.Log
            message: I'm allowed
        """
    )
    sim = run(body, {"file": FILE}, _batches(3), FAILING)
    assert sim.state().state == State.WARNING
    assert _ids(sim) == ["each", "each_split", "each_items", "log-allowed"]
    sim2 = run(
        body.replace("allowFailure: true", "allowFailure: true\n            allowWarning: true"),
        {"file": FILE},
        _batches(3),
        FAILING,
    )
    assert sim2.state().state == State.SUCCESS
    assert len(sim2.state().task_runs) == 4


def test_a_mix_of_ends_fails_when_one_failed() -> None:
    sim = run(_parent(), {"file": FILE}, _batches(3), SECOND_FAILS)
    items = sim.run_of("each_items")
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 2, "FAILED": 1}
    assert items.state == State.FAILED


def test_without_wait_the_task_ends_at_once() -> None:
    sim = Sim(flow(_parent("wait: false")), CHILD, outcomes=_batches(4))
    sim.queue.append(sim.create("f", {"file": FILE}))
    # Deliver until the parent has ended, before the children's ends come back.
    while sim.records.get("e1") is None or not sim.state().state.is_terminal:
        assert sim.advance(1)
    assert sim.state().state == State.SUCCESS
    items = sim.run_of("each_items")
    assert items.outputs["iterations"] == {"RUNNING": 0, "SUCCESS": 4}
    assert "CREATED" not in items.outputs["iterations"]
    assert items.outputs["numberOfBatches"] == 4
    assert len(sim.state().task_runs) == 4
    sim.run()
    assert len(_children(sim)) == 4
    assert all(sim.state(c).state == State.SUCCESS for c in _children(sim))
    [merge_job] = [j for j in sim.jobs if j.task_id == "each_merge"]
    assert merge_job.task["results"] == []


def test_labels_and_inherited_labels_reach_every_subflow() -> None:
    body = "        labels:\n          team: data\n" + _parent(
        "inheritLabels: true\n            labels: {step: each}"
    )
    sim = run(body, {"file": FILE}, _batches(2), CHILD)
    for child in _children(sim):
        labels = sim.state(child).labels
        assert labels["team"] == "data"
        assert labels["step"] == "each"


def test_a_missing_subflow_fails_the_items_task() -> None:
    sim = run(_parent().replace("flowId: child", "flowId: ghost"), {"file": FILE}, _batches(2))
    items = sim.run_of("each_items")
    assert items.state == State.FAILED
    assert items.error is not None and "company.team.ghost" in items.error
    assert sim.state().state == State.FAILED


def test_a_failed_split_fails_the_task_without_subflows() -> None:
    outcomes = {"each_split": Result(State.FAILED, error="not an internal storage URI")}
    sim = run(_parent(), {"file": FILE}, outcomes, CHILD)
    assert _ids(sim) == ["each", "each_split"]
    assert sim.state().state == State.FAILED
    assert _children(sim) == []


def test_kill_kills_the_running_subflows() -> None:
    sleeping = CHILD.replace(
        "tasks:",
        "tasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1S",
    )
    sim = Sim(flow(_parent()), sleeping, outcomes=_batches(3), hold={"wait"})
    sim.start("f", {"file": FILE})
    assert len(_children(sim)) == 3
    sim.send(sim.kill())
    sim.run()
    assert sim.state().state == State.KILLED
    assert all(sim.state(c).state == State.KILLED for c in _children(sim))


def test_duplicate_subflow_ends_count_once() -> None:
    sim = run(_parent(), {"file": FILE}, _batches(4), CHILD, seed=11, duplicates=True)
    items = sim.run_of("each_items")
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 4}
    assert sim.state().state == State.SUCCESS


def test_too_many_batches_fail_the_task() -> None:
    from schemas.settings import Limits
    from streams.core.bounds import Bounds

    bounds = Bounds(Limits(fan_out=3))
    sim = run(_parent(), {"file": FILE}, _batches(4), CHILD, bounds=bounds)
    items = sim.run_of("each_items")
    assert items.state == State.FAILED
    assert items.error is not None and "LANNER_LIMITS_FAN_OUT" in items.error
    assert _children(sim) == []


def test_a_restart_starts_new_subflows_from_the_same_batches() -> None:
    from schemas.commands import RestartExecution
    from tests.unit.core.driver import parse

    sim = run(_parent(), {"file": FILE}, _batches(2), FAILING)
    assert sim.state().state == State.FAILED
    first = set(_children(sim))
    sim.catalog.add(parse(CHILD, revision=2))  # the subflow is fixed
    sim.send(RestartExecution(command_id="restart1", execution_id="e1", time=sim.now))
    sim.run()
    sim.check()
    assert sim.state().state == State.SUCCESS
    assert len(sim.runs("each_split")) == 1  # the batches are not split again
    items = sim.run_of("each_items")
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 2}
    again = set(_children(sim)) - first
    assert len(again) == 2
    assert all(sim.state(c).state == State.SUCCESS for c in again)
