"""Rows typed by an Avro schema, for the Avro and Parquet writers (Kestra's AvroConverter).

The schema is the flow's `schema` (Avro JSON), or inferred from the first
`numberOfRowsToScan` rows as Kestra's InferAvroSchema does (every field nullable). Values
are converted to the field's type: text to numbers and booleans (`trueValues`,
`falseValues`, `decimalSeparator`), `nullValues` to null, ISO 8601 text to dates and
timestamps. A value that does not fit is a bad line (onBadLines) naming its line and field.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field

from streams.plugins.rows import RowFormatError, plain, read_rows
from streams.plugins.serdes.base import ConvertTask, Notes, OnBadLines, bad_line

NULL_VALUES = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND", "1.#QNAN",
    "NA", "n/a", "nan", "null",
]  # fmt: skip
TRUE_VALUES = ["t", "true", "enabled", "1", "on", "yes"]
FALSE_VALUES = ["f", "false", "disabled", "0", "off", "no", ""]


# Where an inferred field's value is in the row, when its Avro name had to differ.
SOURCE_KEY = "lanner.source"


class BadValue(ValueError):
    """A value that does not fit its field's type."""


class AvroTyped(ConvertTask):
    """The properties of Kestra's AbstractAvroConverter."""

    schema_: str | dict[str, Any] | None = Field(default=None, alias="schema")
    numberOfRowsToScan: int = Field(default=100, ge=1)
    trueValues: list[str] = Field(default_factory=lambda: list(TRUE_VALUES))
    falseValues: list[str] = Field(default_factory=lambda: list(FALSE_VALUES))
    nullValues: list[str] = Field(default_factory=lambda: list(NULL_VALUES))
    dateFormat: str | None = None
    timeFormat: str | None = None
    datetimeFormat: str | None = None
    decimalSeparator: str = "."
    strictSchema: bool = False
    inferAllFields: bool = False
    timeZoneId: str | None = None
    onBadLines: OnBadLines = "ERROR"

    def avro_schema(self, source: Path) -> dict[str, Any]:
        if self.schema_ is None:
            return infer_schema(r for _, r in islice(read_rows(source), self.numberOfRowsToScan))
        if isinstance(self.schema_, dict):
            return self.schema_
        try:
            parsed = json.loads(self.schema_)
        except json.JSONDecodeError as exc:
            raise RowFormatError(f"schema is not JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            raise RowFormatError('schema must be an Avro record schema ({"type": "record"...})')
        return parsed

    def typed_rows(
        self, source: Path, schema: Mapping[str, Any], notes: Notes
    ) -> Iterator[dict[str, Any]]:
        """The rows of `source` converted to `schema` (a record), bad ones handled."""
        convert = self._record_converter(schema)
        names = {f.get(SOURCE_KEY, f["name"]) for f in schema.get("fields", [])}
        for line, row in read_rows(source):
            if not isinstance(row, dict):
                bad_line(self.onBadLines, notes, f"line {line}: a row is an object, got {row!r}")
                continue
            if self.strictSchema and (extra := sorted(set(row) - names)):
                bad_line(self.onBadLines, notes, f"line {line}: fields not in the schema: {extra}")
                continue
            try:
                yield convert(row)
            except BadValue as exc:
                bad_line(self.onBadLines, notes, f"line {line}: {exc}")

    # -- conversion ---------------------------------------------------------------------

    def _zone(self) -> dt.tzinfo:
        return ZoneInfo(self.timeZoneId) if self.timeZoneId else dt.UTC

    def _record_converter(self, schema: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
        fields = [
            (f.get(SOURCE_KEY, f["name"]), self._converter(f["type"], f["name"]))
            for f in schema["fields"]
        ]

        def convert(row: Any) -> dict[str, Any]:
            if not isinstance(row, Mapping):
                raise BadValue(f"expected a record, got {row!r}")
            return {name: conv(row.get(name)) for name, conv in fields}

        return convert

    def _converter(self, avro_type: Any, field: str) -> Callable[[Any], Any]:
        if isinstance(avro_type, list):
            nullable = "null" in avro_type
            branches = [t for t in avro_type if t != "null"]
            inner = self._converter(branches[0], field) if branches else (lambda v: None)
            nulls = set(self.nullValues)

            def union(value: Any) -> Any:
                is_null = value is None or (isinstance(value, str) and value in nulls)
                return None if is_null and nullable else inner(value)

            return union
        if isinstance(avro_type, dict):
            logical = avro_type.get("logicalType")
            base = avro_type.get("type")
            if logical == "date":
                return self._checked(field, "date", self._date)
            if logical in ("timestamp-millis", "timestamp-micros"):
                return self._checked(field, logical, self._timestamp)
            if logical in ("local-timestamp-millis", "local-timestamp-micros"):
                return self._checked(field, logical, self._local_timestamp)
            if logical in ("time-millis", "time-micros"):
                return self._checked(field, logical, self._time)
            if logical == "decimal":
                return self._checked(field, "decimal", self._decimal)
            if base == "record":
                return self._record_converter(avro_type)
            if base == "array":
                items = self._converter(avro_type["items"], field)
                return self._checked(field, "array", lambda v: [items(i) for i in _listed(v)])
            if base == "map":
                values = self._converter(avro_type["values"], field)
                return self._checked(
                    field, "map", lambda v: {str(k): values(i) for k, i in _mapped(v).items()}
                )
            if base == "enum":
                symbols = set(avro_type.get("symbols", []))
                return self._checked(field, "enum", lambda v: _member(str(v), symbols))
            return self._converter(base, field)
        simple: dict[str, Callable[[Any], Any]] = {
            "string": _text,
            "boolean": self._boolean,
            "int": _integer,
            "long": _integer,
            "float": self._floating,
            "double": self._floating,
            "bytes": _bytes,
            "null": lambda v: None,
        }
        if avro_type not in simple:
            raise RowFormatError(f"field '{field}': unsupported Avro type {avro_type!r}")
        return self._checked(field, str(avro_type), simple[avro_type])

    @staticmethod
    def _checked(field: str, kind: str, conv: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def convert(value: Any) -> Any:
            if value is None:
                raise BadValue(f"field '{field}': null in a non-nullable {kind} field")
            try:
                return conv(value)
            except BadValue:
                raise
            except (ValueError, TypeError, ArithmeticError):
                raise BadValue(f"field '{field}': cannot convert {value!r} to {kind}") from None

        return convert

    def _boolean(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in (t.lower() for t in self.trueValues):
            return True
        if text in (f.lower() for f in self.falseValues):
            return False
        raise ValueError(value)

    def _floating(self, value: Any) -> float:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, str) and self.decimalSeparator != ".":
            value = value.replace(self.decimalSeparator, ".")
        return float(value)

    def _decimal(self, value: Any) -> decimal.Decimal:
        if isinstance(value, str) and self.decimalSeparator != ".":
            value = value.replace(self.decimalSeparator, ".")
        return decimal.Decimal(str(value))

    @staticmethod
    def _date(value: Any) -> dt.date:
        if isinstance(value, int) and not isinstance(value, bool):
            return dt.date(1970, 1, 1) + dt.timedelta(days=value)
        return dt.date.fromisoformat(str(value)[:10])

    def _timestamp(self, value: Any) -> dt.datetime:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self._zone())

    @staticmethod
    def _local_timestamp(value: Any) -> dt.datetime:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)

    @staticmethod
    def _time(value: Any) -> dt.time:
        return dt.time.fromisoformat(str(value))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(plain(value), ensure_ascii=False)
    return str(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        return int(float(text)) if "." in text and float(text).is_integer() else int(text)
    return int(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _listed(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list):
        raise TypeError(value)
    return value


def _mapped(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise TypeError(value)
    return value


def _member(value: str, symbols: set[str]) -> str:
    if value not in symbols:
        raise ValueError(value)
    return value


def _type_of(value: Any) -> Any:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "string"  # nested values are kept as their JSON text
    if isinstance(value, list):
        return "string"
    return "string"


def infer_schema(rows: Iterator[Any]) -> dict[str, Any]:
    """A record schema from rows: each field's type from its first non-null value (a long
    seen with a double is a double; anything else mixed is a string); all nullable."""
    types: dict[str, Any] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise RowFormatError(f"a row is an object to infer a schema from, got {row!r}")
        for name, value in row.items():
            seen = types.get(name)
            found = None if value is None else _type_of(value)
            if seen is None:
                types[name] = found
            elif found is not None and found != seen:
                numbers = {seen, found} == {"long", "double"}
                types[name] = "double" if numbers else "string"
    fields = [
        {
            "name": _avro_name(name),
            SOURCE_KEY: name,
            "type": ["null", kind or "string"],
            "default": None,
        }
        for name, kind in types.items()
    ]
    return {"type": "record", "name": "root", "fields": fields}


def _avro_name(name: str) -> str:
    # Avro names are [A-Za-z_][A-Za-z0-9_]*; a CSV header often is not.
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "_"
    return cleaned if not cleaned[0].isdigit() else "_" + cleaned
