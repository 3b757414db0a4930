"""The file-format tasks through the real path (real Kafka broker, executor and worker
processes, files in internal storage), from files served by a local HTTP server.

The 100,000-line flow is Kestra's CSV-to-Parquet documentation example (Download,
CsvToIon, IonToParquet with an Avro schema) run unchanged but for the server's address;
it prints how long each conversion took on the worker.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import fastavro
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from schemas.execution import Execution, TaskRun
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster

NS = "it.serdes"
LINES = 100_000


def _orders_csv(count: int) -> bytes:
    out = io.StringIO()
    out.write("order_id,customer_name,customer_email,product_id,price,quantity,total\n")
    for i in range(1, count + 1):
        price, quantity = round(5 + (i % 97) * 0.75, 2), 1 + i % 5
        out.write(
            f'{i},"Customer, {i % 1000}",c{i % 1000}@example.com,{i % 20},'
            f"{price},{quantity},{round(price * quantity, 2)}\n"
        )
    return out.getvalue().encode()


class _Files(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = type(self).files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    _Files.files = {
        "/orders.csv": _orders_csv(LINES),
        "/small.csv": _orders_csv(3),
        "/broken.csv": _orders_csv(5) + b'6,"Customer, 6,c6@example.com,1,5.0,1\n7,x\n',
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    with task_cluster(kafka_broker.bootstrap, f"serdes{os.getpid()}") as cluster:
        yield cluster


def _runs(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.values()}


def _local(cluster: Cluster, uri: str, tmp: Path, name: str) -> Path:
    path = tmp / name
    path.write_bytes(LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"])).get_bytes(uri))
    return path


def _seconds(run: TaskRun) -> float:
    attempt = run.attempts[-1]
    assert attempt.start is not None and attempt.end is not None
    return (attempt.end - attempt.start).total_seconds()


CSV_TO_PARQUET = f"""
id: csv_to_parquet
namespace: {NS}
inputs:
  - id: base
    type: STRING
tasks:
  - id: download_csv
    type: io.kestra.plugin.core.http.Download
    uri: "{{{{ inputs.base }}}}/orders.csv"
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ outputs.download_csv.uri }}}}"
  - id: to_parquet
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{{{ outputs.to_ion.uri }}}}"
    compressionCodec: SNAPPY
    schema: |
      {{
        "type": "record",
        "name": "Order",
        "namespace": "com.example.order",
        "fields": [
          {{"name": "order_id", "type": "int"}},
          {{"name": "customer_name", "type": "string"}},
          {{"name": "customer_email", "type": "string"}},
          {{"name": "product_id", "type": "int"}},
          {{"name": "price", "type": "double"}},
          {{"name": "quantity", "type": "int"}},
          {{"name": "total", "type": "double"}}
        ]
      }}
"""


def test_a_100000_line_csv_becomes_parquet(
    cluster: Cluster, files: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.deploy(CSV_TO_PARQUET)
    execution = cluster.run(NS, "csv_to_parquet", {"base": files}, timeout_s=300)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["to_ion"].outputs["size"] == LINES
    assert runs["to_parquet"].outputs["size"] == LINES
    table = pq.read_table(_local(cluster, runs["to_parquet"].outputs["uri"], tmp_path, "o.parquet"))
    assert table.num_rows == LINES
    assert str(table.schema.field("order_id").type) == "int32"
    assert str(table.schema.field("total").type) == "double"
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {
        "order_id": 1,
        "customer_name": "Customer, 1",
        "customer_email": "c1@example.com",
        "product_id": 1,
        "price": 5.75,
        "quantity": 2,
        "total": 11.5,
    }
    assert sum(table.column("quantity").to_pylist()) == sum(1 + i % 5 for i in range(1, LINES + 1))
    with capsys.disabled():
        print(
            f"\n[serdes] {LINES} lines: CsvToIon {_seconds(runs['to_ion']):.2f} s, "
            f"IonToParquet {_seconds(runs['to_parquet']):.2f} s on the worker"
        )


EVERY_FORMAT = f"""
id: every_format
namespace: {NS}
inputs:
  - id: base
    type: STRING
tasks:
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: "{{{{ inputs.base }}}}/small.csv"
  - id: csv_rows
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ outputs.download.uri }}}}"
  - id: json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{{{ outputs.csv_rows.uri }}}}"
    newLine: false
  - id: jsonl
    type: io.kestra.plugin.serdes.json.JsonToJsonl
    from: "{{{{ outputs.json.uri }}}}"
  - id: json_rows
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{{{ outputs.jsonl.uri }}}}"
  - id: avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{{{ outputs.json_rows.uri }}}}"
  - id: avro_rows
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{{{ outputs.avro.uri }}}}"
  - id: parquet
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{{{ outputs.avro_rows.uri }}}}"
  - id: parquet_rows
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{{{ outputs.parquet.uri }}}}"
  - id: excel
    type: io.kestra.plugin.serdes.excel.IonToExcel
    from: "{{{{ outputs.parquet_rows.uri }}}}"
    sheetsTitle: orders
  - id: excel_rows
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{{{ outputs.excel.uri }}}}"
  - id: csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{{{ outputs.excel_rows.uris.orders }}}}"
"""


def test_rows_travel_through_every_format(cluster: Cluster, files: str, tmp_path: Path) -> None:
    cluster.deploy(EVERY_FORMAT)
    execution = cluster.run(NS, "every_format", {"base": files}, timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    for task_id in ("csv_rows", "jsonl", "json_rows", "avro_rows", "parquet_rows", "csv"):
        assert runs[task_id].outputs["size"] == 3, task_id
    assert runs["excel_rows"].outputs["size"] == 3
    assert (
        json.loads(_local(cluster, runs["json"].outputs["uri"], tmp_path, "j.json").read_text())[0][
            "customer_name"
        ]
        == "Customer, 1"
    )
    with _local(cluster, runs["avro"].outputs["uri"], tmp_path, "a.avro").open("rb") as handle:
        assert next(fastavro.reader(handle))["order_id"] == "1"  # CSV text stays text
    book = load_workbook(_local(cluster, runs["excel"].outputs["uri"], tmp_path, "x.xlsx"))
    assert book.sheetnames == ["orders"]
    # The CSV that went through six formats is the one that came in.
    final = _local(cluster, runs["csv"].outputs["uri"], tmp_path, "final.csv").read_bytes()
    assert final == _Files.files["/small.csv"]


BROKEN = f"""
id: broken_csv
namespace: {NS}
inputs:
  - id: base
    type: STRING
tasks:
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: "{{{{ inputs.base }}}}/broken.csv"
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ outputs.download.uri }}}}"
"""


def test_a_file_in_the_wrong_format_fails_with_its_line(cluster: Cluster, files: str) -> None:
    cluster.deploy(BROKEN)
    execution = cluster.run(NS, "broken_csv", {"base": files}, timeout_s=120)
    assert execution.state == State.FAILED
    runs = _runs(execution)
    error = runs["to_ion"].error or ""
    # The unclosed quote on line 7 swallows line 8: the record that broke starts on line 7.
    assert "line 7" in error, error
    assert error.startswith("task to_ion: kestra://"), error
