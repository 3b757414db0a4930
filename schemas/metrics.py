"""A task run's metrics: counters and timers (Kestra's MetricEntry), and gauges.

A task reports them with its outcome; the executor records them on the event that ends
the attempt (or retries it), so they are facts on the log like outputs, and the metrics
view is folded from those events.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MetricType = Literal["counter", "timer", "gauge"]
# Bounds on what one attempt may report, so a runaway loop cannot bloat an event.
MAX_METRICS_PER_ATTEMPT = 1_000
MAX_METRIC_NAME = 256
MAX_TAGS = 32


class TaskMetric(BaseModel):
    """One measurement. A timer's `value` is in seconds, as Kestra's Duration reads a
    number; the views and the API show it in milliseconds, as Kestra's MetricEntry does."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=MAX_METRIC_NAME)
    type: MetricType
    value: float
    tags: dict[str, str] = Field(default_factory=dict)
    time: dt.datetime

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("a metric value must be a finite number")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_text(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            if len(value) > MAX_TAGS:
                raise ValueError(f"a metric has at most {MAX_TAGS} tags")
            return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @property
    def view_value(self) -> float:
        """The value as Kestra stores it: a timer in milliseconds."""
        return self.value * 1000.0 if self.type == "timer" else self.value
