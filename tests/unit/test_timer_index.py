"""The executor's timers: due in time order, a replaced timer fires once at its new time,
a forgotten wake-up never fires, delayed commands survive the execution's end."""

from __future__ import annotations

import datetime as dt

from schemas.commands import WakeUp
from streams.app.watch import TimerIndex
from streams.core.forget import forget_command

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _wake(execution_id: str, run: str, seconds: int) -> WakeUp:
    due = T0 + dt.timedelta(seconds=seconds)
    return WakeUp(
        command_id=f"w:{run}", execution_id=execution_id, time=due, task_run_id=run, due=due
    )


def test_timers_fire_when_due_once_in_time_order() -> None:
    timers = TimerIndex()
    timers.add([_wake("e1", "b", 20), _wake("e2", "a", 10)])
    assert timers.due(T0) == []
    assert [c.command_id for c in timers.due(T0 + dt.timedelta(seconds=30))] == ["w:a", "w:b"]
    assert timers.due(T0 + dt.timedelta(seconds=60)) == [] and timers.pending == {}


def test_a_replaced_timer_fires_once_at_its_new_time() -> None:
    timers = TimerIndex()
    timers.add([_wake("e1", "a", 10)])
    timers.add([_wake("e1", "a", 40)])  # same command id, later
    assert timers.due(T0 + dt.timedelta(seconds=20)) == []
    assert len(timers.due(T0 + dt.timedelta(seconds=40))) == 1
    timers.add([_wake("e1", "a", 50), _wake("e1", "a", 50)])  # the same twice: one entry
    assert len(timers.due(T0 + dt.timedelta(seconds=50))) == 1


def test_an_ended_execution_keeps_its_delayed_commands_not_its_wake_ups() -> None:
    timers = TimerIndex()
    timers.add([_wake("e1", "a", 10)])
    forget = forget_command("e1", T0 + dt.timedelta(seconds=5))
    timers.add_command("e1", forget, forget.time)
    timers.forget("e1")
    assert timers.due(T0 + dt.timedelta(seconds=60)) == [forget]
