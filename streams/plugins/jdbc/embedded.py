"""io.kestra.plugin.jdbc.sqlite.Query|Queries and io.kestra.plugin.jdbc.duckdb.Query|Queries:
databases in the task's own working folder.

As on Kestra, the run has a folder: `jdbc:sqlite:myfile.db` / `jdbc:duckdb:file.db` name a
file in it (an absolute path is used as it is); `jdbc:sqlite:` and `jdbc:duckdb:` are in
memory. SQLite's `sqliteFile` and DuckDB's `databaseUri` load a database file from internal
storage; `outputDbFile: true` stores it back (`databaseUri` output). DuckDB's `inputFiles`
(name -> content or `kestra://` URI) are written to the folder, which is DuckDB's
`file_search_path`, so `read_csv_auto('data.csv')` finds them.

DuckDB's `sql` may use `{{ workingDir }}` (the folder) and `{{ outputFiles.<name> }}` (the
path of a file to write, for each name in `outputFiles`: `COPY (...) TO '{{ outputFiles.out
}}'`); the worker gives their values (streams/core/folder_variables.py) and stores each
such file, in the `outputFiles` output (name -> URI). Kestra names the file
`<name>_<random>.tmp`; here it is `<name>` itself, so DuckDB picks the format from its
extension.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import duckdb
from pydantic import Field

from streams.core.folder_variables import DUCKDB_VARIABLES
from streams.plugins.base import WorkerContext
from streams.plugins.core.files import fetch, publish
from streams.plugins.jdbc.query import (
    Connected,
    ManyQueries,
    SingleQuery,
    SqlError,
    SqlQueryTask,
)
from streams.plugins.scripts.files import output_file, parse_input_files, write_input_files

KESTRA = "io.kestra.plugin.jdbc"
_MEMORY = ("", ":memory:")
_QUERY_KINDS = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.PRAGMA,
    duckdb.StatementType.CALL,
    duckdb.StatementType.EXPLAIN,
}


def _database_path(url: str, scheme: str, folder: Path, default_name: str) -> str:
    if not url.startswith(scheme):
        raise SqlError(f"URL scheme is invalid. URL should start with `{scheme}`")
    location = url[len(scheme) :].split("?", 1)[0]
    if location in _MEMORY:
        return default_name
    path = Path(location)
    return str(path if path.is_absolute() else folder / path)


class SqliteConnected(Connected):
    def begin(self) -> None:
        self.raw.execute("BEGIN")

    def cancel(self) -> None:
        self.raw.interrupt()


class SqliteDatabase(SqlQueryTask):
    """Where a SQLite task's database is, and how it is opened and kept."""

    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]] = (sqlite3.Error,)

    url: str | None = "jdbc:sqlite:"
    sqliteFile: str | None = None
    outputDbFile: bool = False

    def _db_file(self, folder: Path) -> str:
        needs_file = self.sqliteFile is not None or self.outputDbFile
        return _database_path(
            self.url or "jdbc:sqlite:",
            "jdbc:sqlite:",
            folder,
            str(folder / "database.sqlite") if needs_file else ":memory:",
        )

    async def prepare(self, ctx: WorkerContext, folder: Path) -> None:
        if self.sqliteFile is not None:
            await fetch(ctx, self.sqliteFile, Path(self._db_file(folder)))

    def connect(self, folder: Path) -> Connected:
        # isolation_level=None: autocommit, transactions only where the task begins one.
        raw = sqlite3.connect(self._db_file(folder), isolation_level=None, check_same_thread=False)
        return SqliteConnected(raw)

    async def finish(self, ctx: WorkerContext, folder: Path, outputs: dict[str, Any]) -> None:
        if self.outputDbFile:
            path = Path(self._db_file(folder))
            outputs["databaseUri"] = await publish(ctx, path, path.name)


class DuckDbConnected(Connected):
    def begin(self) -> None:
        self.raw.begin()

    def cancel(self) -> None:
        self.raw.interrupt()

    def has_result(self, cursor: Any, sql: str) -> bool:
        # DuckDB answers INSERT, UPDATE, CREATE... with a one-column "Count" relation,
        # where JDBC (and so Kestra) sees an update count and no result set.
        description = cursor.description
        if description is None:
            return False
        if [d[0] for d in description] != ["Count"]:
            return True
        kinds = {s.type for s in duckdb.extract_statements(sql)}
        return bool(kinds & _QUERY_KINDS)

    def cursor(self) -> Any:
        # A DuckDB cursor is a second connection to the same database; the statements of
        # one run share the connection itself, as its transaction lives there.
        return self.raw


class DuckDbDatabase(SqlQueryTask):
    """Where a DuckDB task's database and files are, and how it is opened and kept."""

    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]] = (duckdb.Error,)

    FOLDER_VARIABLES: ClassVar[frozenset[str]] = DUCKDB_VARIABLES

    url: str | None = "jdbc:duckdb:"
    inputFiles: dict[str, str] | str | None = None
    outputFiles: list[str] = Field(default_factory=list)
    databaseUri: str | None = None
    outputDbFile: bool = False
    # Loaded when already installed on the worker (no download at run time); a missing one
    # fails the run with DuckDB's own message.
    communityExtensions: list[str] = Field(default_factory=list)

    def _db_file(self, folder: Path) -> str:
        needs_file = self.databaseUri is not None or self.outputDbFile
        return _database_path(
            self.url or "jdbc:duckdb:",
            "jdbc:duckdb:",
            folder,
            str(folder / "database.duckdb") if needs_file else ":memory:",
        )

    async def prepare(self, ctx: WorkerContext, folder: Path) -> None:
        await write_input_files(ctx, folder, parse_input_files(self.inputFiles))
        for name in self.outputFiles:  # made empty, as Kestra's are: the SQL fills them
            path = output_file(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        if self.databaseUri is not None:
            await fetch(ctx, self.databaseUri, Path(self._db_file(folder)))

    def connect(self, folder: Path) -> Connected:
        raw = duckdb.connect(self._db_file(folder))
        quoted = str(folder).replace("'", "''")
        raw.execute(f"SET file_search_path = '{quoted}'")
        for extension in self.communityExtensions:
            raw.load_extension(extension)
        return DuckDbConnected(raw)

    async def finish(self, ctx: WorkerContext, folder: Path, outputs: dict[str, Any]) -> None:
        if self.outputFiles:
            outputs["outputFiles"] = {
                name: await publish(ctx, output_file(folder, name), name)
                for name in self.outputFiles
            }
        if self.outputDbFile:
            path = Path(self._db_file(folder))
            outputs["databaseUri"] = await publish(ctx, path, path.name)


class SqliteQuery(SqliteDatabase, SingleQuery):
    TYPE: ClassVar[str] = "jdbc.sqlite.Query"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.sqlite.Query",)


class SqliteQueries(SqliteDatabase, ManyQueries):
    TYPE: ClassVar[str] = "jdbc.sqlite.Queries"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.sqlite.Queries",)


class DuckDbQuery(DuckDbDatabase, SingleQuery):
    TYPE: ClassVar[str] = "jdbc.duckdb.Query"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.duckdb.Query",)


class DuckDbQueries(DuckDbDatabase, ManyQueries):
    TYPE: ClassVar[str] = "jdbc.duckdb.Queries"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.duckdb.Queries",)
