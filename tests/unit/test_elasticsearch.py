"""The Elasticsearch tasks' pure parts: the connection, bulk files turned into operations,
the server's errors in words. (Calls run against the real node in
tests/integration/test_elasticsearch.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import BadRequestError
from pydantic import ValidationError

from streams.plugins.elasticsearch import Bulk, Load, Put, Search
from streams.plugins.elasticsearch.connection import Connection, EsTaskError, describe
from streams.plugins.elasticsearch.search import request_body
from streams.plugins.rows import RowFormatError

CONNECTION = {"hosts": ["http://127.0.0.1:9200"]}


def _task(cls: Any, **extra: Any) -> Any:
    spec = {"id": "t", "type": cls.KESTRA_TYPES[0], "connection": CONNECTION, **extra}
    return cls.model_validate(spec)


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "from"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_kestra_names_and_a_connection_are_required() -> None:
    assert Search.names()[1] == "io.kestra.plugin.elasticsearch.Search"
    with pytest.raises(ValidationError, match="connection"):
        Search.model_validate({"id": "s", "type": "elasticsearch.Search", "request": {}})
    with pytest.raises(ValidationError, match="hosts"):
        _task(Search, request={}, connection={"hosts": []})


def test_headers_are_name_value_lines_and_basic_auth_yields_to_authorization() -> None:
    connection = Connection.model_validate(
        {
            **CONNECTION,
            "headers": ["Authorization: ApiKey abc", "X-Opaque-Id:  run-1 "],
            "basicAuth": {"username": "u", "password": "p"},
            "pathPrefix": "/es/",
        }
    )
    assert connection.header_map() == {"Authorization": "ApiKey abc", "X-Opaque-Id": "run-1"}
    client = connection.client()
    node = client.transport.node_pool.get().config
    assert node.path_prefix == "/es"
    assert "basic" not in str(client._headers.get("authorization", "")).lower()
    client.close()
    with pytest.raises(EsTaskError, match="expected `Name: Value`"):
        Connection.model_validate({**CONNECTION, "headers": ["no colon"]}).header_map()


def test_bulk_lines_become_operations_with_their_line_numbers(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        [
            '{"index": {"_index": "i", "_id": "1"}}',
            '{"a": 1}',
            "",
            '{"delete": {"_index": "i", "_id": "2"}}',
            '{"update": {"_index": "i", "_id": "3"}}',
            '{"a": 3}',
            '{"create": {"_index": "i"}}',
            '{"a": 4}',
        ],
    )
    operations = list(_task(Bulk, **{"from": "kestra://main/x"}).operations(path))
    assert [(o.line, [json.loads(line) for line in o.lines]) for o in operations] == [
        (1, [{"index": {"_index": "i", "_id": "1"}}, {"a": 1}]),
        (4, [{"delete": {"_index": "i", "_id": "2"}}]),
        (5, [{"update": {"_index": "i", "_id": "3"}}, {"doc": {"a": 3}, "doc_as_upsert": True}]),
        (7, [{"create": {"_index": "i"}}, {"a": 4}]),
    ]


def test_bulk_reads_ion_as_kestra_writes_it(tmp_path: Path) -> None:
    path = _file(tmp_path, ['{index:{_index:"i",_id:"1"}}', "{a:1.5,at:2024-01-01T00:00:00Z}"])
    [operation] = _task(Bulk, **{"from": "kestra://main/x"}).operations(path)
    assert [json.loads(line) for line in operation.lines] == [
        {"index": {"_index": "i", "_id": "1"}},
        {"a": 1.5, "at": "2024-01-01T00:00:00+00:00"},
    ]


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        (['{"upsert": {"_index": "i"}}', "{}"], "line 1: Invalid bulk request type"),
        (['{"index": {"_index": "i"}}'], "line 1: `index` has no document line"),
        (['{"index": {"_index": "i"}}', "[1]"], "line 2 is not a document"),
        (['{"index": {"_index": "i"}}', '{"a": 1}', '{"index": {}}', '{"a": '], "line 4 is not"),
    ],
)
def test_a_bad_bulk_file_names_the_line(tmp_path: Path, lines: list[str], fragment: str) -> None:
    task = _task(Bulk, **{"from": "kestra://main/x"})
    with pytest.raises(RowFormatError) as caught:
        list(task.operations(_file(tmp_path, lines)))
    assert fragment in str(caught.value)


def test_load_indexes_rows_with_their_id_key(tmp_path: Path) -> None:
    path = _file(tmp_path, ['{"id": 7, "name": "a"}', '{"id": "x", "name": "b"}'])
    task = _task(Load, index="people", idKey="id", opType="CREATE", **{"from": "kestra://m/x"})
    assert [[json.loads(line) for line in o.lines] for o in task.operations(path)] == [
        [{"create": {"_index": "people", "_id": "7"}}, {"name": "a"}],
        [{"create": {"_index": "people", "_id": "x"}}, {"name": "b"}],
    ]
    kept = _task(Load, index="p", idKey="id", removeIdKey=False, **{"from": "kestra://m/x"})
    first = next(iter(kept.operations(path)))
    assert json.loads(first.lines[1]) == {"id": 7, "name": "a"}
    with pytest.raises(EsTaskError, match="line 1: no `key` field"):
        list(_task(Load, index="p", idKey="key", **{"from": "kestra://m/x"}).operations(path))


def test_request_and_value_may_be_json_text() -> None:
    assert request_body('{"size": 1}') == {"size": 1}
    with pytest.raises(EsTaskError, match="`request` is not JSON"):
        request_body("{size: 1}")
    with pytest.raises(EsTaskError, match="must be a JSON object"):
        request_body("[1]")
    put = _task(Put, index="i", value='{"a": 1}')
    assert put._document() == {"a": 1}
    with pytest.raises(EsTaskError, match="`value` is not JSON"):
        _task(Put, index="i", value="a=1")._document()


def test_errors_are_the_servers_own_words() -> None:
    meta = ApiResponseMeta(
        status=400,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )
    body = {
        "error": {
            "type": "parsing_exception",
            "reason": "unknown query [bogus]",
            "caused_by": {"type": "named_object_not_found_exception", "reason": "[1:19] bogus"},
        },
        "status": 400,
    }
    text = describe(BadRequestError("x", meta, body), ["http://h:1"])
    assert text == (
        "Elasticsearch answered 400: parsing_exception: unknown query [bogus]"
        " (caused by named_object_not_found_exception: [1:19] bogus)"
    )
    refused = describe(ConnectionError("Connection refused"), ["http://h:1", "http://h:2"])
    assert refused.startswith("cannot reach Elasticsearch at http://h:1, http://h:2: ")
