"""Helpers shared by the pure core's tests."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Mapping
from typing import Any

from schemas.execution import Execution
from schemas.states import EXECUTION_TRANSITIONS, TASK_RUN_TRANSITIONS, State
from tests.unit.core.driver import Outcome, Sim


def flow(body: str, flow_id: str = "f", namespace: str = "company.team") -> str:
    """A flow's YAML: id and namespace, then the (indented) body."""
    return f"id: {flow_id}\nnamespace: {namespace}\n" + textwrap.dedent(body)


def nested_flow(depth: int, flow_id: str = "f") -> str:
    """A flow of `depth` Sequentials, each inside the one before, around one Log task."""
    body = "tasks:\n"
    indent = "  "
    for level in range(depth):
        body += (
            f"{indent}- id: s{level}\n{indent}  type: io.kestra.plugin.core.flow.Sequential\n"
            f"{indent}  tasks:\n"
        )
        indent += "    "
    body += f"{indent}- id: leaf\n{indent}  type: io.kestra.plugin.core.log.Log\n"
    body += f"{indent}  message: hi\n"
    return flow(body, flow_id)


def run(
    body: str,
    inputs: Mapping[str, Any] | None = None,
    outcomes: Mapping[str, Outcome] | None = None,
    *extra: str,
    **options: Any,
) -> Sim:
    """Runs flow `f` (body given) to quiescence and checks the history invariants."""
    sim = Sim(flow(body), *extra, outcomes=outcomes, **options)
    sim.start("f", inputs)
    sim.check()
    return sim


def assert_legal_histories(state: Execution) -> None:
    """Every move recorded in the state's histories is allowed by the transition tables."""
    moves = [e.state for e in state.history]
    for a, b in itertools.pairwise(moves):
        assert b in EXECUTION_TRANSITIONS[a], f"execution {a} -> {b}"
    for run in state.task_runs.values():
        moves = [e.state for e in run.history]
        assert moves[0] == State.CREATED
        for a, b in itertools.pairwise(moves):
            assert b in TASK_RUN_TRANSITIONS[a], f"task run {run.task_id}: {a} -> {b}"
