"""A flow's `sla` (Kestra's SLA types): what an execution must meet, and what happens
when it does not.

MAX_DURATION: the execution must end within `duration` of its creation.
EXECUTION_ASSERTION: `assert` must render truthy each time the execution changes.
`behavior` FAIL or CANCEL ends the execution (FAILED, CANCELLED); NONE only adds the
SLA's `labels` (every behavior adds them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.inputs import parse_duration


class _Sla(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1)
    behavior: Literal["FAIL", "CANCEL", "NONE"]
    labels: dict[str, str] | list[dict[str, str]] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _no_system_labels(
        cls, value: dict[str, str] | list[dict[str, str]]
    ) -> dict[str, str] | list[dict[str, str]]:
        keys = value.keys() if isinstance(value, dict) else [i.get("key", "") for i in value]
        system = [k for k in keys if k.startswith("system.")]
        if system:
            raise ValueError(f"system labels cannot be set by an SLA: {', '.join(system)}")
        return value

    def label_map(self) -> dict[str, str]:
        if isinstance(self.labels, dict):
            return dict(self.labels)
        return {str(item["key"]): str(item["value"]) for item in self.labels}


class MaxDurationSla(_Sla):
    type: Literal["MAX_DURATION"]
    duration: str

    @field_validator("duration")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class ExecutionAssertionSla(_Sla):
    type: Literal["EXECUTION_ASSERTION"]
    assert_: str = Field(alias="assert", min_length=1)


Sla = Annotated[MaxDurationSla | ExecutionAssertionSla, Field(discriminator="type")]
