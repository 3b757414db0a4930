"""Issue 16, the engine side: no flow can stall the executor or vanish.

Each test is a finding: on the old code the bombs rendered for ever (or allocated
hundreds of MB), the 100,000-value ForEach was planned in full, and a decision that
raised before the first event left no trace of its execution.
"""

from __future__ import annotations

import gc
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

import streams.core.handle
from schemas.events import ExecutionEvent
from schemas.settings import Limits
from schemas.states import State
from streams.core.bounds import Bounds
from streams.core.handle import handle
from streams.core.validation import (
    FlowProblem,
    UnrunnableFlow,
    ValidatedFlow,
    flow_from_source,
    validate_flow,
)
from tests.unit.core.driver import REGISTRY, Sim
from tests.unit.core.helpers import flow, nested_flow, run

# Every bomb below must be refused well within this, on a busy 2-core machine.
PROMPT_S = 5.0


def _log_task(message: str) -> str:
    return f"""
    tasks:
      - id: bomb
        type: io.kestra.plugin.core.log.Log
        message: "{message}"
      - id: after
        type: io.kestra.plugin.core.log.Log
        message: never
    """


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ("{{ (((10**999)**999)**999) > 1 }}", "a number larger than 65536 bits"),
        ("{{ 'a' | center(400000000) }}", "LANNER_LIMITS_RENDER_BYTES=4194304"),
        ("{{ 'a'.ljust(400000000) }}", "LANNER_LIMITS_RENDER_BYTES=4194304"),
        ("{{ 'ab' * 400000000 }}", "LANNER_LIMITS_RENDER_BYTES=4194304"),
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{{ b }}"
            "{% endfor %}{% endfor %}",
            "LANNER_LIMITS_RENDER_STEPS=100000",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
            "LANNER_LIMITS_RENDER_BYTES=4194304",
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
            "{{ f(60) }}",
            "LANNER_LIMITS_RENDER_STEPS=100000",
        ),
        ("{{ (['x' * 1000000] * 1000) | join }}", "LANNER_LIMITS_RENDER_BYTES=4194304"),
        ("{{ '%0999999999d' % 1 }}", "LANNER_LIMITS_RENDER_BYTES=4194304"),
    ],
)
def test_an_expression_bomb_fails_its_task_run_naming_the_limit(message: str, named: str) -> None:
    started = time.monotonic()
    sim = run(_log_task(message))
    assert time.monotonic() - started < PROMPT_S
    bomb = sim.run_of("bomb")
    assert bomb.state == State.FAILED
    assert bomb.error is not None and "render budget exceeded" in bomb.error, bomb.error
    assert named in bomb.error
    assert sim.runs("after") == []
    assert sim.state().state == State.FAILED


def test_the_render_limits_come_from_the_settings() -> None:
    small = Bounds(Limits(render_bytes=2048))
    sim = Sim(flow(_log_task("{{ 'a' | center(4000) }}")), bounds=small)
    sim.start("f")
    assert "LANNER_LIMITS_RENDER_BYTES=2048" in (sim.run_of("bomb").error or "")
    few = Bounds(Limits(render_steps=5000))
    sim = Sim(flow(_log_task("{% for i in range(6000) %}{% endfor %}")), bounds=few)
    sim.start("f")
    assert "LANNER_LIMITS_RENDER_STEPS=5000" in (sim.run_of("bomb").error or "")
    # The same flows pass under the defaults.
    assert run(_log_task("{{ 'a' | center(4000) }}")).state().state == State.SUCCESS


def test_a_render_past_its_wall_clock_is_stopped_by_the_edge_clock() -> None:
    ticks = iter(range(0, 10_000, 3))  # every reading is 3 s after the last one
    clock: Callable[[], float] = lambda: float(next(ticks))  # noqa: E731
    bounds = Bounds(Limits(render_seconds=2.0), clock=clock)
    sim = Sim(flow(_log_task("{% for i in range(50000) %}{% endfor %}")), bounds=bounds)
    sim.start("f")
    assert "LANNER_LIMITS_RENDER_SECONDS=2.0" in (sim.run_of("bomb").error or "")


