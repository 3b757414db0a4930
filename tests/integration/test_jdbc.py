"""The SQL tasks through the real path: flows deployed on a real Kafka broker, run by real
executor and worker processes, against a real PostgreSQL server (tests/harness/postgres.py)
and SQLite and DuckDB files in internal storage.

The ETL flow is Kestra's own documentation example for CopyIn (download a CSV from an HTTP
API, create the table, COPY it in), with a JSON API in front and the CSV made by the serdes
tasks, as Kestra's "API to database" blueprints do; only the server's address differs.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from schemas.execution import Execution, TaskRun
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.common import free_ports
from tests.harness.kafka_broker import KafkaBroker
from tests.harness.postgres import PostgresServer
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster

NS = "it.jdbc"
ORDERS = [
    {"order_id": i, "customer": f"c{i % 7}", "product": f"p{i % 3}", "total": round(i * 1.5, 2)}
    for i in range(1, 501)
]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class _Api(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        payload = json.dumps(ORDERS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker, postgres: PostgresServer) -> Iterator[Cluster]:
    secrets = {
        "SECRET_POSTGRES_USERNAME": _b64(postgres.user),
        "SECRET_POSTGRES_PASSWORD": _b64(postgres.password),
    }
    with task_cluster(kafka_broker.bootstrap, f"jdbc{os.getpid()}", env=secrets) as cluster:
        yield cluster


def _runs(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.values()}


def _storage(cluster: Cluster) -> LocalStorage:
    return LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))


def _connection(pg: PostgresServer) -> str:
    return f"""
    url: "{pg.jdbc_url}"
    username: "{{{{ secret('POSTGRES_USERNAME') }}}}"
    password: "{{{{ secret('POSTGRES_PASSWORD') }}}}\""""


def _etl(pg: PostgresServer) -> str:
    conn = _connection(pg)
    return f"""
id: api_to_postgres
namespace: {NS}
inputs:
  - id: api
    type: STRING
tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: "{{{{ inputs.api }}}}/orders"
  - id: to_rows
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{{{ outputs.extract.uri }}}}"
    newLine: false
  - id: to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{{{ outputs.to_rows.uri }}}}"
  - id: create_orders_table
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: |
      CREATE TABLE IF NOT EXISTS orders(
        order_id int,
        customer varchar(50),
        product varchar(50),
        total numeric(10, 2)
      );
  - id: copyin_orders
    type: io.kestra.plugin.jdbc.postgresql.CopyIn{conn}
    format: CSV
    from: "{{{{ outputs.to_csv.uri }}}}"
    table: orders
    header: true
    delimiter: ","
  - id: revenue
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: |
      SELECT product, count(*) AS orders, sum(total) AS revenue
      FROM orders GROUP BY product ORDER BY product
    fetchType: FETCH
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.copyin_orders.rowCount }}}} orders loaded"
"""


