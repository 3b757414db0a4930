"""Which Kafka trigger a listener serves, and what it uses on Lanner's side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.storage import Storage
from schemas.triggers import TriggerState, trigger_key
from schemas.triggers.kafka import KafkaTriggerBase
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.writers.executions import ExecutionWriter


@dataclass(frozen=True)
class ListenerTarget:
    """Which trigger of which flow; `fingerprint` changes when the listener must restart."""

    tenant: str
    namespace: str
    flow_id: str
    trigger: KafkaTriggerBase
    fingerprint: str

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.trigger.id)

    @property
    def group_id(self) -> str:
        return self.trigger.groupId or f"lanner-{self.key.replace('/', '.')}"

    @property
    def log_context(self) -> dict[str, Any]:
        return {
            "trigger": self.key,
            "flow": f"{self.namespace}.{self.flow_id}",
            "trigger_type": self.trigger.type,
        }


@dataclass(frozen=True)
class ListenerPorts:
    """What a listener writes to and reads from on Lanner's side."""

    producer: LogProducer
    execution_writer: ExecutionWriter
    topics: Topics
    trigger_state: Callable[[str], TriggerState | None]
    catch_up_states: Callable[[], bool]
    # Internal storage, for batch files.
    storage: Storage
