"""History verification in the style of Temporal's replayer: a recorded history must be
reproduced by re-running `decide` on the state folded up to each recorded message."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.events import TaskRunSucceeded
from schemas.states import State
from tests.unit.core.driver import Result, Sim, redecide
from tests.unit.core.helpers import flow

FLOWS = Path(__file__).resolve().parents[3] / "flows"


def _sources() -> list[str]:
    return [p.read_text() for p in sorted(FLOWS.glob("*.yml"))]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("flow_id", ["hello_world", "fan_out", "error_branch", "subflow_parent"])
def test_recorded_histories_of_the_example_flows_replay(flow_id: str, seed: int) -> None:
    sim = Sim(*_sources(), seed=seed)
    sim.start(flow_id)
    sim.check()
    assert sim.state().state.is_terminal
    assert redecide(sim) == []


def test_replay_of_kill_pause_and_resume() -> None:
    body = """
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
          - id: par
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: a
                type: io.kestra.plugin.core.flow.Sleep
                duration: PT1S
              - id: b
                type: io.kestra.plugin.core.flow.Sleep
                duration: PT1S
        """
    sim = Sim(flow(body), hold=["b"])
    sim.start("f")
    sim.send(sim.resume(inputs={"go": 1}))
    sim.run()
    sim.send(sim.kill())
    sim.check()
    assert sim.state().state == State.KILLED
    assert redecide(sim) == []


def test_verification_finds_a_divergence() -> None:
    """A history edited after the fact (or a changed `decide`) is caught."""
    sim = Sim(*_sources(), outcomes={"pause_a_little": Result(State.SUCCESS)})
    sim.start("fan_out")
    assert redecide(sim) == []
    # Tamper with one recorded event: verification must notice.
    index, delivery = next(
        (i, d)
        for i, d in enumerate(sim.log)
        if any(isinstance(e, TaskRunSucceeded) for e in d.events)
    )
    events = [
        e.model_copy(update={"outputs": {"value": "forged"}})
        if isinstance(e, TaskRunSucceeded)
        else e
        for e in delivery.events
    ]
    sim.log[index] = type(delivery)(
        delivery.inp, delivery.execution_id, delivery.seq_before, events, delivery.redelivered
    )
    [problem] = redecide(sim)
    assert "e1" in problem
