"""Facts of the namespace key-value store, on the `kv-events` topic.

Keyed by tenant/namespace/key, so every change of one key is on one partition, in order;
the latest event of a key is its value (a compacted topic would keep exactly that).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _KvEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    key: str
    time: dt.datetime
    # Who wrote it: the execution and task run, for the audit trail.
    execution_id: str | None = None
    task_run_id: str | None = None
    # Who wrote it outside an execution (the API's caller: `lanner kv set`).
    actor: str | None = None

    @property
    def record_key(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.key}"


class KvSet(_KvEvent):
    type: Literal["KvSet"] = "KvSet"
    value: Any = None
    expires: dt.datetime | None = None


class KvDeleted(_KvEvent):
    type: Literal["KvDeleted"] = "KvDeleted"


KvEvent = Annotated[KvSet | KvDeleted, Field(discriminator="type")]
KV_EVENT_ADAPTER: TypeAdapter[KvSet | KvDeleted] = TypeAdapter(KvEvent)
