"""What the walk remembers between inputs (streams/core/walk_memo.py) changes how fast it
decides, never what: every history made with the memo is decided again without it
(redecide) and must come out the same; and a large loop's walk visits its open part only.
"""

from __future__ import annotations

import random

from schemas.commands import RestartExecution
from schemas.limits import Limits
from schemas.states import State
from schemas.worker import WorkerJob
from streams.core import walk
from streams.core.bounds import Bounds
from tests.unit.core.driver import Result, Sim, redecide

LOOP_BOUNDS = Bounds(Limits(fan_out=1000))


def loop(values: int, limit: int, *, allow_failure: bool = False, body: str = "") -> str:
    listed = ", ".join(str(n) for n in range(values))
    return f"""
        id: big
        namespace: company.team
        tasks:
          - id: loop
            type: io.kestra.plugin.core.flow.ForEach
            values: [{listed}]
            concurrencyLimit: {limit}
            tasks:
              - id: each
                type: io.kestra.plugin.core.flow.Sleep
                duration: PT0S
                allowFailure: {str(allow_failure).lower()}
              - id: after
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ taskrun.value }}}}"
        {body}"""


def some_fail(seed: int) -> Result | object:
    chance = random.Random(seed)

    def outcome(job: WorkerJob) -> Result:
        return Result(State.FAILED, error="no") if chance.random() < 0.1 else Result()

    return outcome


def test_a_loop_in_any_order_with_redeliveries_decides_as_without_the_memo() -> None:
    for seed in range(4):
        sim = Sim(
            loop(30, 4, allow_failure=True),
            outcomes={"each": some_fail(seed)},  # type: ignore[dict-item]
            seed=seed,
            duplicates=True,
            bounds=LOOP_BOUNDS,
        )
        sim.start("big")
        assert sim.state().state in (State.SUCCESS, State.WARNING)
        assert len(sim.runs("each")) == 30
        sim.check()
        assert redecide(sim) == []


def test_a_failed_scope_stops_the_loop_as_without_the_memo() -> None:
    sim = Sim(
        loop(30, 3),
        outcomes={"each": some_fail(7)},  # type: ignore[dict-item]
        seed=1,
        bounds=LOOP_BOUNDS,
    )
    sim.start("big")
    assert sim.state().state == State.FAILED
    assert len(sim.runs("each")) < 30
    sim.check()
    assert redecide(sim) == []


def test_a_kill_and_a_restart_in_the_middle_decide_as_without_the_memo() -> None:
    sim = Sim(loop(20, 2), hold=["each"], seed=2, bounds=LOOP_BOUNDS)
    sim.start("big")
    # Some scopes settle, then the loop is killed with two running, then restarted.
    for job in list(sim.held)[:1]:
        sim.send(sim.report(job, kind="started"))
        sim.send(sim.report(job))
    sim.run()
    sim.send(sim.kill())
    sim.run()
    for job in list(sim.held):
        sim.send(sim.report(job, kind="started"))
        sim.send(sim.report(job))
    sim.run()
    assert sim.state().state == State.KILLED
    sim.hold.clear()
    sim.send(RestartExecution(command_id="restart", execution_id="e1", time=sim.now))
    sim.run()
    assert sim.state().state == State.SUCCESS
    assert len(sim.runs("each")) == 20
    sim.check()
    assert redecide(sim) == []


def test_a_large_loop_visits_its_open_part_only() -> None:
    visits: list[int] = []
    find_in = walk.Walker.find_in

    def counted(self: walk.Walker, *args: object) -> object:
        visits[-1] += 1
        return find_in(self, *args)  # type: ignore[arg-type]

    sim = Sim(loop(600, 5), bounds=LOOP_BOUNDS)
    handle = sim._handle

    def each_input(inp: object) -> object:
        visits.append(0)
        return handle(inp)  # type: ignore[arg-type]

    sim._handle = each_input  # type: ignore[assignment, method-assign]
    walk.Walker.find_in = counted  # type: ignore[method-assign]
    try:
        sim.start("big")
    finally:
        walk.Walker.find_in = find_in  # type: ignore[method-assign]
    assert sim.state().state == State.SUCCESS
    # Every input's walk looks up a few scopes around the running ones, however far the
    # loop has gone: without the memo, the last inputs looked up every scope.
    assert max(visits[50:]) < 60, max(visits[50:])
