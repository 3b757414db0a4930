"""What the executor watches over time, outside the pure state: due timers and worker
heartbeats. Both are indexes of facts that are in the state (rebuilt from the table
after a restart); losing them only delays, never changes, a decision."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.commands import Command, WakeUp, WorkerLost
from schemas.events import ExecutionEvent, TaskRunRunning
from schemas.execution import Execution
from schemas.states import State
from streams.core.effects import next_attempt, wake_up
from streams.core.walk_memo import runs_named


class TimerIndex:
    """Commands to send when they are due (Pause delays, retries, a flow retry's new
    execution, forgetting a finished execution), by the execution that asked for them.

    A heap by due time finds what is due in O(log n): walking every owner on each tick
    cost a third of the executor's worker-bound throughput once every finished execution
    held a timer. Entries replaced or forgotten stay in the heap until they surface and
    are skipped there (the dict says what is current)."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, tuple[dt.datetime, Command]]] = {}
        self._heap: list[tuple[dt.datetime, str, str]] = []  # (due, owner, command id)

    def add(self, timers: Iterable[WakeUp]) -> None:
        for wake in timers:
            self.add_command(wake.execution_id, wake, wake.due)

    def add_command(self, owner: str, command: Command, due: dt.datetime) -> None:
        timers = self.pending.setdefault(owner, {})
        if timers.get(command.command_id, (None,))[0] != due:
            heapq.heappush(self._heap, (due, owner, command.command_id))
        timers[command.command_id] = (due, command)

    def forget(self, execution_id: str) -> None:
        """The execution ended: its wake-ups are moot (but not its delayed commands)."""
        timers = self.pending.get(execution_id, {})
        for command_id in [c for c, (_, cmd) in timers.items() if isinstance(cmd, WakeUp)]:
            del timers[command_id]
        if not timers:
            self.pending.pop(execution_id, None)

    def due(self, now: dt.datetime) -> list[Command]:
        fired: list[Command] = []
        while self._heap and self._heap[0][0] <= now:
            due, owner, command_id = heapq.heappop(self._heap)
            timers = self.pending.get(owner)
            current = timers.get(command_id) if timers else None
            if timers is None or current is None or current[0] != due:
                continue  # replaced or forgotten since
            fired.append(timers.pop(command_id)[1])
            if not timers:
                del self.pending[owner]
        return fired

    def rebuild_from(self, state: Execution, *, delayed: bool) -> None:
        retry = state.next_attempt_id and state.next_attempt_at
        if delayed and state.state == State.FAILED and retry and state.next_attempt_at:
            # Sending it again after a restart is harmless: its id is derived, so the
            # executor creates that execution once.
            self.add_command(state.id, next_attempt(state), state.next_attempt_at)
        if not state.state.is_terminal:
            for sla_id, deadline in state.deadlines.items():
                self.add([wake_up(state.id, f"sla:{sla_id}", deadline)])
        for run in state.task_runs.values():
            if run.state == State.PAUSED and run.resume_at is not None:
                self.add([wake_up(state.id, run.id, run.resume_at)])
            elif run.state == State.RETRYING and run.retry_at is not None:
                self.add([wake_up(state.id, run.id, run.retry_at)])


@dataclass
class _Beat:
    execution_id: str
    attempt: int
    worker_id: str
    last_seen: dt.datetime


class WorkerHealth:
    """Attempts running on workers and when each was last heard of (the health loop)."""

    def __init__(self, lost_after: dt.timedelta) -> None:
        self.lost_after = lost_after
        self.running: dict[str, _Beat] = {}  # task run id -> beat

    def observe(self, events: list[ExecutionEvent], state: Execution, now: dt.datetime) -> None:
        for event in events:
            if isinstance(event, TaskRunRunning):
                self.running[event.task_run_id] = _Beat(
                    event.execution_id, event.attempt, event.worker_id, now
                )
        # Only the runs these events name (only events move runs): scanning every tracked
        # attempt, or every run of a large execution, would put O(running task runs) or
        # O(the execution's size) on the executor's hot path.
        named = {run_id for event in events for run_id in runs_named(event)}
        for run_id in [r for r in named if r in self.running]:
            run = state.task_runs.get(run_id)
            if (
                run is None
                or run.state != State.RUNNING
                or run.attempt_number != self.running[run_id].attempt
            ):
                del self.running[run_id]

    def heartbeat(self, task_run_id: str, attempt: int, worker_id: str, now: dt.datetime) -> None:
        beat = self.running.get(task_run_id)
        if beat is not None and beat.attempt == attempt and beat.worker_id == worker_id:
            beat.last_seen = now

    def rebuild_from(self, state: Execution, now: dt.datetime) -> None:
        """After a restart every running attempt gets a full grace period."""
        for run in state.task_runs.values():
            worker = run.attempts[-1].worker_id if run.attempts else None
            if run.state == State.RUNNING and worker and run.id not in self.running:
                self.running[run.id] = _Beat(state.id, run.attempt_number, worker, now)

    def lost(self, now: dt.datetime) -> list[WorkerLost]:
        lost: list[WorkerLost] = []
        for run_id, beat in list(self.running.items()):
            if now - beat.last_seen > self.lost_after:
                del self.running[run_id]
                lost.append(
                    WorkerLost(
                        command_id=f"lost:{run_id}:{beat.attempt}",
                        execution_id=beat.execution_id,
                        time=now,
                        task_run_id=run_id,
                        attempt=beat.attempt,
                        worker_id=beat.worker_id,
                    )
                )
        return lost
