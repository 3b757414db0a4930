"""io.kestra.plugin.jdbc.postgresql.Query and Queries, on psycopg 3.

`url` is Kestra's JDBC URL, `jdbc:postgresql://host[:port][,host2[:port2]]/[database][?k=v]`
(or `jdbc:postgresql:database`), read into libpq's parameters: the query string's `user`,
`password`, `sslmode`, `ssl=true`, `connectTimeout`, `ApplicationName` and `currentSchema`
are understood; `username`/`password` properties win over the URL's. The SSL properties
(`sslMode`, `sslRootCert`, `sslCert`, `sslKey` as PEM text) are Kestra's.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg

from streams.plugins.base import Task
from streams.plugins.jdbc.query import Connected, ManyQueries, SingleQuery, SqlError

KESTRA = "io.kestra.plugin.jdbc.postgresql"
SCHEME = "jdbc:postgresql"
_DECLARABLE = re.compile(r"^\s*(select|values|table)\b", re.IGNORECASE)
SslMode = Literal["DISABLE", "ALLOW", "PREFER", "REQUIRE", "VERIFY_CA", "VERIFY_FULL"]


def parse_url(url: str | None) -> dict[str, str]:
    """libpq connection parameters of a Kestra PostgreSQL JDBC URL."""
    if not url or not url.strip():
        raise SqlError("Rendered value of `url` is blank.")
    url = url.strip()
    if not url.startswith(SCHEME):
        raise SqlError(f"URL scheme is invalid. URL should start with `{SCHEME}`")
    rest = url[len(SCHEME) :]
    if not rest.startswith(":"):
        raise SqlError(f"URL scheme is invalid. URL should start with `{SCHEME}`")
    params: dict[str, str] = {}
    if rest.startswith("://"):
        parts = urlsplit("postgresql" + rest)
        hosts, ports = [], []
        for hostport in parts.netloc.rsplit("@", 1)[-1].split(","):
            if not hostport:
                continue
            host, _, port = hostport.partition(":")
            if hostport.startswith("["):  # [::1]:5432
                host, _, port = hostport[1:].partition("]")
                port = port.lstrip(":")
            hosts.append(host or "localhost")
            ports.append(port or "5432")
        params["host"] = ",".join(hosts) or "localhost"
        params["port"] = ",".join(ports) or "5432"
        database = unquote(parts.path.lstrip("/"))
        query = parts.query
    else:  # jdbc:postgresql:database
        database, _, query = rest[1:].partition("?")
        params["host"], params["port"] = "localhost", "5432"
    if database:
        params["dbname"] = database
    for key, value in parse_qsl(query, keep_blank_values=True):
        name = key.lower()
        if name in ("user", "password", "sslmode"):
            params[name] = value
        elif name == "ssl" and value.lower() == "true":
            params.setdefault("sslmode", "require")
        elif name in ("connecttimeout", "logintimeout"):
            params["connect_timeout"] = value
        elif name == "applicationname":
            params["application_name"] = value
        elif name == "currentschema":
            params["options"] = f"-c search_path={value}"
    return params


class PostgresConnected(Connected):
    placeholder: ClassVar[str] = "%s"
    percent_escaped: ClassVar[bool] = True
    _stores = 0

    def begin(self) -> None:
        self.raw.autocommit = False

    def cancel(self) -> None:
        self.raw.cancel()

    def store_cursor(self, sql: str) -> Any | None:
        """A server-side cursor for a query STORE streams: a client cursor would hold the
        whole result in memory. DECLARE takes SELECT and VALUES only; anything else (a
        RETURNING clause...) is fetched by the client cursor."""
        if not _DECLARABLE.match(sql):
            return None
        self._stores += 1
        # Outside a transaction (autocommit), a cursor must be WITH HOLD to live past it.
        return self.raw.cursor(name=f"lanner_store_{self._stores}", withhold=self.raw.autocommit)


class PostgresConnection(Task):
    """The connection properties of every PostgreSQL task (Kestra's PostgresConnectionInterface)."""

    url: str
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    sslMode: SslMode | None = None
    sslRootCert: str | None = None
    sslCert: str | None = None
    sslKey: str | None = None
    sslKeyPassword: str | None = None

    def connect_params(self, folder: Path) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_url(self.url))
        if self.username is not None:
            params["user"] = self.username
        if self.password is not None:
            params["password"] = self.password
        if self.ssl:
            params.setdefault("sslmode", "require")
        if self.sslMode is not None:
            params["sslmode"] = self.sslMode.lower().replace("_", "-")
        # libpq reads certificates from files: the PEM text goes to the run's folder.
        for prop, key in (
            ("sslRootCert", "sslrootcert"),
            ("sslCert", "sslcert"),
            ("sslKey", "sslkey"),
        ):
            pem = getattr(self, prop)
            if pem:
                path = folder / f"{key}.pem"
                path.write_text(pem)
                path.chmod(0o600)
                params[key] = str(path)
        if self.sslKeyPassword:
            params["sslpassword"] = self.sslKeyPassword
        params.setdefault("connect_timeout", "10")
        return params

    def open(self, folder: Path) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(**self.connect_params(folder), autocommit=True)
        except psycopg.OperationalError as exc:
            raise SqlError(str(exc).strip()) from None


class Query(PostgresConnection, SingleQuery):
    TYPE: ClassVar[str] = "jdbc.postgresql.Query"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.Query",)
    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]] = (psycopg.Error,)

    url: str

    def connect(self, folder: Path) -> Connected:
        return PostgresConnected(self.open(folder))


class Queries(PostgresConnection, ManyQueries):
    TYPE: ClassVar[str] = "jdbc.postgresql.Queries"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.Queries",)
    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]] = (psycopg.Error,)

    url: str

    def connect(self, folder: Path) -> Connected:
        return PostgresConnected(self.open(folder))


def cancel_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):
        conn.cancel()
