"""Kafka Produce / Consume and Elasticsearch Bulk / Load tasks on 100,000 records: time and
peak memory of each task's body, as a worker runs it.

    PYTHONPATH=. python bench/kafka_elasticsearch.py [--records 100000]
        [--bootstrap HOST:PORT] [--es-url http://HOST:PORT]

Without addresses, it starts a real Kafka broker and a real Elasticsearch node with the
test harness (tests/harness). Each task runs in a fresh child process, with the worker's
context (local storage, a work folder), so its peak resident memory is its own: `rss
before` is the process with everything imported, `peak` the most it held while the task
ran. Files are JSON lines: Produce reads one record a line; Consume writes what it read;
Bulk reads a bulk-API file (two lines a record); Load one document a line.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import queue as queue_module
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_NS = "bench.bus"


def _ctx(root: Path, run: str) -> Any:
    from streams.plugins.base import WorkerContext
    from streams.storage import LocalStorage

    async def log(level: str, message: str) -> None:
        pass

    return WorkerContext(
        execution_id="bench",
        task_run_id=run,
        attempt=1,
        namespace=_NS,
        flow_id="bus",
        log=log,
        now=lambda: dt.datetime.now(dt.UTC),
        task_id=run,
        storage=LocalStorage(root / "storage"),
        work_root=root / "work",
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _run_task(spec: dict[str, Any], root: str, queue: Any) -> None:
    """In a child process: validate and run one task; report time and memory."""
    from streams.plugins import elasticsearch, kafka
    from streams.plugins.registry import PluginRegistry

    # Straight from the packages: an installed Lanner's entry points may predate them.
    cls = PluginRegistry.of([*kafka.PLUGINS, *elasticsearch.PLUGINS]).get(spec["type"])
    assert cls is not None, spec["type"]
    task = cls.model_validate(spec)
    ctx = _ctx(Path(root), spec["id"])
    before = _rss_mb()
    started = time.perf_counter()
    outcome = asyncio.run(task.run(ctx))  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((outcome.state.value, dict(outcome.outputs), outcome.error, seconds, before, peak))


def timed(spec: dict[str, Any], root: Path, records: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_run_task, args=(spec, str(root), queue))
    child.start()
    deadline = time.monotonic() + 1800
    while True:
        with contextlib.suppress(queue_module.Empty):
            state, outputs, error, seconds, before, peak = queue.get(timeout=1)
            break
        if not child.is_alive() or time.monotonic() > deadline:
            raise SystemExit(f"{spec['id']}: the task's process ended without a report")
    child.join(60)
    if state != "SUCCESS":
        raise SystemExit(f"{spec['id']} ended {state}: {error}")
    print(
        f"{spec['type'].rsplit('.', 1)[-1]:<8} {records:>8,} records  {seconds:7.2f} s"
        f"  {records / seconds:>9,.0f} records/s  rss before {before:6.1f} MB"
        f"  peak {peak:6.1f} MB   {json.dumps({k: v for k, v in outputs.items() if k != 'uri'})}"
    )
    return outputs


def _write_files(root: Path, records: int, index: str) -> tuple[str, str, str]:
    """The Produce, Bulk and Load input files, in storage as kestra:// URIs."""
    from streams.storage import LocalStorage

    storage = LocalStorage(root / "storage")
    base = "kestra://main/bench/bus/executions/bench/inputs/"
    work = root / "inputs"
    work.mkdir(parents=True, exist_ok=True)
    rows = [{"order": n, "amount": n % 500, "customer": f"c{n % 977}"} for n in range(records)]
    with (work / "produce.jsonl").open("w") as out:
        out.writelines(json.dumps({"key": f"o{r['order']}", "value": r}) + "\n" for r in rows)
    with (work / "bulk.jsonl").open("w") as out:
        for r in rows:
            out.write(json.dumps({"index": {"_index": index, "_id": f"o{r['order']}"}}) + "\n")
            out.write(json.dumps(r) + "\n")
    with (work / "load.jsonl").open("w") as out:
        out.writelines(json.dumps({"id": f"o{r['order']}", **r}) + "\n" for r in rows)
    return tuple(  # type: ignore[return-value]
        storage.put_file(base + name, work / name)
        for name in ("produce.jsonl", "bulk.jsonl", "load.jsonl")
    )


@contextlib.contextmanager
def back_ends(bootstrap: str | None, es_url: str | None) -> Iterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        if bootstrap is None:
            from tests.harness.kafka_broker import KafkaBroker

            bootstrap = stack.enter_context(KafkaBroker()).bootstrap
        if es_url is None:
            from tests.harness.elasticsearch_node import ElasticsearchNode

            es_url = stack.enter_context(ElasticsearchNode()).url
        yield bootstrap, es_url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--es-url")
    args = parser.parse_args()
    from confluent_kafka.admin import AdminClient, NewTopic

    with back_ends(args.bootstrap, args.es_url) as (bootstrap, es_url):
        root = Path(tempfile.mkdtemp(prefix="lanner-bench-bus-"))
        stamp = int(time.time())
        topic, index = f"bench-bus-{stamp}", f"bench-bus-{stamp}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            future.result(timeout=60)
        produce_file, bulk_file, load_file = _write_files(root, args.records, index)
        kafka = {"bootstrap.servers": bootstrap}
        connection = {"hosts": [es_url]}
        print(f"Kafka {bootstrap}, Elasticsearch {es_url}, one partition, work in {root}")
        timed(
            {
                "id": "produce",
                "type": "io.kestra.plugin.kafka.Produce",
                "properties": kafka,
                "topic": topic,
                "valueSerializer": "JSON",
                "from": produce_file,
            },
            root,
            args.records,
        )
        timed(
            {
                "id": "consume",
                "type": "io.kestra.plugin.kafka.Consume",
                "properties": kafka,
                "topic": topic,
                "valueDeserializer": "JSON",
                "pollDuration": "PT2S",
            },
            root,
            args.records,
        )
        timed(
            {
                "id": "bulk",
                "type": "io.kestra.plugin.elasticsearch.Bulk",
                "connection": connection,
                "from": bulk_file,
            },
            root,
            args.records,
        )
        timed(
            {
                "id": "load",
                "type": "io.kestra.plugin.elasticsearch.Load",
                "connection": connection,
                "from": load_file,
                "index": f"{index}-load",
                "idKey": "id",
            },
            root,
            args.records,
        )


if __name__ == "__main__":
    main()
