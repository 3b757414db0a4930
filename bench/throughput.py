"""Sustained executions/s of a trivial flow with 1 and with 2 worker processes.

    PYTHONPATH=. python bench/throughput.py [--executions 600] [--bootstrap HOST:PORT]

The flow has one worker-bound task (Sleep PT0S), so every execution makes the two hops
executor -> worker -> executor. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from bench.latency import ONE_TASK, ONE_WORKER_TASK, EndWatcher, backend, burst
from tests.integration.cluster import Cluster


def measure(bootstrap: str, workers: int, executions: int, console: Console) -> tuple[float, float]:
    cluster = Cluster(bootstrap, f"tput{workers}x{int(time.time())}", partitions=4)
    try:
        with console.status(f"starting an executor and {workers} worker process(es) ..."):
            cluster.start("executor")
            for index in range(workers):
                cluster.start("worker", name=f"worker-{index}")
            cluster.wait_ready("executor")
            cluster.wait_ready("worker")
            time.sleep(3.0)  # let every worker process take its share of the partitions
        cluster.deploy(ONE_TASK)
        cluster.deploy(ONE_WORKER_TASK)
        watcher = EndWatcher(cluster)
        with console.status("warming up ..."):
            burst(cluster, watcher, "one_worker_task", 200)
        with console.status(f"{executions} executions ..."):
            worker_rate = burst(cluster, watcher, "one_worker_task", executions)
            inline_rate = burst(cluster, watcher, "one_task", executions)
        watcher.stop()
        return worker_rate, inline_rate
    finally:
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=["kafka", "noida"], default="kafka")
    parser.add_argument("--bootstrap")
    parser.add_argument("--executions", type=int, default=600)
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"Sustained throughput, {args.backend} back end, 4 partitions, 2 cores")
    for column in (
        "worker processes",
        "1 worker task (executions/s)",
        "1 inline task (executions/s)",
    ):
        table.add_column(column)
    with backend(args.backend, args.bootstrap) as bootstrap:
        for workers in (1, 2):
            worker_rate, inline_rate = measure(bootstrap, workers, args.executions, console)
            table.add_row(str(workers), f"{worker_rate:.0f}", f"{inline_rate:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
