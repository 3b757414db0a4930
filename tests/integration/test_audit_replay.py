"""Audit and replay on the real broker and the real Elasticsearch node.

A flow with a subflow runs, another execution is killed through the API; their
histories name every actor and link causes; the execution as of every seq matches the
state folded live; `history verify` reproduces every recorded event, and reports a
deliberately changed decision with its seq; an export of the namespace imported under
another topic prefix shows the same executions and logs through that prefix's API.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import streams.core.handle
from projections.documents import api_view, execution_doc
from schemas.commands import ExecutorMessage
from schemas.decode import decode_execution_event
from schemas.events import ExecutionEvent, TaskRunSucceeded
from schemas.execution import Execution
from schemas.settings import LannerSettings
from streams.core.evolve import evolve
from streams.core.validation import ValidatedFlow
from streams.histories.source import Selection, verify_log
from streams.log.admin import ensure_lanner_topics, wait_group_consuming
from streams.log.reader import read_all
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from tests.harness.common import free_ports, stop_process
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import distinct_history
from tests.integration.stack import InProcessIndexer, wait_for

REPO = Path(__file__).resolve().parents[2]

CHILD = """\
id: child
namespace: {ns}
inputs:
  - id: number
    type: INT
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.1S
  - id: double
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.number * 2 }}}}"
outputs:
  - id: doubled
    type: INT
    value: "{{{{ outputs.double.value }}}}"
