"""Polls HTTP triggers (io.kestra.plugin.core.http.Trigger) and fires their executions.

The scheduler process runs one poller, on a thread of its own: every RECONCILE_S it
walks the enabled flows' HTTP triggers (streams/triggers/specs.py) and hands each trigger
that is due to a small thread pool, so a slow endpoint never delays the scheduler's
ticks nor another trigger (a trigger has at most one poll in flight; each poll is bounded
by its interval, MAX_POLL_S and MAX_BODY_BYTES). Only the leader polls.

Time is cut into slots of the trigger's `interval`; a trigger polls once per slot. A
poll whose condition holds requests an execution whose id is derived from (flow,
trigger, slot) and records TriggerFired with the slot as `scheduled`. So, after a
restart: a slot already recorded is not polled again, and a slot polled and fired but
not yet recorded fires the same execution id again, which the executor ignores. A failed
poll (no response, a condition that does not render, refused inputs) records
TriggerFailed with the reason, once per distinct reason; the next good poll records
ListenerRecovered. A poll whose condition is false records nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from schemas.triggers import ListenerRecovered, TriggerFailed, TriggerFired, trigger_key
from schemas.triggers.events import TriggerEventBase
from schemas.triggers.http import MODELS, HttpTrigger
from streams.core.expressions import ExpressionError
from streams.core.ids import derive_id
from streams.flow_catalog import FlowSources
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.triggers import http_poll
from streams.triggers.specs import RunningTrigger, TriggerSpecs
from streams.triggers.view import TriggerStates
from streams.writers.executions import REFUSED, ExecutionWriter

log = logging.getLogger("lanner.triggers.http")

RECONCILE_S = 0.25
MAX_PARALLEL_POLLS = 4
_POLL_FAILED: tuple[type[Exception], ...] = (
    http_poll.PollError,
    ExpressionError,
    ValueError,
    *REFUSED,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HttpTriggerPoller:
    def __init__(
        self,
        tenant: str,
        catalog: FlowSources,
        states: TriggerStates,
        execution_writer: ExecutionWriter,
        producer: LogProducer,
        topics: Topics,
        *,
        active: Callable[[], bool] = lambda: True,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.tenant = tenant
        self.catalog = catalog
        self.states = states
        self.execution_writer = execution_writer
        self.producer = producer
        self.topics = topics
        self.active = active
        self.clock = clock
        self.specs = TriggerSpecs(catalog, tenant, MODELS, log)
        # trigger key -> the last slot this process polled (the states lag our writes),
        # and the last error it recorded (recorded again only when it changes).
        self.last_slot: dict[str, dt.datetime] = {}
        self.errors: dict[str, str] = {}
        self.in_flight: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(MAX_PARALLEL_POLLS, thread_name_prefix="http-poll")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http-triggers", daemon=True)

    def start(self) -> HttpTriggerPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.wait(RECONCILE_S):
            try:
                if self.active():
                    self.poll_due()
            except Exception:
                log.exception("polling http triggers failed; trying again")

    def poll_due(self) -> list[Future[None]]:
        """Start a poll of every trigger due now; the polls started."""
        now = self.clock()
        started: list[Future[None]] = []
        for running in self.specs.running():
            trigger = running.trigger
            assert isinstance(trigger, HttpTrigger)
            key = trigger_key(self.tenant, running.namespace, running.flow_id, trigger.id)
            state = self.states.get(key)
            if trigger.disabled or (state is not None and state.disabled):
                continue
            slot = http_poll.slot_of(now, http_poll.interval_of(trigger))
            known = [t for t in (self.last_slot.get(key), state and state.last_scheduled) if t]
            with self._lock:
                if (known and slot <= max(known)) or key in self.in_flight:
                    continue
                self.last_slot[key] = slot
                future = self._pool.submit(self.poll, running, slot)
                self.in_flight[key] = future
            future.add_done_callback(self._done_callback(key))
            started.append(future)
        return started

    def _done_callback(self, key: str) -> Callable[[Future[None]], None]:
        def done(_future: Future[None]) -> None:
            with self._lock:
                self.in_flight.pop(key, None)

        return done

    def poll(self, running: RunningTrigger, slot: dt.datetime) -> None:
        """One poll: call, evaluate, fire or not; record what happened."""
        trigger = running.trigger
        assert isinstance(trigger, HttpTrigger)
        namespace, flow_id = running.namespace, running.flow_id
        key = trigger_key(self.tenant, namespace, flow_id, trigger.id)
        now = self.clock()
        context = http_poll.flow_context(namespace, flow_id)
        budget = min(http_poll.interval_of(trigger).total_seconds(), http_poll.MAX_POLL_S)
        common = {
            "tenant": self.tenant,
            "namespace": namespace,
            "flow_id": flow_id,
            "trigger_id": trigger.id,
            "scheduled": slot,
        }
        try:
            args = http_poll.request_args(trigger, context, now)
            response = http_poll.call(trigger, args, budget)
            met = http_poll.condition_met(trigger, response, context, now)
            if not met:
                log.debug("http trigger condition false", extra={"trigger": key})
                self._recovered(key, namespace, flow_id, trigger.id)
                return
            execution_id = derive_id(self.tenant, namespace, flow_id, trigger.id, slot.isoformat())
            self.execution_writer.create(
                namespace,
                flow_id,
                dict(trigger.inputs),
                actor=f"trigger:{trigger.id}",
                labels=dict(trigger.labels),
                execution_id=execution_id,
                trigger=http_poll.trigger_variables(trigger, response),
            )
        except _POLL_FAILED as exc:
            self._failed(key, str(exc)[:1000], common)
            return
        self.errors.pop(key, None)
        fired = TriggerFired(
            time=self.clock(),
            execution_id=execution_id,
            next_fire=slot + http_poll.interval_of(trigger),
            source={"code": response.code},
            **common,
        )
        self._send(fired)
        log.info(
            "http trigger fired",
            extra={"trigger": key, "code": response.code, "execution_id": execution_id},
        )

    def _failed(self, key: str, error: str, common: dict[str, object]) -> None:
        log.warning("http trigger poll failed", extra={"trigger": key, "error": error})
        state = self.states.get(key)
        if self.errors.get(key) == error or (state is not None and state.last_error == error):
            self.errors[key] = error
            return  # the same reason as last time: recorded once
        self.errors[key] = error
        self._send(TriggerFailed(time=self.clock(), error=error, **common))

    def _recovered(self, key: str, namespace: str, flow_id: str, trigger_id: str) -> None:
        state = self.states.get(key)
        had_error = self.errors.pop(key, None) is not None
        if had_error or (state is not None and state.last_error is not None):
            self._send(
                ListenerRecovered(
                    tenant=self.tenant,
                    namespace=namespace,
                    flow_id=flow_id,
                    trigger_id=trigger_id,
                    time=self.clock(),
                )
            )

    def _send(self, event: TriggerEventBase) -> None:
        self.producer.send_and_wait(
            self.topics.trigger_events, event.key, event.model_dump_json().encode()
        )
