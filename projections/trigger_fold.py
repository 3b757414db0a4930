"""Fold trigger-events into each trigger's TriggerState, and its `triggers` document.

The same shape as the execution fold: states in memory (LRU), a state not in memory is
read back from the view (`model`, and `offset`: the next record of its key to apply),
and a record below that offset is dropped. One trigger's events share one key, so one
partition: the offset orders them, and `offset` is the document's external version, so
a batch read again, a redelivery or a rebuild from offset zero writes the same documents.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.triggers import TriggerEvent, TriggerState, fold_trigger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldedTrigger:
    state: TriggerState
    # The offset after the last applied record of this trigger's key.
    offset: int


TriggerLoader = Callable[[list[str]], dict[str, FoldedTrigger]]


class TriggerFolder:
    def __init__(self, load: TriggerLoader, capacity: int = 10_000) -> None:
        self._load = load
        self._capacity = capacity
        self._states: OrderedDict[str, FoldedTrigger] = OrderedDict()

    def clear(self) -> None:
        """Forget every state (after a failed write or a rebalance): the view is the truth."""
        self._states.clear()

    def fold(self, events: list[tuple[int, TriggerEvent]]) -> dict[str, FoldedTrigger]:
        """Apply (offset, event) pairs in log order; return the states that changed."""
        missing = [
            key for key in dict.fromkeys(e.key for _, e in events) if key not in self._states
        ]
        if missing:
            for key, loaded in self._load(missing).items():
                self._remember(key, loaded)
        changed: dict[str, FoldedTrigger] = {}
        for offset, event in events:
            known = self._states.get(event.key)
            if known is not None and offset < known.offset:
                continue  # applied already: a redelivery or a rebuild
            folded = FoldedTrigger(fold_trigger(known.state if known else None, event), offset + 1)
            self._remember(event.key, folded)
            changed[event.key] = folded
        return changed

    def _remember(self, key: str, folded: FoldedTrigger) -> None:
        self._states[key] = folded
        self._states.move_to_end(key)
        while len(self._states) > self._capacity:
            self._states.popitem(last=False)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def trigger_context(state: TriggerState) -> dict[str, Any]:
    """Kestra's trigger context (its `Trigger`), with Lanner's own counters beside it."""
    backfill = state.backfill
    return {
        "tenantId": state.tenant,
        "namespace": state.namespace,
        "flowId": state.flow_id,
        "triggerId": state.trigger_id,
        # Kestra's `date`: the last scheduled date the trigger evaluated.
        "date": _iso(state.last_scheduled or state.last_fire),
        "nextExecutionDate": _iso(state.next_fire),
        # Kestra's `executionId`: the execution that holds (locks) the trigger. Lanner
        # never locks one (a derived execution id per slot, record or upstream fire
        # makes a second fire a no-op instead), so none ever does.
        "executionId": None,
        "locked": False,
        "updatedDate": _iso(state.updated),
        "disabled": state.disabled,
        "disabledReason": state.disabled_reason,
        "backfill": None
        if backfill is None
        else {
            "id": backfill.identity,
            "start": _iso(backfill.start),
            "end": _iso(backfill.end or backfill.time),
            "currentDate": _iso(state.backfill_current or backfill.start),
            "paused": state.backfill_paused,
            "fired": state.backfill_fired,
            "inputs": backfill.inputs,
            "labels": [{"key": k, "value": v} for k, v in backfill.labels.items()],
            "actor": backfill.actor,
        },
        "lastFireDate": _iso(state.last_fire),
        "lastExecutionId": state.last_execution_id,
        "fired": state.fired,
        "lastError": state.last_error,
        "errorSince": _iso(state.error_since),
        "positions": state.positions,
        "accepted": state.accepted,
        "deadLettered": state.dead_lettered,
        "lastBatch": None
        if state.last_batch is None
        else {
            "executionId": state.last_batch.execution_id,
            "uri": state.last_batch.uri,
            "count": state.last_batch.count,
            "ranges": {tp: list(r) for tp, r in state.last_batch.ranges.items()},
        },
    }


def trigger_doc(folded: FoldedTrigger) -> dict[str, Any]:
    """The `triggers` document: the context, search fields, and the model to go on from."""
    doc = trigger_context(folded.state)
    doc["key"] = folded.state.key
    doc["offset"] = folded.offset
    doc["model"] = folded.state.model_dump(mode="json")
    return doc


def folded_from_doc(doc: dict[str, Any]) -> FoldedTrigger | None:
    model, offset = doc.get("model"), doc.get("offset")
    if not isinstance(model, dict) or not isinstance(offset, int):
        return None  # a document of the older one-event shape: refold from its next event
    try:
        return FoldedTrigger(TriggerState.model_validate(model), offset)
    except ValidationError:
        log.warning(
            "stored trigger model does not validate; folding again from its next event",
            extra={"trigger": doc.get("key")},
        )
        return None
