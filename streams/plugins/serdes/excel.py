"""io.kestra.plugin.serdes.excel.ExcelToIon and IonToExcel, on openpyxl (read-only and
write-only modes, which stream rows instead of building the whole sheet).

ExcelToIon writes one row file per sheet: outputs `uris` (sheet title -> URI) and `size`
(rows in all), as Kestra's. IonToExcel's `from` is one URI, or a map of sheet title -> URI
for a workbook of several sheets.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, fetch, publish, workdir
from streams.plugins.rows import RowFormatError, RowWriter, plain, read_rows
from streams.plugins.serdes.base import KESTRA, Notes

ValueRender = Literal["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"]
DateTimeRender = Literal["SERIAL_NUMBER", "FORMATTED_STRING", "UNFORMATTED_VALUE"]
# Excel's own limit on a sheet title.
_TITLE_LENGTH = 31


def _cell_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return plain(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ExcelToIon(WorkerTask):
    TYPE: ClassVar[str] = "serdes.excel.ExcelToIon"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.excel.ExcelToIon",)

    from_: str = Field(alias="from")
    sheetsTitle: list[str] | None = None
    charset: str = "UTF-8"
    valueRender: ValueRender = "UNFORMATTED_VALUE"
    dateTimeRender: DateTimeRender = "UNFORMATTED_VALUE"
    header: bool = True
    skipEmptyRows: bool = False
    skipRows: int = Field(default=0, ge=0)

    def convert(self, source: Path, folder: Path) -> tuple[dict[str, Path], int]:
        try:
            book = load_workbook(source, read_only=True, data_only=self.valueRender != "FORMULA")
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise RowFormatError(f"not an Excel (.xlsx) workbook: {exc}") from None
        files: dict[str, Path] = {}
        total = 0
        try:
            titles = self.sheetsTitle or book.sheetnames
            missing = [t for t in titles if t not in book.sheetnames]
            if missing:
                raise RowFormatError(f"no sheet named {missing} (sheets: {book.sheetnames})")
            for index, title in enumerate(titles):
                path = folder / f"sheet-{index}.jsonl"
                with path.open("w", encoding="utf-8") as out:
                    writer = RowWriter(out)
                    self._sheet(book[title], writer)
                files[title] = path
                total += writer.count
        finally:
            book.close()
        return files, total

    def _sheet(self, sheet: Any, writer: RowWriter) -> None:
        names: list[str] | None = None
        skipped = 0
        for row in sheet.iter_rows(values_only=True):
            values = [_cell_value(v) for v in row]
            if skipped < self.skipRows:
                skipped += 1
                continue
            if self.skipEmptyRows and all(v is None or v == "" for v in values):
                continue
            if self.header and names is None:
                names = [str(v) if v is not None else f"col_{i}" for i, v in enumerate(values)]
                continue
            if names is None:
                writer.write(values)
            else:
                writer.write(
                    dict(zip(names, values + [None] * (len(names) - len(values)), strict=False))
                )

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                source = await fetch(ctx, self.from_, folder / "source.xlsx")
                files, total = await asyncio.to_thread(self.convert, source, folder)
                uris = {
                    title: await publish(ctx, p, f"{self.id}-{p.name}")
                    for title, p in files.items()
                }
                return Outcome(State.SUCCESS, {"uris": uris, "size": total})
        except (RowFormatError, TaskFileError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {self.from_}: {exc}")


class IonToExcel(WorkerTask):
    TYPE: ClassVar[str] = "serdes.excel.IonToExcel"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA}.excel.IonToExcel",)

    from_: str | dict[str, str] = Field(alias="from")
    charset: str = "UTF-8"
    sheetsTitle: str = "Sheet"
    header: bool = True
    styles: bool = True
    dateFormat: str = "yyyy-MM-dd"
    timeFormat: str = "HH:mm:ss[XXX]"
    dateTimeFormat: str = "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]"
    timeZoneId: str | None = None

    def sources(self) -> dict[str, str]:
        if isinstance(self.from_, dict):
            return dict(self.from_)
        return {self.sheetsTitle: self.from_}

    def convert(self, files: dict[str, Path], target: Path, notes: Notes) -> int:
        book = Workbook(write_only=True)
        count = 0
        for title, path in files.items():
            sheet = book.create_sheet(title[:_TITLE_LENGTH])
            first = True
            for line, row in read_rows(path):
                if isinstance(row, dict):
                    if first and self.header:
                        sheet.append([self._header_cell(sheet, str(k)) for k in row])
                    values = list(row.values())
                elif isinstance(row, list):
                    values = row
                else:
                    raise RowFormatError(f"{title} line {line}: a row is an object or a list")
                sheet.append([_excel_cell(v) for v in values])
                first = False
                count += 1
        book.save(target)
        return count

    def _header_cell(self, sheet: Any, text: str) -> Any:
        if not self.styles:
            return text
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        return cell

    async def run(self, ctx: WorkerContext) -> Outcome:
        sources = self.sources()
        try:
            async with workdir(ctx) as folder:
                files = {
                    title: await fetch(ctx, uri, folder / f"source-{i}.jsonl")
                    for i, (title, uri) in enumerate(sources.items())
                }
                target = folder / f"{self.id}.xlsx"
                size = await asyncio.to_thread(self.convert, files, target, Notes())
                return Outcome(
                    State.SUCCESS, {"uri": await publish(ctx, target, target.name), "size": size}
                )
        except (RowFormatError, TaskFileError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")


def _excel_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(plain(value), ensure_ascii=False)
