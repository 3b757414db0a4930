"""How a flowable's children run, as its ChildPlan says (pure): in sequence within one or
more scopes (a Sequential is one scope, a ForEach one per value), side by side, or as a
Dag (streams/core/dag.py); then its `errors` and `finally` (`block`).

Each function steps the children it may now run and returns how they ended together:
None while one is still running (or waits for its turn), else the state they give
their parent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.states import State, worst
from streams.core.walk_memo import ScopesProgress
from streams.plugins.flowable import Scope

# Loops with more scopes than this keep what they learnt from one input to the next
# (streams/core/walk_memo.py); smaller ones are cheaper to step again than to remember.
REMEMBERED_FROM_SCOPES = 8


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

    def loop_progress(self, parent_id: str | None, specs: list[TaskSpec]) -> ScopesProgress:
        """What is known of this loop's scopes from earlier inputs."""
        ...

    def learnt(self, progress: ScopesProgress) -> None:
        """This loop's progress gained settled scopes in this decision."""
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
    w: ChildRunner,
    specs: list[TaskSpec],
    parent_id: str | None,
    scopes: Sequence[Scope],
    limit: int,
) -> State | None:
    """Each scope runs `specs` in sequence; at most `limit` scopes at once (0: all).
    After a failed scope no new one starts; those running may finish.

    A large loop steps only its open part: the scopes settled in order before it are
    summed up by its progress, the ones settled out of order are looked up, and past the
    last started scope, once one may not start, none may (so the pass stops there)."""
    remembered = len(scopes) > REMEMBERED_FROM_SCOPES and not scopes[0].own_runs
    progress = w.loop_progress(parent_id, specs) if remembered else None
    states: list[State] = []
    running = 0
    waiting = False
    stop = False
    first = 0
    whole_pass = progress is None or progress.last_started is None
    last_started = -1
    if progress is not None:
        first, stop = progress.done, progress.done_failed
        if progress.done_state is not None:
            states.append(progress.done_state)
        if progress.last_started is not None:
            last_started = progress.last_started
    for index in range(first, len(scopes)):
        scope = scopes[index]
        known = progress.settled.get(index) if progress is not None else None
        if known is None:
            started = any(w.find_in(parent_id, s.id, scope) is not None for s in specs)
            if not started:
                if stop or w.killing:
                    if not whole_pass and index > last_started:
                        break
                    continue
                if limit and running >= limit:
                    waiting = True
                    if not whole_pass and index > last_started:
                        break
                    continue
            last_started = max(last_started, index)
            known = _in_order(w, specs, parent_id, scope)
            if known is None:
                running += 1
                continue
            if progress is not None and not w.killing:
                # A candidate: kept only if no event of this decision names its runs.
                progress.settled[index] = known
                w.learnt(progress)
        stop = stop or known.is_failure
        states.append(known)
    if progress is not None:
        progress.last_started = last_started
        if whole_pass:
            progress.by_value = {}
            for index, scope in enumerate(scopes):
                progress.by_value.setdefault(scope.value, []).append(index)
        w.learnt(progress)
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
