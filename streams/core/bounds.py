"""What one decision may do: the flow author's limits, handed in as values.

`Bounds` carries schemas.settings.Limits into the pure core (the executor builds it from
LannerSettings.limits; tests and history verification use the defaults). The only impure part is
the optional clock of the render backstop: the executor's edge passes its monotonic
clock, so that a render running past LANNER_LIMITS_RENDER_SECONDS stops; the pure
callers (history verification, tests) pass none and rely on the deterministic step budget alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.limits import Limits
from streams.core.expressions import RenderLimits


class LimitExceeded(Exception):
    """A decision passed one of the limits; `setting` is the LANNER_LIMITS_* name."""

    def __init__(self, setting: str, value: int, message: str) -> None:
        super().__init__(f"{message}: more than {setting}={value}")
        self.setting = setting
        self.value = value


@dataclass(frozen=True)
class Bounds:
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] | None = None

    def render(self) -> RenderLimits:
        limits = self.limits
        return RenderLimits(
            steps=limits.render_steps,
            bytes=limits.render_bytes,
            seconds=limits.render_seconds,
            clock=self.clock,
        )

    def check_fan_out(self, count: int, what: str) -> None:
        if count > self.limits.fan_out:
            raise LimitExceeded(
                "LANNER_LIMITS_FAN_OUT", self.limits.fan_out, f"fan-out of {count} {what}"
            )

    def check_task_runs(self, existing: int, created_now: int) -> None:
        """Before one more task run: `existing` in the execution, `created_now` by this step."""
        limit = self.limits.task_runs_per_execution
        if existing >= limit:
            raise LimitExceeded(
                "LANNER_LIMITS_TASK_RUNS_PER_EXECUTION", limit, f"task run number {existing + 1}"
            )
        per_step = self.limits.task_runs_per_step
        if created_now >= per_step:
            raise LimitExceeded(
                "LANNER_LIMITS_TASK_RUNS_PER_STEP",
                per_step,
                f"task run number {created_now + 1} created by one step",
            )


DEFAULT_BOUNDS = Bounds()
