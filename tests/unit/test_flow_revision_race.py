"""One writer per revision: two API processes deploying one flow at the same moment make
revisions N+1 and N+2, never two N+1 (the first write on the log has a revision; the
flow catalog, the views and the losing writer all see it so)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from projections import mappings
from projections.batch import BatchProjector, RawRecord
from projections.execution_fold import ExecutionFolder
from schemas.events import FLOW_EVENT_ADAPTER, FlowUpdated
from streams.flow_catalog import FlowSources
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from streams.writers.flows import Deployed, FlowWriter

TOPICS = Topics("t.main.")
FLOW = """\
id: f
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: {m}
"""


def _source(message: str) -> str:
    return FLOW.format(m=message)


class RacingLog:
    """A log whose next send lets a rival's write land first (the race), then this one."""

    def __init__(self, catalog: FlowSources) -> None:
        self.catalog = catalog
        self.records: list[bytes] = []
        self.rival: Callable[[], bytes] | None = None

    def send_and_wait(self, topic: str, key: str, value: bytes) -> tuple[int, int]:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            self._append(rival())
        self._append(value)
        return 0, len(self.records) - 1

    def _append(self, value: bytes) -> None:
        self.records.append(value)
        self.catalog.apply(FLOW_EVENT_ADAPTER.validate_json(value))


def test_the_second_writer_of_a_revision_loses_and_writes_the_next() -> None:
    registry = PluginRegistry.discover()
    catalog = FlowSources(registry)
    log = RacingLog(catalog)
    writer = FlowWriter(log, catalog, registry, TOPICS, "main")  # type: ignore[arg-type]
    first = writer.deploy(_source("one"), "alice", wait_s=0)
    assert isinstance(first, Deployed) and first.revision == 1

    def rival() -> bytes:
        event = FlowUpdated(
            event_id="rival",
            tenant="main",
            namespace="company.team",
            flow_id="f",
            revision=2,
            source=_source("from the other API"),
            time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            actor="bob",
        )
        return event.model_dump_json().encode()

    log.rival = rival
    mine = writer.deploy(_source("two"), "alice", wait_s=0)
    assert isinstance(mine, Deployed) and (mine.revision, mine.outcome) == (3, "updated")
    history = catalog.history("main", "company.team", "f")
    assert history is not None
    assert history.revisions[2] == _source("from the other API")
    assert history.revisions[3] == _source("two") and history.latest == 3
    # Four records on the log: 1, the rival's 2, my losing 2, my 3.
    revisions = [FLOW_EVENT_ADAPTER.validate_json(r).revision for r in log.records]
    assert revisions == [1, 2, 2, 3]

    # The views agree with the catalog: the losing write changes nothing.
    projector = BatchProjector(TOPICS, ExecutionFolder(lambda ids: {}), lambda key: None)
    records = [
        RawRecord(TOPICS.flow_events, 0, offset, "k", value)
        for offset, value in enumerate(log.records)
    ]
    writes = projector.project(records)
    kept = {doc_id: doc["source"] for doc_id, _, doc in writes.docs[mappings.FLOW_REVISIONS]}
    assert kept["main/company.team/f/2"] == _source("from the other API")
    assert len(writes.docs[mappings.FLOW_REVISIONS]) == 3
    assert [doc["revision"] for _, _, doc in writes.docs[mappings.FLOWS]] == [1, 2, 3]


def test_a_rival_writing_the_same_source_makes_the_deploy_unchanged() -> None:
    registry = PluginRegistry.discover()
    catalog = FlowSources(registry)
    log = RacingLog(catalog)
    writer = FlowWriter(log, catalog, registry, TOPICS, "main")  # type: ignore[arg-type]
    assert isinstance(writer.deploy(_source("one"), "alice", wait_s=0), Deployed)
    same = _source("two")

    def rival() -> bytes:
        event = FlowUpdated(
            event_id="rival",
            tenant="main",
            namespace="company.team",
            flow_id="f",
            revision=2,
            source=same,
            time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            actor="bob",
        )
        return event.model_dump_json().encode()

    log.rival = rival
    mine = writer.deploy(same, "alice", wait_s=0)
    assert isinstance(mine, Deployed) and (mine.revision, mine.outcome) == (2, "unchanged")
