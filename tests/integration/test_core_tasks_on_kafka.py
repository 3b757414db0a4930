"""The core file, state, KV-listing, download and templated tasks through the real path:
one flow using each of them runs on a real Kafka broker with real executor and worker
processes, and its files are read back from the workers' storage."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from schemas.execution import Execution, TaskRun
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster

NS = "it.core"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"id,name\n1,ada\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Disposition", 'attachment; filename="people.csv"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    with task_cluster(kafka_broker.bootstrap, f"core{os.getpid()}", worker_threads=2) as cluster:
        yield cluster


def _runs(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.values()}


CORE = f"""
id: core_tasks
namespace: {NS}
inputs:
  - id: base
    type: STRING
tasks:
  - id: echo
    type: io.kestra.core.tasks.debugs.Echo
    format: "echo {{{{ 20 + 22 }}}}"
  - id: make
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      words.txt: "c\\nb\\na\\n"
      items.ion: |
        {{"key": "k1", "value": 1}}
        {{"key": "k2", "value": 2}}
        {{"key": "k1", "value": 3}}
    outputs: ["*.txt", "*.ion"]
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files:
      - "{{{{ outputs.make.uris['words.txt'] }}}}"
      - "{{{{ outputs.make.uris['words.txt'] }}}}"
    extension: .txt
  - id: split
    type: io.kestra.plugin.core.storage.Split
    from: "{{{{ outputs.concat.uri }}}}"
    rows: 2
  - id: reverse
    type: io.kestra.core.tasks.storages.Reverse
    from: "{{{{ outputs.make.uris['words.txt'] }}}}"
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{{{ outputs.reverse.uri }}}}"
  - id: filter
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{{{ outputs.make.uris['items.ion'] }}}}"
    filterCondition: "{{{{ value > 1 }}}}"
  - id: dedup
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{{{ outputs.make.uris['items.ion'] }}}}"
    expr: "{{{{ key }}}}"
  - id: delete
    type: io.kestra.plugin.core.storage.Delete
    uri: "{{{{ outputs.split.uris[0] }}}}"
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: "{{{{ inputs.base }}}}/export"
  - id: key_a
    type: io.kestra.plugin.core.kv.Set
    key: ck_a
    value: 1
  - id: key_b
    type: io.kestra.plugin.core.kv.Set
    key: ck_b
    value: 2
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: ck_
  - id: state_set
    type: io.kestra.plugin.core.state.Set
    name: seen
    data:
      count: "{{{{ outputs.size.size }}}}"
      tags: [a]
  - id: state_merge
    type: io.kestra.core.tasks.states.Set
    name: seen
    data:
      tags: [b]
  - id: state_get
    type: io.kestra.plugin.core.state.Get
    name: seen
  - id: state_delete
    type: io.kestra.plugin.core.state.Delete
    name: seen
  - id: state_gone
    type: io.kestra.plugin.core.state.Get
    name: seen
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      type: io.kestra.plugin.core.debug.Return
      format: "templated {{{{ outputs.keys['keys'] | length }}}}"
"""

PURGE = f"""
id: purge_files
namespace: {NS}
tasks:
  - id: make
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      a.txt: A
      b/c.txt: C
    outputs: ["**"]
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles
"""


def test_core_tasks_run_on_the_real_path(cluster: Cluster, http_server: str) -> None:
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    cluster.deploy(CORE)
    execution = cluster.run(NS, "core_tasks", {"base": http_server}, timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    out = {task_id: run.outputs for task_id, run in runs.items()}
    echo = [line["message"] for line in cluster.logs_of(execution.id) if line["task_id"] == "echo"]
    assert echo == ["echo 42"]
    assert sorted(out["make"]["uris"]) == ["items.ion", "words.txt"]
    assert len(out["split"]["uris"]) == 3
    assert out["size"] == {"size": 6}  # "a\nb\nc\n"
    assert (out["filter"]["processedItemsTotal"], out["filter"]["droppedItemsTotal"]) == (3, 1)
    assert (out["dedup"]["numKeys"], out["dedup"]["droppedItemsTotal"]) == (2, 1)
    assert out["delete"] == {"uri": out["split"]["uris"][0], "deleted": True}
    assert out["download"]["code"] == 200 and out["download"]["length"] == 14
    assert out["download"]["uri"].endswith("/people.csv")
    assert out["keys"] == {"keys": ["ck_a", "ck_b"]}
    assert out["state_set"] == {"count": 2, "key": "core-tasks_states_seen"}
    assert out["state_get"] == {"count": 2, "data": {"count": 6, "tags": ["a", "b"]}}
    assert out["state_delete"] == {"deleted": True}
    assert out["state_gone"] == {"count": 0, "data": {}}
    assert out["templated"] == {"value": "templated 2"}
    text = {
        name: storage.get_bytes(out[name]["uri"]).decode()
        for name in ("reverse", "filter", "dedup", "download")
    }
    assert text["reverse"] == "a\nb\nc\n"
    assert [json.loads(line)["value"] for line in text["filter"].splitlines()] == [2, 3]
    assert [json.loads(line)["value"] for line in text["dedup"].splitlines()] == [2, 3]
    assert text["download"] == "id,name\n1,ada\n"
    assert [storage.get_bytes(u) for u in out["split"]["uris"][1:]] == [b"a\nc\n", b"b\na\n"]
    assert not storage.exists(out["split"]["uris"][0])
    # The state is a KV entry: its writes and its delete are on kv-events.
    kinds = [
        json.loads(r.value)["type"]
        for r in cluster.records(cluster.topics.kv_events)
        if r.key == f"main/{NS}/core-tasks_states_seen"
    ]
    assert kinds == ["KvSet", "KvSet", "KvDeleted"]


def test_purge_deletes_the_files_of_its_execution(cluster: Cluster) -> None:
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    cluster.deploy(PURGE)
    execution = cluster.run(NS, "purge_files", timeout_s=60)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    made = runs["make"].outputs["uris"]
    assert sorted(made) == ["a.txt", "b/c.txt"]
    assert runs["purge"].outputs["uris"] == sorted(made.values())
    assert not any(storage.exists(uri) for uri in made.values())
