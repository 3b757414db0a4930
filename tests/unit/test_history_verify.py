"""History verification's pure part: recorded histories of the simulated executor are
re-decided with no divergence; a changed decision, a gap, a seq out of order and a lost input are
reported with the execution, the sequence number and the position."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import streams.core.handle
from schemas.commands import ExecutorMessage
from schemas.events import ExecutionEvent, TaskRunSucceeded
from schemas.execution import Execution
from schemas.settings import Limits
from schemas.worker import TaskRunReport
from streams.core.bounds import Bounds
from streams.core.decide import FlowCatalog
from streams.core.validation import ValidatedFlow
from streams.histories.order import order_messages
from streams.histories.recorded import Position, Recorded, RecordedEvent, RecordedMessage
from streams.histories.verify import ExecutionVerdict, flow_resolver, verify_execution
from tests.unit.core.driver import Result, Sim
from tests.unit.core.helpers import flow

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _sources() -> list[str]:
    return [p.read_text() for p in sorted(FLOWS.glob("*.yml"))]


def recorded_log(sim: Sim) -> dict[str, Recorded]:
    """The simulator's deliveries as the topics would hold them: inputs on `commands` or
    `worker-results`, every emitted event (re-emitted copies too) on execution-events."""
    found: dict[str, Recorded] = {}
    offsets = {"commands": 0, "worker-results": 0, "execution-events": 0}
    for clock, delivery in enumerate(sim.log):
        rec = found.setdefault(delivery.execution_id, Recorded(delivery.execution_id))
        topic = "worker-results" if isinstance(delivery.inp, TaskRunReport) else "commands"
        item = RecordedMessage(delivery.inp, Position(topic, 0, offsets[topic]), clock)
        offsets[topic] += 1
        (rec.results if topic == "worker-results" else rec.commands).append(item)
        for event in delivery.events:
            position = Position("execution-events", 0, offsets["execution-events"])
            offsets["execution-events"] += 1
            rec.events.append(RecordedEvent(event, position))
    return found


def verify_all(sim: Sim) -> list[ExecutionVerdict]:
    catalog: FlowCatalog = sim.catalog
    flow_for = flow_resolver(catalog, lambda source, revision: None)
    return [verify_execution(rec, catalog, flow_for) for rec in recorded_log(sim).values()]


@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("flow_id", ["hello_world", "fan_out", "error_branch", "subflow_parent"])
def test_recorded_histories_replay_without_divergence(
    flow_id: str, seed: int, duplicates: bool
) -> None:
    sim = Sim(*_sources(), seed=seed, duplicates=duplicates)
    sim.start(flow_id)
    verdicts = verify_all(sim)
    assert [d for v in verdicts for d in v.divergences] == []
    assert sum(v.events for v in verdicts) == sum(len(h) for h in sim.events.values())
    assert sum(v.messages for v in verdicts) == len(sim.log)


def test_a_changed_decision_is_reported_once_with_its_seq() -> None:
    sim = Sim(*_sources())
    sim.start("hello_world", {"user": "ada"})
    recorded = sim.events["e1"]
    with pytest.MonkeyPatch.context() as mp:
        original = streams.core.handle.decide

        def changed(
            flow: ValidatedFlow | None,
            state: Execution | None,
            inp: ExecutorMessage,
            catalog: Any,
            **rest: Any,
        ) -> list[ExecutionEvent]:
            return [
                e.model_copy(update={"outputs": {"value": "changed"}})
                if isinstance(e, TaskRunSucceeded) and e.outputs
                else e
                for e in original(flow, state, inp, catalog, **rest)
            ]

        mp.setattr(streams.core.handle, "decide", changed)
        [verdict] = verify_all(sim)
    changed_seqs = [e.seq for e in recorded if isinstance(e, TaskRunSucceeded) and e.outputs]
    assert [d.seq for d in verdict.divergences] == changed_seqs
    first = verdict.divergences[0]
    assert first.kind == "event" and first.execution_id == "e1"
    assert first.expected is not None and first.actual is not None
    assert first.actual.model_dump(exclude={"outputs"}) == first.expected.model_dump(
        exclude={"outputs"}
    )
    assert str(first.position) == f"execution-events[0]@{first.seq - 1}"


def test_a_gap_is_reported_with_its_position_and_not_folded() -> None:
    sim = Sim(*_sources())
    sim.start("hello_world")
    rec = recorded_log(sim)["e1"]
    del rec.events[2]
    verdict = verify_execution(rec, sim.catalog, flow_resolver(sim.catalog, lambda s, r: None))
    [divergence] = verdict.divergences
    assert divergence.kind == "history" and divergence.seq == 4
    assert "gap: expected seq 3, found 4" in divergence.message
    assert str(divergence.position) == "execution-events[0]@3"
    assert verdict.messages == 0


def test_a_seq_out_of_order_and_a_forged_copy_are_reported() -> None:
    sim = Sim(*_sources())
    sim.start("hello_world")
    rec = recorded_log(sim)["e1"]
    rec.events[1], rec.events[2] = rec.events[2], rec.events[1]
    resolver = flow_resolver(sim.catalog, lambda s, r: None)
    [divergence] = verify_execution(rec, sim.catalog, resolver).divergences
    assert "expected seq 2, found 3" in divergence.message
    rec = recorded_log(sim)["e1"]
    forged = rec.events[1].event.model_copy(update={"actor": "mallory"})
    rec.events.append(RecordedEvent(forged, Position("execution-events", 0, 99)))
    [divergence] = verify_execution(rec, sim.catalog, resolver).divergences
    assert "two different events with seq 2" in divergence.message


def test_a_lost_input_is_reported() -> None:
    sim = Sim(*_sources(), outcomes={"pause_a_little": Result()})
    sim.start("fan_out")
    rec = recorded_log(sim)["e1"]
    lost = rec.results.pop(-1)
    verdict = verify_execution(rec, sim.catalog, flow_resolver(sim.catalog, lambda s, r: None))
    assert [d.kind for d in verdict.divergences] == ["input"]
    assert lost.inp.message_id in verdict.divergences[0].message


def test_inputs_that_caused_nothing_keep_their_place() -> None:
    """A duplicate report goes before the command only when it was written first."""
    sim = Sim(*_sources(), duplicates=True, seed=3)
    sim.start("hello_world")
    rec = recorded_log(sim)["e1"]
    ordered, problem = order_messages(
        "e1", rec.commands, rec.results, [e.event for e in rec.events]
    )
    assert problem is None
    assert sorted(r.position.offset for r in ordered if r.position.topic == "commands") == [
        r.position.offset for r in ordered if r.position.topic == "commands"
    ]
    assert len(ordered) == len(rec.commands) + len(rec.results)


def test_kill_pause_resume_and_stale_reports_replay() -> None:
    body = """
        id: f
        namespace: company.team
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
    sim = Sim(body, hold=["b"], outcomes={"a": Result()})
    sim.start("f")
    sim.send(sim.resume(inputs={"go": 1}))
    sim.run()
    sim.send(sim.kill())
    held = sim.held[0]
    sim.send(sim.report(held, kind="started"))  # stale: the execution is killed
    assert [d for v in verify_all(sim) for d in v.divergences] == []


def test_a_history_decided_under_custom_limits_replays_under_the_same_limits() -> None:
    # Verification decides with the limits the executor ran with (`verify_log(limits=)`),
    # not with the defaults: a fan-out refused under LANNER_LIMITS_FAN_OUT=2 is reproduced.
    bounds = Bounds(Limits(fan_out=2))
    sim = Sim(
        flow("""
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: [1, 2, 3]
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.value }}"
        """),
        bounds=bounds,
    )
    sim.start("f")
    assert "LANNER_LIMITS_FAN_OUT=2" in (sim.run_of("each").error or "")
    catalog: FlowCatalog = sim.catalog
    flow_for = flow_resolver(catalog, lambda source, revision: None)
    [rec] = recorded_log(sim).values()
    assert verify_execution(rec, catalog, flow_for, bounds).divergences == []
    # Under the defaults the same history diverges: the limits are what decided it.
    assert verify_execution(rec, catalog, flow_for).divergences != []
