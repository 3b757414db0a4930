"""Row files of the internal storage, as the Kafka and Elasticsearch tasks read and write
them: one value a line.

Lanner writes JSON lines. Kestra writes Ion text, one value a line, and a flow moved over
from Kestra may hand one in, so reading accepts both: as Kestra's Elasticsearch Bulk does,
the first non-blank line decides (JSON if it parses as JSON, else Ion) and every line is
then read that way. A line that does not parse fails with its number and its start.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from amazon.ion import simpleion
from amazon.ion.core import IonType, Timestamp
from amazon.ion.simple_types import IonPyNull
from amazon.ion.symbols import SymbolToken

RowFormat = Literal["json", "ion"]
_SHOWN = 200


class RowFileError(ValueError):
    """A line of a row file that cannot be read; the message names the line."""


def _line_error(number: int, line: str, fmt: str, reason: str) -> RowFileError:
    return RowFileError(f"line {number} is not {fmt} ({reason}): {line[:_SHOWN]!r}")


def plain(value: Any) -> Any:
    """An Ion value as plain JSON-friendly Python: decimals become int or float,
    timestamps ISO text, symbols text, blobs base64, typed nulls None."""
    if value is None or isinstance(value, IonPyNull):
        return None
    if isinstance(value, bool) or getattr(value, "ion_type", None) is IonType.BOOL:
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Timestamp | dt.datetime):
        return dt.datetime.isoformat(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, SymbolToken):
        return value.text
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def parse_line(line: str, fmt: RowFormat, number: int) -> Any:
    """One line's value; RowFileError naming the line when it does not parse."""
    if fmt == "json":
        try:
            return json.loads(line)
        except ValueError as exc:
            raise _line_error(number, line, "JSON", str(exc)) from None
    try:
        return plain(simpleion.loads(line))
    except Exception as exc:  # the Ion reader raises several kinds for bad text
        raise _line_error(number, line, "Ion", str(exc).strip() or type(exc).__name__) from None


def detect(line: str) -> RowFormat:
    try:
        json.loads(line)
        return "json"
    except ValueError:
        return "ion"


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of the non-blank lines, streamed."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield number, text


def read_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every row, streamed; RowFileError on a bad line."""
    fmt: RowFormat | None = None
    for number, line in numbered_lines(path):
        fmt = fmt or detect(line)
        yield number, parse_line(line, fmt, number)


def json_line(value: Any) -> str:
    """A value as one line of a JSON-lines file (non-JSON values as their text)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