"""

PARENT = """\
id: parent
namespace: {ns}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "asking the child"
  - id: call_child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {ns}
    flowId: child
    inputs:
      number: 21
    wait: true
    transmitFailed: true
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "The child answered {{{{ outputs.call_child.outputs.doubled }}}}"
"""

SLEEPY = """\
id: sleepy
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT{seconds}S
"""


@dataclass
class Api:
    settings: LannerSettings
    http: httpx.Client
    server: uvicorn.Server
    thread: threading.Thread
    indexer: InProcessIndexer
    env: dict[str, str]

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.full_topic_prefix)

    def json(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def deploy(self, source: str, method: str = "POST", path: str = "/flows") -> Any:
        return self.json(
            method, path, content=source, headers={"content-type": "application/x-yaml"}
        )

    def until_ended(self, execution_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            response = self.http.get(f"/executions/{execution_id}")
            body: dict[str, Any] = response.json() if response.status_code == 200 else {}
            ended = body.get("state", {}).get("current") in (
                "SUCCESS",
                "WARNING",
                "FAILED",
                "KILLED",
            )
            return body if ended else None

        return wait_for(probe, timeout_s, f"execution {execution_id} to end")

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.indexer.stop()


def start_api(kafka: KafkaBroker, es: ElasticsearchNode, work: Path) -> Api:
    prefix = f"t{secrets.token_hex(4)}"
    (port,) = free_ports(1)
    settings = LannerSettings(
        auth=False,  # these tests are about the API itself; tokens: test_tenants.py
        kafka_bootstrap=kafka.bootstrap,
        elasticsearch_url=es.url,
        topic_prefix=f"{prefix}.",
        index_prefix=prefix,
        partitions=2,
        worker_threads=2,
        scheduler_enabled=False,
        api_port=port,
        data_dir=str(work / prefix),
        read_your_writes_timeout_s=5.0,
    )
    ensure_lanner_topics(settings)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "LANNER_ELASTICSEARCH_URL": es.url,
        "LANNER_TOPIC_PREFIX": f"{prefix}.",
        "LANNER_INDEX_PREFIX": prefix,
        "LANNER_PARTITIONS": "2",
        "LANNER_WORKER_THREADS": "2",
        "LANNER_DATA_DIR": str(work / prefix),
        "LANNER_SCHEDULER_ENABLED": "false",
        "LANNER_LOG_LEVEL": "WARNING",
        "LANNER_URL": f"http://127.0.0.1:{port}",
        "COLUMNS": "250",
    }
    indexer = InProcessIndexer(settings).start()
    from api.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 60, "the API to start")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30)
    return Api(settings, http, server, thread, indexer, env)


@dataclass
class Ran:
    api: Api
    ns: str
    parent: dict[str, Any]
    child_id: str
    killed: dict[str, Any]
    kill_command: str
    work: Path


@pytest.fixture(scope="module")
def ran(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ran]:
    work = tmp_path_factory.mktemp("audit")
    api = start_api(kafka_broker, es_node, work)
    procs = []
    for role in ("executor", "worker"):
        out = (work / f"{role}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "api.cli.main", "server", role],
                env=api.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        )
    try:
        prefix = api.settings.full_topic_prefix
        wait_group_consuming(kafka_broker.bootstrap, f"{prefix}executor", api.topics.commands, 90)
        wait_group_consuming(kafka_broker.bootstrap, f"{prefix}worker", api.topics.worker_jobs, 90)
        ns = f"audit.t{secrets.token_hex(3)}"
        api.deploy(CHILD.format(ns=ns))
        api.deploy(PARENT.format(ns=ns))
        api.deploy(SLEEPY.format(ns=ns, seconds=30))
        # A second revision, so the flow's history has a diff.
        api.deploy(SLEEPY.format(ns=ns, seconds=60), "PUT", f"/flows/{ns}/sleepy")
        started = api.json("POST", f"/executions/{ns}/parent")
        parent = api.until_ended(started["id"])
        assert parent["state"]["current"] == "SUCCESS", parent
        call = next(r for r in parent["taskRunList"] if r["taskId"] == "call_child")
        child_id = call["outputs"].get("executionId") or next(
            e["child_execution_id"]
            for e in api.json("GET", f"/executions/{parent['id']}/events")
            if e.get("child_execution_id")
        )
        assert api.until_ended(child_id)["state"]["current"] == "SUCCESS"
        sleepy = api.json("POST", f"/executions/{ns}/sleepy")

        def running() -> bool:
            events = api.json(
                "GET", f"/executions/{sleepy['id']}/events", params={"type": "TaskRunRunning"}
            )
            return bool(events)

        wait_for(running, 60, "the sleepy task to run on a worker")
        kill = api.json("POST", f"/executions/{sleepy['id']}/kill", status=202)
        killed = api.until_ended(sleepy["id"])
        assert killed["state"]["current"] == "KILLED"
        yield Ran(api, ns, parent, child_id, killed, kill["commandId"], work)
    finally:
        for proc, role in zip(procs, ("executor", "worker"), strict=True):
            stop_process(proc, what=role)
        api.stop()


def _lanner(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _log_history(api: Api, execution_id: str) -> list[ExecutionEvent]:
    return list(
        distinct_history(
            [
                decode_execution_event(r.value)
                for r in read_all(api.settings.kafka_bootstrap, api.topics.execution_events)
                if r.key == execution_id
            ]
        )
    )


# --- history ---------------------------------------------------------------------------


def test_history_names_every_actor_and_links_causes(ran: Ran) -> None:
    api = ran.api
    parent = api.json("GET", f"/executions/{ran.parent['id']}/events")
    child = api.json("GET", f"/executions/{ran.child_id}/events")
    for history in (parent, child):
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
        for e in history:
            assert e["event_id"] == f"{e['execution_id']}:{e['seq']}"
            assert e["actor"] and e["causation_id"] and e["time"]
            # ExecutionCreated v2 adds `requested`, the request's time.
            assert e["version"] == (2 if e["type"] == "ExecutionCreated" else 1)
        created = history[0]
        assert datetime.fromisoformat(created["requested"]) <= datetime.fromisoformat(
            created["time"]
        )
    # One correlation id for the execution and its subflow.
    assert {e["correlation_id"] for e in parent + child} == {parent[0]["correlation_id"]}
    assert parent[0]["actor"] == "api"
    assert child[0]["actor"] == f"subflow:{ran.ns}.parent"
    assert child[0]["causation_id"] == f"command:create:{ran.child_id}"
    # The parent's subflow task ended because the child ended, and says so.
    ended = next(
        e
        for e in parent
        if e["type"] == "TaskRunSucceeded"
        and e["causation_id"].startswith("command:subflow-ended:")
    )
    assert ended["causation_id"] == f"command:subflow-ended:{ran.child_id}"
    assert any(e["actor"].startswith("worker:") for e in child)
    killed = api.json("GET", f"/executions/{ran.killed['id']}/events")
    killing = [e for e in killed if e["causation_id"] == f"command:{ran.kill_command}"]
    assert killing and {e["actor"] for e in killing} == {"api"}
    assert killing[0]["type"] == "ExecutionKilling"


def test_events_filter_by_type_in_the_api_and_the_cli(ran: Ran) -> None:
    api = ran.api
    only = api.json(
        "GET",
        f"/executions/{ran.killed['id']}/events",
        params={"type": ["ExecutionKilling", "ExecutionKilled"]},
    )
    assert [e["type"] for e in only] == ["ExecutionKilling", "ExecutionKilled"]
    done = _lanner(
        api.env, "execution", "events", ran.killed["id"], "--type", "ExecutionKilled", "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert [e["type"] for e in json.loads(done.stdout)] == ["ExecutionKilled"]
    table = _lanner(api.env, "execution", "events", ran.parent["id"])
    assert "ACTOR" in table.stdout and f"command:subflow-ended:{ran.child_id}" in table.stdout


def test_flow_history_has_actor_and_diff(ran: Ran) -> None:
    revisions = ran.api.json("GET", f"/flows/{ran.ns}/sleepy/revisions")
    assert [r["revision"] for r in revisions] == [1, 2]
    assert all(r["actor"] == "api" for r in revisions)
    assert "-    duration: PT30S\n+    duration: PT60S\n" in revisions[1]["diff"]
    done = _lanner(ran.api.env, "flow", "history", ran.ns, "sleepy")
    assert done.returncode == 0, done.stderr
    assert "revision 2" in done.stdout and "+    duration: PT60S" in done.stdout


# --- time travel ---------------------------------------------------------------------------


def test_as_of_every_seq_matches_the_state_folded_live(ran: Ran) -> None:
    api = ran.api
    for execution_id in (ran.parent["id"], ran.child_id, ran.killed["id"]):
        history = _log_history(api, execution_id)
        state: Execution | None = None
        for event in history:
            state = evolve(state, event)  # what a live consumer folded, event by event
            got = api.json("GET", f"/executions/{execution_id}", params={"asOf": event.seq})
            assert got["asOf"] == {
                "seq": event.seq,
                "time": event.time.isoformat(),
                "lastSeq": len(history),
            }
            assert {k: v for k, v in got.items() if k != "asOf"} == api_view(execution_doc(state))
        current = api.json("GET", f"/executions/{execution_id}")
        last = api.json("GET", f"/executions/{execution_id}", params={"asOf": len(history)})
        assert {k: v for k, v in last.items() if k != "asOf"} == current
        beyond = api.http.get(f"/executions/{execution_id}", params={"asOf": len(history) + 1})
        assert beyond.status_code == 422 and beyond.json()["lastSeq"] == len(history)
    by_time = api.json(
        "GET",
        f"/executions/{ran.parent['id']}",
        params={"asOf": _log_history(api, ran.parent["id"])[0].time.isoformat()},
    )
    assert by_time["state"]["current"] in ("CREATED", "RUNNING")
    cli = _lanner(api.env, "execution", "get", ran.killed["id"], "--as-of", "2")
    assert cli.returncode == 0 and "as of event 2" in cli.stdout


# --- replay ----------------------------------------------------------------------------------


def test_history_verify_reproduces_every_execution(ran: Ran) -> None:
    api = ran.api
    report, _stats = verify_log(
        api.settings.kafka_bootstrap,
        api.topics,
        Selection(namespace=ran.ns),
        PluginRegistry.discover(),
    )
    assert report.executions == 3
    assert report.divergences == []
    assert report.events >= sum(
        len(_log_history(api, i)) for i in (ran.parent["id"], ran.child_id, ran.killed["id"])
    )
    done = _lanner(api.env, "history", "verify", "--namespace", ran.ns)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "executions checked" in done.stdout and "divergences" in done.stdout


def test_history_verify_reports_a_changed_decision(
    ran: Ran, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ran.api
    original = streams.core.handle.decide

    def changed(
        flow: ValidatedFlow | None,
        state: Execution | None,
        inp: ExecutorMessage,
        catalog: Any,
        **rest: Any,
    ) -> list[ExecutionEvent]:
        return [
            e.model_copy(update={"outputs": {"value": "changed"}})
            if isinstance(e, TaskRunSucceeded) and "value" in e.outputs
            else e
            for e in original(flow, state, inp, catalog, **rest)
        ]

    monkeypatch.setattr(streams.core.handle, "decide", changed)
    report, _stats = verify_log(
        api.settings.kafka_bootstrap,
        api.topics,
        Selection(execution_ids=frozenset({ran.child_id})),
        PluginRegistry.discover(),
    )
    history = _log_history(api, ran.child_id)
    expected_seq = next(
        e.seq for e in history if isinstance(e, TaskRunSucceeded) and "value" in e.outputs
    )
    [divergence] = report.divergences
    assert (divergence.execution_id, divergence.seq) == (ran.child_id, expected_seq)
    assert isinstance(divergence.expected, TaskRunSucceeded)
    recorded = next(e for e in history if e.seq == expected_seq)
    assert isinstance(recorded, TaskRunSucceeded)
    # What the log holds for that seq, not any outputs at all (this was `== ... or truthy`).
    assert divergence.expected.outputs == recorded.outputs
    assert recorded.outputs["value"] != "changed"
    assert isinstance(divergence.actual, TaskRunSucceeded)
    assert divergence.actual.outputs == {"value": "changed"}


# --- export and import -------------------------------------------------------------------------


def test_export_then_import_under_another_prefix(
    ran: Ran, kafka_broker: KafkaBroker, es_node: ElasticsearchNode
) -> None:
    source = ran.api
    exported = ran.work / "export.jsonl"
    done = _lanner(source.env, "log", "export", "--namespace", ran.ns, str(exported))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in exported.read_text().splitlines()]
    # The export is a recording the replayer verifies as it is (tests/data/histories/).
    verified = _lanner(source.env, "replay", "verify", "--file", str(exported))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert re.search(r"executions checked\s+│ 3 ", verified.stdout), verified.stdout
    assert re.search(r"divergences\s+│ 0 ", verified.stdout), verified.stdout
    assert {x["topic"] for x in lines} == {
        "flow-events",
        "execution-events",
        "logs",
        "commands",
        "worker-results",
    }
    target = start_api(kafka_broker, es_node, ran.work)
    try:
        imported = _lanner(target.env, "log", "import", str(exported))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        ids = [ran.parent["id"], ran.child_id, ran.killed["id"]]
        for execution_id in ids:
            there = target.until_ended(execution_id)
            assert there == source.json("GET", f"/executions/{execution_id}")
            source_logs = source.json("GET", f"/logs/{execution_id}")

            def all_logs(eid: str = execution_id, count: int = len(source_logs)) -> bool:
                return len(target.json("GET", f"/logs/{eid}")) == count

            wait_for(all_logs, 30, "the imported logs")
            assert target.json("GET", f"/logs/{execution_id}") == source_logs
        assert target.json("GET", f"/flows/{ran.ns}/sleepy")["revision"] == 2
        again = _lanner(target.env, "log", "import", str(exported))
        assert again.returncode == 0 and " 0 records written" in again.stdout, again.stdout
        # The imported record replays as well as the original.
        report, _stats = verify_log(
            target.settings.kafka_bootstrap,
            target.topics,
            Selection(namespace=ran.ns),
            PluginRegistry.discover(),
        )
        assert report.executions == 3 and report.divergences == []
    finally:
        target.stop()


# --- audit search ------------------------------------------------------------------------------


def test_audit_search_by_actor_type_namespace_time_with_paging(ran: Ran) -> None:
    api = ran.api

    def search(**params: Any) -> dict[str, Any]:
        found: dict[str, Any] = api.json("GET", "/audit", params={"namespace": ran.ns, **params})
        return found

    # The kill is among the last events; wait until the view has it.
    wait_for(lambda: search(type="ExecutionKilled")["total"] == 1 or None, 30, "audit view")
    by_api = search(actor="api", size=1000)["results"]
    kinds = {(d["kind"], d["type"]) for d in by_api}
    assert {
        ("flow", "FlowCreated"),
        ("flow", "FlowUpdated"),
        ("execution", "ExecutionCreated"),
        ("execution", "ExecutionKilling"),
    } <= kinds
    assert all(d["actor"] == "api" and d["namespace"] == ran.ns for d in by_api)
    subflow = search(actor=f"subflow:{ran.ns}.parent")["results"]
    assert subflow and {d["executionId"] for d in subflow} == {ran.child_id}
    everything = search(size=1000)
    assert everything["total"] == len(everything["results"]) > 20
    times = [d["time"] for d in everything["results"]]
    assert times == sorted(times)
    page2 = search(size=5, page=2)
    assert [d["id"] for d in page2["results"]] == [d["id"] for d in everything["results"][5:10]]
    killed_at = next(d["time"] for d in everything["results"] if d["type"] == "ExecutionKilled")
    after = search(**{"from": killed_at})["results"]
    assert after and all(d["time"] >= killed_at for d in after)
    before = search(to=everything["results"][0]["time"])["results"]
    assert [d["id"] for d in before] == [everything["results"][0]["id"]] or all(
        d["time"] == everything["results"][0]["time"] for d in before
    )
    bad = api.http.get(
        "/audit", params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    assert bad.status_code == 422
