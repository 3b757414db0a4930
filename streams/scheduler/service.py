"""The scheduler: fires due schedule triggers as CreateExecution commands.

It runs as a leader-only Faust timer, so several scheduler processes can run and only
one fires. The execution id of a scheduled run is derived from (flow, trigger, scheduled
time): firing twice (a crash between the command and the trigger event, two leaders
during a rebalance) creates the execution once, because the executor ignores a second
CreateExecution for an execution it has.

What an operator does to a trigger (disable, enable, start, pause or delete a backfill)
arrives on `trigger-events`, which the scheduler follows live (TriggerStates): a
disabled trigger stops firing at the next tick.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from schemas.triggers import (
    AnySchedule,
    BackfillStarted,
    BackfillStopped,
    TriggerEventBase,
    TriggerFailed,
    TriggerFired,
    TriggerState,
    schedule,
    trigger_key,
)
from streams.core.ids import derive_id
from streams.flow_catalog import FlowSources
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.scheduler.cron import backfill_slots, due, next_fire
from streams.triggers.specs import TriggerSpecs
from streams.triggers.view import TriggerStates
from streams.writers.executions import REFUSED, ExecutionWriter

log = logging.getLogger("lanner.scheduler")

# The label every execution of a backfill carries (besides the backfill's own labels).
BACKFILL_LABEL = ("backfill", "true")
# Slots one backfill fires per tick: a backfill of years of a per-minute cron must not
# hold up the other triggers, nor flood the executor in one burst.
BACKFILL_SLOTS_PER_TICK = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    def __init__(
        self,
        tenant: str,
        catalog: FlowSources,
        execution_writer: ExecutionWriter,
        producer: LogProducer,
        topics: Topics,
        states: TriggerStates,
        *,
        tick: dt.timedelta = dt.timedelta(seconds=1),
        clock: Callable[[], dt.datetime] = _now,
        backfill_slots_per_tick: int = BACKFILL_SLOTS_PER_TICK,
    ) -> None:
        self.tenant = tenant
        self.catalog = catalog
        self.execution_writer = execution_writer
        self.producer = producer
        self.topics = topics
        self.states = states
        self.tick_length = tick
        self.clock = clock
        self.backfill_batch = backfill_slots_per_tick
        # What this process fired, until the followed states show it (they lag our
        # own writes by the follower's poll): trigger key -> last scheduled time, and
        # trigger key -> (backfill, last slot).
        self.last_fired: dict[str, dt.datetime] = {}
        self.backfill_done: dict[str, tuple[str, dt.datetime]] = {}
        self._completed: set[tuple[str, str]] = set()
        self.specs = TriggerSpecs(catalog, tenant, schedule.MODELS, log)

    def _last_fired(self, key: str, state: TriggerState | None) -> dt.datetime | None:
        known = [t for t in (self.last_fired.get(key), state and state.last_scheduled) if t]
        return max(known) if known else None

    def tick(self) -> int:
        """Fire every due trigger once; returns how many executions were requested."""
        now = self.clock()
        fired = 0
        for running in self.specs.running():
            namespace, flow_id, trigger = running.namespace, running.flow_id, running.trigger
            assert isinstance(trigger, schedule.ScheduleTrigger | schedule.ScheduleOnDatesTrigger)
            history = self.catalog.history(self.tenant, namespace, flow_id)
            if history is None or not history.events:
                continue
            try:
                fired += self._tick_trigger(
                    namespace, flow_id, trigger, history.events[0].time, now
                )
            except (ValueError, OverflowError, KeyError) as exc:
                # One trigger that cannot be evaluated must not hold up the others.
                log.error(
                    "schedule trigger could not be evaluated",
                    extra={
                        "trigger": trigger_key(self.tenant, namespace, flow_id, trigger.id),
                        "error": str(exc)[:500],
                    },
                )
        return fired

    def _tick_trigger(
        self,
        namespace: str,
        flow_id: str,
        trigger: AnySchedule,
        since: dt.datetime,
        now: dt.datetime,
    ) -> int:
        key = trigger_key(self.tenant, namespace, flow_id, trigger.id)
        state = self.states.get(key)
        if trigger.disabled or (state is not None and state.disabled):
            return 0  # neither the schedule nor its backfill fire until enabled again
        fired = 0
        for scheduled in due(trigger, self._last_fired(key, state), since, now, self.tick_length):
            fired += self._fire(namespace, flow_id, trigger, scheduled, now)
        if state is not None and state.backfill is not None and not state.backfill_paused:
            fired += self._run_backfill(namespace, flow_id, trigger, state, state.backfill, now)
        return fired

    def _run_backfill(
        self,
        namespace: str,
        flow_id: str,
        trigger: AnySchedule,
        state: TriggerState,
        backfill: BackfillStarted,
        now: dt.datetime,
    ) -> int:
        """The backfill's next slots, in order, each once; then mark it completed."""
        backfill_id = backfill.identity
        if (state.key, backfill_id) in self._completed:
            return 0
        done = state.backfill_current
        mine = self.backfill_done.get(state.key)
        if mine is not None and mine[0] == backfill_id and (done is None or mine[1] > done):
            done = mine[1]
        end = backfill.end or backfill.time
        # Never ahead of the clock: a slot after now waits for its time.
        slots = backfill_slots(trigger, backfill.start, min(end, now), done, self.backfill_batch)
        for slot in slots:
            self._fire(namespace, flow_id, trigger, slot, now, backfill)
        if len(slots) < self.backfill_batch and end <= now:
            self._completed.add((state.key, backfill_id))
            stopped = BackfillStopped(
                tenant=self.tenant,
                namespace=namespace,
                flow_id=flow_id,
                trigger_id=trigger.id,
                time=now,
                reason="completed",
                backfill_id=backfill_id,
            )
            self.producer.send_and_wait(
                self.topics.trigger_events, stopped.key, stopped.model_dump_json().encode()
            )
            log.info(
                "backfill completed",
                extra={
                    "flow": f"{namespace}.{flow_id}",
                    "trigger": trigger.id,
                    "backfill_id": backfill_id,
                    "fired": state.backfill_fired + len(slots),
                },
            )
        return len(slots)

    def _fire(
        self,
        namespace: str,
        flow_id: str,
        trigger: AnySchedule,
        scheduled: dt.datetime,
        now: dt.datetime,
        backfill: BackfillStarted | None = None,
    ) -> int:
        backfill_id = backfill.identity if backfill is not None else None
        # A backfill's slot has an id of its own: a backfill re-runs dates the schedule
        # ran already (as Kestra's does), and the same backfill runs each slot once.
        execution_id = derive_id(
            self.tenant,
            namespace,
            flow_id,
            trigger.id,
            scheduled.isoformat(),
            *(("backfill", backfill_id) if backfill_id else ()),
        )
        inputs = dict(trigger.inputs)
        labels = dict(trigger.labels)
        if backfill is not None:
            inputs.update(backfill.inputs)
            labels.update(backfill.labels)
            labels[BACKFILL_LABEL[0]] = BACKFILL_LABEL[1]
        following = next_fire(trigger, scheduled)
        common = {
            "tenant": self.tenant,
            "namespace": namespace,
            "flow_id": flow_id,
            "trigger_id": trigger.id,
            "time": now,
            "scheduled": scheduled,
        }
        event: TriggerFired | TriggerFailed
        try:
            self.execution_writer.create(
                namespace,
                flow_id,
                inputs,
                actor=f"trigger:{trigger.id}",
                labels=labels,
                execution_id=execution_id,
                trigger={
                    "id": trigger.id,
                    "type": trigger.type,
                    "date": scheduled.isoformat(),
                    "next": following.isoformat() if following else None,
                },
            )
            event = TriggerFired(
                execution_id=execution_id,
                backfill_id=backfill_id,
                next_fire=following if backfill is None else None,
                **common,
            )
            log.info(
                "schedule fired",
                extra={
                    "flow": f"{namespace}.{flow_id}",
                    "trigger": trigger.id,
                    "scheduled": scheduled.isoformat(),
                    "execution_id": execution_id,
                    "backfill_id": backfill_id,
                    "lag_ms": round((now - scheduled).total_seconds() * 1000, 1),
                },
            )
        except REFUSED as exc:
            event = TriggerFailed(error=str(exc), backfill_id=backfill_id, **common)
            log.error(
                "schedule could not create an execution",
                extra={"flow": f"{namespace}.{flow_id}", "trigger": trigger.id, "error": str(exc)},
            )
        self.producer.send_and_wait(
            self.topics.trigger_events, event.key, event.model_dump_json().encode()
        )
        self._remember(event, backfill_id)
        return 1 if isinstance(event, TriggerFired) else 0

    def _remember(self, event: TriggerEventBase, backfill_id: str | None) -> None:
        scheduled = getattr(event, "scheduled", None)
        if not isinstance(scheduled, dt.datetime):
            return
        if backfill_id is not None:
            # A failed slot counts as done too: a backfill moves on, as Kestra's does.
            self.backfill_done[event.key] = (backfill_id, scheduled)
            return
        previous = self.last_fired.get(event.key)
        if previous is None or scheduled > previous:
            self.last_fired[event.key] = scheduled
