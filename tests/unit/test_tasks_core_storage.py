"""Core storage tasks (storage.*) run directly with a worker context on a local folder,
after Kestra's own tests (core/src/test/java/io/kestra/plugin/core/storage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from schemas.storage import execution_prefix, input_file_uri
from streams.plugins.base import Outcome, Task, WorkerContext
from streams.plugins.core.files import delete_file, delete_under
from streams.plugins.core.items import DeduplicateItems, FilterItems
from streams.plugins.core.storage import (
    Concat,
    Delete,
    LocalFiles,
    PurgeCurrentExecutionFiles,
    Reverse,
    Size,
    Split,
    parse_bytes,
)
from streams.plugins.registry import PluginRegistry
from streams.storage import LocalStorage
from tests.unit.test_tasks_helpers import Recorder, make_ctx


def _ctx(tmp: Path) -> WorkerContext:
    return make_ctx(tmp, Recorder())


def _put(ctx: WorkerContext, name: str, data: bytes | str) -> str:
    assert ctx.storage is not None
    raw = data.encode() if isinstance(data, str) else data
    return ctx.storage.put_bytes(
        input_file_uri("main", "company.team", "flow1", "exec1", "in", name), raw
    )


def _read(ctx: WorkerContext, uri: str) -> str:
    assert ctx.storage is not None
    return ctx.storage.get_bytes(uri).decode()


async def _run(cls: type[Task], ctx: WorkerContext, **props: Any) -> Outcome:
    task = cls.model_validate({"id": "t1", "type": cls.TYPE, **props})
    outcome: Outcome = await task.run(ctx)  # type: ignore[attr-defined]
    return outcome


def _rows(count: int) -> list[str]:
    return [str(i).rjust(20) for i in range(count)]


def test_every_storage_task_is_registered_under_kestras_names() -> None:
    registry = PluginRegistry.discover()
    for name, cls in {
        "io.kestra.plugin.core.storage.Concat": Concat,
        "io.kestra.core.tasks.storages.Split": Split,
        "io.kestra.plugin.core.storage.Size": Size,
        "io.kestra.core.tasks.storages.Delete": Delete,
        "io.kestra.plugin.core.storage.Reverse": Reverse,
        "io.kestra.core.tasks.storages.FilterItems": FilterItems,
        "io.kestra.plugin.core.storage.DeduplicateItems": DeduplicateItems,
        "io.kestra.core.tasks.storages.LocalFiles": LocalFiles,
        "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles": PurgeCurrentExecutionFiles,
        "io.kestra.core.tasks.storages.PurgeExecution": PurgeCurrentExecutionFiles,
    }.items():
        assert registry.get(name) is cls, name


async def test_concat_with_separator_from_a_list_or_json_text(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    a, b = _put(ctx, "a.txt", "one"), _put(ctx, "b.txt", "two")
    out = await _run(Concat, ctx, files=[a, b], separator="\n", extension=".txt")
    assert out.state == State.SUCCESS, out.error
    assert out.outputs["uri"].startswith(ctx.files_prefix() + "/")
    assert out.outputs["uri"].endswith(".txt")
    assert _read(ctx, out.outputs["uri"]) == "one\ntwo\n"
    out = await _run(Concat, ctx, files=json.dumps([b, a]))
    assert _read(ctx, out.outputs["uri"]) == "twoone"
    assert out.outputs["uri"].endswith(".tmp")


async def test_concat_of_a_missing_or_foreign_file_fails_with_the_reason(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    missing = await _run(Concat, ctx, files=["kestra://main/company/team/nope.txt"])
    assert missing.state == State.FAILED
    assert "does not exist" in (missing.error or "")
    foreign = await _run(Concat, ctx, files=["kestra://other/x/y.txt"])
    assert "belongs to another tenant" in (foreign.error or "")
    bad = await _run(Concat, ctx, files="not json")
    assert bad.state == State.FAILED


async def test_split_by_rows_bytes_and_partitions_as_kestra(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    uri = _put(ctx, "get.yml", "\n".join(_rows(1000)) + "\n")
    rows = await _run(Split, ctx, **{"from": uri, "rows": 10})
    assert rows.state == State.SUCCESS, rows.error
    assert len(rows.outputs["uris"]) == 100
    assert "".join(_read(ctx, u) for u in rows.outputs["uris"]) == "\n".join(_rows(1000)) + "\n"
    parts = await _run(Split, ctx, **{"from": uri, "partitions": 8})
    assert len(parts.outputs["uris"]) == 8
    assert parts.outputs["uris"][0].endswith(".yml")
    assert sum(_read(ctx, u).count("\n") for u in parts.outputs["uris"]) == 1000
    big = _put(ctx, "big.yml", "\n".join(_rows(12288)))  # no newline at the end
    sized = await _run(Split, ctx, **{"from": big, "bytes": "1KB"})
    assert len(sized.outputs["uris"]) == 251  # Kestra's SplitTest.bytes
    assert "".join(_read(ctx, u) for u in sized.outputs["uris"]) == "\n".join(_rows(12288)) + "\n"


async def test_split_needs_a_way_to_split(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    uri = _put(ctx, "x.txt", "a\r\nb\rc\n")
    out = await _run(Split, ctx, **{"from": uri})
    assert out.state == State.FAILED
    assert "no bytes, partitions nor rows" in (out.error or "")
    lines = await _run(Split, ctx, **{"from": uri, "rows": 1, "separator": ";"})
    assert [_read(ctx, u) for u in lines.outputs["uris"]] == ["a;", "b;", "c;"]


def test_parse_bytes_reads_micronauts_sizes() -> None:
    assert parse_bytes("1KB") == 1024
    assert parse_bytes("10mb") == 10 * 1024 * 1024
    assert parse_bytes("512") == 512
    assert parse_bytes(7) == 7
    with pytest.raises(ValueError):
        parse_bytes("ten")


async def test_reverse_keeps_the_extension(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    uri = _put(ctx, "get.yml", "1\n2\n3\n")
    out = await _run(Reverse, ctx, **{"from": uri})
    assert out.state == State.SUCCESS, out.error
    assert out.outputs["uri"].endswith(".yml")
    assert _read(ctx, out.outputs["uri"]) == "3\n2\n1\n"
    crlf = await _run(Reverse, ctx, **{"from": _put(ctx, "w.txt", "a\r\nb"), "separator": ","})
    assert _read(ctx, crlf.outputs["uri"]) == "b,a,"
    bad = await _run(Reverse, ctx, **{"from": uri, "charset": "no-such"})
    assert bad.state == State.FAILED and "unknown charset" in (bad.error or "")


async def test_size_and_delete(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    uri = _put(ctx, "r.bin", bytes(range(42)))
    size = await _run(Size, ctx, uri=uri)
    assert size.outputs == {"size": 42}
    deleted = await _run(Delete, ctx, uri=uri)
    assert deleted.outputs == {"uri": uri, "deleted": True}
    again = await _run(Delete, ctx, uri=uri)
    assert again.state == State.SUCCESS and again.outputs["deleted"] is False
    strict = await _run(Delete, ctx, uri=uri, errorOnMissing=True)
    assert strict.state == State.FAILED and "unable to find file" in (strict.error or "")
    gone = await _run(Size, ctx, uri=uri)
    assert gone.state == State.FAILED


async def test_purge_deletes_every_file_of_the_execution_and_only_those(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert ctx.storage is not None
    own = [_put(ctx, "a.txt", "a"), ctx.storage.put_bytes(ctx.files_prefix() + "/out.txt", b"o")]
    other = ctx.storage.put_bytes(
        execution_prefix("main", "company.team", "flow1", "exec2") + "keep.txt", b"k"
    )
    out = await _run(PurgeCurrentExecutionFiles, ctx)
    assert out.state == State.SUCCESS, out.error
    assert out.outputs["uris"] == sorted(own)
    assert not any(ctx.storage.exists(u) for u in own)
    assert ctx.storage.exists(other)
    assert (await _run(PurgeCurrentExecutionFiles, ctx)).outputs == {"uris": []}


async def test_local_files_writes_inputs_and_stores_matching_outputs(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    stored = _put(ctx, "application-test.yml", "app: 1\n")
    out = await _run(
        LocalFiles,
        ctx,
        inputs={
            "test/hello-input.txt": "Hello Input",
            "test/sub/dir/2/execution.txt": "tata",
            "test/sub/dir/3/application-test.yml": stored,
            "other.txt": "x",
        },
        outputs=["test/**", "nothing-*.csv"],
    )
    assert out.state == State.SUCCESS, out.error
    uris = out.outputs["uris"]
    assert sorted(uris) == [
        "test/hello-input.txt",
        "test/sub/dir/2/execution.txt",
        "test/sub/dir/3/application-test.yml",
    ]
    assert _read(ctx, uris["test/hello-input.txt"]) == "Hello Input"
    assert _read(ctx, uris["test/sub/dir/3/application-test.yml"]) == "app: 1\n"
    escape = await _run(LocalFiles, ctx, inputs={"../x": "no"})
    assert escape.state == State.FAILED
    json_text = await _run(LocalFiles, ctx, inputs='{"a.txt": "A"}', outputs=["a.txt"])
    assert _read(ctx, json_text.outputs["uris"]["a.txt"]) == "A"


def _items(ctx: WorkerContext, items: list[dict[str, Any]]) -> str:
    return _put(ctx, "items.ion", "".join(json.dumps(i) + "\n" for i in items))


def _read_items(ctx: WorkerContext, uri: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _read(ctx, uri).splitlines()]


VALID = [{"key": f"k{i}", "value": i} for i in range(1, 5)]
INVALID = [{"key": "k1", "value": 1}, {"key": "k2", "value": "dummy"}, *VALID[2:]]


@pytest.mark.parametrize(
    ("items", "filter_type", "behaviour", "kept", "dropped"),
    [
        (VALID, "INCLUDE", "FAIL", ["k2", "k4"], 2),
        (VALID, "EXCLUDE", "FAIL", ["k1", "k3"], 2),
        (INVALID, "INCLUDE", "INCLUDE", ["k2", "k4"], 2),
        (INVALID, "INCLUDE", "EXCLUDE", ["k4"], 3),
    ],
)
async def test_filter_items_as_kestra(
    tmp_path: Path,
    items: list[dict[str, Any]],
    filter_type: str,
    behaviour: str,
    kept: list[str],
    dropped: int,
) -> None:
    ctx = _ctx(tmp_path)
    out = await _run(
        FilterItems,
        ctx,
        **{"from": _items(ctx, items)},
        filterCondition=" {{ value % 2 == 0 }} ",
        filterType=filter_type,
        errorOrNullBehavior=behaviour,
    )
    assert out.state == State.SUCCESS, out.error
    assert out.outputs["processedItemsTotal"] == 4
    assert out.outputs["droppedItemsTotal"] == dropped
    assert [i["key"] for i in _read_items(ctx, out.outputs["uri"])] == kept
    assert out.outputs["uri"].endswith(".ion")


async def test_filter_items_fails_on_an_error_by_default_and_keeps_truthy_values(
    tmp_path: Path,
) -> None:
    ctx = _ctx(tmp_path)
    failed = await _run(
        FilterItems, ctx, **{"from": _items(ctx, INVALID)}, filterCondition="{{ value % 2 == 0 }}"
    )
    assert failed.state == State.FAILED and "dummy" in (failed.error or "")
    truthy = await _run(
        FilterItems, ctx, **{"from": _items(ctx, VALID)}, filterCondition="{{ value }}"
    )
    assert truthy.outputs["droppedItemsTotal"] == 0
    not_json = await _run(
        FilterItems, ctx, **{"from": _put(ctx, "x.ion", "{a:1}\n")}, filterCondition="{{ a }}"
    )
    assert not_json.state == State.FAILED and "line 1 is not JSON" in (not_json.error or "")


def test_item_expressions_are_left_for_the_worker() -> None:
    assert "filterCondition" in FilterItems.UNRENDERED
    assert "expr" in DeduplicateItems.UNRENDERED


async def test_deduplicate_items_keeps_the_last_of_each_key(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    values = [
        ("k1", "v1"),
        ("k2", "v1"),
        ("k3", "v1"),
        ("k1", "v2"),
        ("k2", "v2"),
        ("k2", None),
        ("k3", "v2"),
        ("k1", "v3"),
    ]
    uri = _items(ctx, [{"key": k, "value": v} for k, v in values])
    out = await _run(DeduplicateItems, ctx, **{"from": uri}, expr=" {{ key }} ")
    assert out.state == State.SUCCESS, out.error
    assert (out.outputs["numKeys"], out.outputs["droppedItemsTotal"]) == (3, 5)
    assert out.outputs["processedItemsTotal"] == 8
    assert _read_items(ctx, out.outputs["uri"]) == [
        {"key": "k2", "value": None},
        {"key": "k3", "value": "v2"},
        {"key": "k1", "value": "v3"},
    ]
    composite = await _run(DeduplicateItems, ctx, **{"from": uri}, expr="{{ key }}-{{ value }}")
    assert composite.outputs["numKeys"] == 8  # every pair differs


def test_delete_helpers_on_s3(tmp_path: Path) -> None:
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    from streams.storage.s3 import S3Storage

    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="lanner-test")
        storage = S3Storage("lanner-test", prefix="p", client=client)
        base = "kestra://main/ns/f/executions/e1/"
        for name in ("a.txt", "tasks/t/r/1/b.txt"):
            storage.put_bytes(base + name, b"x")
        storage.put_bytes("kestra://main/ns/f/executions/e2/c.txt", b"x")
        assert delete_file(storage, base + "a.txt") is True
        assert delete_file(storage, base + "a.txt") is False
        assert delete_under(storage, base) == [base + "tasks/t/r/1/b.txt"]
        assert storage.exists("kestra://main/ns/f/executions/e2/c.txt")


def test_delete_helpers_on_a_local_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("kestra://main/a/b.txt", b"x")
    assert delete_under(storage, "kestra://main/nothing/") == []
    assert delete_under(storage, "kestra://main/a") == ["kestra://main/a/b.txt"]
    assert delete_file(storage, "kestra://main/a/b.txt") is False
