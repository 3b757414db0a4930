"""The API process honours SIGTERM within seconds while it is being sent YAML bombs and
holds requests in flight: `lanner server webserver` as its
own process on the real Kafka broker and Elasticsearch node."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.common import free_ports, stop_process
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.stack import REPO, wait_for
from tests.unit.test_yaml_limits import alias_bomb

YAML = {"content-type": "application/x-yaml"}
GOOD = """\
id: f{n}
namespace: company.sigterm
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: hi
"""


@pytest.fixture
def webserver(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    prefix = f"t{secrets.token_hex(4)}"
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "LANNER_ELASTICSEARCH_URL": es_node.url,
        "LANNER_TOPIC_PREFIX": f"{prefix}.",
        "LANNER_INDEX_PREFIX": prefix,
        "LANNER_PARTITIONS": "1",
        "LANNER_AUTH": "off",
        "LANNER_API_PORT": str(port),
        "LANNER_DATA_DIR": str(tmp_path / "data"),
        "LANNER_LOG_LEVEL": "WARNING",
    }
    log_file = tmp_path / "webserver.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "server", "webserver"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None  # ends the wait; asserted below

    wait_for(up, 90, "the webserver to answer /health")
    assert proc.poll() is None, log_file.read_text()[-3000:]
    yield proc, url, log_file
    stop_process(proc, what="webserver")


def test_sigterm_stops_the_api_within_seconds_while_bombs_are_posted(
    webserver: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    proc, url, log_file = webserver
    bomb = alias_bomb()
    stop = threading.Event()
    answers: list[int] = []
    errors: list[str] = []

    def post_bombs(path: str) -> None:
        with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
            for _ in range(200):  # bounded; ends at the stop or when the server is gone
                if stop.is_set():
                    return
                try:
                    answers.append(client.post(path, content=bomb, headers=YAML).status_code)
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    return

    def deploy(n: int) -> None:
        # No indexer runs: each deploy waits out read-your-writes, a request in flight.
        with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
            try:
                client.post("/flows", content=GOOD.format(n=n), headers=YAML)
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)

    threads = [
        threading.Thread(target=post_bombs, args=(path,))
        for path in ("/flows", "/flows/validate", "/flows/validate", "/flows")
    ]
    threads += [threading.Thread(target=deploy, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answers) >= 8, 20, "bombs to be answered")
    health_started = time.monotonic()
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    health_s = time.monotonic() - health_started
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the API ignored SIGTERM for 30 s; log: {log_file.read_text()[-2000:]}")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    stopped_s = time.monotonic() - signalled
    print(
        f"{len(answers)} bombs answered ({sorted(set(answers))}); /health {health_s * 1000:.0f}"
        f" ms while bombed; stopped {stopped_s:.2f} s after SIGTERM"
    )
    assert set(answers) <= {200, 422}, answers
    assert health_s < 2.0
    assert stopped_s < 8.0, f"stopped only after {stopped_s:.1f} s"
