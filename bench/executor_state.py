"""The executor's state over a long life: memory and recovery after many finished
executions, with finished executions kept forever (before) and forgotten after their
retention (after, LANNER_EXECUTOR_RETAIN_FINISHED_S=0), and the per-input cost at the
start and the end of a 5,000-value ForEach.

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
from streams.log.reader import tail
from tests.integration.cluster import Cluster

MODES = (("kept forever (before)", "1000000000"), ("forgotten at the end (after)", "0"))
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


def _recovery_s(cluster: Cluster, watcher: EndWatcher) -> float:
    started = time.perf_counter()
    cluster.kill("executor")
    cluster.start("executor")
    probe = cluster.create("bench", "one_task").execution_id
    watcher.wait({probe}, 600)
    return watcher.ended[probe] - started


def state_rows(bootstrap: str, counts: list[int], console: Console) -> list[list[str]]:
    rows: list[list[str]] = []
    for label, retain in MODES:
        cluster = Cluster(
            bootstrap,
            f"state{retain[:1]}x{int(time.time())}",
            partitions=1,
            env={"LANNER_EXECUTOR_RETAIN_FINISHED_S": retain, "LANNER_LOG_LEVEL": "INFO"},
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
