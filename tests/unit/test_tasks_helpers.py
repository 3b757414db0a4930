"""Shared pieces of the task unit tests: a WorkerContext that records logs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from streams.plugins.base import LogLevel, WorkerContext
from streams.storage import LocalStorage


@dataclass
class Recorder:
    lines: list[tuple[LogLevel, str]] = field(default_factory=list)

    async def __call__(self, level: LogLevel, message: str) -> None:
        self.lines.append((level, message))

    def messages(self) -> list[str]:
        return [m for _, m in self.lines]


def make_ctx(tmp: Path, recorder: Recorder, **extra: object) -> WorkerContext:
    return WorkerContext(
        execution_id="exec1",
        task_run_id="run1",
        attempt=1,
        namespace="company.team",
        flow_id="flow1",
        log=recorder,
        now=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        tenant="main",
        task_id="t1",
        storage=LocalStorage(tmp / "storage"),
        work_root=tmp / "work",
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        **extra,  # type: ignore[arg-type]
    )
