"""Time travel folds the history with evolve: at every delivery boundary the state as of
that seq is the very state the (simulated) executor held then."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from api.web.routes_flows import with_diffs
from streams.histories.as_of import AsOf, OutsideHistory, events_until, state_as_of
from tests.unit.core.driver import T0, Result, Sim

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _sim() -> Sim:
    sim = Sim(
        *[p.read_text() for p in sorted(FLOWS.glob("*.yml"))], outcomes={"pause_a_little": Result()}
    )
    sim.start("fan_out")
    return sim


def test_as_of_every_seq_is_the_state_the_executor_held() -> None:
    sim = _sim()
    history = sim.events["e1"]
    for snapshot in sim.snapshots["e1"]:
        assert state_as_of(history, AsOf(seq=snapshot.seq)) == snapshot
    assert state_as_of(history, AsOf(seq=len(history))) == sim.state()


def test_as_of_a_time_takes_the_events_up_to_it() -> None:
    sim = _sim()
    history = sim.events["e1"]
    when = history[5].time
    prefix = events_until(history, AsOf(time=when))
    assert prefix and all(e.time <= when for e in prefix)
    assert len(prefix) < len(history) and history[len(prefix)].time > when
    now = history[-1].time + dt.timedelta(hours=1)
    assert state_as_of(history, AsOf(time=now - dt.timedelta(minutes=1)), now) == sim.state()


@pytest.mark.parametrize("raw", ["0", "999"])
def test_outside_the_history_says_where_it_ends(raw: str) -> None:
    history = _sim().events["e1"]
    with pytest.raises(OutsideHistory) as refused:
        state_as_of(history, AsOf.parse(raw))
    assert refused.value.last_seq == len(history)


def test_times_before_creation_or_in_the_future_are_refused() -> None:
    history = _sim().events["e1"]
    with pytest.raises(OutsideHistory, match="before the execution was created"):
        events_until(history, AsOf(time=T0 - dt.timedelta(days=1)))
    with pytest.raises(OutsideHistory, match="in the future"):
        events_until(history, AsOf(time=T0 + dt.timedelta(days=1)), now=T0)


def test_parse() -> None:
    assert AsOf.parse("12") == AsOf(seq=12)
    assert AsOf.parse("2026-01-01T00:00:00Z") == AsOf(time=T0)
    assert AsOf.parse("2026-01-01T00:00:00") == AsOf(time=T0)
    with pytest.raises(ValueError, match="neither a sequence number"):
        AsOf.parse("yesterday")


def test_flow_revisions_carry_the_diff_from_the_previous_one() -> None:
    revisions = with_diffs(
        [
            {"revision": 1, "source": "id: f\ntasks: []\n"},
            {"revision": 2, "source": "id: f\ntasks: [a]\n"},
        ],
        "ns",
        "f",
    )
    assert revisions[0]["diff"].startswith("--- /dev/null\n+++ ns/f.yml@1\n")
    assert "-tasks: []\n+tasks: [a]\n" in revisions[1]["diff"]
    assert "--- ns/f.yml@1\n+++ ns/f.yml@2" in revisions[1]["diff"]