def test_etl_from_an_http_api_into_postgres(
    cluster: Cluster, postgres: PostgresServer, api: str
) -> None:
    cluster.deploy(_etl(postgres))
    execution = cluster.run(NS, "api_to_postgres", {"api": api}, timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["to_rows"].outputs["size"] == 500
    assert runs["copyin_orders"].outputs == {"rowCount": 500}
    expected = {}
    for order in ORDERS:
        count, revenue = expected.get(order["product"], (0, 0.0))
        expected[order["product"]] = (count + 1, revenue + order["total"])
    assert runs["revenue"].outputs["size"] == 3
    assert [
        (r["product"], r["orders"], round(r["revenue"], 2)) for r in runs["revenue"].outputs["rows"]
    ] == [(p, c, round(t, 2)) for p, (c, t) in sorted(expected.items())]
    with psycopg.connect(postgres.dsn()) as conn:
        row = conn.execute("SELECT count(*), sum(total) FROM orders").fetchone()
        conn.execute("DROP TABLE orders")
    assert row is not None and row[0] == 500


def _tasks(pg: PostgresServer) -> str:
    conn = _connection(pg)
    return f"""
id: sql_tasks
namespace: {NS}
tasks:
  - id: setup
    type: io.kestra.plugin.jdbc.postgresql.Queries{conn}
    sql: |
      DROP TABLE IF EXISTS items;
      CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2), added date);
      INSERT INTO items VALUES (1, 'book', 12.50, '2024-01-02'), (2, 'pen', 1.20, NULL);
      DROP TABLE IF EXISTS items_by_batch;
      CREATE TABLE items_by_batch (id int, name text);
      SELECT count(*) AS n FROM items;
    fetchType: FETCH_ONE
  - id: one
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: SELECT id, name, price, added FROM items WHERE name = :name
    parameters:
      name: book
    fetchType: FETCH_ONE
  - id: store
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: SELECT id, name FROM items ORDER BY id
    fetchType: STORE
  - id: store_many
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: SELECT n, md5(n::text) AS hash FROM generate_series(1, :last) AS n
    parameters:
      last: 25000
    fetchType: STORE
    fetchSize: 1000
  - id: batch_table
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: CREATE TABLE IF NOT EXISTS batch_items (id int, hash text)
  - id: batch
    type: io.kestra.plugin.jdbc.postgresql.Batch{conn}
    from: "{{{{ outputs.store_many.uri }}}}"
    sql: INSERT INTO batch_items (id, hash) VALUES (?, ?)
    columns: [n, hash]
    chunk: 5000
  - id: batch_by_table
    type: io.kestra.plugin.jdbc.postgresql.Batch{conn}
    from: "{{{{ outputs.store.uri }}}}"
    table: items_by_batch
  - id: export
    type: io.kestra.plugin.jdbc.postgresql.CopyOut{conn}
    format: CSV
    header: true
    sql: SELECT id, name FROM items ORDER BY id
  - id: copy_table
    type: io.kestra.plugin.jdbc.postgresql.Query{conn}
    sql: CREATE TABLE IF NOT EXISTS items_copy (id int, name text)
  - id: import
    type: io.kestra.plugin.jdbc.postgresql.CopyIn{conn}
    format: CSV
    header: true
    table: items_copy
    columns: [id, name]
    from: "{{{{ outputs.export.uri }}}}"
  - id: sqlite
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:items.db
    outputDbFile: true
    sql: CREATE TABLE copied AS SELECT 1 AS id, 'book' AS name
  - id: sqlite_read
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:items.db
    sqliteFile: "{{{{ outputs.sqlite.databaseUri }}}}"
    sql: SELECT name FROM copied
    fetchType: FETCH
  - id: sqlite_many
    type: io.kestra.plugin.jdbc.sqlite.Queries
    sqliteFile: "{{{{ outputs.sqlite.databaseUri }}}}"
    sql: INSERT INTO copied VALUES (2, 'pen'); SELECT count(*) AS n FROM copied
    fetchType: FETCH_ONE
  - id: duckdb_many
    type: io.kestra.plugin.jdbc.duckdb.Queries
    sql: CREATE TABLE x AS SELECT 41 AS a; UPDATE x SET a = a + 1; SELECT a FROM x
    fetchType: FETCH
  - id: duckdb
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      items.jsonl: "{{{{ outputs.store.uri }}}}"
    sql: SELECT count(*) AS n, max(name) AS last FROM read_json_auto('items.jsonl')
    fetchType: FETCH_ONE
"""


def test_every_sql_task_on_the_real_services(cluster: Cluster, postgres: PostgresServer) -> None:
    cluster.deploy(_tasks(postgres))
    execution = cluster.run(NS, "sql_tasks", timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["setup"].outputs == {"outputs": [{"row": {"n": 2}, "size": 1}]}
    assert runs["one"].outputs == {
        "row": {"id": 1, "name": "book", "price": 12.5, "added": "2024-01-02"},
        "size": 1,
    }
    stored = runs["store"].outputs
    assert stored["size"] == 2
    lines = _storage(cluster).get_bytes(stored["uri"]).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "name": "book"},
        {"id": 2, "name": "pen"},
    ]
    many = runs["store_many"].outputs
    assert many["size"] == 25000
    lines = _storage(cluster).get_bytes(many["uri"]).decode().splitlines()
    assert len(lines) == 25000 and json.loads(lines[-1])["n"] == 25000
    assert runs["batch"].outputs == {"rowCount": 25000, "updatedCount": 25000}
    assert runs["batch_by_table"].outputs == {"rowCount": 2, "updatedCount": 2}
    assert runs["export"].outputs["rowCount"] == 2
    assert _storage(cluster).get_bytes(runs["export"].outputs["uri"]) == b"id,name\n1,book\n2,pen\n"
    assert runs["import"].outputs == {"rowCount": 2}
    assert runs["sqlite_read"].outputs == {"rows": [{"name": "book"}], "size": 1}
    assert runs["sqlite_many"].outputs == {"outputs": [{"row": {"n": 2}, "size": 1}]}
    assert runs["duckdb_many"].outputs == {"outputs": [{"rows": [{"a": 42}], "size": 1}]}
    assert runs["duckdb"].outputs == {"row": {"n": 2, "last": "pen"}, "size": 1}
    with psycopg.connect(postgres.dsn()) as conn:
        copied = conn.execute("SELECT id, name FROM items_copy ORDER BY id").fetchall()
        batched = conn.execute("SELECT count(*), max(id) FROM batch_items").fetchone()
        by_table = conn.execute("SELECT id, name FROM items_by_batch ORDER BY id").fetchall()
        conn.execute("DROP TABLE batch_items")
        conn.execute("DROP TABLE items_by_batch")
        conn.execute("DROP TABLE items_copy")
        conn.execute("DROP TABLE items")
    assert copied == [(1, "book"), (2, "pen")]
    assert batched == (25000, 25000)
    assert by_table == [(1, "book"), (2, "pen")]


