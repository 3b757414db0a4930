"""Kestra's state names, and which transitions are allowed, kept as data.

Like Prefect's transition rules, the allowed (from, to) pairs are a table that the
executor consults and that tests enumerate; no state change is decided anywhere else.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RETRYING = "RETRYING"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    RETRIED = "RETRIED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_failure(self) -> bool:
        return self in (State.FAILED, State.KILLED, State.CANCELLED)


TERMINAL_STATES: frozenset[State] = frozenset(
    {
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
        State.CANCELLED,
        State.SKIPPED,
        State.RETRIED,
    }
)

_ENDINGS = frozenset({State.SUCCESS, State.WARNING, State.FAILED, State.KILLED})

# The states an operator may give a finished task run by hand (Kestra's "change state"):
# the executor applies only these, and the API refuses the others with 422.
SETTABLE_BY_HAND: tuple[State, ...] = (State.SUCCESS, State.WARNING, State.FAILED, State.SKIPPED)

TASK_RUN_TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.RUNNING, State.SKIPPED, State.KILLED, State.FAILED} | _ENDINGS),
    State.RUNNING: frozenset(
        {State.PAUSED, State.RETRYING, State.KILLING, State.RUNNING} | _ENDINGS
    ),
    State.PAUSED: frozenset({State.RUNNING, State.KILLING, State.KILLED} | _ENDINGS),
    State.RETRYING: frozenset({State.RUNNING, State.KILLING, State.KILLED, State.FAILED}),
    State.KILLING: frozenset({State.KILLED}),
    # A terminal state is absorbing, except that an operator may restart a failed run.
    State.FAILED: frozenset({State.RESTARTED}),
    State.KILLED: frozenset({State.RESTARTED}),
    State.RESTARTED: frozenset({State.RUNNING, State.CREATED}),
    State.SUCCESS: frozenset(),
    State.WARNING: frozenset(),
    State.CANCELLED: frozenset(),
    State.SKIPPED: frozenset(),
    State.RETRIED: frozenset(),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED, State.KILLED}),
}

EXECUTION_TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset(
        {State.QUEUED, State.RUNNING, State.CANCELLED, State.FAILED, State.KILLED}
    ),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED, State.FAILED, State.KILLED}),
    # CANCELLED and a PAUSED execution's FAILED: an Exit task or a violated SLA.
    State.RUNNING: frozenset({State.PAUSED, State.KILLING, State.CANCELLED} | _ENDINGS),
    State.PAUSED: frozenset(
        {State.RUNNING, State.KILLING, State.KILLED, State.FAILED, State.CANCELLED}
    ),
    State.KILLING: frozenset({State.KILLED}),
    State.FAILED: frozenset({State.RESTARTED}),
    State.KILLED: frozenset({State.RESTARTED}),
    State.WARNING: frozenset({State.RESTARTED}),
    State.RESTARTED: frozenset({State.RUNNING}),
    State.SUCCESS: frozenset(),
    State.CANCELLED: frozenset(),
    State.SKIPPED: frozenset(),
    State.RETRYING: frozenset(),
    State.RETRIED: frozenset(),
}


class Operation(StrEnum):
    """What an operator (the API, the CLI, an execution.Resume task) may ask of an execution."""

    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"
    REPLAY = "replay"
    CHANGE_TASK_RUN_STATE = "change a task run's state"


# Who may change an execution: the execution states each operation is accepted from. The
# API refuses the others (409) before writing anything, and the executor, the authority,
# ignores a command that arrives when its execution has moved on since.
OPERATOR_MAY: dict[Operation, frozenset[State]] = {
    Operation.KILL: frozenset(State) - TERMINAL_STATES,
    # Kestra pauses only a RUNNING execution; ExecutionResumed brings it back to RUNNING.
    Operation.PAUSE: frozenset({State.RUNNING}),
    Operation.RESUME: frozenset({State.PAUSED}),
    # WARNING -> RESTARTED is a change of state by hand, not a restart.
    Operation.RESTART: frozenset({State.FAILED, State.KILLED}),
    Operation.REPLAY: TERMINAL_STATES,
    Operation.CHANGE_TASK_RUN_STATE: TERMINAL_STATES | {State.PAUSED},
}


def operator_may(operation: Operation, execution: State) -> bool:
    return execution in OPERATOR_MAY[operation]


def operator_refusal(operation: Operation, execution_id: str, execution: State) -> str | None:
    """Why `operation` is refused on an execution in this state (None: it is accepted)."""
    if operator_may(operation, execution):
        return None
    now = f"execution {execution_id} is {execution.value}"
    if operation is Operation.KILL:
        return f"execution {execution_id} already ended ({execution.value})"
    if operation is Operation.PAUSE:
        return f"{now}; only a RUNNING execution can be paused"
    if operation is Operation.RESUME:
        return f"{now}, not PAUSED"
    if operation is Operation.RESTART:
        return f"{now}; only a FAILED or KILLED execution can be restarted"
    if operation is Operation.REPLAY:
        return f"{now}; replay a finished execution"
    return f"{now}; only a finished or paused execution's task runs can be changed"


def may_change_task_run(execution: State, run: State) -> bool:
    """A task run's state may be set by hand (to one of SETTABLE_BY_HAND) once it ended,
    in an execution that ended or is paused."""
    return run.is_terminal and operator_may(Operation.CHANGE_TASK_RUN_STATE, execution)


def task_run_may_move(current: State, target: State) -> bool:
    return target in TASK_RUN_TRANSITIONS[current]


def execution_may_move(current: State, target: State) -> bool:
    return target in EXECUTION_TRANSITIONS[current]


def worst(states: list[State]) -> State:
    """The state a group of finished children gives its parent (Kestra's rule)."""
    if any(s in (State.FAILED, State.KILLED, State.CANCELLED) for s in states):
        if State.KILLED in states:
            return State.KILLED
        return State.FAILED
    if State.WARNING in states:
        return State.WARNING
    return State.SUCCESS
