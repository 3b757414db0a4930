"""What the walk learnt about an execution, kept from one input to the next (issue 19).

The walk steps the task tree from the root after every input. Without a memory, it finds
every task run again (an index built over all of them) and steps every scope of a loop,
finished or not: a ForEach's thousandth task run cost a thousand times the first one's
walk. The memo keeps the index of runs by scope, and for each loop how far its scopes
have settled (all their runs finished, so their result cannot change until an event
names one of those runs again), so that the walk only visits the open part.

It is derived data, never a fact: a decision with a memo is the very decision without
one (the unit suite runs with one across inputs, the history verifier without). It is
used only by the decision right after the one that left it, else it starts afresh:
`begin` checks that it followed every event of the execution (an input decided without
it, or a decision that failed half-way, leave it behind, and it is reset).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from schemas.events import ExecutionEvent, ExecutionReplayed, ExecutionRestarted, TaskRunCreated
from schemas.execution import Execution, TaskRun
from schemas.states import State, worst

ScopeKey = tuple[str | None, str, str | None]  # (parent run, task, loop value)
# Events after which nothing learnt is trusted: they move many runs at once.
RESETS = (ExecutionRestarted, ExecutionReplayed)


@dataclass
class ScopesProgress:
    """A loop's scopes, as far as they are known to have settled."""

    # The first `done` scopes settled; their results together, and whether one failed.
    done: int = 0
    done_state: State | None = None
    done_failed: bool = False
    # Scopes past `done` that settled (a later one can finish before an earlier one).
    settled: dict[int, State] = field(default_factory=dict)
    # The last scope with a run: past it, none has one. None until a whole pass saw them.
    last_started: int | None = None
    # Scope indexes by loop value, to drop what an event about one of its runs changed.
    by_value: dict[str | None, list[int]] = field(default_factory=dict)


@dataclass
class WalkMemo:
    execution_id: str | None = None
    seq: int = -1
    runs_by_scope: dict[ScopeKey, str] = field(default_factory=dict)
    indexed: int = 0  # how many of the execution's runs (in order) the index has seen
    # By parent run, then by the scopes' task ids.
    progress: dict[str | None, dict[tuple[str, ...], ScopesProgress]] = field(default_factory=dict)
    # During a decision: the runs the walk created (any other creation resets their
    # loops), and the loops it learnt something of.
    created: set[str] = field(default_factory=set)
    learnt: dict[int, ScopesProgress] = field(default_factory=dict)
    busy: bool = False

    def begin(self, state: Execution | None) -> None:
        """Before a decision on `state`: start afresh unless the memo followed it so far
        (a decision left half-way leaves it busy)."""
        if state is None or self.busy or self.execution_id != state.id or self.seq != state.seq:
            self.reset(state.id if state is not None else None)
        self.busy = True
        self.created.clear()
        self.learnt.clear()

    def catch_up(self, state: Execution) -> None:
        """Before a walk: the index learns the runs it has not seen (runs are only added,
        in order, so they are the last ones)."""
        if self.execution_id != state.id:
            self.reset(state.id)
        self._index_new_runs(state)

    def loop(self, parent_id: str | None, task_ids: tuple[str, ...]) -> ScopesProgress:
        return self.progress.setdefault(parent_id, {}).setdefault(task_ids, ScopesProgress())

    def reset(self, execution_id: str | None) -> None:
        self.execution_id = execution_id
        self.seq = -1
        self.runs_by_scope = {}
        self.indexed = 0
        self.progress = {}

    def end(self, state: Execution | None, events: Iterable[ExecutionEvent]) -> None:
        """After a decision that ended well: forget what its events changed, and move
        each loop's settled prefix on over what is known for sure."""
        self.busy = False
        if state is None or any(isinstance(e, RESETS) for e in events):
            self.reset(None)  # a restart or a replay may change anything: learn again
            return
        for event in events:
            run_id = getattr(event, "task_run_id", None)
            run = state.task_runs.get(run_id) if isinstance(run_id, str) else None
            if run is None:
                continue
            if isinstance(event, TaskRunCreated) and run.id not in self.created:
                self.progress.pop(run.parent_id, None)
            self._unsettle(run)
        for progress in self.learnt.values():
            while progress.done in progress.settled:
                result = progress.settled.pop(progress.done)
                progress.done_failed = progress.done_failed or result.is_failure
                previous = [] if progress.done_state is None else [progress.done_state]
                progress.done_state = worst([*previous, result])
                progress.done += 1
        self.learnt.clear()
        if self.execution_id != state.id:
            self.reset(state.id)
        self._index_new_runs(state)
        self.seq = state.seq

    def created_last(self, run_id: str, runs: int) -> None:
        """The walk created `run_id`, now the last of the execution's `runs` runs."""
        self.created.add(run_id)
        if self.indexed == runs - 1:
            self.indexed = runs  # so the next catch-up need not skip over all runs

    def _index_new_runs(self, state: Execution) -> None:
        if self.indexed == len(state.task_runs):
            return
        for run in islice(state.task_runs.values(), self.indexed, None):
            self.runs_by_scope[(run.parent_id, run.task_id, run.value)] = run.id
        self.indexed = len(state.task_runs)

    def _unsettle(self, run: TaskRun) -> None:
        loops = self.progress.get(run.parent_id)
        if not loops:
            return
        for task_ids in [ids for ids in loops if run.task_id in ids]:
            progress = loops[task_ids]
            for index in progress.by_value.get(run.value, ()):
                if index < progress.done:
                    del loops[task_ids]  # a settled scope moved again: learn it again
                    break
                progress.settled.pop(index, None)


def runs_named(event: ExecutionEvent) -> list[str]:
    """The task runs an event moves (folding it changes only those: streams/core/evolve.py;
    a creation's seeded runs are new, not moved)."""
    if isinstance(event, ExecutionRestarted):
        return list(event.task_run_ids)
    run_id = getattr(event, "task_run_id", None)
    return [run_id] if isinstance(run_id, str) else []
