"""A simulated executor and worker around the pure core, for unit tests.

`Sim` holds one `ExecutorRecord` per execution and feeds it inputs through `handle`,
the way the Faust executor does, then turns the events into their effects
(`effects_of`): worker jobs are answered by a fake worker (a started report, then a
finished one, with an outcome chosen per task id), child CreateExecution and
SubflowEnded commands travel between executions, and WakeUp timers fire when nothing
else is left to do. The clock is fake: it ticks one second per original delivery.

Everything is deterministic for a given seed, which picks the next pending input. With
`duplicates=True` the simulator also redelivers inputs it has already delivered (right
away and later on), as Kafka does after a crash; the redeliveries neither tick the clock
nor feed the scheduler, so the original deliveries happen exactly as without them.
"""

from __future__ import annotations

import datetime as dt
import random
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.commands import (
    CreateExecution,
    ExecutorMessage,
    KillExecution,
    PauseExecution,
    ResumeExecution,
    WakeUp,
)
from schemas.events import ExecutionEvent
from schemas.execution import Execution, TaskRun
from schemas.flow import FlowRef
from schemas.states import State
from schemas.worker import TaskRunReport, WorkerJob
from streams.core.bounds import DEFAULT_BOUNDS, Bounds
from streams.core.effects import effects_of
from streams.core.evolve import fold
from streams.core.handle import ExecutorRecord, handle, taken_up
from streams.core.validation import ValidatedFlow, validate_flow
from streams.core.walk_memo import WalkMemo
from streams.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry.discover()
TENANT = "main"
NAMESPACE = "company.team"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def parse(source: str, revision: int = 1) -> ValidatedFlow:
    """A flow from YAML (dedented), validated, at the given revision."""
    result = validate_flow(textwrap.dedent(source), REGISTRY)
    if isinstance(result, list):
        raise AssertionError("flow does not validate: " + "; ".join(str(p) for p in result))
    return ValidatedFlow(
        flow=result.flow.model_copy(update={"revision": revision}), tasks=result.tasks
    )


