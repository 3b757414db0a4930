"""Flow concurrency limits: requests to the gate (topic `concurrency`, key = flow uid).

The gate is the only place that sees every execution of a flow at once (executions are
spread over partitions by id); it admits, queues or refuses them, and hears when one ends.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GateRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["acquire", "release"]
    flow_uid: str
    execution_id: str
    time: dt.datetime
    limit: int = Field(default=1, ge=1)
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = "QUEUE"


class GateState(BaseModel):
    """Per flow: executions holding a slot, and those waiting for one (in order)."""

    model_config = ConfigDict(frozen=True)

    running: tuple[str, ...] = ()
    queue: tuple[str, ...] = ()
    # The limit of the flow revision that asked last (a new revision may change it).
    limit: int = 1
