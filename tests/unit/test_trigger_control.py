"""The scheduler honours trigger state (disabled, backfills), and the triggers view folds
each trigger's events into one document, the same when read again."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import pytest

from api.web.queries import BadParameter
from api.web.trigger_list import TriggerRow, matches, sort_rows
from projections import mappings
from projections.batch import BatchProjector, RawRecord
from projections.execution_fold import ExecutionFolder
from projections.trigger_fold import FoldedTrigger, TriggerFolder, folded_from_doc, trigger_doc
from schemas.commands import CreateExecution
from schemas.events import FlowCreated
from schemas.flow import TriggerSpec
from schemas.triggers import (
    TRIGGER_EVENT_ADAPTER,
    BackfillPaused,
    BackfillStarted,
    TriggerDisabled,
    TriggerEnabled,
    TriggerEvent,
    TriggerFailed,
    TriggerFired,
)
from streams.flow_catalog import FlowSources
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from streams.scheduler.service import BACKFILL_LABEL, Scheduler
from streams.triggers.view import TriggerStates
from streams.writers.executions import ExecutionWriter

UTC = dt.UTC
TOPICS = Topics("unit.")
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
COMMON = {
    "tenant": "main",
    "namespace": "company.team",
    "flow_id": "hourly",
    "trigger_id": "every_hour",
}
FLOW = """
id: hourly
namespace: company.team
inputs:
  - id: who
    type: STRING
    defaults: nobody
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: every_hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"""


class FakeLog:
    """Stands in for the producer: records what the scheduler writes, in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, bytes]] = []

    def send_and_wait(
        self, topic: str, key: str, value: bytes, headers: Any = None, *, timeout_s: float = 30.0
    ) -> tuple[int, int]:
        self.records.append((topic, key, value))
        return 0, len(self.records) - 1

    def commands(self) -> list[CreateExecution]:
        return [
            CreateExecution.model_validate_json(v)
            for t, _k, v in self.records
            if t == TOPICS.commands
        ]

    def trigger_events(self) -> list[TriggerEvent]:
        return [
            TRIGGER_EVENT_ADAPTER.validate_json(v)
            for t, _k, v in self.records
            if t == TOPICS.trigger_events
        ]


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def scheduler(clock: Clock, states: TriggerStates, batch: int = 2) -> tuple[Scheduler, FakeLog]:
    catalog = FlowSources(PluginRegistry.discover())
    catalog.apply(
        FlowCreated(
            event_id="f1",
            tenant="main",
            namespace="company.team",
            flow_id="hourly",
            revision=1,
            time=T0 - dt.timedelta(minutes=30),
            actor="me",
            source=FLOW,
        )
    )
    fake = FakeLog()
    producer = cast(LogProducer, fake)
    execution_writer = ExecutionWriter(producer, catalog, TOPICS, "main")
    return Scheduler(
        "main",
        catalog,
        execution_writer,
        producer,
        TOPICS,
        states,
        clock=clock,
        backfill_slots_per_tick=batch,
    ), fake


def test_a_disabled_trigger_stops_firing_and_an_enable_recovers_missed_slots() -> None:
    clock, states = Clock(T0), TriggerStates()
    sched, log = scheduler(clock, states)
    assert sched.tick() == 1  # 12:00
    states.apply(TriggerDisabled(reason="by ada", time=T0, **COMMON))
    clock.now = T0 + dt.timedelta(hours=2)
    assert sched.tick() == 0
    states.apply(TriggerEnabled(time=clock.now, **COMMON))
    # recoverMissedSchedules defaults to ALL, as in Kestra: 13:00 and 14:00 both run.
    assert sched.tick() == 2
    assert [c.trigger["date"] for c in log.commands() if c.trigger] == [
        T0.isoformat(),
        (T0 + dt.timedelta(hours=1)).isoformat(),
        (T0 + dt.timedelta(hours=2)).isoformat(),
    ]


