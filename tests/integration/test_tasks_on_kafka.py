"""Tasks that do real work, through the real path: a real Kafka broker, real
executor and worker processes, flows deployed on the log, results read back from it."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import NotFoundError

from projections import mappings
from projections.store.client import SearchStore
from schemas.events import TaskRunSucceeded
from schemas.execution import Execution, TaskRun
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.stack import InProcessIndexer
from tests.integration.task_cluster import task_cluster

NS = "it.tasks"
TOKEN = "tok-9f8e7d6c5b4a-secret"


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []  # one test server per module

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        record = {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        type(self).seen.append(record)
        # Echo everything back, the token included: the worker must mask it in outputs.
        payload = json.dumps({"received": record}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    secret = {"SECRET_API_TOKEN": base64.b64encode(TOKEN.encode()).decode()}
    with task_cluster(kafka_broker.bootstrap, f"tasks{os.getpid()}", env=secret) as cluster:
        yield cluster


def _runs(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.values()}


def _messages(cluster: Cluster, execution_id: str, task_id: str | None = None) -> list[str]:
    return [
        line["message"]
        for line in cluster.logs_of(execution_id)
        if task_id is None or line["task_id"] == task_id
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


FILES = f"""
id: files
namespace: {NS}
tasks:
  - id: produce
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - mkdir -p out
      - echo city,temp > out/weather.csv
      - for t in 3 19; do echo "City$((t * 7)),$t" >> out/weather.csv; done
    outputFiles: ["out/*.csv"]
  - id: consume
    type: io.kestra.plugin.scripts.python.Script
    inputFiles:
      weather.csv: "{{{{ outputs.produce.outputFiles['out/weather.csv'] }}}}"
    script: |
      import csv, json
      rows = list(csv.DictReader(open("weather.csv")))
      print("read", len(rows), "rows")
      warmest = max(rows, key=lambda r: int(r["temp"]))["city"]
      print("::" + json.dumps({{"outputs": {{"warmest": warmest}}}}) + "::")
  - id: read_back
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      CONTENT: "{{{{ read(outputs.produce.outputFiles['out/weather.csv']) }}}}"
    commands:
      - printf '%s' "$CONTENT" | tail -n 1
"""


def test_a_shell_file_is_read_by_the_next_python_task(cluster: Cluster) -> None:
    cluster.deploy(FILES)
    execution = cluster.run(NS, "files", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    uri = runs["produce"].outputs["outputFiles"]["out/weather.csv"]
    assert uri.startswith(f"kestra://main/it/tasks/files/executions/{execution.id}/tasks/produce/")
    # The file travelled as a URI; its content is in storage, not in any event.
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    assert storage.get_bytes(uri) == b"city,temp\nCity21,3\nCity133,19\n"
    events = [r.value for r in cluster.records(cluster.topics.execution_events)]
    assert not any(b"City21,3" in value for value in events)
    assert runs["consume"].outputs["vars"] == {"warmest": "City133"}
    assert _messages(cluster, execution.id, "consume") == ["read 2 rows"]
    assert _messages(cluster, execution.id, "read_back") == ["City133,19"]


HTTP = f"""
id: http_call
namespace: {NS}
inputs:
  - id: base
    type: STRING
tasks:
  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.base }}}}/orders"
    method: POST
    headers:
      Authorization: "Bearer {{{{ secret('API_TOKEN') }}}}"
    body:
      item: book
      count: 2
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.call.body.received.body }}}}"
"""


def test_http_task_calls_a_local_server_with_a_secret(cluster: Cluster, http_server: str) -> None:
    cluster.deploy(HTTP)
    execution = cluster.run(NS, "http_call", {"base": http_server})
    assert execution.state == State.SUCCESS, execution.error
    call = _runs(execution)["call"]
    assert call.outputs["code"] == 200
    assert _Handler.seen[-1]["auth"] == f"Bearer {TOKEN}"  # the server got the real secret
    assert json.loads(_Handler.seen[-1]["body"]) == {"item": "book", "count": 2}
    # ...and the echo of it came back masked.
    assert call.outputs["body"]["received"]["auth"] == "Bearer ******"
    assert _runs(execution)["echo"].outputs["value"] == '{"item": "book", "count": 2}'


KV = f"""
id: kv_flow
namespace: {NS}
inputs:
  - id: greeting
    type: STRING
