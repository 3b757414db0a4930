"""Where a worker-bound task's time goes, hop by hop, read from the log itself.

    PYTHONPATH=. python bench/worker_hops.py [--bootstrap HOST:PORT] [--chains 5] [--burst 500]

Executor and worker run as their own `lanner server` processes on real Kafka (one
partition). Every record carries its producer's timestamp, so the hops of each worker
task are read off the topics afterwards, with no instrumentation in the processes:

    job produced (executor) -> "finished" report produced (the worker picked the job up,
    ran it, reported) -> the next job / the terminal event produced (the executor
    consumed the report, decided, wrote its changelog, sent).

A task that ends within LANNER_WORKER_STARTED_REPORT_DELAY_S (0.2 s) sends no "started"
report; where one is on the log (a longer task, or the delay set to 0) its hops are
printed too.

Timestamps are in milliseconds, so per-hop figures are means over many tasks. With
--profile DIR [--profile-roles executor worker] those roles run under cProfile and
write DIR/ROLE.prof when they stop.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.latency import SLEEP0, EndWatcher, backend, burst, chain, timed_runs
from tests.integration.cluster import REPO, Cluster


def start_profiled(cluster: Cluster, role: str, out: Path) -> None:
    """Start `lanner server ROLE` under cProfile; it writes OUT/ROLE.prof when it stops."""
    out.mkdir(parents=True, exist_ok=True)
    log = (cluster.workdir / f"{role}.log").open("ab")
    profiler = [sys.executable, "-m", "cProfile", "-o", str(out / f"{role}.prof")]
    cluster.processes[role] = subprocess.Popen(
        [*profiler, "-m", "api.cli.main", "server", role],
        env=cluster.env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def hops(cluster: Cluster, execution_ids: set[str]) -> dict[str, list[float]]:
    """Per worker task of the given executions: the milliseconds of each hop."""
    jobs: dict[str, int] = {}  # task run id -> job produced (first attempt)
    job_order: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for record in cluster.records(cluster.topics.worker_jobs):
        job = json.loads(record.value)
        if job["execution_id"] in execution_ids and job["task_run_id"] not in jobs:
            jobs[job["task_run_id"]] = record.timestamp_ms
            job_order[job["execution_id"]].append((record.offset, job["task_run_id"]))
    reports: dict[tuple[str, str], int] = {}
    for record in cluster.records(cluster.topics.worker_results):
        report = json.loads(record.value)
        if report["execution_id"] in execution_ids:
            reports.setdefault((report["task_run_id"], report["kind"]), record.timestamp_ms)
    ended: dict[str, int] = {}
    for record in cluster.records(cluster.topics.execution_events):
        if record.key in execution_ids and b'"type":"Execution' in record.value:
            kind = json.loads(record.value)["type"]
            if kind not in ("ExecutionCreated", "ExecutionStarted"):
                ended.setdefault(record.key, record.timestamp_ms)
    out: dict[str, list[float]] = defaultdict(list)
    for execution_id, ordered in job_order.items():
        runs = [run for _, run in sorted(ordered)]
        for index, run in enumerate(runs):
            started = reports.get((run, "started"))
            finished = reports.get((run, "finished"))
            if finished is None:
                continue
            after = jobs[runs[index + 1]] if index + 1 < len(runs) else ended.get(execution_id)
            out["job -> finished report (to worker, run, report)"].append(finished - jobs[run])
            if started is not None:
                out["job -> started report (to worker, pick up)"].append(started - jobs[run])
                out["started -> finished report (run)"].append(finished - started)
            if after is not None:
                out["finished -> next job / end (to executor, decide, send)"].append(
                    after - finished
                )
                out["whole hop, job -> next job"].append(after - jobs[run])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--bootstrap", help="an existing broker instead of starting one")
    parser.add_argument("--chains", type=int, default=5, help="40-worker-task executions")
    parser.add_argument("--burst", type=int, default=500, help="one-worker-task executions")
    parser.add_argument("--profile", type=Path, help="run roles under cProfile, into DIR")
    parser.add_argument("--profile-roles", nargs="+", default=["worker"])
    parser.add_argument(
        "--started-delay",
        help="LANNER_WORKER_STARTED_REPORT_DELAY_S for the worker (0: report at once)",
    )
    args = parser.parse_args()
    env = {}
    if args.started_delay is not None:
        env["LANNER_WORKER_STARTED_REPORT_DELAY_S"] = args.started_delay
    with backend("kafka", args.bootstrap) as bootstrap:
        cluster = Cluster(bootstrap, f"hops{int(time.time())}", partitions=1, env=env)
        try:
            for role in ("executor", "worker"):
                if args.profile and role in args.profile_roles:
                    start_profiled(cluster, role, args.profile)
                else:
                    cluster.start(role)
            cluster.wait_ready("executor")
            cluster.wait_ready("worker")
            cluster.deploy(chain("one_worker_task", 1, SLEEP0))
            cluster.deploy(chain("worker40", 40, SLEEP0))
            watcher = EndWatcher(cluster)
            burst(cluster, watcher, "one_worker_task", 300)  # warm-up
            timed_runs(cluster, watcher, "worker40", 2)
            started = time.perf_counter()
            chains = timed_runs(cluster, watcher, "worker40", args.chains)
            chain_ids = set(list(watcher.ended)[-args.chains :])
            before = set(watcher.ended)
            rate = burst(cluster, watcher, "one_worker_task", args.burst)
            burst_ids = set(watcher.ended) - before
            elapsed = time.perf_counter() - started
            watcher.stop()
            print(f"40 sequential worker tasks: {[round(c * 1000) for c in chains]} ms")
            print(f"burst of {args.burst} one-worker-task executions: {rate:.0f} task runs/s")
            for title, ids in (("40-task chains", chain_ids), ("burst", burst_ids)):
                print(f"hops of the {title} (ms, from record timestamps):")
                for name, values in hops(cluster, ids).items():
                    print(
                        f"  {name:55} mean {statistics.fmean(values):6.2f}  "
                        f"p50 {statistics.median(values):5.1f}  n={len(values)}"
                    )
            print(f"(measured in {elapsed:.1f} s)")
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