def test_a_bomb_in_a_flow_output_fails_the_execution_naming_the_limit() -> None:
    sim = run(
        """
        tasks:
          - id: ok
            type: io.kestra.plugin.core.log.Log
            message: fine
        outputs:
          - id: big
            type: STRING
            value: "{{ 'a' | center(400000000) }}"
        """
    )
    state = sim.state()
    assert state.state == State.FAILED
    assert state.error is not None and "flow outputs" in state.error
    assert "LANNER_LIMITS_RENDER_BYTES" in state.error


def test_ordinary_templates_still_render() -> None:
    sim = run(
        """
        tasks:
          - id: t
            type: io.kestra.plugin.core.debug.Return
            format: "{% for i in range(1, 3) %}{{ i }}-{% endfor %}{{ ['a', 'b'] | join(',') }}"
        """
    )
    assert sim.run_of("t").outputs == {"value": "1-2-3-a,b"}


def test_a_foreach_over_100000_values_fails_at_once_naming_the_fan_out_limit() -> None:
    started = time.monotonic()
    sim = run(
        """
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: "{{ range(1, 100000) }}"
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.value }}"
        """
    )
    assert time.monotonic() - started < PROMPT_S
    each = sim.run_of("each")
    assert each.state == State.FAILED
    assert each.error is not None and "LANNER_LIMITS_FAN_OUT=1000" in each.error
    assert "100000 values" in each.error
    assert sim.runs("leaf") == []
    assert sim.state().state == State.FAILED


def test_a_parallel_wider_than_the_fan_out_fails() -> None:
    children = "\n".join(
        f"      - id: c{i}\n        type: io.kestra.plugin.core.log.Log\n        message: hi"
        for i in range(5)
    )
    parallel = "  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n"
    body = f"tasks:\n{parallel}    tasks:\n{children}\n"
    sim = Sim(flow(body), bounds=Bounds(Limits(fan_out=4)))
    sim.start("f")
    assert "LANNER_LIMITS_FAN_OUT=4" in (sim.run_of("par").error or "")
    assert sim.state().state == State.FAILED


_NESTED_FOREACH = """
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 30) }}"
    concurrencyLimit: 0
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: "{{ range(1, 30) }}"
        concurrencyLimit: 0
        tasks:
          - id: leaf
            type: io.kestra.plugin.core.log.Log
            message: "{{ taskrun.value }}"
"""


def test_task_runs_per_execution_and_per_step_fail_the_execution_naming_the_limit() -> None:
    sim = Sim(flow(_NESTED_FOREACH), bounds=Bounds(Limits(task_runs_per_execution=100)))
    sim.start("f")
    state = sim.state()
    assert state.state == State.FAILED
    assert state.error is not None
    assert "LANNER_LIMITS_TASK_RUNS_PER_EXECUTION=100" in state.error
    assert len(state.task_runs) <= 100

    sim = Sim(flow(_NESTED_FOREACH), bounds=Bounds(Limits(task_runs_per_step=50)))
    sim.start("f")
    assert "LANNER_LIMITS_TASK_RUNS_PER_STEP=50" in (sim.state().error or "")
    # Under the defaults the same flow (900 leaves) runs.
    assert run(_NESTED_FOREACH).state().state == State.SUCCESS


def test_nesting_deeper_than_the_limit_is_refused_at_validation_with_its_line() -> None:
    problems = validate_flow(nested_flow(30), REGISTRY)
    assert isinstance(problems, list)
    [problem] = [p for p in problems if "LANNER_LIMITS_NESTING_DEPTH=20" in p.message]
    assert isinstance(problem, FlowProblem)
    assert problem.line == 4 + 3 * 20  # the first task past the limit
    assert "21 levels deep" in problem.message
    assert isinstance(validate_flow(nested_flow(19), REGISTRY), ValidatedFlow)
    custom = validate_flow(nested_flow(19), REGISTRY, Limits(nesting_depth=5))
    assert isinstance(custom, list)


