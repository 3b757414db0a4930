"""Process logs: readable lines for people, one JSON object a line for machines.

LANNER_LOG_FORMAT=text (the default) prints `time level logger: message key=value ...`,
coloured only when the stream is a terminal; LANNER_LOG_FORMAT=json prints one JSON object
a line with the context passed in `extra` (execution_id, task_run_id, ...) and the
process's tenant on every line. Libraries are held at LANNER_LIBRARIES_LOG_LEVEL, and a
few lines they print on a busy machine without anything being wrong are demoted (see
`_DEMOTED`, each with its reason).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    # uvicorn's copy of the message with terminal colour codes in it: never in a log file.
    "color_message",
}
FORMATS = ("text", "json")

# Library lines that are not a problem on their own, demoted to DEBUG (with the reason):
_DEMOTED = (
    # mode's ServiceThread (Faust's consumer thread) checks every 1.1 s that the other
    # event loop ran within 3 s and logs an ERROR otherwise. On a machine whose cores are
    # busy (a 2-core laptop compiling, CI) that is scheduling latency, not a stuck thread;
    # the check has no setting and takes no action. A real stall still shows as consumer
    # lag and, past broker_session_timeout, as a rebalance.
    "Thread keepalive is not responding",
    # aiokafka, when a member joins or leaves a group (every role's start and stop): the
    # heartbeat is answered "rebalancing" and the member rejoins, as designed. The
    # rebalance itself is logged by Faust at INFO.
    "because it is rebalancing",
)


class _Demote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno > logging.DEBUG
            and isinstance(record.msg, str)
            and any(text in record.msg for text in _DEMOTED)
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


class _Tenant(logging.Filter):
    """Every line says which tenant's process wrote it, unless it names one itself."""

    def __init__(self, tenant: str | None) -> None:
        super().__init__()
        self.tenant = tenant

    def filter(self, record: logging.LogRecord) -> bool:
        if self.tenant is not None and not hasattr(record, "tenant"):
            record.tenant = self.tenant
        return True


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_context(record))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


_COLOURS = {"DEBUG": "2", "INFO": "36", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


class TextFormatter(logging.Formatter):
    """`14:04:40 INFO  lanner.executor: message key=value`; colour only on a terminal."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname:<7}"
        if self.colour:
            level = f"\x1b[{_COLOURS.get(record.levelname, '0')}m{level}\x1b[0m"
        context = " ".join(f"{k}={v}" for k, v in _context(record).items() if k != "tenant")
        line = (
            f"{self.formatTime(record, '%H:%M:%S')} {level} {record.name}: "
            f"{record.getMessage()}" + (f"  {context}" if context else "")
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_format(value: str | None) -> str:
    fmt = (value or "text").strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"LANNER_LOG_FORMAT={value!r}: use {' or '.join(FORMATS)}")
    return fmt


def configure_logging(
    level: str = "INFO",
    libraries_level: str = "WARNING",
    fmt: str = "text",
    *,
    tenant: str | None = None,
    stream: TextIO | None = None,
) -> None:
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    if log_format(fmt) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(colour=out.isatty()))
    handler.addFilter(_Demote())
    handler.addFilter(_Tenant(tenant))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Faust and aiokafka are chatty at INFO; their warnings still show. Their INFO lines
    # (rebalances, recovery, commits) are what to read when a stream stalls. librdkafka's
    # own lines come in at WARNING and above (streams/log/client_logging.py).
    for noisy in (
        "faust",
        "mode",
        "aiokafka",
        "kafka",
        "elastic_transport",
        "uvicorn.access",
        "librdkafka",
    ):
        logging.getLogger(noisy).setLevel(libraries_level.upper())


def configure_from_env(environ: Mapping[str, str], default_level: str = "INFO") -> None:
    """LANNER_LOG_LEVEL, LANNER_LIBRARIES_LOG_LEVEL, LANNER_LOG_FORMAT, LANNER_TENANT_ID."""
    configure_logging(
        environ.get("LANNER_LOG_LEVEL") or default_level,
        environ.get("LANNER_LIBRARIES_LOG_LEVEL") or "WARNING",
        log_format(environ.get("LANNER_LOG_FORMAT")),
        tenant=environ.get("LANNER_TENANT_ID") or "main",
    )
