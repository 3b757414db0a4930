"""The write side for flows: validate, then append FlowCreated/FlowUpdated/FlowDeleted.

Used by the API, `lanner flow test` and `server local`'s start-up deploy, so there is one
way a flow enters the log.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from schemas.events import FlowCreated, FlowDeleted, FlowUpdated
from schemas.settings import Limits
from streams.core.validation import FlowProblem, ValidatedFlow, validate_flow
from streams.flow_catalog import FlowHistory, FlowSources
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


class FlowWriteContended(RuntimeError):
    """Every attempt to append the next revision lost to another writer."""


# A namespace's pluginDefaults in force, most important first (streams/plugins/namespace/
# defaults.py); none by default.
NamespaceDefaults = Callable[[str], list[dict[str, Any]]]
# The flow's namespace, as Kestra's import finds it: a top-level `namespace:` line.
_NAMESPACE = re.compile(r"^namespace:[ \t]*([A-Za-z0-9_.-]+)[ \t]*(?:#.*)?$", re.MULTILINE)
# How many times a deploy writes the next revision again after losing it to another writer.
MAX_RACES = 20


class FlowWriter:
    def __init__(
        self,
        producer: LogProducer,
        catalog: FlowSources,
        registry: PluginRegistry,
        topics: Topics,
        tenant: str,
        limits: Limits | None = None,
        namespace_defaults: NamespaceDefaults = lambda _namespace: [],
    ) -> None:
        self.limits = limits
        self.namespace_defaults = namespace_defaults
        self.producer = producer
        self.catalog = catalog
        self.registry = registry
        self.topics = topics
        self.tenant = tenant

    def deploy(
        self, source: str, actor: str, *, wait_s: float = 5.0
    ) -> Deployed | list[FlowProblem]:
        """Append the next revision. Another writer (an API process elsewhere) may append
        the same revision at the same moment: the first on the log has it, and the loser
        writes the one after (optimistic concurrency on the log, one writer per revision)."""
        result, defaults = self.check(source)
        if isinstance(result, list):
            return result
        flow = result.flow
        for _ in range(MAX_RACES):
            history = self.catalog.history(self.tenant, flow.namespace, flow.id)
            if (
                history is not None
                and not history.deleted
                and history.revisions.get(history.latest) == source
                and history.defaults.get(history.latest, []) == defaults
            ):
                return Deployed(flow.namespace, flow.id, history.latest, "unchanged", result)
            event = self._next_revision(history, flow.namespace, flow.id, source, actor, defaults)
            self.producer.send_and_wait(
                self.topics.flow_events, event.key, event.model_dump_json().encode()
            )
            # Read your writes: the catalog (and so the executor's) has the revision
            # before anyone is told it exists, and says whose write it is.
            self.catalog.wait_for(self.tenant, flow.namespace, flow.id, event.revision, wait_s)
            writer = self.catalog.writer_of(self.tenant, flow.namespace, flow.id, event.revision)
            if writer in (event.event_id, None):  # None: not folded in time; as before
                validated = ValidatedFlow(
                    flow=flow.model_copy(update={"revision": event.revision}), tasks=result.tasks
                )
                outcome: Literal["created", "updated"] = (
                    "created" if isinstance(event, FlowCreated) else "updated"
                )
                return Deployed(flow.namespace, flow.id, event.revision, outcome, validated)
        raise FlowWriteContended(
            f"flow {flow.namespace}.{flow.id}: {MAX_RACES} writes in a row lost the race "
            "for the next revision to other writers"
        )

    def check(self, source: str) -> tuple[ValidatedFlow | list[FlowProblem], list[dict[str, Any]]]:
        """The flow validated with its namespace's pluginDefaults in force, and those."""
        found = _NAMESPACE.search(source)
        defaults = self.namespace_defaults(found.group(1)) if found else []
        result = validate_flow(source, self.registry, self.limits, namespace_defaults=defaults)
        if not isinstance(result, list) and result.flow.namespace != (
            found.group(1) if found else None
        ):
            # The line the pattern found was not the flow's namespace (quoted, say).
            defaults = self.namespace_defaults(result.flow.namespace)
            result = validate_flow(source, self.registry, self.limits, namespace_defaults=defaults)
        return result, defaults

    def _next_revision(
        self,
        history: FlowHistory | None,
        namespace: str,
        flow_id: str,
        source: str,
        actor: str,
        defaults: list[dict[str, Any]],
    ) -> FlowCreated | FlowUpdated:
        common = {
            "event_id": uuid.uuid4().hex,
            "tenant": self.tenant,
            "namespace": namespace,
            "flow_id": flow_id,
            "time": dt.datetime.now(dt.UTC),
            "actor": actor,
        }
        if history is None or not history.revisions:
            return FlowCreated(revision=1, source=source, namespace_defaults=defaults, **common)
        return FlowUpdated(
            revision=history.latest + 1, source=source, namespace_defaults=defaults, **common
        )

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
