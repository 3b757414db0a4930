"""io.kestra.plugin.serdes.avro.IonToAvro and AvroToIon (and AvroWriter / AvroReader), on
fastavro, streamed record by record."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import fastavro
from fastavro.schema import SchemaParseException

from streams.plugins.rows import RowFormatError, RowWriter
from streams.plugins.serdes.base import KESTRA, ConvertTask, Notes, OnBadLines, bad_line
from streams.plugins.serdes.typed import AvroTyped


class IonToAvro(AvroTyped):
    TYPE: ClassVar[str] = "serdes.avro.IonToAvro"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA}.avro.IonToAvro",
        f"{KESTRA}.avro.AvroWriter",
    )
    OUTPUT_EXTENSION: ClassVar[str] = ".avro"

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        schema = self.avro_schema(source)
        try:
            parsed = fastavro.parse_schema(schema)
        except (SchemaParseException, ValueError, KeyError, TypeError) as exc:
            raise RowFormatError(f"invalid Avro schema: {exc}") from None
        count = 0

        def counted() -> Any:
            nonlocal count
            for row in self.typed_rows(source, schema, notes):
                count += 1
                yield row

        with target.open("wb") as out:
            fastavro.writer(out, parsed, counted(), validator=False)
        return count


class AvroToIon(ConvertTask):
    TYPE: ClassVar[str] = "serdes.avro.AvroToIon"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA}.avro.AvroToIon",
        f"{KESTRA}.avro.AvroReader",
    )

    onBadLines: OnBadLines = "ERROR"

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        with source.open("rb") as handle, target.open("w", encoding="utf-8") as out:
            writer = RowWriter(out)
            try:
                reader = fastavro.reader(handle)
            except (ValueError, EOFError, StopIteration) as exc:
                raise RowFormatError(f"not an Avro container file: {exc}") from None
            index = 0
            while True:
                index += 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except (ValueError, EOFError, OSError) as exc:
                    bad_line(self.onBadLines, notes, f"record {index}: unreadable: {exc}")
                    break
                writer.write(record)
        return writer.count
