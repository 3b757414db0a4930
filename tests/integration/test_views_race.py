"""The API and the indexer create the views at the same start: neither may fail (real ES)."""

from __future__ import annotations

import secrets
import threading

from projections import mappings
from projections.generations import ensure_views
from projections.store.client import SearchStore
from tests.harness.elasticsearch_node import ElasticsearchNode


def _start(url: str, prefix: str, results: list[dict[str, str]], errors: list[str]) -> None:
    try:
        with SearchStore(url, prefix) as store:
            results.append(ensure_views(store))
    except Exception as exc:  # the test's assertion names it
        errors.append(repr(exc))


def test_processes_creating_the_views_together_all_succeed(es_node: ElasticsearchNode) -> None:
    for _ in range(3):
        prefix = f"race{secrets.token_hex(3)}"
        errors: list[str] = []
        results: list[dict[str, str]] = []
        threads = [
            threading.Thread(target=_start, args=(es_node.url, prefix, results, errors))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        with SearchStore(es_node.url, prefix) as store:
            for view in mappings.MAPPINGS:
                assert store.index_for_alias(view) is not None, view
        assert len({tuple(sorted(r.items())) for r in results}) == 1
