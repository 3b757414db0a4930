"""The bulk bodies' encoder: orjson, with the client's encoder for what orjson refuses."""

from __future__ import annotations

import datetime as dt
import json

from projections.store.client import SearchStore


def test_documents_encode_as_the_stdlib_would_read_them() -> None:
    store = SearchStore("http://127.0.0.1:9", "unit")
    doc = {
        "message": 'quote " and ünïcode \n',
        "when": dt.datetime(2026, 12, 1, 11, 2, 18, 966751, tzinfo=dt.UTC),
        "n": 3,
        "nested": {"list": [1.5, None, True]},
    }
    assert json.loads(store._encode(doc)) == {
        **doc,
        "when": "2026-12-01T11:02:18.966751+00:00",
    }
    store.close()


def test_what_orjson_refuses_still_encodes() -> None:
    store = SearchStore("http://127.0.0.1:9", "unit")
    # A task's output may hold an integer past 64 bits, or a mapping with integer keys.
    assert json.loads(store._encode({"n": 2**70, "k": {1: "a"}})) == {"n": 2**70, "k": {"1": "a"}}
    store.close()
