"""SQL tasks under Kestra's plugin-jdbc names, registered under the `lanner.plugins` entry
point `jdbc`: PostgreSQL (psycopg 3), SQLite (the standard library) and DuckDB."""

from streams.plugins.base import Task
from streams.plugins.jdbc.batch import Batch
from streams.plugins.jdbc.copy import CopyIn, CopyOut
from streams.plugins.jdbc.embedded import DuckDbQueries, DuckDbQuery, SqliteQueries, SqliteQuery
from streams.plugins.jdbc.postgresql import Queries, Query

PLUGINS: list[type[Task]] = [
    Query,
    Queries,
    CopyIn,
    CopyOut,
    Batch,
    SqliteQuery,
    SqliteQueries,
    DuckDbQuery,
    DuckDbQueries,
]
