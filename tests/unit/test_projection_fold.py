"""The indexer's translation of records into documents, without Kafka or Elasticsearch."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from api.web.queries import BadParameter, ExecutionFilter, label_pair, parse_sort
from projections import mappings
from projections.batch import BatchProjector, RawRecord
from projections.documents import execution_doc
from projections.execution_fold import ExecutionFolder, state_from_doc
from schemas.events import (
    ExecutionCreated,
    ExecutionEvent,
    ExecutionStarted,
    ExecutionSucceeded,
    FlowCreated,
    FlowDeleted,
    TaskRunCreated,
)
from schemas.execution import Execution
from schemas.states import State
from schemas.worker import LogLine
from streams.log.topics import Topics

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
TOPICS = Topics("lanner.main.")


def history(execution_id: str = "e1") -> list[ExecutionEvent]:
    common = {"execution_id": execution_id, "causation_id": "c", "correlation_id": execution_id}
    return [
        ExecutionCreated(
            seq=1,
            time=T0,
            tenant="main",
            namespace="company.team",
            flow_id="f",
            flow_revision=1,
            labels={"env": "prod"},
            **common,
        ),
        ExecutionStarted(seq=2, time=T0 + dt.timedelta(seconds=1), **common),
        TaskRunCreated(
            seq=3, time=T0 + dt.timedelta(seconds=1), task_run_id="r1", task_id="t", **common
        ),
        ExecutionSucceeded(seq=4, time=T0 + dt.timedelta(seconds=2), **common),
    ]


def record(topic: str, value: bytes, offset: int = 0, key: str | None = "e1") -> RawRecord:
    return RawRecord(topic, 0, offset, key, value)


class FakeView:
    def __init__(self) -> None:
        self.docs: dict[str, Execution] = {}
        self.loads = 0

    def load(self, ids: list[str]) -> dict[str, Execution]:
        self.loads += 1
        return {i: self.docs[i] for i in ids if i in self.docs}


def test_fold_skips_redelivered_events() -> None:
    view = FakeView()
    folder = ExecutionFolder(view.load)
    events = history()
    first = folder.fold(events[:3])
    assert first["e1"].seq == 3
    again = folder.fold(events)  # 1..3 again, then 4
    assert again["e1"].seq == 4 and again["e1"].state is State.SUCCESS
    assert folder.fold(events) == {}


def test_fold_continues_from_the_stored_state_after_a_restart() -> None:
    view = FakeView()
    events = history()
    view.docs["e1"] = ExecutionFolder(view.load).fold(events[:2])["e1"]
    folder = ExecutionFolder(view.load)  # a fresh process: empty memory
    changed = folder.fold(events[1:])
    assert changed["e1"].seq == 4
    assert list(changed["e1"].task_runs) == ["r1"]


def test_a_gap_is_skipped_without_stopping_the_fold() -> None:
    folder = ExecutionFolder(FakeView().load)
    events = history()
    assert folder.fold([events[0], events[2]])["e1"].seq == 1
    assert folder.fold([events[1]])["e1"].seq == 2


def test_lru_capacity_bounds_memory() -> None:
    view = FakeView()
    folder = ExecutionFolder(view.load, capacity=2)
    for n in range(5):
        folder.fold(history(f"e{n}")[:1])
    assert len(folder._states) == 2


def test_execution_document_keeps_the_model_for_folding() -> None:
    state = ExecutionFolder(FakeView().load).fold(history())["e1"]
    doc = json.loads(json.dumps(execution_doc(state)))
    assert doc["state"]["current"] == "SUCCESS"
    assert doc["labelPairs"] == ["env:prod"]
    assert doc["seq"] == 4
    assert state_from_doc(doc) == state


def test_batch_projects_events_logs_flows_and_skips_malformed() -> None:
    view = FakeView()
    projector = BatchProjector(TOPICS, ExecutionFolder(view.load), lambda key: None)
    flow = FlowCreated(
        event_id="f1",
        tenant="main",
        namespace="company.team",
        flow_id="x",
        revision=1,
        time=T0,
        actor="me",
        source="id: x\nnamespace: company.team\ndescription: hi\nlabels:\n"
        "  a: b\ntasks:\n  - id: p\n    type: Parallel\n    tasks:\n"
        "      - id: l\n        type: Log\n        message: m\n",
    )
    deleted = FlowDeleted(
        event_id="f2",
        tenant="main",
        namespace="company.team",
        flow_id="x",
        revision=1,
        time=T0,
        actor="me",
    )
    line = LogLine(
        tenant="main",
        namespace="company.team",
        flow_id="f",
        execution_id="e1",
        task_run_id="r1",
        task_id="t",
        attempt=1,
        level="WARN",
        message="careful",
        time=T0,
    )
    records = [
        record(TOPICS.execution_events, e.model_dump_json().encode(), n)
        for n, e in enumerate(history())
    ]
    records += [
        record(TOPICS.execution_events, b"{oops", 9),
        record(TOPICS.logs, line.model_dump_json().encode(), 0),
        record(TOPICS.flow_events, flow.model_dump_json().encode(), 0, "main/company.team/x"),
        record(TOPICS.flow_events, deleted.model_dump_json().encode(), 1, "main/company.team/x"),
    ]
    writes = projector.project(records)
    assert writes.malformed == 1
    assert [d[0] for d in writes.docs[mappings.EVENTS]] == ["e1:1", "e1:2", "e1:3", "e1:4"]
    [(doc_id, version, execution)] = writes.docs[mappings.EXECUTIONS]
    assert (doc_id, version, execution["state"]["current"]) == ("e1", 4, "SUCCESS")
    [(_, _, log)] = writes.docs[mappings.LOGS]
    assert log["levelRank"] == mappings.LEVEL_RANK["WARN"]
    flows = writes.docs[mappings.FLOWS]
    assert [(v, d["deleted"]) for _, v, d in flows] == [(1, False), (2, True)]
    assert flows[0][2]["taskTypes"] == ["Log", "Parallel"]
    assert flows[0][2]["labelPairs"] == ["a:b"]
    assert flows[1][2]["source"] == flow.source  # a deletion keeps what was deleted
    assert [d[0] for d in writes.docs[mappings.FLOW_REVISIONS]] == ["main/company.team/x/1"]


def test_execution_filter_builds_each_clause() -> None:
    query = ExecutionFilter(
        namespace="company",
        flow_id="f",
        states=[State.FAILED],
        labels=["env:prod"],
        start_date=T0,
        q="hello",
    ).query()
    text = json.dumps(query)
    for expected in (
        '"prefix": {"namespace": "company."}',
        '"flowId": "f"',
        '"state.current": ["FAILED"]',
        '"labelPairs": "env:prod"',
        '"state.startDate"',
        '"fulltext"',
    ):
        assert expected in text


def test_bad_parameters_are_named() -> None:
    with pytest.raises(BadParameter) as label:
        label_pair("nocolon")
    assert label.value.name == "labels"
    with pytest.raises(BadParameter) as sort:
        parse_sort("secret:asc", {"id"}, [])
    assert sort.value.name == "sort"
    assert parse_sort("id:desc", {"id"}, []) == [
        {"id": {"order": "desc", "unmapped_type": "keyword"}}
    ]
