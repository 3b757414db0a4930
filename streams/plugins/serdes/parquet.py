"""io.kestra.plugin.serdes.parquet.IonToParquet and ParquetToIon (and ParquetWriter /
ParquetReader), on pyarrow.

IonToParquet types rows by the Avro `schema` (or infers one, as Kestra does) and writes
them in batches, so a large file is never held whole; each batch is a row group.
ParquetToIon reads batch by batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from streams.plugins.rows import RowFormatError, RowWriter
from streams.plugins.serdes.base import KESTRA, ConvertTask, Notes
from streams.plugins.serdes.typed import SOURCE_KEY, AvroTyped

CompressionCodec = Literal["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD"]
BATCH_ROWS = 10_000


def arrow_type(avro_type: Any) -> tuple[pa.DataType, bool]:
    """The Arrow type of an Avro type, and whether it is nullable."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        inner, _ = arrow_type(branches[0] if branches else "string")
        return inner, "null" in avro_type
    if isinstance(avro_type, dict):
        logical, base = avro_type.get("logicalType"), avro_type.get("type")
        if logical == "date":
            return pa.date32(), False
        if logical in ("timestamp-millis", "timestamp-micros"):
            return pa.timestamp("ms" if logical.endswith("millis") else "us", tz="UTC"), False
        if logical in ("local-timestamp-millis", "local-timestamp-micros"):
            return pa.timestamp("ms" if logical.endswith("millis") else "us"), False
        if logical in ("time-millis", "time-micros"):
            return (pa.time32("ms") if logical.endswith("millis") else pa.time64("us")), False
        if logical == "decimal":
            return pa.decimal128(int(avro_type["precision"]), int(avro_type.get("scale", 0))), False
        if base == "record":
            return pa.struct(arrow_fields(avro_type)), False
        if base == "array":
            item, _ = arrow_type(avro_type["items"])
            return pa.list_(item), False
        if base == "map":
            value, _ = arrow_type(avro_type["values"])
            return pa.map_(pa.string(), value), False
        if base == "enum":
            return pa.string(), False
        return arrow_type(base)
    simple = {
        "string": pa.string(),
        "boolean": pa.bool_(),
        "int": pa.int32(),
        "long": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "bytes": pa.binary(),
        "null": pa.null(),
    }
    if avro_type not in simple:
        raise RowFormatError(f"unsupported Avro type {avro_type!r}")
    return simple[avro_type], avro_type == "null"


def arrow_fields(record: dict[str, Any]) -> list[pa.Field]:
    fields = []
    for field in record["fields"]:
        kind, nullable = arrow_type(field["type"])
        fields.append(pa.field(field.get(SOURCE_KEY, field["name"]), kind, nullable=nullable))
    return fields


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


class IonToParquet(AvroTyped):
    TYPE: ClassVar[str] = "serdes.parquet.IonToParquet"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA}.parquet.IonToParquet",
        f"{KESTRA}.parquet.ParquetWriter",
    )
    OUTPUT_EXTENSION: ClassVar[str] = ".parquet"

    compressionCodec: CompressionCodec = "GZIP"
    parquetVersion: Literal["V1", "V2"] = "V2"
    rowGroupSize: int | None = None
    pageSize: int = Field(default=1024 * 1024, ge=1)
    dictionaryPageSize: int = Field(default=1024 * 1024, ge=1)

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        schema = self.avro_schema(source)
        if not isinstance(schema.get("fields"), list):
            raise RowFormatError("schema must be an Avro record with fields")
        arrow_schema = pa.schema(arrow_fields(schema))
        codec = "NONE" if self.compressionCodec == "UNCOMPRESSED" else self.compressionCodec
        count = 0
        with pq.ParquetWriter(
            str(target),
            arrow_schema,
            compression=codec,
            version="1.0" if self.parquetVersion == "V1" else "2.6",
            data_page_size=self.pageSize,
            dictionary_pagesize_limit=self.dictionaryPageSize,
        ) as writer:
            for batch in _batches(self.typed_rows(source, schema, notes)):
                try:
                    table = pa.Table.from_pylist(batch, schema=arrow_schema)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                    raise RowFormatError(
                        f"rows {count + 1}-{count + len(batch)} do not fit the schema: {exc}"
                    ) from None
                writer.write_table(table)
                count += len(batch)
        return count


class ParquetToIon(ConvertTask):
    TYPE: ClassVar[str] = "serdes.parquet.ParquetToIon"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA}.parquet.ParquetToIon",
        f"{KESTRA}.parquet.ParquetReader",
    )

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        try:
            parquet = pq.ParquetFile(str(source))
        except (pa.ArrowInvalid, OSError) as exc:
            raise RowFormatError(f"not a Parquet file: {exc}") from None
        with parquet, target.open("w", encoding="utf-8") as out:
            writer = RowWriter(out)
            try:
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                    for row in batch.to_pylist():
                        writer.write(row)
            except (pa.ArrowInvalid, OSError) as exc:
                raise RowFormatError(f"row {writer.count + 1}: unreadable: {exc}") from None
        return writer.count
