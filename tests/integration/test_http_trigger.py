"""The HTTP trigger on the real broker: the scheduler polls a local server every second,
starts an execution with the response as `trigger` while the condition holds, and none
while it does not."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.events import EXECUTION_EVENT_ADAPTER
from schemas.execution import Execution
from streams.core.evolve import evolve
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, wait_until

FLOW = """
id: http_price
namespace: company.http
triggers:
  - id: poll
    type: io.kestra.plugin.core.http.Trigger
    uri: {url}
    interval: PT1S
    responseCondition: "{{{{ response.statusCode == 200 and json(response.body).price <= 110 }}}}"
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.code }}}} {{{{ json(trigger.body).price }}}}"
"""


class PriceServer:
    def __init__(self) -> None:
        self.code = 503
        self.price = 100
        self.calls = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.calls += 1
                body = f'{{"price": {outer.price}}}'.encode()
                self.send_response(outer.code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/price"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[PriceServer]:
    s = PriceServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"http{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        yield cluster
    finally:
        cluster.close()


def _runs(cluster: Cluster) -> dict[str, Execution]:
    states: dict[str, Execution] = {}
    for record in cluster.records(cluster.topics.execution_events):
        event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
        if event.flow_id != "http_price":
            continue
        current = states.get(event.execution_id)
        if current is None or event.seq > current.seq:
            states[event.execution_id] = evolve(current, event)
    return states


def test_the_http_trigger_fires_while_its_condition_holds(
    cluster: Cluster, server: PriceServer
) -> None:
    cluster.start("scheduler")
    cluster.deploy(FLOW.format(url=server.url))
    # Polled, but the condition is false (503, then a price too high): nothing starts.
    wait_until(lambda: server.calls >= 3, 90, "the scheduler polling the server")
    server.code, server.price = 200, 500
    calls = server.calls
    wait_until(lambda: server.calls >= calls + 3, 30, "three more polls")
    assert _runs(cluster) == {}

    server.price = 100
    wait_until(lambda: len(_runs(cluster)) >= 2, 60, "two executions from the trigger")
    server.code = 503
    time.sleep(2.5)  # a poll in flight may still fire; then none
    ids = set(_runs(cluster))
    calls = server.calls
    wait_until(lambda: server.calls >= calls + 3, 30, "three more polls")
    runs = _runs(cluster)
    assert set(runs) == ids, "fired while the condition was false"
    for run in cluster.wait_for_all(ids).values():
        assert run.trigger is not None
        assert run.trigger["code"] == 200
        assert run.trigger["body"] == '{"price": 100}'
        assert run.trigger["uri"] == server.url
        (task_run,) = run.task_runs.values()
        assert task_run.outputs["value"] == "200 100"
