"""100,000 log lines of one task run: how long until they are on the logs topic and in
Elasticsearch.

    PYTHONPATH=. python bench/log_lines.py [--lines 100000] [--bootstrap H:P --es URL]

Executor, worker and indexer run as their own `lanner server` processes on real Kafka
(one partition) and a real Elasticsearch node (started from the test harness when not
given). A Python Script task prints the lines; the clock starts when the execution is
created. With --profile DIR the worker runs under cProfile (DIR/worker.prof).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from elasticsearch import NotFoundError

from bench.worker_hops import start_profiled
from projections import mappings
from projections.store.client import SearchStore
from streams.log.reader import tail
from tests.integration.cluster import Cluster

CHATTY = """
id: chatty
namespace: bench
tasks:
  - id: print
    type: io.kestra.plugin.scripts.python.Script
    script: |
      for i in range({lines}):
          print(f"line {{i}}")
"""


@contextlib.contextmanager
def backends(bootstrap: str | None, es: str | None) -> Iterator[tuple[str, str]]:
    if bootstrap and es:
        yield bootstrap, es
        return
    from tests.harness.elasticsearch_node import ElasticsearchNode
    from tests.harness.kafka_broker import KafkaBroker

    with KafkaBroker() as broker, ElasticsearchNode() as node:
        yield broker.bootstrap, node.url


class TopicCounter:
    """Counts one execution's records on the logs topic as they arrive."""

    def __init__(self, cluster: Cluster, execution_id: str, target: int) -> None:
        self.reached: float | None = None
        self.count = 0
        self._stop = threading.Event()
        self._args = (cluster, execution_id, target)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        cluster, execution_id, target = self._args
        for record in tail(
            cluster.settings.kafka_bootstrap,
            [cluster.topics.logs],
            from_beginning=True,
            stop=self._stop,
            poll_s=0.05,
        ):
            if record.key == execution_id and b'"task_id":"print"' in record.value:
                self.count += 1
                if self.count >= target:
                    self.reached = time.perf_counter()
                    return

    def stop(self) -> None:
        self._stop.set()


def es_count(store: SearchStore, execution_id: str) -> int:
    query = {
        "bool": {"filter": [{"term": {"executionId": execution_id}}, {"term": {"taskId": "print"}}]}
    }
    try:
        store.refresh(mappings.LOGS)
        return store.count(mappings.LOGS, query)
    except NotFoundError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--es")
    parser.add_argument("--profile", type=Path, help="run the worker under cProfile")
    args = parser.parse_args()
    with backends(args.bootstrap, args.es) as (bootstrap, es_url):
        prefix = f"loglines{int(time.time())}"
        cluster = Cluster(
            bootstrap,
            prefix,
            partitions=1,
            env={"LANNER_ELASTICSEARCH_URL": es_url, "LANNER_INDEX_PREFIX": prefix},
        )
        settings = cluster.settings.model_copy(
            update={"elasticsearch_url": es_url, "index_prefix": prefix}
        )
        store = SearchStore(es_url, settings.full_index_prefix)
        try:
            cluster.start("executor")
            if args.profile:
                start_profiled(cluster, "worker", args.profile)
            else:
                cluster.start("worker")
            cluster.start("indexer")
            cluster.wait_ready("executor")
            cluster.wait_ready("worker")
            cluster.deploy(CHATTY.format(lines=args.lines))
            # Warm-up: a short run, through to Elasticsearch (the indexer made its views).
            warm = cluster.create("bench", "chatty").execution_id
            cluster.wait_for_end(warm, 120)
            deadline = time.monotonic() + 120
            while es_count(store, warm) < args.lines and time.monotonic() < deadline:
                time.sleep(0.5)
            started = time.perf_counter()
            execution_id = cluster.create("bench", "chatty").execution_id
            counter = TopicCounter(cluster, execution_id, args.lines)
            ended = cluster.wait_for_end(execution_id, 300)
            ended_at = time.perf_counter()
            in_es: float | None = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if es_count(store, execution_id) >= args.lines:
                    in_es = time.perf_counter()
                    break
                time.sleep(0.1)
            counter.stop()
            run = next(r for r in ended.task_runs.values() if r.task_id == "print")
            ran = (run.history[-1].date - run.history[0].date).total_seconds()
            print(f"{args.lines:,} log lines, one Script task, real Kafka {bootstrap} + ES")
            print(f"  the task run (created -> {run.state}): {ran:.2f} s")
            print(f"  created -> execution {ended.state}: {ended_at - started:.2f} s")
            if counter.reached is not None:
                reached = counter.reached - started
                print(f"  created -> every line on the logs topic: {reached:.2f} s")
            else:
                print(f"  lines on the logs topic: {counter.count} (not all)")
            if in_es is not None:
                searchable = in_es - started
                print(f"  created -> every line searchable in Elasticsearch: {searchable:.2f} s")
            else:
                print(f"  lines in Elasticsearch: {es_count(store, execution_id)} (not all)")
        finally:
            cluster.close()
            with contextlib.suppress(Exception):
                for name in mappings.MAPPINGS:
                    store.delete_index(name)
            store.close()


if __name__ == "__main__":
    main()
