"""The executor's state over a long life: memory and recovery after many finished
executions, with finished executions kept forever (before) and forgotten after their
retention (after, LANNER_EXECUTOR_RETAIN_FINISHED_S=0, their records compacted off the
changelog: LANNER_CHANGELOG_COMPACTION_S=5, the restart waits for the log cleaner while a
trickle of executions keeps the cluster live), and the per-input cost at the start and
the end of a 5,000-value ForEach.

    PYTHONPATH=. python bench/executor_state.py [--counts 1000 50000] [--bootstrap HOST:PORT]

One executor process, one partition, a one-task inline flow. "recovery" is from the
executor's SIGKILL to the end of a new execution on the restarted executor (process
start, group join, table restore and rescan included). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.latency import ONE_TASK, EndWatcher, backend
from schemas.events import EXECUTION_EVENT_ADAPTER
from streams.log.reader import read_all, tail
from tests.integration.cluster import Cluster

# (label, retention of finished executions, changelog compaction window in seconds)
MODES = (
    ("kept forever (before)", "1000000000", "600"),
    ("forgotten at the end, compacted (after)", "0", "5"),
)
# A compacted changelog holds what runs plus the trickle's last windows, not the history.
COMPACTED_RECORDS = 2000
FOR_EACH_VALUES = 5000


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def _create_many(cluster: Cluster, count: int) -> set[str]:
    ids: set[str] = set()
    for _ in range(count):
        command = cluster.executions.prepare_create("bench", "one_task", {}, actor="bench")
        cluster.producer.send(
            cluster.topics.commands, command.execution_id, command.model_dump_json().encode()
        )
        ids.add(command.execution_id)
    cluster.producer.flush()
    return ids


def _changelog_records(cluster: Cluster) -> int:
    topic = f"{cluster.settings.full_topic_prefix}executor-executions-changelog"
    return sum(1 for _ in read_all(cluster.settings.kafka_bootstrap, topic))


def _compacted(cluster: Cluster, watcher: EndWatcher, timeout_s: float = 600.0) -> int:
    """Wait until the cleaner took the forgotten executions off the changelog, while a
    trickle of executions keeps it written to, as a live cluster does; how many ran."""
    deadline = time.monotonic() + timeout_s
    trickled = 0
    while True:
        watcher.wait(_create_many(cluster, 1), 60)
        trickled += 1
        if _changelog_records(cluster) <= COMPACTED_RECORDS or time.monotonic() > deadline:
            return trickled
        time.sleep(2.0)


def _recovery_s(cluster: Cluster, watcher: EndWatcher) -> float:
    started = time.perf_counter()
    cluster.kill("executor")
    cluster.start("executor")
    probe = cluster.create("bench", "one_task").execution_id
    watcher.wait({probe}, 600)
    return watcher.ended[probe] - started


def state_rows(bootstrap: str, counts: list[int], console: Console) -> list[list[str]]:
    rows: list[list[str]] = []
    for label, retain, compaction in MODES:
        cluster = Cluster(
            bootstrap,
            f"state{retain[:1]}x{int(time.time())}",
            partitions=1,
            env={
                "LANNER_EXECUTOR_RETAIN_FINISHED_S": retain,
                "LANNER_CHANGELOG_COMPACTION_S": compaction,
                "LANNER_LOG_LEVEL": "INFO",
            },
        )
        try:
            cluster.start("executor")
            cluster.wait_ready("executor")
            cluster.deploy(ONE_TASK)
            watcher = EndWatcher(cluster)
            done = 0
            for count in counts:
                with console.status(f"{label}: {count - done} executions ..."):
                    watcher.wait(_create_many(cluster, count - done), 1800)
                    done = count
                    time.sleep(3.0)  # the forget commands, sent 0.25 s after each end
                rss = _rss_mb(cluster.processes["executor"].pid)
                if retain == "0":
                    with console.status(f"{label}: waiting for the log cleaner ..."):
                        done += _compacted(cluster, watcher)
                records = _changelog_records(cluster)
                with console.status(f"{label}: SIGKILL and restart after {count} ..."):
                    recovery = _recovery_s(cluster, watcher)
                    done += 1
                rebuilt = re.findall(
                    r"rebuilt from the table\s+executions=(\d+)", cluster.log_of("executor")
                )
                rows.append(
                    [
                        label,
                        f"{count:,}",
                        f"{rss:.0f}",
                        f"{recovery:.1f}",
                        rebuilt[-1] if rebuilt else "?",
                        f"{records:,}",
                    ]
                )
            watcher.stop()
        finally:
            cluster.close()
    return rows


def for_each_cost(bootstrap: str, console: Console) -> tuple[float, float, float]:
    """Task runs ended per second over the first and the last 500 of a 5,000-value ForEach
    (concurrencyLimit 50): a step that grows with the execution shows as a lower end rate."""
    values = ", ".join(str(n) for n in range(FOR_EACH_VALUES))
    flow = (
        "id: big_loop\nnamespace: bench\ntasks:\n  - id: loop\n"
        "    type: io.kestra.plugin.core.flow.ForEach\n"
        f"    values: [{values}]\n    concurrencyLimit: 50\n    tasks:\n"
        "      - id: each\n        type: io.kestra.plugin.core.debug.Return\n"
        "        format: '{{ taskrun.value }}'\n"
    )
    # Past the default fan-out limit (1,000 values): raised for this measurement.
    cluster = Cluster(
        bootstrap,
        f"loop{int(time.time())}",
        partitions=1,
        env={"LANNER_LIMITS_FAN_OUT": str(FOR_EACH_VALUES)},
    )
    try:
        cluster.start("executor")
        cluster.wait_ready("executor")
        cluster.deploy(flow)
        with console.status(f"a ForEach over {FOR_EACH_VALUES} values ..."):
            started = time.perf_counter()
            execution_id = cluster.create("bench", "big_loop").execution_id
            ends: list[float] = []
            for record in tail(
                bootstrap, [cluster.topics.execution_events], from_beginning=True, poll_s=0.05
            ):
                if record.key != execution_id:
                    continue
                event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
                if event.type == "TaskRunSucceeded":
                    ends.append(time.perf_counter())
                if event.type.startswith("Execution") and event.type not in (
                    "ExecutionCreated",
                    "ExecutionStarted",
                ):
                    break
        total = time.perf_counter() - started
    finally:
        cluster.close()
    first, last = ends[:500], ends[-500:]
    return (
        (len(first) - 1) / (first[-1] - first[0]),
        (len(last) - 1) / (last[-1] - last[0]),
        total,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=["kafka", "noida"], default="kafka")
    parser.add_argument("--bootstrap")
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 50000])
    parser.add_argument("--skip-for-each", action="store_true")
    args = parser.parse_args()
    console = Console()
    with backend(args.backend, args.bootstrap) as bootstrap:
        rows = state_rows(bootstrap, sorted(args.counts), console)
        loop = None if args.skip_for_each else for_each_cost(bootstrap, console)
    table = Table(title=f"Executor state, {args.backend} back end, 1 partition, 2 cores")
    for column in (
        "finished executions",
        "after",
        "executor RSS (MB)",
        "recovery after SIGKILL (s)",
        "records rescanned",
        "changelog records read back",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if loop is not None:
        start, end, total = loop
        console.print(
            f"ForEach over {FOR_EACH_VALUES} values, concurrencyLimit 50: "
            f"{start:.0f} task runs/s over the first 500, {end:.0f}/s over the last 500 "
            f"({total:.0f} s in all)"
        )


if __name__ == "__main__":
    main()
