"""Execution creations through the REST API: creations/s and latency with 1, 8 and 32
concurrent clients, against one `lanner server webserver` process (real Kafka, real
Elasticsearch, an indexer beside it), first alone (what the API accepts), then with an
executor and a worker working through the creations on the same 2 cores.

    PYTHONPATH=. python bench/api_ingest.py [--requests 4000] [--seconds 20]

Each client POSTs /api/v1/executions/bench/one_task in a loop; one more round offers 500
creations/s from 32 clients (the issue's target rate) rather than as many as they can.
The load comes from `hey` (bench/load_generator.py), built once with Go; without Go the
bench falls back to a Python client, which then measures itself as much as the API.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.latency import ONE_TASK, pct
from bench.load_generator import hey_binary, hey_post_json
from tests.harness.common import free_ports
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster

CLIENTS = (1, 8, 32)


async def _round(
    base: str, clients: int, requests: int, seconds: float
) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests and time.perf_counter() < deadline:
            sent += 1
            started = time.perf_counter()
            response = await http.post("/executions/bench/one_task", json={})
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
            latencies.append(time.perf_counter() - started)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies


Row = list[str]
ROW_COLUMNS = ("engine", "clients", "offered", "creations", "creations/s", "p50 (ms)", "p95 (ms)")


def _rounds(base: str, engine: str, args: argparse.Namespace, hey: Path | None) -> list[Row]:
    """1, 8 and 32 clients as fast as they go, then 32 clients offering 500/s."""
    url = f"{base}/executions/bench/one_task"
    plans: list[tuple[int, float | None]] = [(c, None) for c in CLIENTS] + [(32, 500 / 32)]
    rows: list[Row] = []
    for clients, rate in plans:
        offered = "max" if rate is None else f"{rate * clients:.0f}/s"
        if hey is not None:
            result = hey_post_json(
                hey, url, clients=clients, requests=args.requests, rate_per_client=rate
            )
            if set(result.statuses) != {200} or result.errors:
                raise RuntimeError(f"failed requests: {result.statuses} {result.errors[:5]}")
            figures = (result.requests, result.per_second, result.p50_s, result.p95_s)
        else:
            done, elapsed, latencies = asyncio.run(
                _round(base, clients, args.requests, args.seconds)
            )
            figures = (done, done / elapsed, pct(latencies, 0.5), pct(latencies, 0.95))
        done, per_s, p50, p95 = figures
        latency = [f"{p50 * 1000:.1f}", f"{p95 * 1000:.1f}"]
        rows.append([engine, str(clients), offered, str(done), f"{per_s:.0f}", *latency])
    return rows


def _wait_for_flow(base: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/flows/bench/one_task", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the webserver never served the flow")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=20.0, help="Python client only")
    args = parser.parse_args()
    console = Console()
    hey = hey_binary()
    if hey is None:
        console.print("[yellow]no Go here to build hey: the Python client measures itself too")
    (port,) = free_ports(1)
    prefix = f"ingest{secrets.token_hex(3)}"
    rows: list[Row] = []
    with KafkaBroker() as broker, ElasticsearchNode() as es:
        cluster = Cluster(
            broker.bootstrap,
            prefix,
            partitions=4,
            env={
                "LANNER_ELASTICSEARCH_URL": es.url,
                "LANNER_INDEX_PREFIX": prefix,
                "LANNER_API_PORT": str(port),
                "LANNER_AUTH": "false",
                "LANNER_LOG_LEVEL": "WARNING",
            },
        )
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            with console.status("starting the webserver and the indexer ..."):
                for role in ("indexer", "webserver"):
                    cluster.start(role)
                cluster.deploy(ONE_TASK)
                _wait_for_flow(base)
                asyncio.run(_round(base, 4, 200, 30))  # warm-up
            with console.status("the API alone ..."):
                rows += _rounds(base, "no", args, hey)
            with console.status("starting an executor and a worker ..."):
                cluster.start_executor_and_worker()
            with console.status("the API beside the executor and the worker ..."):
                rows += _rounds(base, "yes", args, hey)
        finally:
            cluster.close()
    table = Table(title="Creations through POST /api/v1/executions, 1 webserver, 2 cores")
    for column in ROW_COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"load generator: {'hey' if hey else 'Python httpx client'}")


if __name__ == "__main__":
    main()
