"""States: the transition tables, and every state the core reaches moving only by them."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.events import (
    EXECUTION_END_STATES,
    EXECUTION_ENDED_STATE,
    EXECUTION_STATE_OF,
    TASK_RUN_END_STATES,
    TASK_RUN_ENDED_STATE,
    ExecutionCancelled,
    ExecutionCreated,
    ExecutionEvent,
    ExecutionStarted,
    ExecutionSucceeded,
    TaskRunCreated,
    TaskRunStarted,
    TaskRunSucceeded,
)
from schemas.execution import Execution
from schemas.states import (
    EXECUTION_TRANSITIONS,
    OPERATOR_MAY,
    TASK_RUN_TRANSITIONS,
    TERMINAL_STATES,
    Operation,
    State,
    execution_may_move,
    may_change_task_run,
    operator_may,
    operator_refusal,
    worst,
)
from streams.core.evolve import HistoryError, evolve, fold
from tests.unit.core.driver import Result, Sim
from tests.unit.core.helpers import assert_legal_histories, run

K = "io.kestra.plugin.core"
T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_the_tables_cover_every_state() -> None:
    assert set(TASK_RUN_TRANSITIONS) == set(State)
    assert set(EXECUTION_TRANSITIONS) == set(State)


@pytest.mark.parametrize("table", [TASK_RUN_TRANSITIONS, EXECUTION_TRANSITIONS])
def test_terminal_states_only_leave_by_a_restart(table: dict[State, frozenset[State]]) -> None:
    for state in TERMINAL_STATES:
        assert table[state] <= {State.RESTARTED}, state


def test_each_end_event_means_one_state_both_ways() -> None:
    # One table per level, read both ways: the end event a state is recorded by, and the
    # state an end event records (evolve, effects and the flow trigger agent read these).
    assert {cls: st for st, cls in EXECUTION_END_STATES.items()} == EXECUTION_ENDED_STATE
    assert {cls: st for st, cls in TASK_RUN_END_STATES.items()} == TASK_RUN_ENDED_STATE
    assert EXECUTION_ENDED_STATE[ExecutionCancelled] == State.CANCELLED
    assert all(state.is_terminal for state in EXECUTION_ENDED_STATE.values())
    assert all(state.is_terminal for state in TASK_RUN_ENDED_STATE.values())
    # Every execution-level move goes through EXECUTION_STATE_OF, the ends included.
    assert EXECUTION_ENDED_STATE.items() <= EXECUTION_STATE_OF.items()
    assert not any(
        s.is_terminal for c, s in EXECUTION_STATE_OF.items() if c not in EXECUTION_ENDED_STATE
    )


def test_an_end_event_folds_to_its_state() -> None:
    ids = {"execution_id": "e", "time": T, "causation_id": "c", "correlation_id": "e"}
    created = ExecutionCreated(
        seq=1, tenant="main", namespace="n", flow_id="f", flow_revision=1, **ids
    )
    started = ExecutionStarted(seq=2, **ids)
    for end_state, cls in EXECUTION_END_STATES.items():
        ended = fold([created, started, cls(seq=3, **ids)])
        assert ended is not None and ended.state == end_state, cls


def test_worst() -> None:
    assert worst([]) == State.SUCCESS
    assert worst([State.SUCCESS, State.SKIPPED]) == State.SUCCESS
    assert worst([State.SUCCESS, State.WARNING]) == State.WARNING
    assert worst([State.WARNING, State.FAILED]) == State.FAILED
    assert worst([State.CANCELLED]) == State.FAILED
    assert worst([State.FAILED, State.KILLED]) == State.KILLED


# --- a corpus of scenarios that between them reach every state the core uses ------------

_WORK = f"""
tasks:
  - id: skipped
    type: {K}.log.Log
    message: x
    runIf: "{{{{ false }}}}"
  - id: tolerant
    type: {K}.flow.AllowFailure
    tasks:
      - id: warn
        type: {K}.flow.Sleep
        duration: PT1S
      - id: boom
        type: {K}.flow.Sleep
        duration: PT1S
  - id: wait
    type: {K}.flow.Pause
    pauseDuration: PT1M
  - id: last
    type: {K}.flow.Sleep
    duration: PT1S
