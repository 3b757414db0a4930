"""io.kestra.plugin.serdes.json.JsonToIon and IonToJson (and JsonReader / JsonWriter):
JSON to and from Lanner's row files.

`newLine: true` (the default) is JSON lines, read and written line by line; `newLine:
false` is one JSON document: an array's items are the rows (an object is one row), and the
rows are written as one array. A line that is not JSON fails with its number.
"""

from __future__ import annotations

import json
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
        try:
            document = json.load(handle)
        except json.JSONDecodeError as exc:
            raise RowFormatError(
                f"line {exc.lineno} is not JSON: {exc.msg} at column {exc.colno}"
            ) from None
        for row in document if isinstance(document, list) else [document]:
            writer.write(row)


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
