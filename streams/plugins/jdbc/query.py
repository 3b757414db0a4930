"""What Kestra's JDBC Query and Queries tasks share, over any Python DB-API driver.

Properties and outputs are Kestra's (plugin-jdbc AbstractJdbcBaseQuery): `url`, `username`,
`password`, `sql`, `parameters` (`:name` placeholders), `afterSQL`, `fetchType`
(FETCH_ONE -> `row`, FETCH -> `rows`, STORE -> `uri` of a row file, NONE -> nothing) with
`size`, and the deprecated `fetch`/`fetchOne`/`store` booleans. `connectionPooling` and
`connectionPoolSize` are accepted and do nothing: a task opens one connection per run.

The driver is synchronous, so a run happens on a thread; a cancelled run (kill, timeout)
asks the driver to cancel the statement in flight. Every error the database raises fails
the task run with the database's own message.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, publish, workdir
from streams.plugins.jdbc.statements import bind_named, split_statements
from streams.plugins.rows import ROW_EXTENSION, RowWriter, plain
from streams.plugins.scripts.files import FilesError

FetchType = Literal["FETCH_ONE", "FETCH", "STORE", "NONE"]


class SqlError(Exception):
    """A SQL task cannot run: a bad URL, a refused connection, a statement the server
    rejects. The message is the server's or driver's own."""


class Connected:
    """An open connection and what a dialect does with it."""

    placeholder: ClassVar[str] = "?"
    percent_escaped: ClassVar[bool] = False

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def cursor(self) -> Any:
        return self.raw.cursor()

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def cancel(self) -> None:
        """Stop the statement in flight (called from another thread)."""

    def close(self) -> None:
        self.raw.close()

    def has_result(self, cursor: Any, sql: str) -> bool:
        """Whether the statement returned rows (rather than only a row count)."""
        return cursor.description is not None

    def store_cursor(self, sql: str) -> Any | None:
        """A cursor that streams a large result for STORE, where the driver needs one."""
        return None

    def rows(self, cursor: Any, fetch_size: int) -> Any:
        """The rows of the current result, streamed in batches of `fetch_size`."""
        while True:
            batch = cursor.fetchmany(fetch_size)
            if not batch:
                return
            yield from batch


class SqlQueryTask(WorkerTask):
    """The properties every JDBC query task has, and the statement loop."""

    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]] = ()

    url: str | None = None
    username: str | None = None
    password: str | None = None
    sql: str
    afterSQL: str | None = None
    parameters: dict[str, Any] | None = None
    fetchType: FetchType = "NONE"
    fetchSize: int = Field(default=10000, ge=1)
    timeZoneId: str | None = None
    connectionPooling: bool = True
    connectionPoolSize: int = 10
    # Deprecated since Kestra 0.19, still read: they win over fetchType, as there.
    fetch: bool = False
    fetchOne: bool = False
    store: bool = False

    def effective_fetch_type(self) -> FetchType:
        if self.fetch:
            return "FETCH"
        if self.fetchOne:
            return "FETCH_ONE"
        if self.store:
            return "STORE"
        return self.fetchType

    def connect(self, folder: Path) -> Connected:
        """Open the connection (on the worker thread); raises SqlError or a driver error."""
        raise NotImplementedError

    async def prepare(self, ctx: WorkerContext, folder: Path) -> None:
        """Fetch what the run needs into `folder` (input files, a database file)."""

    async def finish(self, ctx: WorkerContext, folder: Path, outputs: dict[str, Any]) -> None:
        """Add what the run leaves behind to `outputs` (output files, the database file)."""

    def execute(self, conn: Connected, folder: Path) -> dict[str, Any]:
        raise NotImplementedError

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                await self.prepare(ctx, folder)
                await ctx.log("DEBUG", f"Starting query: {self.sql}")
                outputs = await self._execute_on_thread(folder)
                stored = outputs.pop("_stored", [])
                for path, holder in stored:
                    uri = await publish(ctx, path, path.name)
                    # Kestra's key order: uri before size.
                    size = holder.pop("size")
                    holder.update(uri=uri, size=size)
                await self.finish(ctx, folder, outputs)
                return Outcome(State.SUCCESS, outputs)
        except (SqlError, TaskFileError, FilesError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        except self.DRIVER_ERRORS as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {_message(exc)}")

    async def _execute_on_thread(self, folder: Path) -> dict[str, Any]:
        holder: list[Connected] = []

        def work() -> dict[str, Any]:
            conn = self.connect(folder)
            holder.append(conn)
            try:
                return self.execute(conn, folder)
            finally:
                conn.close()

        job = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            if holder:
                with contextlib.suppress(Exception):
                    holder[0].cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(job, timeout=10)
            raise

    # -- the statement loop, on the worker thread -------------------------------------

    def run_statement(
        self, conn: Connected, cursor: Any, sql: str, folder: Path, index: int
    ) -> dict[str, Any] | None:
        """Execute one statement; its outputs when it returned a result set, else None."""
        if self.effective_fetch_type() == "STORE":
            streaming = conn.store_cursor(sql)
            if streaming is not None:
                try:
                    return self._run_on(conn, streaming, sql, folder, index)
                finally:
                    streaming.close()
        return self._run_on(conn, cursor, sql, folder, index)

    def _run_on(
        self, conn: Connected, cursor: Any, sql: str, folder: Path, index: int
    ) -> dict[str, Any] | None:
        if self.parameters is not None:
            bound, values = bind_named(sql, self.parameters, conn.placeholder, conn.percent_escaped)
            cursor.execute(bound, values)
        else:
            cursor.execute(sql)
        if not conn.has_result(cursor, sql):
            return None
        return self.fetch_result(conn, cursor, folder, index)

    def fetch_result(
        self, conn: Connected, cursor: Any, folder: Path, index: int
    ) -> dict[str, Any]:
        columns = [str(d[0]) for d in cursor.description]
        fetch_type = self.effective_fetch_type()
        if fetch_type == "FETCH_ONE":
            first = cursor.fetchone()
            row = None if first is None else plain(dict(zip(columns, first, strict=False)))
            return {"row": row, "size": 0 if first is None else 1}
        if fetch_type == "FETCH":
            rows = [
                plain(dict(zip(columns, r, strict=False)))
                for r in conn.rows(cursor, self.fetchSize)
            ]
            return {"rows": rows, "size": len(rows)}
        if fetch_type == "STORE":
            path = folder / f"{self.id}-{index}{ROW_EXTENSION}"
            with path.open("w", encoding="utf-8") as handle:
                writer = RowWriter(handle)
                for r in conn.rows(cursor, self.fetchSize):
                    writer.write(dict(zip(columns, r, strict=False)))
            result: dict[str, Any] = {"size": writer.count}
            result["_file"] = path
            return result
        return {}

    def statements_of(self, sql: str, single: bool) -> list[str]:
        statements = split_statements(sql)
        if not statements:
            raise SqlError("the sql property holds no statement")
        if single and len(statements) > 1:
            raise SqlError(
                "Query task support only a single SQL statement. Use the Queries task to "
                "run multiple statements."
            )
        return statements


def collect_stored(result: dict[str, Any], stored: list[tuple[Path, dict[str, Any]]]) -> None:
    """Move a STORE result's local file aside: the async side publishes it into `uri`."""
    path = result.pop("_file", None)
    if path is not None:
        stored.append((path, result))


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


