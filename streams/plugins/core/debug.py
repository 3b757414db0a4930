"""io.kestra.plugin.core.debug.Echo: deprecated in Kestra (use log.Log), still used by its
test flows. Logs the rendered `format` at `level`, inline like Log."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator

from schemas.states import State
from streams.plugins.base import InlineLog, InlineTask, LogLevel, Outcome
from streams.plugins.core.simple import _as_text


class Echo(InlineTask):
    TYPE: ClassVar[str] = "debug.Echo"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.debug.Echo",
        "io.kestra.core.tasks.debugs.Echo",
    )
    # Text; a template that is one expression may render to a number or a map.
    format: Any
    level: LogLevel = "INFO"

    @field_validator("format")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("format must not be blank")
        return value

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        logs.append(InlineLog(self.level, _as_text(self.format)))
        return Outcome(State.SUCCESS)
