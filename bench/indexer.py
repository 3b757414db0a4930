"""Indexer figures: throughput (records/s folded into ES) and event-to-visible latency.

    PYTHONPATH=. python bench/indexer.py [--executions 2000] [--bootstrap H:P --es URL]

Without --bootstrap/--es it starts the test harness's real Kafka broker and real
Elasticsearch node (cached downloads). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import secrets
import statistics
import threading
import time
from collections.abc import Iterator

from projections import mappings
from projections.indexer import Indexer
from projections.lag import indexer_lag
from projections.store.client import SearchStore
from schemas.events import (
    ExecutionCreated,
    ExecutionEvent,
    ExecutionStarted,
    ExecutionSucceeded,
    TaskRunCreated,
    TaskRunStarted,
    TaskRunSucceeded,
)
from schemas.settings import LannerSettings
from schemas.worker import LogLine
from streams.log.admin import ensure_lanner_topics
from streams.log.producer import LogProducer
from streams.log.topics import Topics


def one_execution(execution_id: str, now: dt.datetime) -> list[ExecutionEvent]:
    c = {
        "execution_id": execution_id,
        "causation_id": "bench",
        "correlation_id": execution_id,
        "time": now,
    }
    return [
        ExecutionCreated(
            seq=1,
            tenant="main",
            namespace="bench.ns",
            flow_id="f",
            flow_revision=1,
            labels={"bench": "yes"},
            **c,
        ),
        ExecutionStarted(seq=2, **c),
        TaskRunCreated(seq=3, task_run_id=f"{execution_id}-r", task_id="t", **c),
        TaskRunStarted(seq=4, task_run_id=f"{execution_id}-r", attempt=1, **c),
        TaskRunSucceeded(seq=5, task_run_id=f"{execution_id}-r", outputs={"value": 1}, **c),
        ExecutionSucceeded(seq=6, **c),
    ]


def produce(producer: LogProducer, topics: Topics, execution_id: str) -> int:
    now = dt.datetime.now(dt.UTC)
    count = 0
    for event in one_execution(execution_id, now):
        producer.send(topics.execution_events, execution_id, event.model_dump_json().encode())
        count += 1
    for index in range(2):
        line = LogLine(
            tenant="main",
            namespace="bench.ns",
            flow_id="f",
            execution_id=execution_id,
            task_run_id=f"{execution_id}-r",
            task_id="t",
            attempt=1,
            message=f"line {index}",
            time=now,
            index=index,
        )
        producer.send(topics.logs, execution_id, line.model_dump_json().encode())
        count += 1
    return count


@contextlib.contextmanager
def backends(bootstrap: str | None, es: str | None) -> Iterator[tuple[str, str]]:
    if bootstrap and es:
        yield bootstrap, es
        return
    from tests.harness.elasticsearch_node import ElasticsearchNode
    from tests.harness.kafka_broker import KafkaBroker

    with KafkaBroker() as broker, ElasticsearchNode() as node:
        yield broker.bootstrap, node.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap")
    parser.add_argument("--es")
    args = parser.parse_args()

    with backends(args.bootstrap, args.es) as (bootstrap, es_url):
        prefix = f"b{secrets.token_hex(4)}"
        settings = LannerSettings(
            kafka_bootstrap=bootstrap,
            elasticsearch_url=es_url,
            topic_prefix=f"{prefix}.",
            index_prefix=prefix,
            partitions=args.partitions,
        )
        ensure_lanner_topics(settings)
        topics = Topics(settings.full_topic_prefix)
        store = SearchStore(es_url, settings.full_index_prefix)
        producer = LogProducer(bootstrap, config={"linger.ms": 5})

        # Backlog first: the indexer starts behind and catches up (throughput).
        total = sum(produce(producer, topics, f"x{n:07d}") for n in range(args.executions))
        producer.flush()
        stop = threading.Event()
        indexer = Indexer(settings, store)
        started = time.monotonic()
        thread = threading.Thread(target=indexer.run, args=(stop,), daemon=True)
        thread.start()
        while indexer.stats.records < total:
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        lag = sum(p.lag for p in indexer_lag(settings))
        print(
            f"backend: real Kafka {bootstrap} + Elasticsearch {es_url}, "
            f"{args.partitions} partitions"
        )
        print(
            f"throughput: {total} records ({args.executions} executions x 6 events + 2 logs) "
            f"in {elapsed:.2f} s = {total / elapsed:,.0f} records/s "
            f"({indexer.stats.batches} batches, incl. consumer-group join); lag after: {lag}"
        )
        print(
            f"  of which projecting {indexer.stats.project_s:.2f} s, bulk writes "
            f"{indexer.stats.write_s:.2f} s"
        )

        # Latency: one execution at a time on a warm indexer.
        visible: list[float] = []
        searchable: list[float] = []
        for n in range(args.latency_samples):
            execution_id = f"lat{n:05d}"
            sent = time.monotonic()
            event = one_execution(execution_id, dt.datetime.now(dt.UTC))[0]
            producer.send_and_wait(
                topics.execution_events, execution_id, event.model_dump_json().encode()
            )
            while store.get(mappings.EXECUTIONS, execution_id) is None:
                time.sleep(0.001)
            visible.append((time.monotonic() - sent) * 1000)
            while store.count(mappings.EXECUTIONS, {"term": {"id": execution_id}}) == 0:
                time.sleep(0.01)
            searchable.append((time.monotonic() - sent) * 1000)

        def show(name: str, values: list[float]) -> None:
            q = statistics.quantiles(values, n=20)
            print(
                f"{name}: p50 {statistics.median(values):.1f} ms, p95 {q[18]:.1f} ms, "
                f"max {max(values):.1f} ms ({len(values)} samples)"
            )

        show("event -> GET-visible (read-your-writes)", visible)
        show("event -> searchable (1 s refresh interval)", searchable)
        stop.set()
        thread.join(timeout=20)
        producer.close()
        for name in mappings.MAPPINGS:
            store.delete_index(name)
        store.close()


if __name__ == "__main__":
    main()
