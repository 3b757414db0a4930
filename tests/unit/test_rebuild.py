"""The rebuild's pure parts: which views and topics, generation names, where writes go."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, cast

import pytest
from rich.console import Console

from api.cli.projections import summary
from projections import mappings
from projections.apply import ViewWriter
from projections.audit import AUDIT
from projections.batch import RawRecord
from projections.generations import generation_of, next_physical, physical_name
from projections.range_reader import remaining
from projections.rebuild import RebuildReport, ViewReport, resolve_views, source_topics
from projections.store.client import BulkResult, SearchStore
from schemas.events import ExecutionCreated, ExecutionStarted
from schemas.worker import LogLine
from streams.log.topics import Topics

TOPICS = Topics("lanner.main.")
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


class FakeStore:
    """Records bulk writes and answers lookups from what was written, by index name."""

    def __init__(self, existing: set[str] | None = None) -> None:
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}
        self.existing = existing or set()
        self.lookups: list[str] = []

    def bulk_put(self, index: str, docs: list[tuple[str, int, dict[str, Any]]]) -> BulkResult:
        self.indices.setdefault(index, {}).update({doc_id: body for doc_id, _v, body in docs})
        return BulkResult(written=len(docs))

    def get_many(self, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        self.lookups.append(index)
        stored = self.indices.get(index, {})
        return {i: stored[i] for i in ids if i in stored}

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        self.lookups.append(index)
        return self.indices.get(index, {}).get(doc_id)

    def exists(self, name: str) -> bool:
        return name in self.existing


def test_all_views_by_default_in_a_stable_order() -> None:
    assert resolve_views(None) == list(mappings.MAPPINGS)
    assert resolve_views([]) == list(mappings.MAPPINGS)
    assert resolve_views(["logs", "flows", "logs"]) == ["flows", "logs"]


def test_audit_brings_the_execution_fold_along() -> None:
    assert resolve_views([AUDIT]) == [mappings.EXECUTIONS, AUDIT]


def test_unknown_views_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown view.*nope"):
        resolve_views(["flows", "nope"])


def test_source_topics_are_those_the_views_fold() -> None:
    assert source_topics(TOPICS, ["flows", "flow-revisions"]) == [TOPICS.flow_events]
    assert source_topics(TOPICS, ["executions", "events"]) == [TOPICS.execution_events]
    assert source_topics(TOPICS, ["logs"]) == [TOPICS.logs]
    assert set(source_topics(TOPICS, [AUDIT])) == {TOPICS.flow_events, TOPICS.execution_events}


def test_generation_names() -> None:
    assert physical_name("flows", 3) == "flows-v3"
    assert generation_of("flows", "flows-v3") == 3
    assert generation_of("flows", "flow-revisions-v2") == 0
    assert generation_of("flows", "flows") == 0  # a concrete index from before aliases
    assert generation_of("flows", None) == 0


def test_next_generation_skips_names_left_behind() -> None:
    store = cast(SearchStore, FakeStore(existing={"logs-v2", "logs-v3"}))
    assert next_physical(store, "logs", "logs-v1") == "logs-v4"
    assert next_physical(store, "flows", "flows-v7") == "flows-v8"
    assert next_physical(store, "flows", "flows") == "flows-v1"


def test_remaining_counts_offsets_between_positions_and_ends() -> None:
    starts = {("a", 0): 5, ("a", 1): 10}
    ends = {("a", 0): 8, ("a", 1): 10, ("b", 0): 4}
    assert remaining(starts, ends) == 3 + 0 + 4


def _history() -> list[RawRecord]:
    common = {"execution_id": "e1", "causation_id": "c", "correlation_id": "e1"}
    created = ExecutionCreated(
        seq=1,
        time=T0,
        tenant="main",
        namespace="company.team",
        flow_id="f",
        flow_revision=1,
        **common,
    )
    started = ExecutionStarted(seq=2, time=T0, **common)
    line = LogLine(
        tenant="main",
        namespace="company.team",
        flow_id="f",
        execution_id="e1",
        task_run_id="r1",
        task_id="t",
        attempt=1,
        level="INFO",
        message="hi",
        time=T0,
        index=0,
    )
    return [
        RawRecord(TOPICS.execution_events, 0, 0, "e1", created.model_dump_json().encode()),
        RawRecord(TOPICS.execution_events, 0, 1, "e1", started.model_dump_json().encode()),
        RawRecord(TOPICS.logs, 0, 0, "e1", line.model_dump_json().encode()),
    ]


def test_rebuild_writes_only_its_views_into_the_new_generation() -> None:
    fake = FakeStore()
    writer = ViewWriter(
        cast(SearchStore, fake), TOPICS, {mappings.EXECUTIONS: "executions-v2", AUDIT: "audit-v2"}
    )
    records = _history()
    writer.apply(records[:1], threading.Event())
    writer.folder.clear()  # as after an eviction: the state is read back from v2
    writer.apply(records[1:], threading.Event())
    assert set(fake.indices) == {"executions-v2", "audit-v2"}
    assert fake.indices["executions-v2"]["e1"]["state"]["current"] == "RUNNING"
    assert {doc["namespace"] for doc in fake.indices["audit-v2"].values()} == {"company.team"}
    assert set(fake.lookups) == {"executions-v2"}
    assert writer.stats.written_by_view == {mappings.EXECUTIONS: 2, AUDIT: 2}


def test_live_writer_writes_every_view_through_its_alias() -> None:
    fake = FakeStore()
    writer = ViewWriter(cast(SearchStore, fake), TOPICS)
    writer.apply(_history(), threading.Event())
    assert {mappings.EXECUTIONS, mappings.EVENTS, mappings.LOGS, AUDIT} <= set(fake.indices)


def test_summary_table_lists_every_view() -> None:
    report = RebuildReport(
        views=[
            ViewReport("flows", "lanner-main-flows-v2", "lanner-main-flows-v1", 12, 14, 0.5),
            ViewReport("logs", "lanner-main-logs-v1", None, 3, 3, 0.1),
        ],
        records=40,
        records_after_swap=2,
        seconds=1.5,
        kept_old=True,
    )
    console = Console(record=True, width=160)
    console.print(summary(report))
    text = console.export_text()
    assert "Rebuilt from 40 records" in text and "old indices kept" in text
    assert "lanner-main-flows-v2" in text and "12" in text and "lanner-main-flows-v1" in text
