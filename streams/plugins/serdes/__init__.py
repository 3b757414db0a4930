"""File-format tasks under Kestra's plugin-serdes names, registered under the
`lanner.plugins` entry point `serdes`: CSV, JSON, Avro, Parquet and Excel to and from
Lanner's row files (JSON lines; Ion text is read too)."""

from streams.plugins.base import Task
from streams.plugins.serdes.avro import AvroToIon, IonToAvro
from streams.plugins.serdes.csv import CsvToIon, IonToCsv
from streams.plugins.serdes.excel import ExcelToIon, IonToExcel
from streams.plugins.serdes.json import IonToJson, JsonToIon, JsonToJsonl
from streams.plugins.serdes.parquet import IonToParquet, ParquetToIon

PLUGINS: list[type[Task]] = [
    CsvToIon,
    IonToCsv,
    JsonToIon,
    IonToJson,
    JsonToJsonl,
    IonToAvro,
    AvroToIon,
    IonToParquet,
    ParquetToIon,
    ExcelToIon,
    IonToExcel,
]
