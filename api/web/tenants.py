"""One API process, several tenants: the tenant of a request, and Services per tenant.

Kestra's paths carry the tenant: `/api/v1/{tenant}/flows/...`. The routes are written
once, tenant-less; `TenantPaths` takes the tenant segment out of the path (into the ASGI
scope) before routing, so `/api/v1/flows/...` is the default tenant and every route
serves every tenant without a second copy of itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.settings import LannerSettings

log = logging.getLogger("lanner.api")
SCOPE_KEY = "lanner.tenant"
S = TypeVar("S")


class TenantPaths:
    """ASGI middleware: `/api/v1/<tenant>/<group>/...` -> `/api/v1/<group>/...` with the
    tenant in scope[SCOPE_KEY]. `groups` are the route groups (first segments) the API
    has; RESERVED_TENANTS in schemas/settings.py keeps tenants from being named alike."""

    def __init__(self, app: ASGIApp, prefix: str, groups: Iterable[str]) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/"
        self.groups = frozenset(groups)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path.startswith(self.prefix):
                first, sep, rest = path[len(self.prefix) :].partition("/")
                if first and first not in self.groups:
                    scope = dict(scope)
                    scope[SCOPE_KEY] = first
                    scope["path"] = self.prefix + rest if sep else self.prefix.rstrip("/")
                    scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class TenantRegistry(Generic[S]):
    """Per-tenant services created on first use (topics, catalog, producer, indices), then
    kept: a tenant costs one catalog thread and one producer in this process."""

    def __init__(self, base: LannerSettings, factory: Callable[[LannerSettings], S]) -> None:
        self.base = base
        self._factory = factory
        self._lock = threading.Lock()
        self._found: dict[str, S] = {}
        self._starting: dict[str, threading.Lock] = {}

    def get(self, tenant: str) -> S:
        """The tenant's services (ValueError for an unsafe tenant id)."""
        found = self._found.get(tenant)
        if found is not None:
            return found
        settings = self.base.for_tenant(tenant)
        with self._lock:
            gate = self._starting.setdefault(tenant, threading.Lock())
        # One start per tenant, without holding the other tenants up meanwhile.
        with gate:
            found = self._found.get(tenant)
            if found is None:
                found = self._factory(settings)
                log.info("tenant services started", extra={"tenant": tenant})
                with self._lock:
                    self._found[tenant] = found
        return found

    def all(self) -> list[S]:
        with self._lock:
            return list(self._found.values())
