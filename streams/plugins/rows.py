"""Lanner's row files: one value a line, where Kestra writes Ion.

The SQL tasks store query results in them, the file-format tasks (serdes) read and write
them, the Kafka and Elasticsearch tasks read records and documents from them and write
what they consume or find to them. Lanner writes JSON lines. Reading also takes the Ion
text Kestra writes (one value a line, `{a: 1, b: "x"}`), so a file made by a Kestra flow,
or typed into one, is read as it is: each line is read as JSON, else as Ion. Files are
streamed line by line, never held whole.

A line that is neither fails with its number, its start, and why it is not what the file
is: JSON, unless the file's first row was Ion.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from amazon.ion import simpleion
from amazon.ion.core import IonType, Timestamp
from amazon.ion.simple_types import IonPyNull
from amazon.ion.symbols import SymbolToken

ROW_EXTENSION = ".jsonl"
_SHOWN = 200


class RowFormatError(ValueError):
    """A file's content is not what the task reads; the message names the line or row."""


def plain(value: Any) -> Any:
    """A value as JSON can hold it: dates and times as ISO 8601 text, decimals as numbers,
    bytes as base64, Ion's own values (typed nulls, symbols...) as their plain kind,
    anything else a driver returns (UUIDs, addresses...) as its text."""
    if value is None or isinstance(value, IonPyNull):
        return None
    if isinstance(value, bool) or getattr(value, "ion_type", None) is IonType.BOOL:
        return bool(value)  # Ion's booleans are ints
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        # JSON has no NaN or infinity; Kestra's JSON writer makes them text too.
        return float(value) if math.isfinite(value) else str(float(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        whole = value == value.to_integral_value() and int(value.as_tuple().exponent) >= 0
        return int(value) if whole else float(value)
    if isinstance(value, Timestamp):
        return dt.datetime.isoformat(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, SymbolToken):  # a named tuple: before the sequences
        return value.text
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def _iso_duration(value: dt.timedelta) -> str:
    """Kestra's (Java's) text of a duration: PT1H30M, P2DT3S..."""
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}P{int(days)}D" if days else f"{sign}P"
    time_part = ""
    if hours:
        time_part += f"{int(hours)}H"
    if minutes:
        time_part += f"{int(minutes)}M"
    if secs or not (days or hours or minutes):
        time_part += f"{secs:g}S"
    return text + ("T" + time_part if time_part else "")


def dumps(value: Any) -> str:
    """A value as compact JSON text, as a row file's line holds it (without the newline)."""
    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


class RowWriter:
    """Writes rows to a file, one JSON value a line, counting them."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self.count = 0

    def write(self, row: Any) -> None:
        self._handle.write(dumps(row))
        self._handle.write("\n")
        self.count += 1


@dataclass(frozen=True, slots=True)
class RowLine:
    """A non-blank line of a row file: its number, its text as written (without the line
    break), its value, and whether the text is JSON (and so may be sent on as it is)."""

    number: int
    text: str
    value: Any
    is_json: bool


def _from_ion(value: Any) -> Any:
    """An Ion value as JSON reading gives it: plain(), floats kept floats (NaN too)."""
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _from_ion(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and not isinstance(value, SymbolToken):
        return [_from_ion(v) for v in value]
    return plain(value)


def _parse(text: str, number: int, file_is_json: bool) -> RowLine:
    try:
        return RowLine(number, text, json.loads(text), is_json=True)
    except ValueError as exc:
        not_json = (
            f"{exc.msg} at column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else str(exc)
        )
    try:
        values = simpleion.loads(text, single_value=False)
    except Exception as exc:  # the Ion reader raises several kinds for bad text
        not_ion = str(exc).strip() or type(exc).__name__
    else:
        if len(values) == 1:
            return RowLine(number, text, _from_ion(values[0]), is_json=False)
        not_ion = f"it holds {len(values)} values, a row file holds one a line"
    fmt, reason = ("JSON", not_json) if file_is_json else ("Ion", not_ion)
    raise RowFormatError(f"line {number} is not {fmt} ({reason}): {text[:_SHOWN]!r}")


def read_lines(path: Path) -> Iterator[RowLine]:
    """Each non-blank line of a row file, read, streamed; RowFormatError on a bad line."""
    file_is_json: bool | None = None
    with path.open(encoding="utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                row = _parse(text, number, file_is_json is not False)
                if file_is_json is None:
                    file_is_json = row.is_json
                yield row
        except UnicodeDecodeError as exc:
            raise RowFormatError(f"the file is not UTF-8 text: {exc.reason}") from None


def read_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a row file, streamed."""
    for row in read_lines(path):
        yield row.number, row.value
