"""The write side for flows: validate, then append FlowCreated/FlowUpdated/FlowDeleted.

Used by the API, `lanner flow test` and `server local`'s start-up deploy, so there is one
way a flow enters the log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from schemas.events import FlowCreated, FlowDeleted, FlowUpdated
from schemas.settings import Limits
from streams.core.validation import FlowProblem, ValidatedFlow, validate_flow
from streams.flow_catalog import FlowSources
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry


@dataclass(frozen=True)
class Deployed:
    namespace: str
    flow_id: str
    revision: int
    outcome: Literal["created", "updated", "unchanged"]
    flow: ValidatedFlow


class FlowNotFound(LookupError):
    pass


class FlowWriter:
    def __init__(
        self,
        producer: LogProducer,
        catalog: FlowSources,
        registry: PluginRegistry,
        topics: Topics,
        tenant: str,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits
        self.producer = producer
        self.catalog = catalog
        self.registry = registry
        self.topics = topics
        self.tenant = tenant

    def deploy(
        self, source: str, actor: str, *, wait_s: float = 5.0
    ) -> Deployed | list[FlowProblem]:
        result = validate_flow(source, self.registry, self.limits)
        if isinstance(result, list):
            return result
        flow = result.flow
        history = self.catalog.history(self.tenant, flow.namespace, flow.id)
        now = dt.datetime.now(dt.UTC)
        common = {
            "event_id": uuid.uuid4().hex,
            "tenant": self.tenant,
            "namespace": flow.namespace,
            "flow_id": flow.id,
            "time": now,
            "actor": actor,
        }
        if (
            history is not None
            and not history.deleted
            and history.revisions.get(history.latest) == source
        ):
            return Deployed(flow.namespace, flow.id, history.latest, "unchanged", result)
        if history is None or not history.revisions:
            event: FlowCreated | FlowUpdated = FlowCreated(revision=1, source=source, **common)
            outcome: Literal["created", "updated"] = "created"
        else:
            event = FlowUpdated(revision=history.latest + 1, source=source, **common)
            outcome = "updated"
        self.producer.send_and_wait(
            self.topics.flow_events, event.key, event.model_dump_json().encode()
        )
        # Read your writes: the catalog (and so the executor's) has the revision before
        # anyone is told it exists.
        self.catalog.wait_for(self.tenant, flow.namespace, flow.id, event.revision, wait_s)
        validated = ValidatedFlow(
            flow=flow.model_copy(update={"revision": event.revision}), tasks=result.tasks
        )
        return Deployed(flow.namespace, flow.id, event.revision, outcome, validated)

    def delete(self, namespace: str, flow_id: str, actor: str) -> int:
        history = self.catalog.history(self.tenant, namespace, flow_id)
        if history is None or history.deleted:
            raise FlowNotFound(f"flow {namespace}.{flow_id} does not exist")
        event = FlowDeleted(
            event_id=uuid.uuid4().hex,
            tenant=self.tenant,
            namespace=namespace,
            flow_id=flow_id,
            revision=history.latest,
            time=dt.datetime.now(dt.UTC),
            actor=actor,
        )
        self.producer.send_and_wait(
            self.topics.flow_events, event.key, event.model_dump_json().encode()
        )
        return history.latest
