"""The scheduler: fires due schedule triggers as CreateExecution commands.

It runs as a leader-only Faust timer, so several scheduler processes can run and only
one fires. The execution id of a scheduled run is derived from (flow, trigger, scheduled
time): firing twice (a crash between the command and the trigger event, two leaders
during a rebalance) creates the execution once, because the executor ignores a second
CreateExecution for an execution it has.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from pydantic import ValidationError

from schemas.triggers import (
    SCHEDULE_TYPES,
    TRIGGER_EVENT_ADAPTER,
    ScheduleTrigger,
    TriggerEventBase,
    TriggerFailed,
    TriggerFired,
)
from streams.core.ids import derive_id
from streams.flow_catalog import FlowSources
from streams.gateway.executions import ExecutionGateway, InvalidInputs, UnknownFlow
from streams.log.producer import LogProducer
from streams.log.reader import read_all
from streams.log.topics import Topics
from streams.scheduler.cron import due, next_fire

log = logging.getLogger("lanner.scheduler")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    def __init__(
        self,
        tenant: str,
        catalog: FlowSources,
        gateway: ExecutionGateway,
        producer: LogProducer,
        topics: Topics,
        *,
        tick: dt.timedelta = dt.timedelta(seconds=1),
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.tenant = tenant
        self.catalog = catalog
        self.gateway = gateway
        self.producer = producer
        self.topics = topics
        self.tick_length = tick
        self.clock = clock
        self.last_fired: dict[str, dt.datetime] = {}
        self._reported_invalid: set[str] = set()

    def load_state(self, bootstrap: str) -> None:
        """Fold trigger-events: what each trigger last fired (the scheduler's memory)."""
        for record in read_all(bootstrap, self.topics.trigger_events):
            try:
                event = TRIGGER_EVENT_ADAPTER.validate_json(record.value)
            except ValidationError:
                log.warning(
                    "skipping a malformed trigger event",
                    extra={"partition": record.partition, "offset": record.offset},
                )
                continue
            self._remember(event)

    def _remember(self, event: TriggerEventBase) -> None:
        scheduled = getattr(event, "scheduled", None)
        if isinstance(scheduled, dt.datetime):
            previous = self.last_fired.get(event.key)
            if previous is None or scheduled > previous:
                self.last_fired[event.key] = scheduled

    def tick(self) -> int:
        """Fire every due trigger once; returns how many executions were requested."""
        now = self.clock()
        fired = 0
        for key in self.catalog.flow_keys():
            tenant, namespace, flow_id = key.split("/", 2)
            if tenant != self.tenant:
                continue
            history = self.catalog.history(tenant, namespace, flow_id)
            flow = self.catalog.get(tenant, namespace, flow_id)
            if history is None or flow is None or flow.flow.disabled or not history.events:
                continue
            since = history.events[0].time
            for spec in flow.flow.triggers:
                if spec.type not in SCHEDULE_TYPES:
                    continue
                trigger_key = f"{key}/{spec.id}"
                try:
                    trigger = ScheduleTrigger.model_validate(spec.model_dump(exclude_unset=True))
                except ValidationError as exc:
                    if trigger_key not in self._reported_invalid:
                        self._reported_invalid.add(trigger_key)
                        log.error(
                            "invalid schedule trigger",
                            extra={"trigger": trigger_key, "error": str(exc)},
                        )
                    continue
                for scheduled in due(
                    trigger, self.last_fired.get(trigger_key), since, now, self.tick_length
                ):
                    fired += self._fire(namespace, flow_id, trigger, scheduled, now)
        return fired

    def _fire(
        self,
        namespace: str,
        flow_id: str,
        trigger: ScheduleTrigger,
        scheduled: dt.datetime,
        now: dt.datetime,
    ) -> int:
        execution_id = derive_id(self.tenant, namespace, flow_id, trigger.id, scheduled.isoformat())
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
            self.gateway.create(
                namespace,
                flow_id,
                trigger.inputs,
                actor=f"trigger:{trigger.id}",
                labels=trigger.labels,
                execution_id=execution_id,
                trigger={
                    "id": trigger.id,
                    "type": trigger.type,
                    "date": scheduled.isoformat(),
                    "next": next_fire(trigger, scheduled).isoformat(),
                },
            )
            event = TriggerFired(
                execution_id=execution_id, next_fire=next_fire(trigger, scheduled), **common
            )
            log.info(
                "schedule fired",
                extra={
                    "flow": f"{namespace}.{flow_id}",
                    "trigger": trigger.id,
                    "scheduled": scheduled.isoformat(),
                    "execution_id": execution_id,
                },
            )
        except (InvalidInputs, UnknownFlow) as exc:
            event = TriggerFailed(error=str(exc), **common)
            log.error(
                "schedule could not create an execution",
                extra={"flow": f"{namespace}.{flow_id}", "trigger": trigger.id, "error": str(exc)},
            )
        self.producer.send_and_wait(
            self.topics.trigger_events, event.key, event.model_dump_json().encode()
        )
        self._remember(event)
        return 1 if isinstance(event, TriggerFired) else 0
