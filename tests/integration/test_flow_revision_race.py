"""Two writers of one flow at the same moment on the real broker (two API processes,
each with its own producer and flow catalog): every deploy gets its own revision, the
revisions are 1..N without a hole or a double, and every reader agrees."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from schemas.settings import LannerSettings
from streams.app.run import ensure_lanner_topics
from streams.flow_catalog import LiveFlowCatalog
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from streams.writers.flows import Deployed, FlowWriter
from tests.harness.kafka_broker import KafkaBroker

ROUNDS = 8


def _source(ns: str, writer: int, round_: int) -> str:
    return (
        f"id: raced\nnamespace: {ns}\ntasks:\n  - id: a\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: writer {writer} round {round_}\n"
    )


def test_two_writers_never_write_one_revision_twice(kafka_broker: KafkaBroker) -> None:
    prefix = f"r{secrets.token_hex(4)}."
    settings = LannerSettings(
        kafka_bootstrap=kafka_broker.bootstrap, topic_prefix=prefix, partitions=2
    )
    ensure_lanner_topics(settings)
    topics = Topics(settings.full_topic_prefix)
    registry = PluginRegistry.discover()
    catalogs = [LiveFlowCatalog(kafka_broker.bootstrap, topics, registry).start() for _ in "ab"]
    producers = [LogProducer(kafka_broker.bootstrap, client_id=f"api-{n}") for n in "ab"]
    writers = [
        FlowWriter(p, c, registry, topics, "main") for p, c in zip(producers, catalogs, strict=True)
    ]
    ns = f"company.r{secrets.token_hex(3)}"
    try:
        results: list[tuple[int, str]] = []  # (revision told, source sent)
        for round_ in range(ROUNDS):
            barrier = threading.Barrier(2)

            def deploy(
                n: int, round_: int = round_, barrier: threading.Barrier = barrier
            ) -> tuple[int, str]:
                source = _source(ns, n, round_)
                barrier.wait(10)
                done = writers[n].deploy(source, f"writer{n}", wait_s=20)
                assert isinstance(done, Deployed), done
                return done.revision, source

            with ThreadPoolExecutor(2) as pool:
                results += list(pool.map(deploy, (0, 1)))
        assert sorted(r for r, _ in results) == list(range(1, 2 * ROUNDS + 1)), results
        for catalog in catalogs:
            assert catalog.wait_for("main", ns, "raced", 2 * ROUNDS, 20)
            history = catalog.history("main", ns, "raced")
            assert history is not None and history.latest == 2 * ROUNDS
            # Each deploy's source is the revision it was told it made, for every reader.
            assert all(history.revisions[revision] == source for revision, source in results)
            lost = len(history.events) - 2 * ROUNDS
            print(f"{lost} of {len(history.events)} writes lost a race and wrote again")
    finally:
        for catalog in catalogs:
            catalog.stop()
        for producer in producers:
            producer.close()