def test_a_decision_that_raises_before_the_first_event_still_creates_a_failed_execution() -> None:
    # A flow past the limit can still reach the executor (stored before the limit, or
    # validated with a larger one): its walk recurses past Python's stack.
    # (Past what settings allow: model_construct skips the bounds on yaml_depth.)
    limits = Limits.model_construct(
        **{**Limits().model_dump(), "nesting_depth": 1000, "yaml_depth": 1000}
    )
    default_stack = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # only to load it; the walk below runs on the default
    try:
        deep = validate_flow(textwrap.dedent(nested_flow(200)), REGISTRY, limits)
    finally:
        sys.setrecursionlimit(default_stack)
    assert isinstance(deep, ValidatedFlow)
    deep = ValidatedFlow(flow=deep.flow.model_copy(update={"revision": 1}), tasks=deep.tasks)
    sim = Sim(deep)
    # No garbage collection at the bottom of the stack: a finalizer it ran there would
    # hit the same RecursionError and fail as an "unraisable exception" (seen in CI).
    gc.disable()
    try:
        sim.start("f")
    finally:
        gc.enable()
    gc.collect()
    assert sim.types() == ["ExecutionCreated", "ExecutionFailed"]
    state = sim.state()
    assert state.state == State.FAILED
    assert state.error is not None and "RecursionError" in state.error
    assert "e1" in state.error


def test_many_renders_of_one_step_share_its_budget() -> None:
    # Each render is well under the budget, but a step that makes 500 of them is not:
    # on the old code this decision would have rendered for as long as the author liked.
    started = time.monotonic()
    sim = run(
        """
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: "{{ range(1, 500) }}"
            concurrencyLimit: 0
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.log.Log
                message: "{% for i in range(400) %}{% endfor %}{{ taskrun.value }}"
        """
    )
    assert time.monotonic() - started < PROMPT_S * 4
    state = sim.state()
    assert state.state == State.FAILED
    failed = [r for r in sim.runs("leaf") if r.state == State.FAILED]
    assert failed and "LANNER_LIMITS_RENDER_STEPS=100000" in (failed[0].error or "")
    # A step of many small renders is fine.
    small = run(
        """
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: "{{ range(1, 500) }}"
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.value }} of {{ parent.taskrun.value ?? 'none' }}"
        """
    )
    assert small.state().state == State.SUCCESS


def test_a_decision_that_raises_hands_its_exception_to_the_edge_instead_of_logging() -> None:
    # The core neither logs nor swallows the cause: the executor's edge logs `failure`.
    sim = Sim(flow(_log_task("hi")))
    boom = RuntimeError("boom")

    def broken(*args: object, **kwargs: object) -> list[ExecutionEvent]:
        raise boom

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(streams.core.handle, "decide", broken)
        handled = handle(
            None, sim.catalog.get("main", "company.team", "f", 1), sim.create("f"), sim.catalog
        )
    assert handled.failure is boom
    assert [type(e).__name__ for e in handled.events] == ["ExecutionCreated", "ExecutionFailed"]
    state = handled.record.execution
    assert state is not None and "RuntimeError: boom" in (state.error or "")
    assert not hasattr(streams.core.handle, "logging")


def test_a_creation_whose_own_source_does_not_validate_fails_with_the_problem() -> None:
    # The executor and history verification read a creation's `flow_source` with flow_from_source:
    # the problem (here the YAML depth limit) is the execution's error; it used to read
    # "flow company.team.f revision 1 does not exist".
    unrunnable = flow_from_source(nested_flow(200), 1, REGISTRY, Limits())
    assert isinstance(unrunnable, UnrunnableFlow)
    sim = Sim()
    handled = handle(None, unrunnable, sim.create("f"), sim.catalog)
    assert [type(e).__name__ for e in handled.events] == ["ExecutionCreated", "ExecutionFailed"]
    state = handled.record.execution
    assert state is not None and state.state == State.FAILED and state.error is not None
    assert "flow company.team.f revision 1: its source does not validate" in state.error
    assert "LANNER_LIMITS_YAML_DEPTH" in state.error
    assert "does not exist" not in state.error
    # A source that validates runs at the revision the creation names.
    runnable = flow_from_source(nested_flow(2), 7, REGISTRY, Limits())
    assert isinstance(runnable, ValidatedFlow) and runnable.flow.revision == 7