tasks:
  - id: put
    type: io.kestra.plugin.core.kv.Set
    key: greeting
    value:
      text: "{{{{ inputs.greeting }}}}"
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: greeting
  - id: put_text
    type: io.kestra.plugin.core.kv.Set
    key: name
    value: "{{{{ inputs.greeting }}}}"
  - id: use
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      GREETING: "{{{{ kv('name') }}}}"
    commands:
      - echo "$GREETING"
  - id: short_lived
    type: io.kestra.plugin.core.kv.Set
    key: ephemeral
    value: soon gone
    ttl: PT0.5S
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: expired
    type: io.kestra.plugin.core.kv.Get
    key: ephemeral
  - id: remove
    type: io.kestra.plugin.core.kv.Delete
    key: greeting
  - id: gone
    type: io.kestra.plugin.core.kv.Get
    key: greeting
"""


def test_a_flow_passes_data_through_kv(cluster: Cluster) -> None:
    cluster.deploy(KV)
    execution = cluster.run(NS, "kv_flow", {"greeting": "hello kv"})
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["get"].outputs["value"] == {"text": "hello kv"}
    assert _messages(cluster, execution.id, "use") == ["hello kv"]  # kv() in a property
    assert runs["expired"].outputs["value"] is None  # TTL
    assert runs["remove"].outputs["deleted"] is True
    assert runs["gone"].outputs["value"] is None
    # The store is a log: the sets and the delete are events on kv-events.
    kinds = [
        json.loads(r.value)["type"]
        for r in cluster.records(cluster.topics.kv_events)
        if r.key == f"main/{NS}/greeting"
    ]
    assert kinds == ["KvSet", "KvDeleted"]


CHATTY = f"""
id: chatty
namespace: {NS}
tasks:
  - id: print
    type: io.kestra.plugin.scripts.python.Script
    script: |
      for i in range(100_000):
          print(f"line {{i}}")
"""

QUICK = f"""
id: quick
namespace: {NS}
tasks:
  - id: one
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: two
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo two"]
"""


def test_100k_log_lines_keep_the_executor_responsive_and_land_in_order(
    cluster: Cluster, es_node: ElasticsearchNode
) -> None:
    cluster.deploy(CHATTY)
    cluster.deploy(QUICK)
    chatty = cluster.create(NS, "chatty").execution_id
    # While the chatty task streams, other executions go through, each in seconds.
    latencies = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(latencies) < 5:
        started = time.monotonic()
        quick = cluster.run(NS, "quick", timeout_s=30)
        assert quick.state == State.SUCCESS, quick.error
        latencies.append(time.monotonic() - started)
    print(f"\nquick flow while 100k lines stream: {[round(t, 3) for t in latencies]} s")
    ended = cluster.wait_for_end(chatty, timeout_s=240)
    history = _runs(ended)["print"].history
    print(f"100k-line task run took {(history[-1].date - history[0].date).total_seconds():.1f} s")
    assert ended.state == State.SUCCESS, ended.error
    assert max(latencies) < 10.0, latencies
    lines = [line for line in cluster.logs_of(chatty) if line["task_id"] == "print"]
    assert [line["message"] for line in lines] == [f"line {i}" for i in range(100_000)]
    assert [line["index"] for line in lines] == list(range(100_000))
    _every_line_lands_in_the_logs_projection_in_order(cluster, es_node, chatty)


def _every_line_lands_in_the_logs_projection_in_order(
    cluster: Cluster, es_node: ElasticsearchNode, execution_id: str
) -> None:
    settings = cluster.settings.model_copy(
        update={
            "elasticsearch_url": es_node.url,
            "index_prefix": cluster.settings.topic_prefix[:-1],
        }
    )
    indexer = InProcessIndexer(settings).start()
    query = {
        "bool": {"filter": [{"term": {"executionId": execution_id}}, {"term": {"taskId": "print"}}]}
    }
    try:
        with SearchStore(es_node.url, settings.full_index_prefix) as store:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    store.refresh(mappings.LOGS)
                    if store.count(mappings.LOGS, query) >= 100_000:
                        break
                except NotFoundError:
                    pass  # the indexer has not created its views yet
                time.sleep(1.0)
            assert store.count(mappings.LOGS, query) == 100_000  # each line once
            # In order: sorted by position, pages across the whole run read line i at i.
            for start in (0, 33_333, 90_000):
                _, page = store.search(
                    mappings.LOGS,
                    {
                        "bool": {
                            "filter": [
                                *query["bool"]["filter"],
                                {"range": {"index": {"gte": start}}},
                            ]
                        }
                    },
                    size=1000,
                    sort=[{"index": "asc"}],
                )
                assert [d["message"] for d in page] == [
                    f"line {i}" for i in range(start, start + 1000)
                ]
    finally:
        indexer.stop()


SECRETIVE = f"""
id: secretive
namespace: {NS}
tasks:
  - id: shout
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      TOKEN: "{{{{ secret('API_TOKEN') }}}}"
    commands:
      - echo "the token is {{{{ secret('API_TOKEN') }}}}"
      - echo "from env $TOKEN" >&2
      - echo '::{{"outputs":{{"leak":"'"$TOKEN"'"}}}}::'
      - python3 -c "import os, kestra; kestra.Kestra.counter('n', 1, dict(t=os.getenv('TOKEN')))"
      - env | grep -c SECRET_ || true
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "inline {{{{ secret('API_TOKEN') }}}}"
  - id: fail_loudly
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "failing with $TOKEN"
      - exit 3
    env:
      TOKEN: "{{{{ secret('API_TOKEN') }}}}"
