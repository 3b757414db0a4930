"""Issue 16, "what it must show": one tenant's hostile flows do not slow another tenant.

Two tenants on one broker, each with its own topic prefix and its own executor and worker
processes (as Lanner runs tenants), on this 2-core machine. Tenant `victim` runs 100
ordinary executions alone, then 100 more while tenant `hostile` submits the CPU bomb,
the loop bomb and the 100,000-value ForEach over and over. The victim's p95 latency
(creation command sent -> terminal event on the log) must stay within 2x of its quiet
value (plus a small absolute margin for a machine shared with other work).

The YAML alias bomb is not part of this test: its fix (h16api, streams/core/yaml_loader.py)
is not on this branch, and without it the bomb would freeze the test process itself.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from streams.log.reader import tail
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.test_hostile_flows import BOMBS, NORMAL

NS = "company.team"
RUNS = 100
PACE_S = 0.06  # one creation every 60 ms, open loop
MARGIN_S = 0.25
TERMINAL = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionWarned"})


class EndWatcher:
    """Follows a tenant's execution-events and notes when each execution ended."""

    def __init__(self, cluster: Cluster) -> None:
        self.ended: dict[str, float] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._follow, args=(cluster,), daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "the watcher did not start"

    def _follow(self, cluster: Cluster) -> None:
        records = tail(
            cluster.settings.kafka_bootstrap,
            [cluster.topics.execution_events],
            from_beginning=True,
            stop=self._stop,
        )
        self._ready.set()
        for record in records:
            kind = json.loads(record.value).get("type")
            if kind in TERMINAL and record.key is not None:
                self.ended.setdefault(record.key, time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def tenants(kafka_broker: KafkaBroker) -> Iterator[tuple[Cluster, Cluster]]:
    victim = Cluster(kafka_broker.bootstrap, f"victim{os.getpid()}", partitions=2)
    hostile = Cluster(kafka_broker.bootstrap, f"hostile{os.getpid()}x", partitions=2)
    try:
        for cluster in (victim, hostile):
            cluster.start_executor_and_worker()
        victim.deploy(NORMAL)
        for source, _ in BOMBS.values():
            hostile.deploy(source)
        yield victim, hostile
    finally:
        victim.close()
        hostile.close()


def _latencies(victim: Cluster, watcher: EndWatcher) -> list[float]:
    sent: dict[str, float] = {}
    for _ in range(RUNS):
        execution_id = victim.create(NS, "normal").execution_id
        sent[execution_id] = time.monotonic()
        time.sleep(PACE_S)
    deadline = time.monotonic() + 120
    while set(sent) - set(watcher.ended) and time.monotonic() < deadline:
        time.sleep(0.1)
    missing = set(sent) - set(watcher.ended)
    assert not missing, f"{len(missing)} executions did not end"
    return [watcher.ended[i] - sent[i] for i in sent]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def test_a_hostile_tenant_does_not_slow_another_one(tenants: tuple[Cluster, Cluster]) -> None:
    victim, hostile = tenants
    watcher = EndWatcher(victim)
    try:
        _latencies(victim, watcher)  # warm-up: first records, JIT of the broker
        quiet = _latencies(victim, watcher)
        stop = threading.Event()
        submitted: list[str] = []

        def attack() -> None:
            while not stop.is_set() and len(submitted) < 60:
                for flow_id in BOMBS:
                    submitted.append(hostile.create(NS, flow_id).execution_id)
                time.sleep(0.5)

        attacker = threading.Thread(target=attack, daemon=True)
        attacker.start()
        time.sleep(1.0)  # the hostile executor is busy before the victim starts
        try:
            loaded = _latencies(victim, watcher)
        finally:
            stop.set()
            attacker.join(timeout=30)
        # Quiet again: this machine is shared, so "quiet" is measured on both sides.
        quiet_after = _latencies(victim, watcher)
    finally:
        watcher.stop()
    hostile_ended = hostile.wait_for_all(set(submitted[:8]), timeout_s=120)
    assert all(e.state.value == "FAILED" for e in hostile_ended.values())
    quiet_p95 = max(_p95(quiet), _p95(quiet_after))
    loaded_p95 = _p95(loaded)

    def figures(values: list[float]) -> str:
        return f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {_p95(values) * 1000:.0f} ms"

    print(
        f"\nvictim tenant, {RUNS} executions each: quiet {figures(quiet)}; while the other "
        f"tenant sent {len(submitted)} hostile executions {figures(loaded)}; quiet again "
        f"{figures(quiet_after)} (loaded p95 / quiet p95 = {loaded_p95 / quiet_p95:.2f})"
    )
    assert loaded_p95 <= 2 * quiet_p95 + MARGIN_S
