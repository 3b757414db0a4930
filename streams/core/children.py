"""How a flowable's children run, as its ChildPlan says (pure): in sequence within one or
more scopes (a Sequential is one scope, a ForEach one per value), side by side, or as a
Dag (streams/core/dag.py); then its `errors` and `finally` (`block`).

Each function steps the children it may now run and returns how they ended together:
None while one is still running (or waits for its turn), else the state they give
their parent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.states import State, worst
from streams.plugins.flowable import Scope


class ChildRunner(Protocol):
    """What the loops need of the walk."""

    @property
    def killing(self) -> bool: ...

    def find_in(self, parent_id: str | None, task_id: str, scope: Scope) -> TaskRun | None:
        """The run of `task_id` in `scope` under `parent_id`, if it was created."""
        ...

    def child(self, spec: TaskSpec, parent_id: str | None, scope: Scope) -> TaskRun | None:
        """The run of `spec` in `scope`, created if need be, and stepped; None when the
        execution is being killed and it was never created."""
        ...


def counted(spec: TaskSpec, state: State) -> State:
    """How a child's end counts for its parent: a failure allowed is a warning, and a
    warning allowed (that one included, as in Kestra) is a success."""
    if state.is_failure and spec.allowFailure:
        state = State.WARNING
    if state == State.WARNING and spec.allowWarning:
        return State.SUCCESS
    return state


def in_sequence(
    w: ChildRunner, specs: list[TaskSpec], parent_id: str | None, scope: Scope
) -> State | None:
    return in_scopes(w, specs, parent_id, [scope], 0)


def in_scopes(
    w: ChildRunner, specs: list[TaskSpec], parent_id: str | None, scopes: list[Scope], limit: int
) -> State | None:
    """Each scope runs `specs` in sequence; at most `limit` scopes at once (0: all).
    After a failed scope no new one starts; those running may finish."""
    states: list[State] = []
    running = 0
    waiting = False
    stop = False
    for scope in scopes:
        started = any(w.find_in(parent_id, s.id, scope) is not None for s in specs)
        if not started:
            if stop or w.killing:
                continue
            if limit and running >= limit:
                waiting = True
                continue
        result = _in_order(w, specs, parent_id, scope)
        if result is None:
            running += 1
            continue
        stop = stop or result.is_failure
        states.append(result)
    if running or waiting:
        return None
    return State.KILLED if w.killing else worst(states)


def _in_order(
    w: ChildRunner, specs: list[TaskSpec], parent_id: str | None, scope: Scope
) -> State | None:
    """`specs` one after another: the first failure not allowed ends them, an unfinished
    run waits (None); else the worst of their ends."""
    states: list[State] = []
    for spec in specs:
        if spec.disabled:
            continue
        run = w.child(spec, parent_id, scope)
        if run is None:
            return State.KILLED
        if not run.state.is_terminal:
            return None
        end = counted(spec, run.state)
        if end.is_failure:
            return end
        states.append(end)
    return worst(states)


def in_parallel(
    w: ChildRunner, specs: list[TaskSpec], parent_id: str | None, scope: Scope, limit: int
) -> State | None:
    """`specs` side by side, at most `limit` running at once (0: all); after a failure
    no new one starts."""
    states: list[State] = []
    pending = False
    failed = False
    active = sum(
        1
        for s in specs
        if (r := w.find_in(parent_id, s.id, scope)) is not None and not r.state.is_terminal
    )
    for spec in specs:
        if spec.disabled:
            continue
        existing = w.find_in(parent_id, spec.id, scope)
        if existing is None and (failed or w.killing or (limit and active >= limit)):
            pending = pending or not (failed or w.killing)
            continue
        run = w.child(spec, parent_id, scope)
        if run is None:
            continue
        if existing is None and not run.state.is_terminal:
            active += 1
        # A running child (a flowable) that ends during this walk frees its slot now:
        # `active` was counted before the loop, and with `concurrent` the next child
        # would otherwise never start.
        if existing is not None and not existing.state.is_terminal and run.state.is_terminal:
            active -= 1
        if not run.state.is_terminal:
            pending = True
            continue
        end = counted(spec, run.state)
        failed = failed or end.is_failure
        states.append(end)
    if pending:
        return None
    return State.KILLED if w.killing else worst(states)


def block(
    w: ChildRunner,
    main: Callable[[], State | None],
    errors: list[TaskSpec],
    finally_: list[TaskSpec],
    parent_id: str | None,
    value: str | None,
) -> State | None:
    """`main`'s children, then `errors` if they failed, then `finally`."""
    result = main()
    if result is None:
        return None
    if w.killing:
        return State.KILLED
    # The errors branch handles a failure; the block still ends FAILED, as in Kestra.
    if result.is_failure and errors and in_sequence(w, errors, parent_id, Scope(value)) is None:
        return None
    if finally_:
        after = in_sequence(w, finally_, parent_id, Scope(value))
        if after is None:
            return None
        result = worst([result, after])
    return result