def test_a_backfill_runs_its_slots_in_order_once_each_then_completes() -> None:
    clock, states = Clock(T0 + dt.timedelta(minutes=10)), TriggerStates()
    sched, log = scheduler(clock, states, batch=2)
    started = BackfillStarted(
        backfill_id="b1",
        start=T0 - dt.timedelta(hours=4),
        end=T0 - dt.timedelta(hours=1),
        time=T0,
        actor="ada",
        inputs={"who": "backfill"},
        labels={"run": "redo"},
        **COMMON,
    )
    states.apply(started)
    folded = 0
    for _ in range(10):
        sched.tick()
        for event in log.trigger_events()[folded:]:
            states.apply(event)  # what the live follower does with what was written
            folded += 1
        state = states.get(started.key)
        if state is not None and state.backfill is None:
            break
    commands = [c for c in log.commands() if c.labels.get(BACKFILL_LABEL[0])]
    dates = [c.trigger["date"] for c in commands if c.trigger]
    assert dates == [(T0 - dt.timedelta(hours=h)).isoformat() for h in (4, 3, 2, 1)]
    assert all(c.inputs == {"who": "backfill"} and c.labels["run"] == "redo" for c in commands)
    assert len({c.execution_id for c in commands}) == 4
    stops = [e for e in log.trigger_events() if e.type == "BackfillStopped"]
    assert len(stops) == 1 and stops[0].reason == "completed"  # type: ignore[union-attr]
    # A second scheduler (a new leader) with the same state fires no slot again.
    again, again_log = scheduler(clock, states, batch=2)
    again.tick()
    assert not [c for c in again_log.commands() if c.labels.get(BACKFILL_LABEL[0])]


def test_a_paused_backfill_fires_nothing_and_goes_on_where_it_stopped() -> None:
    clock, states = Clock(T0), TriggerStates()
    sched, log = scheduler(clock, states, batch=1)
    states.apply(
        BackfillStarted(
            backfill_id="b1",
            start=T0 - dt.timedelta(hours=3),
            end=T0 - dt.timedelta(hours=1),
            time=T0,
            **COMMON,
        )
    )
    sched.tick()
    states.apply(BackfillPaused(paused=True, backfill_id="b1", time=T0, **COMMON))
    sched.tick()
    states.apply(BackfillPaused(paused=False, backfill_id="b1", time=T0, **COMMON))
    sched.tick()
    backfilled = [
        c.trigger["date"] for c in log.commands() if c.trigger and c.labels.get(BACKFILL_LABEL[0])
    ]
    assert backfilled == [(T0 - dt.timedelta(hours=h)).isoformat() for h in (3, 2)]


def test_a_backfill_slot_over_the_input_limit_is_recorded_failed_and_passed() -> None:
    # Refused by the execution writer's size check (InputsTooLarge): the slot is a TriggerFailed
    # and the backfill goes on, instead of the slot being tried again at every tick.
    clock, states = Clock(T0), TriggerStates()
    sched, log = scheduler(clock, states, batch=1)
    states.apply(
        BackfillStarted(
            backfill_id="b1",
            start=T0 - dt.timedelta(hours=2),
            end=T0 - dt.timedelta(hours=1),
            time=T0,
            inputs={"who": "x" * 1024 * 1024},
            **COMMON,
        )
    )
    sched.tick()
    sched.tick()
    failed = [e for e in log.trigger_events() if isinstance(e, TriggerFailed)]
    assert [e.scheduled for e in failed] == [T0 - dt.timedelta(hours=2), T0 - dt.timedelta(hours=1)]
    assert "limits.input_bytes" in failed[0].error
    assert not [c for c in log.commands() if c.labels.get(BACKFILL_LABEL[0])]


