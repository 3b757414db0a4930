"""io.kestra.plugin.jdbc.postgresql.CopyIn and CopyOut: PostgreSQL's COPY between a table
(or a query) and a file in internal storage, streamed in both directions.

The COPY statement is built as Kestra builds it (AbstractCopy.query): `table` and
`columns`, or CopyOut's `sql`; then `WITH (FORMAT ..., DELIMITER ..., HEADER ...)` from the
properties. Outputs are Kestra's: `rowCount`, and CopyOut's `uri`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, ClassVar, Literal

import psycopg
from pydantic import Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, fetch, publish, workdir
from streams.plugins.jdbc.postgresql import KESTRA, PostgresConnection
from streams.plugins.jdbc.query import SqlError

CopyFormat = Literal["TEXT", "CSV", "BINARY"]
_CHUNK = 1 << 16
_EXTENSIONS = {"TEXT": ".txt", "CSV": ".csv", "BINARY": ".bin"}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class AbstractCopy(PostgresConnection, WorkerTask):
    table: str | None = None
    columns: list[str] = Field(default_factory=list)
    format: CopyFormat = "TEXT"
    oids: bool | None = None
    freeze: bool | None = None
    delimiter: str | None = None
    nullString: str | None = None
    header: bool | None = None
    quote: str | None = None
    escape: str | None = None
    forceQuote: list[str] = Field(default_factory=list)
    forceNotNull: list[str] = Field(default_factory=list)
    forceNull: list[str] = Field(default_factory=list)
    encoding: str | None = None
    socketTimeout: int | None = None

    def copy_statement(self, query: str | None, direction: str) -> str:
        sql = ["COPY"]
        if query is None:
            if not self.table:
                raise SqlError("`table` is required when no `sql` is given")
            sql.append(self.table)
            if self.columns:
                sql.append("(" + ", ".join(self.columns) + ")")
        else:
            sql.append(f"({query.strip().rstrip(';')})")
        sql.append(direction)
        options: list[str] = []
        if self.format != "TEXT":
            options.append(f"FORMAT {self.format}")
        if self.oids:
            options.append("OIDS")
        if self.freeze:
            options.append("FREEZE")
        if self.delimiter is not None:
            options.append(f"DELIMITER {_literal(self.delimiter)}")
        if self.nullString is not None:
            options.append(f"NULL {_literal(self.nullString)}")
        if self.header is not None:
            options.append(f"HEADER {'TRUE' if self.header else 'FALSE'}")
        if self.quote is not None:
            options.append(f"QUOTE {_literal(self.quote)}")
        if self.escape is not None:
            options.append(f"ESCAPE {_literal(self.escape)}")
        if self.forceQuote:
            quoted = "*" if self.forceQuote == ["*"] else "(" + ", ".join(self.forceQuote) + ")"
            options.append(f"FORCE_QUOTE {quoted}")
        if self.forceNotNull:
            options.append("FORCE_NOT_NULL (" + ", ".join(self.forceNotNull) + ")")
        if self.forceNull:
            options.append("FORCE_NULL (" + ", ".join(self.forceNull) + ")")
        if self.encoding is not None:
            options.append(f"ENCODING {_literal(self.encoding)}")
        if options:
            sql.append("WITH (" + ", ".join(options) + ")")
        return " ".join(sql)

    def connect_params(self, folder: Path) -> dict[str, Any]:
        params = super().connect_params(folder)
        if self.socketTimeout:
            # libpq has no read timeout; the server ends a statement that runs longer.
            params["options"] = (
                params.get("options", "") + f" -c statement_timeout={self.socketTimeout * 1000}"
            ).strip()
        return params

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                return await self.run_copy(ctx, folder)
        except (SqlError, TaskFileError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        except psycopg.Error as exc:
            message = str(exc).strip() or type(exc).__name__
            return Outcome(State.FAILED, error=f"task {self.id}: {message}")

    async def run_copy(self, ctx: WorkerContext, folder: Path) -> Outcome:
        raise NotImplementedError

    async def on_thread(self, work: Any, conn_box: list[psycopg.Connection[Any]]) -> Any:
        job = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            for conn in conn_box:
                with contextlib.suppress(Exception):
                    conn.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(job, timeout=10)
            raise


class CopyIn(AbstractCopy):
    TYPE: ClassVar[str] = "jdbc.postgresql.CopyIn"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.CopyIn",)

    from_: str = Field(alias="from")

    async def run_copy(self, ctx: WorkerContext, folder: Path) -> Outcome:
        source = await fetch(ctx, self.from_, folder / "copy-in")
        statement = self.copy_statement(None, "FROM STDIN")
        await ctx.log("DEBUG", f"Starting query: {statement}")
        box: list[psycopg.Connection[Any]] = []

        def work() -> int:
            with self.open(folder) as conn:
                box.append(conn)
                with conn.cursor() as cursor:
                    with cursor.copy(statement) as copy, source.open("rb") as handle:
                        while chunk := handle.read(_CHUNK):
                            copy.write(chunk)
                    # Set once the COPY has ended, and gone when the cursor closes.
                    return int(cursor.rowcount)

        rows = await self.on_thread(work, box)
        return Outcome(State.SUCCESS, {"rowCount": rows})


class CopyOut(AbstractCopy):
    TYPE: ClassVar[str] = "jdbc.postgresql.CopyOut"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.CopyOut",)

    sql: str | None = None

    async def run_copy(self, ctx: WorkerContext, folder: Path) -> Outcome:
        statement = self.copy_statement(self.sql, "TO STDOUT")
        await ctx.log("DEBUG", f"Starting query: {statement}")
        target = folder / f"copy-out{_EXTENSIONS[self.format]}"
        box: list[psycopg.Connection[Any]] = []

        def work() -> int:
            with self.open(folder) as conn:
                box.append(conn)
                with conn.cursor() as cursor:
                    with cursor.copy(statement) as copy, target.open("wb") as handle:
                        for chunk in copy:
                            handle.write(chunk)
                    return int(cursor.rowcount)

        rows = await self.on_thread(work, box)
        uri = await publish(ctx, target, target.name)
        return Outcome(State.SUCCESS, {"uri": uri, "rowCount": rows})
