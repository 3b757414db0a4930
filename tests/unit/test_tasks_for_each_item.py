"""ForEachItem's worker tasks (`<id>_split`, `<id>_merge`) on a local storage folder, with
the 102-line file of Kestra's ForEachItemCaseTest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from schemas.states import State
from schemas.storage import input_file_uri
from streams.plugins.base import WorkerContext
from streams.plugins.core.for_each_item import (
    ForEachItemMergeOutputs,
    ForEachItemSplit,
)
from streams.plugins.registry import PluginRegistry
from tests.unit.test_tasks_helpers import Recorder, make_ctx

KESTRA = "io.kestra.plugin.core.flow.ForEachItem"


def _ctx(tmp: Path) -> WorkerContext:
    return dataclasses.replace(make_ctx(tmp, Recorder()), task_id="each_split")


def _put(ctx: WorkerContext, data: str) -> str:
    assert ctx.storage is not None
    uri = input_file_uri("main", "company.team", "flow1", "exec1", "file", "file.txt")
    return ctx.storage.put_bytes(uri, data.encode())


def _read(ctx: WorkerContext, uri: str) -> str:
    assert ctx.storage is not None
    return ctx.storage.get_bytes(uri).decode()


CONTENT = "".join(str(i).rjust(20) + "\n" for i in range(102))


def _split(items: str, **batch: object) -> ForEachItemSplit:
    return ForEachItemSplit.model_validate(
        {"id": "each_split", "type": f"{KESTRA}$ForEachItemSplit", "items": items, "batch": batch}
    )


def test_the_subtasks_are_registered_under_kestras_inner_class_names() -> None:
    registry = PluginRegistry.discover()
    assert registry.get(f"{KESTRA}$ForEachItemSplit") is ForEachItemSplit
    assert registry.get(f"{KESTRA}$ForEachItemMergeOutputs") is ForEachItemMergeOutputs
    assert registry.get("io.kestra.core.tasks.flows.ForEachItem$ForEachItemSplit") is not None


async def test_split_by_rows_lists_the_batches(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    out = await _split(_put(ctx, CONTENT), rows="4").run(ctx)  # rendered from "{{ inputs.batch }}"
    assert out.state == State.SUCCESS, out.error
    uris = out.outputs["uris"]
    assert len(uris) == 26
    assert all(u.endswith(".txt") and "/tasks/each_split/" in u for u in uris)
    assert _read(ctx, uris[0]) == CONTENT[: 4 * 21]
    assert "".join(_read(ctx, u) for u in uris) == CONTENT
    assert _read(ctx, out.outputs["splits"]).splitlines() == uris


async def test_split_default_batch_is_one_row_and_bytes_or_partitions_win(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    uri = _put(ctx, CONTENT)
    assert len((await _split(uri).run(ctx)).outputs["uris"]) == 102
    assert len((await _split(uri, partitions=5).run(ctx)).outputs["uris"]) == 5
    by_bytes = await _split(uri, bytes="210").run(ctx)
    assert len(by_bytes.outputs["uris"]) == 11  # ten 21-byte lines per file


async def test_split_of_an_empty_file_has_no_batch(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    out = await _split(_put(ctx, ""), rows=4).run(ctx)
    assert out.state == State.SUCCESS
    assert out.outputs["uris"] == []


async def test_split_refuses_what_is_not_an_internal_storage_uri(tmp_path: Path) -> None:
    out = await _split("/etc/passwd", rows=4).run(_ctx(tmp_path))
    assert out.state == State.FAILED
    assert out.error == (
        "Unable to split the items from /etc/passwd, this is not an internal storage URI!"
    )
    bad = await _split("kestra://main/x.txt", rows="many").run(_ctx(tmp_path))
    assert bad.state == State.FAILED
    assert "batch.rows must be a number" in (bad.error or "")


async def test_merge_writes_one_ion_line_per_subflow(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    merge = ForEachItemMergeOutputs.model_validate(
        {
            "id": "each_merge",
            "type": f"{KESTRA}$ForEachItemMergeOutputs",
            "results": [{"value": "a\nb"}, {"value": "c", "n": 2}],
        }
    )
    out = await merge.run(ctx)
    assert out.state == State.SUCCESS, out.error
    uri = out.outputs["subflowOutputs"]
    assert uri.endswith("/outputs.ion")
    assert _read(ctx, uri) == '{value:"a\\nb"}\n{value:"c",n:2}\n'


async def test_merge_without_outputs_has_none(tmp_path: Path) -> None:
    merge = ForEachItemMergeOutputs(id="each_merge", type=f"{KESTRA}$ForEachItemMergeOutputs")
    out = await merge.run(_ctx(tmp_path))
    assert out.state == State.SUCCESS
    assert dict(out.outputs) == {}
