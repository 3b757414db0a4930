"""The search store's contract, held by the real Elasticsearch and by noida-db alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.store.client import SearchStore, StoreError

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "namespace": {"type": "keyword"},
        "state": {"type": "keyword"},
        "title": {"type": "text"},
        "seq": {"type": "long"},
        "created": {"type": "date"},
    },
}


@pytest.fixture(params=["elasticsearch", "noida"])
def store(request: pytest.FixtureRequest, unique_prefix: str) -> Iterator[SearchStore]:
    backend = request.getfixturevalue("es_node" if request.param == "elasticsearch" else "noida")
    search_store = SearchStore(str(backend.url), unique_prefix)
    search_store.wait_ready(timeout_s=60)
    yield search_store
    for name in ("executions", "executions-v1", "executions-v2"):
        search_store.delete_index(name)
    search_store.close()


def _doc(n: int, state: str = "RUNNING", seq: int = 1) -> dict[str, object]:
    return {
        "id": f"e{n}",
        "namespace": "team.a" if n % 2 else "team.b",
        "state": state,
        "title": f"nightly report {n}",
        "seq": seq,
        "created": f"2025-01-{1 + n % 28:02d}T10:00:00Z",
    }


def test_ensure_index_is_idempotent_and_prefixed(store: SearchStore) -> None:
    full = store.ensure_index("executions", MAPPINGS)
    assert full == f"{store.index_prefix}-executions"
    assert store.ensure_index("executions", MAPPINGS) == full
    assert store.count("executions") == 0


def test_bulk_put_get_and_count(store: SearchStore) -> None:
    store.ensure_index("executions", MAPPINGS)
    # More than one request's worth (they go in parallel): every answer is matched to its
    # document, a refused one named by its id whichever request carried it.
    docs = [(f"e{n}", 1, _doc(n)) for n in range(6000)]
    docs[5999] = ("bad", 1, {"unknown_field": 1})
    result = store.bulk_put("executions", iter(docs))
    assert (result.written, result.skipped) == (5999, 0)
    assert [f.doc_id for f in result.failures] == ["bad"]
    again = store.bulk_put("executions", iter(docs[:5999]))
    assert (again.written, again.skipped, again.failures) == (0, 5999, [])
    store.refresh("executions")
    assert store.count("executions") == 5999
    assert store.get("executions", "e7") == _doc(7)
    assert store.get("executions", "nope") is None


def test_external_versions_skip_stale_writes(store: SearchStore) -> None:
    store.ensure_index("executions", MAPPINGS)
    store.bulk_put("executions", [("e1", 5, _doc(1, "RUNNING", 5))])
    result = store.bulk_put(
        "executions",
        [
            ("e1", 3, _doc(1, "CREATED", 3)),  # older: skipped
            ("e1", 5, _doc(1, "RUNNING", 5)),  # the same again (a replay): skipped
            ("e2", 1, _doc(2)),
        ],
    )
    assert (result.written, result.skipped, result.ok) == (1, 2, True)
    assert store.bulk_put("executions", [("e1", 6, _doc(1, "SUCCESS", 6))]).written == 1
    assert store.get("executions", "e1") == _doc(1, "SUCCESS", 6)


def test_bulk_reports_other_errors(store: SearchStore) -> None:
    store.ensure_index("executions", MAPPINGS)
    result = store.bulk_put("executions", [("bad", 1, {"unknown_field": 1}), ("e1", 1, _doc(1))])
    assert result.written == 1 and result.skipped == 0
    assert [(f.doc_id, f.status) for f in result.failures] == [("bad", 400)]
    assert "strict" in result.failures[0].reason


def test_search_filters_sorts_and_pages(store: SearchStore) -> None:
    store.ensure_index("executions", MAPPINGS)
    store.bulk_put(
        "executions", ((f"e{n}", 1, _doc(n, seq=n)) for n in range(30)), refresh="wait_for"
    )
    total, page = store.search(
        "executions", {"term": {"namespace": "team.a"}}, size=5, from_=5, sort=[{"seq": "desc"}]
    )
    assert total == 15
    assert [doc["seq"] for doc in page] == [19, 17, 15, 13, 11]
    total, hits = store.search("executions", {"match": {"title": "report 12"}}, size=1)
    assert total >= 1 and hits[0]["id"] == "e12"  # best match first
    total, _ = store.search("executions", {"range": {"created": {"gte": "2025-01-25"}}})
    assert total == 4  # n = 24..27
    assert store.count("executions", {"terms": {"state": ["RUNNING"]}}) == 30


def test_refresh_makes_writes_visible(store: SearchStore) -> None:
    store.ensure_index("executions", MAPPINGS)
    store.bulk_put("executions", [("e1", 1, _doc(1))])
    store.refresh("executions")
    assert store.search("executions", {"term": {"id": "e1"}})[0] == 1


def test_aliases_swap_atomically(store: SearchStore) -> None:
    store.ensure_index("executions-v1", MAPPINGS)
    store.ensure_index("executions-v2", MAPPINGS)
    store.bulk_put("executions-v1", [("old", 1, _doc(1))], refresh=True)
    store.bulk_put("executions-v2", [("new", 1, _doc(2))], refresh=True)
    assert store.index_for_alias("executions") is None
    store.point_alias("executions", "executions-v1")
    assert store.index_for_alias("executions") == "executions-v1"
    assert store.get("executions", "old") is not None
    store.point_alias("executions", "executions-v2")
    store.point_alias("executions", "executions-v2")  # idempotent
    assert store.index_for_alias("executions") == "executions-v2"
    assert store.search("executions")[1] == [_doc(2)]


def test_delete_index_is_idempotent(store: SearchStore) -> None:
    store.ensure_index("executions", MAPPINGS)
    store.delete_index("executions")
    store.delete_index("executions")
    with pytest.raises(StoreError, match="does not exist"):
        store.get("executions", "e1")
