"""The FastAPI application: create_app(settings) wires the services and the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from api.access.admin import ensure_tokens_topic
from api.access.tokens import LiveTokenView
from api.web import (
    errors,
    routes_audit,
    routes_control,
    routes_executions,
    routes_flows,
    routes_kv,
    routes_logs,
    routes_metrics,
    routes_namespace_defaults,
    routes_namespace_files,
    routes_ops,
    routes_secrets,
    routes_triggers,
    routes_webhooks,
    ui_serving,
)
from api.web.body_limit import BodyLimit
from api.web.models import ERROR_RESPONSES
from api.web.services import Services
from api.web.tenants import TenantPaths, TenantRegistry
from schemas.settings import LannerSettings

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


def operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: LannerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tenants: TenantRegistry[Services] = TenantRegistry(settings, Services.start)
        app.state.tenants = tenants
        app.state.default_tenant = settings.tenant_id
        app.state.tokens = None
        webhooks = routes_webhooks.install(app.state, settings)
        if settings.auth:
            topic = await run_in_threadpool(ensure_tokens_topic, settings)
            app.state.tokens = LiveTokenView(settings.kafka_bootstrap, topic).start()
            # Tokens created before start are valid from the first request on.
            await run_in_threadpool(app.state.tokens.catch_up)
        # The default tenant at once (its health is the API's); the others on first use.
        await run_in_threadpool(tenants.get, settings.tenant_id)
        log.info(
            "api started",
            extra={
                "tenant": settings.tenant_id,
                "auth": settings.auth,
                "index_prefix": settings.full_index_prefix,
            },
        )
        try:
            yield
        finally:
            if app.state.tokens is not None:
                app.state.tokens.stop()
            webhooks.stop()
            for svc in tenants.all():
                await run_in_threadpool(svc.stop)

    app = FastAPI(
        title="Lanner",
        version="0.1.0",
        lifespan=lifespan,
        # Operation ids are the route functions' names (unique, checked by a test): the
        # method names of a client generated from /openapi.json.
        generate_unique_id_function=operation_id,
    )
    errors.install(app)
    # Every error of every route has the one ErrorBody shape: say so in the document.
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    # routes_control before routes_executions: POST /{namespace}/{flow_id} would match
    # /{id}/restart too.
    modules = (
        routes_flows,
        routes_control,
        routes_webhooks,
        routes_executions,
        routes_logs,
        routes_audit,
        routes_secrets,
        routes_triggers,
        routes_kv,
        routes_namespace_files,
        routes_namespace_defaults,
        routes_metrics,
        routes_ops,
    )
    for module in modules:
        api.include_router(module.router)
    app.include_router(api)
    # Probes and scrapers expect /health and /metrics at the root, without the API prefix.
    app.include_router(routes_ops.router, include_in_schema=False)
    # The web UI at /ui (and / redirects there): outside the API prefix and its tenants.
    ui_serving.install(app)
    # /api/v1/{tenant}/...: the first segment is a tenant unless it is a route group.
    groups = {
        route.path.split("/")[1]
        for module in modules
        for route in module.router.routes
        if isinstance(route, APIRoute)
    }
    # Added first, so it runs inside TenantPaths and sees tenant-less paths.
    app.add_middleware(BodyLimit, limits=settings.limits)
    app.add_middleware(TenantPaths, prefix=API_PREFIX, groups=groups)
    return app
