"""The query side's test stack: executor and worker as processes, indexer and API
in-process, on the real Kafka broker and the real Elasticsearch node (shared by the API
and control test modules through tests/integration/conftest.py)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from projections.indexer import Indexer
from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics, wait_group_consuming
from streams.log.topics import Topics
from tests.harness.common import free_ports, stop_process
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# A flow most API tests run: a log line, a worker hop, an output.
LOG_FLOW = """\
id: {id}
namespace: {ns}
description: Says hello, sleeps on a worker, returns
labels:
  team: data
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{{{ inputs.name }}}}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT{sleep}S
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.name }}}}"
"""


def wait_for(probe: Callable[[], T | None], timeout_s: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class InProcessIndexer:
    def __init__(self, settings: LannerSettings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.indexer = Indexer(settings)
        self.thread = threading.Thread(
            target=self.indexer.run, args=(self.stop_event,), daemon=True
        )

    def start(self) -> InProcessIndexer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


@dataclass
class Stack:
    settings: LannerSettings
    http: httpx.Client
    indexer: InProcessIndexer

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.full_topic_prefix)

    def deploy(self, source: str) -> dict[str, Any]:
        response = self.http.post(
            "/flows", content=source, headers={"content-type": "application/x-yaml"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def run(
        self,
        ns: str,
        flow_id: str,
        inputs: dict[str, Any] | None = None,
        labels: list[str] | None = None,
    ) -> dict[str, Any]:
        response = self.http.post(
            f"/executions/{ns}/{flow_id}", json=inputs or {}, params={"labels": labels or []}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def until_ended(self, execution_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            body: dict[str, Any] = self.http.get(f"/executions/{execution_id}").json()
            ended = body.get("state", {}).get("current") in (
                "SUCCESS",
                "WARNING",
                "FAILED",
                "KILLED",
            )
            return body if ended else None

        return wait_for(probe, timeout_s, f"execution {execution_id} to end")

    def search(self, **params: Any) -> dict[str, Any]:
        response = self.http.get("/executions/search", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _spawn(role: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    out = (log_dir / f"{role}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "server", role],
        env=env,
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def stack(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(kafka_broker, es_node, tmp_path_factory.mktemp("stack")) as the_stack:
        yield the_stack


@contextmanager
def running_stack(
    kafka_broker: KafkaBroker,
    es_node: ElasticsearchNode,
    work: Path,
    extra_env: Mapping[str, str] | None = None,
    roles: tuple[str, ...] = ("executor", "worker"),
) -> Iterator[Stack]:
    """Executor and worker processes (their environment plus `extra_env`; `roles` may add
    a scheduler), indexer and API in this process, on fresh topics and indices."""
    prefix = f"t{secrets.token_hex(4)}"
    (api_port,) = free_ports(1)
    settings = LannerSettings(
        auth=False,  # these tests are about the API itself; tokens: test_tenants.py
        kafka_bootstrap=kafka_broker.bootstrap,
        elasticsearch_url=es_node.url,
        topic_prefix=f"{prefix}.",
        index_prefix=prefix,
        partitions=2,
        worker_threads=2,
        scheduler_enabled=False,
        api_port=api_port,
        data_dir=str(work / "data"),
        read_your_writes_timeout_s=3.0,
    )
    ensure_lanner_topics(settings)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "LANNER_ELASTICSEARCH_URL": es_node.url,
        "LANNER_TOPIC_PREFIX": f"{prefix}.",
        "LANNER_INDEX_PREFIX": prefix,
        "LANNER_PARTITIONS": "2",
        "LANNER_WORKER_THREADS": "2",
        "LANNER_DATA_DIR": str(work / "data"),
        "LANNER_SCHEDULER_ENABLED": "false",
        "LANNER_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    procs = [_spawn(role, env, work) for role in roles]
    # Faust apps take seconds to join their groups; a job sent before the worker holds
    # its partitions waits for a rebalance, which made first tests slow and flaky.
    topics = Topics(settings.full_topic_prefix)
    consumed = {
        "executor": topics.commands,
        "worker": topics.worker_jobs,
        "scheduler": topics.execution_events,  # its flow-trigger join
    }
    try:
        for role, topic in ((r, consumed[r]) for r in roles):
            wait_group_consuming(
                kafka_broker.bootstrap, f"{settings.full_topic_prefix}{role}", topic, 120
            )
    except BaseException:
        # A role that never joined (a slow machine) must not outlive the failed set-up.
        for proc, role in zip(procs, roles, strict=True):
            stop_process(proc, what=role)
        raise
    indexer = InProcessIndexer(settings).start()
    from api.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=api_port, log_config=None, access_log=False
        )
    )
    api_thread = threading.Thread(target=server.run, daemon=True)
    api_thread.start()
    wait_for(lambda: server.started, 60, "the API to start")
    http = httpx.Client(base_url=f"http://127.0.0.1:{api_port}/api/v1", timeout=30)
    the_stack = Stack(settings, http, indexer)
    try:
        yield the_stack
    finally:
        http.close()
        server.should_exit = True
        api_thread.join(timeout=20)
        # A test may have replaced the indexer (restart): stop the current one.
        if the_stack.indexer.thread.is_alive():
            the_stack.indexer.stop()
        for proc, role in zip(procs, roles, strict=True):
            stop_process(proc, what=role)
