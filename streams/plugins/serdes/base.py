"""What every file-format task shares: read `from` (a file in internal storage), convert it
on a thread (the libraries are synchronous and the work is CPU-bound), store the result as
a file of the task run; outputs `uri` and `size` (records converted), as Kestra's.

A file in the wrong format fails the task run with the line or row that broke it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, extension_of, fetch, publish, workdir
from streams.plugins.rows import RowFormatError

KESTRA = "io.kestra.plugin.serdes"
OnBadLines = Literal["ERROR", "WARN", "SKIP"]
# Warnings logged one by one before they are only counted (a file of bad lines must not
# flood the log topic).
SHOWN_WARNINGS = 20


class Notes:
    """Warnings a conversion raises on its thread, logged afterwards."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def warn(self, message: str) -> None:
        self.count += 1
        if len(self.lines) < SHOWN_WARNINGS:
            self.lines.append(message)


class ConvertTask(WorkerTask):
    """A conversion of one storage file into another."""

    OUTPUT_EXTENSION: ClassVar[str] = ".jsonl"

    from_: str = Field(alias="from")

    def convert(self, source: Path, target: Path, notes: Notes) -> int:
        """Write `target` from `source`; the number of records. Raises RowFormatError."""
        raise NotImplementedError

    def output_name(self) -> str:
        return f"{self.id}{self.OUTPUT_EXTENSION}"

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                source = await fetch(ctx, self.from_, folder / f"source{extension_of(self.from_)}")
                target = folder / self.output_name()
                notes = Notes()
                size = await asyncio.to_thread(self.convert, source, target, notes)
                for line in notes.lines:
                    await ctx.log("WARN", line)
                if notes.count > len(notes.lines):
                    await ctx.log("WARN", f"{notes.count - len(notes.lines)} more warnings")
                outputs: dict[str, Any] = {"uri": await publish(ctx, target, target.name)}
                outputs["size"] = size
                return Outcome(State.SUCCESS, outputs)
        except (RowFormatError, TaskFileError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {self.from_}: {exc}")


def bad_line(policy: OnBadLines, notes: Notes, message: str) -> None:
    """Kestra's onBadLines: ERROR fails the run, WARN logs and skips, SKIP skips."""
    if policy == "ERROR":
        raise RowFormatError(message)
    if policy == "WARN":
        notes.warn(f"Bad line encountered (skipped): {message}")
