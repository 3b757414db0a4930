"""io.kestra.plugin.jdbc.postgresql.Batch: rows of a file in internal storage inserted with a
prepared statement, `chunk` rows a round trip, each chunk committed.

As Kestra's AbstractJdbcBatch: `sql` has JDBC `?` placeholders, bound from each row's
`columns` (in order) or, without them, from the row's values in order; with `table` and no
`sql`, the columns are read from the table and the INSERT is written for them. Outputs
`rowCount` (rows read) and `updatedCount` (rows the database reports changed). A row file
line that is not JSON or Ion fails the run with its line number.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from pydantic import Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, fetch, workdir
from streams.plugins.jdbc.postgresql import KESTRA, PostgresConnection
from streams.plugins.jdbc.query import SqlError
from streams.plugins.jdbc.statements import positional
from streams.plugins.rows import RowFormatError, read_rows


class Batch(PostgresConnection, WorkerTask):
    TYPE: ClassVar[str] = "jdbc.postgresql.Batch"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.Batch",)

    from_: str = Field(alias="from")
    sql: str | None = None
    chunk: int = Field(default=1000, ge=1)
    columns: list[str] = Field(default_factory=list)
    table: str | None = None
    timeZoneId: str | None = None
    connectionPooling: bool = True
    connectionPoolSize: int = 10
    # Kestra retries transient failures itself; here a task's `retry` does that.
    maxRetries: int = 3
    retryBackoff: str = "PT1S"
    inputHandling: str = "AUTO"
    localBufferMaxBytes: int = 100 * 1024 * 1024
    resumeOnRetry: bool = True
    retryScope: str = "INPUT"

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                source = await fetch(ctx, self.from_, folder / "rows.jsonl")
                box: list[psycopg.Connection[Any]] = []
                job = asyncio.ensure_future(asyncio.to_thread(self._insert, folder, source, box))
                try:
                    rows, updated = await asyncio.shield(job)
                except asyncio.CancelledError:
                    for conn in box:
                        with contextlib.suppress(Exception):
                            conn.cancel()
                    with contextlib.suppress(BaseException):
                        await asyncio.wait_for(job, timeout=10)
                    raise
                await ctx.log("INFO", f"Successfully inserted {rows} rows, {updated} updated")
                return Outcome(State.SUCCESS, {"rowCount": rows, "updatedCount": updated})
        except (SqlError, TaskFileError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        except RowFormatError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {self.from_}: {exc}")
        except psycopg.Error as exc:
            message = str(exc).strip() or type(exc).__name__
            return Outcome(State.FAILED, error=f"task {self.id}: {message}")

    def _statement(self, conn: psycopg.Connection[Any]) -> tuple[str, list[str]]:
        columns = list(self.columns)
        sql = self.sql
        if sql is None:
            if not self.table:
                raise SqlError("Batch needs `sql`, or a `table` to write the INSERT for")
            if not columns:
                with conn.cursor() as cursor:
                    cursor.execute(f"SELECT * FROM {self.table} WHERE false")
                    columns = [str(d[0]) for d in cursor.description or []]
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({marks})"
        return sql, columns

    def _insert(
        self, folder: Path, source: Path, box: list[psycopg.Connection[Any]]
    ) -> tuple[int, int]:
        with self.open(folder) as conn:
            box.append(conn)
            sql, columns = self._statement(conn)
            bound, count = positional(sql, "%s", percent_escaped=True)
            rows = updated = 0
            conn.autocommit = False
            with conn.cursor() as cursor:
                for chunk in self._chunks(source, columns, count):
                    cursor.executemany(bound, chunk)
                    updated += max(cursor.rowcount, 0)
                    conn.commit()
                    rows += len(chunk)
            return rows, updated

    def _chunks(self, source: Path, columns: list[str], count: int) -> Iterator[list[list[Any]]]:
        chunk: list[list[Any]] = []
        for line, row in read_rows(source):
            if columns:
                if not isinstance(row, dict):
                    raise RowFormatError(f"line {line}: `columns` need rows that are objects")
                values = [row.get(c) for c in columns]
            else:
                values = list(row.values()) if isinstance(row, dict) else list(row)
            if len(values) != count:
                raise RowFormatError(
                    f"line {line}: {len(values)} values for {count} placeholders in the sql"
                )
            chunk.append(values)
            if len(chunk) >= self.chunk:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
