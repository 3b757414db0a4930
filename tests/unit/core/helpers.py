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
