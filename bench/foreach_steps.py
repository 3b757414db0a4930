"""Does a step cost the same at the end of a large execution as at its start? (issue 19)

    PYTHONPATH=. python bench/foreach_steps.py [--values 5000] [--bootstrap HOST:PORT]

A ForEach over N values with `concurrencyLimit: 50`, each value a worker-bound task
(Sleep PT0S: one executor input per task run, the worker's "finished" report, as it ends
within LANNER_WORKER_STARTED_REPORT_DELAY_S; two before the eighth session), on the real broker
with the executor and a worker as their own processes, one partition. Prints the task runs
ended per second and the executor's milliseconds per input over the first and the last
500 task runs, and the bytes the executor wrote to its table's changelog per input, at the
start and at the end. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from bench.latency import backend
from schemas.events import EXECUTION_EVENT_ADAPTER
from streams.log.reader import tail
from tests.integration.cluster import Cluster

WINDOW = 500
# Each task run is one executor input: a quick task's worker reports only its end.
INPUTS_PER_TASK_RUN = 1


def loop_flow(values: int) -> str:
    listed = ", ".join(str(n) for n in range(values))
    return (
        "id: big_loop\nnamespace: bench\ntasks:\n  - id: loop\n"
        "    type: io.kestra.plugin.core.flow.ForEach\n"
        f"    values: [{listed}]\n    concurrencyLimit: 50\n    tasks:\n"
        "      - id: each\n        type: io.kestra.plugin.core.flow.Sleep\n"
        "        duration: PT0S\n"
    )


def _ends(cluster: Cluster, execution_id: str, timeout_s: float) -> tuple[list[float], str]:
    """When each task run ended (client clock), and how the execution ended."""
    ends: list[float] = []
    deadline = time.monotonic() + timeout_s
    for record in tail(
        cluster.settings.kafka_bootstrap,
        [cluster.topics.execution_events],
        from_beginning=True,
        poll_s=0.05,
    ):
        if time.monotonic() > deadline:
            return ends, "not ended in time"
        if record.key != execution_id:
            continue
        event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
        if event.type == "TaskRunSucceeded" and event.task_run_id is not None:
            ends.append(time.perf_counter())
        if event.type.startswith("Execution") and event.type not in (
            "ExecutionCreated",
            "ExecutionStarted",
        ):
            return ends, event.type
    return ends, "log ended"


def run(bootstrap: str, values: int, timeout_s: float, console: Console) -> dict[str, str]:
    cluster = Cluster(
        bootstrap,
        f"steps{int(time.time())}",
        partitions=1,
        # Past the default fan-out and per-execution limits: raised for this measurement.
        env={"LANNER_LIMITS_FAN_OUT": str(values)},
    )
    try:
        cluster.start_executor_and_worker()
        cluster.deploy(loop_flow(values))
        with console.status(f"a ForEach over {values} values ..."):
            started = time.perf_counter()
            execution_id = cluster.create("bench", "big_loop").execution_id
            ends, outcome = _ends(cluster, execution_id, timeout_s)
            total = time.perf_counter() - started
        sizes = [len(r.value) for r in cluster.executor_changelog()]
    finally:
        cluster.close()
    figures = {"values": f"{values:,}", "outcome": outcome, "task runs ended": f"{len(ends):,}"}
    if len(ends) >= 2 * WINDOW:
        for name, window in (("first", ends[:WINDOW]), ("last", ends[-WINDOW:])):
            rate = (len(window) - 1) / (window[-1] - window[0])
            per_input = 1000.0 / rate / INPUTS_PER_TASK_RUN
            figures[f"task runs/s, {name} {WINDOW}"] = f"{rate:.0f}"
            figures[f"ms per input, {name} {WINDOW}"] = f"{per_input:.2f}"
    inputs = max(1, INPUTS_PER_TASK_RUN * len(ends) + 1)
    tenth = max(1, len(sizes) // 10)
    figures["changelog records / bytes"] = f"{len(sizes):,} / {sum(sizes):,}"
    figures["changelog bytes per input (all)"] = f"{sum(sizes) / inputs:,.0f}"
    figures["changelog bytes per record, first / last 10%"] = (
        f"{sum(sizes[:tenth]) / tenth:,.0f} / {sum(sizes[-tenth:]) / tenth:,.0f}"
    )
    figures["total seconds"] = f"{total:.1f}"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=["kafka", "noida"], default="kafka")
    parser.add_argument("--bootstrap")
    parser.add_argument("--values", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the loop")
    args = parser.parse_args()
    console = Console()
    with backend(args.backend, args.bootstrap) as bootstrap:
        figures = run(bootstrap, args.values, args.timeout, console)
    table = Table(
        title=f"ForEach steps, {args.backend} back end, 1 partition, executor + worker processes"
    )
    table.add_column("figure")
    table.add_column("value")
    for name, value in figures.items():
        table.add_row(name, value)
    console.print(table)


if __name__ == "__main__":
    main()
