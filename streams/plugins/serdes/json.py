"""io.kestra.plugin.serdes.json.JsonToIon and IonToJson (and JsonReader / JsonWriter):
JSON to and from Lanner's row files.

`newLine: true` (the default) is JSON lines, read and written line by line; `newLine:
false` is one JSON document: an array's items are the rows (an object is one row), and the
rows are written as one array. A line that is not JSON fails with its number. JsonToJsonl
(Kestra's newer task) streams an array or concatenated objects into JSON lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from streams.plugins.rows import RowFormatError, RowWriter, dumps, read_rows
from streams.plugins.serdes.base import KESTRA, ConvertTask, Notes


class JsonToIon(ConvertTask):
    TYPE: ClassVar[str] = "serdes.json.JsonToIon"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA}.json.JsonToIon",
        f"{KESTRA}.json.JsonReader",
    )

    charset: str = "UTF-8"
    newLine: bool = True

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        with (
            source.open(encoding=self.charset) as handle,
            target.open("w", encoding="utf-8") as out,
        ):
            writer = RowWriter(out)
            try:
                if self.newLine:
                    self._lines(handle, writer)
                else:
                    self._document(handle, writer)
            except UnicodeDecodeError as exc:
                raise RowFormatError(f"the file is not {self.charset} text: {exc.reason}") from None
        return writer.count

    @staticmethod
    def _lines(handle: Any, writer: RowWriter) -> None:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                writer.write(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RowFormatError(
                    f"line {number} is not JSON: {exc.msg} at column {exc.colno}"
                ) from None

    @staticmethod
    def _document(handle: Any, writer: RowWriter) -> None:
        for row in json_values(handle):
            writer.write(row)


_CHUNK = 1 << 16
_DECODER = json.JSONDecoder()
_BLANK = " \t\r\n"


class _Reader:
    """A text stream read in chunks, with the line number of what was consumed."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.buffer = ""
        self.line = 1
        self.ended = False

    def fill(self) -> bool:
        if self.ended:
            return False
        more = self.handle.read(_CHUNK)
        self.ended = not more
        self.buffer += more
        return bool(more)

    def consume(self, count: int) -> None:
        self.line += self.buffer[:count].count("\n")
        self.buffer = self.buffer[count:]

    def peek(self) -> str:
        """The next character that is not blank, "" at the end."""
        while True:
            stripped = self.buffer.lstrip(_BLANK)
            self.consume(len(self.buffer) - len(stripped))
            if self.buffer or not self.fill():
                return self.buffer[:1]

    def value(self) -> Any:
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer)
            except json.JSONDecodeError as exc:
                if self.fill():  # the value may go on in the next chunk
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if end == len(self.buffer) and self.fill():
                continue  # so may a number
            self.consume(end)
            return value

    def error(self, message: str, pos: int | None = None) -> RowFormatError:
        if pos is None:
            return RowFormatError(f"line {self.line} is not JSON: {message}")
        # The column is known only within the buffer's lines (the first may be a rest).
        before = self.buffer[:pos]
        line = self.line + before.count("\n")
        where = f" at column {len(before.rsplit(chr(10), 1)[-1]) + 1}" if "\n" in before else ""
        return RowFormatError(f"line {line} is not JSON: {message}{where}")


def json_values(handle: Any) -> Iterator[Any]:
    """The items of a top-level JSON array, or a sequence of JSON values (one object, or
    concatenated ones), streamed: one item is decoded at a time, never the whole file."""
    reader = _Reader(handle)
    if reader.peek() != "[":
        while reader.peek():
            yield reader.value()
        return
    reader.consume(1)
    if reader.peek() == "]":
        return
    while True:
        if not reader.peek():
            raise reader.error("the array is not closed")
        yield reader.value()
        following = reader.peek()
        if following == "]":
            return
        if following != ",":
            raise reader.error("expected ',' or ']' after an item")
        reader.consume(1)


class JsonToJsonl(ConvertTask):
    """Kestra's newer JSON (array or concatenated objects) to JSONL, streamed."""

    TYPE: ClassVar[str] = "serdes.json.JsonToJsonl"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.json.JsonToJsonl",)

    charset: str = "UTF-8"

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        with (
            source.open(encoding=self.charset) as handle,
            target.open("w", encoding=self.charset) as out,
        ):
            writer = RowWriter(out)
            try:
                for row in json_values(handle):
                    writer.write(row)
            except UnicodeDecodeError as exc:
                raise RowFormatError(f"the file is not {self.charset} text: {exc.reason}") from None
        return writer.count


class IonToJson(ConvertTask):
    TYPE: ClassVar[str] = "serdes.json.IonToJson"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA}.json.IonToJson",
        f"{KESTRA}.json.JsonWriter",
    )

    charset: str = "UTF-8"
    newLine: bool = True
    timeZoneId: str | None = None
    shouldKeepAnnotations: bool = False

    def output_name(self) -> str:
        return f"{self.id}{'.jsonl' if self.newLine else '.json'}"

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        count = 0
        with target.open("w", encoding=self.charset) as out:
            if not self.newLine:
                out.write("[")
            for _, row in read_rows(source):
                if not self.newLine and count:
                    out.write(",")
                out.write(dumps(row))
                if self.newLine:
                    out.write("\n")
                count += 1
            if not self.newLine:
                out.write("]")
        return count
