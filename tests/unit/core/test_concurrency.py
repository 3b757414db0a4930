"""Flow concurrency limits: the gate's pure decisions, and queued executions."""

from __future__ import annotations

from schemas.commands import AdmitExecution, RefuseExecution
from schemas.concurrency import GateRequest, GateState
from schemas.states import State
from streams.core.effects import effects_of
from streams.gate.decide import gate
from tests.unit.core.driver import T0, Sim
from tests.unit.core.helpers import flow


def request(kind: str, execution_id: str, behavior: str = "QUEUE") -> GateRequest:
    return GateRequest.model_validate(
        {
            "kind": kind,
            "flow_uid": "main/ns/f",
            "execution_id": execution_id,
            "time": T0,
            "limit": 2,
            "behavior": behavior,
        }
    )


def admitted(replies: list[AdmitExecution | RefuseExecution]) -> list[str]:
    return [r.execution_id for r in replies if isinstance(r, AdmitExecution)]


def test_gate_admits_up_to_the_limit_then_queues_and_releases_in_order() -> None:
    state: GateState | None = None
    seen: list[str] = []
    for name in ("a", "b", "c", "d"):
        state, replies = gate(state, request("acquire", name))
        seen += admitted(replies)
    assert seen == ["a", "b"] and state is not None and state.queue == ("c", "d")
    state, replies = gate(state, request("release", "b"))
    assert admitted(replies) == ["c"] and state.running == ("a", "c")
    state, replies = gate(state, request("release", "b"))  # a duplicate release
    assert replies == [] and state.running == ("a", "c")
    state, replies = gate(state, request("acquire", "c"))  # a duplicate acquire
    assert admitted(replies) == ["c"] and state.running == ("a", "c")
    state, replies = gate(state, request("release", "d"))  # a queued one killed
    assert replies == [] and state.queue == ()


def test_gate_refuses_with_cancel_or_fail() -> None:
    state, _ = gate(None, request("acquire", "a", "CANCEL"))
    state, _ = gate(state, request("acquire", "b", "CANCEL"))
    _, replies = gate(state, request("acquire", "c", "CANCEL"))
    assert isinstance(replies[0], RefuseExecution) and replies[0].state == State.CANCELLED
    _, replies = gate(state, request("acquire", "c", "FAIL"))
    assert isinstance(replies[0], RefuseExecution) and replies[0].state == State.FAILED


LIMITED = flow(
    """
    concurrency:
      limit: 1
    tasks:
      - id: work
        type: io.kestra.plugin.core.debug.Return
        format: done
    """
)


def test_a_limited_flow_queues_until_admitted_then_releases_its_slot() -> None:
    sim = Sim(LIMITED)
    sim.send(sim.create("f"))
    assert sim.state().state == State.QUEUED
    assert sim.types() == ["ExecutionCreated", "ExecutionQueued"]
    acquire = effects_of(sim.state(), sim.events["e1"]).gate
    assert [(g.kind, g.limit) for g in acquire] == [("acquire", 1)]
    before = len(sim.events["e1"])
    sim.send(AdmitExecution(command_id="admit:e1", execution_id="e1", time=sim.now))
    assert sim.state().state == State.SUCCESS
    release = effects_of(sim.state(), sim.events["e1"][before:]).gate
    assert [g.kind for g in release] == ["release"]
    sim.check()


def test_a_refused_or_killed_queued_execution_ends_without_running() -> None:
    sim = Sim(LIMITED)
    sim.send(sim.create("f"))
    sim.send(
        RefuseExecution(
            command_id="refuse:e1",
            execution_id="e1",
            time=sim.now,
            state=State.CANCELLED,
            reason="limit reached",
        )
    )
    assert sim.state().state == State.CANCELLED and not sim.state().task_runs
    other = Sim(LIMITED)
    other.send(other.create("f"))
    other.send(other.kill())
    assert other.state().state == State.KILLED
    assert [g.kind for g in effects_of(other.state(), other.events["e1"][-1:]).gate] == ["release"]
