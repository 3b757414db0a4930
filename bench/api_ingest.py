"""Execution creations through the REST API: creations/s and latency with 1, 8 and 32
concurrent clients, against one `lanner server webserver` process (real Kafka, real
Elasticsearch; executor, worker and indexer as processes beside it).

    PYTHONPATH=. python bench/api_ingest.py [--requests 2000] [--seconds 20]

Each client POSTs /api/v1/executions/bench/one_task in a loop until the round has sent
`--requests` or run `--seconds`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

import httpx
from rich.console import Console
from rich.table import Table

from bench.latency import ONE_TASK, pct
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    console = Console()
    (port,) = free_ports(1)
    prefix = f"ingest{secrets.token_hex(3)}"
    rows: list[list[str]] = []
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
            with console.status("starting executor, worker, indexer and webserver ..."):
                for role in ("executor", "worker", "indexer", "webserver"):
                    cluster.start(role)
                cluster.wait_ready("executor")
                cluster.deploy(ONE_TASK)
                base = f"http://127.0.0.1:{port}/api/v1"
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if httpx.get(f"{base}/flows/bench/one_task", timeout=5).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError("the webserver never served the flow")
                    time.sleep(0.5)
                asyncio.run(_round(base, 4, 100, 30))  # warm-up
            for clients in CLIENTS:
                with console.status(f"{clients} client(s) ..."):
                    done, elapsed, latencies = asyncio.run(
                        _round(base, clients, args.requests, args.seconds)
                    )
                rows.append(
                    [
                        str(clients),
                        str(done),
                        f"{done / elapsed:.0f}",
                        f"{pct(latencies, 0.5) * 1000:.1f}",
                        f"{pct(latencies, 0.95) * 1000:.1f}",
                    ]
                )
        finally:
            cluster.close()
    table = Table(title="Creations through POST /api/v1/executions, 1 webserver, 2 cores")
    for column in ("clients", "creations", "creations/s", "p50 (ms)", "p95 (ms)"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
