"""`lanner projections rebuild` on the real Kafka broker and the real Elasticsearch node.

Executor and worker run as processes, the live indexer and the API in-process (as in
test_api.py). The live indexer's views are the reference a rebuild must reproduce, and
the API is queried from another thread for the whole rebuild.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from projections import mappings
from projections.audit import AUDIT
from projections.documents import api_view
from projections.generations import generation_of, physical_name
from projections.lag import indexer_lag
from projections.rebuild import RebuildAborted, RebuildProgress, rebuild
from projections.store.client import SearchStore
from tests.integration.stack import LOG_FLOW, Stack, wait_for

VIEWS = [
    mappings.FLOWS,
    mappings.FLOW_REVISIONS,
    mappings.EXECUTIONS,
    mappings.EVENTS,
    mappings.LOGS,
    AUDIT,
]
Docs = dict[str, dict[str, dict[str, Any]]]


@dataclass
class Views:
    """The shared stack, seen from the storage side, with a few helpers."""

    stack: Stack
    store: SearchStore
    es: Elasticsearch

    @property
    def http(self) -> Any:
        return self.stack.http

    def deploy(self, source: str, update: str | None = None) -> None:
        headers = {"content-type": "application/x-yaml"}
        response = (
            self.http.put(f"/flows/{update}", content=source, headers=headers)
            if update
            else self.http.post("/flows", content=source, headers=headers)
        )
        assert response.status_code == 200, response.text

    def run(self, ns: str, flow_id: str, inputs: dict[str, Any] | None = None) -> str:
        response = self.http.post(
            f"/executions/{ns}/{flow_id}", json=inputs or {}, params={"labels": ["team:rebuild"]}
        )
        assert response.status_code in (200, 202), response.text
        execution_id: str = response.json()["id"]
        return execution_id

    def until_ended(self, execution_id: str, timeout_s: float = 60.0) -> None:
        self.stack.until_ended(execution_id, timeout_s)

    def until_indexed(self) -> None:
        wait_for(
            lambda: all(p.lag == 0 for p in indexer_lag(self.stack.settings)),
            30,
            "the live indexer to catch up",
        )

    def generation(self, view: str) -> str:
        found = self.store.index_for_alias(view)
        assert found is not None, view
        return found

    def docs(self, index: str) -> dict[str, dict[str, Any]]:
        """Every document of an index (short name), by id."""
        full = self.store.full_name(index)
        self.es.indices.refresh(index=full)
        response = self.es.search(index=full, query={"match_all": {}}, size=10_000)
        return {hit["_id"]: hit["_source"] for hit in response["hits"]["hits"]}

    def views(self) -> Docs:
        return {view: self.docs(self.generation(view)) for view in VIEWS}


@pytest.fixture(scope="module")
def views(stack: Stack) -> Iterator[Views]:
    settings = stack.settings
    store = SearchStore(settings.elasticsearch_url, settings.full_index_prefix)
    es = Elasticsearch(settings.elasticsearch_url)
    try:
        yield Views(stack, store, es)
    finally:
        store.close()
        es.close()


@dataclass
class ApiProbe:
    """Queries the API in a loop from its own thread; remembers every bad answer."""

    stack: Views
    ns: str
    executions: list[str]
    flows: int
    problems: list[str] = field(default_factory=list)
    rounds: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _check(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.stack.http.get(path, params=params)
        if response.status_code != 200:
            self.problems.append(f"{path}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def _loop(self) -> None:
        with_logs = self.executions[0]
        while not self.stop.is_set():
            found = self._check("/executions/search", {"namespace": self.ns, "size": 100})
            if found is not None and found["total"] < len(self.executions):
                self.problems.append(f"execution search found {found['total']}")
            flows = self._check("/flows/search", {"namespace": self.ns})
            if flows is not None and flows["total"] < self.flows:
                self.problems.append(f"flow search found {flows['total']}")
            one = self._check(f"/executions/{with_logs}")
            if one is not None and one["state"]["current"] != "SUCCESS":
                self.problems.append(f"execution {with_logs} is {one['state']['current']}")
            for path in (f"/executions/{with_logs}/events", f"/logs/{with_logs}"):
                listed = self._check(path)
                if listed is not None and not listed:
                    self.problems.append(f"{path} is empty")
            self.rounds += 1

    def __enter__(self) -> ApiProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def _assert_same(expected: Docs, actual: Docs, *, extra_ok: set[str] = frozenset()) -> None:
    """Every expected document is in `actual`, equal; `actual` holds nothing else but
    documents of the executions in `extra_ok` (created while rebuilding)."""
    for view in VIEWS:
        for doc_id, doc in expected[view].items():
            got = actual[view].get(doc_id)
            assert got is not None, f"{view}/{doc_id} missing after the rebuild"
            if view == mappings.EXECUTIONS:
                assert api_view(got) == api_view(doc), f"{view}/{doc_id} (Kestra shape)"
            assert got == doc, f"{view}/{doc_id} differs"
        for doc_id in set(actual[view]) - set(expected[view]):
            doc = actual[view][doc_id]
            owner = doc.get("executionId", doc.get("id"))
            assert owner in extra_ok, f"{view}/{doc_id} appeared from nowhere: {doc}"


def test_rebuild_reproduces_the_live_views_while_the_api_answers(views: Views) -> None:
    stack = views
    ns = f"company.t{secrets.token_hex(3)}"
    stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.05"))
    stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"), update=f"{ns}/hello")
    stack.deploy(LOG_FLOW.format(id="other", ns=ns, sleep="0.05"))
    stack.deploy(LOG_FLOW.format(id="gone", ns=ns, sleep="0.05"))
    assert stack.http.delete(f"/flows/{ns}/gone").status_code == 204
    executions = [stack.run(ns, "hello", {"name": f"n{i}"}) for i in range(4)]
    executions += [stack.run(ns, "other") for _ in range(2)]
    for execution_id in executions:
        stack.until_ended(execution_id)
    stack.until_indexed()
    live = stack.views()
    assert live[mappings.FLOWS][f"main/{ns}/gone"]["deleted"] is True
    assert all(stack.generation(view) == f"{view}-v1" for view in VIEWS)

    # Live traffic for the whole rebuild: executions the live indexer projects while the
    # rebuild replays, swaps and settles, so some land in generation 1 after the
    # rebuild's replay read past them, and some straddle the swap.
    during: list[str] = []
    rebuilt = threading.Event()

    def traffic() -> None:
        while not rebuilt.is_set() and len(during) < 40:
            during.append(stack.run(ns, "other", {"name": f"during{len(during)}"}))
            time.sleep(0.05)

    steps: list[RebuildProgress] = []
    with ApiProbe(stack, ns, executions, flows=2) as probe:
        wait_for(lambda: probe.rounds >= 2, 30, "the API probe to run")
        mover = threading.Thread(target=traffic)
        mover.start()
        try:
            report = rebuild(stack.stack.settings, None, steps.append, keep_old=True)
        finally:
            rebuilt.set()
            mover.join(timeout=60)
        rounds_during = probe.rounds
    assert probe.problems == [], probe.problems[:10]
    assert rounds_during >= 3
    # Every view moved to generation 2; generation 1 was kept.
    assert {v.view: v.index for v in report.views} == {
        view: stack.store.full_name(f"{view}-v2") for view in mappings.MAPPINGS
    }
    assert all(stack.generation(view) == f"{view}-v2" for view in VIEWS)
    assert stack.store.exists("executions-v1")
    phases = [s.phase for s in steps]
    assert phases.index("replay") < phases.index("swap") < phases.index("after swap")
    assert steps[-1].done == steps[-1].total > 0
    counts = {v.view: v.documents for v in report.views}
    assert counts[mappings.EXECUTIONS] >= len(executions)
    assert counts[mappings.FLOWS] == 3 and counts[mappings.FLOW_REVISIONS] == 4

    _assert_same(live, stack.views(), extra_ok=set(during))

    # The executions started during the rebuild end normally, read from generation 2.
    for execution_id in during:
        stack.until_ended(execution_id)
    stack.until_indexed()
    settled = stack.views()
    assert {e for e in during if e in settled[mappings.EXECUTIONS]} == set(during)

    # A second rebuild reproduces generation 2 exactly, including what the live indexer
    # wrote across the swap: rebuilding is idempotent.
    again = rebuild(stack.stack.settings, None, keep_old=False)
    assert all(stack.generation(view) == f"{view}-v3" for view in VIEWS)
    assert not stack.store.exists("executions-v2")
    assert stack.store.exists("executions-v1")  # kept by the first rebuild, not ours
    assert again.records >= report.records
    assert stack.views() == settled


def test_cli_rebuilds_one_view(views: Views) -> None:
    stack = views
    from typer.testing import CliRunner

    from api.cli.main import app

    ns = f"company.t{secrets.token_hex(3)}"
    stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.05"))
    execution_id = stack.run(ns, "hello", {"name": "Cli"})
    stack.until_ended(execution_id)
    stack.until_indexed()
    before = {view: stack.generation(view) for view in mappings.MAPPINGS}
    logs_before = stack.docs(before[mappings.LOGS])

    settings = stack.stack.settings
    env = {
        "LANNER_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "LANNER_ELASTICSEARCH_URL": settings.elasticsearch_url,
        "LANNER_TOPIC_PREFIX": settings.topic_prefix,
        "LANNER_INDEX_PREFIX": settings.index_prefix,
        "LANNER_LOG_LEVEL": "WARNING",
    }
    result = CliRunner().invoke(app, ["projections", "rebuild", "--index", "logs"], env=env)
    assert result.exit_code == 0, result.output
    assert "logs" in result.output and "documents" in result.output

    after = {view: stack.generation(view) for view in mappings.MAPPINGS}
    assert after == {**before, mappings.LOGS: after[mappings.LOGS]}
    assert after[mappings.LOGS] != before[mappings.LOGS]
    assert not stack.store.exists(before[mappings.LOGS])  # the old generation is gone
    assert stack.docs(after[mappings.LOGS]) == logs_before
    lines = stack.http.get(f"/logs/{execution_id}").json()
    assert any(line["message"] == "Hello Cli" for line in lines)

    unknown = CliRunner().invoke(app, ["projections", "rebuild", "--index", "nope"], env=env)
    assert unknown.exit_code == 2 and "unknown view" in unknown.output


def test_a_stopped_rebuild_leaves_the_views_as_they_were(views: Views) -> None:
    before = {view: views.generation(view) for view in mappings.MAPPINGS}
    stop = threading.Event()
    stop.set()
    with pytest.raises(RebuildAborted):
        rebuild(views.stack.settings, [mappings.LOGS], stop=stop)
    assert {view: views.generation(view) for view in mappings.MAPPINGS} == before
    # The half-built generation is gone: the next rebuild may take its name again.
    unused = physical_name(mappings.LOGS, generation_of(mappings.LOGS, before[mappings.LOGS]) + 1)
    assert not views.store.exists(unused)
