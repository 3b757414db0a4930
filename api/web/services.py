"""What the routes need, built once at start-up and handed to them through app.state."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Request

from api.web.access import ANONYMOUS, authenticate, authorize
from api.web.errors import ApiError
from api.web.tenants import SCOPE_KEY, TenantRegistry
from projections import mappings
from projections.indexer import ensure_indices
from projections.store.client import SearchStore
from schemas.settings import LannerSettings
from schemas.storage import Storage
from streams.flow_catalog import LiveFlowCatalog
from streams.log.admin import ensure_lanner_topics
from streams.log.async_sends import AsyncSends
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.plugins.kv.view import LiveKvView
from streams.plugins.namespace.defaults import LiveNamespaceDefaultsView
from streams.plugins.namespace.view import LiveNamespaceFilesView
from streams.plugins.registry import PluginRegistry
from streams.secrets.stored import LiveSecretView
from streams.storage.config import storage_from_env
from streams.writers.executions import ExecutionWriter
from streams.writers.flows import FlowWriter

# The actor of writes when no token is involved; per request it is the token's name.
ACTOR = ANONYMOUS
_POLL_S = 0.02
# Ids of executions created here and not yet read back (Services.created_here).
_CREATED_REMEMBERED = 10_000


@dataclass
class Services:
    settings: LannerSettings
    registry: PluginRegistry
    catalog: LiveFlowCatalog
    producer: LogProducer
    # The producer's writes awaited on the event loop (execution creations).
    sends: AsyncSends
    flows: FlowWriter
    executions: ExecutionWriter
    store: SearchStore
    topics: Topics
    secrets: LiveSecretView
    storage: Storage
    kv: LiveKvView
    files: LiveNamespaceFilesView
    namespace_defaults: LiveNamespaceDefaultsView
    # Views this API wrote to since their last refresh: a search of one refreshes it first,
    # so `execution list` right after `execution run` shows the new execution (a realtime
    # GET sees a document at once, a search only after the next refresh, up to 1 s later).
    # A set, shared by the per-request copies of Services.
    unrefreshed: set[str] = field(default_factory=set)
    # Executions this API created lately, not yet seen in the views: a read of one waits
    # for the indexer (read-your-writes for the creator) instead of answering 404.
    # Bounded; shared by the per-request copies of Services.
    created_here: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # Who this request is: the token's name, recorded as the actor of what it writes.
    # One Services per tenant is shared; each request gets a shallow copy with its actor.
    actor: str = ACTOR

    @classmethod
    def start(cls, settings: LannerSettings) -> Services:

        ensure_lanner_topics(settings)
        topics = Topics(settings.full_topic_prefix)
        registry = PluginRegistry.discover()
        catalog = LiveFlowCatalog(
            settings.kafka_bootstrap, topics, registry, settings.limits
        ).start()
        producer = LogProducer(
            settings.kafka_bootstrap, client_id=f"lanner-{settings.tenant_id}-api"
        )
        store = SearchStore(settings.elasticsearch_url, settings.full_index_prefix)
        store.wait_ready()
        ensure_indices(store)
        secrets = LiveSecretView(settings.kafka_bootstrap, topics.secrets).start()
        kv = LiveKvView(settings.kafka_bootstrap, topics.kv_events).start()
        files = LiveNamespaceFilesView(settings.kafka_bootstrap, topics.namespace_files).start()
        defaults = LiveNamespaceDefaultsView(
            settings.kafka_bootstrap, topics.namespace_events
        ).start()
        tenant = settings.tenant_id
        return cls(
            settings=settings,
            registry=registry,
            catalog=catalog,
            producer=producer,
            sends=AsyncSends(producer),
            flows=FlowWriter(
                producer,
                catalog,
                registry,
                topics,
                tenant,
                settings.limits,
                namespace_defaults=lambda namespace: defaults.in_force(tenant, namespace),
            ),
            executions=ExecutionWriter(
                producer, catalog, topics, settings.tenant_id, settings.limits
            ),
            store=store,
            topics=topics,
            secrets=secrets,
            # The same root as the workers' (LANNER_STORAGE_DIR or <data dir>/storage).
            storage=storage_from_env(settings.environ, settings.data_dir),
            kv=kv,
            files=files,
            namespace_defaults=defaults,
        )

    def stop(self) -> None:
        self.catalog.stop()
        self.secrets.stop()
        self.kv.stop()
        self.files.stop()
        self.namespace_defaults.stop()
        self.sends.close()
        self.producer.close(timeout_s=5)
        self.store.close()

    def remember_created(self, execution_id: str) -> None:
        self.created_here[execution_id] = None
        while len(self.created_here) > _CREATED_REMEMBERED:
            self.created_here.popitem(last=False)

    def execution_doc(self, execution_id: str) -> dict[str, Any] | None:
        """The execution's view document; for one this API created and the indexer has
        not shown yet, once it does (or None after the read-your-writes timeout)."""
        doc = self.store.get(mappings.EXECUTIONS, execution_id)
        if doc is None and execution_id in self.created_here:
            doc = self.wait_visible(mappings.EXECUTIONS, execution_id)
        if doc is not None:
            self.created_here.pop(execution_id, None)
        return doc

    def mark_written(self, index: str) -> None:
        self.unrefreshed.add(index)

    def refresh_if_written(self, index: str) -> None:
        """Refresh a view before searching it, when this API wrote to it since the last
        refresh (read-your-writes for searches; a burst of writes costs one refresh)."""
        if index in self.unrefreshed:
            self.unrefreshed.discard(index)
            self.store.refresh(index)

    def wait_visible(
        self,
        index: str,
        doc_id: str,
        ready: Callable[[dict[str, Any]], bool] = lambda _doc: True,
    ) -> dict[str, Any] | None:
        """Read-your-writes: the document once the indexer has projected our write, or
        None when settings.read_your_writes_timeout_s passed first.

        A realtime GET sees an indexed document at once (no refresh needed), so short
        polls are cheap and the answer follows the indexer by a few milliseconds.
        """
        deadline = time.monotonic() + self.settings.read_your_writes_timeout_s
        while True:
            doc = self.store.get(index, doc_id)
            if doc is not None and ready(doc):
                return doc
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_S)


def services(request: Request) -> Services:
    """The FastAPI dependency of every route but /health: authenticate (401), keep the
    caller in its tenant (404) and read-only tokens to reads (403), then the services of
    the request's tenant, carrying the caller as actor."""
    state = request.app.state
    caller = authenticate(request, state.tokens)
    tenant = request.scope.get(SCOPE_KEY) or state.default_tenant
    authorize(request, caller, tenant)
    tenants: TenantRegistry[Services] = state.tenants
    try:
        found = tenants.get(tenant)
    except ValueError:
        raise ApiError(404, f"tenant {tenant} not found") from None
    return replace(found, actor=caller.name)


def public_services(request: Request) -> Services:
    """The default tenant's services, without a token: for /health only."""
    tenants: TenantRegistry[Services] = request.app.state.tenants
    return tenants.get(request.app.state.default_tenant)
