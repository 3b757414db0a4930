"""The trigger state fold: what the scheduler, the listeners and the triggers view see."""

from __future__ import annotations

import datetime as dt
from functools import reduce

from schemas.triggers import (
    BackfillStarted,
    BatchClosed,
    ListenerErrored,
    ListenerProgress,
    ListenerRecovered,
    TriggerDisabled,
    TriggerEnabled,
    TriggerEventBase,
    TriggerFired,
    TriggerState,
    fold_trigger,
)

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
KEY = {"tenant": "main", "namespace": "ns", "flow_id": "f", "trigger_id": "t"}


def _at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def fold(*events: TriggerEventBase) -> TriggerState:
    state = reduce(fold_trigger, events, None)  # type: ignore[arg-type]
    assert state is not None
    return state


def test_positions_only_move_forward_whoever_reports_them() -> None:
    state = fold(
        ListenerProgress(**KEY, time=_at(1), positions={"o/0": 10, "o/1": 5}, accepted=15),
        ListenerProgress(**KEY, time=_at(2), positions={"o/0": 40}, accepted=30),
        # the partition's previous owner, late
        ListenerProgress(**KEY, time=_at(3), positions={"o/0": 12, "o/1": 7}, accepted=2),
    )
    assert state.positions == {"o/0": 40, "o/1": 7}
    assert state.accepted == 47


def test_a_batch_is_remembered_for_each_partition_it_read() -> None:
    first = BatchClosed(
        **KEY,
        time=_at(1),
        execution_id="e1",
        uri="kestra:///a",
        count=3,
        ranges={"o/0": (0, 2), "o/1": (0, 1)},
    )
    second = BatchClosed(
        **KEY, time=_at(2), execution_id="e2", uri="kestra:///b", count=1, ranges={"o/1": (1, 2)}
    )
    state = fold(first, second)
    assert state.last_batches["o/0"].execution_id == "e1"
    assert state.last_batches["o/1"].execution_id == "e2"
    assert state.positions == {"o/0": 2, "o/1": 2}
    assert state.last_execution_id == "e2"


def test_disable_enable_fire_and_errors() -> None:
    state = fold(
        TriggerFired(**KEY, time=_at(1), execution_id="x", scheduled=_at(1), next_fire=_at(2)),
        ListenerErrored(**KEY, time=_at(2), error="all brokers down"),
        TriggerDisabled(**KEY, time=_at(3), reason="maintenance"),
    )
    assert state.disabled and state.disabled_reason == "maintenance"
    assert state.last_error == "all brokers down" and state.error_since == _at(2)
    assert (state.last_execution_id, state.next_fire, state.fired) == ("x", _at(2), 1)
    state = fold_trigger(
        fold_trigger(state, TriggerEnabled(**KEY, time=_at(4))),
        ListenerRecovered(**KEY, time=_at(5)),
    )
    assert not state.disabled and state.last_error is None and state.updated == _at(5)


def test_a_fire_recorded_twice_counts_once() -> None:
    # A Flow trigger that crashed after recording its fire fires again with the same id.
    fired = TriggerFired(**KEY, time=_at(1), execution_id="x", scheduled=_at(1), next_fire=_at(2))
    again = fired.model_copy(update={"time": _at(3)})
    state = fold(fired, again)
    assert (state.fired, state.last_execution_id, state.last_fire) == (1, "x", _at(1))
    assert state.updated == _at(3)
    backfill = BackfillStarted(**KEY, time=_at(4), backfill_id="b", start=_at(0))
    slot = TriggerFired(**KEY, time=_at(5), execution_id="y", scheduled=_at(1), backfill_id="b")
    state = fold(fired, again, backfill, slot, slot)
    assert (state.fired, state.backfill_fired, state.backfill_current) == (2, 1, _at(1))
