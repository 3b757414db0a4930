"""The executor's record in parts, so that one input writes what it changed (issue 19).

Written whole, a record grows with its execution: a ForEach's thousandth task run
rewrote all the others, and the redelivery window, to the changelog on every input. In
parts, each under its own key of the same table (so each part is compacted on its own):

- the head: the execution without its task runs, the inputs parked for it, and how many
  task runs and inputs it has (the parts' keys are numbered);
- one part per task run, numbered in creation order (so the record is rebuilt with its
  task runs in the same order);
- one part per applied input: its id, the span of events it produced and those events
  (the redelivery window); the input MAX_APPLIED numbers back is deleted as one is added.

An input writes the head, the task runs its events name and its own input part: a cost
that follows the input, not the execution. A record read back whole (an older changelog,
or before any part was written here) is written whole once, then in parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.commands import ExecutorMessage
from schemas.events import ExecutionCreated, ExecutionEvent, ExecutionRestarted
from schemas.execution import Execution, TaskRun
from streams.core.handle import MAX_APPLIED, RECENT_EVENTS, ExecutorRecord

# Part keys are the execution id, this separator, the part's kind and its number. The
# executor refuses an input whose execution id holds it (it would name another's part).
SEPARATOR = "\x1f"


class RecordHead(BaseModel):
    model_config = ConfigDict(frozen=True)

    layout: Literal["parts-1"] = "parts-1"
    execution: Execution | None = None  # without its task runs
    task_runs: int = 0
    inputs: int = 0  # inputs applied so far; the latest MAX_APPLIED have parts
    early: tuple[ExecutorMessage, ...] = ()
    parked_at: dt.datetime | None = None
    last_event_at: dt.datetime | None = None


class TaskRunPart(BaseModel):
    """A task run as of `seq`, and as it was before the input that wrote it: a crash can
    leave the parts an input wrote on the log without its head (written last), and the
    record read back must be the one that head describes."""

    model_config = ConfigDict(frozen=True)

    seq: int
    run: TaskRun
    previous: TaskRun | None = None


class InputPart(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    span: tuple[int, int]
    events: tuple[ExecutionEvent, ...] = ()


Part = RecordHead | TaskRunPart | InputPart


@dataclass
class Layout:
    """Where an execution's parts are: its task runs' numbers and its inputs' count.
    Memory only, rebuilt whenever the record is read back from its parts."""

    run_numbers: dict[str, int] = field(default_factory=dict)
    inputs: int = 0


def head_key(execution_id: str) -> str:
    return execution_id


def task_run_key(execution_id: str, number: int) -> str:
    return f"{execution_id}{SEPARATOR}run{SEPARATOR}{number}"


def input_key(execution_id: str, number: int) -> str:
    return f"{execution_id}{SEPARATOR}input{SEPARATOR}{number}"


def is_head_key(key: str) -> bool:
    """Also: whether an execution id can have a record (no part key inside it)."""
    return SEPARATOR not in key


def writes(
    execution_id: str,
    old: ExecutorRecord | None,
    layout: Layout | None,
    new: ExecutorRecord,
    events: list[ExecutionEvent],
) -> tuple[list[tuple[str, Part | None]], Layout]:
    """What to write (None: delete) for `new`, which followed `old` by `events`, and the
    layout after it. Without a layout (the record was never written in parts here), or
    when the events do not account for the task runs, everything is written."""
    if layout is None or old is None:
        return _whole(execution_id, new)
    layout = Layout(dict(layout.run_numbers), layout.inputs)
    state = new.execution
    runs = state.task_runs if state is not None else {}
    before = old.execution.task_runs if old.execution is not None else {}
    seq = state.seq if state is not None else 0
    out: list[tuple[str, Part | None]] = []
    for run_id in _touched_runs(events):
        number = layout.run_numbers.setdefault(run_id, len(layout.run_numbers))
        run = runs.get(run_id)
        if run is not None:
            part = TaskRunPart(seq=seq, run=run, previous=before.get(run_id))
            out.append((task_run_key(execution_id, number), part))
    if len(layout.run_numbers) != len(runs):
        return _whole(execution_id, new)
    for message_id in _added_inputs(old, new):
        span = new.applied[message_id]
        mine = tuple(e for e in events if span[0] <= e.seq <= span[1])
        out.append(
            (
                input_key(execution_id, layout.inputs),
                InputPart(message_id=message_id, span=span, events=mine),
            )
        )
        if layout.inputs >= MAX_APPLIED:
            out.append((input_key(execution_id, layout.inputs - MAX_APPLIED), None))
        layout.inputs += 1
    out.append((head_key(execution_id), _head(new, layout)))
    return out, layout


def every_key(execution_id: str, head: RecordHead) -> list[str]:
    """Every key an execution's parts may be under, to delete them all: the head first,
    so that a crash half-way leaves parts nobody reads, never a head without its parts."""
    return [
        head_key(execution_id),
        *(task_run_key(execution_id, n) for n in range(head.task_runs)),
        *(
            input_key(execution_id, n)
            for n in range(max(0, head.inputs - MAX_APPLIED), head.inputs)
        ),
    ]


def assemble(
    head: RecordHead, part: Callable[[str], BaseModel | None]
) -> tuple[ExecutorRecord, Layout]:
    """The record and its layout from the head and its parts (`part(key)`: the part read
    back, None when absent). A missing task run part is a broken record: KeyError."""
    state = head.execution
    runs: dict[str, TaskRun] = {}
    if state is not None:
        for number in range(head.task_runs):
            found = part(task_run_key(state.id, number))
            # Written after this head (its own head never made it): as it was before.
            run = None
            if isinstance(found, TaskRunPart):
                run = found.run if found.seq <= state.seq else found.previous
            if run is None:
                raise KeyError(f"execution {state.id}: task run part {number} is missing")
            runs[run.id] = run
    applied: dict[str, tuple[int, int]] = {}
    # By seq: a creation's span covers the inputs parked for it, which have parts too.
    recent: dict[int, ExecutionEvent] = {}
    execution_id = state.id if state is not None else None
    if execution_id is not None:
        for number in range(max(0, head.inputs - MAX_APPLIED), head.inputs):
            found = part(input_key(execution_id, number))
            if isinstance(found, InputPart):
                applied[found.message_id] = found.span
                recent.update((e.seq, e) for e in found.events)
    events = [recent[seq] for seq in sorted(recent)]
    # As handle keeps them: the latest RECENT_EVENTS, and the latest input's whole.
    latest = next(reversed(applied.values()), (0, -1))
    keep_from = min(latest[0], events[-RECENT_EVENTS].seq) if len(events) > RECENT_EVENTS else 0
    record = ExecutorRecord(
        execution=state.model_copy(update={"task_runs": runs}) if state is not None else None,
        applied=applied,
        recent=tuple(e for e in events if e.seq >= keep_from),
        early=head.early,
        parked_at=head.parked_at,
        last_event_at=head.last_event_at,
    )
    return record, Layout({run_id: n for n, run_id in enumerate(runs)}, head.inputs)


def _whole(
    execution_id: str, record: ExecutorRecord
) -> tuple[list[tuple[str, Part | None]], Layout]:
    state = record.execution
    runs = list(state.task_runs.values()) if state is not None else []
    seq = state.seq if state is not None else 0
    out: list[tuple[str, Part | None]] = [
        (task_run_key(execution_id, n), TaskRunPart(seq=seq, run=run)) for n, run in enumerate(runs)
    ]
    by_seq = {e.seq: e for e in record.recent}
    for number, (message_id, span) in enumerate(record.applied.items()):
        mine = tuple(by_seq[s] for s in range(span[0], span[1] + 1) if s in by_seq)
        out.append(
            (
                input_key(execution_id, number),
                InputPart(message_id=message_id, span=span, events=mine),
            )
        )
    layout = Layout({run.id: n for n, run in enumerate(runs)}, len(record.applied))
    out.append((head_key(execution_id), _head(record, layout)))
    return out, layout


def _head(record: ExecutorRecord, layout: Layout) -> RecordHead:
    state = record.execution
    return RecordHead(
        execution=state.model_copy(update={"task_runs": {}}) if state is not None else None,
        task_runs=len(layout.run_numbers),
        inputs=layout.inputs,
        early=record.early,
        parked_at=record.parked_at,
        last_event_at=record.last_event_at,
    )


def _touched_runs(events: Iterable[ExecutionEvent]) -> list[str]:
    """The task runs the events change, in the order the events name them first (folding
    an event changes only the runs it names: streams/core/evolve.py)."""
    touched: dict[str, None] = {}
    for event in events:
        if isinstance(event, ExecutionCreated):
            touched.update((run.id, None) for run in event.seed)
        elif isinstance(event, ExecutionRestarted):
            touched.update((run_id, None) for run_id in event.task_run_ids)
        run_id = getattr(event, "task_run_id", None)
        if isinstance(run_id, str):
            touched[run_id] = None
    return list(touched)


def _added_inputs(old: ExecutorRecord, new: ExecutorRecord) -> list[str]:
    """The inputs `new` remembers and `old` did not, oldest first (a dict keeps insertion
    order; only the latest few are new, so this stops at the first one already known)."""
    added: list[str] = []
    for message_id in reversed(new.applied):
        if message_id in old.applied:
            break
        added.append(message_id)
    return added[::-1]
