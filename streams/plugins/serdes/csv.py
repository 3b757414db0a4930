"""io.kestra.plugin.serdes.csv.CsvToIon and IonToCsv (and their older names CsvReader and
CsvWriter): CSV to and from Lanner's row files, streamed with the standard csv module.

CsvToIon's rows are objects keyed by the header (or lists without one), values as text and
`\\N` as null, as Kestra's; a line with another number of fields than the header is a bad
line (onBadLines), a broken quote fails with its line number.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from streams.plugins.rows import RowFormatError, RowWriter, plain, read_rows
from streams.plugins.serdes.base import KESTRA, ConvertTask, Notes, OnBadLines, bad_line

OnEmptyHeader = Literal["DROP", "RENAME"]
QuoteMode = Literal["REQUIRED", "ALL", "NON_NUMERIC", "NONE"]


def _charset(name: str, reading: bool) -> str:
    # A UTF-8 byte-order mark is stripped on reading, as Kestra's stripBomIfUtf8 does.
    return "utf-8-sig" if reading and name.replace("_", "-").upper() == "UTF-8" else name


def _one_char(value: str, what: str) -> str:
    if len(value) != 1:
        raise RowFormatError(f"{what} must be one character, got {value!r}")
    return value


def resolve_header(names: list[str], policy: OnEmptyHeader, notes: Notes) -> list[str]:
    """Kestra's onEmptyHeader: DROP the trailing unnamed columns, or RENAME them col_<i>."""
    if policy == "RENAME":
        taken = set(names)
        named = []
        for index, name in enumerate(names):
            if not name:
                name, attempt = f"col_{index}", 1
                while name in taken:
                    attempt += 1
                    name = f"col_{index}_{attempt}"
                taken.add(name)
            named.append(name)
        return named
    kept = max((i for i, n in enumerate(names) if n), default=len(names) - 1) + 1
    if kept < len(names):
        notes.warn(
            f"Dropped {len(names) - kept} trailing unnamed header column(s); their values are "
            "not emitted. Set onEmptyHeader=RENAME to keep them."
        )
    return names[:kept]


class CsvToIon(ConvertTask):
    TYPE: ClassVar[str] = "serdes.csv.CsvToIon"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.csv.CsvToIon", f"{KESTRA}.csv.CsvReader")

    header: bool = True
    fieldSeparator: str = ","
    textDelimiter: str = '"'
    skipEmptyRows: bool = False
    errorOnDifferentFieldCount: bool | None = None
    onBadLines: OnBadLines = "ERROR"
    onEmptyHeader: OnEmptyHeader = "DROP"
    skipRows: int = Field(default=0, ge=0)
    charset: str = "UTF-8"
    maxBufferSize: int | None = None
    allowExtraCharsAfterClosingQuote: bool = False
    maxFieldSize: int = Field(default=16 * 1024 * 1024, ge=1)

    def _records(self, handle: Any) -> Iterator[tuple[int, list[str]]]:
        csv.field_size_limit(self.maxFieldSize)
        reader = csv.reader(
            handle,
            delimiter=_one_char(self.fieldSeparator, "fieldSeparator"),
            quotechar=_one_char(self.textDelimiter, "textDelimiter"),
            strict=not self.allowExtraCharsAfterClosingQuote,
        )
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise RowFormatError(f"line {start}: {exc}") from None
            yield start, record

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        names: list[str] | None = None
        skipped = 0
        strict_count = self.errorOnDifferentFieldCount
        with (
            source.open(encoding=_charset(self.charset, True), newline="") as handle,
            target.open("w", encoding="utf-8") as out,
        ):
            writer = RowWriter(out)
            try:
                for line, record in self._records(handle):
                    if not record:  # a blank line: no record at all
                        continue
                    if self.header and names is None:
                        names = resolve_header(record, self.onEmptyHeader, notes)
                        continue
                    if skipped < self.skipRows:
                        skipped += 1
                        continue
                    values = [None if v == "\\N" else v for v in record]
                    if names is None:
                        writer.write(values)
                        continue
                    if len(record) != len(names) and (strict_count is not False):
                        bad_line(
                            self.onBadLines,
                            notes,
                            f"line {line}: Bad line encountered (field count mismatch): "
                            f"Expected {len(names)}, got {len(record)} fields.",
                        )
                        continue
                    writer.write(dict(zip(names, values, strict=False)))
            except UnicodeDecodeError as exc:
                raise RowFormatError(f"the file is not {self.charset} text: {exc.reason}") from None
        return writer.count


class IonToCsv(ConvertTask):
    TYPE: ClassVar[str] = "serdes.csv.IonToCsv"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.csv.IonToCsv", f"{KESTRA}.csv.CsvWriter")
    OUTPUT_EXTENSION: ClassVar[str] = ".csv"

    header: bool = True
    fieldSeparator: str = ","
    textDelimiter: str = '"'
    lineDelimiter: str = "\n"
    alwaysDelimitText: bool = False
    quoteMode: QuoteMode | None = None
    charset: str = "UTF-8"
    dateFormat: str = "yyyy-MM-dd"
    timeFormat: str = "HH:mm:ss[XXX]"
    dateTimeFormat: str = "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]"
    timeZoneId: str | None = None

    def _quoting(self) -> int:
        mode = self.quoteMode or ("ALL" if self.alwaysDelimitText else "REQUIRED")
        return {
            "REQUIRED": csv.QUOTE_MINIMAL,
            "ALL": csv.QUOTE_ALL,
            "NON_NUMERIC": csv.QUOTE_NONNUMERIC,
            "NONE": csv.QUOTE_NONE,
        }[mode]

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        count = 0
        with target.open("w", encoding=_charset(self.charset, False), newline="") as out:
            writer = csv.writer(
                out,
                delimiter=_one_char(self.fieldSeparator, "fieldSeparator"),
                quotechar=_one_char(self.textDelimiter, "textDelimiter"),
                lineterminator=self.lineDelimiter,
                quoting=self._quoting(),  # type: ignore[arg-type]
                escapechar="\\" if self._quoting() == csv.QUOTE_NONE else None,
            )
            first = True
            for line, row in read_rows(source):
                if isinstance(row, list):
                    if self.header:
                        raise RowFormatError(f"line {line}: Invalid data of type List with header")
                    writer.writerow([_cell(v) for v in row])
                elif isinstance(row, dict):
                    if first and self.header:
                        writer.writerow(list(row))
                    writer.writerow([_cell(v) for v in row.values()])
                else:
                    raise RowFormatError(f"line {line}: a row is an object or a list, got {row!r}")
                first = False
                count += 1
        return count


def _cell(value: Any) -> Any:
    """A value as a CSV cell: text as is, numbers as numbers (NON_NUMERIC leaves them
    unquoted), nested values as their JSON, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    return json.dumps(plain(value), ensure_ascii=False)
