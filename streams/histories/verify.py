"""Re-run the executor's step over recorded messages and compare with recorded events.

For each input, in the order the executor consumed them, `handle` (hence `decide`) runs
with the current code, at the input's recorded decision time, on the record the replay
has built so far, exactly as the
executor's table held it: a redelivered input is recognised by its input id and
replays nothing, an input that caused nothing still enters the bookkeeping. The events
it returns must equal the recorded events of that input, field by field. After a
divergence the replay carries on from the recorded state, so one changed decision is
reported once and later inputs are still checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemas.commands import CreateExecution, ExecutorMessage
from schemas.events import ExecutionEvent, TaskRunCreated
from schemas.execution import Execution
from schemas.settings import Limits
from streams.core.bounds import DEFAULT_BOUNDS, Bounds
from streams.core.decide import FlowCatalog
from streams.core.evolve import HistoryError, fold
from streams.core.handle import RECENT_EVENTS, ExecutorRecord, handle
from streams.core.validation import UnrunnableFlow, ValidatedFlow, flow_from_source
from streams.histories.history import distinct_history
from streams.histories.order import order_messages
from streams.histories.recorded import Divergence, Position, Recorded, RecordedMessage

if TYPE_CHECKING:
    from streams.plugins.registry import PluginRegistry

# (input, state it meets) -> the flow revision the executor would use.
FlowFor = Callable[[ExecutorMessage, Execution | None], ValidatedFlow | UnrunnableFlow | None]


@dataclass
class ExecutionVerdict:
    execution_id: str
    messages: int = 0
    events: int = 0
    divergences: list[Divergence] = field(default_factory=list)


def flow_resolver(
    catalog: FlowCatalog,
    from_source: Callable[[str, int], ValidatedFlow | UnrunnableFlow | None],
) -> FlowFor:
    """The executor's choice of flow revision (streams/app/executor.py, `_flow_for`):
    a creation uses the source it carries, or the revision it names; every later input
    uses the revision the execution was created with."""

    def flow_for(
        inp: ExecutorMessage, state: Execution | None
    ) -> ValidatedFlow | UnrunnableFlow | None:
        if isinstance(inp, CreateExecution) and state is None:
            ref = inp.flow
            if inp.flow_source is not None:
                return from_source(inp.flow_source, ref.revision)
            return catalog.get(ref.tenant, ref.namespace, ref.flow_id, ref.revision)
        if state is not None:
            return catalog.get(state.tenant, state.namespace, state.flow_id, state.flow_revision)
        return None

    return flow_for


def source_validator(
    registry: PluginRegistry, limits: Limits | None = None
) -> Callable[[str, int], ValidatedFlow | UnrunnableFlow]:
    """A flow from the source a CreateExecution carries, as the executor validates it."""
    cache: dict[tuple[str, int], ValidatedFlow | UnrunnableFlow] = {}

    def validated(source: str, revision: int) -> ValidatedFlow | UnrunnableFlow:
        if (source, revision) not in cache:
            cache[(source, revision)] = flow_from_source(source, revision, registry, limits)
        return cache[(source, revision)]

    return validated


def verify_execution(
    recorded: Recorded, catalog: FlowCatalog, flow_for: FlowFor, bounds: Bounds = DEFAULT_BOUNDS
) -> ExecutionVerdict:
    """`bounds`: the limits the executor decided with (no clock: the render's wall-clock
    backstop is the executor's alone)."""
    eid = recorded.execution_id
    verdict = ExecutionVerdict(eid)
    history, broken = distinct_history(eid, recorded.events)
    if broken is not None:
        # Never fold past a gap: the history is reported, and not replayed.
        verdict.divergences.append(broken)
        return verdict
    inputs, missing = order_messages(eid, recorded.commands, recorded.results, history)
    positions = _positions(recorded)
    record: ExecutorRecord | None = None
    truth: Execution | None = None  # the recorded history folded up to `done`
    done = 0
    for item in inputs:
        verdict.messages += 1
        mine = _caused_by(history, done, item.inp.message_id)
        # The decision time is not on the input: the executor read its clock when the input
        # arrived, and the first event the input caused carries it. An input that caused
        # nothing is decided at its own time, which is no later than its arrival: what was
        # not yet due when it arrived (or it would have caused events) was not due earlier.
        now = mine[0].time if mine else None
        handled = handle(
            record, flow_for(item.inp, truth), item.inp, catalog, bounds=bounds, now=now
        )
        if handled.redelivered:
            record = handled.record
            continue
        verdict.events += max(len(mine), len(handled.events))
        if mine == handled.events:
            record, truth = handled.record, handled.record.execution
            done += len(mine)
            continue
        verdict.divergences.append(
            _first_difference(eid, item, done, mine, handled.events, positions, truth)
        )
        try:
            truth = fold(mine, truth)
        except HistoryError as exc:
            verdict.divergences.append(Divergence(eid, "history", exc.seq, str(exc)))
            return verdict
        span = (mine[0].seq, mine[-1].seq) if mine else (0, -1)
        previous = record or ExecutorRecord()
        record = ExecutorRecord(
            execution=truth,
            applied={**handled.record.applied, item.inp.message_id: span},
            recent=(*previous.recent, *mine)[-max(RECENT_EVENTS, len(mine)) :],
        )
        done += len(mine)
    if missing is not None:
        verdict.divergences.append(missing)
    elif done < len(history):
        event = history[done]
        verdict.events += 1
        verdict.divergences.append(
            Divergence(
                eid,
                "event",
                event.seq,
                f"recorded event {event.type} (caused by {event.causation_id}) is not reproduced "
                "by any recorded input",
                positions.get(event.seq),
                expected=event,
            )
        )
    return verdict


def _caused_by(history: list[ExecutionEvent], start: int, input_id: str) -> list[ExecutionEvent]:
    end = start
    while end < len(history) and history[end].causation_id == input_id:
        end += 1
    return history[start:end]


def _first_difference(
    eid: str,
    item: RecordedMessage,
    done: int,
    recorded: list[ExecutionEvent],
    replayed: list[ExecutionEvent],
    positions: dict[int, Position],
    state: Execution | None,
) -> Divergence:
    index = next(
        (i for i, (a, b) in enumerate(zip(recorded, replayed, strict=False)) if a != b),
        min(len(recorded), len(replayed)),
    )
    expected = recorded[index] if index < len(recorded) else None
    actual = replayed[index] if index < len(replayed) else None
    seq = done + index + 1
    if expected is not None and actual is not None:
        message = f"{item.inp.type} {item.inp.message_id}: {expected.type} differs"
    elif expected is not None:
        message = f"{item.inp.type} {item.inp.message_id}: recorded {expected.type} not emitted"
    else:
        assert actual is not None
        message = f"{item.inp.type} {item.inp.message_id}: emits {actual.type}, not recorded"
    return Divergence(
        eid,
        "event",
        seq,
        message,
        positions.get(seq, item.position),
        expected=expected,
        actual=actual,
        decision=_decision(expected or actual, state, [*recorded, *replayed]),
    )


def _decision(
    event: ExecutionEvent | None, state: Execution | None, around: list[ExecutionEvent]
) -> str | None:
    """The task run an event is about, named by its task id: from the state the input met,
    or from the TaskRunCreated among the events of that input."""
    run_id = getattr(event, "task_run_id", None)
    if not isinstance(run_id, str):
        return None
    task_id: str | None = None
    if state is not None and run_id in state.task_runs:
        task_id = state.task_runs[run_id].task_id
    for other in around:
        if isinstance(other, TaskRunCreated) and other.task_run_id == run_id:
            task_id = other.task_id
    return f"task {task_id or '?'} (run {run_id})"


def _positions(recorded: Recorded) -> dict[int, Position]:
    found: dict[int, Position] = {}
    for item in recorded.events:
        found.setdefault(item.event.seq, item.position)
    return found


@dataclass
class VerifyReport:
    executions: int = 0
    messages: int = 0
    events: int = 0
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.divergences


def verify_many(
    recorded: dict[str, Recorded],
    catalog: FlowCatalog,
    flow_for: FlowFor,
    on_verified: Callable[[ExecutionVerdict], None] | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> VerifyReport:
    report = VerifyReport()
    for eid in sorted(recorded):
        verdict = verify_execution(recorded[eid], catalog, flow_for, bounds)
        report.executions += 1
        report.messages += verdict.messages
        report.events += verdict.events
        report.divergences.extend(verdict.divergences)
        if on_verified:
            on_verified(verdict)
    return report