"""


def _corpus() -> list[Sim]:
    outcomes = {"warn": Result(State.WARNING), "boom": Result(State.FAILED)}
    done = run(_WORK, outcomes=outcomes)
    failed = run(_WORK, outcomes={**outcomes, "last": Result(State.FAILED)})
    killed = run(_WORK, outcomes=outcomes, hold=["last"])
    killed.send(killed.kill())
    paused_kill = run(_WORK, outcomes=outcomes, auto_timers=False)
    paused_kill.send(paused_kill.kill())
    succeeded = run(_WORK.replace("boom", "fine"), outcomes={})
    return [done, failed, killed, paused_kill, succeeded]


def test_every_state_reached_moves_only_by_the_tables() -> None:
    reached_executions: set[State] = set()
    reached_runs: set[State] = set()
    for sim in _corpus():
        sim.check()  # evolve accepted every event (no HistoryError)
        for snapshot in sim.snapshots["e1"]:
            assert_legal_histories(snapshot)
        final = sim.state()
        reached_executions |= {h.state for h in final.history}
        reached_runs |= {h.state for r in final.task_runs.values() for h in r.history}
    assert reached_executions == {
        State.CREATED,
        State.RUNNING,
        State.PAUSED,
        State.KILLING,
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
    }
    assert reached_runs == {
        State.CREATED,
        State.RUNNING,
        State.PAUSED,
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
        State.SKIPPED,
    }
    # Not (yet) produced by the core: queueing, retries, restarts, cancellation.
    assert not (reached_executions | reached_runs) & {
        State.QUEUED,
        State.RETRYING,
        State.RESTARTED,
        State.CANCELLED,
        State.RETRIED,
    }


# --- evolve refuses histories that cannot be ----------------------------------------------


def _base(**fields: object) -> dict[str, object]:
    return {"execution_id": "e", "time": T, "causation_id": "c", "correlation_id": "c", **fields}


def _history() -> list[ExecutionEvent]:
    return [
        ExecutionCreated(
            **_base(seq=1), tenant="main", namespace="n", flow_id="f", flow_revision=1
        ),
        ExecutionStarted(**_base(seq=2)),
        TaskRunCreated(**_base(seq=3), task_run_id="r", task_id="t"),
        TaskRunStarted(**_base(seq=4), task_run_id="r", attempt=1),
        TaskRunSucceeded(**_base(seq=5), task_run_id="r"),
        ExecutionSucceeded(**_base(seq=6)),
    ]


def _state() -> Execution:
    state = fold(_history())
    assert state is not None and state.state == State.SUCCESS and state.seq == 6
    return state


@pytest.mark.parametrize(
    "bad",
    [
        TaskRunSucceeded(**_base(seq=7), task_run_id="r"),
        TaskRunSucceeded(**_base(seq=8), task_run_id="r"),
        ExecutionStarted(**_base(seq=7)),
        TaskRunStarted(**_base(seq=7), task_run_id="nope", attempt=1),
        TaskRunCreated(**_base(seq=7), task_run_id="r", task_id="t"),
    ],
    ids=["end-twice", "gap", "terminal-execution", "unknown-run", "created-twice"],
)
def test_evolve_refuses_an_impossible_event(bad: ExecutionEvent) -> None:
    with pytest.raises(HistoryError):
        evolve(_state(), bad)


def test_evolve_refuses_a_history_not_starting_with_creation() -> None:
    history = _history()
    with pytest.raises(HistoryError):
        evolve(None, history[1])
    with pytest.raises(HistoryError):
        evolve(_state(), history[0])
    shifted = history[0].model_copy(update={"seq": 2})
    with pytest.raises(HistoryError):
        evolve(None, shifted)


def test_time_travel_folds_any_prefix() -> None:
    history = _history()
    states = [fold(history[:n]) for n in range(1, len(history) + 1)]
    assert [s.state for s in states if s is not None] == [
        State.CREATED,
        State.RUNNING,
        State.RUNNING,
        State.RUNNING,
        State.RUNNING,
        State.SUCCESS,
    ]


# --- who may change an execution: one table, read by the API and the executor -------------


@pytest.mark.parametrize("operation", list(Operation))
def test_every_operation_has_its_states_and_a_reason_for_the_others(operation: Operation) -> None:
    for state in State:
        refused = operator_refusal(operation, "e1", state)
        assert (refused is None) == operator_may(operation, state), (operation, state)
        if refused is not None:
            assert "e1" in refused and state.value in refused


def test_the_operator_rules_agree_with_the_transition_tables() -> None:
    # A restart is a legal move from every state it is accepted from; a kill only from a
    # running (not terminal) execution; replay and a change by hand need a finished run.
    assert all(execution_may_move(s, State.RESTARTED) for s in OPERATOR_MAY[Operation.RESTART])
    assert OPERATOR_MAY[Operation.KILL].isdisjoint(TERMINAL_STATES)
    assert OPERATOR_MAY[Operation.RESUME] == {State.PAUSED}
    # A pause takes a RUNNING execution to PAUSED, which a resume takes back.
    assert OPERATOR_MAY[Operation.PAUSE] == {State.RUNNING}
    assert all(execution_may_move(s, State.PAUSED) for s in OPERATOR_MAY[Operation.PAUSE])
    assert execution_may_move(State.PAUSED, State.RUNNING)
    assert OPERATOR_MAY[Operation.REPLAY] == TERMINAL_STATES
    assert may_change_task_run(State.PAUSED, State.FAILED)
    assert not may_change_task_run(State.PAUSED, State.RUNNING)
    assert not may_change_task_run(State.RUNNING, State.FAILED)
    assert operator_refusal(Operation.KILL, "e1", State.SUCCESS) == (
        "execution e1 already ended (SUCCESS)"
    )
    assert operator_refusal(Operation.RESUME, "e1", State.RUNNING) == (
        "execution e1 is RUNNING, not PAUSED"
    )
