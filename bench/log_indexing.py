"""The indexer's side of 100,000 log lines: from a backlog on the logs topic to every
line searchable in Elasticsearch.

    PYTHONPATH=. python bench/log_indexing.py [--lines 100000] [--bootstrap H:P --es URL]

The lines of one task run are written to the logs topic first (one partition), then an
indexer starts and the clock runs until Elasticsearch counts them all. Without
--bootstrap/--es it starts the test harness's Kafka and Elasticsearch. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import threading
import time

from bench.log_lines import backends, es_count
from projections import mappings
from projections.indexer import Indexer
from projections.store.client import SearchStore
from schemas.settings import LannerSettings
from schemas.worker import LogLine
from streams.app.run import ensure_lanner_topics
from streams.log.producer import LogProducer
from streams.log.topics import Topics


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--es")
    args = parser.parse_args()
    with backends(args.bootstrap, args.es) as (bootstrap, es_url):
        prefix = f"logidx{secrets.token_hex(4)}"
        settings = LannerSettings(
            kafka_bootstrap=bootstrap,
            elasticsearch_url=es_url,
            topic_prefix=f"{prefix}.",
            index_prefix=prefix,
            partitions=1,
        )
        ensure_lanner_topics(settings)
        topics = Topics(settings.full_topic_prefix)
        store = SearchStore(es_url, settings.full_index_prefix)
        execution_id = "chatty-execution"
        now = dt.datetime.now(dt.UTC)
        with LogProducer(bootstrap, config={"linger.ms": 5}) as producer:
            for index in range(args.lines):
                line = LogLine(
                    tenant="main",
                    namespace="bench",
                    flow_id="chatty",
                    execution_id=execution_id,
                    task_run_id="chatty-run",
                    task_id="print",
                    attempt=1,
                    message=f"line {index}",
                    time=now,
                    index=index,
                )
                producer.send(topics.logs, execution_id, line.model_dump_json().encode())
        stop = threading.Event()
        indexer = Indexer(settings, store)
        started = time.perf_counter()
        thread = threading.Thread(target=indexer.run, args=(stop,), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 600
            while indexer.stats.records < args.lines and time.monotonic() < deadline:
                time.sleep(0.01)
            consumed = time.perf_counter() - started
            while es_count(store, execution_id) < args.lines and time.monotonic() < deadline:
                time.sleep(0.05)
            searchable = time.perf_counter() - started
            stats = indexer.stats
            print(f"{args.lines:,} log lines backlog -> Elasticsearch (real Kafka + ES)")
            print(f"  indexer started -> all written: {consumed:.2f} s ({stats.batches} bulks)")
            print(f"  indexer started -> every line searchable: {searchable:.2f} s")
            print(
                f"  of which projecting {stats.project_s:.2f} s, bulk writes {stats.write_s:.2f} s"
                " (the rest: consumer-group join, fetching, commits)"
            )
        finally:
            stop.set()
            thread.join(timeout=30)
            for name in mappings.MAPPINGS:
                store.delete_index(name)
            store.close()


if __name__ == "__main__":
    main()
