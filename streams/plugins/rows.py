"""Lanner's row files: one JSON value per line (JSON lines), where Kestra writes Ion.

The SQL tasks store query results in it and the file-format tasks (serdes) read and write
it. Reading also takes the Ion text Kestra writes (one value per line, `{a: 1, b: "x"}`),
so a file made by a Kestra flow, or typed into one, is read as it is. Files are streamed
line by line, never held whole. A line that is neither JSON nor Ion fails with its number.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from amazon.ion import simpleion
from amazon.ion.core import Timestamp

ROW_EXTENSION = ".jsonl"


class RowFormatError(ValueError):
    """A file's content is not what the task reads; the message names the line or row."""


def plain(value: Any) -> Any:
    """A value as JSON can hold it: dates and times as ISO 8601 text, decimals as numbers,
    bytes as base64, anything else a driver returns (UUIDs, addresses...) as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity; Kestra's JSON writer makes them text too.
        return value if math.isfinite(value) else str(value)
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
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
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


def dumps(row: Any) -> str:
    return json.dumps(plain(row), ensure_ascii=False, separators=(",", ":"))


class RowWriter:
    """Writes rows to a file, one per line, counting them."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self.count = 0

    def write(self, row: Any) -> None:
        self._handle.write(dumps(row))
        self._handle.write("\n")
        self.count += 1


def _from_ion(value: Any) -> Any:
    if value is None or _is_ion_null(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _from_ion(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_from_ion(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return plain(value)


def _is_ion_null(value: Any) -> bool:
    return type(value).__name__ == "IonPyNull"


def parse_line(text: str, number: int) -> Any:
    """One line's value: JSON, else Ion text; RowFormatError naming the line otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            values = simpleion.loads(text, single_value=False)
        except Exception:
            raise RowFormatError(
                f"line {number} is neither JSON nor Ion: {json_error.msg} at column "
                f"{json_error.colno}: {text[:200]!r}"
            ) from None
        if len(values) != 1:
            raise RowFormatError(
                f"line {number} holds {len(values)} values, a row file holds one per line"
            ) from None
        return _from_ion(values[0])


def read_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a row file, streamed."""
    with path.open(encoding="utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                text = line.strip()
                if text:
                    yield number, parse_line(text, number)
        except UnicodeDecodeError as exc:
            raise RowFormatError(f"the file is not UTF-8 text: {exc.reason}") from None