class SingleQuery(SqlQueryTask):
    """Kestra's Query: one statement; `afterSQL` in the same transaction after it."""

    def execute(self, conn: Connected, folder: Path) -> dict[str, Any]:
        statements = self.statements_of(self.sql, single=True)
        after = self.statements_of(self.afterSQL, single=True) if self.afterSQL else []
        if after:
            conn.begin()
        try:
            cursor = conn.cursor()
            result = self.run_statement(conn, cursor, statements[0], folder, 0) or {}
            for statement in after:
                self.run_statement(conn, conn.cursor(), statement, folder, 1)
            if after:
                conn.commit()
        except BaseException:
            if after:
                with contextlib.suppress(Exception):
                    conn.rollback()
            raise
        stored: list[tuple[Path, dict[str, Any]]] = []
        collect_stored(result, stored)
        # The same dict: the async side publishes the stored file into its `uri`.
        result["_stored"] = stored
        return result


class ManyQueries(SqlQueryTask):
    """Kestra's Queries: statements split on `;`, one output per result set in
    `outputs`, all in one transaction unless `transaction: false`."""

    transaction: bool = True

    def execute(self, conn: Connected, folder: Path) -> dict[str, Any]:
        statements = self.statements_of(self.sql, single=False)
        results: list[dict[str, Any]] = []
        stored: list[tuple[Path, dict[str, Any]]] = []
        if self.transaction:
            conn.begin()
        try:
            for index, statement in enumerate(statements):
                result = self.run_statement(conn, conn.cursor(), statement, folder, index)
                if result is not None:
                    collect_stored(result, stored)
                    results.append(result)
            if self.transaction:
                conn.commit()
        except BaseException:
            if self.transaction:
                with contextlib.suppress(Exception):
                    conn.rollback()
            raise
        return {"outputs": results, "_stored": stored}