"""


def test_a_secret_never_appears_in_any_log_or_event(cluster: Cluster) -> None:
    cluster.deploy(SECRETIVE)
    execution = cluster.run(NS, "secretive")
    assert execution.state == State.FAILED  # fail_loudly, on purpose
    runs = _runs(execution)
    assert runs["shout"].state == State.SUCCESS
    assert runs["shout"].outputs["vars"] == {"leak": "******"}
    [ended] = [
        e
        for e in cluster.events_of(execution.id)
        if isinstance(e, TaskRunSucceeded) and e.task_run_id == runs["shout"].id
    ]
    assert [(m.name, m.value, m.tags) for m in ended.metrics] == [("n", 1.0, {"t": "******"})]
    shout = _messages(cluster, execution.id, "shout")
    # stdout and stderr are two pipes: lines keep their order within each, not across.
    assert sorted(shout) == ["0", "from env ******", "the token is ******"]  # 0: no SECRET_*
    assert "failing with ******" in _messages(cluster, execution.id, "fail_loudly")
    encoded = base64.b64encode(TOKEN.encode())
    for topic in cluster.topics.all():
        for record in cluster.records(topic):
            assert TOKEN.encode() not in record.value, topic
            assert encoded not in record.value, topic


def test_bad_input_fails_the_task_run_with_the_reason_and_disturbs_nothing(
    cluster: Cluster,
) -> None:
    flows = {
        "no_interpreter": """
  - id: t
    type: io.kestra.plugin.scripts.python.Script
    python: /nonexistent/bin/python3
    script: print(1)""",
        "bad_dependency": """
  - id: t
    type: io.kestra.plugin.scripts.python.Script
    dependencies: [lanner-no-such-package-6f1c2d]
    script: print(1)""",
        "unreachable": f"""
  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: http://127.0.0.1:{_closed_port()}/nothing
    options:
      connectTimeout: PT2S""",
        "never_written": """
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo working"]
    outputFiles: [result.json]""",
    }
    reasons = {
        "no_interpreter": "'/nonexistent/bin/python3' was not found",
        "bad_dependency": "installing dependencies",
        "unreachable": "request to http://127.0.0.1:",
        "never_written": "'result.json' was never written",
    }
    for flow_id, tasks in flows.items():
        cluster.deploy(f"id: {flow_id}\nnamespace: {NS}\ntasks:{tasks}\n")
    cluster.deploy(QUICK)
    ids = {flow_id: cluster.create(NS, flow_id).execution_id for flow_id in flows}
    good = cluster.create(NS, "quick").execution_id
    ended = cluster.wait_for_all({*ids.values(), good}, timeout_s=180)
    assert ended[good].state == State.SUCCESS
    for flow_id, execution_id in ids.items():
        execution = ended[execution_id]
        assert execution.state == State.FAILED, flow_id
        assert reasons[flow_id] in (execution.error or ""), (flow_id, execution.error)
        logs = _messages(cluster, execution_id, "t")
        assert any(reasons[flow_id] in line for line in logs), (flow_id, logs)
    assert any(
        "lanner-no-such-package-6f1c2d" in line
        for line in _messages(cluster, ids["bad_dependency"], "t")
    )
    # The worker is still healthy: a new execution runs as before.
    after = cluster.run(NS, "quick")
    assert after.state == State.SUCCESS