def test_a_stored_trigger_that_does_not_check_is_reported_once_and_never_fires(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A stored revision is not re-checked on read: the scheduler checks it, once.
    clock, states = Clock(T0), TriggerStates()
    sched, log = scheduler(clock, states)
    bad = FLOW.replace('cron: "0 * * * *"', 'cron: "0 * * 99 *"').replace(
        "id: hourly", "id: broken"
    )
    sched.catalog.apply(
        FlowCreated(
            event_id="f2",
            tenant="main",
            namespace="company.team",
            flow_id="broken",
            revision=1,
            actor="me",
            source=bad,
            time=T0 - dt.timedelta(minutes=30),
        )
    )
    with caplog.at_level("ERROR", logger="lanner.scheduler"):
        assert sched.tick() == 1  # the valid flow's 12:00 only
        clock.now = T0 + dt.timedelta(hours=1)
        assert sched.tick() == 1
    reports = [r for r in caplog.records if r.getMessage() == "invalid trigger"]
    assert len(reports) == 1 and "broken" in str(reports[0].__dict__["trigger"])
    assert {c.flow.flow_id for c in log.commands()} == {"hourly"}


def _records(events: list[TriggerEvent]) -> list[RawRecord]:
    return [
        RawRecord(TOPICS.trigger_events, 0, n, e.key, e.model_dump_json().encode())
        for n, e in enumerate(events)
    ]


def test_the_triggers_view_is_the_folded_state_and_a_replay_changes_nothing() -> None:
    stored: dict[str, dict[str, Any]] = {}

    def load(keys: list[str]) -> dict[str, FoldedTrigger]:
        found = {k: folded_from_doc(stored[k]) for k in keys if k in stored}
        return {k: v for k, v in found.items() if v is not None}

    events: list[TriggerEvent] = [
        TriggerFired(
            execution_id="x1", scheduled=T0, next_fire=T0 + dt.timedelta(hours=1), time=T0, **COMMON
        ),
        TriggerDisabled(reason="by ada", time=T0, **COMMON),
        TriggerFired(
            execution_id="x2",
            scheduled=T0 + dt.timedelta(hours=1),
            next_fire=T0 + dt.timedelta(hours=2),
            time=T0,
            **COMMON,
        ),
    ]
    projector = BatchProjector(
        TOPICS, ExecutionFolder(lambda ids: {}), lambda k: None, TriggerFolder(load)
    )
    malformed = RawRecord(TOPICS.trigger_events, 0, 9, "k", b"{not json")
    writes = projector.project([*_records(events[:2]), malformed])
    assert writes.malformed == 1
    [(doc_id, version, doc)] = writes.docs[mappings.TRIGGERS]
    assert (doc_id, version) == (events[0].key, 2)
    assert doc["disabled"] and doc["fired"] == 1
    stored[doc_id] = json.loads(json.dumps(doc))
    # A restarted indexer (empty memory) gets the whole batch again: only offset 2 is new.
    fresh = BatchProjector(
        TOPICS, ExecutionFolder(lambda ids: {}), lambda k: None, TriggerFolder(load)
    )
    [(_, version, doc)] = fresh.project(_records(events)).docs[mappings.TRIGGERS]
    assert version == 3 and doc["fired"] == 2 and doc["disabled"]
    assert doc["nextExecutionDate"] == (T0 + dt.timedelta(hours=2)).isoformat()
    # A rebuild from offset zero folds to the very same document.
    rebuilt = BatchProjector(
        TOPICS, ExecutionFolder(lambda ids: {}), lambda k: None, TriggerFolder(lambda keys: {})
    )
    [(_, version_again, doc_again)] = rebuilt.project(_records(events)).docs[mappings.TRIGGERS]
    assert (version_again, doc_again) == (version, doc)
    assert trigger_doc(FoldedTrigger(folded_from_doc(doc).state, 3)) == doc  # type: ignore[union-attr]


def _row(namespace: str, flow_id: str, trigger_id: str, kind: str = "Schedule") -> TriggerRow:
    spec = TriggerSpec.model_validate({"id": trigger_id, "type": f"io.kestra.{kind}"})
    return TriggerRow("main", namespace, flow_id, spec, None)


def test_trigger_rows_filter_by_namespace_prefix_flow_and_words_and_sort() -> None:
    rows = [
        _row("company.team", "b", "t2"),
        _row("company", "a", "t1", "Webhook"),
        _row("companyx", "c", "t3"),
    ]
    assert [r.flow_id for r in rows if matches(r, None, "company", None)] == ["b", "a"]
    assert [r.flow_id for r in rows if matches(r, "webhook", None, None)] == ["a"]
    assert [r.flow_id for r in sort_rows(rows, None)] == ["a", "b", "c"]
    assert [r.flow_id for r in sort_rows(rows, ["triggerId:desc"])] == ["c", "b", "a"]
    with pytest.raises(BadParameter):
        sort_rows(rows, ["color:asc"])
    context = rows[0].context()
    assert context["disabled"] is False and context["nextExecutionDate"] is None
