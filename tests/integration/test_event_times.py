"""Event times are the executor's decisions, not the commands'.

The executor is frozen (SIGSTOP) for 5 s behind a created execution: the creation's
request time stays before the pause (`requested`), while every event, SUCCESS included,
is stamped when the executor actually decided, after it; and `history verify` still
reproduces the history exactly, reading each decision time back from the record.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from schemas.events import ExecutionCreated, ExecutionSucceeded
from schemas.states import State
from streams.histories.source import Selection, verify_log
from streams.plugins.registry import PluginRegistry
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import REPO, Cluster, distinct_history

PAUSE_S = 5.0

FLOW = """
id: times
namespace: company.times
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} and two"
"""


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(kafka_broker.bootstrap, f"times{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        cluster.deploy(FLOW)
        yield cluster
    finally:
        executor = cluster.processes.get("executor")
        if executor is not None and executor.poll() is None:
            executor.send_signal(signal.SIGCONT)
        cluster.close()


def test_events_are_stamped_when_decided_not_when_requested(cluster: Cluster) -> None:
    # Warm: one execution through, so the pause below is the only delay that matters.
    assert cluster.run("company.times", "times").state == State.SUCCESS
    executor = cluster.processes["executor"]
    executor.send_signal(signal.SIGSTOP)
    try:
        before = dt.datetime.now(dt.UTC)
        requested = cluster.create("company.times", "times")
        time.sleep(PAUSE_S)
        resumed = dt.datetime.now(dt.UTC)
    finally:
        executor.send_signal(signal.SIGCONT)
    ended = cluster.wait_for_end(requested.execution_id, timeout_s=60)
    assert ended.state == State.SUCCESS
    history = list(distinct_history(cluster.events_of(requested.execution_id)))
    created, succeeded = history[0], history[-1]
    assert isinstance(created, ExecutionCreated) and isinstance(succeeded, ExecutionSucceeded)
    assert created.requested is not None
    # The request was made before the pause; the executor decided after it.
    assert before <= created.requested < before + dt.timedelta(seconds=1)
    assert created.time >= resumed, (created.requested, created.time, resumed)
    assert succeeded.time >= created.time >= resumed
    assert [e.time for e in history] == sorted(e.time for e in history)
    # The view's execution is created when decided, too.
    assert ended.created == created.time
    print(
        f"\nrequested {created.requested.isoformat()}, decided {created.time.isoformat()} "
        f"({(created.time - created.requested).total_seconds():.2f} s later), "
        f"succeeded {succeeded.time.isoformat()}"
    )

    report, _stats = verify_log(
        cluster.settings.kafka_bootstrap,
        cluster.topics,
        Selection(namespace="company.times"),
        PluginRegistry.discover(),
    )
    assert report.executions == 2
    assert report.divergences == []
    assert report.events >= len(history)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli.main",
            "history",
            "verify",
            "--execution",
            requested.execution_id,
        ],
        cwd=REPO,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "divergences" in done.stdout
