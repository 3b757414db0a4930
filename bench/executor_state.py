"""The executor's state over a long life: memory and recovery after many finished
executions, with finished executions kept forever (before) and forgotten after their
retention (after, LANNER_EXECUTOR_RETAIN_FINISHED_S=0, their records compacted off the
changelog: LANNER_CHANGELOG_COMPACTION_S=5, the restart waits for the log cleaner while a
trickle of executions keeps the cluster live). The per-input cost at the start and the
end of a 5,000-value ForEach is bench/foreach_steps.py's.

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
from tests.integration.cluster import Cluster

# (label, retention of finished executions, changelog compaction window in seconds)
MODES = (
    ("kept forever (before)", "1000000000", "600"),
    ("forgotten at the end, compacted (after)", "0", "5"),
)
# A compacted changelog holds what runs plus the trickle's last windows, not the history.
COMPACTED_RECORDS = 2000


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def _compacted(cluster: Cluster, watcher: EndWatcher, timeout_s: float = 600.0) -> int:
    """Wait until the cleaner took the forgotten executions off the changelog, while a
    trickle of executions keeps it written to, as a live cluster does; how many ran."""
    deadline = time.monotonic() + timeout_s
    trickled = 0
    while True:
        watcher.wait(cluster.send_creations("bench", "one_task", 1), 60)
        trickled += 1
        if len(cluster.executor_changelog()) <= COMPACTED_RECORDS or time.monotonic() > deadline:
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
                    watcher.wait(cluster.send_creations("bench", "one_task", count - done), 1800)
                    done = count
                    time.sleep(3.0)  # the forget commands, sent 0.25 s after each end
                rss = _rss_mb(cluster.processes["executor"].pid)
                if retain == "0":
                    with console.status(f"{label}: waiting for the log cleaner ..."):
                        done += _compacted(cluster, watcher)
                records = len(cluster.executor_changelog())
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=["kafka", "noida"], default="kafka")
    parser.add_argument("--bootstrap")
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 50000])
    args = parser.parse_args()
    console = Console()
    with backend(args.backend, args.bootstrap) as bootstrap:
        rows = state_rows(bootstrap, sorted(args.counts), console)
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


if __name__ == "__main__":
    main()
