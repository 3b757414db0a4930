"""`kestra`: Kestra's helper library for scripts, as its Python package behaves.

A script tells its task about outputs, metrics and log lines by printing one JSON object
between `::` on a line of its own; the task reads those lines (see
streams/plugins/scripts/protocol.py). It runs inside the task's own interpreter, which
may be a bare venv: the standard library only (reading Ion files needs `amazon.ion`).

    from kestra import Kestra
    Kestra.outputs({"rows": 42})
    Kestra.counter("rows", 42, {"table": "orders"})
    Kestra.timer("load", 1.5)            # seconds, or a callable to time
    Kestra.logger().info("loaded")
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Kestra"]


class Kestra:
    """Sends outputs, metrics and logs to the task running this script."""

    _logger: logging.Logger | None = None

    @staticmethod
    def format(message: dict[str, Any]) -> str:
        return "::" + json.dumps(message) + "::"

    @staticmethod
    def _send(message: dict[str, Any]) -> None:
        # Flushed at once so the line is never interleaved with a later print's buffer.
        print(Kestra.format(message), flush=True)

    @staticmethod
    def _metrics(name: str, type_: str, value: float, tags: dict[str, Any] | None) -> None:
        metric = {"name": name, "type": type_, "value": value, "tags": tags or {}}
        Kestra._send({"metrics": [metric]})

    @staticmethod
    def outputs(map_: dict[str, Any]) -> None:
        """Outputs of the task (`outputs.<task>.vars.<key>`); big ones belong in files."""
        Kestra._send({"outputs": map_})

    @staticmethod
    def assets(map_: dict[str, Any]) -> None:
        """Accepted for compatibility; assets are not tracked here."""
        Kestra._send({"assets": map_})

    @staticmethod
    def counter(name: str, value: float, tags: dict[str, Any] | None = None) -> None:
        Kestra._metrics(name, "counter", value, tags)

    @staticmethod
    def timer(
        name: str, duration: float | Callable[[], Any], tags: dict[str, Any] | None = None
    ) -> None:
        """A duration in seconds, or a callable whose run is timed."""
        if callable(duration):
            start = time.perf_counter()
            duration()
            Kestra._metrics(name, "timer", time.perf_counter() - start, tags)
        else:
            Kestra._metrics(name, "timer", duration, tags)

    @staticmethod
    def gauge(name: str, value: float, tags: dict[str, Any] | None = None) -> None:
        Kestra._metrics(name, "gauge", value, tags)

    @staticmethod
    def logger() -> logging.Logger:
        """A logger whose records become the task run's log lines at their level."""
        if Kestra._logger is not None:
            return Kestra._logger
        logger = logging.getLogger("Kestra")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        out = logging.StreamHandler(sys.stdout)
        out.setLevel(logging.DEBUG)
        out.addFilter(lambda record: record.levelno <= logging.INFO)
        out.setFormatter(JsonFormatter())
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(logging.WARNING)
        err.setFormatter(JsonFormatter())
        logger.addHandler(out)
        logger.addHandler(err)
        Kestra._logger = logger
        return logger

    @staticmethod
    def read(path: str) -> list[dict[str, Any]]:
        """The records of an Ion file (Kestra's internal row format) as dicts."""
        try:
            import amazon.ion.simpleion as ion  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError(
                "Kestra.read needs the amazon.ion package: add `amazon.ion` to the task's "
                "dependencies"
            ) from None
        with open(path, "rb") as file:
            values = ion.loads(file.read(), single_value=False)
        return [{str(k): _plain(v) for k, v in dict(record).items()} for record in values]


def _plain(value: Any) -> Any:
    """Ion's typed values as plain Python ones."""
    if value is None or type(value).__name__ == "IonPyNull":
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    kind = type(value).__name__
    if kind == "IonPyDecimal":
        return float(value)
    if kind == "IonPyBool":
        return bool(value)
    if kind == "IonPyBytes":
        return bytes(value).decode("utf-8")
    return value


_LEVELS = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}


class JsonFormatter(logging.Formatter):
    """A record as a protocol line `::{"logs": [{"level", "message"}]}::`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)  # noqa: UP017 (3.10)
        when = stamp.isoformat(sep="T", timespec="milliseconds").replace("+00:00", "Z")
        level = _LEVELS.get(record.levelno, "TRACE")
        message = f"{when} - {record.getMessage()}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return Kestra.format({"logs": [{"level": level, "message": message}]})
