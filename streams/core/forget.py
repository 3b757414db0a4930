"""When a record may leave the executor's table (bounded executor state).

A finished execution stays in the table for a retention period, then leaves it: the
log keeps its history and the views keep serving it. During the retention an input
delivered again still finds it (and re-emits what it caused); after it, an operator's
command carries the execution as the views know it (schemas/commands.py OnFinishedBase),
and anything else for it is late. A record holding only inputs parked for an execution
that never came leaves the same way, counted from when the first was parked.
"""

from __future__ import annotations

import datetime as dt

from schemas.commands import ForgetExecution
from streams.core.handle import ExecutorRecord


def forget_at(record: ExecutorRecord, retain: dt.timedelta) -> dt.datetime | None:
    """When the record may be forgotten; None while its execution can still move by
    itself (not finished, or a flow retry's new execution still to be asked for)."""
    state = record.execution
    if state is None:
        return record.parked_at + retain if record.parked_at is not None else None
    if not state.state.is_terminal or state.ended is None:
        return None
    due = state.ended + retain
    if state.next_attempt_at is not None:
        # The delayed creation of a flow retry is rebuilt from this record after a restart.
        due = max(due, state.next_attempt_at + retain)
    return due


def may_forget(record: ExecutorRecord, now: dt.datetime, retain: dt.timedelta) -> bool:
    due = forget_at(record, retain)
    return due is not None and due <= now


def forget_command(execution_id: str, due: dt.datetime) -> ForgetExecution:
    """The executor's command to itself; its id is derived, so the timer that sends it
    again after a restart sends the same command."""
    return ForgetExecution(
        command_id=f"forget:{execution_id}:{due.isoformat()}",
        execution_id=execution_id,
        time=due,
    )
