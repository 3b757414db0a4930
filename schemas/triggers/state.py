"""A trigger's current state: a pure fold of its events (the triggers view, the scheduler)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from schemas.triggers.events import (
    BackfillPaused,
    BackfillStarted,
    BackfillStopped,
    BatchClosed,
    ListenerErrored,
    ListenerProgress,
    ListenerRecovered,
    TriggerDisabled,
    TriggerEnabled,
    TriggerEventBase,
    TriggerFailed,
    TriggerFired,
    trigger_key,
)


class TriggerState(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    flow_id: str
    trigger_id: str
    updated: dt.datetime
    disabled: bool = False
    disabled_reason: str | None = None
    last_fire: dt.datetime | None = None
    last_scheduled: dt.datetime | None = None
    last_execution_id: str | None = None
    next_fire: dt.datetime | None = None
    last_error: str | None = None
    error_since: dt.datetime | None = None
    backfill: BackfillStarted | None = None
    backfill_paused: bool = False
    # The last slot the running backfill fired (None: none yet), and how many it fired.
    backfill_current: dt.datetime | None = None
    backfill_fired: int = 0
    positions: dict[str, int] = Field(default_factory=dict)
    accepted: int = 0
    dead_lettered: int = 0
    last_batch: BatchClosed | None = None
    # The last batch that read each partition (`topic/partition`): a listener that takes
    # the partition over makes sure that batch's execution was requested.
    last_batches: dict[str, BatchClosed] = Field(default_factory=dict)
    fired: int = 0

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.trigger_id)


def fold_trigger(state: TriggerState | None, event: TriggerEventBase) -> TriggerState:
    """The state after `event`; the first event of a trigger starts it."""
    if state is None:
        state = TriggerState(
            tenant=event.tenant,
            namespace=event.namespace,
            flow_id=event.flow_id,
            trigger_id=event.trigger_id,
            updated=event.time,
        )
    changes: dict[str, object] = {"updated": max(state.updated, event.time)}
    if isinstance(event, TriggerFired) and event.execution_id == state.last_execution_id:
        # The same fire recorded again (a Flow trigger retried after a crash, two
        # schedulers during a rebalance): one execution, counted once.
        pass
    elif isinstance(event, TriggerFired | TriggerFailed) and event.backfill_id is not None:
        changes.update(_backfill_slot(state, event.backfill_id, event.scheduled))
        if isinstance(event, TriggerFired):
            changes.update(
                last_fire=event.time,
                last_execution_id=event.execution_id,
                fired=state.fired + 1,
                last_error=None,
                error_since=None,
            )
        else:
            changes.update(last_error=event.error, error_since=state.error_since or event.time)
    elif isinstance(event, TriggerFired):
        changes.update(
            last_fire=event.time,
            last_execution_id=event.execution_id,
            next_fire=event.next_fire,
            fired=state.fired + 1,
            last_error=None,
            error_since=None,
        )
        if event.scheduled is not None and (
            state.last_scheduled is None or event.scheduled > state.last_scheduled
        ):
            changes["last_scheduled"] = event.scheduled
    elif isinstance(event, TriggerFailed):
        changes.update(last_error=event.error, error_since=state.error_since or event.time)
        if event.scheduled is not None and (
            state.last_scheduled is None or event.scheduled > state.last_scheduled
        ):
            changes["last_scheduled"] = event.scheduled
    elif isinstance(event, TriggerDisabled):
        changes.update(disabled=True, disabled_reason=event.reason)
    elif isinstance(event, TriggerEnabled):
        changes.update(disabled=False, disabled_reason=None)
    elif isinstance(event, BackfillStarted):
        changes.update(
            backfill=event, backfill_paused=False, backfill_current=None, backfill_fired=0
        )
    elif isinstance(event, BackfillStopped):
        if _is_running(state, event.backfill_id):
            changes.update(backfill=None, backfill_paused=False, backfill_current=None)
    elif isinstance(event, BackfillPaused):
        if _is_running(state, event.backfill_id):
            changes["backfill_paused"] = event.paused
    elif isinstance(event, ListenerProgress):
        changes.update(
            positions=_furthest(state.positions, event.positions),
            accepted=state.accepted + event.accepted,
            dead_lettered=state.dead_lettered + event.dead_lettered,
        )
    elif isinstance(event, ListenerErrored):
        changes.update(last_error=event.error, error_since=state.error_since or event.time)
    elif isinstance(event, ListenerRecovered):
        changes.update(last_error=None, error_since=None)
    elif isinstance(event, BatchClosed):
        ends = {tp: end for tp, (_, end) in event.ranges.items()}
        changes.update(
            last_batch=event,
            last_batches={**state.last_batches, **dict.fromkeys(event.ranges, event)},
            positions=_furthest(state.positions, ends),
            last_execution_id=event.execution_id,
        )
    return state.model_copy(update=changes)


def _furthest(known: dict[str, int], reported: dict[str, int]) -> dict[str, int]:
    """Positions only move forward: a listener that lost a partition may report it late,
    behind the new owner's report."""
    merged = dict(known)
    for position, offset in reported.items():
        merged[position] = max(offset, merged.get(position, offset))
    return merged


def _is_running(state: TriggerState, backfill_id: str | None) -> bool:
    """A backfill runs, and it is the one named (None names whichever runs)."""
    running = state.backfill
    return running is not None and backfill_id in (None, running.identity)


def _backfill_slot(
    state: TriggerState, backfill_id: str, scheduled: dt.datetime | None
) -> dict[str, object]:
    """A slot of the running backfill moves it on; one of an older backfill does not."""
    current = state.backfill_current
    if (
        scheduled is None
        or state.backfill is None
        or state.backfill.identity != backfill_id
        or (current is not None and scheduled <= current)
    ):
        return {}
    return {"backfill_current": scheduled, "backfill_fired": state.backfill_fired + 1}