def _failing(flow_id: str, url: str, password: str, sql: str) -> str:
    return f"""
id: {flow_id}
namespace: {NS}
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "{url}"
    username: "{{{{ secret('POSTGRES_USERNAME') }}}}"
    password: "{password}"
    sql: "{sql}"
    fetchType: FETCH
"""


def test_bad_connections_and_sql_fail_with_the_server_message(
    cluster: Cluster, postgres: PostgresServer
) -> None:
    (closed,) = free_ports(1)
    secret = "{{ secret('POSTGRES_PASSWORD') }}"
    cases = {
        "pg_refused": (f"jdbc:postgresql://127.0.0.1:{closed}/postgres", secret, "SELECT 1"),
        "pg_bad_password": (postgres.jdbc_url, "not-the-password", "SELECT 1"),
        "pg_bad_sql": (postgres.jdbc_url, secret, "SELEC 1"),
        "pg_no_table": (postgres.jdbc_url, secret, "SELECT * FROM no_such_table"),
        "pg_bad_url": ("jdbc:mysql://127.0.0.1/postgres", secret, "SELECT 1"),
    }
    for flow_id, (url, password, sql) in cases.items():
        cluster.deploy(_failing(flow_id, url, password, sql))
    ids = {flow_id: cluster.create(NS, flow_id).execution_id for flow_id in cases}
    ended = cluster.wait_for_all(set(ids.values()), timeout_s=120)
    errors = {}
    for flow_id, execution_id in ids.items():
        execution = ended[execution_id]
        assert execution.state == State.FAILED, flow_id
        errors[flow_id] = _runs(execution)["query"].error or ""
    assert "Connection refused" in errors["pg_refused"], errors
    # The user name came from a secret: the worker masks it in the server's message.
    assert 'password authentication failed for user "******"' in errors["pg_bad_password"]
    assert 'syntax error at or near "SELEC"' in errors["pg_bad_sql"], errors
    assert 'relation "no_such_table" does not exist' in errors["pg_no_table"], errors
    assert "URL should start with `jdbc:postgresql`" in errors["pg_bad_url"], errors
    assert all(e.startswith("task query: ") for e in errors.values()), errors
