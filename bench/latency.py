"""Executor latency and throughput on the server path, printed as a table (no asserts).

    PYTHONPATH=. python bench/latency.py [--backend kafka|noida] [--bootstrap HOST:PORT]

Without --bootstrap it starts the test harness's real Apache Kafka (or noida-db with
--backend noida). Executor and worker run as their own `lanner server` processes, as in
production; the client writes CreateExecution and watches execution-events.

Figures (DESIGN.md "Speed"): trigger-to-SUCCESS of a one-task flow (p50/p95), 40
sequential Return tasks (run inside the executor), 40 sequential worker-bound tasks
(Sleep PT0S, two hops each), and task runs per second under a burst.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from collections.abc import Iterator

from rich.console import Console
from rich.table import Table

from schemas.events import EXECUTION_EVENT_ADAPTER
from streams.log.reader import tail
from tests.integration.cluster import Cluster

ONE_TASK = """
id: one_task
namespace: bench
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
"""


def chain(flow_id: str, count: int, task: str) -> str:
    tasks = "\n".join(f"  - id: t{i}\n{task}" for i in range(count))
    return f"id: {flow_id}\nnamespace: bench\ntasks:\n{tasks}\n"


RETURN = "    type: io.kestra.plugin.core.debug.Return\n    format: '{{ execution.id }}'"
SLEEP0 = "    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0S"
ONE_WORKER_TASK = chain("one_worker_task", 1, SLEEP0)


class EndWatcher:
    """Records when each execution's terminal event is seen by a client."""

    def __init__(self, cluster: Cluster) -> None:
        self.ended: dict[str, float] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cluster,), daemon=True)
        self._thread.start()
        time.sleep(1.0)  # the consumer is assigned and positioned before anything starts

    def _run(self, cluster: Cluster) -> None:
        for record in tail(
            cluster.settings.kafka_bootstrap,
            [cluster.topics.execution_events],
            from_beginning=False,
            stop=self._stop,
            poll_s=0.05,
        ):
            if b'"type":"Execution' not in record.value:
                continue
            event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
            if event.type in ("ExecutionCreated", "ExecutionStarted"):
                continue
            with self._changed:
                self.ended.setdefault(event.execution_id, time.perf_counter())
                self._changed.notify_all()

    def wait(self, ids: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not ids <= set(self.ended):
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{len(ids - set(self.ended))} executions did not end")

    def stop(self) -> None:
        self._stop.set()


def timed_runs(cluster: Cluster, watcher: EndWatcher, flow_id: str, count: int) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        execution_id = cluster.create("bench", flow_id).execution_id
        watcher.wait({execution_id}, 60)
        durations.append(watcher.ended[execution_id] - started)
    return durations


def burst(cluster: Cluster, watcher: EndWatcher, flow_id: str, count: int) -> float:
    started = time.perf_counter()
    ids = {cluster.create("bench", flow_id).execution_id for _ in range(count)}
    watcher.wait(ids, 300)
    return count / (max(watcher.ended[i] for i in ids) - started)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def backend(kind: str, bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    if kind == "noida":
        from tests.harness.noida import NoidaServer

        with NoidaServer() as server:
            yield server.bootstrap
    else:
        from tests.harness.kafka_broker import KafkaBroker

        with KafkaBroker() as broker:
            yield broker.bootstrap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["kafka", "noida"], default="kafka")
    parser.add_argument("--bootstrap", help="an existing broker instead of starting one")
    parser.add_argument("--runs", type=int, default=100, help="one-task executions timed")
    parser.add_argument("--burst", type=int, default=500, help="executions in each burst")
    args = parser.parse_args()
    console = Console()
    with backend(args.backend, args.bootstrap) as bootstrap:
        cluster = Cluster(bootstrap, f"bench{int(time.time())}", partitions=1)
        try:
            with console.status("starting executor and worker ..."):
                cluster.start("executor")
                cluster.start("worker")
                cluster.wait_ready("executor")
                cluster.wait_ready("worker")
            for source in (
                ONE_TASK,
                ONE_WORKER_TASK,
                chain("chain40", 40, RETURN),
                chain("worker40", 40, SLEEP0),
            ):
                cluster.deploy(source)
            watcher = EndWatcher(cluster)
            with console.status("warming up (the broker's JVM needs a few thousand records) ..."):
                burst(cluster, watcher, "one_task", 300)
                timed_runs(cluster, watcher, "one_worker_task", 50)
                timed_runs(cluster, watcher, "one_task", 50)
            with console.status("measuring ..."):
                one = timed_runs(cluster, watcher, "one_task", args.runs)
                one_worker = timed_runs(cluster, watcher, "one_worker_task", args.runs)
                chain40 = timed_runs(cluster, watcher, "chain40", 10)
                worker40 = timed_runs(cluster, watcher, "worker40", 5)
                inline_rate = burst(cluster, watcher, "one_task", args.burst)
                worker_rate = burst(cluster, watcher, "one_worker_task", args.burst)
            watcher.stop()
        finally:
            cluster.close()
    ms = 1000.0
    table = Table(title=f"Lanner executor, {args.backend} back end ({bootstrap}), 1 partition")
    for column in ("figure", "value", "target (DESIGN.md)"):
        table.add_column(column)
    table.add_row(
        f"1 Return task, created -> SUCCESS, p50 / p95 ({args.runs} runs)",
        f"{pct(one, 0.5) * ms:.1f} / {pct(one, 0.95) * ms:.1f} ms",
        "<= 20 ms p50",
    )
    table.add_row(
        f"1 worker task (Sleep PT0S), p50 / p95 ({args.runs} runs)",
        f"{pct(one_worker, 0.5) * ms:.1f} / {pct(one_worker, 0.95) * ms:.1f} ms",
        "",
    )
    table.add_row(
        "40 sequential Return tasks, median of 10",
        f"{statistics.median(chain40) * ms:.1f} ms",
        "<= 200 ms (Kestra 2.2 s)",
    )
    table.add_row(
        "40 sequential worker tasks, median of 5",
        f"{statistics.median(worker40) * ms:.1f} ms",
        "(honest figure)",
    )
    table.add_row(
        f"burst of {args.burst} one-Return executions", f"{inline_rate:.0f} task runs/s", ">= 150/s"
    )
    table.add_row(
        f"burst of {args.burst} one-worker-task executions",
        f"{worker_rate:.0f} task runs/s",
        ">= 150/s",
    )
    console.print(table)


if __name__ == "__main__":
    main()
