"""The SQL tasks that need no server (SQLite, DuckDB), the statement splitter, named
parameters and Kestra's PostgreSQL JDBC URLs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from streams.plugins.base import WorkerContext, WorkerTask
from streams.plugins.jdbc import PLUGINS
from streams.plugins.jdbc.postgresql import parse_url
from streams.plugins.jdbc.query import SqlError
from streams.plugins.jdbc.statements import bind_named, positional, split_statements
from tests.unit.test_tasks_helpers import Recorder, make_ctx

BY_TYPE = {name: cls for cls in PLUGINS for name in cls.names()}
SQLITE = "io.kestra.plugin.jdbc.sqlite.Query"
DUCKDB = "io.kestra.plugin.jdbc.duckdb.Query"


def _task(type_name: str, **props: Any) -> WorkerTask:
    task = BY_TYPE[type_name].model_validate({"id": "q", "type": type_name, **props})
    assert isinstance(task, WorkerTask)
    return task


@pytest.fixture
def ctx(tmp_path: Path) -> WorkerContext:
    return make_ctx(tmp_path, Recorder())


def test_statements_split_outside_quotes_comments_and_dollar_bodies() -> None:
    sql = """
    CREATE TABLE t (a text); -- a comment; with a semicolon
    INSERT INTO t VALUES ('x;y'), ("q;");
    CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
    /* only a comment; */ ;
    """
    assert [s.split()[0] for s in split_statements(sql)] == ["CREATE", "--", "CREATE"]
    assert split_statements("SELECT 1") == ["SELECT 1"]
    assert split_statements(" ; -- nothing\n") == []


def test_named_parameters_bind_in_order_and_leave_casts_alone() -> None:
    sql, values = bind_named(
        "SELECT :a, x::int, ':b in text', 10 % 3 WHERE y = :b OR z = :a",
        {"a": 1, "b": "two"},
        "%s",
        percent_escaped=True,
    )
    assert sql == "SELECT %s, x::int, ':b in text', 10 %% 3 WHERE y = %s OR z = %s"
    assert values == [1, "two", 1]
    assert bind_named("SELECT :missing", {}, "?", percent_escaped=False) == ("SELECT ?", [None])


def test_jdbc_question_marks_become_the_driver_placeholder() -> None:
    sql, count = positional(
        "INSERT INTO t VALUES (?, ?, '?', 5 % 2) -- ?\n", "%s", percent_escaped=True
    )
    assert (sql, count) == ("INSERT INTO t VALUES (%s, %s, '?', 5 %% 2) -- ?\n", 2)
    assert positional("SELECT j ?| array['a'] WHERE x = ?", "?", False)[1] == 1


def test_postgres_jdbc_urls() -> None:
    assert parse_url("jdbc:postgresql://127.0.0.1:5432/shop?user=u&ssl=true") == {
        "host": "127.0.0.1",
        "port": "5432",
        "dbname": "shop",
        "user": "u",
        "sslmode": "require",
    }
    assert parse_url("jdbc:postgresql://db1,db2:6432/")["host"] == "db1,db2"
    assert parse_url("jdbc:postgresql://db1,db2:6432/")["port"] == "5432,6432"
    assert parse_url("jdbc:postgresql:shop")["dbname"] == "shop"
    with pytest.raises(SqlError, match="should start with `jdbc:postgresql`"):
        parse_url("jdbc:mysql://localhost/x")
    with pytest.raises(SqlError, match="blank"):
        parse_url("  ")


async def test_sqlite_fetch_types_and_database_file(ctx: WorkerContext) -> None:
    create = _task(
        SQLITE,
        url="jdbc:sqlite:shop.db",
        outputDbFile=True,
        sql="CREATE TABLE items (id INTEGER, name TEXT, price REAL)",
    )
    done = await create.run(ctx)
    assert done.state == State.SUCCESS, done.error
    db = done.outputs["databaseUri"]
    insert = _task(
        SQLITE,
        url="jdbc:sqlite:shop.db",
        sqliteFile=db,
        outputDbFile=True,
        sql="INSERT INTO items VALUES (:id, :name, :price)",
        parameters={"id": 1, "name": "book", "price": 9.5},
    )
    inserted = await insert.run(ctx)
    assert inserted.state == State.SUCCESS, inserted.error
    db = inserted.outputs["databaseUri"]
    one = await _task(SQLITE, sqliteFile=db, sql="SELECT * FROM items", fetchType="FETCH_ONE").run(
        ctx
    )
    assert one.outputs == {"row": {"id": 1, "name": "book", "price": 9.5}, "size": 1}
    many = await _task(SQLITE, sqliteFile=db, sql="SELECT name FROM items", fetch=True).run(ctx)
    assert many.outputs == {"rows": [{"name": "book"}], "size": 1}
    stored = await _task(SQLITE, sqliteFile=db, sql="SELECT id FROM items", store=True).run(ctx)
    assert stored.outputs["size"] == 1
    assert ctx.storage is not None
    assert json.loads(ctx.storage.get_bytes(stored.outputs["uri"])) == {"id": 1}
    none = await _task(SQLITE, sqliteFile=db, sql="SELECT id FROM items").run(ctx)
    assert none.outputs == {}


async def test_sqlite_bad_sql_fails_with_the_engine_message(ctx: WorkerContext) -> None:
    done = await _task(SQLITE, sql="SELEC 1").run(ctx)
    assert done.state == State.FAILED
    assert done.error == 'task q: near "SELEC": syntax error'
    two = await _task(SQLITE, sql="SELECT 1; SELECT 2").run(ctx)
    assert two.state == State.FAILED
    assert two.error is not None and "Use the Queries task" in two.error


async def test_sqlite_after_sql_rolls_back_with_the_query(ctx: WorkerContext) -> None:
    setup = await _task(
        SQLITE, url="jdbc:sqlite:a.db", outputDbFile=True, sql="CREATE TABLE t (a INTEGER)"
    ).run(ctx)
    db = setup.outputs["databaseUri"]
    done = await _task(
        SQLITE,
        url="jdbc:sqlite:a.db",
        sqliteFile=db,
        outputDbFile=True,
        sql="INSERT INTO t VALUES (1)",
        afterSQL="INSERT INTO nowhere VALUES (2)",
    ).run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None and "no such table: nowhere" in done.error


async def test_duckdb_reads_input_files_from_its_folder(ctx: WorkerContext) -> None:
    assert ctx.storage is not None
    csv_uri = ctx.storage.put_bytes(
        "kestra://main/company/team/flow1/executions/exec1/in.csv",
        b"job,salary\nA,10\nA,20\nB,5\n",
    )
    fetched = await _task(
        DUCKDB,
        inputFiles={"data.csv": csv_uri, "extra.txt": "inline content"},
        sql=(
            "SELECT job, SUM(salary)::DECIMAL(10,2) AS total, AVG(salary) AS mean "
            "FROM read_csv_auto('data.csv') GROUP BY job ORDER BY job"
        ),
        fetchType="FETCH",
    ).run(ctx)
    assert fetched.state == State.SUCCESS, fetched.error
    assert fetched.outputs == {
        "rows": [{"job": "A", "total": 30, "mean": 15.0}, {"job": "B", "total": 5, "mean": 5.0}],
        "size": 2,
    }
    stored = await _task(
        DUCKDB,
        inputFiles=json.dumps({"data.csv": csv_uri}),
        sql="SELECT * FROM 'data.csv' WHERE salary > 5",
        fetchType="STORE",
    ).run(ctx)
    assert stored.state == State.SUCCESS, stored.error
    assert list(stored.outputs) == ["uri", "size"] and stored.outputs["size"] == 2
    lines = ctx.storage.get_bytes(stored.outputs["uri"]).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"job": "A", "salary": 10},
        {"job": "A", "salary": 20},
    ]


async def test_duckdb_writes_its_output_files_in_the_folder_the_worker_prepared(
    tmp_path: Path,
) -> None:
    # The worker resolved `{{ outputFiles.out }}` to a path in the folder it made for the
    # job (streams/worker_edges.py), and hands that folder to the task.
    folder = tmp_path / "prepared"
    folder.mkdir()
    ctx = make_ctx(tmp_path, Recorder(), prepared_dir=folder)
    done = await _task(
        DUCKDB,
        outputFiles=["out.csv", "sub/never.csv"],
        sql=f"COPY (SELECT 1 AS a UNION ALL SELECT 2) TO '{folder}/out.csv' (HEADER)",
    ).run(ctx)
    assert done.state == State.SUCCESS, done.error
    files = done.outputs["outputFiles"]
    assert list(files) == ["out.csv", "sub/never.csv"]
    assert ctx.storage is not None
    assert ctx.storage.get_bytes(files["out.csv"]) == b"a\n1\n2\n"
    assert ctx.storage.get_bytes(files["sub/never.csv"]) == b""  # made empty, as on Kestra
    assert not folder.exists()  # the task removes the folder it ran in
    bad = await _task(DUCKDB, outputFiles=["../escape.csv"], sql="SELECT 1").run(
        make_ctx(tmp_path, Recorder())
    )
    assert bad.state == State.FAILED
    assert bad.error is not None
    assert "output file '../escape.csv' must be a relative path inside" in bad.error


async def test_duckdb_bad_sql_fails_with_the_engine_message(ctx: WorkerContext) -> None:
    done = await _task(DUCKDB, sql="SELECT * FROM no_such_table").run(ctx)
    assert done.state == State.FAILED
    assert done.error is not None and "no_such_table" in done.error
    assert "Catalog Error" in done.error


async def test_a_cancelled_query_is_interrupted_in_the_engine(ctx: WorkerContext) -> None:
    endless = _task(
        SQLITE,
        sql=(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        ),
        fetchType="FETCH_ONE",
    )
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(endless.run(ctx), timeout=0.5)
    # The engine stopped: the thread is not left running the query for ever.
    assert time.monotonic() - started < 5


async def test_queries_run_in_one_transaction_and_roll_back_together(ctx: WorkerContext) -> None:
    queries = "io.kestra.plugin.jdbc.sqlite.Queries"
    made = await _task(
        queries,
        url="jdbc:sqlite:t.db",
        outputDbFile=True,
        sql="CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1); SELECT a FROM t",
        fetchType="FETCH",
    ).run(ctx)
    assert made.state == State.SUCCESS, made.error
    assert made.outputs["outputs"] == [{"rows": [{"a": 1}], "size": 1}]
    db = made.outputs["databaseUri"]
    failed = await _task(
        queries,
        url="jdbc:sqlite:t.db",
        sqliteFile=db,
        sql="INSERT INTO t VALUES (2); INSERT INTO missing VALUES (3)",
    ).run(ctx)
    assert failed.state == State.FAILED
    assert failed.error is not None and "no such table: missing" in failed.error
    # The first insert went with the failed second one.
    after = await _task(
        SQLITE, sqliteFile=db, sql="SELECT count(*) AS n FROM t", fetchType="FETCH_ONE"
    ).run(ctx)
    assert after.outputs["row"] == {"n": 1}
    duck = await _task(
        "io.kestra.plugin.jdbc.duckdb.Queries",
        sql="CREATE TABLE d AS SELECT 1 AS x; SELECT x + 1 AS y FROM d; SELECT 'z' AS z",
        fetchType="FETCH_ONE",
    ).run(ctx)
    assert duck.state == State.SUCCESS, duck.error
    assert duck.outputs["outputs"] == [{"row": {"y": 2}, "size": 1}, {"row": {"z": "z"}, "size": 1}]


def test_a_bad_fetch_type_or_a_missing_url_is_refused_at_validation() -> None:
    with pytest.raises(ValueError, match="fetchType"):
        BY_TYPE[SQLITE].model_validate(
            {"id": "q", "type": SQLITE, "sql": "SELECT 1", "fetchType": "FETCH_ALL"}
        )
    postgres = "io.kestra.plugin.jdbc.postgresql.Query"
    with pytest.raises(ValueError, match="url"):
        BY_TYPE[postgres].model_validate({"id": "q", "type": postgres, "sql": "SELECT 1"})