class Catalog:
    """Flows by (namespace, id, revision); revision None means the latest."""

    def __init__(self, flows: Iterable[ValidatedFlow] = ()) -> None:
        self.flows: dict[tuple[str, str], dict[int, ValidatedFlow]] = {}
        for flow in flows:
            self.add(flow)

    def add(self, flow: ValidatedFlow) -> None:
        assert flow.flow.revision is not None
        self.flows.setdefault((flow.flow.namespace, flow.flow.id), {})[flow.flow.revision] = flow

    def get(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> ValidatedFlow | None:
        revisions = self.flows.get((namespace, flow_id), {})
        if not revisions:
            return None
        return revisions.get(revision if revision is not None else max(revisions))


@dataclass(frozen=True)
class Result:
    """How the fake worker ends an attempt."""

    state: State = State.SUCCESS
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


Outcome = Result | Callable[[WorkerJob], Result]
ReportKind = Literal["started", "finished", "heartbeat"]


@dataclass(frozen=True)
class Delivery:
    """One input handed to `handle`, and what came out."""

    inp: ExecutorMessage
    execution_id: str
    seq_before: int  # seq of the state the input met (0: no execution yet)
    events: list[ExecutionEvent]
    redelivered: bool


class Sim:
    def __init__(
        self,
        *flows: str | ValidatedFlow,
        outcomes: Mapping[str, Outcome] | None = None,
        hold: Iterable[str] = (),
        seed: int | None = None,
        duplicates: bool = False,
        auto_timers: bool = True,
        bounds: Bounds = DEFAULT_BOUNDS,
        arrival_lag: dt.timedelta | None = None,
    ) -> None:
        self.bounds = bounds
        # With a lag, the executor takes each input up that long after the fake clock (it
        # was slow, or down): inputs keep the clock's time, events carry the arrival.
        self.arrival_lag = arrival_lag
        self.catalog = Catalog(parse(f) if isinstance(f, str) else f for f in flows)
        self.outcomes = dict(outcomes or {})
        self.hold = set(hold)
        self.sched = random.Random(seed) if seed is not None else None
        self.dup = random.Random(f"dup:{seed}") if duplicates else None
        self.auto_timers = auto_timers
        self.now = T0
        self.records: dict[str, ExecutorRecord] = {}
        # As the executor keeps them: what the walk learnt of each execution, from one
        # input to the next (redecide and history verify decide without, and must agree).
        self.memos: dict[str, WalkMemo] = {}
        self.events: dict[str, list[ExecutionEvent]] = {}
        self.snapshots: dict[str, list[Execution]] = {}
        self.log: list[Delivery] = []
        self.queue: list[ExecutorMessage] = []
        self.timers: list[WakeUp] = []
        self.held: list[WorkerJob] = []
        self.jobs: list[WorkerJob] = []
        self._seen_jobs: set[str] = set()
        self._seen_commands: set[str] = set()
        self._handled: set[str] = set()
        self._counter = 0

    # --- looking ---------------------------------------------------------------------

    def state(self, execution_id: str = "e1") -> Execution:
        execution = self.records[execution_id].execution
        assert execution is not None
        return execution

    def runs(self, task_id: str, execution_id: str = "e1") -> list[TaskRun]:
        return [r for r in self.state(execution_id).task_runs.values() if r.task_id == task_id]

    def run_of(self, task_id: str, execution_id: str = "e1") -> TaskRun:
        runs = self.runs(task_id, execution_id)
        assert len(runs) == 1, f"{len(runs)} runs of {task_id}"
        return runs[0]

    def types(self, execution_id: str = "e1") -> list[str]:
        return [e.type for e in self.events.get(execution_id, [])]

    def flow_of(self, execution_id: str) -> ValidatedFlow | None:
        record = self.records.get(execution_id)
        s = record.execution if record else None
        if s is None:
            return None
        return self.catalog.get(s.tenant, s.namespace, s.flow_id, s.flow_revision)

    # --- inputs ----------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def create(
        self,
        flow_id: str,
        inputs: Mapping[str, Any] | None = None,
        execution_id: str = "e1",
        namespace: str = NAMESPACE,
        revision: int = 1,
    ) -> CreateExecution:
        return CreateExecution(
            command_id=f"create:{execution_id}",
            execution_id=execution_id,
            time=self.now,
            flow=FlowRef(tenant=TENANT, namespace=namespace, flow_id=flow_id, revision=revision),
            inputs=dict(inputs or {}),
        )

    def kill(self, execution_id: str = "e1") -> KillExecution:
        return KillExecution(
            command_id=self._next_id("kill"), execution_id=execution_id, time=self.now
        )

    def pause(self, execution_id: str = "e1") -> PauseExecution:
        return PauseExecution(
            command_id=self._next_id("pause"), execution_id=execution_id, time=self.now
        )

    def resume(
        self, execution_id: str = "e1", inputs: Mapping[str, Any] | None = None
    ) -> ResumeExecution:
        return ResumeExecution(
            command_id=self._next_id("resume"),
            execution_id=execution_id,
            time=self.now,
            inputs=dict(inputs or {}),
        )

    def wake(self, run_id: str, time: dt.datetime, execution_id: str = "e1") -> WakeUp:
        return WakeUp(
            command_id=f"wake:{run_id}:{time.isoformat()}",
            execution_id=execution_id,
            time=time,
            task_run_id=run_id,
            due=time,
        )

    def report(
        self,
        job: WorkerJob,
        kind: ReportKind = "finished",
        state: State | None = State.SUCCESS,
        outputs: Mapping[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
        task_run_id: str | None = None,
    ) -> TaskRunReport:
        return TaskRunReport(
            kind=kind,
            execution_id=job.execution_id,
            task_run_id=task_run_id or job.task_run_id,
            attempt=job.attempt if attempt is None else attempt,
            worker_id="w1",
            time=self.now,
            state=state if kind == "finished" else None,
            outputs=dict(outputs or {}),
            error=error,
        )

    # --- running ---------------------------------------------------------------------

    def start(
        self, flow_id: str, inputs: Mapping[str, Any] | None = None, execution_id: str = "e1"
    ) -> Sim:
        """Creates the execution and runs everything that follows, to quiescence."""
        self.queue.append(self.create(flow_id, inputs, execution_id))
        self.run()
        return self

    def send(self, inp: ExecutorMessage) -> list[ExecutionEvent]:
        """Delivers one input now (and processes its effects), without running the rest."""
        return self._deliver(inp)

    def run(self, max_steps: int = 5_000) -> None:
        """Delivers pending inputs (and due timers) until there is nothing left."""
        if self.advance(max_steps):
            raise AssertionError(f"no quiescence after {max_steps} deliveries")

    def advance(self, steps: int) -> bool:
        """Delivers at most `steps` pending inputs or due timers; True if some are left."""
        for _ in range(steps):
            if self.queue:
                index = self.sched.randrange(len(self.queue)) if self.sched else 0
                self._deliver(self.queue.pop(index))
            elif self.timers and self.auto_timers:
                self.timers.sort(key=lambda t: (t.due, t.command_id))
                timer = self.timers.pop(0)
                self.now = max(self.now, timer.due)
                self._deliver(timer)
            else:
                return False
        return bool(self.queue or (self.timers and self.auto_timers))

    def redeliver_all(self) -> list[Delivery]:
        """Every input delivered so far, once more, in order."""
        originals = [d for d in self.log if not d.redelivered]
        return [self._handle(d.inp) for d in originals]

    def _handle(self, inp: ExecutorMessage) -> Delivery:
        eid = inp.execution_id
        record = taken_up(self.records.get(eid), inp)
        if isinstance(inp, CreateExecution):
            ref = inp.flow
            flow = self.catalog.get(ref.tenant, ref.namespace, ref.flow_id, ref.revision)
        elif record is not None and record.execution is not None:
            s = record.execution
            flow = self.catalog.get(s.tenant, s.namespace, s.flow_id, s.flow_revision)
        else:
            flow = None
        before = record.execution.seq if record and record.execution else 0
        # A redelivery arrives later still: applied inputs must re-emit unchanged events.
        lag = self.arrival_lag
        now = (
            None if lag is None else self.now + lag * (2 if inp.message_id in self._handled else 1)
        )
        self._handled.add(inp.message_id)
        memo = self.memos.setdefault(eid, WalkMemo())
        handled = handle(record, flow, inp, self.catalog, bounds=self.bounds, now=now, memo=memo)
        self.records[eid] = handled.record
        delivery = Delivery(inp, eid, before, handled.events, handled.redelivered)
        self.log.append(delivery)
        if not handled.redelivered:
            self.events.setdefault(eid, []).extend(handled.events)
            if handled.record.execution is not None:
                self.snapshots.setdefault(eid, []).append(handled.record.execution)
        return delivery

    def _deliver(self, inp: ExecutorMessage) -> list[ExecutionEvent]:
        delivery = self._handle(inp)
        if not delivery.redelivered:
            self.now += dt.timedelta(seconds=1)
        self._apply_effects(delivery)
        if isinstance(inp, TaskRunReport) and inp.kind == "started" and not delivery.redelivered:
            self._finish(inp)
        if self.dup is not None and not delivery.redelivered:
            # At-least-once: the same input again, then some earlier one.
            again = self._handle(inp)
            assert again.redelivered and again.events == delivery.events
            self._apply_effects(again)
            originals = [d for d in self.log if not d.redelivered]
            old = originals[self.dup.randrange(len(originals))]
            self._apply_effects(self._handle(old.inp))
        return delivery.events

    def _apply_effects(self, delivery: Delivery) -> None:
        state = self.records[delivery.execution_id].execution
        if state is None or not delivery.events:
            return
        effects = effects_of(state, delivery.events)
        for job in effects.jobs:
            if job.job_id in self._seen_jobs:
                continue  # workers skip a (task run, attempt) they have already done
            self._seen_jobs.add(job.job_id)
            self.jobs.append(job)
            if job.task_id in self.hold:
                self.held.append(job)
            else:
                self.queue.append(self.report(job, kind="started"))
        for command in effects.commands:
            if command.command_id not in self._seen_commands:
                self._seen_commands.add(command.command_id)
                self.queue.append(command)
        for timer in effects.timers:
            if timer.command_id not in self._seen_commands:
                self._seen_commands.add(timer.command_id)
                self.timers.append(timer)

    def _finish(self, started: TaskRunReport) -> None:
        job_id = f"{started.task_run_id}/{started.attempt}"
        job = next((j for j in self.jobs if j.job_id == job_id), None)
        if job is None:
            return  # a report a test made up: no job behind it to finish
        outcome = self.outcomes.get(job.task_id, Result())
        result = outcome(job) if callable(outcome) else outcome
        self.queue.append(
            self.report(job, state=result.state, outputs=result.outputs, error=result.error)
        )

    # --- checks ----------------------------------------------------------------------

    def check(self) -> None:
        """Invariants of every history: gapless seqs, and the fold equals the kept state."""
        for eid, events in self.events.items():
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), eid
            assert all(e.execution_id == eid for e in events)
            assert fold(list(events)) == self.records[eid].execution, eid


