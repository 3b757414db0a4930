"""The file-format tasks (streams/plugins/serdes) on a local storage folder: every
conversion both ways, Kestra's Ion text read, and bad files failing with their line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastavro
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from schemas.states import State
from streams.plugins.base import WorkerContext, WorkerTask
from streams.plugins.serdes import PLUGINS
from streams.plugins.serdes import json as serdes_json
from tests.unit.test_tasks_helpers import Recorder, make_ctx

BY_TYPE = {name: cls for cls in PLUGINS for name in cls.names()}
K = "io.kestra.plugin.serdes"


def _task(type_name: str, **props: Any) -> WorkerTask:
    cls = BY_TYPE[type_name]
    task = cls.model_validate({"id": "t1", "type": type_name, **props})
    assert isinstance(task, WorkerTask)
    return task


def _put(ctx: WorkerContext, name: str, data: bytes) -> str:
    assert ctx.storage is not None
    return ctx.storage.put_bytes(f"kestra://main/company/team/flow1/executions/exec1/{name}", data)


def _get(ctx: WorkerContext, uri: str) -> bytes:
    assert ctx.storage is not None
    return ctx.storage.get_bytes(uri)


def _rows(ctx: WorkerContext, uri: str) -> list[Any]:
    return [json.loads(line) for line in _get(ctx, uri).decode().splitlines()]


@pytest.fixture
def ctx(tmp_path: Path) -> WorkerContext:
    return make_ctx(tmp_path, Recorder())


async def test_csv_to_rows_and_back(ctx: WorkerContext) -> None:
    source = _put(ctx, "in.csv", b'\xef\xbb\xbfid,name,note\n1,Ann,"a, quoted"\n2,Bob,\\N\n')
    done = await _task(f"{K}.csv.CsvToIon", **{"from": source}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    assert done.outputs["size"] == 2
    rows = _rows(ctx, done.outputs["uri"])
    assert rows == [
        {"id": "1", "name": "Ann", "note": "a, quoted"},
        {"id": "2", "name": "Bob", "note": None},
    ]
    back = await _task(f"{K}.csv.IonToCsv", **{"from": done.outputs["uri"]}).run(ctx)
    assert back.state == State.SUCCESS, back.error
    assert _get(ctx, back.outputs["uri"]).decode() == 'id,name,note\n1,Ann,"a, quoted"\n2,Bob,\n'


async def test_csv_with_a_wrong_field_count_fails_with_its_line(ctx: WorkerContext) -> None:
    source = _put(ctx, "bad.csv", b"a,b\n1,2\n3,4,5\n")
    done = await _task(f"{K}.csv.CsvToIon", **{"from": source}).run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None and "line 3" in done.error and "Expected 2, got 3" in done.error
    skipped = await _task(f"{K}.csv.CsvReader", **{"from": source, "onBadLines": "SKIP"}).run(ctx)
    assert skipped.state == State.SUCCESS and skipped.outputs["size"] == 1


async def test_csv_with_a_broken_quote_fails_with_its_line(ctx: WorkerContext) -> None:
    source = _put(ctx, "quote.csv", b'a,b\n1,2\n3,"x"y\n')
    done = await _task(f"{K}.csv.CsvToIon", **{"from": source}).run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None and "line 3" in done.error


async def test_kestra_ion_text_is_read(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.ion", b'{a: 1, b: "x", c: 2.5e0}\n{a: 2, b: null, c: 1.25}\n')
    done = await _task(f"{K}.json.IonToJson", **{"from": source, "newLine": False}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    assert json.loads(_get(ctx, done.outputs["uri"])) == [
        {"a": 1, "b": "x", "c": 2.5},
        {"a": 2, "b": None, "c": 1.25},
    ]


async def test_a_line_neither_json_nor_ion_fails_with_its_number(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": \n')
    done = await _task(f"{K}.json.IonToJson", **{"from": source}).run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None and "line 3" in done.error


async def test_json_document_and_lines(ctx: WorkerContext) -> None:
    doc = _put(ctx, "doc.json", b'[{"a": 1}, {"a": [1, 2]}]')
    done = await _task(f"{K}.json.JsonToIon", **{"from": doc, "newLine": False}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    assert _rows(ctx, done.outputs["uri"]) == [{"a": 1}, {"a": [1, 2]}]
    bad = _put(ctx, "bad.jsonl", b'{"a": 1}\nnot json\n')
    failed = await _task(f"{K}.json.JsonToIon", **{"from": bad}).run(ctx)
    assert failed.state == State.FAILED and failed.error is not None and "line 2" in failed.error


SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Salary",
        "fields": [
            {"name": "job_title", "type": "string"},
            {"name": "avg_salary", "type": "double"},
            {"name": "remote", "type": ["null", "boolean"]},
            {"name": "since", "type": ["null", {"type": "int", "logicalType": "date"}]},
        ],
    }
)
ROWS = (
    b'{"job_title": "Engineer", "avg_salary": "1234.5", "remote": "yes", "since": "2024-02-01"}\n'
    b'{"job_title": "Analyst", "avg_salary": 99, "remote": "", "since": null}\n'
)


async def test_rows_to_parquet_with_a_schema_and_back(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.jsonl", ROWS)
    done = await _task(f"{K}.parquet.IonToParquet", **{"from": source, "schema": SCHEMA}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    assert done.outputs["size"] == 2
    local = Path(ctx.work_root or ".") / "check.parquet"
    local.write_bytes(_get(ctx, done.outputs["uri"]))
    table = pq.read_table(local)
    assert table.schema.field("avg_salary").type == "double"
    assert table.column("remote").to_pylist() == [True, None]
    back = await _task(f"{K}.parquet.ParquetToIon", **{"from": done.outputs["uri"]}).run(ctx)
    assert back.state == State.SUCCESS, back.error
    assert _rows(ctx, back.outputs["uri"]) == [
        {"job_title": "Engineer", "avg_salary": 1234.5, "remote": True, "since": "2024-02-01"},
        {"job_title": "Analyst", "avg_salary": 99.0, "remote": None, "since": None},
    ]


async def test_a_value_that_does_not_fit_the_schema_names_its_line(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.jsonl", ROWS + b'{"job_title": "X", "avg_salary": "lots"}\n')
    done = await _task(f"{K}.parquet.IonToParquet", **{"from": source, "schema": SCHEMA}).run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None
    assert "line 3" in done.error and "avg_salary" in done.error and "'lots'" in done.error


async def test_parquet_schema_is_inferred_without_one(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.jsonl", b'{"a b": 1, "c": "x"}\n{"a b": 2.5, "c": null}\n')
    done = await _task(f"{K}.parquet.ParquetWriter", **{"from": source}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    back = await _task(f"{K}.parquet.ParquetReader", **{"from": done.outputs["uri"]}).run(ctx)
    assert _rows(ctx, back.outputs["uri"]) == [{"a b": 1.0, "c": "x"}, {"a b": 2.5, "c": None}]


async def test_not_a_parquet_file_fails(ctx: WorkerContext) -> None:
    source = _put(ctx, "fake.parquet", b"a,b\n1,2\n")
    done = await _task(f"{K}.parquet.ParquetToIon", **{"from": source}).run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None and "not a Parquet file" in done.error


async def test_avro_both_ways(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.jsonl", ROWS)
    done = await _task(f"{K}.avro.IonToAvro", **{"from": source, "schema": SCHEMA}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    local = Path(ctx.work_root or ".") / "check.avro"
    local.write_bytes(_get(ctx, done.outputs["uri"]))
    with local.open("rb") as handle:
        records = list(fastavro.reader(handle))
    assert records[0]["avg_salary"] == 1234.5 and records[1]["remote"] is None
    back = await _task(f"{K}.avro.AvroToIon", **{"from": done.outputs["uri"]}).run(ctx)
    assert back.state == State.SUCCESS, back.error
    assert _rows(ctx, back.outputs["uri"])[0]["since"] == "2024-02-01"
    bad = await _task(f"{K}.avro.AvroToIon", **{"from": source}).run(ctx)
    assert bad.state == State.FAILED


async def test_excel_both_ways(ctx: WorkerContext) -> None:
    source = _put(ctx, "rows.jsonl", b'{"name": "Ann", "n": 1}\n{"name": "Bob", "n": 2.5}\n')
    done = await _task(f"{K}.excel.IonToExcel", **{"from": source, "sheetsTitle": "People"}).run(
        ctx
    )
    assert done.state == State.SUCCESS, done.error
    local = Path(ctx.work_root or ".") / "check.xlsx"
    local.write_bytes(_get(ctx, done.outputs["uri"]))
    book = load_workbook(local)
    assert [list(r) for r in book["People"].iter_rows(values_only=True)] == [
        ["name", "n"],
        ["Ann", 1],
        ["Bob", 2.5],
    ]
    back = await _task(f"{K}.excel.ExcelToIon", **{"from": done.outputs["uri"]}).run(ctx)
    assert back.state == State.SUCCESS, back.error
    assert back.outputs["size"] == 2
    assert _rows(ctx, back.outputs["uris"]["People"]) == [
        {"name": "Ann", "n": 1},
        {"name": "Bob", "n": 2.5},
    ]
    not_excel = await _task(f"{K}.excel.ExcelToIon", **{"from": source}).run(ctx)
    assert not_excel.state == State.FAILED
    assert not_excel.error is not None and "not an Excel" in not_excel.error


async def test_json_arrays_stream_to_json_lines(
    ctx: WorkerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks: values cut across reads must still decode whole.
    monkeypatch.setattr(serdes_json, "_CHUNK", 5)
    source = _put(ctx, "doc.json", b'[ {"a": 12345678},\n 2, "x,]", [1, 2] ]')
    done = await _task(f"{K}.json.JsonToJsonl", **{"from": source}).run(ctx)
    assert done.state == State.SUCCESS, done.error
    assert _rows(ctx, done.outputs["uri"]) == [{"a": 12345678}, 2, "x,]", [1, 2]]
    objects = _put(ctx, "objects.json", b'{"a": 1}\n{"b": 2}\n')
    done = await _task(f"{K}.json.JsonToIon", **{"from": objects, "newLine": False}).run(ctx)
    assert _rows(ctx, done.outputs["uri"]) == [{"a": 1}, {"b": 2}]
    broken = _put(ctx, "broken.json", b'[{"a": 1},\n{"a": }]')
    failed = await _task(f"{K}.json.JsonToJsonl", **{"from": broken}).run(ctx)
    assert failed.state == State.FAILED
    assert failed.error is not None and "line 2 is not JSON" in failed.error
    unclosed = _put(ctx, "unclosed.json", b'[{"a": 1}, ')
    failed = await _task(f"{K}.json.JsonToJsonl", **{"from": unclosed}).run(ctx)
    assert failed.state == State.FAILED
    assert failed.error is not None and "not closed" in failed.error
