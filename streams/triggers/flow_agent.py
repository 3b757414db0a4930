"""Flow triggers at run time: two Faust agents in the scheduler's app (the I/O edge).

`flow-trigger-matcher` reads `execution-events` (key: execution id). It keeps each
execution's facts (labels, its own trigger: only ExecutionCreated carries them) in a
changelog-backed table on the same partitions, and at every state change:

- matches the Flow triggers of the flows as they were then (streams/triggers/flow_index);
  a trigger without preconditions fires at once, with an execution id derived from
  (trigger, upstream execution, event seq): a redelivered event creates nothing new;
- sends ConditionsMet to `flow-trigger-conditions` (key: trigger) for a trigger with
  preconditions; `flow-trigger-join` keeps each trigger's JoinState in a second table and
  fires when the pure join (streams/triggers/flow_join) says so;
- writes TriggerDisabled when an execution started by a trigger ends in one of that
  trigger's `stopAfter` states.

Both agents read through ConsumedPositions (tracking records: Faust can skip records after a
restart, streams/log/gaps.py). A fire is requested *before* the join state that it
consumed is stored, so a crash in between fires again with the same derived id (a no-op
for the executor) instead of losing it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import faust

from schemas.events import (
    EXECUTION_EVENT_ADAPTER,
    EXECUTION_STATE_OF,
    ExecutionCreated,
    ExecutionEvent,
)
from schemas.settings import LannerSettings
from schemas.states import EXECUTION_TRANSITIONS
from schemas.triggers import (
    TriggerDisabled,
    TriggerEventBase,
    TriggerFailed,
    TriggerFired,
    trigger_key,
)
from schemas.triggers.upstream import ConditionsMet, ExecutionFacts, JoinState, UpstreamExecution
from streams.app.consumed_positions import ConsumedPositions
from streams.app.decoding import decode_or_log
from streams.app.faust_app import raw_topic
from streams.core.ids import derive_id
from streams.flow_catalog import LiveFlowCatalog
from streams.log.topics import Topics
from streams.triggers.flow_index import FlowTriggerIndex, Target
from streams.triggers.flow_join import join
from streams.triggers.flow_match import (
    TriggerInputError,
    concerns,
    met_preconditions,
    render_inputs,
    trigger_variables,
)
from streams.triggers.view import LiveTriggerStates
from streams.writers.executions import REFUSED, ExecutionWriter

log = logging.getLogger("lanner.flow_triggers")

# Every execution-level event has a type value starting so, whatever the JSON spacing;
# task run events (most of the topic) are passed over without decoding them.
_EXECUTION_MARK = b'"Execution'
FACTS_TABLE = "flow-trigger-facts"
JOINS_TABLE = "flow-trigger-joins"
# An agent step that raised is tried this many times in all, waiting longer each time.
STEP_ATTEMPTS = 3
RETRY_DELAY_S = 0.5
# A fire refused for good: recorded as TriggerFailed, not retried.
_REFUSED: tuple[type[Exception], ...] = (TriggerInputError, *REFUSED)
# How long the first match waits for the flow catalog and the trigger states to load.
CATCH_UP_S = 30.0


class FlowTriggers:
    def __init__(
        self,
        app: faust.App,
        settings: LannerSettings,
        catalog: LiveFlowCatalog,
        execution_writer: ExecutionWriter,
        states: LiveTriggerStates,
        positions: ConsumedPositions,
    ) -> None:
        self.tenant = settings.tenant_id
        self.catalog = catalog
        self.index = FlowTriggerIndex(catalog)
        self.execution_writer = execution_writer
        self.states = states
        self.positions = positions
        topics = Topics(settings.full_topic_prefix)
        self.events = raw_topic(app, topics.execution_events)
        self.conditions = raw_topic(app, topics.flow_trigger_conditions)
        self.trigger_events = raw_topic(app, topics.trigger_events)
        # Raw JSON by key (facts: execution id; joins: trigger key), on the partitions of
        # the topic that fills each.
        self.facts, self.joins = (
            app.Table(
                name, default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
            )
            for name in (FACTS_TABLE, JOINS_TABLE)
        )
        app.agent(self.events, name="flow-trigger-matcher")(self._match_agent)
        app.agent(self.conditions, name="flow-trigger-join")(self._join_agent)

    # --- execution-events -> facts, fires, ConditionsMet, stopAfter -------------------

    async def _match_agent(self, stream: Any) -> None:
        async for event in self.positions.events(stream):
            if _EXECUTION_MARK not in event.value:
                continue
            decoded = decode_or_log(
                event, EXECUTION_EVENT_ADAPTER.validate_json, "execution event", log
            )
            if decoded is None:
                continue
            await _retrying(
                partial(self._on_execution_event, decoded),
                "flow triggers could not process an execution event",
                {"execution_id": decoded.execution_id, "seq": decoded.seq},
            )

    async def _on_execution_event(self, event: ExecutionEvent) -> None:
        key = event.execution_id.encode()
        if isinstance(event, ExecutionCreated):
            facts = ExecutionFacts.model_validate(event, from_attributes=True)
            self.facts[key] = facts.model_dump_json().encode()
            return
        state = EXECUTION_STATE_OF.get(type(event))
        if state is None:
            return
        stored = self.facts.get(key)
        if stored is None:
            # A final event read again after its facts were dropped (already handled).
            log.debug(
                "no facts for an execution event; skipped",
                extra={"execution_id": event.execution_id, "seq": event.seq},
            )
            return
        facts = ExecutionFacts.model_validate_json(stored)
        upstream = UpstreamExecution(
            **facts.model_dump(exclude={"trigger"}),
            execution_id=event.execution_id,
            seq=event.seq,
            time=event.time,
            state=state,
            outputs=getattr(event, "outputs", None) or {},
        )
        if state.is_terminal and facts.trigger and isinstance(facts.trigger.get("id"), str):
            await self._stop_after(facts, str(facts.trigger["id"]), upstream)
        if facts.tenant == self.tenant:
            await self._match(upstream)
        if state.is_terminal and not EXECUTION_TRANSITIONS.get(state):
            # A final state (no restart can follow): its facts are needed no more, so the
            # table follows the executions that can still change, not all that ever ran.
            del self.facts[key]

    async def _match(self, upstream: UpstreamExecution) -> None:
        await self._catch_up()
        for target in self.index.targets_at(upstream.tenant, upstream.time):
            flow_key = (target.namespace, target.flow_id)
            if not concerns(target.trigger, flow_key, upstream) or self._operator_disabled(target):
                continue
            if target.trigger.preconditions is None:
                execution_id = derive_id(target.key, upstream.execution_id, upstream.seq)
                sources = [(upstream.execution_id, upstream.seq)]
                await self._fire(target, upstream, execution_id, sources)
                continue
            met = met_preconditions(target.trigger, upstream)
            if met:
                record = ConditionsMet(
                    tenant=target.tenant,
                    namespace=target.namespace,
                    flow_id=target.flow_id,
                    trigger_id=target.trigger.id,
                    flow_revision=target.revision,
                    conditions=met,
                    upstream=upstream,
                )
                await _delivered(self.conditions, record.key, record.model_dump_json())

    async def _catch_up(self) -> None:
        """Before the first match, and after a follower started its fold over, the flow
        catalog and the trigger states must hold what was written before (a restarted
        scheduler reads them from the start). Then their followers fold new flow and
        trigger events within milliseconds, and waiting for them on every event (a broker
        round trip each) was measured to add ~100 ms."""
        if self.catalog.settled and self.states.settled:
            return
        flows = await asyncio.to_thread(self.catalog.ready, CATCH_UP_S)
        states = await asyncio.to_thread(self.states.ready, CATCH_UP_S)
        if not (flows and states):
            log.warning("the flow catalog or the trigger states are still catching up")

    def _operator_disabled(self, target: Target) -> bool:
        state = self.states.get(target.key)
        return state is not None and state.disabled

    async def _stop_after(
        self, facts: ExecutionFacts, trigger_id: str, upstream: UpstreamExecution
    ) -> None:
        stop = self.index.stop_after(facts.tenant, facts.namespace, facts.flow_id, trigger_id)
        if str(upstream.state) not in stop:
            return
        key = trigger_key(facts.tenant, facts.namespace, facts.flow_id, trigger_id)
        current = self.states.get(key)
        if current is not None and current.disabled:
            return
        event = TriggerDisabled(
            tenant=facts.tenant,
            namespace=facts.namespace,
            flow_id=facts.flow_id,
            trigger_id=trigger_id,
            time=upstream.time,
            reason=f"stopAfter: {upstream.state}",
        )
        log.info(
            "trigger disabled by stopAfter",
            extra={"trigger": key, "execution_id": upstream.execution_id, "state": upstream.state},
        )
        await self._record(event)

    # --- flow-trigger-conditions -> join -> fire ------------------------------------

    async def _join_agent(self, stream: Any) -> None:
        async for event in self.positions.events(stream):
            met = decode_or_log(event, ConditionsMet.model_validate_json, "condition record", log)
            if met is None:
                continue
            await _retrying(
                partial(self._on_conditions_met, met),
                "flow trigger could not join a condition",
                {"trigger": met.key, "execution_id": met.upstream.execution_id},
            )

    async def _on_conditions_met(self, met: ConditionsMet) -> None:
        await self._catch_up()
        target = self.index.target(
            met.tenant, met.namespace, met.flow_id, met.flow_revision, met.trigger_id
        )
        if target is None and await asyncio.to_thread(
            # After a restart the catalog may still be reading flow-events.
            self.catalog.wait_for,
            met.tenant,
            met.namespace,
            met.flow_id,
            met.flow_revision,
            10.0,
        ):
            target = self.index.target(
                met.tenant, met.namespace, met.flow_id, met.flow_revision, met.trigger_id
            )
        if target is None or target.trigger.preconditions is None:
            log.warning(
                "a flow trigger's conditions name a trigger that does not exist",
                extra={"trigger": met.key, "revision": met.flow_revision},
            )
            return
        key = met.key.encode()
        stored = self.joins.get(key)
        state = JoinState.model_validate_json(stored) if stored else None
        new_state, fire = join(state, met, target.trigger.preconditions)
        if fire is not None and not self._operator_disabled(target):
            sources = [(s.execution_id, s.seq) for s in fire.sources]
            await self._fire(target, met.upstream, fire.execution_id, sources)
        if new_state != state:
            self.joins[key] = new_state.model_dump_json().encode()

    # --- effects ---------------------------------------------------------------------

    async def _fire(
        self,
        target: Target,
        upstream: UpstreamExecution,
        execution_id: str,
        sources: list[tuple[str, int]],
    ) -> None:
        trigger = target.trigger
        common = {
            "tenant": target.tenant,
            "namespace": target.namespace,
            "flow_id": target.flow_id,
            "trigger_id": trigger.id,
            "time": dt.datetime.now(dt.UTC),
        }
        event: TriggerFired | TriggerFailed
        try:
            inputs = render_inputs(trigger, upstream)
            await asyncio.to_thread(
                self.execution_writer.create,
                target.namespace,
                target.flow_id,
                inputs,
                actor=f"trigger:{trigger.id}",
                labels=trigger.label_map(),
                revision=target.revision,
                trigger=trigger_variables(trigger, upstream),
                execution_id=execution_id,
            )
        except _REFUSED as exc:
            event = TriggerFailed(error=str(exc), **common)
            log.error(
                "flow trigger could not create an execution",
                extra={"trigger": target.key, "upstream": upstream.execution_id, "error": str(exc)},
            )
        else:
            event = TriggerFired(
                execution_id=execution_id,
                source={
                    "executions": [{"executionId": e, "seq": seq} for e, seq in sources],
                },
                **common,
            )
            log.info(
                "flow trigger fired",
                extra={
                    "trigger": target.key,
                    "execution_id": execution_id,
                    "upstream": [e for e, _ in sources],
                },
            )
        await self._record(event)

    async def _record(self, event: TriggerEventBase) -> None:
        await _delivered(self.trigger_events, event.key, event.model_dump_json())


async def _retrying(step: Callable[[], Awaitable[None]], what: str, extra: dict[str, Any]) -> None:
    """Run an agent's step, again after an unexpected error (a broker that did not answer
    in time): every step is idempotent (derived ids, redelivered records dropped), so a
    retry is safe, and a fire is not lost to one transient error. After the last attempt
    the record is skipped: a stopped agent would halt every trigger on its partitions."""
    for attempt in range(1, STEP_ATTEMPTS + 1):
        try:
            await step()
            return
        except Exception:
            if attempt == STEP_ATTEMPTS:
                log.exception(f"{what}; skipped", extra={**extra, "attempts": attempt})
                return
            log.warning(f"{what}; trying again", extra={**extra, "attempt": attempt}, exc_info=True)
            await asyncio.sleep(RETRY_DELAY_S * attempt)


async def _delivered(topic: Any, key: str, value: str) -> None:
    """Send and wait for the broker's ack: these records are rare (a match, a fire), and
    the facts of a final execution are dropped right after, so a crash must not find the
    drop on the changelog and the record lost with the producer's buffer."""
    pending = await topic.send(key=key.encode(), value=value.encode())
    await pending


def install_flow_triggers(
    app: faust.App,
    settings: LannerSettings,
    catalog: LiveFlowCatalog,
    execution_writer: ExecutionWriter,
    states: LiveTriggerStates,
) -> FlowTriggers:
    """Add the Flow trigger agents (and their tracking records) to the scheduler's app."""
    topics = Topics(settings.full_topic_prefix)
    positions = ConsumedPositions(
        app, settings.partitions, {topics.execution_events, topics.flow_trigger_conditions}
    )
    return FlowTriggers(app, settings, catalog, execution_writer, states, positions)
