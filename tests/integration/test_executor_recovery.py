"""Issue 19: a cluster that has run for months recovers as fast as on its first day.

Many finished executions leave the executor's table (their history stays on the log), so
an executor SIGKILLed and restarted after thousands of them rebuilds nothing of them and is
back in about the time it takes after 200. Real broker, one executor process, one
partition, inline tasks (no worker); finished executions are forgotten at once
(LANNER_EXECUTOR_RETAIN_FINISHED_S=0), and their records and tombstones leave the changelog
within seconds (LANNER_CHANGELOG_COMPACTION_S=5; ten minutes by default), while a trickle
of new executions keeps the cluster live, as a cluster that has run for months is.
Measured before compaction was configured: after 20,000 the changelog held 120,000
records, and the restart took 42 s against 11 s after 200, all of it reading them.

The issue's 20,000 is the default (LANNER_TEST_RECOVERY_COUNT lowers it on a machine too
loaded for it). Measured here (2 cores, load average 2-4, 2026-12-01): recovery 10.2 s
after 200 (612 changelog records read back) and 11.0 s after 20,000 (15 records left);
the whole test took 140 s.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass

from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster, wait_until

LARGE = int(os.environ.get("LANNER_TEST_RECOVERY_COUNT", "20000"))
SMALL = 200
FLOW = """
id: quick
namespace: recovery
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
"""
# A batch is sent, then waited for: the load is bounded in what is in flight at once.
BATCH = 2000
# Bounds the whole load of one count (a loaded machine is slow, never endless).
RUN_TIMEOUT_S = 600.0
COMPACTION_S = 5
# What a compacted changelog may still hold: the trickle's last windows, never the history.
COMPACTED_RECORDS = 1000


@dataclass
class Recovery:
    finished: int
    seconds: float
    rebuilt: int
    changelog_records: int


def _wait_forgotten(cluster: Cluster, ids: set[str]) -> None:
    def all_deleted() -> bool:
        # Every one ended (so was written); a key the cleaner already took off the
        # changelog, tombstone and all, is as deleted as one whose last record is one.
        latest: dict[str, bytes] = {}
        for record in cluster.executor_changelog():
            if record.key in ids:
                latest[record.key] = record.value
        return not any(latest.values())

    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not all_deleted():
        assert time.monotonic() < deadline, "finished executions did not leave the table"
        time.sleep(2.0)


def _wait_compacted(cluster: Cluster) -> int:
    """Until the log cleaner has taken the forgotten executions off the changelog, while
    a trickle of executions keeps writing to it (a cleaner compacts a log that is
    written to); the number of records left."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        cluster.send_creations("recovery", "quick", 1)
        left = len(cluster.executor_changelog())
        if left <= COMPACTED_RECORDS:
            return left
        assert time.monotonic() < deadline, f"the changelog still holds {left} records"
        time.sleep(2.0)


def _rebuilt(cluster: Cluster) -> list[int]:
    found = re.findall(r"rebuilt from the table\s+executions=(\d+)", cluster.log_of("executor"))
    return [int(n) for n in found]


def _finish_and_recover(bootstrap: str, count: int) -> Recovery:
    cluster = Cluster(
        bootstrap,
        f"recovery{count}x{secrets.token_hex(3)}",
        partitions=1,
        env={
            "LANNER_EXECUTOR_RETAIN_FINISHED_S": "0",
            "LANNER_CHANGELOG_COMPACTION_S": str(COMPACTION_S),
        },
    )
    try:
        cluster.start("executor")
        cluster.wait_ready("executor")
        cluster.deploy(FLOW)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        done = 0
        ids_seen: set[str] = set()
        while done < count:
            batch = min(BATCH, count - done)
            ids = cluster.send_creations("recovery", "quick", batch)
            ids_seen |= ids
            ended = cluster.wait_for_all(ids, max(10.0, deadline - time.monotonic()))
            assert {e.state.value for e in ended.values()} == {"SUCCESS"}
            done += batch
        # Forgotten at once (the plans fire within a tick of the timers): wait until every
        # record was deleted on the changelog; then a restart must find nothing of them.
        _wait_forgotten(cluster, ids_seen)
        left = _wait_compacted(cluster)
        cluster.kill("executor")
        started = time.monotonic()
        cluster.start("executor")
        probe = cluster.create("recovery", "quick").execution_id
        assert cluster.wait_for_end(probe, 120.0).state.value == "SUCCESS"
        seconds = time.monotonic() - started
        wait_until(lambda: _rebuilt(cluster) or None, 30, "the restarted executor's rescan")
        return Recovery(count, seconds, _rebuilt(cluster)[-1], left)
    finally:
        cluster.close()


def test_finished_executions_leave_the_table_and_recovery_does_not_grow_with_them(
    kafka_broker: KafkaBroker,
) -> None:
    small = _finish_and_recover(kafka_broker.bootstrap, SMALL)
    large = _finish_and_recover(kafka_broker.bootstrap, LARGE)
    for run in (small, large):
        print(
            f"\nrecovery after {run.finished:,} finished executions: {run.seconds:.1f} s"
            f" ({run.changelog_records} records left on the changelog)"
        )
    # Nothing of the finished executions was rebuilt: they had left the table (the
    # restarted executor's rescan found at most the probe and the trickle's last one).
    assert small.rebuilt <= 2 and large.rebuilt <= 2, (small, large)
    # About the same time: a restart is mostly process start and group join; a table
    # that kept them would add the restore and the rescan of every one.
    assert large.seconds <= small.seconds * 1.5 + 10.0, (small, large)