def redecide(sim: Sim) -> list[str]:
    """History verification, Temporal style: re-runs `decide` for every recorded input on the state
    folded from the recorded history up to that input, and lists every divergence.

    A delivery's events are grouped by the input that caused them: a creation also
    applies the inputs that arrived before it (handle's `early`), each under its own id.
    """
    from streams.core.decide import decide

    inputs = {d.inp.message_id: d.inp for d in sim.log}
    problems: list[str] = []
    for number, delivery in enumerate(d for d in sim.log if not d.redelivered):
        history = sim.events.get(delivery.execution_id, [])
        if delivery.events:
            assert delivery.events[0].seq == delivery.seq_before + 1
        groups: list[tuple[str, list[ExecutionEvent]]] = []
        for event in delivery.events:
            if not groups or groups[-1][0] != event.causation_id:
                groups.append((event.causation_id, []))
            groups[-1][1].append(event)
        if not groups:
            groups = [(delivery.inp.message_id, [])]
        for message_id, recorded in groups:
            inp = inputs[message_id]
            before = recorded[0].seq - 1 if recorded else delivery.seq_before
            state = fold(history[:before])
            flow = sim.flow_of(delivery.execution_id)
            if isinstance(inp, CreateExecution):
                ref = inp.flow
                flow = sim.catalog.get(ref.tenant, ref.namespace, ref.flow_id, ref.revision)
            elif state is None and not recorded:
                continue  # an input that waited for its execution: nothing to compare yet
            # The decision time is the recorded one (the first event's), as in history verify.
            now = recorded[0].time if recorded else None
            again = decide(flow, state, inp, sim.catalog, now=now)
            if again != recorded:
                problems.append(
                    f"input {number} ({inp.type} {inp.message_id}) of"
                    f" {delivery.execution_id}: recorded {[e.type for e in recorded]},"
                    f" replayed {[e.type for e in again]}"
                )
    return problems
